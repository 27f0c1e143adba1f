"""Virtual accelerometer windows computed from a paired skeleton (extra training data for a sensor student).

A body-worn accelerometer measures the specific force ``f = a - g`` at its site, in a frame fixed to the
body segment it is strapped to. From a skeleton clip that is (:func:`virtual_acceleration`):

1. the site's position (a point on the segment from joint ``start`` to joint ``end``), smoothed and
   differentiated twice over time (Savitzky-Golay, window ``smooth`` seconds), minus gravity along the
   skeleton's declared up axis, in g;
2. turned into the segment's moving frame (:func:`segment_frames`: first axis along the segment, second
   normal to the plane it spans with the declared ``side`` vector, third completing a right-handed frame),
   so the virtual sensor turns with the forearm or thigh as the real one does;
3. turned once more by the single rotation (Kabsch, :func:`fit_rotation`) that best maps it onto the
   recording's real accelerometer on a common normalised-time grid: how the sensor sits on the segment,
   fitted per recording (the skeleton cannot see it).

The skeleton's frame rate is taken from the paired accelerometer's duration (both cover the same action;
UTD-MHAD's Kinect runs well below its nominal 30 Hz). Where a dataset's sensor is worn is a fact the
:class:`~harkd.data.registry.DatasetSpec` declares (``sensor_site``), with its skeleton's ``skeleton_up``.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np

from harkd.data.recording import Recording
from harkd.data.timeseries import resample_time
from harkd.errors import ConfigError, DataError, InputError

__all__ = ["FRAMES", "SensorSite", "VirtualInertial", "fit_rotation", "segment_frames", "specific_force",
           "virtual_acceleration", "GRAVITY", "MIN_FRAMES"]

GRAVITY = 9.80665  # m / s^2 per g
MIN_FRAMES = 5  # a second derivative over a smoothing window needs a few frames
_FIT_GRID = 128  # samples of the normalised-time grid the mounting rotation is fitted on
_EPS = 1e-6


@dataclass(frozen=True)
class SensorSite:
    """Where a body-worn sensor sits, in a skeleton's joint indices: on the segment ``start`` -> ``end``
    (its first axis) at fraction ``at`` along it; ``side`` = ``(a, b)``, the vector ``b - a`` that fixes the
    segment's second axis (normal to the plane of the segment and that vector)."""

    start: int
    end: int
    side: tuple[int, int]
    at: float = 1.0


def _unit(v: np.ndarray) -> np.ndarray:
    return v / np.maximum(np.linalg.norm(v, axis=-1, keepdims=True), _EPS)


def _smooth(x: np.ndarray, dt: float, seconds: float, deriv: int = 0) -> np.ndarray:
    """Savitzky-Golay (cubic) smoothing or derivative along time of (T, ...) ``x``, window ``seconds`` (odd, >= 5
    frames, at most the clip)."""
    from scipy.signal import savgol_filter

    t = len(x)
    window = max(MIN_FRAMES, int(round(seconds / dt)) | 1)
    window = min(window, t if t % 2 else t - 1)
    flat = x.reshape(t, -1).astype(np.float64)
    out = savgol_filter(flat, window, min(3, window - 1), deriv=deriv, delta=dt, axis=0, mode="interp")
    return out.reshape(x.shape)


def segment_frames(skeleton: np.ndarray, site: SensorSite) -> np.ndarray:
    """(T, 3, 3) orthonormal frames of the site's segment in a (T, V, 3) skeleton, axes as columns."""
    u = _unit(skeleton[:, site.end] - skeleton[:, site.start])
    v = _unit(np.cross(u, skeleton[:, site.side[1]] - skeleton[:, site.side[0]]))
    w = np.cross(u, v)
    return np.stack([u, v, w], axis=-1)


FRAMES = ("segment", "world")


def specific_force(skeleton: np.ndarray, site: SensorSite, up: np.ndarray, dt: float, smooth: float,
                   frame: str = "segment") -> np.ndarray:
    """(T, 3) specific force at ``site`` in g, in the segment's moving frame (``frame="world"``: in the skeleton's
    axes); ``skeleton`` in metres, ``dt`` the frame interval in seconds, ``up`` the skeleton's up axis."""
    position = (1 - site.at) * skeleton[:, site.start] + site.at * skeleton[:, site.end]
    force = (_smooth(position, dt, smooth, deriv=2) + GRAVITY * _unit(np.asarray(up, dtype=np.float64))) / GRAVITY
    if frame == "world":
        return force
    joints = sorted({site.start, site.end, *site.side})  # the frame's joints only: smoothing is per joint
    smoothed = skeleton.copy()
    smoothed[:, joints] = _smooth(skeleton[:, joints], dt, smooth)
    return np.einsum("tij,ti->tj", segment_frames(smoothed, site), force)


def fit_rotation(source: np.ndarray, target: np.ndarray) -> np.ndarray:
    """The proper rotation ``R`` (3 x 3) minimising ``|source @ R - target|`` over the rows (Kabsch)."""
    u, _, vt = np.linalg.svd(source.T @ target)
    d = np.sign(np.linalg.det(u @ vt)) or 1.0
    return u @ np.diag([1.0, 1.0, d]) @ vt


def virtual_acceleration(skeleton: np.ndarray, accelerometer: np.ndarray, site: SensorSite, up,
                         rate: float, smooth: float = 0.5, frame: str = "segment") -> np.ndarray:
    """(T_skeleton, 3) float32 virtual accelerometer clip in g from a (T, V, 3) ``skeleton`` (metres) and the
    paired (T_acc, 3) ``accelerometer`` (g) recorded at ``rate`` Hz over the same action (module docstring);
    ``frame="world"`` leaves out step 2 (an ablation: the force in the skeleton's axes).
    InputError when a clip is too short, not finite or lacks the site's joints."""
    skeleton = np.asarray(skeleton, dtype=np.float64)
    accelerometer = np.asarray(accelerometer, dtype=np.float64)
    if skeleton.ndim != 3 or skeleton.shape[2] != 3:
        raise InputError(f"the skeleton must be (T, joints, 3), got shape {skeleton.shape}")
    joints = max(site.start, site.end, *site.side)
    if skeleton.shape[1] <= joints:
        raise InputError(f"the skeleton has {skeleton.shape[1]} joints; the sensor site needs joint {joints}")
    if accelerometer.ndim != 2 or accelerometer.shape[1] != 3:
        raise InputError(f"the accelerometer must be (T, 3), got shape {accelerometer.shape}")
    for name, clip in (("skeleton", skeleton), ("accelerometer", accelerometer)):
        if len(clip) < MIN_FRAMES:
            raise InputError(f"the {name} clip has {len(clip)} frames; a virtual accelerometer needs at least "
                             f"{MIN_FRAMES}")
        if not np.isfinite(clip).all():
            raise InputError(f"the {name} clip holds NaN or infinite values")
    untracked = int((np.linalg.norm(skeleton[:, site.end] - skeleton[:, site.start], axis=-1) < 1e-3).sum())
    if untracked:
        raise InputError(f"the sensor's segment (joints {site.start} -> {site.end}) has no length in {untracked} "
                         "of the skeleton's frames (joints not tracked)")
    dt = (len(accelerometer) - 1) / rate / (len(skeleton) - 1)
    force = specific_force(skeleton, site, up, dt, smooth, frame)
    grid = resample_time(force.astype(np.float32), _FIT_GRID)
    real = resample_time(accelerometer.astype(np.float32), _FIT_GRID)
    return (force @ fit_rotation(grid.astype(np.float64), real.astype(np.float64))).astype(np.float32)


class VirtualInertial:
    """``data.virtual_inertial``: one virtual accelerometer twin per training recording that has the
    ``source`` skeleton and the accelerometer (:func:`virtual_acceleration`), read by the ``modality``
    transform as if it were recorded. ``smooth``: the Savitzky-Golay window in seconds; ``frame``: ``segment``
    (the body segment's moving frame) or ``world`` (the skeleton's axes, an ablation)."""

    def __init__(self, spec: Any, modality: str = "inertial", source: str = "skeleton", smooth: float = 0.5,
                 frame: str = "segment", transform: Any = None):
        for name in (modality, source):
            spec.modality(name)  # ConfigError for an unknown modality
        if getattr(spec, "skeleton_up", None) is None:
            raise ConfigError(f"config key 'data.virtual_inertial': dataset {spec.name} declares no sensor site on "
                              f"its '{source}' for '{modality}' (DatasetSpec.sensor_site and skeleton_up)")
        sensor = getattr(transform, "sensor", "acc")
        if sensor != "acc":
            raise ConfigError(f"config key 'data.virtual_inertial' makes accelerometer windows only, but "
                              f"data.modalities.{modality}.sensor is {sensor!r}: set it to acc")
        if frame not in FRAMES:
            raise ConfigError(f"config key 'data.virtual_inertial.frame': {frame!r} is not one of {', '.join(FRAMES)}")
        rate = spec.sampling_rate(modality)
        if not rate:
            raise ConfigError(f"config key 'data.virtual_inertial': {spec.name} '{modality}' has no fixed sampling rate")
        self.spec, self.modality, self.source = spec, modality, source
        self.smooth, self.rate, self.frame = float(smooth), float(rate), frame
        self.load_options = {**(transform.load_options() if transform is not None else {}), "sensor": "acc"}

    def covers(self, rec: Recording) -> bool:
        """True when ``rec`` gets a virtual twin (it has both modalities and a declared sensor site)."""
        return rec.has(self.modality) and rec.has(self.source) and self.spec.sensor_site(rec, self.modality) is not None

    def cache_config(self) -> dict:
        extra = {"frame": self.frame} if self.frame != "segment" else {}
        return {"virtual_from": self.source, "smooth": self.smooth, **extra}

    def files(self, rec: Recording) -> dict:
        return {self.modality: rec.files[self.modality], self.source: rec.files[self.source]}

    def load(self, rec: Recording, root: str | Path | None = None) -> np.ndarray:
        """The virtual (T, 3) accelerometer clip of ``rec``; DataError naming the skeleton file when it cannot be made."""
        skeleton = self.spec.load(rec, self.source, root=root)
        accelerometer = self.spec.load(rec, self.modality, root=root, **self.load_options)
        try:
            return virtual_acceleration(skeleton, accelerometer, self.spec.sensor_site(rec, self.modality),
                                        self.spec.skeleton_up, self.rate, self.smooth, self.frame)
        except InputError as err:
            raise DataError(rec.files[self.source], f"no virtual accelerometer for {rec.key}: {err}") from None
