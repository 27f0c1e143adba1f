"""Preprocessing cache: the deterministic part of a pipeline's output per recording.

An entry lives at ``DIR/<dataset>/<modality>-<config hash>/<key>-<file hash>.npz``:

- the config hash covers the cache format version, the dataset name, the modality
  and the transform's ``cache_config()`` (so a changed pipeline never reuses entries);
- the file hash covers the source file's resolved path, size and mtime (so an edited
  or replaced file is re-read).

Writes are atomic (temporary file + ``os.replace``). Entries are uncompressed ``.npz``
files whose zip CRC is checked on read: an unreadable or corrupt entry is rebuilt.
A bounded in-memory LRU layer serves repeated reads in the same process.
``DIR`` is the explicit argument, else ``$HARKD_CACHE_DIR``, else ``~/.cache/harkd``.
"""

from __future__ import annotations

import hashlib
import json
import os
import uuid
from collections import OrderedDict
from pathlib import Path
from typing import Any, Callable, Mapping

import numpy as np

CACHE_FORMAT_VERSION = 1
CACHE_DIR_ENV = "HARKD_CACHE_DIR"


def default_cache_dir() -> Path:
    """``$HARKD_CACHE_DIR`` if set, else ``~/.cache/harkd``."""
    env = os.environ.get(CACHE_DIR_ENV)
    return Path(env).expanduser() if env else Path.home() / ".cache" / "harkd"


def _digest(obj: Any, n: int) -> str:
    return hashlib.sha256(json.dumps(obj, sort_keys=True, default=str).encode()).hexdigest()[:n]


def file_identity(path: Path | Mapping[Any, Path]) -> str:
    """Hash of a file's resolved path, size and modification time (of every file of a
    multi-file modality's :class:`~harkd.data.recording.FileGroup` or of a folder)."""
    if isinstance(path, Mapping):
        return _digest([[str(part), file_identity(p)] for part, p in path.items()], 16)
    if path.is_dir():  # a folder of frames: every file in it
        return _digest([[p.name, file_identity(p)] for p in sorted(path.iterdir())], 16)
    st = path.stat()
    return _digest([str(path.resolve()), st.st_size, st.st_mtime_ns], 16)


class PreprocessCache:
    """Disk (+ in-memory) cache of prepared arrays; see the module docstring.

    ``memory_bytes`` bounds the in-process layer (0 disables it); ``disk=False``
    keeps entries in memory only. ``stats`` counts memory hits, disk hits, misses
    and corrupt entries rebuilt.
    """

    def __init__(self, directory: str | Path | None = None, memory_bytes: int = 512 * 2**20, disk: bool = True):
        self.directory = Path(directory).expanduser() if directory is not None else default_cache_dir()
        self.disk = disk
        self.memory_bytes = int(memory_bytes)
        self._memory: OrderedDict[str, np.ndarray] = OrderedDict()
        self._memory_used = 0
        self.stats = {"memory_hits": 0, "disk_hits": 0, "misses": 0, "rebuilt": 0}

    def entry_path(self, dataset: str, modality: str, config: dict, key: str, source: Path | Mapping) -> Path:
        config_hash = _digest({"version": CACHE_FORMAT_VERSION, "dataset": dataset,
                               "modality": modality, "config": config}, 16)
        return self.directory / dataset / f"{modality}-{config_hash}" / f"{key}-{file_identity(source)}.npz"

    def get(self, dataset: str, modality: str, config: dict, key: str, source: Path,
            compute: Callable[[], np.ndarray]) -> np.ndarray:
        """The cached array for this entry, computing and storing it on a miss."""
        path = self.entry_path(dataset, modality, config, key, source)
        token = str(path)
        if token in self._memory:
            self._memory.move_to_end(token)
            self.stats["memory_hits"] += 1
            return self._memory[token]
        value = self._read(path) if self.disk else None
        if value is None:
            self.stats["misses"] += 1
            value = np.ascontiguousarray(compute())
            if self.disk:
                self._write(path, value)
        else:
            self.stats["disk_hits"] += 1
        self._remember(token, value)
        return value

    def _read(self, path: Path) -> np.ndarray | None:
        if not path.is_file():
            return None
        try:
            with np.load(path, allow_pickle=False) as data:
                return data["x"]
        except Exception:  # truncated, bad CRC, not a zip, missing member
            self.stats["rebuilt"] += 1
            return None

    def _write(self, path: Path, value: np.ndarray) -> None:
        path.parent.mkdir(parents=True, exist_ok=True)
        tmp = path.with_name(f".{path.name}.{os.getpid()}.{uuid.uuid4().hex[:8]}.tmp")
        try:
            with open(tmp, "wb") as fh:
                np.savez(fh, x=value)
            os.replace(tmp, path)
        finally:
            if tmp.exists():
                tmp.unlink()

    def _remember(self, token: str, value: np.ndarray) -> None:
        if value.nbytes > self.memory_bytes:
            return
        self._memory[token] = value
        self._memory_used += value.nbytes
        while self._memory_used > self.memory_bytes:
            _, old = self._memory.popitem(last=False)
            self._memory_used -= old.nbytes

    def clear_memory(self) -> None:
        """Drop the in-process layer (disk entries stay)."""
        self._memory.clear()
        self._memory_used = 0
