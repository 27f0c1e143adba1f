"""Tiny teacher runs on the synthetic UTD-MHAD dataset for the distillation tests (a uniquely named
helper module, not a conftest: several test folders have one)."""

from __future__ import annotations

from harkd.engine.config import load_config
from harkd.engine.experiment import train_experiment


SKELETON = {"frames": 16, "center": True, "normalize": True}
INERTIAL = {"sensor": "acc", "length": 64, "normalize": True}


def skeleton_teacher(root, out):
    """The 2-epoch skeleton ST-GCN teacher most distillation tests use."""
    return train_teacher(root, out, "skeleton", SKELETON,
                         {"name": "stgcn", "args": {"widths": [8, 16], "strides": [1, 2]}}, epochs=2)


def train_teacher(root, out, modality: str, transform: dict, model: dict, epochs: int = 1, name: str = "teacher",
                  data: dict | None = None, **extra):
    """Train ``model`` (``{"name": ..., "args": ...}``) on ``modality`` into ``out``; returns its run directory.

    ``data`` adds keys to the data section (e.g. ``val_subjects``); ``extra`` adds top-level config
    sections (e.g. ``semantic``)."""
    cfg = load_config(data={
        "name": name, "seed": 0, "output_dir": str(out),
        "data": {"dataset": "utd-mhad", "root": str(root), "modalities": {modality: transform}, "cache": False,
                 **(data or {})},
        "model": {**model, "input": modality},
        "optim": {"lr": 3e-3}, "train": {"epochs": epochs, "batch_size": 8}, **extra,
    })
    return train_experiment(cfg, log=lambda m: None)
