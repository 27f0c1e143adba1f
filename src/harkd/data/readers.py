"""Validated readers for MATLAB ``.mat`` arrays (and :func:`read_file`, shared by the text readers).

One generic reader, :func:`read_mat`, checks a file against a :class:`MatVar`
specification (variable name, shape, dtype, finiteness, non-empty time axis) and
returns the array with time on the first axis. Every problem becomes one
:class:`~harkd.errors.DataError` whose message starts with the file's path.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

import numpy as np

from harkd.errors import DataError

_MAT5_MAGIC = b"MATLAB 5.0 MAT-file"
_MAT73_MAGIC = b"MATLAB 7.3 MAT-file"


@dataclass(frozen=True)
class MatVar:
    """What one variable of a ``.mat`` file must look like.

    ``shape`` gives the expected size per axis (``None`` = any size); ``time_axis``
    is the axis that counts frames/samples and is moved to the front on read.
    ``dtype_kind`` is a NumPy kind string (``"f"`` any float) or an exact dtype name
    (``"uint16"``). ``finite`` rejects NaN/inf; ``out_dtype`` is the returned dtype;
    a clip of fewer than ``min_frames`` frames (default 2: nothing to resample) is rejected.
    """

    name: str
    shape: tuple[int | None, ...]
    time_axis: int
    dtype_kind: str
    out_dtype: str
    finite: bool = True
    min_frames: int = 2

    def describe(self) -> str:
        dims = " x ".join("T" if i == self.time_axis else ("*" if s is None else str(s))
                          for i, s in enumerate(self.shape))
        return f"'{self.name}' ({dims})"


def read_file(path: Path, size: int = -1) -> bytes:
    """The first ``size`` bytes of ``path`` (default all); DataError if missing, unreadable or empty."""
    try:
        with open(path, "rb") as fh:
            data = fh.read(size)
    except FileNotFoundError:
        raise DataError(path, "file not found") from None
    except OSError as err:
        raise DataError(path, f"cannot read file ({err.strerror or err})") from None
    if not data:
        raise DataError(path, "empty file (0 bytes)")
    return data


def _load_variable(path: Path, name: str) -> np.ndarray:
    """Return variable ``name`` of a MAT v5 file, raising DataError for file problems."""
    import scipy.io

    head = read_file(path, 128)
    if head.startswith(_MAT73_MAGIC):
        raise DataError(path, "MAT v7.3 (HDF5) files are not supported; re-save with -v7")
    if not head.startswith(_MAT5_MAGIC):
        raise DataError(path, "not a MATLAB MAT-file (no 'MATLAB 5.0 MAT-file' header)")
    try:
        data = scipy.io.loadmat(path, variable_names=[name])
    except Exception as err:  # scipy raises many types for damaged streams
        detail = str(err).strip().splitlines()[0] if str(err).strip() else type(err).__name__
        raise DataError(path, f"corrupt or truncated MAT file ({detail})") from None
    if name not in data:
        try:
            present = sorted(k for k in scipy.io.loadmat(path) if not k.startswith("__"))
        except Exception:
            present = []
        found = ", ".join(present) if present else "none"
        raise DataError(path, f"variable '{name}' not found (variables: {found})")
    return data[name]


def read_mat(path: str | Path, spec: MatVar) -> np.ndarray:
    """Read and validate ``spec.name`` from ``path``; return it time-first as ``out_dtype``."""
    path = Path(path)
    arr = _load_variable(path, spec.name)
    if not isinstance(arr, np.ndarray) or arr.dtype.kind in "OSUV":
        raise DataError(path, f"variable '{spec.name}' is not a numeric array")
    if arr.ndim == len(spec.shape) - 1 and spec.time_axis == len(spec.shape) - 1:
        arr = arr[..., None]  # MATLAB drops a trailing singleton axis: T = 1
    bad_shape = arr.ndim != len(spec.shape) or any(
        s is not None and a != s for a, s in zip(arr.shape, spec.shape)
    )
    if bad_shape:
        raise DataError(path, f"variable '{spec.name}' has shape {arr.shape}, expected {spec.describe()}")
    ok_dtype = arr.dtype.kind == spec.dtype_kind if len(spec.dtype_kind) == 1 else arr.dtype == np.dtype(spec.dtype_kind)
    if not ok_dtype:
        want = "a float type" if spec.dtype_kind == "f" else spec.dtype_kind
        raise DataError(path, f"variable '{spec.name}' has dtype {arr.dtype}, expected {want}")
    if arr.shape[spec.time_axis] == 0:
        raise DataError(path, f"variable '{spec.name}' is empty (0 frames)")
    if arr.shape[spec.time_axis] < spec.min_frames:
        n = arr.shape[spec.time_axis]
        raise DataError(path, f"variable '{spec.name}' has only {n} frame{'s' if n != 1 else ''} "
                              f"(need at least {spec.min_frames})")
    if spec.finite and arr.dtype.kind == "f":
        bad = ~np.isfinite(arr)
        if bad.any():
            first = np.argwhere(bad)[0][spec.time_axis]
            raise DataError(path, f"variable '{spec.name}' has {int(bad.sum())} NaN/inf value(s) (first at frame {int(first)})")
    with np.errstate(over="ignore"):
        out = np.ascontiguousarray(np.moveaxis(arr, spec.time_axis, 0), dtype=spec.out_dtype)
    if spec.finite and out.dtype.kind == "f":
        bad = ~np.isfinite(out)
        if bad.any():
            raise DataError(path, f"variable '{spec.name}' has {int(bad.sum())} value(s) beyond the {out.dtype} range "
                                  f"(first at frame {int(np.argwhere(bad)[0][0])})")
    return out
