"""End to end: YAML experiment -> harkd train -> run directory -> harkd evaluate, on synthetic data."""

import json
import os
import re

import pytest
import torch
import yaml

from harkd.cli.main import main
from harkd.engine.config import load_config
from harkd.engine.experiment import schedule_factor, train_experiment
from harkd.errors import ConfigError


def write_config(tmp_path, root, **train):
    cfg = {
        "name": "acc_cnn",
        "seed": 3,
        "output_dir": str(tmp_path / "runs"),
        "data": {"dataset": "utd-mhad", "root": str(root), "modalities": {"inertial": {"sensor": "acc", "length": 64, "normalize": True}},
                 "cache": False},
        "model": {"name": "imu_cnn1d", "input": "inertial", "args": {"widths": [8, 16], "depths": [1, 1]}},
        "optim": {"name": "adam", "lr": 3e-3},
        "schedule": {"name": "step", "milestones": [2], "gamma": 0.5},
        "train": {"epochs": 3, "batch_size": 8, **train},
    }
    path = tmp_path / "exp.yaml"
    path.write_text(yaml.safe_dump(cfg))
    return path


def test_train_then_evaluate_cli(tmp_path, synth_utd, capsys):
    config = write_config(tmp_path, synth_utd)
    assert main(["train", str(config), "--set", "train.epochs=2", "--deterministic"]) == 0
    run_dir = tmp_path / "runs" / "acc_cnn"
    saved = yaml.safe_load((run_dir / "config.yaml").read_text())
    assert saved["train"]["epochs"] == 2 and saved["train"]["deterministic"] is True
    meta = json.loads((run_dir / "run.json").read_text())
    assert meta["seed"] == 3 and meta["harkd_version"] and "git" in meta
    assert set(meta["split"]) == {"train", "val", "test"}
    assert not set(meta["split"]["test"]) & set(meta["split"]["train"] + meta["split"]["val"])
    assert len(meta["normalization"]["inertial"]["mean"]) == 3
    assert (run_dir / "eval_test_best.json").is_file()
    capsys.readouterr()
    assert main(["evaluate", str(run_dir), "--json"]) == 0
    result = json.loads(capsys.readouterr().out)
    assert result["split"] == "test" and result["checkpoint"].endswith("best.pt")
    assert 0 <= result["accuracy"] <= 1 and 0 <= result["macro_f1"] <= 1
    assert len(result["confusion_matrix"]) == 27
    assert sum(map(sum, result["confusion_matrix"])) == len(meta["split"]["test"])
    assert (run_dir / "confusion_test.png").is_file() and (run_dir / "learning_curves.png").is_file()


def test_deterministic_rerun_gives_same_metrics(tmp_path, synth_utd):
    cfg = load_config(write_config(tmp_path, synth_utd), ["train.deterministic=true"])
    a = train_experiment(cfg, tmp_path / "a", log=lambda m: None)
    b = train_experiment(cfg, tmp_path / "b", log=lambda m: None)
    assert (a / "metrics.jsonl").read_text().count("\n") == 3
    strip = lambda p: [{k: v for k, v in json.loads(l).items() if k != "seconds"} for l in (p / "metrics.jsonl").read_text().splitlines()]
    assert strip(a) == strip(b)


def test_resume_refuses_a_changed_config(tmp_path, synth_utd):
    cfg = load_config(write_config(tmp_path, synth_utd, epochs=1))
    run_dir = train_experiment(cfg, tmp_path / "r", log=lambda m: None)
    changed = load_config(write_config(tmp_path, synth_utd, epochs=1), ["optim.lr=0.5"])
    with pytest.raises(ConfigError, match=re.escape("was trained with a different config (changed: optim.lr)")):
        train_experiment(changed, run_dir, log=lambda m: None)
    longer = load_config(write_config(tmp_path, synth_utd, epochs=2))
    train_experiment(longer, run_dir, log=lambda m: None)  # more epochs: resumes
    assert (run_dir / "metrics.jsonl").read_text().count("\n") == 2


def test_resume_accepts_a_run_written_before_a_config_key_existed(tmp_path, synth_utd):
    """A key added to harkd later (at its default) is not a change: old run directories still resume."""
    cfg = load_config(write_config(tmp_path, synth_utd, epochs=1))
    run_dir = train_experiment(cfg, tmp_path / "r", log=lambda m: None)
    saved = yaml.safe_load((run_dir / "config.yaml").read_text())
    assert saved["data"].pop("val_subjects") is None  # as written before val_subjects existed
    (run_dir / "config.yaml").write_text(yaml.safe_dump(saved))
    train_experiment(load_config(write_config(tmp_path, synth_utd, epochs=2)), run_dir, log=lambda m: None)
    assert (run_dir / "metrics.jsonl").read_text().count("\n") == 2


def test_config_errors_are_one_line(tmp_path, synth_utd, capsys):
    config = write_config(tmp_path, synth_utd)
    assert main(["train", str(config), "--set", "train.epoch=3"]) == 2
    err = capsys.readouterr().err.strip()
    assert err == ("harkd: error: unknown config key 'epoch'; did you mean 'epochs'? (valid: batch_size, deterministic, "
                   "device, epochs, grad_clip, label_smoothing, select) in 'train'")
    assert main(["train", str(config), "--set", "model.input=skeleton"]) == 2
    assert "config key 'model.input': 'skeleton' is not among data.modalities (inertial)" in capsys.readouterr().err
    assert main(["train", str(tmp_path / "nope.yaml")]) == 2
    assert capsys.readouterr().err.strip().endswith("nope.yaml: config file not found")


def test_schedules_are_per_epoch():
    from harkd.engine.config import ScheduleConfig

    step = schedule_factor(ScheduleConfig(name="step", milestones=[2, 4], gamma=0.1), 6)
    assert [round(step(e), 6) for e in range(6)] == [1, 1, 0.1, 0.1, 0.01, 0.01]
    warm = schedule_factor(ScheduleConfig(name="cosine", warmup_epochs=2), 6)
    assert [round(warm(e), 4) for e in range(3)] == [round(1 / 3, 4), round(2 / 3, 4), 1.0]
    assert warm(5) == pytest.approx(0.5 * (1 + __import__("math").cos(__import__("math").pi * 3 / 4)))


def test_harkd_train_killed_mid_run_resumes_to_the_same_result(tmp_path, synth_utd):
    """SIGKILL a real `harkd train` process after its first checkpoint, resume, compare with a clean run."""
    import os
    import signal
    import subprocess
    import sys
    import time

    config = write_config(tmp_path, synth_utd, epochs=6)
    cmd = [sys.executable, "-m", "harkd", "train", str(config), "--evaluate", "none", "--run-dir"]
    clean = subprocess.run(cmd + [str(tmp_path / "clean")], capture_output=True, text=True, timeout=600)
    assert clean.returncode == 0, clean.stderr
    killed_dir = tmp_path / "killed"
    proc = subprocess.Popen(cmd + [str(killed_dir)], stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    deadline = time.time() + 300
    while not (killed_dir / "last.pt").exists() and proc.poll() is None and time.time() < deadline:
        time.sleep(0.05)
    os.kill(proc.pid, signal.SIGKILL)
    proc.wait()
    assert proc.returncode == -signal.SIGKILL, "the run finished before it could be killed"
    resumed = subprocess.run(cmd + [str(killed_dir)], capture_output=True, text=True, timeout=600)
    assert resumed.returncode == 0, resumed.stderr
    assert "resumed from" in resumed.stderr

    def records(run_dir):
        return [{k: v for k, v in json.loads(line).items() if k != "seconds"}
                for line in (run_dir / "metrics.jsonl").read_text().splitlines()]

    assert records(killed_dir) == records(tmp_path / "clean")
    assert len(records(killed_dir)) == 6


def test_semantic_teacher_training_regresses_class_embeddings(tmp_path, synth_utd):
    """SAKDN's teacher objective: CE + distance of the embedding layer to the label's class embedding."""
    cfg = load_config(write_config(tmp_path, synth_utd, epochs=2),
                      ["semantic.source=none", "semantic.distance=l1", "semantic.weight=0.5"])
    run_dir = train_experiment(cfg, tmp_path / "sem", log=lambda m: None)
    saved = yaml.safe_load((run_dir / "config.yaml").read_text())
    assert saved["model"]["args"]["semantic_dim"] == 300  # resolved from the embeddings
    records = [json.loads(l) for l in (run_dir / "metrics.jsonl").read_text().splitlines()]
    assert {"train_ce", "train_semantic"} <= set(records[-1])
    assert records[-1]["train_loss"] == pytest.approx(records[-1]["train_ce"] + 0.5 * records[-1]["train_semantic"], rel=1e-5)
    from harkd.distill.teachers import load_teacher, read_teacher_run

    teacher = read_teacher_run(run_dir)  # a semantic run loads as a teacher with its embedding layer
    prepared_sample = {"inertial": torch.zeros(3, 64)}
    assert "embedding" in load_teacher(teacher, prepared_sample).model.feature_names
    bad = load_config(write_config(tmp_path, synth_utd), ["semantic.source=none", "model.args.semantic_dim=16"])
    with pytest.raises(ConfigError, match=re.escape("config key 'model.args.semantic_dim': 16 differs from the none class embeddings' dimension 300")):
        train_experiment(bad, tmp_path / "bad", log=lambda m: None)


def test_a_second_process_cannot_train_into_a_locked_run_directory(tmp_path, synth_utd):
    from harkd.engine.experiment import run_dir_lock
    from harkd.errors import DataError

    cfg = load_config(write_config(tmp_path, synth_utd, epochs=1))
    run_dir = tmp_path / "locked"
    with run_dir_lock(run_dir):  # as if another harkd process were training here
        with pytest.raises(DataError) as err:
            train_experiment(cfg, run_dir, log=lambda m: None)
    assert str(err.value) == (f"{run_dir}: another harkd process (pid {os.getpid()}) is training into this run "
                              "directory; wait for it to finish or choose another --run-dir")
    assert not (run_dir / "last.pt").exists()
    train_experiment(cfg, run_dir, log=lambda m: None)  # released: trains
    assert (run_dir / "last.pt").is_file()
