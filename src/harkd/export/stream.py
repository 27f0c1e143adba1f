"""Streaming inference over a text sensor stream: ``harkd stream MODEL --input FILE|-``.

Input rows: ``timestamp,x,y,z[,gx,gy,gz]`` (comma and/or whitespace separated),
timestamps in seconds (``time_scale`` converts other units), values in the sensor's
units (acc g, gyro deg/s), the column layout of UTD-MHAD's inertial unit. The model's
manifest says which value columns it reads (``stream_columns``). Blank lines and lines
starting with ``#`` are ignored.

Policy:

- **Resampling on timestamps.** Samples are linearly interpolated onto a uniform grid
  at ``rate`` Hz (default: the model's sampling rate) starting at the first sample; so
  uneven sampling (jitter, dropped samples, a faster or slower sensor) is absorbed.
- **Gaps.** A jump of more than ``max_gap`` seconds (default 0.2 s, 10 samples at 50 Hz)
  between consecutive valid rows is reported on stderr and the buffer is reset: no
  window ever interpolates across a gap; predictions resume once a full window has
  been collected after the gap.
- **Malformed rows** (too few fields, non-numbers, NaN/inf, timestamps that do not
  increase) are reported on stderr with their line number and skipped; the stream
  never stops for them.
- **Windows.** A ring buffer holds the last ``window`` seconds of the grid
  (``round(window * rate)`` samples). The first prediction comes when it is full, then
  one every ``hop`` seconds. If the buffer length differs from the model's window, it
  is resampled to the model's window (the same normalised-time linear interpolation the
  model applies to its window). An input whose longest gap-free stretch is shorter than
  the window gives no prediction; :meth:`StreamPredictor.no_window_reason` says so.
- **Output** (stdout, one line per hop): ``timestamp,label,probability`` where
  ``timestamp`` is that of the newest grid sample in the window.
"""

from __future__ import annotations

import math
import re
import sys
import time
from dataclasses import dataclass, field
from typing import Callable, Iterable, Iterator, TextIO

import numpy as np

from harkd.errors import InputError

__all__ = ["StreamConfig", "StreamStats", "StreamPredictor", "parse_row"]

_SPLIT = re.compile(r"[,\s]+")
_FLOAT32_MAX = float(np.finfo(np.float32).max)


def parse_row(line: str, needed: int) -> tuple[float, np.ndarray]:
    """``(timestamp, values)`` of a row, or ValueError with the reason."""
    fields = [f for f in _SPLIT.split(line.strip()) if f]
    if len(fields) < needed + 1:
        raise ValueError(f"expected a timestamp and at least {needed} values, got {len(fields)} field(s)")
    try:
        numbers = [float(f) for f in fields[: needed + 1]]
    except ValueError:
        raise ValueError("not a number") from None
    if not all(math.isfinite(v) for v in numbers):
        raise ValueError("NaN or infinite value")
    if any(abs(v) > _FLOAT32_MAX for v in numbers[1:]):
        raise ValueError("value beyond the float32 range of the model's input")
    return numbers[0], np.asarray(numbers[1:], dtype=np.float64)


MAX_WINDOW_SAMPLES = 100_000  # a window's samples (the stream's buffer and interpolation matrix grow with it)


@dataclass
class StreamConfig:
    rate: float
    window: float
    hop: float
    max_gap: float = 0.2
    time_scale: float = 1.0

    def __post_init__(self):
        for name in ("rate", "window", "hop", "max_gap", "time_scale"):
            value = getattr(self, name)
            if not (isinstance(value, (int, float)) and math.isfinite(value) and value > 0):
                raise InputError(f"--{name.replace('_', '-')} must be a positive number, got {value!r}")
        if round(self.window * self.rate) < 2:
            raise InputError(f"--window {self.window} s at {self.rate} Hz holds fewer than 2 samples")
        if round(self.window * self.rate) > MAX_WINDOW_SAMPLES:
            raise InputError(f"--window {self.window:g} s at {self.rate:g} Hz holds {round(self.window * self.rate):,} "
                             f"samples, more than the {MAX_WINDOW_SAMPLES:,} a stream buffers: lower --window or --rate")
        if round(self.hop * self.rate) < 1:
            raise InputError(f"--hop {self.hop} s is shorter than one sample at {self.rate} Hz")


@dataclass
class StreamStats:
    rows: int = 0
    malformed: int = 0
    gaps: int = 0
    windows: int = 0
    seconds: float = 0.0
    inference_seconds: float = 0.0
    longest: int = 0  # grid samples in the longest stretch without a reset
    messages: list = field(default_factory=list)

    @property
    def windows_per_second(self) -> float:
        return self.windows / self.seconds if self.seconds > 0 else float("nan")

    def summary(self) -> str:
        return (f"harkd stream: {self.rows} rows ({self.malformed} malformed, skipped), {self.gaps} gap(s) "
                f"(buffer reset), {self.windows} windows in {self.seconds:.3f} s "
                f"({self.windows_per_second:.0f} windows/s; inference {self.inference_seconds:.3f} s)")


class StreamPredictor:
    """Ring buffer + timestamp resampling + one model call per hop.

    ``model``: a callable ``(1, C, W) float32 -> (1, classes)`` probabilities;
    ``columns``: which value columns of a row feed the model's channels;
    ``model_window``: W.
    """

    MAX_REPORTS = 100

    def __init__(self, model: Callable[[np.ndarray], np.ndarray], class_names: list, columns: list,
                 model_window: int, config: StreamConfig, report: Callable[[str], None] | None = None):
        self.model, self.class_names, self.columns = model, list(class_names), list(columns)
        self.model_window, self.config = int(model_window), config
        self.needed = max(self.columns) + 1
        self.size = int(round(config.window * config.rate))
        self.hop = max(1, int(round(config.hop * config.rate)))
        self.period = 1.0 / config.rate
        self.report = report or (lambda msg: print(msg, file=sys.stderr, flush=True))
        self.stats = StreamStats()
        self.resample = None
        if self.size != self.model_window:
            from harkd.export.pipeline import interpolation_matrix

            self.resample = interpolation_matrix(self.size, self.model_window).astype(np.float64)
        self.ring = np.zeros((self.size, len(self.columns)), dtype=np.float64)
        self._reset()

    def _reset(self) -> None:
        self.count = 0  # grid samples in the buffer since the last reset
        self.pos = 0
        self.since = 0  # grid samples since the last prediction
        self.prev: tuple[float, np.ndarray] | None = None
        self.grid0 = 0.0
        self.k = 0  # index of the next grid point

    def _warn(self, msg: str) -> None:
        self.stats.messages.append(msg)
        if len(self.stats.messages) <= self.MAX_REPORTS:
            self.report(msg)
        elif len(self.stats.messages) == self.MAX_REPORTS + 1:
            self.report(f"harkd stream: more than {self.MAX_REPORTS} problems; further ones are only counted")

    def _push(self, t: float, v: np.ndarray) -> str | None:
        self.ring[self.pos] = v
        self.pos = (self.pos + 1) % self.size
        self.count += 1
        self.since += 1
        self.stats.longest = max(self.stats.longest, self.count)
        if self.count < self.size or (self.count > self.size and self.since < self.hop):
            return None
        self.since = 0
        window = np.concatenate([self.ring[self.pos:], self.ring[:self.pos]]).T  # (C, size), oldest first
        if self.resample is not None:
            window = window @ self.resample
        start = time.perf_counter()
        probs = np.asarray(self.model(window[None].astype(np.float32)))[0]
        self.stats.inference_seconds += time.perf_counter() - start
        if probs.shape != (len(self.class_names),):
            raise InputError(f"the model returns {probs.shape[-1] if probs.ndim else 0} probabilities per window "
                             f"but its manifest lists {len(self.class_names)} class_names; re-export the model "
                             "with harkd export")
        self.stats.windows += 1
        best = int(np.argmax(probs))
        return f"{t:.3f},{self.class_names[best]},{float(probs[best]):.4f}"

    def feed(self, line: str, lineno: int) -> list[str]:
        """Process one text line; returns the prediction lines it completes."""
        text = line.strip()
        if not text or text.startswith("#"):
            return []
        self.stats.rows += 1
        try:
            t, values = parse_row(text, self.needed)
        except ValueError as err:
            self.stats.malformed += 1
            self._warn(f"harkd stream: line {lineno}: {err}; skipped: {text[:80]!r}")
            return []
        t *= self.config.time_scale
        v = values[self.columns]
        out: list[str] = []
        if self.prev is None:
            self.prev, self.grid0, self.k = (t, v), t, 1
            line_out = self._push(t, v)
            return [line_out] if line_out else []
        tp, vp = self.prev
        dt = t - tp
        if dt <= 0:
            self.stats.malformed += 1
            self._warn(f"harkd stream: line {lineno}: timestamp {t:g} does not increase (previous {tp:g}); skipped")
            return []
        if dt > self.config.max_gap:
            self.stats.gaps += 1
            self._warn(f"harkd stream: line {lineno}: gap of {dt:.3f} s after t={tp:.3f} (> {self.config.max_gap:g} s); "
                       "buffer reset")
            self._reset()
            self.prev, self.grid0, self.k = (t, v), t, 1
            line_out = self._push(t, v)
            return [line_out] if line_out else []
        while True:
            tg = self.grid0 + self.k * self.period
            if tg > t + 1e-9 * max(1.0, abs(t)):
                break
            a = (tg - tp) / dt
            line_out = self._push(tg, vp + (v - vp) * a)
            if line_out:
                out.append(line_out)
            self.k += 1
        self.prev = (t, v)
        return out

    def no_window_reason(self) -> str:
        """Why no window was filled (call after :meth:`run` when ``stats.windows == 0``)."""
        st, rate, size = self.stats, self.config.rate, self.size
        valid = st.rows - st.malformed
        if valid <= 0:
            return (f"0 windows: the input has no valid rows ({st.rows} read, {st.malformed} malformed); "
                    "expected rows 'timestamp,x,y,z[,gx,gy,gz]'")
        stretch = "longest stretch between gaps" if st.gaps else "input"
        return (f"0 windows: the {stretch} holds {st.longest} samples at {rate:g} Hz ({st.longest / rate:.2f} s), "
                f"fewer than the window of {size} samples ({self.config.window:g} s); stream a longer input "
                "or pass a shorter --window")

    def run(self, lines: Iterable[str], out: TextIO) -> StreamStats:
        start = time.perf_counter()
        for lineno, line in enumerate(lines, 1):
            for pred in self.feed(line, lineno):
                out.write(pred + "\n")
                out.flush()
        self.stats.seconds = time.perf_counter() - start
        return self.stats


def iter_lines(handle: TextIO) -> Iterator[str]:
    """Lines of a text stream, read as they arrive (also from a pipe), undecodable bytes replaced."""
    while True:
        line = handle.readline()
        if not line:
            return
        yield line
