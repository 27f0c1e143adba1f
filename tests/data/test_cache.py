"""Preprocessing cache: keys, hits, atomic files, corrupt entries rebuilt."""

from __future__ import annotations

import os

import numpy as np

from harkd.data import PairedDataset, PreprocessCache, default_cache_dir, get_dataset

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


def test_key_covers_config_and_file_identity(small_utd, tmp_path):
    spec = get_dataset("utd-mhad")
    cache = PreprocessCache(tmp_path / "cache", memory_bytes=0)
    rec = spec.scan(small_utd)["a1_s1_t1"]
    p1 = cache.entry_path("utd-mhad", "inertial", {"length": 16}, rec.key, rec.files["inertial"])
    p2 = cache.entry_path("utd-mhad", "inertial", {"length": 32}, rec.key, rec.files["inertial"])
    assert p1.parent != p2.parent
    os.utime(rec.files["inertial"], ns=(1, 1))
    assert cache.entry_path("utd-mhad", "inertial", {"length": 16}, rec.key, rec.files["inertial"]) != p1


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
