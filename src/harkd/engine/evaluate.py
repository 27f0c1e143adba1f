"""Evaluate a run directory on one split (its report figures: :mod:`harkd.engine.figures`, re-exported here)."""

from __future__ import annotations

from pathlib import Path

from torch.utils.data import DataLoader

from harkd.engine.devices import evaluation_device, module_device, resolve_precision  # noqa: F401 (re-exported)
from harkd.engine.runs import load_run
from harkd.engine.figures import plot_confusion, plot_learning_curves, read_metrics, write_figures
from harkd.engine.prepare import SHOWN
from harkd.engine.metrics import classification_report
from harkd.engine.trainer import predict
from harkd.errors import InputError, warn

__all__ = ["evaluate_run", "missing_keys", "plot_confusion", "plot_learning_curves", "read_metrics", "write_figures"]

SPLITS = ("train", "val", "test")


def evaluate_run(run_dir: str | Path, split: str = "test", checkpoint: str = "best", batch_size: int = 64) -> dict:
    """Top-1, macro-F1, per-class accuracy and confusion matrix of ``checkpoint`` on ``split``.

    The split's recordings are run.json's, checked first when that is free (a cache) or
    needed (``data.on_error: skip`` leaves bad ones out). Those evaluated
    when the run was trained but missing or failing now are warned about and counted in
    ``missing_keys``; ``data_root_from`` says whether the data root came from the config
    (``data.root`` / ``$HARKD_DATA_ROOT``) or from run.json.
    """
    if split not in SPLITS:
        raise InputError(f"split must be one of {', '.join(SPLITS)}, got {split!r}")
    if checkpoint not in ("best", "last"):
        raise InputError(f"checkpoint must be 'best' or 'last', got {checkpoint!r}")
    run_dir = Path(run_dir)
    cfg, meta, task, prepared = load_run(run_dir, checkpoint)
    dataset = prepared.datasets[split]
    on_error = cfg.data.on_error
    if on_error == "skip" or dataset.cache is not None:  # else a bad file stops the evaluation pass itself
        dataset.check(on_error)
    missing = missing_keys(meta, split, dataset.keys)
    if missing:
        reasons = dict(dataset.skipped)
        shown = ", ".join(f"{k} ({reasons.get(k, 'not in the dataset')})" for k in missing[:SHOWN])
        more = f" and {len(missing) - SHOWN} more" if len(missing) > SHOWN else ""
        warn(f"{len(missing)} of the {len(missing) + len(dataset)} {split} recordings in {run_dir / 'run.json'} "
             f"are missing now: {shown}{more}; evaluating the {len(dataset)} others")
    if len(dataset) == 0:
        raise InputError(f"split '{split}' of {run_dir} is empty")
    device = module_device(task)
    precision = resolve_precision(cfg.train.precision, device)
    logits, labels, keys = predict(task, DataLoader(dataset, batch_size=batch_size), device, precision)
    report = classification_report(labels, logits.argmax(1), len(prepared.class_names))
    return {
        "run_dir": str(run_dir),
        "split": split,
        "checkpoint": str(run_dir / f"{checkpoint}.pt"),
        "class_names": prepared.class_names,
        "data_root": str(prepared.root),
        "data_root_from": prepared.root_source,
        "selection": meta.get("selection"),
        **report,
        "missing_keys": len(missing),
        "predictions": {k: int(p) for k, p in zip(keys, logits.argmax(1))},
    }


def missing_keys(meta: dict, split: str, present: list[str]) -> list[str]:
    """Keys of ``split`` that the run evaluated when it was trained (run.json's split less its
    ``skipped``) and that are not in ``present`` now."""
    then_skipped = {entry[0] for entry in (meta.get("skipped") or {}).get(split, [])}
    now = set(present)
    return [k for k in (meta.get("split") or {}).get(split, []) if k not in then_skipped and k not in now]
