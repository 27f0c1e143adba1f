"""``harkd compare``: seeds paired through run.json, one-line errors for unpaired inputs."""

import json
import sys
from pathlib import Path

import pytest

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "deploy"))
from tinyruns import train_tiny  # noqa: E402


@pytest.fixture(scope="module")
def seed_runs(synth_utd, tmp_path_factory):
    """Two 'methods' x two seeds of the tiny raw student (1 vs 2 epochs)."""
    out = tmp_path_factory.mktemp("compare")
    runs = {}
    for epochs in (1, 2):
        for seed in (0, 1):
            run = train_tiny(synth_utd, out / f"e{epochs}_s{seed}", "raw", epochs=epochs, seed=seed)
            runs[epochs, seed] = str(run)
    return runs


def test_compare_pairs_by_seed_whatever_the_order(run, seed_runs):
    rc, out, err = run("compare", seed_runs[2, 1], seed_runs[2, 0], "--baseline", seed_runs[1, 0],
                       seed_runs[1, 1], "--json")
    assert rc == 0, err
    result = json.loads(out)
    assert result["seeds"] == [0, 1]
    assert result["method"]["runs"] == [seed_runs[2, 0], seed_runs[2, 1]]
    diffs = [m - b for m, b in zip(result["method"]["values"], result["baseline"]["values"])]
    assert result["difference"]["mean"] == pytest.approx(sum(diffs) / 2)
    assert result["difference"]["verdict"] == "no significant gain"  # two seeds can never be a gain


def test_compare_prints_a_verdict(run, seed_runs):
    rc, out, _ = run("compare", seed_runs[2, 0], seed_runs[2, 1], "--baseline", seed_runs[1, 0], seed_runs[1, 1])
    assert rc == 0
    assert "paired difference" in out and out.strip().endswith("no significant gain")


def test_compare_refuses_unpaired_seeds(run, seed_runs):
    rc, _, err = run("compare", seed_runs[2, 0], "--baseline", seed_runs[1, 1])
    assert rc == 2
    assert err.strip() == ("harkd: error: the method's seeds [0] differ from the baseline's [1]: "
                           "a paired comparison needs the same seeds on both sides")
    rc, _, err = run("compare", seed_runs[2, 0], seed_runs[1, 0], "--baseline", seed_runs[1, 1])
    assert rc == 2
    assert err.strip() == (f"harkd: error: method runs {seed_runs[2, 0]} and {seed_runs[1, 0]} share seed 0: "
                           "give one run per seed")


def test_compare_names_a_directory_that_is_not_a_run(run, tmp_path, seed_runs):
    rc, _, err = run("compare", str(tmp_path), "--baseline", seed_runs[1, 0])
    assert rc == 2
    assert err.strip() == f"harkd: error: {tmp_path / 'run.json'}: not found: is this a harkd run directory?"


RAW, CNN = {"sensor": "acc", "length": 64, "normalize": True}, {"widths": [8, 16], "depths": [1, 1]}
SEEDS = range(5)


def write_yaml(path: Path, config: dict) -> str:
    import yaml

    path.write_text(yaml.safe_dump(config))
    return str(path)


@pytest.fixture(scope="module")
def teacher_design(synth_utd, tmp_path_factory):
    """Five tiny inertial teachers (seeds 0-4, through `harkd train`: their test accuracy is recorded), which are
    also the no-KD baseline, and two KD designs of five student seeds: each taught by the teacher of its seed,
    and all taught by teacher seed 0."""
    from harkd.cli.main import main

    out = tmp_path_factory.mktemp("teacher-design")
    data = {"dataset": "utd-mhad", "root": str(synth_utd), "modalities": {"inertial": RAW}, "cache": False}
    common = {"optim": {"name": "adam", "lr": 5e-3}, "train": {"epochs": 1, "batch_size": 8}}
    teacher_yaml = write_yaml(out / "teacher.yaml", {"name": "teacher", "data": data, **common,
                                                     "model": {"name": "imu_cnn1d", "input": "inertial", "args": CNN}})
    student_yaml = write_yaml(out / "student.yaml", {
        "name": "student", "data": data, **common, "teachers": [{"run": "x"}],
        "student": {"name": "imu_cnn1d", "input": "inertial", "args": CNN},
        "losses": [{"name": "ce"}, {"name": "kd", "args": {"temperature": 4}}]})
    runs = {"teacher": [], "own": [], "one": []}
    for seed in SEEDS:
        teacher = out / f"teacher_s{seed}"
        assert main(["train", teacher_yaml, "--set", f"seed={seed}", "--run-dir", str(teacher)]) == 0
        runs["teacher"].append(str(teacher))
    for design, teacher_of in (("own", lambda s: s), ("one", lambda s: 0)):
        for seed in SEEDS:
            run_dir = out / f"kd_{design}_s{seed}"
            assert main(["distill", student_yaml, "--set", f"seed={seed}", "--set",
                         f"teachers.0.run={runs['teacher'][teacher_of(seed)]}", "--run-dir", str(run_dir),
                         "--evaluate", "none"]) == 0
            runs[design].append(str(run_dir))
    return runs


def test_compare_reports_the_teacher_and_student_seed_pairs(run, teacher_design, tmp_path):
    rc, out, err = run("compare", *teacher_design["own"], "--baseline", *teacher_design["teacher"], "--json",
                       "--plot", str(tmp_path / "gain.png"))
    assert rc == 0, err
    result = json.loads(out)
    assert result["seeds"] == list(SEEDS) and result["teacher_seeds"] == list(SEEDS)
    assert result["pairs"] == [[s, s] for s in SEEDS]
    recorded = [json.loads((Path(t) / "eval_test_best.json").read_text())["accuracy"] for t in teacher_design["teacher"]]
    assert [t[0]["test_accuracy"] for t in result["method"]["teachers"]] == recorded
    assert [t[0]["run"] for t in result["method"]["teachers"]] == teacher_design["teacher"]
    assert result["baseline"]["teachers"] == [[] for _ in SEEDS]
    assert result["p_value"] == result["difference"]["p_value"]
    lo, hi = result["difference"]["ci95"]
    assert lo < result["difference"]["mean"] < hi
    verdict = result["difference"]["verdict"]
    assert result["claim"] == (f"{verdict}, with teacher variance (5 distinct teacher seeds)" if verdict != "no "
                               "significant gain" else f"{verdict} (5 distinct teacher seeds)")
    assert result["figure"] == str(tmp_path / "gain.png") and (tmp_path / "gain.png").stat().st_size > 10_000


def test_compare_says_when_one_teacher_taught_every_seed(run, teacher_design):
    rc, out, err = run("compare", *teacher_design["one"], "--baseline", *teacher_design["teacher"])
    assert rc == 0, err
    lines = out.splitlines()
    assert lines[1].startswith(f"  method teachers (teacher seed -> student seed): 0 -> 0 ({teacher_design['teacher'][0]}"
                               ", test ")
    assert lines[-1].endswith(": no significant gain (1 distinct teacher seed)")


def test_compare_refuses_runs_tested_on_other_recordings(run, teacher_design, tmp_path):
    """A KD run whose test split lost recordings (data.teacher_missing: skip) is not paired with its twin."""
    import shutil

    changed = tmp_path / "kd_s0"
    shutil.copytree(teacher_design["own"][0], changed)
    meta = json.loads((changed / "run.json").read_text())
    lost = meta["split"]["test"][:4]
    meta["skipped"]["test"] = [[k, "missing skeleton"] for k in lost]
    (changed / "run.json").write_text(json.dumps(meta))
    rc, _, err = run("compare", str(changed), "--baseline", teacher_design["teacher"][0])
    assert rc == 2
    assert err.strip() == (f"harkd: error: {teacher_design['teacher'][0]} and {changed} are evaluated on different "
                           f"test recordings (run.json's split less its skipped ones): 4 only in "
                           f"{teacher_design['teacher'][0]} ({', '.join(lost[:3])} and 1 more); a paired comparison "
                           "needs the same recordings (a distillation run keeps the student's splits with "
                           "data.teacher_missing: student_only)")


def test_the_claim_names_the_teacher_variance():
    from harkd.cli.compare import teacher_claim

    assert teacher_claim("gain", [None, None]) == "gain"
    assert teacher_claim("gain", [0, 1, 2, 3, 4]) == "gain, with teacher variance (5 distinct teacher seeds)"
    assert teacher_claim("gain", [0, 1, 2, 3, 3]) == ("gain, 4 distinct teacher seeds (< 5: no claim with teacher "
                                                      "variance)")
    assert teacher_claim("loss", [0] * 5) == "loss, for one teacher run (seed 0): no teacher variance"
    assert teacher_claim("gain", [[0, 1], [1, 0], [2, 2], [3, 3], [4, 4]]) == ("gain, with teacher variance (5 distinct "
                                                                               "teacher seeds)")
    assert teacher_claim("no significant gain", [0, 1]) == "no significant gain (2 distinct teacher seeds)"
