"""A run directory's life: refused before training when it cannot work, checkpoints that fail or are
damaged, a changed train.epochs, empty splits, progress lines of long epochs."""

import errno
import json
import os
import re
import shutil

import pytest
import torch
import yaml
from torch import nn
from torch.utils.data import Dataset

from harkd.cli.main import main
from harkd.engine import checkpoint as checkpoint_module
from harkd.engine import experiment, rundir
from harkd.engine.config import load_config
from harkd.engine.experiment import train_experiment
from harkd.engine.trainer import ClassificationTask, Trainer
from harkd.errors import ConfigError, DataError, DataWarning

QUIET = {"log": lambda msg: None}


def config(tmp_path, root, *overrides, schedule=None, epochs=2):
    data = {
        "name": "acc", "seed": 1, "output_dir": str(tmp_path / "runs"),
        "data": {"dataset": "utd-mhad", "root": str(root), "cache": False,
                 "modalities": {"inertial": {"sensor": "acc", "length": 32, "normalize": True}}},
        "model": {"name": "imu_cnn1d", "input": "inertial", "args": {"widths": [4, 8], "depths": [1, 1]}},
        "optim": {"name": "adam", "lr": 3e-3},
        "schedule": schedule or {"name": "step", "milestones": [1], "gamma": 0.5},
        "train": {"epochs": epochs, "batch_size": 8},
    }
    return load_config(data=data, overrides=list(overrides))


def records(run_dir):
    return [{k: v for k, v in json.loads(line).items() if k != "seconds"}
            for line in (run_dir / "metrics.jsonl").read_text().splitlines()]


# ------------------------------------------------------------------ the run directory, before training
def test_a_run_directory_that_is_a_file_is_refused_before_training(tmp_path, synth_utd):
    target = tmp_path / "run"
    target.write_text("not a directory")
    with pytest.raises(DataError) as err:
        train_experiment(config(tmp_path, synth_utd), target, **QUIET)
    assert str(err.value) == f"{target}: is a file, not a run directory: choose another --run-dir (or move the file away)"


def test_a_run_directory_under_a_file_is_refused(tmp_path, synth_utd):
    (tmp_path / "file").write_text("x")
    target = tmp_path / "file" / "run"
    with pytest.raises(DataError) as err:
        train_experiment(config(tmp_path, synth_utd), target, **QUIET)
    assert str(err.value) == (f"{target}: cannot write into the run directory (Not a directory): "
                              "a parent of it is a file: choose another --run-dir")


@pytest.mark.skipif(os.geteuid() == 0, reason="root writes into a read-only directory: chmod cannot simulate it "
                                              "(test_an_unwritable_run_directory_is_refused covers the message)")
def test_a_read_only_run_directory_is_refused(tmp_path, synth_utd):
    target = tmp_path / "ro"
    target.mkdir()
    target.chmod(0o555)
    try:
        with pytest.raises(DataError) as err:
            train_experiment(config(tmp_path, synth_utd), target, **QUIET)
    finally:
        target.chmod(0o755)
    assert str(err.value) == (f"{target}: cannot write into the run directory (Permission denied): "
                              "choose a writable --run-dir (or fix its permissions)")


@pytest.mark.parametrize("code, strerror, hint", [
    (errno.EACCES, "Permission denied", "choose a writable --run-dir (or fix its permissions)"),
    (errno.EROFS, "Read-only file system", "choose a writable --run-dir (or fix its permissions)"),
    (errno.ENOSPC, "No space left on device", "the disk is full: free some space or choose another --run-dir"),
])
def test_an_unwritable_run_directory_is_refused(tmp_path, synth_utd, monkeypatch, code, strerror, hint):
    """The write probe fails as on a read-only or full disk (root cannot be stopped by chmod)."""
    def refuse(*args, **kwargs):
        raise OSError(code, strerror)

    monkeypatch.setattr(rundir.tempfile, "TemporaryFile", refuse)
    prepared = []
    monkeypatch.setattr(experiment, "prepare_data", lambda *a, **k: prepared.append(1))
    target = tmp_path / "run"
    with pytest.raises(DataError) as err:
        train_experiment(config(tmp_path, synth_utd), target, **QUIET)
    assert str(err.value) == f"{target}: cannot write into the run directory ({strerror}): {hint}"
    assert not prepared, "refused before any training work"


def test_too_little_free_space_is_refused_before_the_first_epoch(tmp_path, synth_utd, monkeypatch):
    usage = shutil.disk_usage(tmp_path)
    monkeypatch.setattr(rundir.shutil, "disk_usage", lambda path: usage._replace(free=1000))
    target = tmp_path / "run"
    with pytest.raises(DataError) as err:
        train_experiment(config(tmp_path, synth_utd), target, **QUIET)
    message = str(err.value)
    assert re.fullmatch(re.escape(f"{target}: not enough free disk space for the checkpoints: each is about ")
                        + r"0\.\d MB and the run needs 0\.\d MB more, but 0\.0 MB are free; free some space or "
                          r"choose another --run-dir", message), message
    assert not (target / "metrics.jsonl").exists()


# ------------------------------------------------------------------ checkpoints written mid-run
class Blobs(Dataset):
    def __init__(self, n=40):
        g = torch.Generator().manual_seed(0)
        self.labels = torch.randint(0, 3, (n,), generator=g)
        self.x = torch.randn(n, 8, generator=g) + 2 * nn.functional.one_hot(self.labels, 8).float()

    def __len__(self):
        return len(self.labels)

    def __getitem__(self, i):
        return {"x": self.x[i], "label": self.labels[i], "key": f"r{i}"}


def make_trainer(run_dir, epochs=3, **kwargs):
    torch.manual_seed(0)
    task = ClassificationTask(nn.Linear(8, 3), "x")
    optimizer = torch.optim.SGD(task.parameters(), lr=0.1)
    return Trainer(task, Blobs(), Blobs(12), optimizer, run_dir, epochs, num_classes=3, batch_size=8,
                   log=lambda msg: None, progress=False, **kwargs)


def test_a_full_disk_mid_run_keeps_the_previous_last_pt_and_the_run_resumes(tmp_path, monkeypatch):
    reference = make_trainer(tmp_path / "ref")
    reference.fit()
    run_dir = tmp_path / "run"
    real_save, calls = torch.save, []

    def save_until_full(obj, handle, *args, **kwargs):
        calls.append(1)
        if len(calls) > 2:  # epoch 1 wrote best.pt and last.pt; epoch 2 finds the disk full
            handle.write(b"partial")
            raise OSError(errno.ENOSPC, "No space left on device")
        return real_save(obj, handle, *args, **kwargs)

    monkeypatch.setattr(checkpoint_module.torch, "save", save_until_full)
    trainer = make_trainer(run_dir)
    with pytest.raises(DataError) as err:
        trainer.fit()
    failed = "best.pt" if trainer.state.best_epoch == 2 else "last.pt"
    assert str(err.value) == (f"{run_dir / failed}: cannot write epoch 2 (No space left on device); last.pt still "
                              "holds epoch 1: the disk is full: free some space and run the same command to resume "
                              "from it")
    assert sorted(p.name for p in run_dir.iterdir()) == ["best.pt", "last.pt", "metrics.jsonl"]  # no temporary file
    assert torch.load(run_dir / "last.pt", weights_only=False)["state"]["epoch"] == 1
    monkeypatch.setattr(checkpoint_module.torch, "save", real_save)
    resumed = make_trainer(run_dir)
    assert resumed.resume()
    resumed.fit()
    assert records(run_dir) == records(tmp_path / "ref")
    assert torch.equal(resumed.task.model.weight, reference.task.model.weight)


def test_a_full_disk_on_the_first_checkpoint_says_nothing_was_saved(tmp_path, monkeypatch):
    def full(obj, handle, *args, **kwargs):
        raise OSError(errno.ENOSPC, "No space left on device")

    monkeypatch.setattr(checkpoint_module.torch, "save", full)
    run_dir = tmp_path / "run"
    with pytest.raises(DataError) as err:
        make_trainer(run_dir).fit()
    assert str(err.value).endswith("cannot write epoch 1 (No space left on device); nothing was saved yet: the disk "
                                   "is full: free some space and run the same command to start again")
    assert not list(run_dir.glob("*.pt")) and not list(run_dir.glob(".*.tmp"))


# ------------------------------------------------------------------ damaged checkpoints
def flip_middle(path, count=64):
    data = bytearray(path.read_bytes())
    middle = len(data) // 2
    data[middle:middle + count] = bytes(b ^ 0xFF for b in data[middle:middle + count])
    path.write_bytes(bytes(data))


def test_a_damaged_last_pt_is_refused_with_the_way_to_recover(tmp_path, synth_utd, monkeypatch):
    cfg = config(tmp_path, synth_utd, epochs=3)
    clean = train_experiment(cfg, tmp_path / "clean", **QUIET)
    run_dir = train_experiment(cfg, tmp_path / "run", **QUIET)
    last, best = run_dir / "last.pt", run_dir / "best.pt"
    best_epoch = torch.load(best, weights_only=False)["state"]["epoch"]
    flip_middle(last)
    read = []
    monkeypatch.setattr(experiment, "prepare_data", lambda *a, **k: read.append(1))
    with pytest.raises(DataError) as err:
        train_experiment(cfg, run_dir, **QUIET)
    monkeypatch.undo()
    assert not read, "refused before the data are read"
    assert str(err.value) == (
        f"{last}: cannot read checkpoint: the file is damaged (its content no longer matches its checksum); to "
        f"recover, copy best.pt (epoch {best_epoch}) over it (cp {best} {last}) and run the same command to resume "
        f"from epoch {best_epoch}, or delete last.pt and run the same command to train this run again from epoch 1 "
        "(or train into a new --run-dir)")
    shutil.copy(best, last)  # the advice works: the resumed run ends as the clean one
    train_experiment(cfg, run_dir, **QUIET)
    assert records(run_dir) == records(clean)
    resumed, reference = (torch.load(p / "last.pt", weights_only=False)["task"] for p in (run_dir, clean))
    assert all(torch.equal(resumed[k], reference[k]) for k in reference)


def test_resume_with_only_best_pt_damaged_is_refused_with_the_way_to_recover(tmp_path, synth_utd):
    cfg = config(tmp_path, synth_utd, epochs=2)
    run_dir = train_experiment(cfg, tmp_path / "run", **QUIET)
    best = run_dir / "best.pt"
    flip_middle(best)
    with pytest.raises(DataError) as err:
        train_experiment(cfg, run_dir, **QUIET)
    assert str(err.value) == (
        f"{best}: cannot read checkpoint: the file is damaged (its content no longer matches its checksum); last.pt "
        "is sound: to resume, delete best.pt (the run writes it again at its next best validation epoch, so the "
        "earlier best epoch is lost) or train into a new --run-dir")


def test_a_damaged_best_pt_is_refused_by_evaluate(tmp_path, synth_utd, capsys):
    run_dir = train_experiment(config(tmp_path, synth_utd, epochs=1), tmp_path / "run", **QUIET)
    flip_middle(run_dir / "best.pt")
    capsys.readouterr()
    assert main(["evaluate", str(run_dir)]) == 2
    err = capsys.readouterr().err
    assert err.strip() == (f"harkd: error: {run_dir / 'best.pt'}: cannot read checkpoint: the file is damaged "
                           "(its content no longer matches its checksum)")
    assert "Traceback" not in err


def test_resume_with_both_checkpoints_damaged_suggests_a_restart(tmp_path):
    make_trainer(tmp_path, epochs=2).fit()
    flip_middle(tmp_path / "last.pt")
    flip_middle(tmp_path / "best.pt")
    with pytest.raises(DataError) as err:
        make_trainer(tmp_path, epochs=2).resume()
    assert str(err.value).endswith(": the file is damaged (its content no longer matches its checksum); to "
                                   "recover, delete last.pt and run the same command to train this run again from "
                                   "epoch 1 (or train into a new --run-dir)")


# ------------------------------------------------------------------ changing train.epochs of a run
def test_a_longer_cosine_run_is_refused(tmp_path, synth_utd):
    cosine = {"name": "cosine", "warmup_epochs": 1}
    run_dir = train_experiment(config(tmp_path, synth_utd, schedule=cosine), tmp_path / "run", **QUIET)
    with pytest.raises(ConfigError) as err:
        train_experiment(config(tmp_path, synth_utd, "train.epochs=4", schedule=cosine), run_dir, **QUIET)
    assert str(err.value) == (f"{run_dir} was trained with train.epochs=2 and a cosine schedule laid out over 2 "
                              "epochs; resuming it with train.epochs=4 would not give a 4-epoch cosine run: train a "
                              "new run (another --run-dir) with train.epochs=4, or keep train.epochs=2 to resume "
                              "this one")
    assert len(records(run_dir)) == 2


def test_a_step_run_extends_like_a_longer_run_and_records_it(tmp_path, synth_utd):
    longer = train_experiment(config(tmp_path, synth_utd, epochs=4), tmp_path / "longer", **QUIET)
    run_dir = train_experiment(config(tmp_path, synth_utd), tmp_path / "run", **QUIET)
    lines = []
    train_experiment(config(tmp_path, synth_utd, epochs=4), run_dir, log=lines.append)
    assert records(run_dir) == records(longer)  # the learning rate continues: same as one 4-epoch run
    assert [r["lr"] for r in records(run_dir)] == pytest.approx([3e-3, 1.5e-3, 1.5e-3, 1.5e-3])
    assert yaml.safe_load((run_dir / "config.yaml").read_text())["train"]["epochs"] == 4
    change = json.loads((run_dir / "run.json").read_text())["epochs_changed"]
    assert [{k: c[k] for k in ("from", "to", "after_epoch")} for c in change] == [{"from": 2, "to": 4, "after_epoch": 2}]
    assert ("train.epochs changed from 2 to 4 after epoch 2 (the step schedule continues unchanged); recorded in "
            "config.yaml and run.json") in lines
    with pytest.raises(ConfigError) as err:
        train_experiment(config(tmp_path, synth_utd, epochs=3), run_dir, **QUIET)
    assert str(err.value) == (f"{run_dir} has already trained 4 epochs (train.epochs=4); train.epochs=3 cannot "
                              "shorten it: evaluate it as it is, or train a new run (another --run-dir)")


# ------------------------------------------------------------------ splits and start-of-run checks
def test_an_empty_test_split_is_refused_before_training(tmp_path, monkeypatch):
    from harkd.data.synth import write_utd_mhad

    root = tmp_path / "odd-subjects"  # cross_subject tests on subjects 2, 4, 6, 8: none here
    write_utd_mhad(root, subjects=(1, 3), trials=(1, 2), actions=(1, 2, 3), seed=0, depth_size=(60, 80))
    cfg = config(tmp_path, root)
    fitted = []
    monkeypatch.setattr(Trainer, "fit", lambda self: fitted.append(1))
    with pytest.raises(DataError) as err:
        train_experiment(cfg, tmp_path / "run", evaluate="test", **QUIET)
    assert str(err.value) == (f"{root}: the test split is empty under protocol 'cross_subject' (6 training, 6 "
                              "validation, 0 test recordings): use another protocol (--set "
                              "data.protocol=subject_specific), point data.root at a copy with the protocol's test "
                              "subjects, or pass --evaluate none")
    assert not fitted and not (tmp_path / "run" / "run.json").exists()
    train_experiment(cfg, tmp_path / "run", **QUIET)  # nothing to evaluate afterwards: trains
    assert fitted


def test_warmup_not_shorter_than_the_run_is_reported(tmp_path, synth_utd, monkeypatch):
    monkeypatch.setattr(Trainer, "fit", lambda self: None)
    cfg = config(tmp_path, synth_utd, schedule={"name": "cosine", "warmup_epochs": 3})
    with pytest.warns(DataWarning) as caught:
        train_experiment(cfg, tmp_path / "run", **QUIET)
    assert [str(w.message) for w in caught] == [
        "schedule.warmup_epochs (3) is not shorter than train.epochs (2): the learning rate never reaches optim.lr "
        "(0.003) in this run; lower schedule.warmup_epochs (e.g. --set schedule.warmup_epochs=1) for a full-rate run"]


@pytest.mark.skipif(torch.backends.cuda.is_built(), reason="this torch build has CUDA")
def test_cuda_on_a_cpu_build_says_so_before_training(tmp_path, synth_utd):
    with pytest.raises(ConfigError) as err:
        train_experiment(config(tmp_path, synth_utd, "train.device=cuda"), tmp_path / "run", **QUIET)
    assert str(err.value) == (f"config key 'train.device': 'cuda', but this torch build ({torch.__version__}) has no "
                              "CUDA support: use --set train.device=cpu (or auto), or install a CUDA build of torch")
    assert not (tmp_path / "run").exists()


# ------------------------------------------------------------------ progress of long epochs
class FakeClock:
    """Each reading is ``step`` seconds after the previous one."""

    def __init__(self, step):
        self.now, self.step = 0.0, step

    def __call__(self):
        self.now += self.step
        return self.now


def test_long_epochs_log_a_progress_line_every_interval(tmp_path):
    lines = []
    trainer = make_trainer(tmp_path, epochs=1, clock=FakeClock(4.0), progress_interval=10.0)
    trainer.log = lines.append
    trainer.fit()
    progress = [ln for ln in lines if "batch" in ln]
    # 5 batches, the clock read at the start and after each batch, 4 s apart: 12 s after batch 3 (>= 10 s
    # since the start), then 8 s at the last batch, whose summary line follows anyway
    assert [re.sub(r"loss \S+", "loss L", ln) for ln in progress] == ["epoch 1/1: batch 3/5, loss L (12 s)"]


def test_fast_epochs_log_only_their_summary(tmp_path):
    lines = []
    trainer = make_trainer(tmp_path, epochs=2, clock=FakeClock(0.01))
    trainer.log = lines.append
    trainer.fit()
    assert [ln.split(":")[0] for ln in lines] == ["epoch 1/2", "epoch 2/2"]
