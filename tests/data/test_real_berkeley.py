"""Real Berkeley-MHAD: subject 1 (HARKD_DATA_ROOT/Berkeley-MHAD-s01: 55 recordings, six synchronised
accelerometers each, D-Mocap and mocap skeletons in the measured joint order) and the full 12-subject
release (HARKD_DATA_ROOT/Berkeley-MHAD: 659 recordings, its missing keys and 11 gapped files)."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest

from harkd.data import get_dataset, make_split
from harkd.data.berkeley_mhad import JOINT_NAMES
from harkd.models.graph import get_graph_layout

pytestmark = pytest.mark.realdata

SPEC = get_dataset("berkeley-mhad")


def release(real_data_root, folder: str, what: str):
    """``real_data_root / folder``, or a skip naming what is missing."""
    path = real_data_root / folder
    if not path.is_dir():
        pytest.skip(f"real-data test skipped: {path} not found ({what})")
    return path


@pytest.fixture(scope="module")
def root(real_data_root):
    return release(real_data_root, "Berkeley-MHAD-s01", "Berkeley-MHAD subject 1")


@pytest.fixture(scope="module")
def index(root):
    return SPEC.scan(root, strict=True)


def test_55_recordings_with_six_accelerometers_and_skeletons(index):
    assert len(index) == 55 and index.skipped == []
    assert index.modality_counts() == {m: 55 for m in SPEC.modalities if m != "camera"}  # no frames here
    assert all(sorted(r.files["inertial"]) == ["01", "02", "03", "04", "05", "06"] for r in index)
    assert {r.label for r in index} == set(range(11)) and {r.subject for r in index} == {1}
    assert index.keys[:2] == ["s01_a01_r01", "s01_a01_r02"]


def test_subject_specific_is_the_protocol_for_subject_1_alone(index):
    assert make_split(SPEC, index, "cross_subject").test == ()  # no test subject among subject 1's files
    split = make_split(SPEC, index, "subject_specific")  # repetitions 1-3 / 4-5
    assert split.counts() == {"train": 22, "val": 11, "test": 22}
    assert {index[k].trial for k in split.test} == {4, 5}


def test_synchronised_accelerometers_have_a_sane_length_and_rate(index):
    for rec in index:
        acc = SPEC.load(rec, "inertial")
        cam = SPEC.load(rec, "timestamps")[:, 1]
        skel = SPEC.load(rec, "skeleton")
        assert acc.shape[1] == 18 and acc.dtype == np.float32 and np.isfinite(acc).all()
        assert np.abs(acc).max() <= 2.0 + 1e-6  # g; the Shimmers saturate at +-2 g
        # 30 Hz over the streams' common window: within 0.3 s of the camera span
        assert abs(len(acc) / 30.0 - np.ptp(cam)) < 0.3, rec.key
        # D-Mocap runs at ~30 Hz over the camera span (one take, s01_a09_r02, at ~26.7)
        assert 26 < (len(skel) - 1) / np.ptp(cam) < 31, rec.key
        assert len(SPEC.load(rec, "inertial", window="camera")) <= int(np.ptp(cam) * 30) + 1


def test_skeleton_units_axes_and_joint_order(index):
    rec = index["s01_a06_r01"]  # waving one hand: the right hand
    skel, mocap = SPEC.load(rec, "skeleton"), SPEC.load(rec, "mocap")
    assert skel.shape == mocap.shape and skel.shape[1:] == (16, 3)
    assert np.allclose(skel[:, 0, :2], 0.0) and 0.6 < skel[:, 0, 2].mean() < 1.1  # metres, z up
    motion = mocap.std(axis=0).sum(axis=1)
    assert int(np.argmax(motion)) == JOINT_NAMES.index("right_wrist")
    for i, j in get_graph_layout("berkeley_dmocap16").edges:  # limb bones rigid; the torso's less so
        length = np.linalg.norm(mocap[:, i] - mocap[:, j], axis=1)
        limit = 0.2 if "neck" in (JOINT_NAMES[i], JOINT_NAMES[j]) else 0.002
        assert length.std() < limit * length.mean(), (JOINT_NAMES[i], JOINT_NAMES[j])


# -- the full release (HARKD_DATA_ROOT/Berkeley-MHAD, 12 subjects) ------------------------------
ACCELEROMETER_MODALITIES = ["acc1", "acc2", "acc3", "acc4", "acc5", "acc6", "inertial"]


@pytest.fixture(scope="module")
def full_root(real_data_root):
    return release(real_data_root, "Berkeley-MHAD", "the full Berkeley-MHAD release")


@pytest.fixture(scope="module")
def full_summary(full_root):
    """``harkd data info`` of the release: loads every accelerometer recording with the defaults (~6 s)."""
    from harkd.data.info import summarize

    return summarize(SPEC, SPEC.scan(full_root), "cross_subject")


def test_full_release_scans_to_659_recordings_and_reports_the_missing_ones(full_root, full_summary):
    index = SPEC.scan(full_root, strict=True)  # nothing skipped: the Time_stamps _b01/_b02/_t-pose are ignored
    assert len(index) == 659 and {r.subject for r in index} == set(range(1, 13))
    assert len(list((full_root / "Time_stamps").glob("time_stamps_img_s??_[bt]*.txt"))) == 36
    counts = index.modality_counts()
    assert counts["inertial"] == 658 and all(counts[m] == 658 for m in ACCELEROMETER_MODALITIES)
    assert counts["skeleton"] == counts["timestamps"] == 659
    assert full_summary["missing"] == {"incomplete": {"s02_a07_r05": ACCELEROMETER_MODALITIES},
                                       "absent": ["s04_a08_r05"]}
    assert full_summary["skipped"] == []
    assert full_summary["split"] == {"protocol": "cross_subject", "train": 329, "val": 55, "test": 275, "validation": {
        "rule": "subjects", "subjects": [3], "how": "training subject 3 held out (data.val_subjects auto)"}}


def test_every_accelerometer_recording_loads_with_the_default_and_the_11_gaps_are_reported(full_root, full_summary):
    from harkd.data.berkeley_mhad import RELEASE_GAPS

    assert full_summary["errors"] == [] and full_summary["lengths"]["inertial"]["n"] == 658
    gapped = {full_root / "Accelerometer" / f"Shimmer{h:02d}" / f"acc_h{h:02d}_s{s:02d}_a{a:02d}_r{r:02d}.txt":
              gap for (h, s, a, r), gap in RELEASE_GAPS.items()}
    warned = {Path(w.split(": ", 1)[0]): w for w in full_summary["warnings"]}
    assert sorted(warned) == sorted(gapped) and len(full_summary["warnings"]) == 11
    for path, (seconds, row) in gapped.items():  # the longest gap of each file, where it is
        assert f"{seconds:.3f} s before row {row}" in warned[path].replace(" without samples", "")
        assert warned[path].endswith("linearly interpolated (max_gap 2 s)")
