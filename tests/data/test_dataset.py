"""PairedDataset: pairing by key, batching, missing modalities, train-only fitting."""

from __future__ import annotations

import re

import numpy as np
import pytest
import torch
from torch.utils.data import DataLoader

from harkd.data import PairedDataset, get_dataset, make_datasets, make_split
from harkd.data.utd_mhad import read_depth, read_inertial, read_skeleton
from harkd.errors import ConfigError, DataError, InputError

CONFIG = {"inertial": {"sensor": "acc", "length": 16, "normalize": True},
          "skeleton": {"frames": 8, "normalize": True, "center": True},
          "depth": {"frames": 4, "size": [24, 32]}}
MODALITIES = ("inertial", "skeleton", "depth")


def assert_paired(root, batch):
    """Every sample's tensors equal what the files named by its key give (raw transforms)."""
    for i, key in enumerate(batch["key"]):
        a, s, t = (int(v) for v in re.fullmatch(r"a(\d+)_s(\d+)_t(\d+)", key).groups())
        assert int(batch["label"][i]) == a - 1
        np.testing.assert_array_equal(batch["inertial"][i].numpy(), read_inertial(root / "Inertial" / f"{key}_inertial.mat"))
        np.testing.assert_array_equal(batch["skeleton"][i].numpy(), read_skeleton(root / "Skeleton" / f"{key}_skeleton.mat"))
        np.testing.assert_array_equal(batch["depth"][i].numpy(), read_depth(root / "Depth" / f"{key}_depth.mat"))


def test_sample_layout(small_utd):
    ds = PairedDataset("utd-mhad", small_utd, modalities=("inertial", "depth"), transforms={"inertial": {"length": 16}})
    sample = ds[3]
    assert set(sample) == {"inertial", "depth", "label", "key", "index"} and sample["index"] == 3
    assert sample["key"] == ds.keys[3] and isinstance(sample["label"], int)
    assert sample["inertial"].shape == (6, 16) and sample["inertial"].dtype == torch.float32
    assert sample["depth"].dtype == torch.uint16 and sample["depth"].shape[1:] == (240, 320)


def test_keys_select_recordings_in_given_order(small_utd):
    keys = ["a2_s4_t2", "a1_s1_t1", "a2_s1_t2"]
    ds = PairedDataset("utd-mhad", small_utd, keys, modalities=("inertial",))
    assert [ds[i]["key"] for i in range(3)] == keys and [ds[i]["label"] for i in range(3)] == [1, 0, 1]
    with pytest.raises(InputError, match=r"no recording with key 'a9_s1_t1'"):
        PairedDataset("utd-mhad", small_utd, ["a9_s1_t1"], modalities=("inertial",))


@pytest.mark.parametrize("workers", [0, 2])
def test_pairing_in_shuffled_batches(small_utd, workers):
    ds = PairedDataset("utd-mhad", small_utd, modalities=MODALITIES)
    # raw tensors have per-recording lengths: batch size 1 keeps default collate happy
    loader = DataLoader(ds, batch_size=1, shuffle=True, num_workers=workers,
                        generator=torch.Generator().manual_seed(0))
    seen = []
    for batch in loader:
        assert_paired(small_utd, batch)
        seen += batch["key"]
    assert sorted(seen) == sorted(ds.keys)


@pytest.mark.parametrize("workers", [0, 2])
def test_fixed_shape_batches(small_utd, workers, tmp_path):
    spec = get_dataset("utd-mhad")
    index = spec.scan(small_utd)
    split = make_split(spec, index, "cross_subject", val_fraction=0.25)
    sets = make_datasets(spec, index, split, MODALITIES, CONFIG, cache=tmp_path / "cache")
    assert all(sets["train"].transforms[m] is sets["test"].transforms[m] for m in MODALITIES)  # fitted on train
    batch = next(iter(DataLoader(sets["test"], batch_size=4, num_workers=workers)))
    assert batch["inertial"].shape == (4, 3, 16)
    assert batch["skeleton"].shape == (4, 3, 8, 20)
    assert batch["depth"].shape == (4, 4, 1, 24, 32)
    assert all(index[k].subject % 2 == 0 for k in batch["key"])
    assert batch["label"].tolist() == [index[k].label for k in batch["key"]]


def test_normalisation_fitted_on_training_split_only(small_utd):
    spec = get_dataset("utd-mhad")
    index = spec.scan(small_utd)
    split = make_split(spec, index, "cross_subject", val_fraction=0.0)
    sets = make_datasets(spec, index, split, ("inertial",), {"inertial": {"length": 16, "normalize": True}})
    train_only = PairedDataset(spec, index, split.train, ("inertial",), {"inertial": {"length": 16, "normalize": True}})
    everything = PairedDataset(spec, index, None, ("inertial",), {"inertial": {"length": 16, "normalize": True}})
    assert sets["train"].normalization_state() == train_only.fit_normalization()
    assert everything.fit_normalization() != train_only.normalization_state()
    test = PairedDataset(spec, index, split.test, ("inertial",), {"inertial": {"length": 16, "normalize": True}})
    with pytest.raises(ConfigError, match="not fitted"):
        test[0]
    test.load_normalization(train_only.normalization_state())
    np.testing.assert_allclose(test[0]["inertial"].numpy(), sets["test"][0]["inertial"].numpy())


def test_missing_modality_skip_or_strict(small_utd):
    (small_utd / "Depth" / "a1_s2_t1_depth.mat").unlink()
    ds = PairedDataset("utd-mhad", small_utd, modalities=("inertial", "depth"))
    assert len(ds) == 15 and ds.skipped == [("a1_s2_t1", "missing depth")]
    assert len(PairedDataset("utd-mhad", small_utd, modalities=("inertial",))) == 16
    with pytest.raises(DataError, match=re.escape(str(small_utd / "Depth" / "a1_s2_t1_depth.mat"))
                       + ": missing depth file for recording a1_s2_t1"):
        PairedDataset("utd-mhad", small_utd, modalities=("inertial", "depth"), strict=True)


def test_bad_file_fails_on_load_with_its_path(small_utd):
    bad = small_utd / "Skeleton" / "a2_s2_t2_skeleton.mat"
    bad.write_bytes(b"MATLAB 5.0 MAT-file" + b"\x00" * 50)
    ds = PairedDataset("utd-mhad", small_utd, modalities=("inertial", "skeleton"))
    with pytest.raises(DataError, match="^" + re.escape(str(bad)) + ": corrupt or truncated MAT file"):
        ds[ds.keys.index("a2_s2_t2")]


def test_unknown_modality(small_utd):
    with pytest.raises(ConfigError, match=r"unknown utd-mhad modality 'imu'"):
        PairedDataset("utd-mhad", small_utd, modalities=("imu",))


@pytest.mark.parametrize("workers", [0, 2])
def test_synthetic_dataset_end_to_end(request, workers):
    root = request.getfixturevalue("synth_utd")
    spec = get_dataset("utd-mhad")
    index = spec.scan(root, strict=True)
    assert len(index) == 4 * 2 * 6
    raw = DataLoader(PairedDataset(spec, index, modalities=MODALITIES), batch_size=1, shuffle=True,
                     num_workers=workers, generator=torch.Generator().manual_seed(1))
    for batch in raw:
        assert_paired(root, batch)
    split = make_split(spec, index, "cross_subject")
    sets = make_datasets(spec, index, split, MODALITIES, CONFIG)
    for batch in DataLoader(sets["train"], batch_size=5, shuffle=True, num_workers=workers):
        assert batch["depth"].shape[1:] == (4, 1, 24, 32)
        assert batch["label"].tolist() == [index[k].label for k in batch["key"]]


def corrupt(root, *keys, modality="Skeleton", suffix="skeleton"):
    """Overwrite the ``modality`` files of ``keys`` with a truncated MAT header; returns their paths."""
    paths = [root / modality / f"{key}_{suffix}.mat" for key in keys]
    for path in paths:
        path.write_bytes(b"MATLAB 5.0 MAT-file" + b"\x00" * 50)
    return paths


def test_check_stops_at_the_first_bad_file_and_counts_the_others(small_utd, tmp_path):
    first, _ = corrupt(small_utd, "a1_s2_t1", "a2_s3_t2")
    problem = "corrupt or truncated MAT file"
    with pytest.raises(DataError) as err:
        read_skeleton(first)
    assert err.value.problem.startswith(problem)
    ds = PairedDataset("utd-mhad", small_utd, modalities=("inertial", "skeleton"), cache=tmp_path / "cache")
    with pytest.raises(DataError) as err:
        ds.check()
    assert str(err.value) == (f"{first}: {err.value.problem.split(';')[0]}; 1 other recording(s) fail too "
                              "(--set data.on_error=skip leaves the failing recordings out and reports them)")
    assert str(err.value).startswith(f"{first}: {problem}")
    no_cache = PairedDataset("utd-mhad", small_utd, modalities=("inertial", "skeleton"))
    with pytest.raises(DataError, match=re.escape(" (--set data.on_error=skip leaves the failing recordings out")) as err:
        no_cache.check()  # without a cache the pass ends at the first bad file: nothing to count
    assert "other recording" not in str(err.value)


def test_check_skip_drops_and_lists_the_bad_recordings(small_utd):
    bad, = corrupt(small_utd, "a2_s3_t2")
    ds = PairedDataset("utd-mhad", small_utd, modalities=("inertial", "skeleton"))
    failed = ds.check("skip")
    assert [key for key, _ in failed] == ["a2_s3_t2"] and failed[0][1].startswith(f"{bad}: corrupt or truncated")
    assert len(ds) == 15 and "a2_s3_t2" not in ds.keys and ds.skipped == failed
    with pytest.raises(InputError, match=re.escape("on_error must be one of stop, skip, got 'ignore'")):
        ds.check("ignore")


def test_check_fills_the_cache_the_epochs_read(small_utd, tmp_path):
    """The preflight loads every file once; reading the samples afterwards loads none again."""
    ds = PairedDataset("utd-mhad", small_utd, modalities=("inertial", "depth"), cache=tmp_path / "cache",
                       transforms={"inertial": {"length": 16}, "depth": {"frames": 4, "size": [24, 32]}})
    ds.check()
    assert ds.cache.stats["misses"] == 2 * len(ds)
    for i in range(len(ds)):
        ds[i]
    assert ds.cache.stats["misses"] == 2 * len(ds)


def test_fit_normalization_only_for_the_given_modalities(small_utd):
    ds = PairedDataset("utd-mhad", small_utd, modalities=("inertial", "skeleton"),
                       transforms={m: CONFIG[m] for m in ("inertial", "skeleton")})
    assert set(ds.fit_normalization(["inertial"])) == {"inertial"}
    assert set(ds.fit_normalization()) == {"inertial", "skeleton"}
