"""Per-modality preprocessing configured by plain dicts.

Each modality transform has two stages:

- ``prepare(x)``: deterministic (resampling, centring, frame sampling, resizing,
  scaling). Its output is what the preprocessing cache stores.
- ``finish(x, train)``: per sample, after the cache: normalisation with statistics
  fitted on the training split, random depth offsets (train only), GAF encoding.

Resampling is by normalised time over the clip: ``n`` output samples at
``linspace(0, T - 1, n)`` with linear interpolation (:mod:`harkd.data.timeseries`), so clips of
any rate and length map onto the same time axis (the modalities run at different rates).

Example config::

    {"inertial": {"sensor": "acc", "length": 128, "normalize": True,
                  "gaf": {"image_size": 64, "method": "summation"}},
     "skeleton": {"frames": 32, "normalize": True, "center": True},
     "depth": {"frames": 8, "size": [112, 112], "scale": "metres"}}

Output shapes are channels-first, ready for the models in :mod:`harkd.models`:
inertial (C, length) or with GAF (C, N, N); skeleton (3, frames, joints) (ST-GCN's
(C, T, V)); depth (frames, 1, H, W) float32 (one channel per segment frame, for TSN/TRN/R(2+1)D),
rgb (frames, 3, H, W) float32 in [0, 1].
The cache and ``fit`` work on the time-first ``prepare`` output.

The package has one module per concern (each imports only those before it): ``base`` (the
:class:`ModalityTransform` base, array helpers, option checks and limits), ``augment`` (the
training-time augmentations), ``inertial``, ``skeleton`` and ``frames`` (depth and RGB) with their
transforms and encoding registries; this face holds :data:`TRANSFORMS` and :func:`build_transforms`
and re-exports every name.
"""

from __future__ import annotations

from typing import Any, Iterable, Mapping

from harkd.data.timeseries import interpolate, resample_at, resample_time, window_positions
from harkd.data.transforms.augment import (AUGMENT_MAXIMUM, MAX_AUGMENT, augment_frames, augment_inertial,
                                           augment_skeleton, random_time_window)
from harkd.data.transforms.base import (MAX_CROP_MARGIN, MAX_FRAME_SIDE, MAX_SERIES_LENGTH, TRAIN_ONLY_OPTIONS,
                                        ModalityTransform, deterministic_options, resize_frames, segment_indices,
                                        time_window)
from harkd.data.transforms.frames import (DEPTH_ENCODINGS, DepthTransform, RgbTransform,
                                          register_depth_encoding)
from harkd.data.transforms.inertial import (INERTIAL_ENCODINGS, InertialTransform,
                                            register_inertial_encoding)
from harkd.data.transforms.skeleton import SkeletonTransform
from harkd.errors import ConfigError, unknown_key_message
from harkd.registry import Registry

__all__ = [
    "AUGMENT_MAXIMUM", "DEPTH_ENCODINGS", "INERTIAL_ENCODINGS",
    "MAX_AUGMENT", "MAX_CROP_MARGIN", "MAX_FRAME_SIDE", "MAX_SERIES_LENGTH", "TRAIN_ONLY_OPTIONS", "TRANSFORMS",
    "DepthTransform", "InertialTransform", "ModalityTransform", "RgbTransform", "SkeletonTransform",
    "augment_frames", "augment_inertial", "augment_skeleton", "build_transforms", "deterministic_options",
    "interpolate", "random_time_window", "register_depth_encoding", "register_inertial_encoding",
    "register_transform", "resample_at", "resample_time", "resize_frames", "segment_indices", "time_window",
    "window_positions",
]

#: Transform kind -> class; a modality whose kind is not registered gets :class:`ModalityTransform`.
TRANSFORMS: Registry[type[ModalityTransform]] = Registry("transform")


def register_transform(kind: str, cls: type[ModalityTransform], *, overwrite: bool = False) -> type[ModalityTransform]:
    """Register ``cls`` as the transform of kind ``kind`` (duplicate policy: :class:`harkd.registry.Registry`)."""
    return TRANSFORMS.register(kind, cls, overwrite=overwrite)


register_transform("inertial", InertialTransform)
register_transform("skeleton", SkeletonTransform)
register_transform("depth", DepthTransform)
register_transform("rgb", RgbTransform)


def build_transforms(config: Mapping[str, Any] | None, modalities: Iterable[str],
                     kinds: Mapping[str, str] | None = None) -> dict[str, ModalityTransform]:
    """One transform per modality in ``modalities`` from ``config`` (modality -> options).

    ``kinds`` maps a modality to its transform kind in :data:`TRANSFORMS` when the names
    differ (Berkeley-MHAD ``acc1`` -> ``inertial``); by default the modality name is the kind.

    A modality without an entry gets no preprocessing (the loader's array as a
    tensor; ``{}`` selects the modality's transform with defaults); an entry for a modality
    that is not requested, or an unknown option, raises :class:`ConfigError`.
    """
    config = dict(config or {})
    modalities = list(modalities)
    for name in config:
        if name not in modalities:
            raise ConfigError(unknown_key_message("transform modality", str(name), modalities))
    out = {}
    for name in modalities:
        kind = (kinds or {}).get(name, name)
        cls = TRANSFORMS.get(kind) if name in config and kind in TRANSFORMS else ModalityTransform
        options = config.get(name) or {}
        if not isinstance(options, Mapping):
            raise ConfigError(f"transform options for '{name}' must be a mapping, got {options!r}")
        if cls is ModalityTransform and set(options) - {"load"}:
            raise ConfigError(f"modality '{name}' takes no transform options, got {sorted(options)}")
        t = cls(**options)
        t.modality = name
        out[name] = t
    return out
