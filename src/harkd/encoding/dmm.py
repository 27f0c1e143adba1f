"""Depth motion maps (DMM): a depth clip's motion energy seen from the front, the side and the top.

A depth frame (H, W; depth in the clip's units, 0 = nothing measured) is projected onto three
planes, each as a ``size x size`` map:

* ``front`` (x-y): the depth image, scaled over the clip's depth range so that near is 1 and far
  is 0; pixels without depth are 0;
* ``side`` (y-z) and ``top`` (z-x): binary occupancy of ``z_bins`` depth bins over that range.

A view's DMM over frames ``a..b`` is ``sum_t |map[t+1] - map[t]|`` (front differences of at most
``threshold`` are ignored: sensor noise), scaled by its maximum to [0, 1]. A clip without motion,
or without any depth, gives zeros. ``segments`` lists temporal splittings: ``(1, 3)`` stacks the
whole clip's DMMs and those of its three equal thirds. A DMM alone cannot tell *swipe left* from
*swipe right*; the segments keep the order of events.

Output: ``(sum(segments) * len(views), size, size)`` float32, segment-major (whole clip first),
then views in the order given.
"""

from __future__ import annotations

from typing import Sequence

import numpy as np
import torch
import torch.nn.functional as F

from harkd.data.transforms import register_depth_encoding
from harkd.errors import InputError

__all__ = ["VIEWS", "depth_motion_maps", "dmm_channels"]

VIEWS = ("front", "side", "top")
_RANGE_PERCENTILES = (0.5, 99.5)  # the clip's depth range: robust to a few stray far/near pixels
_MIN_COVERAGE = 0.3  # an output pixel is "measured" when at least this fraction of its input area is


def dmm_channels(views: Sequence[str] = VIEWS, segments: Sequence[int] = (1, 3)) -> int:
    """Number of channels :func:`depth_motion_maps` returns."""
    return len(views) * sum(segments)


def _check(frames: np.ndarray, views: Sequence[str], segments: Sequence[int], size: int, z_bins: int) -> None:
    if frames.ndim != 3:
        raise InputError(f"depth_motion_maps expects a (T, H, W) depth clip, got shape {tuple(frames.shape)}")
    bad = [v for v in views if v not in VIEWS]
    if bad or not views or len(set(views)) != len(views):
        raise InputError(f"depth_motion_maps 'views' must be distinct names from {list(VIEWS)}, got {list(views)}")
    if not segments or any(not isinstance(s, (int, np.integer)) or isinstance(s, bool) or s < 1 for s in segments):
        raise InputError(f"depth_motion_maps 'segments' must be positive integers, got {list(segments)}")
    for name, value in (("size", size), ("z_bins", z_bins)):
        if not isinstance(value, (int, np.integer)) or isinstance(value, bool) or value < 2:
            raise InputError(f"depth_motion_maps '{name}' must be an integer >= 2, got {value!r}")
    if np.issubdtype(frames.dtype, np.floating):
        bad_values = ~np.isfinite(frames)
        if bad_values.any():
            first = tuple(int(i) for i in np.unravel_index(int(bad_values.argmax()), frames.shape))
            raise InputError(f"depth clip has {int(bad_values.sum())} NaN/inf values (first at frame {first[0]}, "
                             f"pixel {first[1:]}): depth motion maps need finite depth")


def _project(frames: np.ndarray, size: int, z_bins: int):
    """The front maps (T, size, size) and the side (T, size, z_bins) / top (T, z_bins, size) occupancy."""
    x = torch.from_numpy(np.ascontiguousarray(frames, dtype=np.float32))[:, None]
    measured = (x > 0).float()
    # area-average depth over measured pixels only (blending in the zeros would invent near depth at edges)
    coverage = F.interpolate(measured, size=(size, size), mode="area")[:, 0]
    total = F.interpolate(x, size=(size, size), mode="area")[:, 0]
    depth = torch.where(coverage >= _MIN_COVERAGE, total / coverage.clamp_min(1e-6), torch.zeros(()))
    depth = depth.numpy()
    valid = depth > 0
    t = len(frames)
    front = np.zeros((t, size, size), np.float32)
    side = np.zeros((t, size, z_bins), np.float32)
    top = np.zeros((t, z_bins, size), np.float32)
    if not valid.any():
        return front, side, top, 0.0
    near, far = np.percentile(depth[valid], _RANGE_PERCENTILES)
    span = max(float(far - near), 1e-6)
    z = np.clip((depth - near) / span, 0.0, 1.0)
    front[valid] = 1.0 - z[valid]
    tt, yy, xx = np.nonzero(valid)
    zz = np.minimum((z[tt, yy, xx] * z_bins).astype(np.int64), z_bins - 1)
    side[tt, yy, zz] = 1.0
    top[tt, zz, xx] = 1.0
    return front, side, top, span


def _motion_energy(maps: np.ndarray, threshold: float) -> np.ndarray:
    if len(maps) < 2:
        return np.zeros(maps.shape[1:], np.float32)
    diff = np.abs(np.diff(maps, axis=0))
    if threshold > 0:
        diff[diff <= threshold] = 0.0
    energy = diff.sum(0)
    peak = float(energy.max())
    return energy / peak if peak > 0 else energy


def depth_motion_maps(frames: np.ndarray, views: Sequence[str] = VIEWS, segments: Sequence[int] = (1, 3),
                      size: int = 64, z_bins: int = 64, threshold: float = 0.0) -> np.ndarray:
    """Depth motion maps of a ``(T, H, W)`` clip (see the module docstring).

    ``threshold`` is in the clip's depth units (millimetres for UTD-MHAD): front-view changes of
    at most that much are noise. Segments shorter than two frames are widened to two (a clip of one
    frame has no motion: zeros).
    """
    frames = np.asarray(frames)
    views, segments = list(views), list(segments)
    _check(frames, views, segments, size, z_bins)
    front, side, top, span = _project(frames, size, z_bins)
    planes = {"front": (front, threshold / span if span else 0.0), "side": (side, 0.0), "top": (top, 0.0)}
    t = len(frames)
    out = []
    for count in segments:
        edges = np.linspace(0, t, count + 1).round().astype(int)
        for k in range(count):
            a = min(int(edges[k]), max(t - 2, 0))
            b = max(int(edges[k + 1]), a + 2)
            for view in views:
                maps, thr = planes[view]
                energy = _motion_energy(maps[a:b], thr)
                if energy.shape != (size, size):
                    energy = F.interpolate(torch.from_numpy(np.ascontiguousarray(energy))[None, None], size=(size, size),
                                           mode="bilinear", align_corners=False)[0, 0].numpy()
                out.append(energy)
    return np.stack(out).astype(np.float32)


register_depth_encoding("dmm", depth_motion_maps)
