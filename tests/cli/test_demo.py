"""``harkd demo`` (the README's first command), on its smallest settings."""

import json

import pytest

from harkd.cli.demo import verdict
from harkd.cli.main import main

QUICK = ["--subjects", "2", "--trials", "1", "--epochs", "1", "--seeds", "1"]


def test_demo_trains_a_teacher_and_two_students(tmp_path, capsys):
    out = tmp_path / "demo"
    assert main(["demo", "--out", str(out), *QUICK]) == 0
    captured = capsys.readouterr()
    text = " ".join(captured.out.split())  # rich wraps long lines at the terminal width
    for line in ("1. synthetic dataset", "2. cross-subject split", "3. GAF", "4. training", "teacher: skeleton ST-GCN",
                 "student: accel. CNN, no KD", "student: accel. CNN, KD", "test acc. best", "test acc. last",
                 "This demo is not a benchmark.", "benchmarks/RESULTS.md"):
        assert line in text
    assert "Traceback" not in captured.err
    for run in ("teacher_skeleton", "student_acc_seed0", "student_acc_kd_seed0"):
        assert (out / "runs" / run / "best.pt").is_file()
        assert (out / "runs" / run / "last.pt").is_file()
    saved = json.loads((out / "demo.json").read_text())
    assert [saved[row]["seeds"] for row in ("teacher", "no_kd", "kd")] == [1, 1, 1]
    assert main(["demo", "--out", str(out), *QUICK]) == 2
    assert capsys.readouterr().err.strip() == (f"harkd: error: {out / 'synthetic-UTD-MHAD'} already holds a dataset; "
                                               "choose another --out")


def test_demo_without_validation_says_the_last_epoch_is_used(tmp_path, capsys):
    """--subjects 2 leaves one training subject: none to hold out, and no recordings of it are carved off."""
    assert main(["demo", "--out", str(tmp_path / "demo"), "--subjects", "2", "--trials", "2", "--epochs", "1",
                 "--seeds", "1"]) == 0
    captured = capsys.readouterr()
    text = " ".join(captured.out.split())
    assert ("2. cross-subject split: train 54, validation 0 (training subject 1 is the only one: none to hold out), "
            "test 54") in text
    assert ("no validation subject: every model keeps its last epoch (selection uses whole held-out training "
            "subjects, never recordings of the training subjects); use --subjects 4 or more to select on one") in text
    assert "per-class carve" not in captured.err
    for run in ("teacher_skeleton", "student_acc_seed0", "student_acc_kd_seed0"):
        assert json.loads((tmp_path / "demo" / "runs" / run / "run.json").read_text())["validation"]["rule"] == "none"
    assert "best = last: there are no validation recordings to choose an epoch on" in text
    assert "chosen on validation" not in text and "best validation accuracy" not in text
    saved = json.loads((tmp_path / "demo" / "demo.json").read_text())
    assert saved["validation"] == 0
    for row in ("teacher", "no_kd", "kd"):  # best.pt is the last epoch
        assert saved[row]["best_accuracy"] == saved[row]["last_accuracy"]


def test_demo_with_validation_and_seeds_reports_mean_and_spread(tmp_path, capsys):
    out = tmp_path / "demo"
    assert main(["demo", "--out", str(out), "--subjects", "4", "--trials", "1", "--epochs", "1", "--seeds", "2"]) == 0
    text = " ".join(capsys.readouterr().out.split())
    assert "2. cross-subject split: train 27, validation 27 (training subject 3 held out), test 54" in text
    assert "best = the epoch with the best validation accuracy, never chosen on test" in text
    assert "no validation subject" not in text
    for run in ("teacher_skeleton", "student_acc_seed0", "student_acc_kd_seed1"):  # what the runs used, as printed
        assert json.loads((out / "runs" / run / "run.json").read_text())["validation"]["subjects"] == [3]
    assert "(mean of 2 seeds; seed-to-seed standard deviation up to" in text
    assert "2 seeds on one small synthetic set are too few to call this significant" in text
    saved = json.loads((out / "demo.json").read_text())
    assert saved["no_kd"]["seeds"] == saved["kd"]["seeds"] == 2 and saved["teacher"]["seeds"] == 1
    assert saved["no_kd"]["best_accuracy_std"] is not None and saved["teacher"]["best_accuracy_std"] is None
    for seed in (0, 1):
        assert (out / "runs" / f"student_acc_kd_seed{seed}" / "best.pt").is_file()


def _row(best: float, std: float | None, seeds: int) -> dict:
    return {"seeds": seeds, "best_accuracy": best, "best_accuracy_std": std}


@pytest.mark.parametrize("no_kd, kd, expected", [
    (_row(0.814, 0.017, 4), _row(0.832, 0.006, 4),
     "KD helped the student: +1.8 points of test accuracy (mean of 4 seeds; seed-to-seed standard deviation up to "
     "1.7 points); 4 seeds on one small synthetic set are too few to call this significant. "
     "This demo is not a benchmark."),
    (_row(0.817, 0.010, 3), _row(0.727, 0.020, 3),
     "KD hurt the student: -9.0 points of test accuracy (mean of 3 seeds; seed-to-seed standard deviation up to "
     "2.0 points); 3 seeds on one small synthetic set are too few to call this significant. "
     "This demo is not a benchmark."),
    (_row(0.800, 0.010, 2), _row(0.800, 0.020, 2),
     "KD did not change the student: +0.0 points of test accuracy (mean of 2 seeds; seed-to-seed standard deviation "
     "up to 2.0 points); 2 seeds on one small synthetic set are too few to call this significant. "
     "This demo is not a benchmark."),
    (_row(0.80, None, 1), _row(0.81, None, 1),
     "KD changed the student's test accuracy by +1.0 points on one seed; one seed shows no spread; run --seeds 3 "
     "or more before reading anything into it. This demo is not a benchmark."),
])
def test_demo_verdict_claims_no_more_than_the_numbers(no_kd, kd, expected):
    assert verdict(no_kd, kd) == expected


@pytest.mark.parametrize("args", [["--subjects", "1"], ["--subjects", "9"], ["--trials", "0"], ["--trials", "5"],
                                  ["--epochs", "0"], ["--teacher-epochs", "0"], ["--seeds", "0"], ["--seed", "-1"]])
def test_demo_argument_errors(args, tmp_path, capsys):
    assert main(["demo", "--out", str(tmp_path / "demo"), *args]) == 2
    captured = capsys.readouterr()
    assert captured.err.strip() == ("harkd: error: demo needs --subjects 2-8, --trials 1-4, --epochs >= 1, "
                                    "--teacher-epochs >= 1, --seeds >= 1 and --seed >= 0")
    assert captured.out == "" and not (tmp_path / "demo").exists()
