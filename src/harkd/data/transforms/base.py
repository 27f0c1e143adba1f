"""The transforms' base floor: :class:`ModalityTransform` (``prepare`` / ``finish``, fitted
normalisation), the array helpers every modality uses (segment sampling, frame resizing, one
normalised-time window), the option checks and limits, and the train-only options."""

from __future__ import annotations

from typing import Any, Iterable, Mapping

import numpy as np
import torch

from harkd.checks import check_choice, check_flag, check_int, check_keys
from harkd.data.timeseries import resample_at, window_positions
from harkd.errors import ConfigError
from harkd.registry import Registry


class Encodings(Registry):
    """Image encodings of one modality's transform (``inertial``: ``gaf``; ``depth``: ``dmm``). The encoding floor
    above registers them (``import harkd.encoding``), so the data layer imports no encoder."""

    def __init__(self, modality: str, encoders: Mapping[str, str]):
        super().__init__(f"{modality} encoding")
        self.modality, self.encoders = modality, dict(encoders)  # option -> the encoding's name in words

    def needed(self, option: str):
        """The encoding of transform option ``option``, or the ConfigError saying that harkd.encoding registers it."""
        if option not in self:
            raise ConfigError(f"the {self.modality} '{option}' option needs the {self.encoders[option]}, which "
                              "harkd.encoding registers: import harkd.encoding before building the transforms "
                              "(harkd's engine, CLI and API do)")
        return self.get(option)

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
_TIME_AXIS = " (a series needs at least 2 samples)"


def _choice(kind: str, name: str, value: Any, choices: Iterable[Any]) -> Any:
    return check_choice(_option(kind, name), value, choices, error=ConfigError, as_list=True)


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
