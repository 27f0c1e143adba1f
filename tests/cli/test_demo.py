"""``harkd demo`` (the README's first command), on its smallest settings."""

import io
import json
import statistics
import time

import pytest
import yaml
from rich.console import Console

from harkd.cli.demo import ACTION_GROUPS, Job, Schedule, paired, verdict
from harkd.cli.main import main

QUICK = ["--subjects", "2", "--trials", "1", "--epochs", "1", "--teacher-epochs", "1", "--seeds", "1", "--jobs", "1"]


def words(text: str) -> str:
    return " ".join(text.split())


def test_demo_trains_a_teacher_and_two_students(tmp_path, capsys):
    out = tmp_path / "demo"
    assert main(["demo", "--out", str(out), *QUICK]) == 0
    captured = capsys.readouterr()
    text = words(captured.out)
    assert "1. synthetic dataset: 28 recordings (14 actions x 2 subjects x 1 trial; skeleton and wrist/thigh " \
           "accelerometer)" in text
    assert ("actions in groups a wrist (or thigh) accelerometer sees alike and a skeleton tells apart: right arm swipe "
            "to the left / right arm swipe to the right; right arm throw / ") in text
    for line in ("2. cross-subject split", "3. GAF", "4. training 3 runs, 1 at a time",
                 "[1/3] teacher (skeleton ST-GCN, seed 0): started", "[1/3] teacher (skeleton ST-GCN, seed 0): done in",
                 "[2/3] student without KD (seed 0): started", "[3/3] student with KD (seed 0): started",
                 "elapsed, all runs done)", "teacher: skeleton GCN", "student: accel., no KD", "student: accel., KD",
                 "test last", "test best", "train", "This demo is not a benchmark.", "benchmarks/RESULTS.md",
                 "demo finished in"):
        assert line in text
    assert text.index("[2/3] student without KD (seed 0): done") < text.index("[3/3] student with KD (seed 0): started")
    assert "Traceback" not in captured.err
    for run in ("teacher_skeleton", "student_acc_seed0", "student_acc_kd_seed0"):
        assert (out / "runs" / run / "best.pt").is_file()
        assert (out / "runs" / run / "last.pt").is_file()
    assert not (out / "synthetic-UTD-MHAD" / "Depth").exists()  # the demo reads no depth
    saved = json.loads((out / "demo.json").read_text())
    assert [saved[row]["seeds"] for row in ("teacher", "no_kd", "kd")] == [1, 1, 1]
    assert saved["paired_tests"] == {"last": None, "best": None}
    assert len(saved["actions"]) == sum(map(len, ACTION_GROUPS))
    assert main(["demo", "--out", str(out), *QUICK]) == 2
    assert capsys.readouterr().err.strip() == (f"harkd: error: {out / 'synthetic-UTD-MHAD'} already holds a dataset; "
                                               "choose another --out")


def test_demo_without_validation_says_the_last_epoch_is_used(tmp_path, capsys):
    """--subjects 2 leaves one training subject: none to hold out, and no recordings of it are carved off."""
    assert main(["demo", "--out", str(tmp_path / "demo"), *QUICK, "--trials", "2"]) == 0
    captured = capsys.readouterr()
    text = words(captured.out)
    assert ("2. cross-subject split: train 28, validation 0 (training subject 1 is the only one: none to hold out), "
            "test 28") in text
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


def test_demo_with_validation_and_seeds_in_worker_processes(tmp_path, capsys):
    out = tmp_path / "demo"
    assert main(["demo", "--out", str(out), "--subjects", "4", "--trials", "1", "--epochs", "1", "--teacher-epochs", "1",
                 "--seeds", "2", "--jobs", "2"]) == 0
    text = words(capsys.readouterr().out)
    assert "2. cross-subject split: train 14, validation 14 (training subject 3 held out), test 28" in text
    assert "best = the epoch with the best validation accuracy, never chosen on test" in text
    assert "4. training 5 runs, 2 at a time" in text and "no validation subject" not in text
    for run in ("teacher_skeleton", "student_acc_seed0", "student_acc_kd_seed1"):  # what the runs used, as printed
        assert json.loads((out / "runs" / run / "run.json").read_text())["validation"]["subjects"] == [3]
    config = yaml.safe_load((out / "runs" / "student_acc_kd_seed1" / "config.yaml").read_text())
    assert config["teachers"][0]["checkpoint"] == "last"  # the teacher epoch that fits what it labels
    assert "(mean of 2 seeds, " in text and "seed-to-seed standard deviation up to" in text
    assert "2 seeds are too few for harkd to call it a gain (it asks 5 or more)" in text
    saved = json.loads((out / "demo.json").read_text())
    assert saved["no_kd"]["seeds"] == saved["kd"]["seeds"] == 2 and saved["teacher"]["seeds"] == 1
    assert saved["no_kd"]["best_accuracy_std"] is not None and saved["teacher"]["best_accuracy_std"] is None
    assert saved["paired_tests"]["last"]["n"] == saved["paired_tests"]["best"]["n"] == 2
    assert "At the epoch chosen on validation: " in text
    for seed in (0, 1):
        assert (out / "runs" / f"student_acc_kd_seed{seed}" / "best.pt").is_file()


def _jobs(seeds: int = 2) -> list[Job]:
    jobs = [Job("teacher", "teacher", {"name": "teacher"}, 3.0)]
    jobs += [Job("no_kd", f"plain {s}", {"name": f"plain{s}"}, 1.0) for s in range(seeds)]
    jobs += [Job("kd", f"kd {s}", {"name": f"kd{s}", "distill": {"teachers": [{"run": None}]}}, 1.0, needs_teacher=True)
             for s in range(seeds)]
    return jobs


def test_schedule_prints_each_start_progress_while_training_and_the_time_left():
    """Not on a terminal: a line per start and end (with an estimate once a run has ended), and a line every
    ``every`` seconds while runs train; KD students start after the teacher and learn from its run."""
    taught_by = {}

    def train(name, distill=None):
        time.sleep(0.6 if name == "teacher" else 0.1)
        if distill:
            taught_by[name] = distill["teachers"][0]["run"]
        return {"seconds": 0.1, "run_dir": f"runs/{name}", "last": {"accuracy": 0.5}}

    file = io.StringIO()
    jobs = _jobs()
    Schedule(Console(file=file, width=300), jobs, workers=2, every=0.2, train=train).run()
    lines = file.getvalue().splitlines()
    assert lines[0].startswith("   [1/5] teacher: started (0 s elapsed)")
    assert any(line.startswith("   ... still training: teacher (") for line in lines)
    first_done = next(line for line in lines if ": done in " in line)
    assert ", about " in first_done and first_done.endswith(" left)")
    assert lines[-1].endswith("elapsed, all runs done)")
    teacher_done = next(i for i, line in enumerate(lines) if line.startswith("   [1/5] teacher: done"))
    assert all(i > teacher_done for i, line in enumerate(lines) if "] kd " in line)
    assert taught_by == {"kd0": "runs/teacher", "kd1": "runs/teacher"}
    assert all(job.result is not None for job in jobs)


def test_time_left_spreads_the_remaining_cost_over_the_workers_at_the_measured_pace():
    now = [100.0]
    schedule = Schedule(Console(file=io.StringIO()), _jobs(), workers=2, clock=lambda: now[0])
    assert schedule.time_left() is None  # nothing has finished: no pace yet
    teacher, plain0, plain1, kd0, kd1 = schedule.jobs
    teacher.started, teacher.result = 100.0, {"seconds": 30.0}  # 10 s per unit of cost
    schedule.done.append(teacher)
    plain0.started = 95.0  # running for 5 s of its 10
    now[0] = 100.0
    # left: plain0 5 s + plain1, kd0, kd1 10 s each = 35 s over 2 workers
    assert schedule.time_left() == pytest.approx(17.5)


def _row(last: list[float], best: list[float] | None = None) -> dict:
    row = {"seeds": len(last), "runs": [{"last": {"accuracy": a}, "best": {"accuracy": b}}
                                        for a, b in zip(last, best or last)]}
    for checkpoint, values in (("last", last), ("best", best or last)):
        row[f"{checkpoint}_accuracy"] = statistics.fmean(values)
        row[f"{checkpoint}_accuracy_std"] = statistics.stdev(values) if len(values) > 1 else None
    return row


@pytest.mark.parametrize("no_kd, kd, expected", [
    ([0.80, 0.82, 0.81, 0.79, 0.80], [0.84, 0.85, 0.83, 0.84, 0.83],
     "KD helped the student: +3.4 points of test accuracy at the last epoch (mean of 5 seeds, +2.0 to +5.0 seed by "
     "seed; seed-to-seed standard deviation up to 1.1 points; paired t-test p = 0.0026): a significant gain by "
     "harkd's rule (5+ seeds, p < 0.05)."),
    ([0.80, 0.82, 0.81, 0.79, 0.80], [0.76, 0.78, 0.77, 0.74, 0.77],
     "KD hurt the student: -4.0 points of test accuracy at the last epoch (mean of 5 seeds, -5.0 to -3.0 seed by "
     "seed; seed-to-seed standard deviation up to 1.5 points; paired t-test p = 0.00022): a significant loss by "
     "harkd's rule (5+ seeds, p < 0.05)."),
    ([0.80, 0.82, 0.81, 0.79, 0.80], [0.81, 0.80, 0.83, 0.78, 0.81],
     "KD helped the student: +0.2 points of test accuracy at the last epoch (mean of 5 seeds, -2.0 to +2.0 seed by "
     "seed; seed-to-seed standard deviation up to 1.8 points; paired t-test p = 0.8): no significant difference by "
     "harkd's rule (p < 0.05 needed)."),
    ([0.817, 0.807, 0.827], [0.727, 0.707, 0.747],
     "KD hurt the student: -9.0 points of test accuracy at the last epoch (mean of 3 seeds, -10.0 to -8.0 seed by "
     "seed; seed-to-seed standard deviation up to 2.0 points; paired t-test p = 0.0041): 3 seeds are too few for "
     "harkd to call it a gain (it asks 5 or more)."),
    ([0.80, 0.80], [0.80, 0.80],
     "KD did not change the student: +0.0 points of test accuracy at the last epoch (mean of 2 seeds, +0.0 to +0.0 "
     "seed by seed; seed-to-seed standard deviation up to 0.0 points; no spread to test): 2 seeds are too few for "
     "harkd to call it a gain (it asks 5 or more)."),
])
def test_demo_verdict_claims_no_more_than_the_numbers(no_kd, kd, expected):
    no_kd, kd = _row(no_kd), _row(kd)
    assert verdict(no_kd, kd, paired(no_kd, kd)) == expected + " One small synthetic set: this demo is not a benchmark."


def test_demo_verdict_on_one_seed_and_with_the_validation_selected_epoch():
    one = verdict(_row([0.80]), _row([0.81]), None)
    assert one == ("KD changed the student's test accuracy at the last epoch by +1.0 points on one seed; one seed "
                   "shows no spread and allows no test: run --seeds 5 before reading anything into it. This demo is "
                   "not a benchmark.")
    no_kd = _row([0.80, 0.82, 0.81, 0.79, 0.80], best=[0.78, 0.82, 0.80, 0.80, 0.81])
    kd = _row([0.84, 0.85, 0.83, 0.84, 0.83], best=[0.80, 0.81, 0.84, 0.79, 0.81])
    text = verdict(no_kd, kd, paired(no_kd, kd), paired(no_kd, kd, "best"))
    assert text.endswith("(5+ seeds, p < 0.05). At the epoch chosen on validation: +0.8 points (paired t-test "
                         "p = 0.46). One small synthetic set: this demo is not a benchmark.")


@pytest.mark.parametrize("args", [["--subjects", "1"], ["--subjects", "9"], ["--trials", "0"], ["--trials", "5"],
                                  ["--epochs", "0"], ["--teacher-epochs", "0"], ["--seeds", "0"], ["--seed", "-1"],
                                  ["--jobs", "0"]])
def test_demo_argument_errors(args, tmp_path, capsys):
    assert main(["demo", "--out", str(tmp_path / "demo"), *args]) == 2
    captured = capsys.readouterr()
    assert captured.err.strip() == ("harkd: error: demo needs --subjects 2-8, --trials 1-4, --epochs >= 1, "
                                    "--teacher-epochs >= 1, --seeds >= 1, --seed >= 0 and --jobs >= 1")
    assert captured.out == "" and not (tmp_path / "demo").exists()
