"""Real UTD-MHAD (HARKD_DATA_ROOT): all 861 recordings of every modality load and pair."""

from __future__ import annotations

import numpy as np
import pytest

from harkd.data import get_dataset, make_split

pytestmark = [pytest.mark.realdata, pytest.mark.slow]

MISSING = {"a8_s1_t4", "a23_s6_t4", "a27_s8_t4"}


@pytest.fixture(scope="module")
def index(utd_root):
    return get_dataset("utd-mhad").scan(utd_root, strict=True)


@pytest.fixture(scope="module")
def loaded(index):
    """key -> modality -> (shape, dtype) for every file (depth too: ~1 min once)."""
    spec = get_dataset("utd-mhad")
    out = {}
    for rec in index:
        out[rec.key] = {}
        for m in ("inertial", "skeleton", "depth"):
            x = spec.load(rec, m)
            out[rec.key][m] = (x.shape, x.dtype)
    return out


def test_counts_and_labels(index):
    assert len(index) == 861 and index.skipped == []
    assert index.modality_counts() == {"depth": 861, "inertial": 861, "skeleton": 861}
    spec = get_dataset("utd-mhad")
    assert set(spec.expected_keys()) - set(index.keys) == MISSING
    labels = {r.label for r in index}
    assert labels == set(range(27))


def test_class_names_match_release_file(real_data_root):
    path = real_data_root / "class-embeddings" / "UTD_classes.txt"
    if not path.is_file():
        pytest.skip(f"{path} not found")
    names = [line.strip() for line in path.read_text().splitlines() if line.strip()]
    assert tuple(names) == get_dataset("utd-mhad").class_names


def test_splits(index):
    spec = get_dataset("utd-mhad")
    cs = make_split(spec, index, "cross_subject")
    assert (len(cs.train) + len(cs.val), len(cs.test)) == (431, 430)
    ss = make_split(spec, index, "subject_specific")
    assert (len(ss.train) + len(ss.val), len(ss.test)) == (432, 429)


def test_every_file_loads_with_expected_layout(loaded):
    assert len(loaded) == 861
    for key, mods in loaded.items():
        (ti, ci), di = mods["inertial"]
        (ts, js, cs), ds = mods["skeleton"]
        (td, h, w), dd = mods["depth"]
        assert ci == 6 and di == np.float32 and 100 <= ti <= 400, key
        assert (js, cs) == (20, 3) and ds == np.float32 and ts > 0, key
        assert (h, w) == (240, 320) and dd == np.uint16, key
        assert ts == td, f"{key}: skeleton has {ts} frames, depth {td}"
