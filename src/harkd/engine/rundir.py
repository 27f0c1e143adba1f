"""Checks of a run directory and its data, before and while a run trains into it.

Each refusal is one :class:`~harkd.errors.DataError` or :class:`~harkd.errors.ConfigError`
naming the directory (or data root), what is wrong and what to do, raised before the work it
would spoil: the directory is probed before the data are read, the free space and the splits
checked before the first epoch.
"""

from __future__ import annotations

import errno
import json
import os
import shutil
import sys
import tempfile
from pathlib import Path
from typing import Callable

import numpy as np
import torch
import yaml

from harkd.engine.config import OptimConfig
from harkd.errors import ConfigError, DataError

__all__ = ["check_run_dir", "check_free_space", "check_splits", "record_epochs_change"]


def _os_hint(err: OSError) -> str:
    return {errno.ENOSPC: "the disk is full: free some space or choose another --run-dir",
            errno.EDQUOT: "the disk quota is exceeded: free some space or choose another --run-dir",
            errno.ENOTDIR: "a parent of it is a file: choose another --run-dir"}.get(
        err.errno, "choose a writable --run-dir (or fix its permissions)")


_META_TYPES = {"kind": (str, "a string"), "seed": (int, "an integer"), "data_root": (str, "a string"),
               "class_names": (list, "a list"), "split": (dict, "an object"), "skipped": (dict, "an object"),
               "normalization": (dict, "an object")}


def jsonable(obj):
    """``json.dumps``' ``default`` for run files: arrays and numpy scalars as lists and numbers, paths as text."""
    if isinstance(obj, np.ndarray):
        return obj.tolist()
    if isinstance(obj, (np.floating, np.integer)):
        return obj.item()
    if isinstance(obj, Path):
        return str(obj)
    raise TypeError(f"cannot serialise {type(obj).__name__}")


def write_run_meta(run_dir: str | Path, meta: dict) -> None:
    """Write ``meta`` as ``run_dir``'s run.json (the form :func:`read_run_meta` reads)."""
    (Path(run_dir) / "run.json").write_text(json.dumps(meta, indent=1, default=jsonable))


def read_run_meta(run_dir: str | Path) -> dict:
    """A run directory's run.json; one DataError naming it when it is missing, not JSON or not shaped as harkd writes it."""
    path = Path(run_dir) / "run.json"
    if not path.is_file():
        raise DataError(path, "not found: is this a harkd run directory?")
    try:
        meta = json.loads(path.read_text())
    except (UnicodeDecodeError, ValueError) as err:
        raise DataError(path, f"not valid JSON ({err}): the run directory is damaged; train it again "
                              "into a new --run-dir") from None
    if not isinstance(meta, dict):
        raise DataError(path, f"expected a JSON object, got {type(meta).__name__}: the run directory is damaged")
    missing = [key for key in ("class_names", "normalization") if key not in meta]
    if missing:
        raise DataError(path, f"no {' or '.join(repr(k) for k in missing)} (every harkd run writes them): "
                              "the run directory is damaged; train it again into a new --run-dir")
    for key, (kind, name) in _META_TYPES.items():
        value = meta.get(key)
        if value is not None and (not isinstance(value, kind) or isinstance(value, bool)):
            raise DataError(path, f"'{key}' must be {name}, got {json.dumps(value)[:60]}: the run directory is damaged")
    for split, keys in (meta.get("split") or {}).items():
        if not isinstance(keys, list) or not all(isinstance(k, str) for k in keys):
            raise DataError(path, f"'split.{split}' must be a list of recording keys, got {json.dumps(keys)[:60]}: "
                                  "the run directory is damaged")
    return meta


def check_run_dir(run_dir: Path) -> None:
    """Before any training work: a DataError when ``run_dir`` is a file or cannot be written (probed)."""
    if run_dir.exists() and not run_dir.is_dir():
        raise DataError(run_dir, "is a file, not a run directory: choose another --run-dir (or move the file away)")
    try:
        run_dir.mkdir(parents=True, exist_ok=True)
        with tempfile.TemporaryFile(dir=run_dir, prefix=".write-probe") as probe:
            probe.write(b"\0" * 4096)
            probe.flush()
            os.fsync(probe.fileno())
    except OSError as err:
        raise DataError(run_dir, f"cannot write into the run directory ({err.strerror or err}): {_os_hint(err)}") from None


def _checkpoint_bytes(task: torch.nn.Module, optim: OptimConfig) -> int:
    """About the size of one checkpoint: the task's tensors plus the optimiser's per-parameter state."""
    weights = sum(t.numel() * t.element_size() for t in task.state_dict().values() if torch.is_tensor(t))
    trainable = sum(p.numel() * p.element_size() for p in task.parameters() if p.requires_grad)
    moments = 2 if optim.name in ("adam", "adamw") else int(optim.momentum > 0)
    return weights + moments * trainable


def check_free_space(run_dir: Path, task: torch.nn.Module, optim: OptimConfig) -> None:
    """Refuse to start when the disk cannot hold last.pt, best.pt and the temporary file of one update."""
    size = _checkpoint_bytes(task, optim)
    present = sum(p.stat().st_size for p in (run_dir / "last.pt", run_dir / "best.pt") if p.is_file())
    need, free = 3 * size - present, shutil.disk_usage(run_dir).free
    if need > free:
        mb = lambda n: f"{n / 2**20:.1f} MB"  # noqa: E731
        raise DataError(run_dir, f"not enough free disk space for the checkpoints: each is about {mb(size)} and "
                                 f"the run needs {mb(need)} more, but {mb(free)} are free; free some space or "
                                 "choose another --run-dir")


SPLIT_NAMES = {"train": "training", "val": "validation", "test": "test"}


def check_splits(prepared, protocol: str, evaluate: str | None = None) -> None:
    """Before training: a DataError when the training split is empty, or the split to be evaluated
    afterwards (``evaluate``: val or test) is; the message names the protocol and what to change."""
    counts = {name: len(ds) for name, ds in prepared.datasets.items()}
    others = [p for p in getattr(prepared.spec, "protocols", {}) if p != protocol]
    switch = f"use another protocol (--set data.protocol={others[0]})" if others else "use another protocol"
    advice = {
        "train": f"{switch} or point data.root at a fuller copy of the dataset",
        "test": f"{switch}, point data.root at a copy with the protocol's test subjects, or pass --evaluate none",
        "val": "set data.val_fraction > 0 (or data.val_subjects), or pass --evaluate none",
    }
    for name in ["train"] + ([evaluate] if evaluate in ("val", "test") else []):
        if counts[name] == 0:
            found = ", ".join(f"{counts[k]} {SPLIT_NAMES[k]}" for k in ("train", "val", "test"))
            raise DataError(prepared.root, f"the {SPLIT_NAMES[name]} split is empty under protocol '{protocol}' "
                                           f"({found} recordings): {advice[name]}")


def record_epochs_change(run_dir: Path, epochs: int, done: int, log: Callable[[str], None]) -> None:
    """A changed ``train.epochs`` on a resumed run (constant or step schedule): refuse to shorten it
    below the epochs already trained; else record the new value in config.yaml and the change in run.json."""
    config_path = run_dir / "config.yaml"
    saved = yaml.safe_load(config_path.read_text())
    old = saved["train"].get("epochs")
    if old == epochs:
        return
    if done > epochs:
        raise ConfigError(f"{run_dir} has already trained {done} epochs (train.epochs={old}); train.epochs={epochs} "
                          "cannot shorten it: evaluate it as it is, or train a new run (another --run-dir)")
    saved["train"]["epochs"] = epochs
    meta = read_run_meta(run_dir)
    meta.setdefault("epochs_changed", []).append({"from": old, "to": epochs, "after_epoch": done,
                                                  "command": " ".join(sys.argv)})
    config_path.write_text(yaml.safe_dump(saved, sort_keys=False))
    write_run_meta(run_dir, meta)
    log(f"train.epochs changed from {old} to {epochs} after epoch {done} (the {saved['schedule']['name']} "
        "schedule continues unchanged); recorded in config.yaml and run.json")
