"""The skeleton transform: centring on a joint, resampling, augmentation; (3, frames, joints) out."""

from __future__ import annotations

from typing import Any

import numpy as np
import torch

from harkd.checks import check_at_most
from harkd.data.timeseries import resample_time
from harkd.data.transforms.augment import _augment_options, augment_skeleton
from harkd.data.transforms.base import _TIME_AXIS, MAX_SERIES_LENGTH, ModalityTransform, _count, _option
from harkd.errors import ConfigError


class SkeletonTransform(ModalityTransform):
    """``frames`` (resample), ``center`` (true: subtract hip_center, joint 0-based 3 as in
    UTD-MHAD; an integer: subtract that joint, e.g. 0 for Berkeley-MHAD), ``normalize``
    (per joint-coordinate mean/std), ``augment`` (training only; dict of
    :func:`augment_skeleton`'s ``rotate`` (degrees), ``scale``, ``shift``)."""

    modality = "skeleton"
    options = ("frames", "center", "normalize", "augment")
    augment_options = ("rotate", "scale", "shift")
    center_joint = 3

    def __init__(self, **config: Any):
        super().__init__(**config)
        self.frames = _count("skeleton transform", "frames", config.get("frames"), minimum=2, why=_TIME_AXIS)
        check_at_most(_option("skeleton transform", "frames"), self.frames, MAX_SERIES_LENGTH)
        center = config.get("center", False)
        if isinstance(center, (int, np.integer)) and not isinstance(center, bool):
            if center < 0:
                raise ConfigError("skeleton transform option 'center' must be true/false or a joint index >= 0, "
                                  f"got {center}")
            self.center_joint, center = int(center), True
        elif not isinstance(center, (bool, np.bool_)):
            raise ConfigError("skeleton transform option 'center' must be true/false or a joint index >= 0, "
                              f"got {center!r}")
        self.center = bool(center)
        self.augment = _augment_options("skeleton", config.get("augment"), self.augment_options)

    def unset_shape_options(self) -> tuple[str, ...]:
        return () if self.frames is not None else ("frames",)

    @property
    def stochastic(self) -> bool:
        return any(v > 0 for v in self.augment.values())

    @property
    def time_axis(self) -> int | None:
        return 1  # (3, T, V)

    def cache_config(self) -> dict[str, Any]:
        custom = self.center and self.center_joint != SkeletonTransform.center_joint
        center = self.center_joint if custom else self.center  # UTD-MHAD cache keys unchanged
        return {**super().cache_config(), "frames": self.frames, "center": center}

    def prepare(self, x: np.ndarray) -> np.ndarray:
        x = x.astype(np.float32)
        if self.center:
            if self.center_joint >= x.shape[1]:
                raise ConfigError(f"skeleton transform option 'center': joint {self.center_joint} does not exist "
                                  f"(the skeleton has {x.shape[1]} joints)")
            x = x - x[:, self.center_joint: self.center_joint + 1]
        return resample_time(x, self.frames) if self.frames else x

    def finish(self, x: np.ndarray, train: bool = False) -> torch.Tensor:
        if train and self.stochastic:
            x = augment_skeleton(x, **self.augment)
        return super().finish(x, train).permute(2, 0, 1).contiguous()
