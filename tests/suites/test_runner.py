"""harkd.suites: dependency order, the local runner (--jobs, thread budget, resume after a kill) and Ray."""

import json
import os
import re
import subprocess
import sys
import time
from pathlib import Path

import pytest
import yaml

from harkd.errors import ConfigError
from harkd.suites import RAY_MISSING, RunSpec, dependency_order, run_suite, train_run
from harkd.suites.report import command_line

SRC = Path(__file__).resolve().parents[2] / "src"
INERTIAL = {"sensor": "acc", "length": 32, "normalize": True}
MODEL = {"name": "imu_cnn1d", "input": "inertial", "args": {"widths": [4, 8], "depths": [1, 1]}}


def _spec(name, needs=(), **kw):
    return RunSpec(name, "train", f"{name}.yaml", f"runs/{name}", needs=tuple(needs), **kw)


# ----------------------------------------------------------------------------- dependency order
def test_teachers_come_first_and_the_given_order_is_kept_otherwise():
    runs = [_spec("kd_s0", ["teacher"]), _spec("nokd_s0"), _spec("teacher"), _spec("kd_s1", ["teacher"])]
    assert [r.name for r in dependency_order(runs)] == ["teacher", "kd_s0", "nokd_s0", "kd_s1"]


def test_a_run_declared_twice_alike_is_kept_once():
    assert [r.name for r in dependency_order([_spec("a"), _spec("b", ["a"]), _spec("a")])] == ["a", "b"]


def test_a_missing_teacher_is_a_clear_error():
    with pytest.raises(ConfigError, match=re.escape(
            "suite run 'kd_s0' needs run 'teacher', which the suite does not declare: add that teacher run to the "
            "suite (or give its run directory)")):
        dependency_order([_spec("kd_s0", ["teacher"])])
    assert [r.name for r in dependency_order([_spec("kd_s0", ["teacher"])], external=["teacher"])] == ["kd_s0"]


def test_conflicting_duplicates_and_circles_are_clear_errors():
    with pytest.raises(ConfigError, match=re.escape(
            "suite run 'a' is declared twice with different settings (a.yaml and b.yaml): give each run its own name")):
        dependency_order([_spec("a"), RunSpec("a", "train", "b.yaml", "runs/a")])
    with pytest.raises(ConfigError, match=re.escape("suite runs need each other in a circle: a -> b -> a")):
        dependency_order([_spec("a", ["b"]), _spec("b", ["a"])])


@pytest.mark.parametrize("kwargs, message", [
    ({"jobs": 0}, "--jobs must be an integer >= 1, got 0"),
    ({"threads": 0}, "--threads must be an integer >= 1, got 0"),
    ({"backend": "slurm"}, "unknown backend 'slurm' (valid: local, ray)"),
])
def test_bad_runner_arguments(kwargs, message):
    with pytest.raises(ConfigError, match=re.escape(message)):
        run_suite([_spec("a")], _record, **kwargs)


# ----------------------------------------------------------------------------- jobs (module level: picklable)
def _record(spec):
    """Note the call in the run's folder; the result names the process and its thread budget."""
    import torch

    folder = Path(spec.run_dir)
    folder.mkdir(parents=True, exist_ok=True)
    for need in spec.needs:  # a dependency finished before this run started
        assert (folder.parent / need / "done").is_file(), need
    barrier = spec.option("barrier")
    if barrier:  # both runs of the barrier must be running at once, or neither gets past it
        Path(barrier, spec.name).touch()
        deadline = time.monotonic() + 120
        while len(list(Path(barrier).iterdir())) < 2:
            assert time.monotonic() < deadline, "the other run never started: runs were not in parallel"
            time.sleep(0.05)
    if spec.option("fail"):
        raise RuntimeError(f"{spec.name} failed")
    with open(folder.parent / "calls.txt", "a") as f:
        f.write(spec.name + "\n")
    (folder / "done").touch()
    return {"pid": os.getpid(), "threads": torch.get_num_threads(), "omp": os.environ.get("OMP_NUM_THREADS"),
            "gpu": os.environ.get("CUDA_VISIBLE_DEVICES")}


def _calls(root: Path) -> list[str]:
    path = root / "calls.txt"
    return path.read_text().split() if path.is_file() else []


def test_gpus_pack_the_workers_round_robin_each_seeing_one_gpu(tmp_path):
    """--jobs 4 --gpus 0,1: four fresh workers, two per GPU, each run sees exactly one GPU."""
    barrier = tmp_path / "barrier"
    barrier.mkdir()
    runs = [RunSpec(n, "train", "x.yaml", str(tmp_path / n), options=(("barrier", str(barrier)),))
            for n in ("a", "b")]
    results = run_suite(runs, _record, jobs=2, threads=1, gpus=[0, 1])  # both at once: one on each GPU
    assert sorted(r["gpu"] for r in results.values()) == ["0", "1"]
    assert all(r["pid"] != os.getpid() for r in results.values())
    from harkd.suites.runner import gpu_slots

    assert gpu_slots([0, 1], 5) == ["0", "1", "0", "1", "0"]
    with pytest.raises(ConfigError, match=re.escape("--gpus must list GPU indices (e.g. 0,1), got cuda:0")):
        run_suite(runs, _record, jobs=2, gpus=["cuda:0"])


def test_dependencies_run_first_and_independent_runs_in_parallel(tmp_path):
    barrier = tmp_path / "barrier"
    barrier.mkdir()
    runs = [RunSpec(n, "train", "x.yaml", str(tmp_path / n), needs=needs, options=opts) for n, needs, opts in [
        ("student_a", ("teacher_a",), ()), ("teacher_a", (), (("barrier", str(barrier)),)),
        ("teacher_b", (), (("barrier", str(barrier)),)), ("student_b", ("teacher_a", "teacher_b"), ())]]
    results = run_suite(runs, _record, jobs=2, threads=1)  # the teachers' barrier: they ran at the same time
    calls = _calls(tmp_path)
    assert calls.index("teacher_a") < calls.index("student_a")  # and each student after its teachers
    assert max(calls.index("teacher_a"), calls.index("teacher_b")) < calls.index("student_b")
    assert set(results) == {r.name for r in runs}
    assert all(r["pid"] != os.getpid() and r["threads"] == 1 and r["omp"] == "1" for r in results.values())


def test_a_failed_run_stops_the_suite_and_the_rest_resumes(tmp_path):
    state = tmp_path / "state"
    runs = [RunSpec("t", "train", "x.yaml", str(tmp_path / "t")),
            RunSpec("s", "train", "x.yaml", str(tmp_path / "s"), needs=("t",), options=(("fail", True),)),
            RunSpec("u", "train", "x.yaml", str(tmp_path / "u"), needs=("s",))]
    with pytest.raises(RuntimeError, match="^s failed$"):
        run_suite(runs, _record, jobs=2, state_dir=state)
    assert _calls(tmp_path) == ["t"] and sorted(p.name for p in state.iterdir()) == ["t.json"]
    runs[1] = RunSpec("s", "train", "x.yaml", str(tmp_path / "s"), needs=("t",))  # fixed
    logs = []
    results = run_suite(runs, _record, jobs=2, state_dir=state, log=logs.append)
    assert _calls(tmp_path) == ["t", "s", "u"]  # t was read from the state, not run again
    assert logs == [f"suite: 1 of 3 runs finished before (read from {state})"]
    assert set(results) == {"t", "s", "u"}


def test_a_recorded_run_is_run_again_when_its_settings_or_its_run_directory_changed(tmp_path):
    import shutil

    state = tmp_path / "state"
    runs = [RunSpec("t", "train", "x.yaml", str(tmp_path / "t"))]
    first = run_suite(runs, _record, state_dir=state)
    assert run_suite(runs, _record, state_dir=state, log=lambda m: None) == first and _calls(tmp_path) == ["t"]
    run_suite([RunSpec("t", "train", "x.yaml", str(tmp_path / "t"), ("seed=1",))], _record, state_dir=state)
    shutil.rmtree(tmp_path / "t")
    run_suite([RunSpec("t", "train", "x.yaml", str(tmp_path / "t"), ("seed=1",))], _record, state_dir=state)
    assert _calls(tmp_path) == ["t", "t", "t"]



def test_a_finished_run_with_options_is_read_back_not_run_again(tmp_path):
    # options nest tuples, which JSON reads back as lists: the saved spec must still compare equal
    state = tmp_path / "state"
    runs = [RunSpec("t", "train", "x.yaml", str(tmp_path / "t"), ("seed=1",), options=(("epochs", (60, 150)),))]
    first = run_suite(runs, _record, state_dir=state)
    assert run_suite(runs, _record, state_dir=state, log=lambda m: None) == first
    assert _calls(tmp_path) == ["t"]

# ----------------------------------------------------------------------------- tiny real runs
def _configs(tmp_path: Path, root: Path, epochs: int = 2) -> tuple[Path, Path]:
    base = {"seed": 0, "output_dir": str(tmp_path),
            "data": {"dataset": "utd-mhad", "root": str(root), "modalities": {"inertial": INERTIAL}, "cache": False},
            "optim": {"lr": 3e-3}, "train": {"epochs": epochs, "batch_size": 8}}
    teacher, student = tmp_path / "teacher.yaml", tmp_path / "student.yaml"
    teacher.write_text(yaml.safe_dump({"name": "teacher", "model": MODEL, **base}))
    student.write_text(yaml.safe_dump({"name": "student", "teachers": [{"run": "SET_BY_THE_SUITE"}], "student": MODEL,
                                       "losses": [{"name": "ce"}, {"name": "kd", "args": {"temperature": 4}}], **base}))
    return teacher, student


def _metrics(run_dir) -> list[dict]:
    return [json.loads(line) for line in (Path(run_dir) / "metrics.jsonl").read_text().splitlines()]


def test_jobs_2_trains_two_tiny_runs_as_one_process_would(synth_utd, tmp_path):
    teacher, _ = _configs(tmp_path, synth_utd)
    runs = [RunSpec(f"seed{s}", "train", str(teacher), str(tmp_path / "par" / f"seed{s}"), (f"seed={s}",))
            for s in (0, 1)]
    results = run_suite(runs, train_run, jobs=2, threads=1)
    alone = [RunSpec(r.name, r.kind, r.config, str(tmp_path / "one" / r.name), r.overrides) for r in runs]
    run_suite(alone, train_run, jobs=1, threads=1)
    for run, one in zip(runs, alone):
        assert results[run.name] == Path(run.run_dir)
        got, want = _metrics(run.run_dir), _metrics(one.run_dir)
        assert [m["epoch"] for m in got] == [1, 2]
        assert [m["train_loss"] for m in got] == [m["train_loss"] for m in want]
    assert _metrics(runs[0].run_dir)[0]["train_loss"] != _metrics(runs[1].run_dir)[0]["train_loss"]  # two seeds


KILLED_SUITE = """
import os, signal, sys
from harkd.recipes import get_recipe, train_experiment
from harkd.suites import RunSpec, run_suite, train_run
teacher, student, out = sys.argv[1:4]

def job(spec):
    if spec.name == "student":  # killed (SIGKILL) while epoch 2 of 3 trains: last.pt holds epoch 1
        recipe = get_recipe(spec.kind)
        kill = lambda msg: msg.startswith("epoch 2/") and os.kill(os.getpid(), signal.SIGKILL)
        train_experiment(recipe.load(spec.config, list(spec.overrides)), spec.run_dir, log=kill, progress=False,
                         recipe=recipe)
    return str(train_run(spec))

runs = [RunSpec("teacher", "train", teacher, out + "/teacher"),
        RunSpec("student", "distill", student, out + "/student", ("teachers.0.run=" + out + "/teacher",), ("teacher",))]
run_suite(runs, job, state_dir=out + "/.suite")
"""


def _suite_runs(teacher, student, out):
    return [RunSpec("teacher", "train", str(teacher), f"{out}/teacher"),
            RunSpec("student", "distill", str(student), f"{out}/student", (f"teachers.0.run={out}/teacher",),
                    ("teacher",))]


def test_a_killed_suite_resumes_its_killed_run_and_reads_its_finished_ones(synth_utd, tmp_path):
    teacher, student = _configs(tmp_path, synth_utd, epochs=3)
    out = tmp_path / "suite"
    env = {**os.environ, "PYTHONPATH": os.pathsep.join([str(SRC), os.environ.get("PYTHONPATH", "")]),
           "OMP_NUM_THREADS": "1"}
    proc = subprocess.run([sys.executable, "-c", KILLED_SUITE, str(teacher), str(student), str(out)], env=env,
                          capture_output=True, text=True, timeout=600)
    assert proc.returncode == -9, proc.stderr
    assert sorted(p.name for p in (out / ".suite").iterdir()) == ["teacher.json"]
    first = (out / "student" / "metrics.jsonl").read_text().splitlines()
    assert [json.loads(line)["epoch"] for line in first] == [1]
    calls = []

    def job(spec):
        calls.append(spec.name)
        return str(train_run(spec))

    results = run_suite(_suite_runs(teacher, student, out), job, state_dir=out / ".suite", log=lambda m: None)
    assert calls == ["student"]  # the finished teacher was read, not run
    assert results["teacher"] == str(out / "teacher")
    lines = (out / "student" / "metrics.jsonl").read_text().splitlines()
    assert lines[0] == first[0] and [json.loads(line)["epoch"] for line in lines] == [1, 2, 3]  # resumed at epoch 2
    assert run_suite(_suite_runs(teacher, student, out), job, state_dir=out / ".suite", log=lambda m: None) == results
    assert calls == ["student"]  # a finished suite runs nothing


# ----------------------------------------------------------------------------- Ray
def test_ray_backend_without_ray_says_how_to_install_it(monkeypatch):
    monkeypatch.setitem(sys.modules, "ray", None)  # import ray raises ImportError
    with pytest.raises(ConfigError, match=re.escape(RAY_MISSING)):
        run_suite([_spec("a")], _record, backend="ray")
    assert RAY_MISSING == ("--backend ray needs the optional 'ray' package: pip install 'harkd[ray]' "
                           "(or use --backend local)")


def test_ray_backend_on_a_local_instance(tmp_path):
    pytest.importorskip("ray", reason="ray is not installed (optional: pip install 'harkd[ray]'); the Ray backend "
                                      "test runs where it is")
    barrier = tmp_path / "barrier"
    barrier.mkdir()
    runs = [RunSpec("student", "train", "x.yaml", str(tmp_path / "student"), needs=("a", "b")),
            *[RunSpec(n, "train", "x.yaml", str(tmp_path / n), options=(("barrier", str(barrier)),)) for n in "ab"]]
    results = run_suite(runs, _record, backend="ray", jobs=2, threads=1, state_dir=tmp_path / "state")
    assert _calls(tmp_path)[-1] == "student" and sorted(_calls(tmp_path)) == ["a", "b", "student"]
    assert all(r["pid"] != os.getpid() and r["threads"] == 1 for r in results.values())
    assert sorted(p.name for p in (tmp_path / "state").iterdir()) == ["a.json", "b.json", "student.json"]


def test_command_line_is_the_one_typed(monkeypatch):
    monkeypatch.setattr(sys, "argv", ["benchmarks/kd_table.py", "--jobs", "2"])
    monkeypatch.setattr(sys, "executable", "/venv/bin/python")
    monkeypatch.setattr(sys.modules["__main__"], "__spec__", None, raising=False)  # python benchmarks/kd_table.py
    assert command_line() == "python benchmarks/kd_table.py --jobs 2"

    class Spec:
        name = "benchmarks.acs_choices"

    monkeypatch.setattr(sys.modules["__main__"], "__spec__", Spec(), raising=False)
    monkeypatch.setattr(sys, "argv", ["/repo/benchmarks/acs_choices.py", "--root", "data"])
    assert command_line() == "python -m benchmarks.acs_choices --root data"


def test_command_line_names_the_script_relative_to_its_checkout(monkeypatch, tmp_path):
    """A script run from another clone or worktree is recorded as ``benchmarks/x.py``, not by that path."""
    (tmp_path / "wt" / "benchmarks").mkdir(parents=True)
    (tmp_path / "wt" / "pyproject.toml").write_text("")
    monkeypatch.setattr(sys, "argv", [str(tmp_path / "wt" / "benchmarks" / "device_table.py"), "--rounds", "5"])
    monkeypatch.setattr(sys, "executable", "/venv/bin/python")
    monkeypatch.setattr(sys.modules["__main__"], "__spec__", None, raising=False)
    assert command_line() == "python benchmarks/device_table.py --rounds 5"
    monkeypatch.setattr(sys, "argv", [str(tmp_path / "loose.py")])  # outside any checkout: as typed
    assert command_line() == f"python {tmp_path / 'loose.py'}"


def test_a_benchmark_script_reports_a_held_run_directory_in_one_line(tmp_path, monkeypatch, capsys):
    """Two benchmark scripts starting the same teacher run: the second stops with one line, no traceback."""
    from harkd.engine.lifecycle import run_dir_lock
    from harkd.suites import run_script

    monkeypatch.setattr(sys, "argv", ["benchmarks/device_table.py"])
    run_dir = tmp_path / "teacher"

    def second_script():
        with run_dir_lock(run_dir):
            return 0

    with run_dir_lock(run_dir):
        assert run_script(second_script) == 2
    assert capsys.readouterr().err == (f"device_table.py: error: {run_dir}: another harkd process (pid {os.getpid()}) "
                                       "is training into this run directory; wait for it to finish or choose another "
                                       "--run-dir\n")
    assert run_script(second_script) == 0  # released: the next start trains


def test_every_benchmark_script_exits_through_run_script():
    scripts = sorted((Path(__file__).resolve().parents[2] / "benchmarks").glob("*.py"))
    mains = [p for p in scripts if 'if __name__ == "__main__":' in p.read_text()]
    assert len(mains) >= 10
    assert [p.name for p in mains if "sys.exit(run_script(main))" not in p.read_text()] == []


def test_a_benchmark_script_reports_a_full_disk_in_one_line(monkeypatch, capsys):
    import errno

    from harkd.suites import run_script

    monkeypatch.setattr(sys, "argv", ["benchmarks/kd_table.py"])

    def full_disk():
        raise OSError(errno.ENOSPC, "No space left on device", "benchmarks/RESULTS.md")

    assert run_script(full_disk) == 1
    assert capsys.readouterr().err == ("kd_table.py: error: benchmarks/RESULTS.md: No space left on device (free some "
                                       "space or choose another directory)\n")
