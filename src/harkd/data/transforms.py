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
"""

from __future__ import annotations

from typing import Any, Iterable, Mapping

import numpy as np
import torch

from harkd.checks import check_at_most, check_choice, check_flag, check_int, check_keys, check_number
from harkd.data.cropping import body_box, crop_square
from harkd.data.timeseries import interpolate, resample_at, resample_time, window_positions  # noqa: F401
from harkd.errors import ConfigError, InputError, unknown_key_message
from harkd.registry import Registry

_EPS = 1e-6


# -- array helpers ---------------------------------------------------------------------
def segment_indices(t: int, n: int, offsets: np.ndarray | None = None, start: float = 0.0,
                    end: float = 0.0) -> np.ndarray:
    """One frame index per each of ``n`` equal segments of a ``t``-frame clip: the
    segment centre, or ``start + offset * length`` for ``offsets`` in [0, 1). ``start`` and
    ``end``: fractions of the clip left out at each end, the segments dividing the rest
    (temporal jitter: a shifted and stretched sampling)."""
    u = 0.5 if offsets is None else np.asarray(offsets, dtype=np.float64)
    if start == 0 and end == 0:
        idx = np.floor((np.arange(n) + u) * t / n)
    else:
        idx = np.floor(start * t + (np.arange(n) + u) * (1 - start - end) * t / n)
    return np.clip(idx.astype(np.int64), 0, t - 1)


def resize_frames(x: np.ndarray, size: tuple[int, int], mode: str) -> np.ndarray:
    """Resize (F, ..., H, W) frames (e.g. (F, H, W) depth, (F, 3, H, W) RGB) to (F, ..., *size) with
    ``torch.nn.functional.interpolate``, each 2-D image on its own."""
    shape = x.shape
    frames = torch.from_numpy(np.ascontiguousarray(x, dtype=np.float32)).reshape(-1, 1, *shape[-2:])
    kwargs = {"align_corners": False} if mode == "bilinear" else {}
    out = torch.nn.functional.interpolate(frames, size=tuple(size), mode=mode, **kwargs)[:, 0]
    return out.reshape(*shape[:-2], *size).numpy()


def augment_frames(x: np.ndarray, crop_scale: float = 0.0, rotate: float = 0.0,
                   depth_shift: float = 0.0) -> np.ndarray:
    """Random training-time view of a clip of (F, ..., H, W) frames, the same for every frame.

    ``crop_scale``: a random sub-box of relative side U(1 - crop_scale, 1) at a random place
    inside the frame, resized back to H x W (a zoom of up to 1 / (1 - crop_scale));
    ``rotate``: in-plane rotation by U(-rotate, rotate) degrees about the frame centre (zeros
    where it uncovers the frame). Both are one bilinear ``grid_sample`` of the whole clip.
    ``depth_shift``: one constant U(-depth_shift, depth_shift) added to every pixel > 0 (the
    body moves nearer or farther; the zero background stays). No flip (UTD-MHAD tells swipe
    left from swipe right). Random numbers come from torch's generator (seeded per DataLoader
    worker).
    """
    x = np.array(x, dtype=np.float32)
    h, w = x.shape[-2:]
    if crop_scale > 0 or rotate > 0:
        side = 1 - crop_scale * float(torch.rand(()))
        cx, cy = ((2 * torch.rand(2, dtype=torch.float64) - 1) * (1 - side)).tolist()
        angle = np.deg2rad(rotate) * (2 * float(torch.rand(())) - 1)
        cos, sin = side * np.cos(angle), side * np.sin(angle)
        # output -> input position in normalised (x, y) coordinates; h / w keep the rotation rigid in pixels
        theta = torch.tensor([[[cos, -sin * h / w, cx], [sin * w / h, cos, cy]]], dtype=torch.float32)
        frames = torch.from_numpy(x.reshape(1, -1, h, w))
        grid = torch.nn.functional.affine_grid(theta, list(frames.shape), align_corners=False)
        x = torch.nn.functional.grid_sample(frames, grid, mode="bilinear", padding_mode="zeros",
                                            align_corners=False).numpy().reshape(x.shape)
    if depth_shift > 0:
        x[x > 0] += depth_shift * (2 * float(torch.rand(())) - 1)
    return x


# -- option checking -------------------------------------------------------------------
def _option(kind: str, name: str) -> str:
    """How a transform option is named in messages: ``inertial transform option 'length'``."""
    return f"{kind} option '{name}'"


def _count(kind: str, name: str, value: Any, minimum: int = 1, why: str = "", optional: bool = True) -> int | None:
    """:func:`harkd.checks.check_int` for a transform option (``why`` says what a smaller value would break)."""
    return check_int(_option(kind, name), value, minimum, error=ConfigError, why=why, optional=optional,
                     say_positive=True)


MAX_SERIES_LENGTH = 100_000  # resampled samples/frames per clip (a UTD-MHAD clip has ~180)
MAX_CROP_MARGIN = 1  # the body box's side added on each side: 1 triples it (the padded frame grows with it)
MAX_FRAME_SIDE = 4096  # pixels of a resized depth / RGB frame (the datasets' frames are at most 1920 wide)
#: augment option -> the largest value that still means something: degrees of a rotation, a factor
#: U(1 - scale, 1 + scale) that stays >= 0, noise in channel standard deviations
AUGMENT_MAXIMUM = {"rotate": 180, "scale": 1, "noise": 10}
MAX_AUGMENT = 1_000_000  # any other augment option (a finite number; depth_shift is in the depth's units)
_TIME_AXIS = " (a series needs at least 2 samples)"


def _choice(kind: str, name: str, value: Any, choices: Iterable[Any]) -> Any:
    return check_choice(_option(kind, name), value, choices, error=ConfigError, as_list=True)


def _augment_options(modality: str, augment: Any, valid: Iterable[str]) -> dict[str, float]:
    """Checked ``augment`` options: numbers >= 0, ``shift`` below 0.5."""
    augment = augment or {}
    check_keys(f"{modality} augment option", augment, valid)
    for name, value in augment.items():
        if isinstance(value, bool) or not isinstance(value, (int, float)) or not value >= 0:
            raise ConfigError(f"{modality} augment option '{name}' must be a number >= 0, got {value!r}")
        check_at_most(f"{modality} augment option '{name}'", value, AUGMENT_MAXIMUM.get(name, MAX_AUGMENT))
    if augment.get("shift", 0) >= 0.5:
        raise ConfigError(f"{modality} augment option 'shift' must be below 0.5, got {augment['shift']!r}")
    return dict(augment)


#: Transform options that only add training-time randomness (evaluation ignores them).
TRAIN_ONLY_OPTIONS = ("augment", "random_offsets")


def deterministic_options(options: Mapping[str, Any]) -> dict[str, Any]:
    """``options`` without :data:`TRAIN_ONLY_OPTIONS`: the evaluation view of a modality."""
    return {k: v for k, v in dict(options).items() if k not in TRAIN_ONLY_OPTIONS}


# -- transforms -------------------------------------------------------------------------
class ModalityTransform:
    """Base: no preprocessing, output is the loaded array as a tensor.

    Every transform also takes ``load``: extra keyword options for the dataset's reader
    (e.g. Berkeley-MHAD ``{accelerometers: [1, 2], rate: 30}``), checked by the reader.
    """

    modality = "raw"
    options: tuple[str, ...] = ()

    def __init__(self, **config: Any):
        check_keys(f"{self.modality} transform option", config, (*self.options, "load"))
        self.config = dict(config)
        if config.get("normalize") is not None:
            check_flag(_option(f"{self.modality} transform", "normalize"), config["normalize"])
        load = config.get("load") or {}
        if not isinstance(load, Mapping):
            raise ConfigError(f"{self.modality} transform option 'load' must be a mapping, got {load!r}")
        self.reader_options = dict(load)
        self.mean: np.ndarray | None = None
        self.std: np.ndarray | None = None

    # what the loader and the cache need to know
    def load_options(self) -> dict[str, Any]:
        return dict(self.reader_options)

    def cache_config(self) -> dict[str, Any]:
        """The options that determine ``prepare``'s output (hashed into the cache key)."""
        return {"transform": type(self).__name__, **self.load_options()}

    def prepare(self, x: np.ndarray) -> np.ndarray:
        return x

    @property
    def stochastic(self) -> bool:
        """True when ``finish`` draws random numbers in training (augmentation)."""
        return False

    def time_window(self, x: np.ndarray, start: float, end: float) -> np.ndarray:
        """``prepare``'s time-first output cut to one normalised-time window (paired augmentation)."""
        return time_window(x, start, end)

    @property
    def time_axis(self) -> int | None:
        """The time axis of ``finish``'s per-sample output (None: no time axis, e.g. a GAF image)."""
        return 0

    @property
    def normalize(self) -> bool:
        return bool(self.config.get("normalize", False))

    def unset_shape_options(self) -> tuple[str, ...]:
        """The options, left unset, without which this modality's samples differ in shape from clip to clip."""
        return ()

    @property
    def needs_fit(self) -> bool:
        """True when ``finish`` uses statistics fitted on the training split."""
        return self.normalize

    def fit(self, prepared: Iterable[np.ndarray]) -> None:
        """Fit per-channel mean/std over all time steps of ``prepared`` (the training split)."""
        total, total_sq, count = 0.0, 0.0, 0
        for x in prepared:
            x64 = x.astype(np.float64)
            total = total + x64.sum(axis=0)
            total_sq = total_sq + (x64 ** 2).sum(axis=0)
            count += x.shape[0]
        if count == 0:
            raise ConfigError(f"cannot fit {self.modality} normalisation on an empty training set")
        mean = total / count
        std = np.sqrt(np.maximum(total_sq / count - mean ** 2, 0.0))
        self.mean = mean.astype(np.float32)
        self.std = np.where(std < _EPS, 1.0, std).astype(np.float32)

    def state_dict(self) -> dict[str, Any]:
        """JSON-serialisable fitted statistics (empty when not fitted)."""
        if self.mean is None:
            return {}
        return {"mean": self.mean.tolist(), "std": self.std.tolist()}

    def load_state_dict(self, state: Mapping[str, Any]) -> None:
        if state:
            self.mean = np.asarray(state["mean"], dtype=np.float32)
            self.std = np.asarray(state["std"], dtype=np.float32)

    def normalization_stats(self) -> tuple[np.ndarray, np.ndarray] | None:
        """The fitted ``(mean, std)`` that ``finish`` normalises with, None without ``normalize``;
        a ConfigError when they are not fitted."""
        if not self.normalize:
            return None
        if self.mean is None:
            raise ConfigError(f"{self.modality} normalisation is not fitted: fit it on the training "
                              "split (PairedDataset.fit_normalization) or load fitted statistics")
        return self.mean, self.std

    def _normalised(self, x: np.ndarray) -> np.ndarray:
        stats = self.normalization_stats()
        return x if stats is None else (x - stats[0]) / stats[1]

    def finish(self, x: np.ndarray, train: bool = False) -> torch.Tensor:
        return torch.from_numpy(np.ascontiguousarray(self._normalised(x)))


def _rotation_matrix(axis: torch.Tensor, angle: float) -> np.ndarray:
    """3 x 3 rotation by ``angle`` radians about ``axis`` (Rodrigues)."""
    k = (axis / axis.norm().clamp_min(_EPS)).numpy().astype(np.float64)
    cross = np.array([[0, -k[2], k[1]], [k[2], 0, -k[0]], [-k[1], k[0], 0]])
    return np.eye(3) + np.sin(angle) * cross + (1 - np.cos(angle)) * cross @ cross


def random_time_window(x: np.ndarray, shift: float) -> np.ndarray:
    """Keep a random window of ``x`` (time on axis 0) that drops up to ``shift`` of the clip at
    each end, resampled back to the same length (a random time shift and stretch)."""
    t = x.shape[0]
    if t < 2:
        return x
    start, end = (torch.rand(2) * shift * (t - 1)).tolist()
    # float64 interpolation, as this augmentation always did (time_window's float32 taps round differently)
    return interpolate(x, np.arange(t), np.linspace(start, t - 1 - end, t)).astype(np.float32)


def time_window(x: np.ndarray, start: float, end: float, nearest: bool = False) -> np.ndarray:
    """The window of the time-first clip ``x`` from normalised time ``start`` to ``1 - end``
    (fractions of the clip dropped at each end), resampled back to ``x``'s length: linearly, or
    with ``nearest`` by the nearest frame (depth maps). The same ``start``/``end`` pick the same
    moment of the action in clips of any length (:class:`harkd.data.PairedDataset` paired
    augmentation)."""
    t = x.shape[0]
    if t < 2:
        return x
    grid = window_positions(t, start, end)
    if nearest:
        return x[np.clip(np.rint(grid).astype(np.int64), 0, t - 1)]
    return resample_at(x, grid)


def augment_skeleton(x: np.ndarray, rotate: float = 0.0, scale: float = 0.0, shift: float = 0.0) -> np.ndarray:
    """Random training-time view of a time-first (T, V, 3) skeleton clip.

    ``rotate``: one rotation of every joint (angle uniform in +-``rotate`` degrees about a
    random axis: a different camera view); ``scale``: coordinates times U(1 - scale,
    1 + scale) (body size); ``shift``: :func:`random_time_window`. Random numbers come from
    torch's generator (seeded per DataLoader worker).
    """
    x = x.astype(np.float32, copy=True)
    if rotate > 0:
        angle = np.deg2rad(rotate) * (2 * float(torch.rand(())) - 1)
        x = x @ _rotation_matrix(torch.randn(3), angle).astype(np.float32).T
    if scale > 0:
        x *= 1 + scale * (2 * float(torch.rand(())) - 1)
    if shift > 0:
        x = random_time_window(x, shift)
    return x


def augment_inertial(x: np.ndarray, scale: float = 0.0, rotate: float = 0.0, shift: float = 0.0,
                     noise: float = 0.0) -> np.ndarray:
    """Random training-time view of a time-first (T, C) inertial clip, C a multiple of 3.

    ``rotate``: one random rotation (angle uniform in +-``rotate`` degrees about a random
    axis) applied to every 3-axis sensor of the clip (a re-mounted device: acceleration
    incl. gravity and angular velocity turn together). ``scale``: amplitude times
    U(1 - scale, 1 + scale). ``shift``: keep a random window dropping up to ``shift`` of
    the clip at each end and resample it back to T samples (time shift and stretch).
    ``noise``: Gaussian noise with std ``noise`` times each channel's std over the clip.
    Random numbers come from torch's generator (seeded per DataLoader worker).
    """
    x = x.astype(np.float32, copy=True)
    t, c = x.shape
    if rotate > 0 and c % 3 == 0:
        angle = np.deg2rad(rotate) * (2 * float(torch.rand(())) - 1)
        rot = _rotation_matrix(torch.randn(3), angle).astype(np.float32)
        x = (x.reshape(t, c // 3, 3) @ rot.T).reshape(t, c)
    if scale > 0:
        x *= 1 + scale * (2 * float(torch.rand(())) - 1)
    if shift > 0:
        x = random_time_window(x, shift)
    if noise > 0:
        x += noise * x.std(axis=0, keepdims=True) * torch.randn(t, c).numpy()
    return x


#: Image encodings of an inertial window, ``name -> fn(x (C, T), **options) -> (C * k, N, N)``. The encoding
#: floor above registers them (``import harkd.encoding`` registers ``gaf``), so the data layer imports no encoder.
INERTIAL_ENCODINGS: Registry = Registry("inertial encoding")
GAF_NOT_REGISTERED = ("the inertial 'gaf' option needs the GAF encoding, which harkd.encoding registers: import "
                      "harkd.encoding before building the transforms (harkd's engine, CLI and API do)")


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
            if "gaf" not in INERTIAL_ENCODINGS:
                raise ConfigError(GAF_NOT_REGISTERED)
            self.gaf_encode = INERTIAL_ENCODINGS.get("gaf")
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


#: Image encodings of a depth clip, ``name -> fn(frames (T, H, W), size=..., **options) -> (C, size, size)``; the
#: encoding floor registers them (``import harkd.encoding`` registers ``dmm``), so the data layer imports no encoder.
DEPTH_ENCODINGS: Registry = Registry("depth encoding")
DMM_NOT_REGISTERED = ("the depth 'dmm' option needs the depth motion map encoding, which harkd.encoding registers: "
                      "import harkd.encoding before building the transforms (harkd's engine, CLI and API do)")


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
        if "dmm" not in DEPTH_ENCODINGS:
            raise ConfigError(DMM_NOT_REGISTERED)
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
        self.dmm_encode = DEPTH_ENCODINGS.get("dmm")
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
