"""The inertial transform (resampling, mean removal, augmentation, the GAF image encoding) and
the registry of inertial image encodings that the encoding floor fills."""

from __future__ import annotations

from typing import Any, Mapping

import numpy as np
import torch

from harkd.checks import check_at_most, check_flag, check_keys
from harkd.data.timeseries import resample_time
from harkd.data.transforms.augment import _augment_options, augment_inertial
from harkd.data.transforms.base import (_TIME_AXIS, MAX_SERIES_LENGTH, Encodings, ModalityTransform, _choice, _count,
                                        _option)
from harkd.errors import ConfigError


#: Image encodings of an inertial window, ``name -> fn(x (C, T), **options) -> (C * k, N, N)``
INERTIAL_ENCODINGS = Encodings("inertial", {"gaf": "GAF encoding"})


def register_inertial_encoding(name: str, fn, *, overwrite: bool = False):
    """Register ``fn`` as the inertial image encoding ``name`` (duplicate policy: :class:`harkd.registry.Registry`)."""
    return INERTIAL_ENCODINGS.register(name, fn, overwrite=overwrite)


class InertialTransform(ModalityTransform):
    """``sensor`` (acc|gyro|all), ``length`` (resample), ``remove_mean`` (subtract each clip's
    per-channel mean after resampling: the static gravity component, whose direction depends on
    how the sensor sits on the body), ``normalize``, ``augment`` (training
    only; dict of :func:`augment_inertial`'s ``scale``, ``rotate`` (degrees), ``shift``,
    ``noise``), ``gaf`` (dict for :func:`harkd.encoding.gaf_channels`: image_size, method
    (summation | difference | both: GASF then GADF channels), convention, and ``scaling``:
    ``per_sample`` (each clip's own min/max, amplitude discarded) or ``dataset`` (per-channel
    0.5/99.5 percentiles of the training split, so amplitude is kept; values outside clip
    to +-1))."""

    modality = "inertial"
    options = ("sensor", "length", "remove_mean", "normalize", "augment", "gaf")
    gaf_options = ("image_size", "method", "scaling", "convention")
    augment_options = ("scale", "rotate", "shift", "noise")

    def __init__(self, **config: Any):
        super().__init__(**config)
        kind = "inertial transform"
        self.sensor = _choice(kind, "sensor", config.get("sensor", "all"), ("acc", "gyro", "all"))
        self.length = _count(kind, "length", config.get("length"), minimum=2, why=_TIME_AXIS)
        check_at_most(_option(kind, "length"), self.length, MAX_SERIES_LENGTH)
        self.remove_mean = check_flag(_option(kind, "remove_mean"), config.get("remove_mean", False))
        self.gaf = config.get("gaf")
        self.gaf_dataset_scaling = False
        self.gaf_encode = None  # the registered encoding (a module-level function: pickles by reference)
        if self.gaf is not None:
            self.gaf_encode = INERTIAL_ENCODINGS.needed("gaf")
            check_keys("inertial gaf option", self.gaf, self.gaf_options)
            size = _count("inertial gaf", "image_size", self.gaf.get("image_size"), minimum=2,
                                 why=" (a 1 x 1 image holds no angle pairs)")
            if size is not None and self.length is not None and size > self.length:
                raise ConfigError(f"inertial gaf option 'image_size' ({size}) must not exceed the inertial option "
                                  f"'length' ({self.length}): the image is N x N over at most 'length' samples")
            _choice("inertial gaf", "method", self.gaf.get("method", "summation"), ("summation", "difference", "both"))
            scaling = self.gaf.get("scaling", "per_sample")
            _choice("inertial gaf", "scaling", scaling, ("per_sample", "dataset"))
            self.gaf_dataset_scaling = scaling == "dataset"
        self.gaf_range: tuple[np.ndarray, np.ndarray] | None = None
        self.augment = _augment_options("inertial", config.get("augment"), self.augment_options)

    def unset_shape_options(self) -> tuple[str, ...]:
        fixed = self.length is not None or (self.gaf is not None and self.gaf.get("image_size") is not None)
        return () if fixed else ("length",)

    @property
    def stochastic(self) -> bool:
        return any(v > 0 for v in self.augment.values())

    @property
    def time_axis(self) -> int | None:
        return None if self.gaf is not None else 1  # (C, T); a GAF image (C, N, N) has none

    def load_options(self) -> dict[str, Any]:
        return {"sensor": self.sensor, **super().load_options()}

    def cache_config(self) -> dict[str, Any]:
        extra = {"remove_mean": True} if self.remove_mean else {}  # earlier cache keys unchanged
        return {**super().cache_config(), "length": self.length, **extra}

    def prepare(self, x: np.ndarray) -> np.ndarray:
        x = resample_time(x, self.length) if self.length else x.astype(np.float32)
        return x - x.mean(axis=0, keepdims=True) if self.remove_mean else x

    @property
    def needs_fit(self) -> bool:
        return self.normalize or bool(self.gaf and self.gaf_dataset_scaling)

    def fit(self, prepared) -> None:
        prepared = list(prepared)
        if self.normalize:
            super().fit(prepared)
        if self.gaf and self.gaf_dataset_scaling:
            values = np.concatenate([self._normalised(x) for x in prepared]).astype(np.float64)
            lo, hi = np.percentile(values, [0.5, 99.5], axis=0)
            self.gaf_range = (lo.astype(np.float32), hi.astype(np.float32))

    def state_dict(self) -> dict[str, Any]:
        state = super().state_dict()
        if self.gaf_range is not None:
            state["gaf_range"] = [self.gaf_range[0].tolist(), self.gaf_range[1].tolist()]
        return state

    def load_state_dict(self, state: Mapping[str, Any]) -> None:
        super().load_state_dict({k: v for k, v in state.items() if k != "gaf_range"})
        if "gaf_range" in state:
            self.gaf_range = tuple(np.asarray(v, dtype=np.float32) for v in state["gaf_range"])

    def finish(self, x: np.ndarray, train: bool = False) -> torch.Tensor:
        if train and self.stochastic:
            x = augment_inertial(x, **self.augment)
        x = self._normalised(x)
        if self.gaf is None:
            return torch.from_numpy(np.ascontiguousarray(x.T, dtype=np.float32))
        options = dict(self.gaf)
        if self.gaf_dataset_scaling:
            if self.gaf_range is None:
                raise ConfigError("inertial gaf scaling 'dataset' is not fitted: fit it on the training split "
                                  "(PairedDataset.fit_normalization) or load fitted statistics")
            options["scaling"] = (self.gaf_range[0][:, None], self.gaf_range[1][:, None])
        return torch.as_tensor(np.asarray(self.gaf_encode(np.ascontiguousarray(x.T), **options)),
                               dtype=torch.float32)
