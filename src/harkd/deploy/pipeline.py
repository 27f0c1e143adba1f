"""The deployable graph: raw sensor window -> resampling -> normalisation -> (GAF) -> model -> softmax.

Training clips are resampled over the *whole clip* to ``length`` samples
(:func:`harkd.data.transforms.resample_time`: linear interpolation at
``linspace(0, T - 1, length)``). A deployed model sees a fixed window of ``W`` raw samples
instead (by default the median training-clip length, so a window spans about one
action) and resamples it to ``length`` inside the graph with the *same* interpolation:
output sample ``j`` is ``(1 - w_j) x[lo_j] + w_j x[lo_j + 1]`` at ``j (W - 1) / (length - 1)``
(:func:`interpolation_taps`). In the graph that is one ``Resize`` node (linear,
``align_corners``) with constant scales: no index tables, which matter for a model of tens
of kilobytes, and no shape arithmetic, which costs as much as a convolution at batch 1.
Normalisation with the training statistics is one ``BatchNormalization`` node (mean, variance
``std**2``, epsilon 0): at batch 1 every node costs a few microseconds, whatever its size.
With ``W`` fixed, the graph has no data-dependent shapes and exports to TorchScript and
ONNX with a dynamic batch axis.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any, Optional

import numpy as np
import torch
from torch import nn

from harkd.data.manifest import dataset_of
from harkd.errors import ConfigError, InputError

__all__ = ["interpolation_matrix", "interpolation_taps", "DeployablePipeline", "PipelineSpec", "SENSOR_CHANNELS",
           "pipeline_spec"]

#: sensor option -> (channel names, units, columns of the 6-column inertial layout)
SENSOR_CHANNELS = {
    "acc": (["acc_x", "acc_y", "acc_z"], ["g"] * 3, [0, 1, 2]),
    "gyro": (["gyro_x", "gyro_y", "gyro_z"], ["deg/s"] * 3, [3, 4, 5]),
    "all": (["acc_x", "acc_y", "acc_z", "gyro_x", "gyro_y", "gyro_z"], ["g"] * 3 + ["deg/s"] * 3, [0, 1, 2, 3, 4, 5]),
}


def check_window(window: int) -> None:
    """Linear interpolation needs two samples to interpolate between."""
    if window < 2:
        raise InputError(f"the window must hold at least 2 samples, got {window}")


def interpolation_taps(window: int, length: int) -> tuple[np.ndarray, np.ndarray]:
    """``(lo, w)``: int64 indices and float32 weights with
    ``resample_time(x, length)[j] == (1 - w[j]) * x[lo[j]] + w[j] * x[lo[j] + 1]``."""
    check_window(window)
    pos = np.linspace(0.0, window - 1, length)
    lo = np.minimum(np.floor(pos).astype(np.int64), window - 2)
    return lo, (pos - lo).astype(np.float32)


def interpolation_matrix(window: int, length: int) -> np.ndarray:
    """``(window, length)`` float32 matrix ``M`` with ``x @ M == resample_time(x.T, length).T``
    (the taps of :func:`interpolation_taps` as a dense matrix; the streaming predictor uses it)."""
    lo, w = interpolation_taps(window, length)
    m = np.zeros((window, length), dtype=np.float32)
    cols = np.arange(length)
    m[lo, cols] += 1 - w
    m[lo + 1, cols] += w
    return m


class DeployablePipeline(nn.Module):
    """``(batch, channels, window)`` raw sensor values -> ``(batch, classes)`` probabilities."""

    def __init__(self, model: nn.Module, window: int, length: Optional[int], mean=None, std=None,
                 gaf: Optional[nn.Module] = None, remove_mean: bool = False):
        super().__init__()
        self.remove_mean = bool(remove_mean)
        self.model = model
        self.window = int(window)
        self.resampling = length is not None
        if self.resampling:
            check_window(self.window)
        # interpolate's output size is floor(window * scale): half a sample of margin makes it
        # ``length`` whatever the rounding; with align_corners the positions come from the sizes alone
        self.scale = (length + 0.5) / self.window if self.resampling else 1.0
        self.normalizing = mean is not None
        if self.normalizing:
            self.register_buffer("mean", torch.as_tensor(np.asarray(mean, dtype=np.float32)))
            self.register_buffer("var", torch.as_tensor(np.asarray(std, dtype=np.float32)) ** 2)
        self.gaf = gaf

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        if self.resampling:
            x = nn.functional.interpolate(x, scale_factor=self.scale, mode="linear", align_corners=True)
        if self.remove_mean:
            x = x - x.mean(dim=-1, keepdim=True)
        if self.normalizing:
            x = nn.functional.batch_norm(x, self.mean, self.var, training=False, eps=0.0)
        if self.gaf is not None:
            x = self.gaf(x)
        return torch.softmax(self.model(x), dim=-1)


@dataclass
class PipelineSpec:
    """What the deployed graph expects and does (the manifest is written from it)."""

    model_name: str
    model_args: dict
    modality: str
    sensor: str
    channels: list
    units: list
    columns: list
    sampling_rate_hz: float
    window_samples: int
    length: Optional[int]
    normalization: Optional[dict]
    gaf: Optional[dict]
    class_names: list
    remove_mean: bool = False
    extra: dict = field(default_factory=dict)

    @property
    def window_seconds(self) -> float:
        return self.window_samples / self.sampling_rate_hz


def pipeline_spec(cfg, meta: dict, model_cfg, window_samples: int, rate: float | None = None) -> PipelineSpec:
    """Read the deployed input pipeline of ``model_cfg`` (the run plan's deployable model) off a run's
    config and metadata."""
    modality = model_cfg.input
    if not isinstance(modality, str):
        raise ConfigError(f"export supports single-input models; {model_cfg.name} reads {modality}")
    options = dict(cfg.data.modalities.get(modality) or {})
    dataset = dataset_of(cfg.data)  # the dataset owns its rates and channels
    if (dataset.modality(modality).transform or modality) != "inertial":
        raise ConfigError(f"export supports inertial-sensor models; this run's model reads '{modality}'")
    sensor = options.get("sensor", "all")
    channels, units, columns = dataset.channels(modality, sensor, options.get("load")) or SENSOR_CHANNELS[sensor]
    if rate is None:
        rate = dataset.sampling_rate(modality, options.get("load"))
        if rate is None:
            raise ConfigError(f"no known sampling rate for {cfg.data.dataset} {modality}: pass --rate HZ")
    stats = (meta.get("normalization") or {}).get(modality) or {}
    normalization = None
    if options.get("normalize"):
        normalization = {"mean": [float(v) for v in stats["mean"]], "std": [float(v) for v in stats["std"]]}
    gaf = None
    if options.get("gaf") is not None:
        gaf = {"method": "summation", "convention": "standard", "scaling": "per_sample", **dict(options["gaf"])}
        if gaf["scaling"] == "dataset":
            gaf["range"] = [list(map(float, v)) for v in stats["gaf_range"]]
    return PipelineSpec(model_cfg.name, dict(model_cfg.args), modality, sensor, list(channels), list(units),
                        list(columns), float(rate), int(window_samples), options.get("length"), normalization,
                        gaf, list(meta["class_names"]), bool(options.get("remove_mean", False)))


def build_pipeline(model: nn.Module, spec: PipelineSpec) -> DeployablePipeline:
    """The :class:`DeployablePipeline` of ``spec`` around ``model`` (eval mode)."""
    from harkd.encoding.gaf import GAFChannels

    gaf = None
    if spec.gaf is not None:
        scaling: Any = "per_sample"
        if spec.gaf["scaling"] == "dataset":
            lo, hi = (np.asarray(v, dtype=np.float32)[:, None] for v in spec.gaf["range"])
            scaling = (lo, hi)
        gaf = GAFChannels(image_size=spec.gaf.get("image_size"), method=spec.gaf["method"],
                                  scaling=scaling, convention=spec.gaf["convention"])
    norm = spec.normalization or {}
    return DeployablePipeline(model, spec.window_samples, spec.length, norm.get("mean"), norm.get("std"), gaf,
                              spec.remove_mean).eval()
