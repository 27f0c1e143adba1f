"""A run directory's life: its lock, its metadata, the checks before resuming it, its refit stage.

A run directory holds everything needed to reproduce or evaluate the run:
``config.yaml`` (resolved), ``run.json`` (seed, harkd/torch version, git hash, command,
class names, split keys, training-split normalisation statistics), ``metrics.jsonl``,
``last.pt`` and ``best.pt``.
"""

from __future__ import annotations

import contextlib
import copy
import fcntl
import hashlib
import json
import os
import platform
import subprocess
import sys
import uuid
from pathlib import Path
from typing import Any

import torch
import yaml

from harkd._version import __version__
from harkd.engine.config import DataConfig, load_config, read_saved_config
from harkd.engine.rundir import jsonable, read_run_meta, write_run_meta
from harkd.errors import ConfigError, DataError

__all__ = ["default_run_dir", "run_dir_lock", "write_metadata", "write_task_reports", "check_same_experiment", "check_resumed_selection",
           "selected_on_test", "saved_validation", "validation_line", "refit_config", "refit_epochs",
           "run_data_root", "git_hash", "SELECTION_VALIDATION", "SELECTION_TEST", "AS_PUBLISHED",
           "SELECT_ON_TEST_SUFFIX", "REFIT_DIR", "NO_VALIDATION_FOR_REFIT", "HARMLESS_KEYS", "run_identity",
           "record_device"]

#: run.json ``selection`` of a run selected on validation, and of one trained with ``--select-on-test``
SELECTION_VALIDATION = "validation (best.pt is chosen on the validation split; the test split only reports)"
SELECTION_TEST = "test (as published: the checkpoint is chosen on the test split; not an unbiased estimate)"
#: the marker every output of a ``--select-on-test`` run carries
AS_PUBLISHED = "[as published: selected on test]"
#: default run directory suffix of a ``--select-on-test`` run
SELECT_ON_TEST_SUFFIX = "_select-on-test"
REFIT_DIR = "refit"
NO_VALIDATION_FOR_REFIT = ("train.refit: best takes the refit's epochs from the best validation epoch, but this run "
                           "has no validation split: set data.val_subjects auto (or a list of training subjects, or "
                           "data.val_fraction > 0), or use train.refit: last")


def git_hash(path: Path | None = None) -> str | None:
    """The source tree's commit (with ``-dirty`` when modified), or None outside git."""
    where = path or Path(__file__).resolve().parents[1]
    try:
        out = subprocess.run(["git", "describe", "--always", "--dirty", "--abbrev=12"], cwd=where,
                             capture_output=True, text=True, timeout=5)
    except (OSError, subprocess.TimeoutExpired):
        return None
    return out.stdout.strip() or None if out.returncode == 0 else None


@contextlib.contextmanager
def run_dir_lock(run_dir: Path, active: bool = True):
    """Hold an exclusive lock on ``run_dir`` (its ``.lock`` file) while a process trains into it.

    A second process on the same directory would resume from the same checkpoint and write
    the same epochs again; it gets a DataError instead. The OS releases the lock when the
    holder exits, even when it is killed, so a killed run resumes normally.
    """
    if not active:
        yield
        return
    run_dir.mkdir(parents=True, exist_ok=True)
    with open(run_dir / ".lock", "a+") as handle:
        try:
            fcntl.flock(handle, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except OSError:
            handle.seek(0)
            holder = handle.read().strip() or "?"
            raise DataError(run_dir, f"another harkd process (pid {holder}) is training into this run directory; "
                                     "wait for it to finish or choose another --run-dir") from None
        handle.seek(0)
        handle.truncate()
        handle.write(str(os.getpid()))
        handle.flush()
        try:
            yield
        finally:
            fcntl.flock(handle, fcntl.LOCK_UN)


def default_run_dir(cfg, select_on: str = "val") -> Path:
    """``output_dir/name``, with the ``--select-on-test`` suffix when the run selects on the test split."""
    return Path(cfg.output_dir) / (cfg.name + (SELECT_ON_TEST_SUFFIX if select_on == "test" else ""))


def selected_on_test(meta: dict) -> bool:
    """Whether a run's run.json says its checkpoint was chosen on the test split (``--select-on-test``)."""
    return str(meta.get("selection", "")).startswith("test")


def write_metadata(run_dir: Path, cfg, prepared, kind: str, select_on: str = "val") -> None:
    """A fresh run's config.yaml (resolved) and run.json (with a new ``run_id``)."""
    run_dir.mkdir(parents=True, exist_ok=True)
    (run_dir / "config.yaml").write_text(yaml.safe_dump(cfg.to_dict(), sort_keys=False))
    meta = {
        "kind": kind,
        "run_id": uuid.uuid4().hex,
        "harkd_version": __version__,
        "git": git_hash(),
        "torch_version": torch.__version__,
        "python": platform.python_version(),
        "command": " ".join(sys.argv),
        "seed": cfg.seed,
        "selection": SELECTION_TEST if select_on == "test" else SELECTION_VALIDATION,
        "data_root": str(Path(prepared.root).resolve()),
        "class_names": prepared.class_names,
        "split": prepared.split.to_dict(),
        "validation": prepared.split.validation.to_dict() if prepared.split.validation else None,
        "skipped": {name: ds.skipped for name, ds in prepared.datasets.items()},
        "normalization": prepared.datasets["train"].normalization_state(),
    }
    write_run_meta(run_dir, meta)


def record_device(run_dir: Path, device, precision: str) -> None:
    """run.json's ``device`` and ``precision``: what this session of the run actually trains on (a resumed run
    appends its session to ``devices`` when it moved, e.g. from a GPU to the CPU)."""
    from harkd.engine.devices import describe_device

    meta = read_run_meta(run_dir)
    now = {"device": describe_device(device), "precision": precision}
    history = meta.setdefault("devices", [])
    if not history or history[-1] != now:
        history.append(now)
    meta.update(now)
    write_run_meta(run_dir, meta)


def write_task_reports(run_dir: Path, task) -> None:
    """Write the reports a task describes itself with (``task.reports``: file name -> function
    returning JSON, e.g. a distillation's ``teachers.json``), once per run directory."""
    for name, make in getattr(task, "reports", {}).items():
        path = Path(run_dir) / name
        if not path.exists():
            path.write_text(json.dumps(make(), indent=1, default=jsonable))


def check_resumed_selection(run_dir: Path, saved: dict, select_on: str) -> None:
    """A resumed run keeps the split its checkpoint is selected on (validation, or test as published)."""
    if selected_on_test(saved) != (select_on == "test"):
        was, now = ("test", "validation") if selected_on_test(saved) else ("validation", "test")
        raise ConfigError(f"{run_dir} selects its checkpoint on the {was} split; resuming it with selection on "
                          f"the {now} split would mix both: " + ("pass --select-on-test again" if was == "test"
                                                                  else "drop --select-on-test")
                          + " or choose another --run-dir")


def saved_validation(run_dir: Path):
    """The :class:`~harkd.data.protocols.Validation` recorded in ``run_dir``'s run.json (None before 0.5)."""
    from harkd.data.protocols import Validation

    saved = read_run_meta(run_dir).get("validation") if (run_dir / "run.json").is_file() else None
    return Validation(saved["rule"], tuple(saved.get("subjects", ())), saved.get("how", "")) if saved else None


def validation_line(validation) -> str:
    return validation.how if validation else "as saved in run.json's split (recorded before validation rules were)"


#: Config keys a resumed run may change (where and how it runs, not what it learns) and that a checkpoint's
#: identity leaves out; ``train.epochs`` has its own rules (:func:`check_same_experiment`).
HARMLESS_KEYS = ("train.epochs", "data.num_workers", "train.device", "output_dir", "train.refit",
                 "train.tensorboard", "train.log_every", "data.resident")


def run_identity(run_dir: Path) -> dict:
    """What identifies the run in ``run_dir``: run.json's ``run_id`` (drawn when it started), the config's
    name and seed, and a hash of its config.yaml as written (less :data:`HARMLESS_KEYS`). Every checkpoint
    records it; resume, evaluate and export refuse a checkpoint of another run."""
    saved = yaml.safe_load((run_dir / "config.yaml").read_text()) or {}
    kept = copy.deepcopy(saved)
    for dotted in HARMLESS_KEYS:
        *parents, leaf = dotted.split(".")
        node = kept
        for part in parents:
            node = node.get(part) if isinstance(node, dict) else None
        if isinstance(node, dict):
            node.pop(leaf, None)
    digest = hashlib.sha256(json.dumps(kept, sort_keys=True, default=str).encode()).hexdigest()[:16]
    meta = read_run_meta(run_dir) if (run_dir / "run.json").is_file() else {}
    identity = {"name": saved.get("name"), "seed": saved.get("seed"), "config_hash": digest}
    if meta.get("run_id"):
        identity["run_id"] = meta["run_id"]
    return identity


def check_same_experiment(run_dir: Path, cfg) -> None:
    """Refuse to resume a run directory that was trained with a different configuration.

    The saved config is read through the current schema first, so a key added to harkd since
    the run was written (at its default) is not a change. ``train.epochs`` may change unless the
    schedule is cosine: its curve is laid out over the epochs, so a longer (or shorter) cosine run
    resumed from a started one would be neither the old run nor a run of the new length.
    """
    saved = read_saved_config(run_dir / "config.yaml")
    try:
        saved = yaml.safe_load(yaml.safe_dump(load_config(data=saved, schema=type(cfg)).to_dict()))
    except ConfigError:
        pass  # compare the raw file: the diff names what no longer matches
    current = yaml.safe_load(yaml.safe_dump(cfg.to_dict()))
    changed = sorted(_diff_keys(saved, current))
    if set(changed) - set(HARMLESS_KEYS):
        raise ConfigError(f"{run_dir} was trained with a different config (changed: {', '.join(changed)}); "
                          "use another --run-dir or restore the original values")
    old = (saved.get("train") or {}).get("epochs")
    if "train.epochs" in changed and cfg.schedule.name == "cosine":
        raise ConfigError(f"{run_dir} was trained with train.epochs={old} and a cosine schedule laid out over "
                          f"{old} epochs; resuming it with train.epochs={cfg.train.epochs} would not give a "
                          f"{cfg.train.epochs}-epoch cosine run: train a new run (another --run-dir) with "
                          f"train.epochs={cfg.train.epochs}, or keep train.epochs={old} to resume this one")


def _diff_keys(a: Any, b: Any, prefix: str = "") -> set[str]:
    if isinstance(a, dict) and isinstance(b, dict):
        out: set[str] = set()
        for key in set(a) | set(b):
            out |= _diff_keys(a.get(key), b.get(key), f"{prefix}{key}.")
        return out
    return set() if a == b else {prefix.rstrip(".")}


def refit_config(cfg, epochs: int):
    """``cfg`` for the refit stage: every training-side recording trains (``data.val_subjects: null``,
    ``data.val_fraction: 0``), ``epochs`` epochs, the warm-up clipped below them, no further refit."""
    cfg = copy.deepcopy(cfg)
    cfg.train.refit = None
    cfg.train.epochs = epochs
    cfg.schedule.warmup_epochs = min(cfg.schedule.warmup_epochs, epochs - 1)
    cfg.data.val_subjects = None
    cfg.data.val_fraction = 0.0
    return cfg


def refit_epochs(cfg, run_dir: Path) -> int:
    """Stage 2's epochs: stage 1's best validation epoch (``train.refit: best``) or ``train.epochs`` (``last``)."""
    from harkd.engine.trainer import read_metrics_file

    if cfg.train.refit == "last":
        return cfg.train.epochs
    lines = read_metrics_file(run_dir / "metrics.jsonl")
    best = lines[-1].get("best_epoch", -1) if lines else -1
    if best < 1:
        raise ConfigError(NO_VALIDATION_FOR_REFIT)
    return best


def run_data_root(data: DataConfig, meta: dict, run_dir: Path) -> tuple[Path, str]:
    """The data root of a saved run and where it came from: ``data.root`` or ``$HARKD_DATA_ROOT``
    when set (``"config"``), else run.json's ``data_root``, the root it was trained on (``"run.json"``)."""
    from harkd.engine.config import DATA_ROOT_ENV

    if data.root or os.environ.get(DATA_ROOT_ENV) or not meta.get("data_root"):
        return data.resolved_root(), "config"
    saved = Path(meta["data_root"])
    if not saved.is_dir():
        raise ConfigError(f"{run_dir}: data.root is not set, {DATA_ROOT_ENV} is not defined and the data root "
                          f"recorded in run.json ({saved}) is not a directory: set {DATA_ROOT_ENV} to the folder "
                          f"holding the dataset, or set data.root in {run_dir / 'config.yaml'}")
    return saved, "run.json"
