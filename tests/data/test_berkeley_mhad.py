"""Berkeley-MHAD loader on synthetic data: scan, clock synchronisation, bad files, options, batches."""

from __future__ import annotations

import warnings
from pathlib import Path

import numpy as np
import pytest
import scipy.io
import torch

from harkd.data import PreprocessCache, get_dataset, make_datasets, make_split
from harkd.data.berkeley_mhad import CLASS_NAMES, JOINT_NAMES, read_accelerometers
from harkd.data.synth import write_berkeley_mhad
from harkd.errors import ConfigError, DataError, DataWarning
from harkd.models.graph import get_graph_layout

SPEC = get_dataset("berkeley-mhad")
T0 = 1309539264.0


@pytest.fixture(scope="module")
def synth_root(tmp_path_factory) -> Path:
    """Subjects 1 and 8 (train and test side), actions 1, 6, 10, repetitions 1-2, uneven clocks."""
    root = tmp_path_factory.mktemp("berkeley")
    write_berkeley_mhad(root, subjects=(1, 8), actions=(1, 6, 10), repetitions=2, uneven=True, seed=3)
    return root


@pytest.fixture(scope="module")
def index(synth_root):
    return SPEC.scan(synth_root, strict=True)


def acc_path(root: Path, h: int, key: str = "s01_a01_r01") -> Path:
    return root / "Accelerometer" / f"Shimmer{h:02d}" / f"acc_h{h:02d}_{key}.txt"


def write_streams(root: Path, starts=(0.0,) * 6, n: int = 40, dt: float = 0.025, key: str = "s01_a01_r01") -> None:
    """Six accelerometers whose x column is the clock time since T0 (so resampling is checkable)."""
    for h, start in zip(range(1, 7), starts):
        t = start + np.arange(n) * dt
        rows = np.column_stack([t, np.full(n, float(h)), -t, T0 + t])
        path = acc_path(root, h, key)
        path.parent.mkdir(parents=True, exist_ok=True)
        np.savetxt(path, rows, fmt="%.6f")


# -- registry and scan ---------------------------------------------------------------------
def test_registered_with_class_names_and_protocol(index):
    assert SPEC.name == "berkeley-mhad" and SPEC.num_classes == 11
    assert CLASS_NAMES[0] == "jumping in place" and CLASS_NAMES[-1] == "stand up"
    assert len(index) == 12 and index.skipped == []
    rec = index["s08_a06_r02"]
    assert (rec.label, rec.subject, rec.trial, rec.attrs) == (5, 8, 2, {"subject": 8, "action": 6, "repetition": 2})
    assert index.modality_counts() == {m: 12 for m in SPEC.modalities if m != "camera"}
    assert sorted(rec.files["inertial"]) == ["01", "02", "03", "04", "05", "06"]
    split = make_split(SPEC, index, "cross_subject", val_fraction=0.0)
    assert {index[k].subject for k in split.train} == {1} and {index[k].subject for k in split.test} == {8}
    assert len(SPEC.expected_keys()) == 660 and "s04_a08_r05" in SPEC.expected_keys()  # absent: reported by info


def test_subject_specific_protocol_splits_repetitions_within_each_subject(tmp_path):
    write_berkeley_mhad(tmp_path, subjects=(1, 8), actions=(1, 2), repetitions=5, seed=1)
    index = SPEC.scan(tmp_path, strict=True)
    split = make_split(SPEC, index, "subject_specific")  # 2 subjects x 3 repetitions per class: 1 to validation
    assert split.counts() == {"train": 10, "val": 2, "test": 8}
    assert {index[k].trial for k in split.train + split.val} == {1, 2, 3}
    assert {index[k].trial for k in split.test} == {4, 5}
    assert {index[k].subject for k in split.test} == {1, 8}


def test_shapes_units_and_shared_time_base(index):
    rec = index["s01_a06_r01"]
    acc = SPEC.load(rec, "inertial")
    skel, mocap = SPEC.load(rec, "skeleton"), SPEC.load(rec, "mocap")
    assert acc.dtype == np.float32 and acc.shape[1] == 18 and np.abs(acc).max() <= 2.0
    assert skel.shape == mocap.shape and skel.shape[1:] == (16, 3) and skel.dtype == np.float32
    assert 1.0 < skel[:, JOINT_NAMES.index("neck"), 2].mean() < 2.0  # metres, z up
    assert np.allclose(skel[:, 0, :2], 0.0, atol=0.05)  # D-Mocap: hip_center at x = y = 0
    # each acc modality is one accelerometer on the time base of all six
    for h in range(1, 7):
        assert np.array_equal(SPEC.load(rec, f"acc{h}"), acc[:, 3 * (h - 1): 3 * h])
    assert SPEC.load(rec, "inertial", accelerometers=[5, 2]).shape[1] == 6
    # 30 Hz default rate over ~the camera span; 60 Hz doubles the samples
    span = np.ptp(SPEC.load(rec, "timestamps")[:, 1])
    assert abs(len(acc) / 30.0 - span) < 0.3
    assert abs(len(SPEC.load(rec, "inertial", rate=60)) - 2 * len(acc)) <= 2


def test_sync_resamples_every_stream_on_its_own_clock(tmp_path):
    starts = (0.0, 0.013, 0.05, 0.002, 0.031, 0.02)
    write_streams(tmp_path, starts, n=40, dt=0.025)
    x = read_accelerometers({h: acc_path(tmp_path, h) for h in range(1, 7)}, rate=20)
    grid = 0.05 + np.arange(len(x)) / 20  # from the latest start to the earliest end
    assert len(x) == int((0.975 - 0.05) * 20) + 1
    for h in range(6):
        assert np.allclose(x[:, 3 * h], grid, atol=1e-5)  # x column = the clock time
        assert np.allclose(x[:, 3 * h + 1], h + 1) and np.allclose(x[:, 3 * h + 2], -grid, atol=1e-5)
    # one accelerometer alone spans its own clock; sync_with narrows it to the common window
    alone = read_accelerometers(acc_path(tmp_path, 1), rate=20)
    assert alone[0, 0] == pytest.approx(0.0) and len(alone) == 20
    synced = read_accelerometers(acc_path(tmp_path, 1), rate=20, sync_with=range(1, 7))
    assert np.allclose(synced, x[:, :3])


def test_camera_window_intersects_the_camera_span(synth_root, index):
    rec = index["s01_a01_r01"]
    cam = SPEC.load(rec, "timestamps")[:, 1]
    acc = SPEC.load(rec, "inertial", window="camera")
    assert len(acc) <= int(np.ptp(cam) * 30) + 1


# -- missing and broken streams -------------------------------------------------------------
def test_missing_stream_is_skipped_and_reported_or_raises_when_strict(tmp_path):
    write_berkeley_mhad(tmp_path, subjects=1, actions=(1,), repetitions=2, missing_streams=[("s01_a01_r02", "acc3")])
    index = SPEC.scan(tmp_path)
    missing = acc_path(tmp_path, 3, "s01_a01_r02")
    assert index.skipped == [(missing, "missing file (part 03 of inertial of recording s01_a01_r02); "
                                       "the recording has no inertial")]
    assert index.missing() == {"s01_a01_r02": ["acc1", "acc2", "acc3", "acc4", "acc5", "acc6", "inertial"]}
    assert index["s01_a01_r02"].has("skeleton")
    with pytest.raises(DataError) as err:
        SPEC.scan(tmp_path, strict=True)
    assert str(err.value) == f"{missing}: missing file (part 03 of inertial of recording s01_a01_r02); " \
                             "the recording has no inertial"
    split = make_split(SPEC, index, "cross_subject", val_fraction=0.0)
    sets = make_datasets(SPEC, index, split, ("inertial",), {"inertial": {"length": 16}})
    assert sets["train"].skipped == [("s01_a01_r02", "missing inertial")]


def test_streams_that_do_not_overlap_name_the_file(tmp_path):
    write_streams(tmp_path, starts=(0.0, 0.0, 0.0, 5.0, 0.0, 0.0), n=40, dt=0.025)
    with pytest.raises(DataError) as err:
        read_accelerometers({h: acc_path(tmp_path, h) for h in range(1, 7)})
    assert str(err.value) == (f"{acc_path(tmp_path, 4)}: does not overlap the other streams of this recording on "
                              f"the shared clock: it covers {T0 + 5:.3f}-{T0 + 5.975:.3f} s, they share "
                              f"{T0:.3f}-{T0 + 0.975:.3f} s (need at least 2 samples at 30 Hz in common)")


def test_synthetic_no_overlap_option(tmp_path):
    write_berkeley_mhad(tmp_path, subjects=1, actions=(2,), repetitions=1, no_overlap=[("s01_a02_r01", "acc5")])
    index = SPEC.scan(tmp_path)
    with pytest.raises(DataError, match=r"acc_h05_s01_a02_r01\.txt: does not overlap"):
        SPEC.load(index["s01_a02_r01"], "acc1")
    with pytest.raises(DataError, match="does not overlap"):
        SPEC.scan(tmp_path, validate=True, strict=True)
    assert SPEC.load(index["s01_a02_r01"], "acc1", sync_with=[1]).shape[1] == 3  # own clock only


def test_missing_camera_file_for_camera_window(tmp_path):
    write_streams(tmp_path)
    with pytest.raises(DataError) as err:
        read_accelerometers({h: acc_path(tmp_path, h) for h in range(1, 7)}, window="camera")
    cam = tmp_path / "Time_stamps" / "time_stamps_img_s01_a01_r01.txt"
    assert str(err.value) == f"{cam}: missing camera time stamps file (needed by window='camera')"


@pytest.mark.parametrize("text, problem", [
    ("", "empty file (0 bytes)"),
    ("0.1 0.2 0.3 10.0\n0.1 0.2 10.1\n", "line 2: expected 4 values (x y z unix_time), got 3"),
    ("0.1 0.2 0.3 10.0\n0.1 abc 0.3 10.1\n", "line 2: non-numeric value 'abc'"),
    ("0.1 0.2 0.3 10.0\nnan 0.2 0.3 10.1\n", "line 2: NaN/inf value"),
    ("0.1 0.2 0.3 10.0\n1e300 0.2 0.3 10.1\n",
     "line 2: value beyond the float32 range (1e+300; the samples are returned as float32)"),
    ("0.1 0.2 0.3 10.0\n0.1 0.2 0.3 10.1\n0.1 0.2 0.3 10.05\n",
     "time stamps not increasing: row 3 (10.050000) is before row 2 (10.100000)"),
    ("0.1 0.2 0.3 10.0\n0.1 0.2 0.3 12.5\n",
     "gap of 2.500 s without samples before row 2 (max_gap 2 s; raise the load option max_gap to interpolate it)"),
    ("\n\n", "no data rows (expected x y z unix_time)"),
    ("0.1 0.2 0.3 10.0\n", "only 1 sample (need at least 2 to resample)"),
    ("\xff\xfe", "not a text file (non-ASCII byte at offset 0)"),
])
def test_bad_accelerometer_file_gives_one_data_error(tmp_path, text, problem):
    path = tmp_path / "acc_h01_s01_a01_r01.txt"
    path.write_bytes(text.encode("latin-1"))
    with pytest.raises(DataError) as err:
        read_accelerometers(path)
    assert str(err.value) == f"{path}: {problem}"


def test_repeated_time_stamp_keeps_the_first_row(tmp_path):
    path = tmp_path / "acc_h01_s01_a01_r01.txt"
    path.write_text("1 0 0 10.0\n2 0 0 10.0\n3 0 0 10.1\n")
    with pytest.warns(DataWarning) as caught:
        x = read_accelerometers(path, rate=10)
    assert np.allclose(x[:, 0], [1.0, 3.0])
    assert [str(w.message) for w in caught] == [
        f"{path}: 1 row with a repeated time stamp dropped (first: row 2; the first row of each time stamp is kept)"]


def test_bad_mat_files(tmp_path, index):
    root = tmp_path
    folder = root / "Front-Facing" / "D-Mocap"
    folder.mkdir(parents=True)
    wrong = folder / "K1_kinect_S01_A01_R01.mat"
    scipy.io.savemat(wrong, {"frontKinect": np.zeros((5, 15, 3))})
    with pytest.raises(DataError) as err:
        SPEC.load(SPEC.scan(root).recordings[0], "skeleton")
    assert str(err.value) == f"{wrong}: variable 'frontKinect' has shape (5, 15, 3), expected 'frontKinect' (T x 16 x 3)"
    mocap = root / "Front-Facing" / "Mocap" / "K1_mocap_S01_A01_R01.mat"
    mocap.parent.mkdir(parents=True)
    scipy.io.savemat(mocap, {"other": np.zeros((5, 16, 3))})
    with pytest.raises(DataError) as err:
        SPEC.load(SPEC.scan(root).recordings[0], "mocap")
    assert str(err.value) == f"{mocap}: variable 'K1_mocap_S01_A01_R01' not found (variables: other)"
    nan = np.zeros((5, 16, 3))
    nan[2, 3, 1] = np.nan
    scipy.io.savemat(wrong, {"frontKinect": nan})
    with pytest.raises(DataError, match=r"has 1 NaN/inf value\(s\) \(first at frame 2\)"):
        SPEC.load(SPEC.scan(root).recordings[0], "skeleton")


def test_scan_reports_unknown_and_out_of_range_files_once(tmp_path):
    write_streams(tmp_path)
    (tmp_path / "Accelerometer" / "Shimmer01" / "notes.txt").write_text("x")
    write_streams(tmp_path, key="s13_a01_r01")
    cams = tmp_path / "Time_stamps"
    cams.mkdir()
    (cams / "time_stamps_img_s01_b01.txt").write_text("0 1.0\n")  # background capture: ignored
    (cams / "time_stamps_img_s01_a01_r01.txt").write_text("0 1309539264.0\n1 1309539265.0\n")
    index = SPEC.scan(tmp_path)
    reasons = {p.name: r for p, r in index.skipped}
    assert reasons["notes.txt"] == "unknown file name pattern (expected ShimmerHH/acc_hHH_sSS_aAA_rRR.txt)"
    assert reasons["acc_h01_s13_a01_r01.txt"] == "subject 13 outside 1..12"
    assert len(index.skipped) == 7 and index.keys == ["s01_a01_r01"]


def test_missing_modality_names_the_expected_file(tmp_path):
    write_streams(tmp_path)
    index = SPEC.scan(tmp_path)
    with pytest.raises(DataError) as err:
        SPEC.load(index["s01_a01_r01"], "mocap", root=tmp_path)
    assert str(err.value) == (f"{tmp_path / 'Front-Facing/Mocap/K1_mocap_S01_A01_R01.mat'}: "
                              "missing mocap file for recording s01_a01_r01")


@pytest.mark.parametrize("options, message", [
    ({"accelerometers": [7]}, "Berkeley-MHAD option 'accelerometers' must list distinct accelerometer ids 1-6, got [7]"),
    ({"accelerometers": [1, 1]}, "Berkeley-MHAD option 'accelerometers' must list distinct accelerometer ids 1-6"),
    ({"accelerometers": []}, "must name at least one accelerometer"),
    ({"sensor": "gyro"}, "Berkeley-MHAD sensor must be 'acc' or 'all' (accelerometers only, no gyroscope)"),
    ({"rate": 0}, "Berkeley-MHAD option 'rate' must be a number of Hz in (0, 1000], got 0"),
    ({"window": "camra"}, "unknown Berkeley-MHAD window 'camra'; did you mean 'camera'?"),
    ({"length": 3}, "unknown inertial load option 'length'"),
])
def test_bad_options_are_config_errors(index, options, message):
    with pytest.raises(ConfigError) as err:
        SPEC.load(index["s01_a01_r01"], "inertial", **options)
    assert message in str(err.value)


# -- datasets, transforms, cache --------------------------------------------------------------
def test_training_batch_with_six_branches_and_skeleton(synth_root, index, tmp_path):
    split = make_split(SPEC, index, "cross_subject", val_fraction=0.25)
    modalities = ("inertial", "skeleton", *(f"acc{h}" for h in range(1, 7)))
    config = {"inertial": {"length": 32, "normalize": True, "load": {"accelerometers": [1, 2, 4]}},
              "skeleton": {"frames": 8, "center": 0, "normalize": True},
              **{f"acc{h}": {"length": 32, "normalize": True} for h in range(1, 7)}}
    cache = PreprocessCache(tmp_path / "cache")
    sets = make_datasets(SPEC, index, split, modalities, config, cache=cache)
    assert len(sets["train"]) + len(sets["val"]) == 6 and len(sets["test"]) == 6
    batch = next(iter(torch.utils.data.DataLoader(sets["train"], batch_size=3, shuffle=False)))
    assert batch["inertial"].shape == (3, 9, 32) and batch["skeleton"].shape == (3, 3, 8, 16)
    assert all(batch[f"acc{h}"].shape == (3, 3, 32) for h in range(1, 7))
    assert batch["label"].tolist() == [index[k].label for k in batch["key"]]
    assert torch.isfinite(batch["inertial"]).all()
    sets["train"][0]  # a second read comes from the cache (keyed on all six files)
    assert cache.stats["memory_hits"] > 0
    skel = sets["train"].prepared(sets["train"].recordings[0], "skeleton")
    assert np.allclose(skel[:, 0], 0.0)  # centred on hip_center (joint 0)


def test_model_consumes_a_batch(index):
    from harkd.models import create_model

    split = make_split(SPEC, index, "cross_subject", val_fraction=0.0)
    sets = make_datasets(SPEC, index, split, ("inertial",), {"inertial": {"length": 64, "normalize": True}})
    batch = next(iter(torch.utils.data.DataLoader(sets["train"], batch_size=4)))
    model = create_model("imu_cnn1d", num_classes=SPEC.num_classes, in_chans=18)
    loss = torch.nn.functional.cross_entropy(model(batch["inertial"]), batch["label"])
    loss.backward()
    assert torch.isfinite(loss)


def test_center_joint_out_of_range(index):
    split = make_split(SPEC, index, "cross_subject", val_fraction=0.0)
    with pytest.raises(ConfigError, match="joint 20 does not exist \\(the skeleton has 16 joints\\)"):
        make_datasets(SPEC, index, split, ("skeleton",), {"skeleton": {"center": 20, "normalize": True}})


# -- synthetic writer and graph layout --------------------------------------------------------
def test_synthetic_files_follow_the_release_format(synth_root):
    rows = np.loadtxt(acc_path(synth_root, 2))
    assert rows.shape[1] == 4 and np.all(np.diff(rows[:, 3]) > 0) and rows[0, 3] > 1.3e9
    dt = np.diff(rows[:, 3])
    assert dt.min() < 1e-3 and 0.02 < np.median(dt) < 0.035  # uneven, near-duplicate stamps
    cam = np.loadtxt(synth_root / "Time_stamps" / "time_stamps_img_s01_a01_r01.txt")
    assert np.array_equal(cam[:, 0], np.arange(len(cam)))
    assert abs(rows[0, 3] - cam[0, 1]) < 0.2  # one shared clock
    mocap = scipy.io.loadmat(synth_root / "Front-Facing" / "Mocap" / "K1_mocap_S01_A01_R01.mat")
    assert mocap["K1_mocap_S01_A01_R01"].shape[1:] == (16, 3)
    again = write_berkeley_mhad(synth_root.parent / "again", subjects=(1,), actions=(1,), repetitions=1,
                                uneven=True, seed=3)
    assert np.array_equal(np.loadtxt(acc_path(again.root, 2)), rows)


def test_graph_layout_bones_are_rigid_in_synthetic_mocap(index):
    mocap = SPEC.load(index["s01_a01_r01"], "mocap")
    layout = get_graph_layout("berkeley_dmocap16")
    assert layout.center == JOINT_NAMES.index("hip_center")
    for i, j in layout.edges:
        length = np.linalg.norm(mocap[:, i] - mocap[:, j], axis=1)
        assert length.std() < 0.01 * length.mean() + 0.003, (JOINT_NAMES[i], JOINT_NAMES[j])


# -- optional camera frames ----------------------------------------------------------------------
def write_pgm(path: Path, image: np.ndarray, maxval: int = 255) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    dtype = ">u2" if maxval > 255 else "u1"
    path.write_bytes(b"P5\n# comment\n%d %d\n%d\n" % (image.shape[1], image.shape[0], maxval)
                     + image.astype(dtype).tobytes())


def test_camera_frames(tmp_path):
    rng = np.random.default_rng(0)
    frames = rng.integers(0, 256, (3, 6, 8))
    for cam in (1, 2):
        folder = tmp_path / "Camera" / "Cluster01" / f"Cam{cam:02d}" / "S01" / "A02" / "R03"
        for i, im in enumerate(frames[::-1] if cam == 2 else frames):
            write_pgm(folder / f"img_l01_c{cam:02d}_s01_a02_r03_{i:05d}.pgm", im)
    index = SPEC.scan(tmp_path)
    rec = index["s01_a02_r03"]
    assert sorted(rec.files["camera"]) == ["Cluster01/Cam01", "Cluster01/Cam02"]
    x = SPEC.load(rec, "camera")
    assert x.dtype == np.uint8 and np.array_equal(x, frames)
    assert np.array_equal(SPEC.load(rec, "camera", camera="Cluster01/Cam02"), frames[::-1])
    with pytest.raises(ConfigError, match="unknown Berkeley-MHAD camera 'Cluster01/Cam09'"):
        SPEC.load(rec, "camera", camera="Cluster01/Cam09")
    split = make_split(SPEC, index, "cross_subject", val_fraction=0.0)
    sets = make_datasets(SPEC, index, split, ("camera",), {"camera": {"frames": 2, "scale": "max"}})
    assert sets["train"][0]["camera"].shape == (2, 1, 6, 8)
    bad = tmp_path / "Camera" / "Cluster01" / "Cam01" / "S01" / "A02" / "R03" / "img_l01_c01_s01_a02_r03_00001.pgm"
    bad.write_bytes(b"P5\n8 6\n255\n" + b"\0" * 10)
    with pytest.raises(DataError) as err:
        SPEC.load(rec, "camera")
    assert str(err.value) == f"{bad}: truncated PGM image (10 of 48 pixel bytes)"
    write_pgm(bad, np.zeros((6, 8)), maxval=4095)
    assert SPEC.load(rec, "camera").dtype == np.uint16


# -- gaps, short clips, duplicates -------------------------------------------------------------
def test_gap_up_to_max_gap_is_interpolated_and_reported_per_file(tmp_path):
    path = tmp_path / "acc_h01_s01_a01_r01.txt"
    t = np.concatenate([np.arange(5) * 0.1, 1.6 + np.arange(5) * 0.1, 4.0 + np.arange(5) * 0.1])  # gaps 1.2, 1.999
    np.savetxt(path, np.column_stack([t, t, t, T0 + t]), fmt="%.6f")
    with pytest.warns(DataWarning) as caught:
        x = read_accelerometers(path, rate=10)
    assert [str(w.message) for w in caught] == [
        f"{path}: 2 gaps without samples (1.200 s before row 6, 2.000 s before row 11), linearly interpolated "
        f"(max_gap 2 s)"]
    assert np.allclose(x[:, 0], np.arange(len(x)) / 10, atol=1e-4)  # the straight line across each gap
    with pytest.raises(DataError) as err:
        read_accelerometers(path, max_gap=1.5)
    assert str(err.value) == (f"{path}: gap of 2.000 s without samples before row 11 (max_gap 1.5 s; "
                              f"raise the load option max_gap to interpolate it)")
    np.savetxt(path, np.column_stack([t[:10], t[:10], t[:10], T0 + t[:10]]), fmt="%.6f")
    with pytest.warns(DataWarning) as caught:
        read_accelerometers(path, max_gap=5)
    assert [str(w.message) for w in caught] == [
        f"{path}: gap of 1.200 s without samples before row 6, linearly interpolated (max_gap 5 s)"]


def test_gap_of_one_second_or_less_is_not_reported(tmp_path):
    path = tmp_path / "acc_h01_s01_a01_r01.txt"
    t = np.concatenate([np.arange(5) * 0.1, 1.4 + np.arange(5) * 0.1])  # a 1.0 s gap
    np.savetxt(path, np.column_stack([t, t, t, T0 + t]), fmt="%.6f")
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        assert read_accelerometers(path, rate=10).shape == (19, 3)


@pytest.mark.parametrize("text, problem", [
    ("0.1 0.2 0.3 10.0\n0.1 0.2 0.3 10.0\n", "all 2 rows have the same time stamp 10.000000 "
                                             "(need at least 2 distinct times to resample)"),
    ("1 2 3 4 5\n", "line 1: expected 4 values (x y z unix_time), got 5"),
    ("0.1 0.2 0.3 10.0\n\n0.1 0.2 0.3 inf\n", "line 3: NaN/inf value"),
])
def test_more_bad_accelerometer_files(tmp_path, text, problem):
    path = tmp_path / "acc_h01_s01_a01_r01.txt"
    path.write_text(text)
    with pytest.raises(DataError) as err:
        read_accelerometers(path)
    assert str(err.value) == f"{path}: {problem}"


def test_fast_table_parser_matches_the_line_by_line_one(synth_root):
    from harkd.data.berkeley_mhad import ACC_COLUMNS, _read_table_lines, read_table

    for path in sorted((synth_root / "Accelerometer").glob("*/*.txt"))[:6]:
        text = path.read_text()
        assert np.array_equal(read_table(path, ACC_COLUMNS), _read_table_lines(path, text, ACC_COLUMNS))
    path = synth_root / "Time_stamps" / "time_stamps_img_s01_a01_r01.txt"
    assert read_table(path, "frame unix_time").shape[1] == 2


def test_single_frame_skeleton_camera_times_and_camera_folder_are_rejected(tmp_path):
    from harkd.data.berkeley_mhad import read_camera, read_camera_times, read_dmocap

    mat = tmp_path / "K1_kinect_S01_A01_R01.mat"
    scipy.io.savemat(mat, {"frontKinect": np.zeros((1, 16, 3))})
    assert str(pytest.raises(DataError, read_dmocap, mat).value) == (
        f"{mat}: variable 'frontKinect' has only 1 frame (need at least 2)")
    cam = tmp_path / "time_stamps_img_s01_a01_r01.txt"
    cam.write_text("0 1309539264.151622\n")
    assert str(pytest.raises(DataError, read_camera_times, cam).value) == (
        f"{cam}: only 1 frame time stamp (need at least 2 to resample)")
    folder = tmp_path / "R01"
    write_pgm(folder / "img_l01_c01_s01_a01_r01_00000.pgm", np.zeros((6, 8)))
    assert str(pytest.raises(DataError, read_camera, folder).value) == (
        f"{folder}: only 1 frame (img_l01_c01_s01_a01_r01_00000.pgm) in this camera folder (need at least 2)")


def test_duplicate_names_keep_the_release_spelling(tmp_path):
    write_berkeley_mhad(tmp_path, subjects=1, actions=(1,), repetitions=1)
    canonical = acc_path(tmp_path, 3)
    other = canonical.with_name("acc_h03_s1_a01_r01.txt")  # sorts after the release's name
    other.write_bytes(canonical.read_bytes())
    dmocap = tmp_path / "Front-Facing" / "D-Mocap"
    (dmocap / "K1_kinect_S1_A1_R1.mat").write_bytes((dmocap / "K1_kinect_S01_A01_R01.mat").read_bytes())
    index = SPEC.scan(tmp_path)
    assert index["s01_a01_r01"].files["inertial"]["03"] == canonical
    assert {p.relative_to(tmp_path).as_posix(): r for p, r in index.skipped} == {
        "Accelerometer/Shimmer03/acc_h03_s1_a01_r01.txt":
            "duplicate of Accelerometer/Shimmer03/acc_h03_s01_a01_r01.txt (same key s01_a01_r01; "
            "the release's file name is kept)",
        "Front-Facing/D-Mocap/K1_kinect_S1_A1_R1.mat":
            "duplicate of K1_kinect_S01_A01_R01.mat (same key s01_a01_r01; the release's file name is kept)"}


# -- the full release's faults (synth --like-release) -----------------------------------------
LIKE_SUBJECTS, LIKE_ACTIONS = (2, 3, 4, 5, 7, 9, 10), (3, 7, 8, 9, 10)


@pytest.fixture(scope="module")
def like_release(tmp_path_factory) -> Path:
    """Every subject and action holding one of the release's faults (174 recordings, ~6 s)."""
    root = tmp_path_factory.mktemp("berkeley-like-release")
    write_berkeley_mhad(root, subjects=LIKE_SUBJECTS, actions=LIKE_ACTIONS, uneven=True, like_release=True)
    return root


def gap_file(root: Path, h: int, s: int, a: int, r: int) -> Path:
    return acc_path(root, h, f"s{s:02d}_a{a:02d}_r{r:02d}")


def test_like_release_scan_reports_the_missing_recordings(like_release):
    index = SPEC.scan(like_release)
    assert len(index) == 7 * 5 * 5 - 1 and index.skipped == []  # the extra Time_stamps captures are ignored
    assert "s04_a08_r05" not in index.keys
    counts = index.modality_counts()
    assert counts["skeleton"] == counts["timestamps"] == 174 and counts["inertial"] == counts["acc3"] == 173
    assert index.missing(counts) == {"s02_a07_r05": ["acc1", "acc2", "acc3", "acc4", "acc5", "acc6", "inertial"]}
    assert sorted(p.name for p in (like_release / "Time_stamps").glob("*_s03_[bt]*.txt")) == [
        "time_stamps_img_s03_b01.txt", "time_stamps_img_s03_b02.txt", "time_stamps_img_s03_t-pose.txt"]
    split = make_split(SPEC, index, "cross_subject", val_subjects=None)  # the per-class carve
    assert {k: len(v) for k, v in (("train", split.train), ("val", split.val))} == {"train": 104, "val": 20}
    assert len(split.test) == 50 and {index[k].subject for k in split.test} == {9, 10}


def test_like_release_gaps_load_with_the_default_and_are_reported(like_release):
    from harkd.data.berkeley_mhad import RELEASE_GAPS
    from harkd.data.info import summarize

    index = SPEC.scan(like_release)
    summary = summarize(SPEC, index, "cross_subject")
    assert summary["errors"] == [] and summary["lengths"]["inertial"]["n"] == 173
    assert summary["missing"]["absent"][:1] == ["s01_a01_r01"] and "s04_a08_r05" in summary["missing"]["absent"]
    expected = [f"{gap_file(like_release, *k)}: gap of {g:.3f} s without samples before row" for k, (g, _) in
                RELEASE_GAPS.items()]
    assert sorted(w.split(" before row")[0] + " before row" for w in summary["warnings"]) == sorted(expected)
    assert all(w.endswith(", linearly interpolated (max_gap 2 s)") for w in summary["warnings"])
    with pytest.raises(DataError) as err:  # a stricter bound makes these recordings errors
        SPEC.load(index["s07_a07_r02"], "inertial", max_gap=1.0)
    assert str(err.value).startswith(f"{gap_file(like_release, 4, 7, 7, 2)}: gap of 1.083 s without samples")
