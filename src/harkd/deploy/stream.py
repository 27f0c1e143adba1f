"""Streaming inference over a text sensor stream: ``harkd stream MODEL --input FILE|-``.

Input rows: ``timestamp,x,y,z[,gx,gy,gz]`` (comma and/or whitespace separated),
timestamps in seconds (``time_scale`` converts other units), values in the sensor's
units (acc g, gyro deg/s), the column layout of UTD-MHAD's inertial unit. The model's
manifest says which value columns it reads (``stream_columns``); ``select`` (``--columns``)
chooses others. Blank lines and lines starting with ``#`` are ignored; a first line that
is not numbers (``timestamp,x,y,z``) is a header.

Policy:

- **Any clock.** Timestamps are read as exact decimals and taken relative to the first
  valid row (the origin), so Unix time in seconds, milliseconds or microseconds gives
  exactly the windows and predictions of the same rows stamped from 0. Output timestamps
  are the origin plus the relative time, in seconds.
- **Resampling on timestamps.** Samples are linearly interpolated onto a uniform grid
  at ``rate`` Hz (default: the model's sampling rate) starting at the first sample; so
  uneven sampling (jitter, dropped samples, a faster or slower sensor) is absorbed.
- **Gaps.** A jump of more than ``max_gap`` seconds (default 0.2 s, 10 samples at 50 Hz)
  between consecutive valid rows is reported on stderr and the buffer is reset: no
  window ever interpolates across a gap; predictions resume once a full window has
  been collected after the gap.
- **Malformed rows** (too few fields, non-numbers, NaN/inf, timestamps that do not
  increase) are reported on stderr with their line number and skipped; the stream
  never stops for them. What cannot be a stream of rows at all stops it with one error
  naming the line: UTF-16 text or binary data (NUL bytes) before the first valid row, or a
  first row with more values than the model reads (``timestamp,x,y,z`` or the full
  ``timestamp,x,y,z,gx,gy,gz`` layout) unless ``select`` chooses the columns.
- **Windows.** A ring buffer holds the last ``window`` seconds of the grid
  (``round(window * rate)`` samples). The first prediction comes when it is full, then
  one every ``hop`` seconds. If the buffer length differs from the model's window, it
  is resampled to the model's window (the same normalised-time linear interpolation the
  model applies to its window). An input whose longest gap-free stretch is shorter than
  the window gives no prediction; :meth:`StreamPredictor.no_window_reason` says why
  (with ``--time-unit`` when the timestamps step like another unit).
- **Output** (stdout, one line per hop): ``timestamp,label,probability`` where
  ``timestamp`` is that of the newest grid sample in the window.
"""

from __future__ import annotations

import decimal
import math
import re
import sys
import time
from collections import Counter
from dataclasses import dataclass, field
from decimal import Decimal
from typing import Callable, Iterable, Iterator, NamedTuple, Sequence, TextIO

import numpy as np

from harkd.errors import InputError

__all__ = ["StreamConfig", "StreamStats", "StreamPredictor", "parse_row", "RowError", "TIME_UNITS", "LIMITS"]

_SPLIT = re.compile(r"[,\s]+")
_FLOAT32_MAX = float(np.finfo(np.float32).max)
_EXACT = decimal.Context(prec=80)  # timestamp arithmetic: exact for any timestamp text a logger writes
_MILLI = Decimal("0.001")

#: --time-unit -> seconds per unit
TIME_UNITS = {"s": 1.0, "ms": 1e-3, "us": 1e-6}
LAYOUT = "timestamp,x,y,z[,gx,gy,gz]"
FULL_LAYOUT_VALUES = 6  # acc x,y,z and gyro x,y,z: the row an acc- or gyro-only model also reads
MAX_WINDOW_SAMPLES = 100_000  # a window's samples (the stream's buffer and interpolation matrix grow with it)
#: option -> (upper bound, unit): beyond any sensor stream (a 100 kHz IMU, an hour's window or hop, a day's gap)
LIMITS = {"rate": (100_000.0, "Hz"), "window": (3600.0, "s"), "hop": (3600.0, "s"), "max_gap": (86400.0, "s"),
          "time_scale": (86400.0, "s per timestamp unit")}


class RowError(ValueError):
    """Why a row was skipped; ``kind`` is the short reason counted when no window could be made."""

    def __init__(self, message: str, kind: str | None = None):
        super().__init__(message)
        self.kind = kind or message


class Row(NamedTuple):
    time: Decimal  # the timestamp as written, exactly
    values: np.ndarray  # the values read (float64)
    count: int  # values after the timestamp


def parse_row(line: str, needed: int, columns: Sequence[int] | None = None) -> Row:
    """The row's exact timestamp and its first ``needed`` values (or the value ``columns``), else RowError."""
    fields = [f for f in _SPLIT.split(line.strip()) if f]
    if len(fields) < needed + 1:
        raise RowError(f"expected a timestamp and at least {needed} values, got {len(fields)} field(s)",
                       "too few values")
    picked = fields[1:needed + 1] if columns is None else [fields[1 + c] for c in columns]
    try:
        stamp = Decimal(fields[0])
        values = [float(f) for f in picked]
    except (ValueError, decimal.InvalidOperation):
        raise RowError("not a number") from None
    if not (stamp.is_finite() and math.isfinite(float(stamp)) and all(math.isfinite(v) for v in values)):
        raise RowError("NaN or infinite value")
    if any(abs(v) > _FLOAT32_MAX for v in values):
        raise RowError("value beyond the float32 range of the model's input")
    return Row(stamp, np.asarray(values, dtype=np.float64), len(fields) - 1)


def _is_header(line: str) -> bool:
    """A line with a field that is not a number (``timestamp,x,y,z``)."""
    for f in _SPLIT.split(line.strip()):
        if f:
            try:
                float(f)
            except ValueError:
                return True
    return False


_CONTROL = re.compile(r"[\x00-\x08\x0e-\x1f]")  # control characters no text row holds (not tab, CR, LF, FF, VT)


def _undecodable(line: str) -> str | None:
    """"UTF-16 text" (NUL bytes every other byte, or its byte-order mark) or "binary data" (control
    characters) when the line cannot be a text row, else None."""
    if not _CONTROL.search(line):
        return None
    nuls = line.count("\x00") / max(1, len(line.rstrip("\r\n")))
    utf16 = nuls and (line.startswith("\ufffd\ufffd") or 0.35 <= nuls <= 0.65)
    return "UTF-16 text" if utf16 else "binary data"


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
            high, unit = LIMITS[name]
            if not (isinstance(value, (int, float)) and not isinstance(value, bool) and math.isfinite(value)
                    and 0 < value <= high):
                raise InputError(f"--{name.replace('_', '-')} must be a positive number up to {high:g}"
                                 f"{' ' + unit if unit else ''}, got {value!r}")
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
    reasons: Counter = field(default_factory=Counter)  # malformed rows per short reason
    header: list | None = None  # the header row's names, if the input has one

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
    ``columns``: which value columns of a row feed the model's channels (0: the first value
    after the timestamp); ``model_window``: W; ``select``: the user's choice of those columns
    instead (``--columns``): field numbers (1: the first value after the timestamp) or names of
    the header row, one per channel.
    """

    MAX_REPORTS = 100
    MAX_STEPS = 1000  # timestamp steps kept for the --time-unit hint
    CLOCK_STEPS = 3  # so many gaps in a row from the start that fit another --time-unit stop the stream

    def __init__(self, model: Callable[[np.ndarray], np.ndarray], class_names: list, columns: list,
                 model_window: int, config: StreamConfig, report: Callable[[str], None] | None = None,
                 select: Sequence[int | str] | None = None):
        self.model, self.class_names = model, list(class_names)
        self.model_window, self.config = int(model_window), config
        self.select = None if select is None else list(select)
        if self.select is not None and len(self.select) != len(columns):
            raise InputError(f"--columns names {len(self.select)} column(s) but the model reads {len(columns)} "
                             f"channel(s)")
        if self.select is not None and not all(isinstance(c, str) or (isinstance(c, int) and c >= 1)
                                               for c in self.select):
            raise InputError(f"--columns takes header names or column numbers >= 1 (1: the first value after the "
                             f"timestamp), got {self.select}")
        self.columns: list[int] | None = None
        self._use_columns(list(columns) if self.select is None else self.select)
        self.size = int(round(config.window * config.rate))
        self.hop = max(1, int(round(config.hop * config.rate)))
        self.period = 1.0 / config.rate
        self.unit = Decimal(repr(float(config.time_scale)))
        self.report = report or (lambda msg: print(msg, file=sys.stderr, flush=True))
        self.stats = StreamStats()
        self.source = "input"
        self.lines = 0  # non-blank, non-comment lines seen
        self.steps: list[float] = []  # the first MAX_STEPS steps between valid rows, in seconds
        self.origin: Decimal | None = None  # the first valid row's timestamp (input units)
        self.resample = None
        if self.size != self.model_window:
            from harkd.deploy.pipeline import interpolation_matrix

            self.resample = interpolation_matrix(self.size, self.model_window).astype(np.float64)
        self.ring = np.zeros((self.size, len(columns)), dtype=np.float64)
        self._reset()

    def _use_columns(self, columns: list) -> None:
        """Set the value columns (ints; a ``select`` of field numbers is shifted, names wait for the header)."""
        if self.select is None:
            self.columns = columns
        elif all(isinstance(c, int) for c in columns):
            self.columns = [c - 1 for c in columns]
        self.needed = max(self.columns) + 1 if self.columns is not None else 0

    def _reset(self) -> None:
        self.count = 0  # grid samples in the buffer since the last reset
        self.pos = 0
        self.since = 0  # grid samples since the last prediction
        self.prev: tuple[Decimal, float, np.ndarray] | None = None  # (timestamp, relative seconds, values)
        self.grid0 = 0.0
        self.k = 0  # index of the next grid point

    def _warn(self, msg: str) -> None:
        self.stats.messages.append(msg)
        if len(self.stats.messages) <= self.MAX_REPORTS:
            self.report(msg)
        elif len(self.stats.messages) == self.MAX_REPORTS + 1:
            self.report(f"harkd stream: more than {self.MAX_REPORTS} problems; further ones are only counted")

    def _skip(self, lineno: int, kind: str, message: str) -> list[str]:
        self.stats.malformed += 1
        self.stats.reasons[kind] += 1
        self._warn(f"harkd stream: line {lineno}: {message}")
        return []

    def _seconds(self, stamp: Decimal) -> Decimal:
        """A timestamp in absolute seconds (exact)."""
        return _EXACT.multiply(stamp, self.unit)

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
        stamp = _EXACT.add(self._seconds(self.origin), Decimal(t)).quantize(_MILLI, context=_EXACT)
        return f"{stamp:f},{self.class_names[best]},{float(probs[best]):.4f}"

    def _header(self, text: str, lineno: int) -> None:
        """Take the first line as the header; resolve ``select`` names against it."""
        self.stats.header = [f for f in _SPLIT.split(text) if f]
        if self.select is None or self.columns is not None:
            return
        names = self.stats.header
        folded = [n.casefold() for n in names]
        fields = []
        for c in self.select:
            if isinstance(c, int):
                fields.append(c)
                continue
            if c.casefold() not in folded[1:]:
                what = "the timestamp" if folded and c.casefold() == folded[0] else "not a column"
                raise InputError(f"{self.source}: --columns {c!r} is {what} of the header on line {lineno} "
                                 f"({', '.join(names)}); name value columns or pass numbers, e.g. --columns 1,2,3")
            fields.append(folded.index(c.casefold(), 1))
        self._use_columns(fields)

    def _check_layout(self, row: Row, lineno: int) -> str | None:
        """A row with more values than the model reads: an error on the first valid row, a skip after it."""
        if self.select is not None or row.count == self.needed or row.count == max(self.needed, FULL_LAYOUT_VALUES):
            return None
        reads = f"the model reads {self.needed}" + (
            f" (or the {FULL_LAYOUT_VALUES} of '{LAYOUT}')" if self.needed < FULL_LAYOUT_VALUES else "")
        if self.origin is None:
            example = ",".join(str(c + 1) for c in self.columns)
            raise InputError(f"{self.source}: line {lineno}: {row.count} values after the timestamp, but {reads}: "
                             f"pass --columns to choose the model's {len(self.columns)} channel column(s), "
                             f"e.g. --columns {example}")
        return f"{row.count} values after the timestamp, but {reads}"

    def feed(self, line: str, lineno: int) -> list[str]:
        """Process one text line; returns the prediction lines it completes."""
        text = line.strip()
        if not text or text.startswith("#"):
            return []
        self.lines += 1
        if self.origin is None:
            encoding = _undecodable(line)
            if encoding:
                fix = ("convert it to UTF-8 first (e.g. iconv -f UTF-16 -t UTF-8)" if encoding == "UTF-16 text"
                       else f"expected text rows '{LAYOUT}'")
                raise InputError(f"{self.source}: line {lineno}: {encoding}, not UTF-8 text rows: {fix}")
            if self.lines == 1 and _is_header(text):
                self._header(text, lineno)
                return []
        if self.columns is None:
            raise InputError(f"{self.source}: --columns {','.join(map(str, self.select))} names columns, but the "
                             f"input has no header row (line {lineno} is the first row): pass column numbers, "
                             "e.g. --columns 1,2,3")
        self.stats.rows += 1
        if _undecodable(line):
            return self._skip(lineno, "binary data", "binary data (control characters); skipped")
        try:
            row = parse_row(text, self.needed, self.columns if self.select is not None else None)
        except RowError as err:
            return self._skip(lineno, err.kind, f"{err}; skipped: {text[:80]!r}")
        extra = self._check_layout(row, lineno)
        if extra:
            return self._skip(lineno, "too many values", f"{extra}; skipped: {text[:80]!r}")
        v = row.values if self.select is not None else row.values[self.columns]
        if self.origin is None:
            self.origin = row.time
        t = float(self._seconds(_EXACT.subtract(row.time, self.origin)))
        if self.prev is None:
            return self._start(row.time, t, v)
        stamp_p, tp, vp = self.prev
        if row.time <= stamp_p:
            return self._skip(lineno, "timestamp does not increase",
                              f"timestamp {row.time:f} does not increase (previous {stamp_p:f}); skipped")
        dt = t - tp
        if len(self.steps) < self.MAX_STEPS:
            self.steps.append(dt)
            self._check_clock(lineno)
        if dt > self.config.max_gap:
            self.stats.gaps += 1
            after = self._seconds(stamp_p).quantize(_MILLI, context=_EXACT)
            self._warn(f"harkd stream: line {lineno}: gap of {dt:.3f} s after t={after:f} (> {self.config.max_gap:g} s); "
                       "buffer reset")
            self._reset()
            return self._start(row.time, t, v)
        out: list[str] = []
        while True:
            tg = self.grid0 + self.k * self.period
            if tg > t + 1e-9 * max(1.0, abs(t)):
                break
            a = (tg - tp) / dt
            line_out = self._push(tg, vp + (v - vp) * a)
            if line_out:
                out.append(line_out)
            self.k += 1
        self.prev = (row.time, t, v)
        return out

    def _check_clock(self, lineno: int) -> None:
        """Stop early when each of the first CLOCK_STEPS steps is a gap and they fit another --time-unit."""
        steps = self.steps
        if len(steps) == self.CLOCK_STEPS and self.stats.windows == 0 and min(steps) > self.config.max_gap:
            hint = self._unit_hint()
            if hint:
                raise InputError(f"{self.source}: line {lineno}: each of the first {len(steps)} steps between rows "
                                 f"is a gap (> {self.config.max_gap:g} s){hint}")

    def _start(self, stamp: Decimal, t: float, v: np.ndarray) -> list[str]:
        """The first sample of a stretch (after the start or a gap): the grid starts on it."""
        self.prev, self.grid0, self.k = (stamp, t, v), t, 1
        line_out = self._push(t, v)
        return [line_out] if line_out else []

    def _unit_hint(self) -> str:
        """``; ... pass --time-unit U`` when the median step between rows fits the rate in another unit."""
        steps = [s for s in self.steps if s > 0]
        if not steps:
            return ""
        current = float(self.unit)
        raw = float(np.median(steps)) / current  # in the input's units

        def misfit(scale: float) -> float:  # decades between the step read in that unit and one sample period
            return abs(math.log10(raw * scale * self.config.rate))

        best = min(TIME_UNITS, key=lambda u: misfit(TIME_UNITS[u]))
        if TIME_UNITS[best] == current or misfit(TIME_UNITS[best]) > 1 or misfit(TIME_UNITS[best]) >= misfit(current):
            return ""
        names = {"s": "seconds", "ms": "milliseconds", "us": "microseconds"}
        return (f"; the timestamps step by a median of {raw:g} ({raw * current:g} s as read), which at "
                f"{self.config.rate:g} Hz looks like {names[best]}: pass --time-unit {best}")

    def no_window_reason(self) -> str:
        """Why no window was filled (call after :meth:`run` when ``stats.windows == 0``)."""
        st, rate, size = self.stats, self.config.rate, self.size
        valid = st.rows - st.malformed
        if st.rows == 0:
            only = " but its header" if st.header is not None else ""
            return f"0 windows: the input holds no rows{only}; expected rows '{LAYOUT}'"
        if valid <= 0:
            why = ", ".join(f"{kind} ({n})" for kind, n in st.reasons.most_common())
            hint = ""
            if st.reasons.most_common(1)[0][0] == "too few values" and self.select is None:
                hint = f", or pass --columns to choose the model's {len(self.columns)} channel column(s)"
            return (f"0 windows: the input has no valid rows ({st.rows} read, {st.malformed} malformed: {why}); "
                    f"expected rows '{LAYOUT}'{hint}")
        stretch = "longest stretch between gaps" if st.gaps else "input"
        return (f"0 windows: the {stretch} holds {st.longest} samples at {rate:g} Hz ({st.longest / rate:.2f} s), "
                f"fewer than the window of {size} samples ({self.config.window:g} s)" + (
                    self._unit_hint() or "; stream a longer input or pass a shorter --window"))

    def run(self, lines: Iterable[str], out: TextIO, source: str = "input") -> StreamStats:
        self.source = source
        start = time.perf_counter()
        for lineno, line in enumerate(lines, 1):
            for pred in self.feed(line, lineno):
                out.write(pred + "\n")
                out.flush()
        self.stats.seconds = time.perf_counter() - start
        return self.stats


def iter_lines(handle) -> Iterator[str]:
    """Lines of a text or binary stream, read as they arrive (also from a pipe); bytes are decoded as
    UTF-8 with undecodable bytes replaced, a UTF-8 byte-order mark on the first line dropped."""
    first = True
    while True:
        line = handle.readline()
        if not line:
            return
        if isinstance(line, bytes):
            line = line.decode("utf-8", errors="replace")
        if first:
            line, first = line.removeprefix("\ufeff"), False
        yield line
