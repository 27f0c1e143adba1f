"""Suites of declared runs (benchmarks): dependency order, a parallel and resumable runner, results files.

The top floor of harkd (it may use everything below; nothing in harkd imports it):

- :mod:`harkd.suites.plan`: :class:`RunSpec` (a run and the runs it needs) and
  :func:`dependency_order`;
- :mod:`harkd.suites.runner`: :func:`run_suite` (``jobs`` local processes or Ray, each
  run with its thread budget; a half-done suite resumes);
- :mod:`harkd.suites.report`: RESULTS.md sections and their header lines;
- :mod:`harkd.suites.design`: the seed design of a claim (choosing, headline and confirming seeds, one teacher per
  student seed or one for all).
"""

from harkd.suites.design import (CHOOSING_SEEDS, CONFIRMING_SEEDS, HEADLINE_SEEDS, TEACHER_DESIGNS, accuracy_on_test,
                                 design_note, section_id, seed_record, teacher_run_dir, teacher_seeds)
from harkd.suites.plan import RunSpec, dependency_order, run_name
from harkd.suites.report import command_line, mean_std, record_header, replace_section, run_script, use_data_root
from harkd.suites.runner import BACKENDS, RAY_MISSING, run_suite, set_thread_budget, train_run

__all__ = ["BACKENDS", "CHOOSING_SEEDS", "CONFIRMING_SEEDS", "HEADLINE_SEEDS", "RAY_MISSING", "RunSpec", "TEACHER_DESIGNS",
           "accuracy_on_test", "command_line", "dependency_order", "design_note", "mean_std", "record_header",
           "replace_section", "run_name", "run_script", "run_suite", "section_id", "seed_record", "set_thread_budget",
           "teacher_run_dir", "teacher_seeds", "train_run", "use_data_root"]
