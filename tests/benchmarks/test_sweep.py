"""benchmarks/sweep.py: the declared runs of a sweep (one per variant, held-out subject and seed)."""

from pathlib import Path

from benchmarks import sweep


def test_sweep_runs_hold_out_each_fold_for_every_variant_and_seed():
    runs = sweep.sweep_runs(Path("configs/x.yaml"), "distill", ["base=", "t8=losses.1.args.temperature=8;a=1"],
                            ["teachers.0.run=T"], [5, 7], [0, 1], Path("runs/sw"))
    assert [(label, fold, run.name) for label, fold, run in runs] == [
        ("base", 5, "base_v5_s0"), ("base", 5, "base_v5_s1"), ("base", 7, "base_v7_s0"), ("base", 7, "base_v7_s1"),
        ("t8", 5, "t8_v5_s0"), ("t8", 5, "t8_v5_s1"), ("t8", 7, "t8_v7_s0"), ("t8", 7, "t8_v7_s1")]
    last = runs[-1][2]
    assert last.kind == "distill" and last.run_dir == "runs/sw/x/t8_v7_s1"
    assert last.overrides == ("seed=1", "teachers.0.run=T", "losses.1.args.temperature=8", "a=1",
                              "data.val_subjects=[7]")


def test_without_folds_a_run_is_named_by_variant_and_seed():
    runs = sweep.sweep_runs(Path("c.yaml"), "train", ["aug=x=1"], [], [None], [3], Path("o"))
    assert [(run.name, run.overrides) for _, _, run in runs] == [("aug_s3", ("seed=3", "x=1"))]
