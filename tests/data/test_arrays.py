"""In-memory arrays as a dataset (harkd.data.from_arrays), as sktime/tsai users hold them."""

from __future__ import annotations

import numpy as np
import pytest

from harkd.data import from_arrays, make_split
from harkd.data.registry import DATASETS
from harkd.errors import InputError


@pytest.fixture
def arrays():
    rng = np.random.default_rng(0)
    y = np.array(["walk", "jog", "sit"] * 8)
    groups = np.repeat([1, 2, 3, 4], 6)
    X = rng.normal(size=(24, 3, 40)).astype(np.float32)  # (recordings, channels, time): sktime/tsai
    X[:, 0] += (y == "jog")[:, None] * 3.0
    yield X, y, groups
    for name in ("arrays", "arrays-test"):
        DATASETS._items.pop(name, None)


def test_arrays_become_recordings_classes_and_protocols(arrays):
    X, y, groups = arrays
    data = from_arrays({"acc": X}, y, groups=groups, test_groups=[4], units={"acc": "g"}, rates={"acc": 50})
    index = data.scan()
    assert data.name == "arrays" and data.class_names == ("jog", "sit", "walk") and len(index) == 24
    first = index.recordings[0]
    assert (first.key, first.label, first.subject) == ("r00001", 2, 1)
    assert np.array_equal(data.load(first, "acc"), X[0].T)  # time first
    assert data.channels("acc") == (["acc_x", "acc_y", "acc_z"], ["g"] * 3, [0, 1, 2])
    assert data.sampling_rate("acc") == 50.0 and data.in_memory
    split = make_split(data, index, "cross_subject")
    assert len(split.test) == 6 and split.validation.subjects and set(data.protocols) == {
        "cross_subject", *(f"leave_one_subject_out:{g}" for g in (1, 2, 3, 4))}


def test_a_list_of_recordings_of_any_length_and_keypoints(arrays):
    X, y, groups = arrays
    acc = [x[:, : 20 + i] for i, x in enumerate(X)]  # lengths differ
    pose = [None if i % 3 == 0 else np.zeros((10, 17, 2)) for i in range(24)]  # 2-D COCO keypoints, some absent
    data = from_arrays({"acc": acc, "skeleton": pose}, y, groups=groups, keys=[f"take{i}" for i in range(24)],
                       split=["train", "val", "test", "train"] * 6, name="arrays-test")
    index = data.scan()
    assert data.load(index["take5"], "acc").shape == (25, 3)
    assert data.load(index["take1"], "skeleton").shape == (10, 17, 3)
    assert index.modality_counts() == {"acc": 24, "skeleton": 16}
    split = make_split(data, index, "split")
    assert split.counts() == {"train": 12, "val": 6, "test": 6} and split.validation.rule == "given"


def test_an_arrays_dataset_trains_and_evaluates_in_the_engine(arrays, tmp_path, monkeypatch):
    import harkd

    monkeypatch.setenv("HARKD_CACHE_DIR", str(tmp_path / "cache"))
    X, y, groups = arrays
    from_arrays({"acc": X}, y, groups=groups, test_groups=[4], units={"acc": "g"})
    run = harkd.train({"name": "arrays_run", "output_dir": str(tmp_path / "runs"),
                       "data": {"dataset": "arrays", "protocol": "cross_subject", "modalities": {"acc": {"length": 32}}},
                       "model": {"name": "imu_cnn1d", "input": "acc", "args": {"widths": [8], "depths": [1]}},
                       "train": {"epochs": 2, "batch_size": 8}}, evaluate=None)
    result = harkd.evaluate(run)
    assert result["split"] == "test" and len(result["per_class_accuracy"]) == 3
    assert not list((tmp_path / "cache").rglob("*.npz"))  # nothing of in-memory arrays is cached on disk


@pytest.mark.parametrize("call, message", [
    (lambda X, y, g: from_arrays({"acc": X}, y[:-1], groups=g), "X['acc'] holds 24 recordings, y 23 labels"),
    (lambda X, y, g: from_arrays({"acc": X}, y, groups=g[:3]), "groups has 3 entries, y 24 labels"),
    (lambda X, y, g: from_arrays({"acc": X[0]}, y, groups=g),
     "X['acc'] has 2 dimensions: pass layout='NCT' (recordings, channels, time), 'NTC' or 'NTVC' (keypoints)"),
    (lambda X, y, g: from_arrays({"acc": np.where(np.arange(40) == 7, np.nan, X)}, y, groups=g),
     "X['acc'][0] has 3 NaN/inf value(s) (first at frame 7)"),
    (lambda X, y, g: from_arrays({"acc": X}, y, groups=g, classes=["walk", "jog"]),
     "row 3, argument y: label 'sit' is not in classes (classes: walk, jog)"),
    (lambda X, y, g: from_arrays({"acc": X}, y, groups=g, test_groups=[9]),
     "test_groups: group 9 is not among the groups (1, 2, 3, 4)"),
    (lambda X, y, g: from_arrays({"acc": X}, y, groups=g, name="utd-mhad"),
     "name 'utd-mhad' is a registered dataset; pass from_arrays(..., name=...) another name"),
    (lambda X, y, g: from_arrays({"acc": X}, y, groups=g, keys=["a"] * 24),
     "keys must be 24 distinct names (one per label), got 24 with 23 repeated"),
    (lambda X, y, g: from_arrays({"acc": X}, y, groups=g, channels={"acc": ["x", "y"]}),
     "channels['acc'] names 2 channels, the arrays have 3"),
    (lambda X, y, g: from_arrays({"acc": X}, y, groups=g, layout="CTN"),
     "layout for 'acc' must be one of NCT, NTC, NTVC, got 'CTN'"),
])
def test_bad_arrays_are_one_input_error_naming_the_argument(arrays, call, message):
    X, y, groups = arrays
    with pytest.raises(InputError) as err:
        call(X, y, groups)
    assert str(err.value) == message
