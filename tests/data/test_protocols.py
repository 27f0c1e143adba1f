"""Protocols and the validation carve (training side only, deterministic)."""

from __future__ import annotations

import pytest

from harkd.data import carve_validation, get_dataset, make_split
from harkd.data.recording import Recording, RecordingIndex
from harkd.errors import ConfigError, InputError


@pytest.fixture
def grid():
    """Full 27 x 8 x 4 UTD-MHAD grid of recordings (no files needed)."""
    spec = get_dataset("utd-mhad")
    recs = [spec.make_recording({"action": a, "subject": s, "trial": t}, {})
            for a in range(1, 28) for s in range(1, 9) for t in range(1, 5)]
    return spec, RecordingIndex("utd-mhad", None, recs)


def test_protocol_sides(grid):
    spec, index = grid
    cs = make_split(spec, index, "cross_subject")
    assert len(cs.train) + len(cs.val) == 432 and len(cs.test) == 432
    assert {index[k].subject for k in cs.test} == {2, 4, 6, 8}
    assert {index[k].subject for k in cs.train + cs.val} == {1, 3, 5, 7}
    ss = make_split(spec, index, "subject_specific")
    assert {index[k].trial for k in ss.test} == {3, 4}
    with pytest.raises(ConfigError, match=r"unknown utd-mhad protocol 'cross_subjects'; did you mean 'cross_subject'\?"):
        make_split(spec, index, "cross_subjects")


def test_validation_rule(grid):
    spec, index = grid
    split = make_split(spec, index, "cross_subject", val_fraction=0.15, seed=0)
    assert not set(split.val) & set(split.test) and not set(split.val) & set(split.train)
    per_class = {}
    for k in split.val:
        per_class[index[k].label] = per_class.get(index[k].label, 0) + 1
    assert per_class == {c: 2 for c in range(27)}  # round(0.15 * 16) per class
    again = make_split(spec, RecordingIndex("utd-mhad", None, list(reversed(index.recordings))), "cross_subject")
    assert set(again.val) == set(split.val)  # independent of input order
    other = make_split(spec, index, "cross_subject", seed=1)
    assert set(other.val) != set(split.val) and other.test == split.test


def test_validation_edge_cases():
    recs = [Recording(f"a{a}_s1_t{t}", a - 1, 1, t) for a, n in ((1, 1), (2, 2), (3, 10)) for t in range(1, n + 1)]
    val = carve_validation(recs, 0.15, seed=0)
    labels = sorted(int(k[1]) for k in val)
    assert labels == [2, 3, 3]  # 1 recording: kept for training; 2 -> 1; 10 -> round(1.5) = 2
    assert carve_validation(recs, 0.0) == set()
    with pytest.raises(InputError, match=r"val_fraction must be in \[0, 1\)"):
        carve_validation(recs, 1.0)


def test_hold_out_subjects(grid):
    spec, index = grid
    split = make_split(spec, index, "cross_subject", val_subjects=[7])
    assert {index[k].subject for k in split.val} == {7} and len(split.val) == 108
    with pytest.raises(InputError, match=r"val_subjects \[2\] are not training subjects"):
        make_split(spec, index, "cross_subject", val_subjects=[2])
