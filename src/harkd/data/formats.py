"""Readers for the formats people record in: timestamped sensor CSV/TSV and NumPy/MATLAB arrays.

- :func:`read_timestamped`: one sensor's rows ``time, x, y, z`` (comma, tab, semicolon or
  whitespace separated; a header row or none; time in seconds, milliseconds, microseconds,
  nanoseconds or ISO 8601), resampled on its time stamps onto a uniform ``rate`` Hz grid with
  the Berkeley-MHAD gap rules (:func:`harkd.data.timeseries.checked_times`);
- :func:`read_array`: ``.npy``, ``.npz`` (one array or ``key``) and ``.mat`` (``variable``),
  time on ``time_axis``, returned time first as float32.

Keypoint files (MediaPipe, OpenPose, COCO) are read by :mod:`harkd.data.keypoints`. Every
problem is one :class:`~harkd.errors.DataError` whose message starts with the file's path and
names the line.
"""

from __future__ import annotations

import math
import re
from dataclasses import dataclass
from datetime import datetime, timezone
from pathlib import Path
from typing import Sequence

import numpy as np

from harkd.errors import ConfigError, DataError
from harkd.data.readers import read_file
from harkd.data.timeseries import DEFAULT_MAX_GAP, DEFAULT_RATE_TOLERANCE, resample_stream

__all__ = ["TextTable", "read_text_table", "parse_times", "seconds_of", "read_timestamped", "read_array", "TIME_UNITS",
           "column_index", "find_time_column"]

#: seconds per unit of a numeric time column
TIME_UNITS = {"s": 1.0, "ms": 1e-3, "us": 1e-6, "ns": 1e-9}
#: header names of a time column (lower case, after folding spaces and dashes to ``_``)
TIME_NAMES = re.compile(r"(time|timestamp|ts|t|datetime|date_time|epoch|seconds|elapsed)(_?\(?(s|sec|ms|us|ns|"
                        r"millis|micros|nanos|milliseconds|microseconds|nanoseconds|seconds)\)?)?")
_UNIT_HINTS = (("ns", ("ns", "nanos", "nanoseconds")), ("us", ("us", "micros", "microseconds")),
               ("ms", ("ms", "millis", "milliseconds")), ("s", ("s", "sec", "seconds")))


@dataclass
class TextTable:
    """A delimited text file: ``header`` (None without one), data ``rows`` of string fields and the
    file ``lines`` (1-based) they came from."""

    path: Path
    header: list[str] | None
    rows: list[list[str]]
    lines: list[int]

    @property
    def width(self) -> int:
        return len(self.header) if self.header is not None else len(self.rows[0])

    def column_name(self, i: int) -> str:
        return self.header[i] if self.header is not None else f"column {i}"

    def numbers(self, columns: Sequence[int]) -> np.ndarray:
        """The ``columns`` as (N, len(columns)) float64; a non-numeric or NaN/inf cell is a DataError naming its line."""
        try:
            out = np.array([[row[c] for c in columns] for row in self.rows], dtype=np.float64)
        except ValueError:
            out = None
        if out is not None and np.isfinite(out).all():
            return out
        for row, line in zip(self.rows, self.lines):
            for c in columns:
                try:
                    value = float(row[c])
                except ValueError:
                    text = row[c]
                    raise DataError(self.path, f"line {line}: non-numeric value '{text}' in {self.describe(c)}"
                                    if text else f"line {line}: empty value in {self.describe(c)}") from None
                if not math.isfinite(value):
                    raise DataError(self.path, f"line {line}: NaN/inf value in {self.describe(c)}")
        raise AssertionError("unreachable: numbers() found no bad value")  # pragma: no cover

    def describe(self, c: int) -> str:
        return f"column '{self.header[c]}'" if self.header is not None else f"column {c}"


def _is_number(text: str) -> bool:
    try:
        float(text)
    except ValueError:
        return False
    return True


def _is_iso_time(text: str) -> bool:
    return _iso_seconds(text) is not None


def _iso_seconds(text: str) -> float | None:
    """Seconds since the epoch of an ISO 8601 time (a time without zone is read as UTC); None if not one."""
    if len(text) < 8 or not text[:4].isdigit():
        return None
    try:
        stamp = datetime.fromisoformat(text.strip())
    except ValueError:
        return None
    if stamp.tzinfo is None:
        stamp = stamp.replace(tzinfo=timezone.utc)
    return stamp.timestamp()


def _split(line: str, delimiter: str | None) -> list[str]:
    return [f.strip() for f in (line.split(delimiter) if delimiter else line.split())]


def read_text_table(path: str | Path, header: bool | None = None, min_rows: int = 1) -> TextTable:
    """Parse a delimited text file: comma, tab or semicolon (whichever the first row has), else whitespace.

    Blank lines and lines starting with ``#`` are skipped; a UTF-8 byte-order mark is fine.
    ``header`` None detects it: the first row is a header when a field other than its first is not a
    number, or its first field is neither a number nor an ISO time. Every row must have the first
    row's number of fields (one DataError naming the line otherwise)."""
    path = Path(path)
    try:
        text = read_file(path).decode("utf-8-sig")
    except UnicodeDecodeError as err:
        raise DataError(path, f"not a text file (cannot decode byte {err.start} as UTF-8)") from None
    numbered = [(n, line.strip()) for n, line in enumerate(text.splitlines(), 1)]
    numbered = [(n, line) for n, line in numbered if line and not line.startswith("#")]
    if not numbered:
        raise DataError(path, "no data rows (only blank or # lines)")
    first = numbered[0][1]
    delimiter = next((d for d in ("\t", ",", ";") if d in first), None)
    head = _split(first, delimiter)
    if header is None:
        header = any(not _is_number(f) for f in head[1:]) or not (_is_number(head[0]) or _is_iso_time(head[0]))
    names = head if header else None
    body = numbered[1:] if header else numbered
    rows, lines = [], []
    for n, line in body:
        fields = _split(line, delimiter)
        if len(fields) != len(head):
            shown = f" ({','.join(names)})" if names else ""
            raise DataError(path, f"line {n}: expected {len(head)} fields{shown}, got {len(fields)}")
        rows.append(fields)
        lines.append(n)
    if len(rows) < min_rows:
        raise DataError(path, f"only {len(rows)} data row{'s' if len(rows) != 1 else ''} (need at least {min_rows})")
    if names is not None:
        names = [re.sub(r"[\s\-]+", "_", f.strip().lower()) for f in names]
    return TextTable(path, names, rows, lines)


def find_time_column(table: TextTable, time_column: str | int | None = None) -> int:
    """The index of the time column: ``time_column`` (a header name or index), else the header's
    time-like name, else the first column."""
    if time_column is not None:
        return column_index(table, time_column, "time_column")
    if table.header is not None:
        for i, name in enumerate(table.header):
            if TIME_NAMES.fullmatch(name):
                return i
    return 0


def column_index(table: TextTable, column: str | int, option: str) -> int:
    """A column by header name (case-insensitive) or 0-based index; ConfigError-worded DataError if absent."""
    if isinstance(column, int) and not isinstance(column, bool):
        if 0 <= column < table.width:
            return column
        raise DataError(table.path, f"{option} {column} is not a column index (0..{table.width - 1})")
    name = re.sub(r"[\s\-]+", "_", str(column).strip().lower())
    if table.header is not None and name in table.header:
        return table.header.index(name)
    found = ", ".join(table.header) if table.header is not None else f"no header, {table.width} columns"
    raise DataError(table.path, f"{option} '{column}' is not a column of this file ({found})")


def _unit_hint(name: str | None) -> str | None:
    if not name:
        return None
    suffix = re.split(r"[_()]+", name.strip("_()"))[-1]
    for unit, words in _UNIT_HINTS:
        if suffix in words:
            return unit
    return None


def parse_times(table: TextTable, column: int, time_unit: str = "auto", rate: float | None = None) -> np.ndarray:
    """Seconds of the time ``column`` (float64): ISO 8601 times, or numbers in ``time_unit``.

    ``auto``: ISO times when the first cell is one; else the unit the header names
    (``timestamp_ms``, ``time (s)``); else, with a declared ``rate``, the unit whose median interval
    is closest to ``1 / rate``; else seconds."""
    if time_unit != "auto" and time_unit not in (*TIME_UNITS, "iso"):
        raise ConfigError(f"time_unit must be auto, iso, {', '.join(TIME_UNITS)}, got {time_unit!r}")
    first = table.rows[0][column]
    if time_unit == "iso" or (time_unit == "auto" and not _is_number(first) and _is_iso_time(first)):
        out = np.empty(len(table.rows))
        for i, (row, line) in enumerate(zip(table.rows, table.lines)):
            seconds = _iso_seconds(row[column])
            if seconds is None:
                raise DataError(table.path, f"line {line}: '{row[column]}' in {table.describe(column)} is not an "
                                            "ISO 8601 time (e.g. 2024-05-01T10:00:00.020)")
            out[i] = seconds
        return out
    raw = table.numbers([column])[:, 0]
    unit = time_unit if time_unit != "auto" else _unit_hint(table.header[column] if table.header else None)
    return seconds_of(raw, unit, rate)


def seconds_of(raw: np.ndarray, unit: str | None, rate: float | None = None) -> np.ndarray:
    """Numeric times in ``unit`` as seconds; ``unit`` None: the unit whose median interval is closest to
    ``1 / rate`` (seconds without a rate)."""
    if unit is None and rate:
        dt = np.diff(raw)
        step = float(np.median(dt[dt > 0])) if (dt > 0).any() else 0.0
        unit = min(TIME_UNITS, key=lambda u: abs(math.log(step * TIME_UNITS[u] * rate))) if step > 0 else "s"
    return raw * TIME_UNITS[unit or "s"]


def read_timestamped(path: str | Path, rate: float, columns: Sequence[str | int] | None = None,
                     time_column: str | int | None = None, time_unit: str = "auto",
                     max_gap: float | None = DEFAULT_MAX_GAP, rate_tolerance: float | None = DEFAULT_RATE_TOLERANCE,
                     header: bool | None = None, option: str = "max_gap") -> np.ndarray:
    """One sensor's timestamped rows -> (T, C) float32 on a uniform ``rate`` Hz grid from the first time stamp.

    ``columns`` picks the value columns (header names or 0-based indices; default every column but
    the time column). Repeated time stamps keep their first row (reported), time going backwards or
    a gap over ``max_gap`` seconds is refused, gaps over 1 s are interpolated and reported; a file
    whose median interval is more than ``rate_tolerance`` off ``1 / rate`` is refused (mixed
    sampling rates). ``option`` names ``max_gap`` in the gap error."""
    path = Path(path)
    table = read_text_table(path, header, min_rows=2)
    t_col = find_time_column(table, time_column)
    if columns is None:
        picked = [c for c in range(table.width) if c != t_col]
    else:
        picked = [column_index(table, c, "column") for c in columns]
    if not picked:
        raise DataError(path, f"no value column besides the time column {table.describe(t_col)}")
    times = parse_times(table, t_col, time_unit, rate)
    values = table.numbers(picked)
    return resample_stream(path, times, values, rate, max_gap, np.asarray(table.lines), option, rate_tolerance)


def check_array(path: Path, arr, what: str, time_axis: int = 0, ndim: Sequence[int] = (1, 2, 3, 4)) -> np.ndarray:
    """``arr`` as a time-first float32 array: numeric, ``ndim`` dimensions, at least 2 frames, finite."""
    if not isinstance(arr, np.ndarray) or arr.dtype.kind not in "biuf":
        kind = getattr(arr, "dtype", type(arr).__name__)
        raise DataError(path, f"{what} is not a numeric array ({kind})")
    if arr.ndim not in ndim:
        raise DataError(path, f"{what} has shape {arr.shape}: expected {' or '.join(map(str, ndim))} dimensions")
    if not -arr.ndim <= time_axis < arr.ndim:
        raise DataError(path, f"{what} has {arr.ndim} dimensions, so time_axis {time_axis} does not exist")
    arr = np.moveaxis(arr, time_axis, 0)
    if arr.shape[0] < 2:
        raise DataError(path, f"{what} has only {arr.shape[0]} frame{'s' if arr.shape[0] != 1 else ''} "
                              "(need at least 2)")
    with np.errstate(over="ignore"):
        out = np.ascontiguousarray(arr, dtype=np.float32)
    bad = ~np.isfinite(out)
    if bad.any():
        raise DataError(path, f"{what} has {int(bad.sum())} NaN/inf value(s) (first at frame "
                              f"{int(np.argwhere(bad)[0][0])})")
    return out[:, None] if out.ndim == 1 else out


def read_array(path: str | Path, key: str | None = None, time_axis: int = 0,
               ndim: Sequence[int] = (1, 2, 3, 4)) -> np.ndarray:
    """A ``.npy``, ``.npz`` (its one array, or ``key``) or ``.mat`` (variable ``key``) array, time first, float32.

    A 1-D array is one channel, (T, 1)."""
    from harkd.data.readers import _load_variable

    path = Path(path)
    suffix = path.suffix.lower()
    if suffix == ".mat":
        if not key:
            raise ConfigError(f"{path}: a .mat file needs the variable to read (option 'key', e.g. key: d_iner)")
        return check_array(path, _load_variable(path, key), f"variable '{key}'", time_axis, ndim)
    head = read_file(path, 6)  # missing or empty: the usual message
    if not head.startswith((b"\x93NUMPY", b"PK")):
        raise DataError(path, "not a NumPy .npy/.npz file (no .npy header or .npz archive)")
    try:
        loaded = np.load(path, allow_pickle=False)
    except (ValueError, OSError, EOFError) as err:
        detail = str(err).strip().splitlines()[0] if str(err).strip() else type(err).__name__
        raise DataError(path, f"not a NumPy .npy/.npz file ({detail})") from None
    if isinstance(loaded, np.ndarray):
        return check_array(path, loaded, "the array", time_axis, ndim)
    with loaded:
        names = list(loaded.files)
        if key is None:
            if len(names) != 1:
                raise DataError(path, f"holds {len(names)} arrays ({', '.join(names) or 'none'}): name one with "
                                      "option 'key'")
            key = names[0]
        if key not in names:
            raise DataError(path, f"no array '{key}' (arrays: {', '.join(names) or 'none'})")
        try:
            arr = loaded[key]
        except (ValueError, OSError, EOFError) as err:  # an object array, a damaged member
            raise DataError(path, f"array '{key}' cannot be read ({str(err).strip() or type(err).__name__})") from None
        return check_array(path, arr, f"array '{key}'", time_axis, ndim)
