"""Evaluate a run directory on one split and draw its report figures."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
from torch.utils.data import DataLoader

from harkd.engine.devices import evaluation_device, module_device, resolve_precision  # noqa: F401 (re-exported)
from harkd.engine.experiment import load_run
from harkd.engine.prepare import SHOWN
from harkd.engine.metrics import classification_report
from harkd.engine.trainer import predict, read_metrics_file
from harkd.errors import InputError, MissingDependencyError, warn

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


def write_figures(result: dict, run_dir: str | Path) -> tuple[list[str], list[str]]:
    """Write ``confusion_<split>.png`` and ``learning_curves.png`` into ``run_dir``.

    Returns (written paths, one warning line per figure that could not be written)."""
    run_dir = Path(run_dir)
    jobs = [(run_dir / f"confusion_{result['split']}.png", lambda out: plot_confusion(result, out))]
    records = read_metrics(run_dir)
    if records:
        jobs.append((run_dir / "learning_curves.png", lambda out: plot_learning_curves(records, out)))
    written, failed = [], []
    for out, draw in jobs:
        try:
            written.append(str(draw(out)))
        except OSError as err:
            failed.append(f"could not write {out}: {err.strerror or err} (the results are complete; "
                          "--no-plots skips the figures)")
    return written, failed


def read_metrics(run_dir: str | Path) -> list[dict]:
    path = Path(run_dir) / "metrics.jsonl"
    if not path.is_file():
        return []
    return read_metrics_file(path)


def _pyplot():
    try:
        import matplotlib

        matplotlib.use("Agg")
        import matplotlib.pyplot as plt
    except ImportError:
        raise MissingDependencyError("matplotlib", "plot", "report figures") from None
    return plt


def plot_confusion(result: dict, out: str | Path) -> Path:
    """Row-normalised confusion matrix with class names."""
    plt = _pyplot()
    cm = np.asarray(result["confusion_matrix"], dtype=np.float64)
    rows = cm / np.maximum(cm.sum(axis=1, keepdims=True), 1)
    names = result["class_names"]
    size = max(6.0, 0.32 * len(names) + 3)
    fig, ax = plt.subplots(figsize=(size + 1.5, size))
    image = ax.imshow(rows, cmap="Blues", vmin=0, vmax=1)
    ax.set_xticks(range(len(names)), names, rotation=90, fontsize=7)
    ax.set_yticks(range(len(names)), names, fontsize=7)
    ax.set_xlabel("predicted")
    ax.set_ylabel("true")
    ax.set_title(f"{result['split']} accuracy {result['accuracy']:.3f}, macro-F1 {result['macro_f1']:.3f}")
    for i, j in zip(*np.nonzero(cm)):
        ax.text(j, i, int(cm[i, j]), ha="center", va="center", fontsize=6,
                color="white" if rows[i, j] > 0.5 else "black")
    fig.colorbar(image, ax=ax, fraction=0.046, pad=0.04)
    return _save_figure(plt, fig, out)


def _save_figure(plt, fig, out: str | Path) -> Path:
    """Lay out, write (120 dpi) and close ``fig``."""
    fig.tight_layout()
    try:
        fig.savefig(out, dpi=120)
    finally:
        plt.close(fig)
    return Path(out)


def plot_learning_curves(records: list[dict], out: str | Path) -> Path:
    """Loss and accuracy per epoch (train and validation) from ``metrics.jsonl`` records."""
    plt = _pyplot()
    epochs = [r["epoch"] for r in records]
    fig, (left, right) = plt.subplots(1, 2, figsize=(10, 4))
    for key, style in (("train_loss", "-"), ("val_loss", "--")):
        if any(key in r for r in records):
            left.plot(epochs, [r.get(key, np.nan) for r in records], style, label=key)
    for key in ("val_accuracy", "val_macro_f1"):
        if any(key in r for r in records):
            right.plot(epochs, [r.get(key, np.nan) for r in records], label=key)
    left.set(xlabel="epoch", ylabel="loss", title="loss")
    right.set(xlabel="epoch", ylabel="score", title="validation", ylim=(0, 1))
    for ax in (left, right):
        ax.grid(alpha=0.3)
        ax.legend()
    return _save_figure(plt, fig, out)
