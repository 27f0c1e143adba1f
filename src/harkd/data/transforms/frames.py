"""Frame clips: the depth transform (segment sampling, body crop, resizing, scaling, augmentation,
or depth motion maps), the RGB transform built on it, and the registry of depth image encodings
that the encoding floor fills."""

from __future__ import annotations

from typing import Any, Mapping

import numpy as np
import torch

from harkd.checks import check_at_most, check_flag, check_keys, check_number
from harkd.data.cropping import body_box, crop_square
from harkd.data.transforms.augment import _augment_options, augment_frames
from harkd.data.transforms.base import (MAX_CROP_MARGIN, MAX_FRAME_SIDE, MAX_SERIES_LENGTH, Encodings,
                                        ModalityTransform, _choice, _count, _option, resize_frames, segment_indices,
                                        time_window)
from harkd.errors import ConfigError, InputError


#: Image encodings of a depth clip, ``name -> fn(frames (T, H, W), size=..., **options) -> (C, size, size)``
DEPTH_ENCODINGS = Encodings("depth", {"dmm": "depth motion map encoding"})


def register_depth_encoding(name: str, fn, *, overwrite: bool = False):
    """Register ``fn`` as the depth image encoding ``name`` (duplicate policy: :class:`harkd.registry.Registry`)."""
    return DEPTH_ENCODINGS.register(name, fn, overwrite=overwrite)


class DepthTransform(ModalityTransform):
    """``frames`` (one per equal segment: centre; with ``random_offsets`` a random frame
    per segment in training), ``size`` [H, W], ``interpolation`` (area|bilinear),
    ``scale`` (metres: mm/1000 | max: / clip maximum | none: float millimetres),
    ``crop`` (none | body: the square box around every pixel with depth > 0 over the clip,
    :func:`harkd.data.cropping.body_box`, cut out before resizing; ``crop_margin``: the
    fraction of the box's side added on each side), ``augment`` (training only; dict of
    :func:`augment_frames`'s ``crop_scale``, ``rotate`` (degrees), ``depth_shift`` (in the
    output's units: metres with ``scale: metres``), and ``time_jitter``: the segments
    divide a random window dropping up to that fraction of the clip at each end).

    ``dmm`` (a dict for :func:`harkd.encoding.dmm.depth_motion_maps`: ``views``, ``segments``,
    ``z_bins``, ``threshold`` in millimetres) turns the (cropped) clip into depth motion map images
    ``(C, size, size)`` instead of frames, computed once and cached (``size`` one number, default 64;
    ``frames``, ``random_offsets``, ``interpolation`` and ``scale`` do not apply; ``augment`` takes
    ``crop_scale`` and ``rotate``, the same for every map of a clip)."""

    modality = "depth"
    options = ("frames", "size", "interpolation", "scale", "random_offsets", "crop", "crop_margin", "augment", "dmm")
    augment_options = ("crop_scale", "rotate", "depth_shift", "time_jitter")
    dmm_options = ("views", "segments", "z_bins", "threshold")

    def __init__(self, **config: Any):
        super().__init__(**config)
        kind = f"{type(self).modality} transform"
        self.dmm = config.get("dmm")
        self.dmm_encode = None
        if self.dmm is not None:
            self._check_dmm(config)
        self.frames = _count(kind, "frames", config.get("frames"))
        check_at_most(_option(kind, "frames"), self.frames, MAX_SERIES_LENGTH)
        size = config.get("size")
        if size is not None:
            if isinstance(size, (int, np.integer)) and not isinstance(size, bool):
                size = (size, size)
            if not isinstance(size, (list, tuple)) or len(size) != 2:
                raise ConfigError(f"{kind} option 'size' must be [height, width], got {size!r}")
            size = tuple(_count(kind, "size", s, optional=False) for s in size)
            for side in size:
                check_at_most(_option(kind, "size"), side, MAX_FRAME_SIDE)
        self.size = size
        self.interpolation = _choice(kind, "interpolation", config.get("interpolation", "area"), ("area", "bilinear"))
        self.scale = _choice(kind, "scale", config.get("scale", "metres"), ("metres", "max", "none")) \
            if "scale" in self.options else None
        self.random_offsets = check_flag(_option(kind, "random_offsets"), config.get("random_offsets", False))
        self.crop = _choice(kind, "crop", config.get("crop", "none"), ("none", "body"))
        if self.crop == "body":
            self._check_body_crop()
        self.crop_margin = 0.0
        if config.get("crop_margin") is not None:
            if self.crop != "body":
                raise ConfigError(f"{kind} option 'crop_margin' applies to the body crop: set crop: body, "
                                  "or remove crop_margin")
            self.crop_margin = check_number(_option(kind, "crop_margin"), config["crop_margin"], error=ConfigError)
            check_at_most(_option(kind, "crop_margin"), self.crop_margin, MAX_CROP_MARGIN)
        self.augment = _augment_options(type(self).modality, config.get("augment"), self.augment_options)
        for name, below in (("crop_scale", 1), ("time_jitter", 0.5)):
            if self.augment.get(name, 0) >= below:
                raise ConfigError(f"{type(self).modality} augment option '{name}' must be below {below}, "
                                  f"got {self.augment[name]!r}")

    def _check_body_crop(self) -> None:
        """Refuse ``crop: body`` where depth > 0 does not find the body (RGB)."""

    def _check_dmm(self, config: Mapping[str, Any]) -> None:
        self.dmm_encode = DEPTH_ENCODINGS.needed("dmm")
        if not isinstance(self.dmm, Mapping):
            raise ConfigError(f"depth transform option 'dmm' must be a mapping of {list(self.dmm_options)}, "
                              f"got {self.dmm!r}")
        check_keys("depth dmm option", self.dmm, self.dmm_options)
        clash = [name for name in ("frames", "random_offsets", "interpolation", "scale") if name in config]
        if clash:
            raise ConfigError(f"depth transform option{'s' if len(clash) > 1 else ''} {', '.join(map(repr, clash))} "
                              "do not apply with 'dmm' (motion maps summarise every frame): remove "
                              f"{'them' if len(clash) > 1 else 'it'}")
        size = config.get("size", 64)
        if isinstance(size, (list, tuple)) and len(size) == 2 and size[0] == size[1]:
            size = size[0]
        if isinstance(size, bool) or not isinstance(size, (int, np.integer)) or size < 2:
            raise ConfigError(f"depth transform option 'size' with 'dmm' must be one integer >= 2 (square motion "
                              f"maps), got {size!r}")
        augment = config.get("augment") or {}
        moving = [name for name in ("depth_shift", "time_jitter") if isinstance(augment, Mapping) and name in augment]
        if moving:
            raise ConfigError(f"depth augment option '{moving[0]}' does not apply with 'dmm' (the motion maps are "
                              "computed once from the whole clip): use crop_scale and rotate")
        self.dmm_size = int(size)
        try:  # the encoder checks its own options: fail at configuration, not in the first worker
            self.dmm_encode(np.zeros((2, 2, 2), np.uint16), size=self.dmm_size, **self.dmm)
        except (InputError, TypeError) as err:
            raise ConfigError(f"depth dmm option: {err}") from None

    def unset_shape_options(self) -> tuple[str, ...]:
        if self.dmm is not None:
            return ()
        return tuple(name for name in ("frames", "size") if getattr(self, name) is None)

    @property
    def keeps_clip(self) -> bool:
        """True when ``prepare`` keeps every frame and ``finish`` samples the segments (random
        offsets or temporal jitter in training)."""
        return bool(self.frames) and (self.random_offsets or self.augment.get("time_jitter", 0) > 0)

    def cache_config(self) -> dict[str, Any]:
        if self.dmm is not None:
            return {**super().cache_config(), "dmm": dict(self.dmm), "size": self.dmm_size,
                    "crop": self.crop, "crop_margin": self.crop_margin}
        crop = {"crop": "body", "crop_margin": self.crop_margin} if self.crop == "body" else {}  # earlier keys kept
        return {**super().cache_config(), "frames": None if self.keeps_clip else self.frames,
                "size": self.size, "interpolation": self.interpolation, "scale": self.scale, **crop}

    @property
    def time_axis(self) -> int | None:
        return None if self.dmm is not None else 0  # motion maps (C, H, W) have no time axis

    def time_window(self, x: np.ndarray, start: float, end: float) -> np.ndarray:
        if self.dmm is not None:
            raise ConfigError(f"data.paired_augment cuts one time window from every modality, but modality "
                              f"'{self.modality}' is depth motion maps (data.modalities.{self.modality}.dmm), "
                              "which have no time axis: remove data.paired_augment")
        return time_window(x, start, end, nearest=True)  # whole frames: no blended depth maps

    def prepare(self, x: np.ndarray) -> np.ndarray:
        box = body_box(x, self.crop_margin) if self.crop == "body" else None  # the whole clip's body
        if self.dmm is not None:
            return self.dmm_encode(x if box is None else crop_square(x, box), size=self.dmm_size, **self.dmm)
        peak = float(x.max()) if self.scale == "max" else 0.0
        if self.frames and not self.keeps_clip:
            x = x[segment_indices(x.shape[0], self.frames)]
        if box is not None:
            x = crop_square(x, box)
        x = self._scaled(x, peak)
        return resize_frames(x, self.size, self.interpolation) if self.size else x

    def _scaled(self, x: np.ndarray, peak: float) -> np.ndarray:
        """Frames as float32 in the output's units."""
        x = x.astype(np.float32)
        if self.scale == "metres":
            x /= 1000.0
        elif self.scale == "max" and peak > 0:
            x /= peak
        return x

    @property
    def stochastic(self) -> bool:
        return bool(self.frames and self.random_offsets) or any(v > 0 for v in self.augment.values())

    def _sampled(self, x: np.ndarray, train: bool) -> np.ndarray:
        """The segment frames of ``prepare``'s output (random offsets and temporal jitter in training)."""
        jitter = self.augment.get("time_jitter", 0) if train else 0
        if self.keeps_clip:
            # torch's RNG: DataLoader seeds it differently in every worker.
            offsets = torch.rand(self.frames).numpy() if train and self.random_offsets else None
            start, end = (torch.rand(2, dtype=torch.float64) * jitter).tolist() if jitter else (0.0, 0.0)
            return x[segment_indices(x.shape[0], self.frames, offsets, start, end)]
        if jitter and not self.frames:  # every frame kept: the jittered window, by the nearest whole frames
            return time_window(x, *(torch.rand(2, dtype=torch.float64) * jitter).tolist(), nearest=True)
        return x

    def finish(self, x: np.ndarray, train: bool = False) -> torch.Tensor:
        x = x if self.dmm is not None else self._sampled(x, train)
        spatial = {k: v for k, v in self.augment.items() if k != "time_jitter" and v > 0}
        if train and spatial:
            x = augment_frames(x, **spatial)
        if self.dmm is not None:
            return torch.from_numpy(np.ascontiguousarray(x, dtype=np.float32))  # (C, H, W) motion maps
        return self._tensor(x)

    def _tensor(self, x: np.ndarray) -> torch.Tensor:
        """(S, 1, H, W): one depth channel per segment frame."""
        return torch.from_numpy(np.ascontiguousarray(x))[:, None]


class RgbTransform(DepthTransform):
    """RGB video, (T, H, W, 3) uint8 as :func:`harkd.data.read_video` gives it -> (frames, 3, H, W)
    float32 in [0, 1]. The depth transform's ``frames``, ``random_offsets``, ``size``,
    ``interpolation`` and ``augment`` (``crop_scale``, ``rotate``, ``time_jitter``; no depth
    shift); no ``scale``. ``crop: body`` is refused: it finds the body by depth > 0, and RGB
    frames have no such rule."""

    modality = "rgb"
    options = ("frames", "size", "interpolation", "random_offsets", "crop", "augment")
    augment_options = ("crop_scale", "rotate", "time_jitter")

    def __init__(self, **config: Any):
        augment = config.get("augment")
        if isinstance(augment, Mapping) and "depth_shift" in augment:
            raise ConfigError(f"{type(self).modality} augment option 'depth_shift' shifts depth values, which RGB "
                              "frames do not have: remove it (crop_scale, rotate and time_jitter apply to RGB)")
        super().__init__(**config)

    def _check_body_crop(self) -> None:
        raise ConfigError(f"{type(self).modality} transform option 'crop': 'body' finds the body by depth > 0, "
                          "which RGB frames do not have; use crop: none (the body crop is for depth clips)")

    def prepare(self, x: np.ndarray) -> np.ndarray:
        if x.ndim != 4 or x.shape[-1] != 3:
            raise InputError(f"{self.modality} transform expects (T, H, W, 3) RGB frames, got shape {x.shape}")
        return super().prepare(x)

    def _scaled(self, x: np.ndarray, peak: float) -> np.ndarray:
        """(F, 3, H, W) float32 in [0, 1]: uint8 / 255 (float frames are taken as already in [0, 1])."""
        scale = 255.0 if x.dtype == np.uint8 else 1.0
        return np.ascontiguousarray(x.transpose(0, 3, 1, 2), dtype=np.float32) / np.float32(scale)

    def _tensor(self, x: np.ndarray) -> torch.Tensor:
        return torch.from_numpy(np.ascontiguousarray(x, dtype=np.float32))
