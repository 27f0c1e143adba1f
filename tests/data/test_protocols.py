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
    split = make_split(spec, index, "cross_subject", val_fraction=0.15, seed=0, val_subjects=None)
    assert not set(split.val) & set(split.test) and not set(split.val) & set(split.train)
    per_class = {}
    for k in split.val:
        per_class[index[k].label] = per_class.get(index[k].label, 0) + 1
    assert per_class == {c: 2 for c in range(27)}  # round(0.15 * 16) per class
    again = make_split(spec, RecordingIndex("utd-mhad", None, list(reversed(index.recordings))), "cross_subject",
                       val_subjects=None)
    assert set(again.val) == set(split.val)  # independent of input order
    other = make_split(spec, index, "cross_subject", seed=1, val_subjects=None)
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


def _index(dataset, subjects):
    """Synthetic recordings of ``dataset``: 3 classes x ``subjects`` x 2 trials (MMAct: x scene x session)."""
    spec = get_dataset(dataset)
    recs = []
    for s in subjects:
        for a in range(3):
            for t in (1, 2, 3, 4, 5):
                attrs = {"scene": 1 + t % 2, "session": t, "cam": 1 + t % 4}
                recs.append(Recording(f"x{a}_s{s}_t{t}", a, s, t, attrs=attrs))
    return spec, RecordingIndex(dataset, None, recs)


PROTOCOLS = [("utd-mhad", "cross_subject", range(1, 9)), ("utd-mhad", "subject_specific", range(1, 9)),
             ("berkeley-mhad", "cross_subject", range(1, 13)), ("berkeley-mhad", "subject_specific", range(1, 13)),
             ("mmact", "cross_subject", range(1, 21)), ("mmact", "cross_scene", range(1, 21)),
             ("mmact", "cross_session", range(1, 21))]


@pytest.mark.parametrize("dataset,protocol,subjects", PROTOCOLS)
def test_auto_validation_never_overlaps_training_or_test(dataset, protocol, subjects):
    spec, index = _index(dataset, subjects)
    split = make_split(spec, index, protocol, val_subjects="auto")
    assert split.val and not set(split.val) & set(split.train) and not set(split.val) & set(split.test)
    assert len(split.val) + len(split.train) + len(split.test) == len(index)
    if protocol in spec.subject_protocols:
        held = {index[k].subject for k in split.val}
        assert split.validation.rule == "subjects" and held == set(split.validation.subjects)
        assert len(held) == spec.val_subject_count
        assert not held & {index[k].subject for k in split.train + split.test}  # whole subjects
    else:
        assert split.validation.rule == "fraction"
        assert split.validation.how.endswith(f"data.val_subjects auto: protocol {protocol} does not split by subject)")


def test_auto_rule_is_documented_hash_and_seed_free():
    import hashlib

    spec, index = _index("utd-mhad", range(1, 9))
    order = sorted((1, 3, 5, 7), key=lambda s: hashlib.sha256(f"val:utd-mhad:cross_subject:{s}".encode()).hexdigest())
    splits = [make_split(spec, index, "cross_subject", seed=seed, val_subjects="auto") for seed in (0, 1, 5)]
    assert {sp.validation.subjects for sp in splits} == {(order[0],)}
    assert splits[0].val == splits[1].val == splits[2].val
    assert splits[0].validation.how == f"training subject {order[0]} held out (data.val_subjects auto)"
    assert splits[0].validation.to_dict() == {"rule": "subjects", "subjects": [order[0]],
                                              "how": f"training subject {order[0]} held out (data.val_subjects auto)"}


def test_auto_with_one_training_subject_holds_nothing_out_and_carves_nothing():
    """Selection never uses recordings of the subjects a model trains on: with one training subject there is no
    validation split (the last epoch is kept); ``val_subjects=None`` still carves on request."""
    from harkd.errors import DataWarning

    spec, index = _index("berkeley-mhad", [1])
    msg = ("data.val_subjects auto: protocol cross_subject of berkeley-mhad has 1 training subject(s) (1), too few to "
           "hold one out: no validation split, every model keeps its last epoch (set data.val_subjects: null to "
           "carve validation recordings from the training subjects instead)")
    with pytest.warns(DataWarning) as caught:
        split = make_split(spec, index, "cross_subject")
    assert [str(w.message) for w in caught] == [msg]
    assert split.val == () and split.validation.to_dict() == {
        "rule": "none", "subjects": [], "how": "no validation split (data.val_subjects auto: too few training "
                                               "subjects in cross_subject to hold one out)"}
    assert len(split.train) == len([r for r in index if r.subject == 1])
    carve = make_split(spec, index, "cross_subject", val_subjects=None)
    assert carve.validation.rule == "fraction" and len(carve.val) == 3  # one of 5 per class


def test_null_and_lists_keep_their_rules(grid):
    spec, index = grid
    carve = make_split(spec, index, "cross_subject", val_subjects=None)
    assert carve.validation.rule == "fraction" and len({index[k].subject for k in carve.val}) > 1
    none = make_split(spec, index, "cross_subject", val_fraction=0, val_subjects=None)
    assert none.val == () and none.validation.to_dict() == {
        "rule": "none", "subjects": [], "how": "no validation split (data.val_fraction 0, data.val_subjects null)"}
    listed = make_split(spec, index, "cross_subject", val_subjects=[5, 1])
    assert listed.validation.how == "training subjects 1, 5 held out (data.val_subjects [1, 5])"
    with pytest.raises(InputError, match=r"^val_subjects must be 'auto', a list of subject ids or None, got 'all'$"):
        make_split(spec, index, "cross_subject", val_subjects="all")
