"""Put time-first streams on a common grid: the one resampling implementation of harkd.

- :func:`checked_times`: the gap rules of a timestamped stream (repeated stamps dropped and
  reported, backwards stamps and gaps over ``max_gap`` refused, gaps over :data:`REPORTED_GAP`
  interpolated and reported), shared by the Berkeley-MHAD and the user-format readers;
- :func:`check_rate`: a file whose median interval says it was not recorded at the declared rate
  is refused (mixed sampling rates); :func:`resample_stream` applies both and resamples;
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

from pathlib import Path

import math

import numpy as np

from harkd.errors import DataError, warn

__all__ = ["checked_times", "check_rate", "resample_stream", "uniform_grid", "interpolate", "resample_at",
           "resample_time", "window_positions", "DEFAULT_MAX_GAP", "REPORTED_GAP", "DEFAULT_RATE_TOLERANCE"]

#: How far below a whole number of samples a span still reaches it (float rounding of epoch seconds).
GRID_SLACK = 1e-3
#: Seconds without a sample before a stream counts as broken (Berkeley-MHAD's release: <= 1.19 s).
DEFAULT_MAX_GAP = 2.0
#: Seconds: longer gaps (up to ``max_gap``) are interpolated and reported.
REPORTED_GAP = 1.0
#: How far (a fraction) a file's measured rate may be from the declared one before :func:`check_rate` refuses it.
DEFAULT_RATE_TOLERANCE = 0.25


def checked_times(path: Path, times: np.ndarray, max_gap: float | None = None, what: str = "sample",
                  lines: np.ndarray | None = None, option: str = "the load option max_gap") -> np.ndarray:
    """Row mask keeping strictly increasing ``times`` (a repeated time stamp keeps its first
    row, reported); fewer than 2 distinct times, a time stamp that goes backwards or a gap over
    ``max_gap`` s is a DataError; each gap over :data:`REPORTED_GAP` (up to ``max_gap``) is
    interpolated by the caller and reported with :func:`harkd.errors.warn`.

    Messages name ``row N`` (1-based position in ``times``) or, given ``lines`` (the file line of
    each time), ``line N``; ``option`` is what raises ``max_gap`` (named in the gap error)."""
    def row(i: int) -> str:
        return f"row {i + 1}" if lines is None else f"line {int(lines[i])}"

    if len(times) < 2:
        raise DataError(path, f"only {len(times)} {what} (need at least 2 to resample)")
    dt = np.diff(times)
    back = np.flatnonzero(dt < 0)
    if back.size:
        i = int(back[0]) + 1
        raise DataError(path, f"time stamps not increasing: {row(i)} ({times[i]:.6f}) is before "
                              f"{row(i - 1)} ({times[i - 1]:.6f})")
    keep = np.concatenate([[True], dt > 0])
    if keep.sum() < 2:
        raise DataError(path, f"all {len(times)} rows have the same time stamp {times[0]:.6f} "
                              f"(need at least 2 distinct times to resample)")
    if not keep.all():  # none in the Berkeley-MHAD release
        repeated = np.flatnonzero(~keep)
        warn(f"{path}: {len(repeated)} row{'s' if len(repeated) > 1 else ''} with a repeated time stamp dropped "
             f"(first: {row(int(repeated[0]))}; the first row of each time stamp is kept)")
    if max_gap is not None and dt.max() > max_gap:
        i = int(np.argmax(dt)) + 1
        raise DataError(path, f"gap of {dt[i - 1]:.3f} s without samples before {row(i)} (max_gap {max_gap:g} s; "
                              f"raise {option} to interpolate it)")
    gaps = [f"{dt[i]:.3f} s before {row(int(i) + 1)}" for i in np.flatnonzero(dt > REPORTED_GAP)]
    if gaps:
        bound = "no max_gap" if max_gap is None else f"max_gap {max_gap:g} s"
        what = f"gap of {gaps[0].replace(' before', ' without samples before')}" if len(gaps) == 1 else \
            f"{len(gaps)} gaps without samples ({', '.join(gaps)})"
        warn(f"{path}: {what}, linearly interpolated ({bound})")
    return keep


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


def check_rate(path: Path, times: np.ndarray, rate: float, tolerance: float | None) -> None:
    """A DataError when the median interval of ``times`` (seconds) says the file was not recorded at
    ``rate`` Hz (more than ``tolerance`` off; None accepts any rate)."""
    dt = np.diff(times)
    dt = dt[dt > 0]
    if tolerance is None or not dt.size:
        return
    measured = 1.0 / float(np.median(dt))
    if abs(math.log(measured / rate)) > math.log1p(tolerance):
        raise DataError(path, f"sampled at {measured:.3g} Hz (median interval {1000 / measured:.3g} ms), not at the "
                              f"declared {rate:g} Hz: mixed sampling rates (more than {tolerance:.0%} off; set "
                              f"rate_tolerance: null to resample every file to {rate:g} Hz)")


def resample_stream(path: Path, times: np.ndarray, values: np.ndarray, rate: float,
                    max_gap: float | None = DEFAULT_MAX_GAP, lines: np.ndarray | None = None,
                    option: str = "the load option max_gap", rate_tolerance: float | None = None) -> np.ndarray:
    """A timestamped stream (``times`` (N,) seconds, ``values`` (N, ...)) under the gap rules of
    :func:`checked_times` (and, with ``rate_tolerance``, :func:`check_rate`), linearly interpolated onto
    a uniform ``rate`` Hz grid from its first time stamp -> (T, ...) float32; a span of less than one
    sample interval is a DataError."""
    keep = checked_times(path, times, max_gap, lines=lines, option=option)
    times, values = times[keep], values[keep]
    check_rate(path, times, rate, rate_tolerance)
    grid = uniform_grid(times[0], times[-1], rate)
    if len(grid) < 2:
        raise DataError(path, f"covers only {times[-1] - times[0]:.3f} s: fewer than 2 samples at {rate:g} Hz")
    return np.ascontiguousarray(interpolate(values, times, grid), dtype=np.float32)
