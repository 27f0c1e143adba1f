"""Atomic, checksummed checkpoint files and the random-number-generator state they carry.

A checkpoint is an ordinary ``torch.save`` file (``torch.load`` reads it): a zip archive whose
every record carries a CRC-32 of its bytes. :func:`load_checkpoint` verifies them all before
loading, so a file damaged after it was written (a disk or copy error, flipped bytes) is an
error instead of different weights. Files of any harkd version are checked the same way; a
file in torch's legacy (non-zip) format has no checksums and loads unchecked.
"""

from __future__ import annotations

import contextlib
import os
import random
import tempfile
import zipfile
from pathlib import Path
from typing import Any

import numpy as np
import torch

from harkd.errors import DataError

__all__ = ["atomic_save", "load_checkpoint", "verify_checkpoint", "capture_rng_state", "restore_rng_state"]


def atomic_save(obj: Any, path: str | Path) -> Path:
    """``torch.save`` to a temporary file in the same folder, fsync, then rename over ``path``.

    A process killed at any moment leaves either the old file or the new one, never a torn one;
    a failed write (a full disk: OSError) removes the temporary file and leaves the old one.
    """
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(prefix=f".{path.name}.", suffix=".tmp", dir=path.parent)
    try:
        with os.fdopen(fd, "wb") as handle, _crc32_on():
            torch.save(obj, handle)
            handle.flush()
            os.fsync(handle.fileno())
        os.replace(tmp, path)
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise
    return path


@contextlib.contextmanager
def _crc32_on():
    """torch writes the records' CRC-32 (its default; a caller may have switched it off)."""
    get = getattr(torch.serialization, "get_crc32_options", None)
    if get is None or get():
        yield
        return
    torch.serialization.set_crc32_options(True)
    try:
        yield
    finally:
        torch.serialization.set_crc32_options(False)


DAMAGED = "cannot read checkpoint: the file is damaged"


def verify_checkpoint(path: str | Path) -> None:
    """A DataError when a record of the checkpoint no longer matches its checksum (or the archive is torn)."""
    path = Path(path)
    if not path.is_file():
        raise DataError(path, "checkpoint not found")
    try:
        if not zipfile.is_zipfile(path):
            with path.open("rb") as handle:  # torch's legacy format starts with a pickle, not a zip record
                if handle.read(2) == b"PK":
                    raise DataError(path, f"{DAMAGED} or incomplete (its zip directory is missing)")
            return
        with zipfile.ZipFile(path) as archive:
            bad = archive.testzip()
    except zipfile.BadZipFile as err:
        raise DataError(path, f"{DAMAGED} or incomplete ({err})") from None
    except UnicodeDecodeError:  # a flipped byte in a record's name (its local header)
        raise DataError(path, f"{DAMAGED} (a record's header no longer matches the zip directory)") from None
    except OSError as err:
        raise DataError(path, f"cannot read checkpoint ({err.strerror or err})") from None
    if bad is not None:
        raise DataError(path, f"{DAMAGED} (its content no longer matches its checksum)")


def load_checkpoint(path: str | Path, map_location: str | torch.device = "cpu", verify: bool = True) -> dict:
    """Load a checkpoint written by :func:`atomic_save` after verifying its checksums (``verify``: False
    when the caller just did); a clear error when it is missing, damaged or unreadable."""
    path = Path(path)
    if verify:
        verify_checkpoint(path)
    elif not path.is_file():
        raise DataError(path, "checkpoint not found")
    try:
        return torch.load(path, map_location=map_location, weights_only=False)
    except Exception as err:  # torch raises several types for torn/corrupt files
        raise DataError(path, f"cannot read checkpoint ({type(err).__name__}: {err})") from None


def capture_rng_state() -> dict:
    """Python, NumPy and torch (CPU and CUDA) generator states."""
    state = {
        "python": random.getstate(),
        "numpy": np.random.get_state(),
        "torch": torch.get_rng_state(),
    }
    if torch.cuda.is_available():
        state["cuda"] = torch.cuda.get_rng_state_all()
    return state


def restore_rng_state(state: dict) -> None:
    """Inverse of :func:`capture_rng_state`."""
    random.setstate(state["python"])
    np.random.set_state(state["numpy"])
    torch.set_rng_state(state["torch"])
    if "cuda" in state and torch.cuda.is_available():
        torch.cuda.set_rng_state_all(state["cuda"])
