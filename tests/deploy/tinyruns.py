"""Tiny trained runs on the synthetic dataset (shared by the export tests and their fixtures)."""

from __future__ import annotations

from harkd.engine.config import load_config
from harkd.engine.experiment import train_experiment

RAW = {"sensor": "acc", "length": 64, "normalize": True}
GAF = {"sensor": "acc", "length": 32, "augment": {"rotate": 10, "scale": 0.1},
       "gaf": {"image_size": 16, "method": "both"}}  # GASF + GADF channels; augmentation is training-only
GAF_DATASET = {"sensor": "all", "length": 32, "normalize": True,
               "gaf": {"image_size": 16, "method": "difference", "scaling": "dataset"}}
MODELS = {
    "raw": ("imu_cnn1d", RAW, {"widths": [8, 16], "depths": [1, 1]}),
    "centered": ("imu_cnn1d", {**RAW, "remove_mean": True}, {"widths": [8, 16], "depths": [1, 1]}),
    "gaf": ("gaf_resnet18", GAF, {"width": 8, "depths": [1, 1], "stem": "small"}),
    "gafds": ("gaf_resnet18", GAF_DATASET, {"width": 8, "depths": [1, 1], "stem": "small"}),
}


def train_tiny(root, out, kind: str, epochs: int = 2, seed: int = 0, **train):
    model, inertial, args = MODELS[kind]
    cfg = load_config(data={
        "name": f"tiny_{kind}", "seed": seed, "output_dir": str(out),
        # the per-class carve: "auto" would hold out one of the two synthetic training subjects, and these runs
        # are trained to be right most of the time (the int8 check calibrates and compares on their validation split)
        "data": {"dataset": "utd-mhad", "root": str(root), "modalities": {"inertial": inertial}, "cache": False,
                 "val_subjects": None},
        "model": {"name": model, "input": "inertial", "args": args},
        "optim": {"name": "adam", "lr": 5e-3}, "train": {"epochs": epochs, "batch_size": 8, **train},
    })
    return train_experiment(cfg, log=lambda m: None, progress=False)
