"""``harkd demo`` (the README's first command), on its smallest settings."""

import pytest

from harkd.cli.main import main


def test_demo_trains_a_teacher_and_two_students(tmp_path, capsys):
    out = tmp_path / "demo"
    assert main(["demo", "--out", str(out), "--subjects", "2", "--trials", "1", "--epochs", "1"]) == 0
    text = capsys.readouterr().out
    for line in ("1. synthetic dataset", "2. cross-subject split", "3. GAF", "4. training", "teacher: skeleton ST-GCN",
                 "student: accelerometer 1D CNN, no KD", "KD from", "benchmarks/RESULTS.md"):
        assert line in text
    for run in ("teacher_skeleton", "student_acc", "student_acc_kd"):
        assert (out / "runs" / run / "best.pt").is_file()
    assert main(["demo", "--out", str(out), "--subjects", "2", "--trials", "1", "--epochs", "1"]) == 2
    assert capsys.readouterr().err.strip() == (f"harkd: error: {out / 'synthetic-UTD-MHAD'} already holds a dataset; "
                                               "choose another --out")


@pytest.mark.parametrize("args", [["--subjects", "1"], ["--epochs", "0"], ["--teacher-epochs", "0"]])
def test_demo_argument_errors(args, capsys):
    assert main(["demo", *args]) == 2
    assert capsys.readouterr().err.strip() == ("harkd: error: demo needs --subjects >= 2, --trials >= 1, "
                                               "--epochs >= 1 and --teacher-epochs >= 1")
