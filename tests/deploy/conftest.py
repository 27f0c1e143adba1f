"""Tiny trained runs on the synthetic dataset for the export / bench / stream tests."""

from __future__ import annotations

import pytest

from harkd.engine.config import load_config
from harkd.engine.experiment import train_experiment
from tinyruns import RAW, train_tiny  # a uniquely named module: conftest module names collide

@pytest.fixture(scope="session")
def tiny_runs(synth_utd, tmp_path_factory):
    """kind -> run directory (trained lazily, once per session)."""
    cache = {}

    def get(kind: str):
        if kind not in cache:
            cache[kind] = train_tiny(synth_utd, tmp_path_factory.mktemp(f"run-{kind}"), kind)
        return cache[kind]

    return get


@pytest.fixture(scope="session")
def trained_raw_run(synth_utd, tmp_path_factory):
    """A raw 1D CNN trained long enough on the synthetic data to be right most of the time."""
    return train_tiny(synth_utd, tmp_path_factory.mktemp("trained-raw"), "raw", epochs=30)


@pytest.fixture(scope="session")
def raw_run(tiny_runs):
    return tiny_runs("raw")


@pytest.fixture(scope="session")
def raw_onnx(raw_run, tmp_path_factory):
    """The raw run exported to ONNX (with its manifest)."""
    from harkd.deploy import export_run

    out = tmp_path_factory.mktemp("onnx") / "raw.onnx"
    export_run(raw_run, "onnx", out, log=lambda m: None)
    return out


@pytest.fixture(scope="session")
def distill_run(synth_utd, raw_run, tmp_path_factory):
    """A KD + FitNet distillation run (skeleton teacher -> imu_cnn1d student)."""
    from harkd.distillation import distill_experiment, load_distill_config

    out = tmp_path_factory.mktemp("distill")
    teacher = train_experiment(load_config(data={
        "name": "teacher", "seed": 0, "output_dir": str(out),
        "data": {"dataset": "utd-mhad", "root": str(synth_utd), "cache": False,
                 "modalities": {"skeleton": {"frames": 16, "center": True, "normalize": True}}},
        "model": {"name": "stgcn", "input": "skeleton", "args": {"widths": [8, 16], "strides": [1, 2]}},
        "optim": {"lr": 3e-3}, "train": {"epochs": 1, "batch_size": 8},
    }), log=lambda m: None, progress=False)
    cfg = load_distill_config(data={
        "name": "student", "seed": 1, "output_dir": str(out),
        "data": {"dataset": "utd-mhad", "root": str(synth_utd), "modalities": {"inertial": RAW}, "cache": False},
        "teachers": [{"run": str(teacher)}],
        "student": {"name": "imu_cnn1d", "input": "inertial", "args": {"widths": [8, 16], "depths": [1, 1]}},
        "losses": [{"name": "ce"}, {"name": "kd", "weight": 0.5, "args": {"temperature": 4}},
                   {"name": "fitnet", "weight": 0.1, "student": "pool", "teacher": "pool"}],
        "optim": {"lr": 3e-3}, "train": {"epochs": 2, "batch_size": 8},
    })
    return distill_experiment(cfg, log=lambda m: None, progress=False)
