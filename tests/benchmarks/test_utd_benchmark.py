"""benchmarks/utd_benchmark.py's suites: every stage's config loads with the overrides the script gives it."""

import re
from pathlib import Path

import pytest

from benchmarks import utd_benchmark
from harkd.recipes import load_recipe_config

ROOT = Path(__file__).resolve().parents[2]

STAGES = [(suite, label, i, stage) for suite, (_, rows) in utd_benchmark.SUITES.items() for label, stages in rows
          for i, stage in enumerate(stages)]


@pytest.mark.parametrize("suite,label,i,stage", STAGES, ids=[f"{s}:{l}:{i}" for s, l, i, _ in STAGES])
def test_stage_config_loads_with_its_overrides(suite, label, i, stage):
    previous = Path("runs/prev") if i else None
    overrides = utd_benchmark.stage_overrides(stage.teachers, previous, 1, Path("runs/bench"), teacher_seed=0)
    _, cfg = load_recipe_config(ROOT / "configs" / "utd_mhad" / stage.config, stage.kind,
                                ["seed=1", *overrides, *stage.overrides], stage.stage or None)
    assert cfg.seed == 1
    if stage.stage:  # one stage of a multi-stage file, started from the previous stage's run
        assert cfg.init_from == (str(previous) if previous else None)
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


def test_row_runs_chain_the_stages_and_need_their_teachers():
    stages = utd_benchmark._progressive("pskd", "@folds", "xfit")
    runs = utd_benchmark.row_runs(stages, 1, Path("runs/bench"), ["train.epochs=2"], teacher_seed=0)
    assert [r.name for r in runs] == ["pskd_stage1_xfit_s1", "pskd_stage2_xfit_s1", "pskd_stage3_xfit_s1"]
    assert runs[0].needs == ("skeleton_stgcn_fold13_s0", "skeleton_stgcn_fold57_s0")
    assert runs[1].needs == ("skel_acc_fusion_fold13_s0", "skel_acc_fusion_fold57_s0", "pskd_stage1_xfit_s1")
    # the overrides the script always gave these stages
    want = ["seed=1", *utd_benchmark.stage_overrides(stages[1].teachers, Path("runs/bench/pskd_stage1_xfit_s1"), 1,
                                                      Path("runs/bench"), 0), "train.epochs=2"]
    assert list(runs[1].overrides) == want and runs[1].run_dir == "runs/bench/pskd_stage2_xfit_s1"
    assert [r.config.endswith("configs/utd_mhad/distill/pskd.yaml") for r in runs] == [True] * 3
    assert [r.option("stage") for r in runs] == ["stage1", "stage2", "stage3"]  # each stage of the one file


def test_a_teacher_from_another_suite_must_exist(tmp_path):
    from harkd.errors import ConfigError

    runs = utd_benchmark.row_runs(utd_benchmark._distill("distill/skel2acc_kd.yaml", "skeleton_stgcn"), 0, tmp_path, [])
    with pytest.raises(ConfigError, match=re.escape(
            f"run skel2acc_kd_s0 needs the teacher run {tmp_path / 'skeleton_stgcn_s0'}, which does not exist: train "
            "it first (utd_benchmark.py --suite single with the same --out and seeds, or --teacher-seed)")):
        utd_benchmark.external_teachers(runs, tmp_path)
    (tmp_path / "skeleton_stgcn_s0").mkdir()
    (tmp_path / "skeleton_stgcn_s0" / "run.json").write_text("{}")
    assert utd_benchmark.external_teachers(runs, tmp_path) == ["skeleton_stgcn_s0"]


def test_fold_teachers_are_made_by_the_folds_suite():
    assert utd_benchmark._producer("skeleton_stgcn_fold13_s0") == "folds"
    assert utd_benchmark._producer("depth_trn_s2") == "video"
