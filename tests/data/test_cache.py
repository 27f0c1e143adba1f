"""Preprocessing cache: keys by content, hits, atomic files, corrupt entries rebuilt, unwritable directories."""

from __future__ import annotations

import errno
import hashlib
import os
import warnings
from pathlib import Path

import numpy as np
import pytest
import scipy.io

import harkd.data.cache as cache_module
from harkd.data import PairedDataset, PreprocessCache, default_cache_dir, get_dataset
from harkd.errors import DataWarning

CONFIG = {"inertial": {"length": 16}, "skeleton": {"frames": 8}, "depth": {"frames": 4, "size": [30, 40]}}


def test_default_dir(monkeypatch, tmp_path):
    monkeypatch.setenv("HARKD_CACHE_DIR", str(tmp_path / "c"))
    assert default_cache_dir() == tmp_path / "c"
    monkeypatch.delenv("HARKD_CACHE_DIR")
    assert default_cache_dir().parts[-2:] == (".cache", "harkd")


def test_second_pass_reads_no_mat(small_utd, tmp_path, monkeypatch):
    spec = get_dataset("utd-mhad")
    cache = PreprocessCache(tmp_path / "cache")
    ds = PairedDataset(spec, small_utd, modalities=("inertial", "skeleton", "depth"), transforms=CONFIG, cache=cache)
    first = [ds[i] for i in range(len(ds))]
    assert cache.stats["misses"] == 48
    entries = list((tmp_path / "cache").rglob("*.npz"))
    assert len(entries) == 48 and not list((tmp_path / "cache").rglob("*.tmp"))

    def fail(*args, **kwargs):
        raise AssertionError("a .mat file was read on a warm cache")

    monkeypatch.setattr(spec, "load", fail)
    fresh = PairedDataset(spec, small_utd, modalities=("inertial", "skeleton", "depth"), transforms=CONFIG,
                          cache=PreprocessCache(tmp_path / "cache"))   # new process: disk layer
    for a, b in zip(first, (fresh[i] for i in range(len(fresh)))):
        for m in ("inertial", "skeleton", "depth"):
            np.testing.assert_array_equal(a[m].numpy(), b[m].numpy())
    assert fresh.cache.stats["disk_hits"] == 48
    [ds[i] for i in range(len(ds))]
    assert cache.stats["memory_hits"] == 48


def test_key_covers_config_and_content(small_utd, tmp_path):
    spec = get_dataset("utd-mhad")
    cache = PreprocessCache(tmp_path / "cache", memory_bytes=0)
    rec = spec.scan(small_utd)["a1_s1_t1"]
    p1 = cache.entry_path("utd-mhad", "inertial", {"length": 16}, rec.key, rec.files["inertial"])
    p2 = cache.entry_path("utd-mhad", "inertial", {"length": 32}, rec.key, rec.files["inertial"])
    assert p1.parent != p2.parent
    os.utime(rec.files["inertial"], ns=(1, 1))  # same content, other mtime: same entry
    assert cache.entry_path("utd-mhad", "inertial", {"length": 16}, rec.key, rec.files["inertial"]) == p1
    rec.files["inertial"].write_bytes(rec.files["inertial"].read_bytes() + b"\0")
    assert cache.entry_path("utd-mhad", "inertial", {"length": 16}, rec.key, rec.files["inertial"]) != p1


def test_replaced_file_with_same_size_and_mtime_is_recomputed(small_utd, tmp_path):
    """``cp -p`` of other content over a data file: same size, same mtime, the cache recomputes."""
    spec = get_dataset("utd-mhad")
    path = small_utd / "Inertial" / "a1_s1_t1_inertial.mat"
    rng = np.random.default_rng(0)
    old, new = rng.normal(size=(30, 6)), rng.normal(size=(30, 6))
    scipy.io.savemat(path, {"d_iner": old})

    def load():
        ds = PairedDataset(spec, small_utd, keys=["a1_s1_t1"], modalities=("inertial",),
                           transforms={"inertial": {"length": 30}},
                           cache=PreprocessCache(tmp_path / "cache", memory_bytes=0))
        return ds[0]["inertial"].numpy(), ds.cache.stats

    first, stats = load()
    np.testing.assert_allclose(first, old.T.astype(np.float32), rtol=1e-6)
    assert load()[1]["disk_hits"] == 1
    before = path.stat()
    scipy.io.savemat(path, {"d_iner": new})
    os.utime(path, ns=(before.st_atime_ns, before.st_mtime_ns))
    after = path.stat()
    assert (after.st_size, after.st_mtime_ns) == (before.st_size, before.st_mtime_ns)
    second, stats = load()
    assert stats["misses"] == 1 and stats["disk_hits"] == 0
    np.testing.assert_allclose(second, new.T.astype(np.float32), rtol=1e-6)


def test_each_file_is_hashed_once_per_process(tmp_path, monkeypatch):
    expected = [hashlib.sha256(content).hexdigest() for content in (b"abc" * 1000, b"abd" * 1000)]
    calls = []
    real = cache_module.hashlib.sha256
    monkeypatch.setattr(cache_module.hashlib, "sha256", lambda *a: calls.append(1) or real(*a))
    path = tmp_path / "f.bin"
    path.write_bytes(b"abc" * 1000)
    assert cache_module.content_hash(path) == expected[0]
    assert cache_module.content_hash(path) == expected[0] and len(calls) == 1
    path.write_bytes(b"abd" * 1000)  # a rewrite changes the ctime: hashed again
    assert cache_module.content_hash(path) == expected[1] and len(calls) == 2


def test_corrupt_entry_rebuilt(small_utd, tmp_path):
    spec = get_dataset("utd-mhad")
    ds = PairedDataset(spec, small_utd, modalities=("inertial",), transforms={"inertial": {"length": 16}},
                       cache=PreprocessCache(tmp_path / "cache", memory_bytes=0))
    expected = ds[0]["inertial"].numpy()
    (entry,) = [p for p in (tmp_path / "cache").rglob("*.npz") if p.name.startswith(ds.keys[0] + "-")]
    data = bytearray(entry.read_bytes())
    data[-200:-150] = b"\x00" * 50          # flip bytes: zip CRC or structure breaks
    entry.write_bytes(bytes(data))
    np.testing.assert_array_equal(ds[0]["inertial"].numpy(), expected)
    assert ds.cache.stats["rebuilt"] == 1
    entry.write_bytes(entry.read_bytes()[:40])  # truncated
    np.testing.assert_array_equal(ds[0]["inertial"].numpy(), expected)
    assert ds.cache.stats["rebuilt"] == 2
    np.testing.assert_array_equal(ds[0]["inertial"].numpy(), expected)
    assert ds.cache.stats["disk_hits"] == 1


@pytest.fixture
def fresh_process(monkeypatch):
    """No directory known to be unwritable yet (as in a new process)."""
    monkeypatch.setattr(cache_module, "_unwritable", {})


def _epoch_twice(spec, root, make_cache):
    """Two passes over a dataset with the cache ``make_cache()``: (samples of each pass, DataWarning messages)."""
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        ds = PairedDataset(spec, root, modalities=("inertial",), transforms={"inertial": {"length": 16}},
                           cache=make_cache())
        passes = [[ds[i]["inertial"].numpy() for i in range(len(ds))] for _ in range(2)]
    return passes, [str(w.message) for w in caught if issubclass(w.category, DataWarning)]


def _expected_warning(directory: Path, reason: str) -> str:
    return (f"preprocessing cache {directory} cannot be written ({reason}); going on without the disk cache, "
            "new entries are kept in memory only (set HARKD_CACHE_DIR to a writable directory, or data.cache: false)")


def test_cache_dir_is_a_file(small_utd, tmp_path, monkeypatch, fresh_process):
    spec = get_dataset("utd-mhad")
    blocker = tmp_path / "cachefile"
    blocker.write_text("not a directory")
    monkeypatch.setenv("HARKD_CACHE_DIR", str(blocker))
    caches = []
    (first, second), messages = _epoch_twice(spec, small_utd, lambda: caches.append(PreprocessCache()) or caches[0])
    assert messages == [_expected_warning(blocker, f"{blocker} is a file, not a directory")]
    cache = caches[0]
    reference, _ = _epoch_twice(spec, small_utd, lambda: None)
    for a, b, c in zip(first, second, reference[0]):
        np.testing.assert_array_equal(a, c)
        np.testing.assert_array_equal(b, c)
    assert cache.stats["misses"] == 16 and cache.stats["memory_hits"] == 16  # the memory layer still works
    assert blocker.read_text() == "not a directory"
    # another cache on the same directory (val/test splits, a second dataset) does not warn again
    assert _epoch_twice(spec, small_utd, lambda: PreprocessCache(blocker))[1] == []


@pytest.mark.parametrize("code, reason", [(errno.ENOSPC, "No space left on device"),
                                          (errno.EROFS, "Read-only file system")])
def test_full_or_read_only_disk(small_utd, tmp_path, monkeypatch, fresh_process, code, reason):
    spec = get_dataset("utd-mhad")
    writes = []

    def failing_savez(handle, **arrays):
        writes.append(handle.name)
        raise OSError(code, os.strerror(code), handle.name)

    monkeypatch.setattr(cache_module.np, "savez", failing_savez)
    directory = tmp_path / "cache"
    cache = PreprocessCache(directory)
    (first, _), messages = _epoch_twice(spec, small_utd, lambda: cache)
    assert messages == [_expected_warning(directory, f"{reason}: {writes[0]}")]
    assert len(writes) == 1  # no further write attempts after the first failure
    assert not [p for p in directory.rglob("*") if p.is_file()]  # no temporary file left behind
    assert len(first) == 16 and cache.stats["memory_hits"] == 16


def test_read_only_home(small_utd, tmp_path, monkeypatch, fresh_process):
    """~/.cache/harkd cannot be made: one warning, the run goes on."""
    spec = get_dataset("utd-mhad")
    home = tmp_path / "home"
    home.mkdir()
    monkeypatch.delenv("HARKD_CACHE_DIR", raising=False)
    monkeypatch.setenv("HOME", str(home))
    real_mkdir = Path.mkdir

    def read_only_mkdir(self, *args, **kwargs):
        if home in self.parents:
            raise OSError(errno.EROFS, "Read-only file system", str(home / ".cache"))
        return real_mkdir(self, *args, **kwargs)

    monkeypatch.setattr(Path, "mkdir", read_only_mkdir)
    (first, _), messages = _epoch_twice(spec, small_utd, PreprocessCache)
    directory = home / ".cache" / "harkd"
    assert messages == [_expected_warning(directory, f"Read-only file system: {home / '.cache'}")]
    assert len(first) == 16 and not (home / ".cache").exists()


def test_warnings_of_a_cached_entry_are_raised_again_on_every_hit(tmp_path):
    """A repaired file (e.g. an interpolated gap) is reported by a warm cache as by a cold one."""
    from harkd.errors import warn

    source = tmp_path / "clip.txt"
    source.write_text("1 2 3\n")
    calls = []

    def compute():
        calls.append(1)
        warn(f"{source}: gap of 1.115 s without samples before row 173, linearly interpolated (max_gap 2 s)")
        warnings.warn("an unrelated library warning", RuntimeWarning)
        return np.arange(3.0)

    args = ("utd-mhad", "inertial", {"length": 3}, "a1_s1_t1", source)
    expected = f"{source}: gap of 1.115 s"
    with pytest.warns(RuntimeWarning, match="unrelated"), pytest.warns(DataWarning, match=expected):
        PreprocessCache(tmp_path / "c").get(*args, compute)  # miss: computed, both warnings pass on
    fresh = PreprocessCache(tmp_path / "c")
    for hit in ("disk", "memory"):
        with warnings.catch_warnings(record=True) as caught:
            warnings.simplefilter("always")
            np.testing.assert_array_equal(fresh.get(*args, compute), np.arange(3.0))
        assert [str(w.message)[:len(expected)] for w in caught] == [expected], hit  # only the data warning
    assert len(calls) == 1 and fresh.stats["disk_hits"] == 1 and fresh.stats["memory_hits"] == 1
