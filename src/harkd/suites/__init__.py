"""Suites of declared runs (benchmarks): dependency order, a parallel and resumable runner, results files.

The top floor of harkd (it may use everything below; nothing in harkd imports it):

- :mod:`harkd.suites.plan`: :class:`RunSpec` (a run and the runs it needs) and
  :func:`dependency_order`;
- :mod:`harkd.suites.runner`: :func:`run_suite` (``jobs`` local processes or Ray, each
  run with its thread budget; a half-done suite resumes);
- :mod:`harkd.suites.report`: RESULTS.md sections and their header lines.
"""

from harkd.suites.plan import RunSpec, dependency_order, run_name
from harkd.suites.report import command_line, mean_std, record_header, replace_section, run_script, use_data_root
from harkd.suites.runner import BACKENDS, RAY_MISSING, run_suite, set_thread_budget, train_run

__all__ = ["BACKENDS", "RAY_MISSING", "RunSpec", "command_line", "dependency_order", "mean_std", "record_header",
           "replace_section", "run_name", "run_script", "run_suite", "set_thread_budget", "train_run", "use_data_root"]
