"""Preprocessing cache: the deterministic part of a pipeline's output per recording.

An entry lives at ``DIR/<dataset>/<modality>-<config hash>/<key>-<content hash>.npz``:

- the config hash covers the cache format version, the dataset name, the modality
  and the transform's ``cache_config()`` (so a changed pipeline never reuses entries);
- the content hash is a SHA-256 digest of the source file's bytes (of every file of a
  multi-file modality's :class:`~harkd.data.recording.FileGroup` or of a folder), so a
  file replaced by other content is re-read even when its size and modification time
  were kept (``cp -p``). Each file is hashed once per process: the digest is memoised
  by (path, device, inode, size, mtime, ctime), and the ctime changes on every write.
  Hashing costs about one read of the data per process (UTD-MHAD: 147 MB of depth
  files, see :func:`content_hash`).

Writes are atomic (temporary file + ``os.replace``). Entries are uncompressed ``.npz``
files whose zip CRC is checked on read: an unreadable or corrupt entry is rebuilt.
A bounded in-memory LRU layer serves repeated reads in the same process.
``DIR`` is the explicit argument, else ``$HARKD_CACHE_DIR``, else ``~/.cache/harkd``.

A directory that cannot be written (read-only, a regular file in its place, a full
disk, a HOME where ``~/.cache`` cannot be made) is reported once with
:func:`harkd.errors.warn`; the run goes on with entries kept in memory only (existing
disk entries are still read). The directory is probed when the cache is made, so the
report comes from the main process; a disk that fills up later is reported by the
first process whose write fails (each DataLoader worker at most once).
"""

from __future__ import annotations

import hashlib
import json
import os
import tempfile
import uuid
import warnings
from collections import OrderedDict
from pathlib import Path
from typing import Any, Callable, Mapping

import numpy as np

from harkd.errors import DataWarning, file_in_the_way, warn

CACHE_FORMAT_VERSION = 2  # 2: entries keyed by file content (1: by path, size and mtime)
CACHE_DIR_ENV = "HARKD_CACHE_DIR"
_HASH_BLOCK = 1 << 20

_content_memo: dict[tuple, str] = {}
_unwritable: dict[Path, str] = {}  # cache directory -> why it cannot be written (warned once)


def default_cache_dir() -> Path:
    """``$HARKD_CACHE_DIR`` if set, else ``~/.cache/harkd``."""
    env = os.environ.get(CACHE_DIR_ENV)
    return Path(env).expanduser() if env else Path.home() / ".cache" / "harkd"


def _digest(obj: Any, n: int) -> str:
    return hashlib.sha256(json.dumps(obj, sort_keys=True, default=str).encode()).hexdigest()[:n]


def content_hash(path: str | Path) -> str:
    """SHA-256 hex digest of a file's bytes, memoised per process by its stat identity.

    The memo key is (absolute path, device, inode, size, mtime_ns, ctime_ns): rewriting
    a file changes its ctime, which no tool can set back, so new content is always
    re-hashed. SHA-256 is OpenSSL's, hardware-accelerated on current x86 and ARM CPUs
    (about 3x BLAKE2b there). Cost, measured on UTD-MHAD from the page cache on a busy
    2-core machine: 0.23 s for the 147 MB Depth folder (861 files), 0.07 s for the
    6.9 MB Inertial folder; a memoised file costs one ``stat``.
    """
    path = Path(path)
    st = path.stat()
    memo_key = (str(path.absolute()), st.st_dev, st.st_ino, st.st_size, st.st_mtime_ns, st.st_ctime_ns)
    digest = _content_memo.get(memo_key)
    if digest is None:
        h = hashlib.sha256()
        buffer = bytearray(_HASH_BLOCK)
        view = memoryview(buffer)
        with open(path, "rb", buffering=0) as handle:
            while n := handle.readinto(buffer):
                h.update(view[:n])
        digest = _content_memo[memo_key] = h.hexdigest()
    return digest


def file_identity(path: Path | Mapping[Any, Path]) -> str:
    """Content hash of a source: a file, a folder of frames (every file in it, by name)
    or a multi-file modality's :class:`~harkd.data.recording.FileGroup` (by part)."""
    if isinstance(path, Mapping):
        return _digest([[str(part), file_identity(p)] for part, p in path.items()], 16)
    path = Path(path)
    if path.is_dir():  # a folder of frames: every file in it
        return _digest([[p.name, file_identity(p)] for p in sorted(path.iterdir())], 16)
    return content_hash(path)[:16]


def _compute_noting_warnings(compute: Callable[[], np.ndarray]) -> tuple[np.ndarray, tuple[str, ...]]:
    """``compute()`` and the messages of the DataWarnings it raised (all its warnings pass on)."""
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        value = np.ascontiguousarray(compute())
    notes = []
    for w in caught:
        if issubclass(w.category, DataWarning):
            notes.append(str(w.message))
        else:
            warnings.warn_explicit(w.message, w.category, w.filename, w.lineno)
    _replay(notes)
    return value, tuple(dict.fromkeys(notes))


def _replay(notes) -> None:
    for note in notes:
        warn(note)


def _why_unwritable(err: OSError, directory: Path) -> str:
    """``err`` in words: a file in the way of the directory, or the OS's reason and the path."""
    blocking = file_in_the_way(directory, include_self=True)
    if blocking is not None:
        return f"{blocking} is a file, not a directory"
    reason = err.strerror or str(err)
    return f"{reason}: {err.filename}" if err.filename else reason


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
        if disk:
            self._probe()

    def _probe(self) -> None:
        """Make the directory and a scratch file now, in the main process (before any DataLoader
        worker starts), so an unwritable directory is found and reported once."""
        if not self.writable:
            return
        try:
            self.directory.mkdir(parents=True, exist_ok=True)
            with tempfile.NamedTemporaryFile(dir=self.directory, prefix=".probe-"):
                pass
        except OSError as err:
            self._give_up_writing(err)

    @property
    def writable(self) -> bool:
        """False once writing to ``directory`` has failed in this process (see the module docstring)."""
        return self.disk and self.directory.absolute() not in _unwritable

    def entry_path(self, dataset: str, modality: str, config: dict, key: str, source: Path | Mapping) -> Path:
        config_hash = _digest({"version": CACHE_FORMAT_VERSION, "dataset": dataset,
                               "modality": modality, "config": config}, 16)
        return self.directory / dataset / f"{modality}-{config_hash}" / f"{key}-{file_identity(source)}.npz"

    def get(self, dataset: str, modality: str, config: dict, key: str, source: Path,
            compute: Callable[[], np.ndarray]) -> np.ndarray:
        """The cached array for this entry, computing and storing it on a miss.

        The :class:`~harkd.errors.DataWarning` s that ``compute`` raised (an interpolated gap,
        an all-zero depth clip) are stored with the entry and raised again on every hit, so a
        warm cache reports a repaired file as a cold one does."""
        path = self.entry_path(dataset, modality, config, key, source)
        token = str(path)
        if token in self._memory:
            self._memory.move_to_end(token)
            self.stats["memory_hits"] += 1
            value, notes = self._memory[token]
            _replay(notes)
            return value
        entry = self._read(path) if self.disk else None
        if entry is None:
            self.stats["misses"] += 1
            value, notes = _compute_noting_warnings(compute)
            if self.writable:
                self._write(path, value, notes)
        else:
            self.stats["disk_hits"] += 1
            value, notes = entry
            _replay(notes)
        self._remember(token, value, notes)
        return value

    def _read(self, path: Path) -> tuple[np.ndarray, tuple[str, ...]] | None:
        try:
            if not path.is_file():
                return None
        except OSError:  # e.g. a directory on the way that cannot be searched
            return None
        try:
            with np.load(path, allow_pickle=False) as data:
                notes = tuple(str(n) for n in data["warnings"]) if "warnings" in data.files else ()
                return data["x"], notes
        except Exception:  # truncated, bad CRC, not a zip, missing member, unreadable
            self.stats["rebuilt"] += 1
            return None

    def _write(self, path: Path, value: np.ndarray, notes: tuple[str, ...] = ()) -> None:
        tmp = path.with_name(f".{path.name}.{os.getpid()}.{uuid.uuid4().hex[:8]}.tmp")
        try:
            path.parent.mkdir(parents=True, exist_ok=True)
            with open(tmp, "wb") as fh:
                np.savez(fh, x=value, warnings=np.asarray(notes, dtype=str))
            os.replace(tmp, path)
        except OSError as err:
            self._give_up_writing(err)
        finally:
            try:
                tmp.unlink(missing_ok=True)
            except OSError:
                pass

    def _give_up_writing(self, err: OSError) -> None:
        """Warn once per directory and keep new entries in memory only."""
        directory = self.directory.absolute()
        if directory in _unwritable:
            return
        _unwritable[directory] = reason = _why_unwritable(err, directory)
        warn(f"preprocessing cache {directory} cannot be written ({reason}); going on without the disk cache, "
             f"new entries are kept in memory only (set {CACHE_DIR_ENV} to a writable directory, "
             "or data.cache: false)")

    def _remember(self, token: str, value: np.ndarray, notes: tuple[str, ...] = ()) -> None:
        if value.nbytes > self.memory_bytes:
            return
        self._memory[token] = (value, notes)
        self._memory_used += value.nbytes
        while self._memory_used > self.memory_bytes:
            _, (old, _) = self._memory.popitem(last=False)
            self._memory_used -= old.nbytes

    def clear_memory(self) -> None:
        """Drop the in-process layer (disk entries stay)."""
        self._memory.clear()
        self._memory_used = 0
