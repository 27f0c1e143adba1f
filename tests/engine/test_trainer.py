import json
import socket
import subprocess
import sys
from pathlib import Path

import pytest
import torch

SCRIPT = Path(__file__).with_name("train_tiny.py")


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def run(run_dir, epochs, *extra):
    """Run train_tiny.py in a fresh interpreter."""
    proc = subprocess.run([sys.executable, str(SCRIPT), str(run_dir), str(epochs), *extra],
                          capture_output=True, text=True, timeout=300)
    return proc


def final(proc):
    assert proc.returncode == 0, proc.stderr
    return json.loads(proc.stdout.strip().splitlines()[-1])


@pytest.mark.parametrize("workers", [0, 2])
def test_sigkill_mid_epoch_then_resume_matches_uninterrupted(tmp_path, workers):
    w = ["--workers", str(workers)]
    reference = final(run(tmp_path / "ref", 4, *w))
    # 61 samples / batch 8 -> 8 batches per epoch; call 19 is inside epoch 3
    killed = run(tmp_path / "killed", 4, "--kill-at-call", "19", *w)
    assert killed.returncode == -9
    ckpt = torch.load(tmp_path / "killed" / "last.pt", weights_only=False)
    assert ckpt["state"]["epoch"] == 2
    resumed = final(run(tmp_path / "killed", 4, *w))
    assert resumed["weights"] == pytest.approx(reference["weights"], abs=0, rel=0)
    assert resumed["record"] == {**reference["record"], "seconds": resumed["record"]["seconds"]}
    lines = [json.loads(l) for l in (tmp_path / "killed" / "metrics.jsonl").read_text().splitlines()]
    assert [l["epoch"] for l in lines] == [1, 2, 3, 4]


def test_best_checkpoint_follows_validation_and_lr_steps_per_epoch(tmp_path):
    final(run(tmp_path / "r", 4))
    lines = [json.loads(l) for l in (tmp_path / "r" / "metrics.jsonl").read_text().splitlines()]
    assert [l["lr"] for l in lines] == pytest.approx([0.1, 0.1, 0.05, 0.05])
    best = torch.load(tmp_path / "r" / "best.pt", weights_only=False)
    best_epoch = max(lines, key=lambda l: (l["val_accuracy"], -l["val_loss"]))["epoch"]  # ties: lower loss
    assert best["state"]["best_epoch"] == best_epoch
    assert best["state"]["best_value"] == pytest.approx(max(l["val_accuracy"] for l in lines))
    assert all({"train_loss", "val_loss", "val_accuracy", "val_macro_f1", "seconds"} <= set(l) for l in lines)


def test_two_process_ddp_matches_single_process(tmp_path):
    """torchrun with 2 gloo CPU processes: same weights and metrics as one process.

    Dropout and augmentation draw per-process random numbers, so they are off here."""
    args = ["4", "--dropout", "0", "--jitter", "0", "--train-size", "64"]
    single = final(run(tmp_path / "single", *args))
    def torchrun(out: Path):
        cmd = [sys.executable, "-m", "torch.distributed.run", "--nproc_per_node", "2", "--master_port",
               str(free_port()), str(SCRIPT), str(out), *args]
        return subprocess.run(cmd, capture_output=True, text=True, timeout=300)

    proc = torchrun(tmp_path / "ddp")
    if proc.returncode != 0 and proc.stderr.startswith("terminate called without an active exception"):
        # seen on a loaded 2-core machine (2026-12-05): one gloo rank aborted (SIGABRT, a C++ thread destroyed
        # while joinable) and nothing was written; cause not yet found. One fresh try, checked the same way
        proc = torchrun(tmp_path / "ddp_again")
    ddp = final(proc)
    assert ddp["weights"] == pytest.approx(single["weights"], rel=1e-4, abs=1e-5)
    assert ddp["record"]["train_loss"] == pytest.approx(single["record"]["train_loss"], rel=1e-4)
    assert ddp["record"]["val_accuracy"] == single["record"]["val_accuracy"]


def test_tensorboard_mirror_when_installed(tmp_path):
    pytest.importorskip("tensorboard", reason="the optional [tensorboard] extra is not installed")
    from tensorboard.backend.event_processing.event_accumulator import EventAccumulator

    final(run(tmp_path / "tb", 2))
    events = EventAccumulator(str(tmp_path / "tb" / "tensorboard"))
    events.Reload()
    assert {"train/loss", "val/accuracy", "lr"} <= set(events.Tags()["scalars"])
    assert [e.step for e in events.Scalars("val/accuracy")] == [1, 2]
