"""benchmarks/utd_benchmark.py's suites: every stage's config loads with the overrides the script gives it."""

import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]
sys.path.insert(0, str(ROOT / "benchmarks"))
import utd_benchmark  # noqa: E402

from harkd.recipes import get_recipe  # noqa: E402

STAGES = [(suite, label, i, stage) for suite, (_, rows) in utd_benchmark.SUITES.items() for label, stages in rows
          for i, stage in enumerate(stages)]


@pytest.mark.parametrize("suite,label,i,stage", STAGES, ids=[f"{s}:{l}:{i}" for s, l, i, _ in STAGES])
def test_stage_config_loads_with_its_overrides(suite, label, i, stage):
    previous = Path("runs/prev") if i else None
    overrides = utd_benchmark.stage_overrides(stage.teachers, previous, 1, Path("runs/bench"), teacher_seed=0)
    cfg = get_recipe(stage.kind).load(ROOT / "configs" / "utd_mhad" / stage.config,
                                      ["seed=1", *overrides, *stage.overrides])
    assert cfg.seed == 1
    for spec, teacher in zip(getattr(cfg, "teachers", []), stage.teachers):
        name, _, folds = teacher.partition("@")
        if folds:
            assert spec.run is None and spec.checkpoint == "last"
            assert spec.folds == [f"runs/bench/{name}_{utd_benchmark._fold_suffix(h)}_s0" for h in utd_benchmark.FOLDS]
        else:
            assert spec.run == f"runs/bench/{name}_s0" and spec.folds is None


def test_fold_runs_hold_out_every_training_subject_once():
    held = [s for fold in utd_benchmark.FOLDS for s in fold]
    assert sorted(held) == [1, 3, 5, 7]
    runs = {stage.run_name() for _, stages in utd_benchmark.SUITES["folds"][1] for stage in stages}
    needed = {f"{t.partition('@')[0]}_{utd_benchmark._fold_suffix(h)}" for _, (_, rows) in utd_benchmark.SUITES.items()
              for _, stages in rows for stage in stages for t in stage.teachers if t.endswith("@folds")
              for h in utd_benchmark.FOLDS}
    assert needed <= runs
