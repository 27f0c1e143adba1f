"""Put time-first streams on a common grid: the one resampling implementation of harkd.

- :func:`uniform_grid`: the times of a uniform ``rate`` Hz grid over a span (the
  accelerometer and phone-sensor readers resample timestamped streams onto it);
- :func:`interpolate`: linear interpolation of a (T, ...) stream sampled at ``times`` onto
  any grid, in float64 (:func:`numpy.interp` per column); a uniformly sampled clip is the
  case ``times = arange(T)`` (frame positions);
- :func:`resample_at`: the same interpolation at fractional frame positions, computed in
  float32 with two taps ``(1 - w) x[lo] + w x[lo + 1]`` (the transforms' resampling, which the
  exported models reproduce exactly); :func:`resample_time` (``n`` points over the whole clip)
  and :func:`window_positions` (a normalised-time window) give it its positions.

The two kernels agree up to float32 rounding; each caller keeps the one it always used, so
every result is bit-identical to the readers' and transforms' earlier code.
"""

from __future__ import annotations

import numpy as np

__all__ = ["uniform_grid", "interpolate", "resample_at", "resample_time", "window_positions"]

#: How far below a whole number of samples a span still reaches it (float rounding of epoch seconds).
GRID_SLACK = 1e-3


def uniform_grid(start: float, stop: float, rate: float, slack: float = GRID_SLACK) -> np.ndarray:
    """``start + k / rate`` for k = 0, 1, ... up to ``stop`` (float64); empty when ``stop`` is before ``start``.

    A span within ``slack`` samples of a whole number of samples gets that last sample."""
    return start + np.arange(int(np.floor((stop - start) * rate + slack)) + 1) / rate


def interpolate(values: np.ndarray, times: np.ndarray, grid: np.ndarray) -> np.ndarray:
    """Time-first ``values`` (T, ...) sampled at increasing ``times`` (T,), linearly interpolated
    at ``grid`` (N,) -> (N, ...) float64; outside ``times`` the end values are held."""
    flat = values.reshape(len(values), -1)
    out = np.stack([np.interp(grid, times, flat[:, c]) for c in range(flat.shape[1])], axis=1)
    return out.reshape(len(grid), *values.shape[1:])


def resample_at(x: np.ndarray, pos: np.ndarray) -> np.ndarray:
    """``x`` (time on axis 0, at least 2 samples) linearly interpolated at fractional frame positions ``pos``; float32."""
    t = x.shape[0]
    x = x.astype(np.float32, copy=False)
    lo = np.clip(np.floor(pos).astype(np.int64), 0, t - 2)
    w = (pos - lo).astype(np.float32).reshape(-1, *([1] * (x.ndim - 1)))
    return (1 - w) * x[lo] + w * x[lo + 1]


def resample_time(x: np.ndarray, n: int) -> np.ndarray:
    """Linearly interpolate ``x`` (time on axis 0) onto ``n`` points evenly spaced in
    normalised time; the first and last samples are kept. Returns float32."""
    t = x.shape[0]
    if t == 1:
        return np.repeat(x.astype(np.float32, copy=False), n, axis=0)
    return resample_at(x, np.linspace(0.0, t - 1, n))


def window_positions(t: int, start: float, end: float) -> np.ndarray:
    """``t`` frame positions from normalised time ``start`` to ``1 - end`` of a ``t``-frame clip."""
    return np.linspace(start * (t - 1), (1 - end) * (t - 1), t)
