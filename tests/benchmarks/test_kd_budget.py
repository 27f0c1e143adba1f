"""benchmarks/kd_budget.py: the subject rule fixed before the runs, one teacher per (seed, subject count) that
each KD student needs, and the whole script on a generated UTD-MHAD (cells, paired tests, plot, results)."""

import json
import os
import re
from pathlib import Path

import pytest

from benchmarks import kd_budget
from harkd.recipes import get_recipe


def test_each_seed_takes_its_subjects_by_the_rotation_rule():
    assert [kd_budget.subjects_for(1, s) for s in range(5)] == [(1,), (3,), (5,), (7,), (1,)]
    assert kd_budget.subjects_for(2, 1) == (3, 5) and kd_budget.subjects_for(3, 3) == (1, 3, 7)
    assert {kd_budget.subjects_for(4, s) for s in range(5)} == {(1, 3, 5, 7)}
    assert kd_budget.subject_overrides(2, 1) == ["data.val_subjects=[1, 7]", "data.val_fraction=0"]
    assert kd_budget.subject_overrides(4, 2) == ["data.val_subjects=null", "data.val_fraction=0"]


def test_every_kd_student_learns_from_its_seeds_teacher_on_the_same_subjects():
    runs = kd_budget.budget_runs([20, 150], [1, 3], [0, 2], Path("runs/b"), ["train.batch_size=16"], teacher_epochs=30)
    by_name = {r.name: r for r in runs}
    teachers = [r for r in runs if not r.measure]
    assert [t.name for t in teachers] == ["teacher:1subjects:s0", "teacher:1subjects:s2", "teacher:3subjects:s0",
                                          "teacher:3subjects:s2"]
    assert len(runs) == 4 + 2 * 2 * 2 * 2
    kd = by_name["kd__150_epochs__3_subjects_s2_t2"]
    teacher = by_name["teacher:3subjects:s2"]
    assert kd.needs == (teacher.name,) and f"teachers.0.run={teacher.run_dir}" in kd.overrides
    student = get_recipe("distill").load(kd.config, list(kd.overrides)).to_dict()
    taught = get_recipe("train").load(teacher.config, list(teacher.overrides)).to_dict()
    assert student["data"]["val_subjects"] == taught["data"]["val_subjects"] == [3]  # subjects 1, 5, 7 train
    assert (student["seed"], taught["seed"], student["train"]["epochs"], taught["train"]["epochs"]) == (2, 2, 150, 30)
    assert student["teachers"][0]["checkpoint"] == "last" and student["train"]["batch_size"] == 16
    no_kd = get_recipe("train").load(by_name["no_kd__150_epochs__3_subjects_s2"].config,
                                     list(by_name["no_kd__150_epochs__3_subjects_s2"].overrides)).to_dict()
    assert {k: no_kd["data"][k] for k in ("val_subjects", "modalities")} == {
        k: student["data"][k] for k in ("val_subjects", "modalities")}  # the twin sees the same data


def test_the_four_subject_runs_read_from_kd_table_are_the_experiments_this_script_would_run():
    mine = {r.name: r for r in kd_budget.budget_runs([20, 150], [1, 4], [10, 11], Path("runs/b"), [])}
    reused = {r.name: r for r in kd_budget.budget_runs([20, 150], [1, 4], [10, 11], Path("runs/b"), [],
                                                      kd_runs=Path("runs/kd"))}
    assert mine.keys() == reused.keys()
    moved = sorted(name for name in mine if reused[name].run_dir != mine[name].run_dir)
    assert moved == ["kd__150_epochs__4_subjects_s10_t10", "kd__150_epochs__4_subjects_s11_t11",
                     "no_kd__150_epochs__4_subjects_s10", "no_kd__150_epochs__4_subjects_s11",
                     "teacher:4subjects:s10", "teacher:4subjects:s11"]  # 20 epochs and one subject: trained here
    assert reused["kd__150_epochs__4_subjects_s11_t11"].run_dir == \
        "runs/kd/utd-kd-patient/kd__fixed_teacher_view__cached___150_epochs_s11_t11"
    assert reused["kd__20_epochs__4_subjects_s11_t11"].needs == ("teacher:4subjects:s11",)
    assert f"teachers.0.run={reused['teacher:4subjects:s11'].run_dir}" in reused["kd__20_epochs__4_subjects_s11_t11"].overrides

    def resolved(spec):
        cfg = get_recipe(spec.kind).load(spec.config, list(spec.overrides)).to_dict()
        for teacher in cfg.get("teachers", []):
            # a teacher trained without held-out subjects has one checkpoint: its best.pt is its last epoch
            teacher.update(run="TEACHER", checkpoint="last")
        return cfg

    for name in moved:
        assert resolved(reused[name]) == resolved(mine[name]), name


@pytest.mark.parametrize("argv,message", [
    (["--subjects", "1", "5"], "--subjects must list distinct numbers of training subjects among 1 2 3 4, got 1 5"),
    (["--epochs", "20", "20"], "--epochs must list distinct positive integers"),
    (["--teacher-epochs", "0"], "--teacher-epochs must be >= 1"),
    (["--kd-runs", "runs/kd", "--set", "train.epochs=2"], "--kd-runs reads kd_table.py's runs, which are not the "
     "experiments of --set, --teacher-epochs or --synthetic: drop one"),
])
def test_bad_arguments_are_one_line(argv, message, capsys):
    with pytest.raises(SystemExit) as exit_info:
        kd_budget.main(argv)
    assert exit_info.value.code == 2
    assert capsys.readouterr().err.strip().endswith(f"error: {message}")


@pytest.mark.slow
def test_the_budget_runs_end_to_end_on_generated_data(tmp_path, capsys):
    pytest.importorskip("matplotlib")
    out = tmp_path / "budget"
    argv = ["--synthetic", "--epochs", "1", "2", "--subjects", "1", "4", "--seeds", "0", "1", "--teacher-epochs", "1",
            "--set", "schedule.warmup_epochs=0", "--out", str(out)]
    before = os.environ.get("HARKD_DATA_ROOT")
    assert kd_budget.main(argv) == 0
    assert os.environ.get("HARKD_DATA_ROOT") == before  # the generated data were for these runs only
    record = json.loads((out / "results" / "kd-budget.json").read_text())
    assert record["seeds"] == record["teacher_seeds"] == [0, 1] and record["data"] == "synthetic"
    assert record["command"].startswith("python") and record["date"] and record["machine"]
    cells = {(c["epochs"], c["subjects"]): c for c in record["cells"]}
    assert set(cells) == {(1, 1), (1, 4), (2, 1), (2, 4)}
    one = cells[2, 1]
    assert one["training_subjects"] == [[1], [3]] and one["teacher_seeds"] == [0, 1]
    assert [Path(d).name for d in one["teachers"]["run_dirs"]] == ["skeleton__1_subjects_s0", "skeleton__1_subjects_s1"]
    assert all(0 <= a <= 100 for a in one["teachers"]["test_last"])
    kd, no_kd = [r["test_last"] for r in one["kd"]["runs"]], [r["test_last"] for r in one["no_kd"]["runs"]]
    assert one["gain"]["n"] == 2 and one["gain"]["mean"] == pytest.approx(sum(kd) / 2 - sum(no_kd) / 2)
    assert one["gain"]["verdict"] == "no significant gain"  # two pairs can never make a claim
    assert "held_out_gain" in one and "held_out_gain" not in cells[2, 4]  # all four subjects train: none held out
    run = Path(one["kd"]["runs"][1]["run_dir"])
    assert run.name == "kd__2_epochs__1_subject_s1_t1" and len((run / "metrics.jsonl").read_text().splitlines()) == 2
    assert "warmup_epochs: 0" in (run / "config.yaml").read_text()  # --set reached the run
    assert (out / "kd_budget.png").read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"
    text = (out / "RESULTS.md").read_text()
    assert "<!-- kd-budget -->" in text and "- command: `python" in text
    assert "**fewer than 5 pairs: no cell can be called a gain" in text
    assert re.search(r"\| 2 \| 1 \| [\d.]+ \+- [\d.]+ \| [\d.]+ \+- [\d.]+ \| [+-][\d.]+ \+- [\d.]+ \(p = ", text)
    assert "| student epochs | training subjects |" in capsys.readouterr().out
    capsys.readouterr()
    assert kd_budget.main(argv + ["--no-write"]) == 0  # a finished budget resumes from its records
    assert "suite: 20 of 20 runs finished before" in capsys.readouterr().err
