"""MMAct: layout scan, CSV reader, stream combining, protocols, skip policy, loading."""

from __future__ import annotations

import re
import shutil
from pathlib import Path

import numpy as np
import pytest
from torch.utils.data import DataLoader

from harkd.data import available_datasets, get_dataset, make_datasets, make_split
from harkd.data.info import summarize
from harkd.data.mmact import (CLASS_NAMES, action_label, normalise_action, read_inertial, read_samples,
                              read_stream, read_streams, resample_uniform)
from harkd.data.synth.mmact import write_mmact
from harkd.errors import ConfigError, DataError, DataWarning, InputError

SUBJECTS, SCENES, SESSIONS, ACTIONS = (1, 2, 17), (1, 2), (1, 5), (1, 2)


@pytest.fixture(scope="module")
def synth_root(tmp_path_factory) -> Path:
    """24 takes: subjects 1 (subject1/), 2 (subject02/), 17; an empty acc_watch CSV and a missing gyro CSV."""
    root = tmp_path_factory.mktemp("mmact")
    write_mmact(root, subjects=SUBJECTS, scenes=SCENES, sessions=SESSIONS, actions=ACTIONS, seed=0,
                uneven=True, empty_csv=True, missing_stream=True)
    return root


@pytest.fixture
def root(synth_root, tmp_path) -> Path:
    """A private copy of the synthetic root, free to damage."""
    return Path(shutil.copytree(synth_root, tmp_path / "mmact"))


def rows(start: float = 0.0, n: int = 5, rate: float = 100.0, clock: str = "20181016_13:37") -> str:
    """CSV rows from ``clock``:SS.ffffff, seconds ``start + k / rate``."""
    return "".join(f"{clock}:{start + k / rate:09.6f},{k},{2 * k},9.8\n" for k in range(n))


def write(path: Path, text: str | bytes) -> Path:
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_bytes(text.encode() if isinstance(text, str) else text)
    return path


# -- registry, labels -------------------------------------------------------------------
def test_registered_with_class_names():
    spec = get_dataset("MMAct")
    assert {"mmact", "mmact-views"} <= set(available_datasets())
    assert len(spec.class_names) == 36 and spec.class_names[0] == "carrying" and spec.class_names[-1] == "waving hand"
    assert spec.modalities == ("acc_phone", "acc_watch", "gyro", "orientation", "inertial",
                               "video_cam1", "video_cam2", "video_cam3", "video_cam4")
    assert get_dataset("mmact-views").modalities[-1] == "video"


@pytest.mark.parametrize("stem, label", [
    ("carrying", 0), ("carrying_heavy", 1), ("Talking_On-Phone", 29), ("talking  on_phone", 29),
    ("waving_hand", 35), ("transferring_object", 14), ("transferring_large_object", 31),
])
def test_action_label_normalised(stem, label):
    assert action_label(stem) == label
    assert normalise_action(CLASS_NAMES[label]) == CLASS_NAMES[label]


def test_unknown_action_reason():
    with pytest.raises(ValueError, match=r"^unknown action 'dancing' \(not one of the 36 MMAct classes\)$"):
        action_label("dancing")


# -- scan -------------------------------------------------------------------------------
def test_scan_synthetic_layout(synth_root):
    spec = get_dataset("mmact")
    index = spec.scan(synth_root)
    assert len(index) == 24
    assert index.modality_counts() == {"acc_phone": 24, "acc_watch": 23, "gyro": 23, "inertial": 23, "orientation": 24}
    assert index.skipped == [(synth_root / "acc_watch/subject1/scene1/session1/carrying.csv", "empty file (0 bytes)")]
    assert index.missing() == {"s1_sc1_se1_carrying": ["acc_watch"], "s17_sc2_se5_carrying_heavy": ["gyro", "inertial"]}
    # padded and unpadded folders pair into the same keys
    assert (synth_root / "gyro" / "subject02" / "scene02" / "session05").is_dir()
    rec = index["s2_sc2_se5_carrying_heavy"]
    assert (rec.label, rec.subject, rec.trial) == (1, 2, 5)
    assert rec.attrs == {"subject": 2, "scene": 2, "session": 5, "action": 1}
    assert rec.files["acc_phone"] == synth_root / "acc_phone/subject02/scene02/session05/carrying_heavy.csv"
    assert list(rec.files["inertial"]) == ["acc_phone", "gyro"]
    assert index.keys[:3] == ["s1_sc1_se1_carrying", "s1_sc1_se1_carrying_heavy", "s1_sc1_se5_carrying"]
    assert index.keys[-1] == "s17_sc2_se5_carrying_heavy"  # numeric order: 2 before 17


def test_strict_scan_raises_first_problem(synth_root):
    bad = synth_root / "acc_watch/subject1/scene1/session1/carrying.csv"
    with pytest.raises(DataError) as err:
        get_dataset("mmact").scan(synth_root, strict=True)
    assert str(err.value) == f"{bad}: empty file (0 bytes)"


@pytest.mark.parametrize("rel, reason", [
    ("acc_phone/subject1/scene1/session1/dancing.csv", "unknown action 'dancing' (not one of the 36 MMAct classes)"),
    ("acc_phone/subjectX/scene1/session1/carrying.csv", "folder 'subjectX' is not subject{N}"),
    ("acc_phone/subject1/stage1/session1/carrying.csv", "folder 'stage1' is not scene{N}"),
    ("acc_phone/subject21/scene1/session1/carrying.csv", "subject 21 outside 1..20"),
    ("gyro/subject1/scene1/session6/carrying.csv", "session 6 outside 1..5"),
    ("acc_phone/subject1/scene1/carrying.csv",
     "unexpected file (expected acc_phone/subject{N}/scene{N}/session{N}/{action}.csv)"),
    ("acc_phone/subject1/scene1/session1/notes.txt",
     "unexpected file (expected acc_phone/subject{N}/scene{N}/session{N}/{action}.csv)"),
    ("subject1/cam5/scene1/session1/carrying.mp4", "cam 5 outside 1..4"),
    ("subject1/cam1/scene1/session1/carrying.avi",
     "unexpected file (expected subject{N}/cam{N}/scene{N}/session{N}/{action}.mp4)"),
])
def test_bad_paths_skipped_or_strict(root, rel, reason):
    bad = write(root / rel, rows())
    spec = get_dataset("mmact")
    index = spec.scan(root)
    assert len(index) == 24 and (bad, reason) in index.skipped and len(index.skipped) == 2
    (root / "acc_watch/subject1/scene1/session1/carrying.csv").unlink()  # the synthetic empty file
    with pytest.raises(DataError) as err:
        spec.scan(root, strict=True)
    assert str(err.value) == f"{bad}: {reason}"


def test_duplicate_padding_first_wins(root):
    shutil.copytree(root / "acc_phone" / "subject1", root / "acc_phone" / "subject01")
    index = get_dataset("mmact").scan(root)
    reasons = {p: r for p, r in index.skipped}
    dup = root / "acc_phone/subject1/scene2/session5/carrying.csv"
    assert reasons[dup] == "duplicate of acc_phone/subject01/scene2/session5/carrying.csv (same key s1_sc2_se5_carrying)"
    assert index["s1_sc2_se5_carrying"].files["acc_phone"].parts[-4] == "subject01"
    assert len(index) == 24


def test_hidden_files_passed_over(root):
    write(root / "acc_phone/subject1/.DS_Store", b"x")
    write(root / "subject1/cam1/scene1/session1/._carrying.mp4", b"x")
    assert len(get_dataset("mmact").scan(root).skipped) == 1  # only the synthetic empty CSV


def test_validate_reads_every_csv(root):
    bad = write(root / "gyro/subject1/scene1/session1/carrying.csv", rows() + "20181016_13:37:29.000000,1,2\n")
    index = get_dataset("mmact").scan(root, validate=True)
    assert (bad, "line 6: expected 4 comma-separated fields (timestamp,x,y,z), got 3") in index.skipped
    assert index.missing()["s1_sc1_se1_carrying"] == ["acc_watch", "gyro", "inertial"]


def test_bad_root_and_empty_root(tmp_path):
    spec = get_dataset("mmact")
    with pytest.raises(DataError, match=re.escape(f"{tmp_path / 'nope'}: mmact root is not a directory")):
        spec.scan(tmp_path / "nope")
    with pytest.raises(DataError, match=r": no mmact data found \(expected any of acc_phone/, acc_watch/, gyro/, "
                                        r"orientation/ or subject\{N\}/ video folders\)$"):
        spec.scan(tmp_path)


# -- CSV reader -------------------------------------------------------------------------
GOOD = "20181016_13:37:28.612000,-0.8,-9.0,-1.0\n20181016_13:37:28.622000,-0.6,-9.1,-1.1\n"


@pytest.mark.parametrize("text, problem", [
    (b"", "empty file (0 bytes)"),
    ("\n \r\n", "no data rows (only blank lines)"),
    (GOOD + "20181016_13:37:28.632000,-0.7", "line 3: expected 4 comma-separated fields (timestamp,x,y,z), got 2"),
    (GOOD + "20181016_13:37:28.632000,1,2,3,4\n", "line 3: expected 4 comma-separated fields (timestamp,x,y,z), got 5"),
    ("timestamp,x,y,z\n" + GOOD, "line 1: bad timestamp 'timestamp' (expected YYYYMMDD_HH:MM:SS.ffffff)"),
    ("20181316_13:37:28.612000,1,2,3\n", "line 1: bad timestamp '20181316_13:37:28.612000' (expected YYYYMMDD_HH:MM:SS.ffffff)"),
    ("20181016_25:37:28.612000,1,2,3\n", "line 1: bad timestamp '20181016_25:37:28.612000' (expected YYYYMMDD_HH:MM:SS.ffffff)"),
    (GOOD + "\n20181016_13:37:28.632000,1,abc,3\n", "line 4: non-numeric value 'abc'"),
    (GOOD + "20181016_13:37:28.632000,nan,2,inf\n", "line 3: NaN/inf value (2 in the file)"),
    (GOOD + "20181016_13:37:28.632000,1,-1e300,3\n",
     "line 3: value beyond the float32 range (1e+300; the samples are returned as float32)"),
    (b"\xff\xfe\x00binary", "not a text file (cannot decode as UTF-8)"),
    ("\n20181016_13:37:28.612000,1,2,3\n\n", "only 1 data row (line 2; need at least 2 samples to resample)"),
    (GOOD + GOOD, "line 3: timestamp 20181016_13:37:28.612000 is not after line 2's 20181016_13:37:28.622000 "
                  "(2 of 4 rows out of time order; at most 5% are repaired as clock jitter)"),
])
def test_bad_csv_one_data_error(tmp_path, text, problem):
    path = write(tmp_path / "acc_phone.csv", text)
    with pytest.raises(DataError) as err:
        read_samples(path)
    assert str(err.value) == f"{path}: {problem}"
    assert err.value.path == path


def test_missing_csv(tmp_path):
    with pytest.raises(DataError, match="^" + re.escape(f"{tmp_path / 'x.csv'}: file not found") + "$"):
        read_stream(tmp_path / "x.csv")


def test_reader_parses_and_resamples(tmp_path):
    path = write(tmp_path / "a.csv", "\r\n".join(rows(n=11).splitlines()) + "\r\n\r\n")
    times, values = read_samples(path)
    assert times.shape == (11,) and values.shape == (11, 3)
    assert np.allclose(np.diff(times), 0.01) and values[3].tolist() == [3, 6, 9.8]
    x = read_stream(path)
    assert x.shape == (11, 3) and x.dtype == np.float32 and np.allclose(x[:, 0], np.arange(11))
    assert read_stream(path, rate=50).shape == (6, 3)
    with pytest.raises(InputError, match=r"rate must be a positive number of Hz, got 0"):
        read_stream(path, rate=0)


def test_clock_jitter_repaired_in_place(tmp_path):
    text = rows(n=40).splitlines()
    text[20] = "20181016_13:37:00.250000," + text[20].split(",", 1)[1]  # stamped 45 ms late: rows 21-24 look "earlier"
    path = write(tmp_path / "a.csv", "\n".join(text) + "\n")
    with pytest.warns(DataWarning) as caught:
        times, values = read_samples(path)
    assert len(times) == 40 and np.all(np.diff(times) > 0)
    assert np.isclose(times[20] - times[0], 0.20) and values[20, 0] == 20  # row kept, time interpolated
    assert [str(w.message) for w in caught] == [
        f"{path}: 1 of 40 rows out of time order (clock jitter; first at line 21): 1 re-timed from their neighbours"]
    first_late = ["20181016_13:37:01.000000,9,9,9"] + rows(n=40).splitlines()
    b = write(tmp_path / "b.csv", "\n".join(first_late))
    with pytest.warns(DataWarning) as caught:
        t2, v2 = read_samples(b)
    assert len(t2) == 40 and v2[0, 0] == 0  # an out-of-order first row is dropped
    assert [str(w.message) for w in caught] == [
        f"{b}: 1 of 41 rows out of time order (clock jitter; first at line 1): 1 at the ends dropped"]


def test_streams_combined_on_overlap(tmp_path):
    phone = write(tmp_path / "acc_phone.csv", rows(0.0, 101, 100.0))       # 0.00 .. 1.00 s at 100 Hz
    watch = write(tmp_path / "acc_watch.csv", rows(0.30, 41, 50.0))        # 0.30 .. 1.10 s at 50 Hz
    x = read_streams([phone, watch])
    assert x.shape == (71, 6)  # 0.30 .. 1.00 s at 100 Hz
    assert np.allclose(x[:, 0], np.arange(30, 101), atol=1e-3)  # phone sample k is at k / 100 s
    assert np.allclose(x[:, 3], np.arange(71) / 2, atol=1e-3)   # watch sample k is at 0.3 + k / 50 s
    assert read_inertial({"acc_phone": phone, "gyro": watch}, sensor="gyro").shape == (71, 3)
    with pytest.raises(ConfigError, match="unknown sensor 'mag'"):
        read_inertial([phone, watch], sensor="mag")


def test_streams_without_overlap(tmp_path):
    a = write(tmp_path / "acc_phone.csv", rows(0.0, 10))
    b = write(tmp_path / "gyro.csv", rows(0.0, 10, clock="20181016_13:38"))
    with pytest.raises(DataError) as err:
        read_streams([a, b])
    assert str(err.value) == (f"{b}: no time overlap with {a} (this stream covers 13:38:00.000-13:38:00.090, "
                              "that one 13:37:00.000-13:37:00.090)")


def test_resample_grid():
    t = np.array([0.0, 0.013, 0.021, 0.04])
    x = resample_uniform(t, np.stack([t, t, t], 1), 100.0)
    assert x.shape == (5, 3) and np.allclose(x[:, 0], [0, 0.01, 0.02, 0.03, 0.04])


# -- loading and protocols --------------------------------------------------------------
def test_load_streams_and_missing_messages(synth_root):
    spec = get_dataset("mmact")
    index = spec.scan(synth_root)
    rec = index["s1_sc1_se5_carrying"]
    for m in ("acc_phone", "acc_watch", "gyro", "orientation"):
        x = spec.load(rec, m)
        assert x.ndim == 2 and x.shape[1] == 3 and x.dtype == np.float32 and 150 < len(x) < 700
    acc = spec.load(rec, "acc_phone")
    assert 8 < np.linalg.norm(acc, axis=1).mean() < 12  # m/s^2 with gravity
    inertial = spec.load(rec, "inertial")
    assert inertial.shape[1] == 6 and len(inertial) <= len(acc)
    assert spec.load(rec, "acc_phone", sensor="acc").shape == acc.shape
    with pytest.raises(ConfigError, match=r"sensor must be 'all' or 'acc' for this MMAct stream \(3 columns\), got 'gyro'"):
        spec.load(rec, "acc_phone", sensor="gyro")
    lacking = index["s17_sc2_se5_carrying_heavy"]
    expected = synth_root / "gyro/subject17/scene2/session5/carrying_heavy.csv"
    for m in ("gyro", "inertial"):
        with pytest.raises(DataError) as err:
            spec.load(lacking, m, root=synth_root)
        assert str(err.value) == f"{expected}: missing gyro file for recording s17_sc2_se5_carrying_heavy"
    with pytest.raises(DataError, match=re.escape("subject17/cam4/scene2/session5/carrying_heavy.mp4: missing video_cam4")):
        spec.load(lacking, "video_cam4")


def test_protocols(synth_root):
    spec = get_dataset("mmact")
    index = spec.scan(synth_root)
    sides = {}
    for protocol in ("cross_subject", "cross_scene", "cross_session"):
        split = make_split(spec, index, protocol, val_fraction=0.0, val_subjects=None)
        sides[protocol] = {index[k].attrs[f] for k in split.test for f in ["subject", "scene", "session"]
                           if f in protocol}
        assert len(split.train) + len(split.test) == 24
    assert sides == {"cross_subject": {17}, "cross_scene": {2}, "cross_session": {5}}
    with pytest.raises(ConfigError, match=r"use dataset 'mmact-views'"):
        make_split(spec, index, "cross_view")
    with pytest.raises(ConfigError, match=r"unknown mmact protocol 'cross_sessions'; did you mean 'cross_session'\?"):
        spec.protocol("cross_sessions")


def test_views_dataset_cross_view(root):
    for cam in (1, 2, 4):
        write(root / f"subject02/cam{cam}/scene02/session05/carrying.mp4", b"x")
    write(root / "subject1/cam3/scene1/session1/carrying_heavy.mp4", b"x")
    spec = get_dataset("mmact-views")
    index = spec.scan(root)
    assert index.keys == ["s1_sc1_se1_carrying_heavy_cam3", "s2_sc2_se5_carrying_cam1",
                          "s2_sc2_se5_carrying_cam2", "s2_sc2_se5_carrying_cam4"]
    rec = index["s2_sc2_se5_carrying_cam4"]
    assert rec.attrs["cam"] == 4 and rec.files["video"].parts[-4] == "cam4" and rec.has("acc_phone")
    split = make_split(spec, index, "cross_view", val_fraction=0.0)
    assert split.test == ("s2_sc2_se5_carrying_cam4",) and len(split.train) == 3
    per_take = get_dataset("mmact").scan(root)
    assert per_take.modality_counts()["video_cam1"] == 1 and per_take["s2_sc2_se5_carrying"].has("video_cam4")


def test_video_load(tmp_path):
    pytest.importorskip("av")
    write_mmact(tmp_path, subjects=(3,), actions=(5,), video=True)
    spec = get_dataset("mmact")
    rec = spec.scan(tmp_path, strict=True)["s3_sc1_se1_closing"]
    x = spec.load(rec, "video_cam2")
    assert x.ndim == 4 and x.shape[1:] == (32, 40, 3) and x.dtype == np.uint8 and x.max() > 0


def test_dataloader_batch(synth_root):
    spec = get_dataset("mmact")
    index = spec.scan(synth_root)
    split = make_split(spec, index, "cross_subject", val_fraction=0.25)
    sets = make_datasets(spec, index, split, ("inertial", "acc_watch"), {
        "inertial": {"sensor": "acc", "length": 64, "normalize": True},
        "acc_watch": {"length": 64, "normalize": True, "load": {"rate": 50}},
    })
    assert len(sets["train"]) + len(sets["val"]) == 15 and len(sets["test"]) == 7  # one take lacks acc_watch
    assert sets["test"].skipped == [("s17_sc2_se5_carrying_heavy", "missing inertial")]
    batch = next(iter(DataLoader(sets["train"], batch_size=4)))
    assert batch["inertial"].shape == (4, 3, 64) and batch["acc_watch"].shape == (4, 3, 64)
    assert batch["label"].tolist() == [index[k].label for k in batch["key"]]
    assert abs(float(batch["inertial"].mean())) < 1.0


def test_summary(synth_root):
    spec = get_dataset("mmact")
    info = summarize(spec, spec.scan(synth_root), "cross_session")
    assert info["modalities"]["acc_phone"] == 24 and info["modalities"]["video_cam1"] == 0
    assert info["split"]["test"] == 12 and info["missing"]["absent"] == [] and info["errors"] == []
    assert info["lengths"]["acc_watch"]["n"] == 23


def test_synth_options(tmp_path):
    write_mmact(tmp_path / "a", subjects=(4,), actions=(36,), padding="none")
    write_mmact(tmp_path / "b", subjects=(4,), actions=(36,), padding="zero")
    assert (tmp_path / "a/acc_phone/subject4/scene1/session1/waving_hand.csv").is_file()
    b = tmp_path / "b/acc_phone/subject04/scene01/session01/waving_hand.csv"
    assert b.read_text() == (tmp_path / "a/acc_phone/subject4/scene1/session1/waving_hand.csv").read_text()
    with pytest.raises(InputError, match=r"unknown padding 'some'"):
        write_mmact(tmp_path / "c", padding="some")
    with pytest.raises(InputError, match=r"subjects must be between 1 and 20, got 21"):
        write_mmact(tmp_path / "c", subjects=21)
