"""A dataset described by one table (harkd.data.manifest): description, table, protocols, loading, exact errors."""

from __future__ import annotations

import csv
import shutil

import numpy as np
import pytest
import yaml

from harkd.data import PairedDataset, make_split
from harkd.data.manifest import ManifestDataset, parse_description, resolve_data_source
from harkd.data.registry import DATASETS, get_dataset
from harkd.data.synth.phone_har import write_phone_har
from harkd.errors import ConfigError, DataError

ROOT_DESCRIPTION = {
    "path": "labels.csv", "key": "recording_id", "subject": "subject", "label": "action", "trial": "take",
    "protocols": {"cross_subject": {"subject": ["p3", "p4"]}},
    "modalities": {"acc": {"column": "acc_file", "format": "csv", "unit": "m/s^2", "rate": 50},
                   "skeleton": {"column": "pose_file", "format": "mediapipe-csv", "rate": 30}},
}


@pytest.fixture(scope="module")
def phone(tmp_path_factory):
    root = tmp_path_factory.mktemp("phone")
    write_phone_har(root, subjects=4, actions=["walk", "wave", "squat"])  # 12 recordings, 8 with pose
    return root


@pytest.fixture
def copy(phone, tmp_path):
    """A private copy of the phone dataset and a helper that rewrites its labels.csv."""
    root = tmp_path / "phone"
    shutil.copytree(phone, root)

    def edit(change):
        rows = list(csv.reader(open(root / "labels.csv")))
        change(rows)
        with open(root / "labels.csv", "w", newline="") as fh:
            csv.writer(fh).writerows(rows)
        return root

    return root, edit


def spec_at(root, **changes):
    return ManifestDataset("phone-test", {**ROOT_DESCRIPTION, **changes}, root)


def test_one_recording_per_row_in_table_order(phone):
    spec = spec_at(phone)
    index = spec.scan()
    rows = list(csv.DictReader(open(phone / "labels.csv")))
    assert index.keys == [r["recording_id"] for r in rows]
    assert spec.class_names == ("squat", "walk", "wave")
    first = index.recordings[0]
    assert (first.key, first.label, first.subject, first.trial) == ("p1_walk_1", 1, 1, 1)
    assert first.files == {"acc": phone / "acc" / "p1_walk_1.csv", "skeleton": phone / "pose" / "p1_walk_1.csv"}
    assert index.modality_counts() == {"acc": 12, "skeleton": 8} and index.skipped == []
    acc, pose = spec.load(first, "acc"), spec.load(first, "skeleton")
    assert acc.dtype == np.float32 and acc.shape[1] == 3 and pose.shape[1:] == (33, 3)
    assert spec.sampling_rate("acc") == 50.0
    assert spec.channels("acc") == (["acc_x", "acc_y", "acc_z"], ["m/s^2"] * 3, [0, 1, 2])
    assert spec.modality("skeleton").center == 23 and spec.modality("skeleton").transform == "skeleton"


def test_classes_order_and_integer_labels(copy):
    root, edit = copy
    spec = spec_at(root, classes=["wave", "walk", "squat"])
    assert [r.label for r in spec.scan()][:3] == [1, 0, 2]  # walk, wave, squat

    def as_index(rows):
        for row in rows[1:]:
            row[2] = str(["wave", "walk", "squat"].index(row[2]))
    edit(as_index)
    assert [r.label for r in spec_at(root, classes=["wave", "walk", "squat"]).scan()][:3] == [1, 0, 2]
    plain = spec_at(root)
    assert plain.class_names == ("0", "1", "2") and [r.label for r in plain.scan()][:3] == [1, 0, 2]


def test_protocols_come_from_the_columns(copy):
    root, edit = copy
    spec = spec_at(root)
    index = spec.scan()
    split = make_split(spec, index, "cross_subject")
    assert {index[k].attrs["subject"] for k in split.test} == {"p3", "p4"}
    assert split.validation.how == "training subject 1 (p1) held out (data.val_subjects auto)"
    assert sorted(spec.protocols) == ["cross_subject"] + [f"leave_one_subject_out:p{s}" for s in range(1, 5)]
    fold = make_split(spec, index, "leave_one_subject_out:p2")
    assert {index[k].attrs["subject"] for k in fold.test} == {"p2"} and len(fold.val) == 3
    assert set(spec.subject_protocols) == set(spec.protocols)

    def add_split(rows):
        rows[0].append("split")
        for i, row in enumerate(rows[1:]):
            row.append(["train", "train", "Val", "test"][i % 4])
    edit(add_split)
    spec = spec_at(root, split="split")
    index = spec.scan()
    split = make_split(spec, index, "split")
    assert split.counts() == {"train": 6, "val": 3, "test": 3}
    assert split.val == tuple(k for i, k in enumerate(index.keys) if i % 4 == 2)
    assert split.validation.rule == "given"
    assert make_split(spec, index, "split", val_subjects=None).validation.rule == "fraction"
    session = spec_at(root, session="take", trial=None, protocols={"cross_session": {"session": [1]}})
    assert make_split(session, session.scan(), "cross_session").counts()["test"] == 12


def test_a_load_error_names_the_file_the_row_and_the_column(copy):
    root, _ = copy
    path = root / "acc" / "p1_wave_1.csv"
    lines = path.read_text().splitlines()
    path.write_text("\n".join(lines[:1] + [f"{int(line.split(',')[0]) // 2 + 857278800000},{line.split(',', 1)[1]}"
                                           for line in lines[1:]]) + "\n")  # stamps at half the interval: 100 Hz
    spec = spec_at(root)
    index = spec.scan()
    with pytest.raises(DataError) as err:
        spec.load(index["p1_wave_1"], "acc")
    assert str(err.value) == (f"{path}: sampled at 100 Hz (median interval 10 ms), not at the declared 50 Hz: mixed "
                              "sampling rates (more than 25% off; set rate_tolerance: null to resample every file to "
                              "50 Hz) (labels.csv row 2, column 'acc_file')")
    checked = spec.scan(validate=True)
    assert checked.skipped == [(path, str(err.value).split(": ", 1)[1])] and not checked["p1_wave_1"].has("acc")
    relaxed = {**ROOT_DESCRIPTION["modalities"], "acc": {**ROOT_DESCRIPTION["modalities"]["acc"], "rate_tolerance": None}}
    assert spec_at(root, modalities=relaxed).load(index["p1_wave_1"], "acc").shape[1] == 3
    assert spec.load(index["p1_wave_1"], "acc", rate_tolerance=None).shape[1] == 3  # a run's load: option


@pytest.mark.parametrize("change, problem", [
    (lambda rows: rows[0].__setitem__(2, "actions"),
     "no column 'action' (data.manifest.label); did you mean 'actions'? (columns: recording_id, subject, actions, "
     "take, acc_file, pose_file)"),
    (lambda rows: rows[3].__setitem__(0, rows[1][0]), "row 3, column 'recording_id': duplicate key 'p1_walk_1' "
                                                       "(first in row 1)"),
    (lambda rows: rows[4].__setitem__(1, ""), "row 4, column 'subject': empty subject"),
    (lambda rows: rows[5].__setitem__(4, "acc/p9.csv"), "row 5, column 'acc_file': file not found: {root}/acc/p9.csv"),
    (lambda rows: rows[5].__setitem__(2, "wave "), None),  # cells are stripped: still a known label
    (lambda rows: rows[6].__setitem__(2, "jump"),
     "row 6, column 'action': label 'jump' is not in data.manifest.classes (classes: walk, wave, squat)"),
    (lambda rows: rows[6].__setitem__(2, "wavee"),
     "row 6, column 'action': label 'wavee' is not in data.manifest.classes; did you mean 'wave'? (classes: walk, "
     "wave, squat)"),
    (lambda rows: rows[6].__setitem__(2, "7"),
     "row 6, column 'action': label index 7 is outside data.manifest.classes (0..2)"),
    (lambda rows: rows.__setitem__(slice(1, None), []), "no rows under the header"),
    (lambda rows: rows[2].extend(["x", "y"]), "row 2: 8 cells, but the header has 6 columns"),
    (lambda rows: rows[0].__setitem__(5, "acc_file"), "the header names column 'acc_file' twice"),
])
def test_every_table_problem_is_one_line_naming_the_row_and_column(copy, change, problem):
    root, edit = copy
    edit(change)
    spec = spec_at(root, classes=["walk", "wave", "squat"])
    if problem is None:
        assert len(spec.scan()) == 12
        return
    with pytest.raises(DataError) as err:
        spec.scan()
    assert str(err.value) == f"{root / 'labels.csv'}: {problem.format(root=root)}"


def test_a_protocol_naming_an_unknown_subject(phone):
    spec = spec_at(phone, protocols={"cross_subject": {"subject": ["p3", "p9"]}})
    with pytest.raises(DataError) as err:
        spec.scan()
    assert str(err.value) == (f"{phone / 'labels.csv'}: data.manifest.protocols.cross_subject.subject: subject 'p9' is "
                              "not in column 'subject' (subjects: p1, p2, p3, p4)")


@pytest.mark.parametrize("changes, message", [
    ({"path": None}, "missing required config key 'data.manifest.path'"),
    ({"labels": "x"}, "unknown config key 'labels'; did you mean 'label'? (valid: classes, key, label, modalities, "
                      "path, protocols, scene, session, split, subject, trial) in 'data.manifest'"),
    ({"modalities": {"acc": {"column": "acc_file", "format": "xlsx"}}},
     "config key 'data.manifest.modalities.acc.format': unknown format 'xlsx' (valid: coco17-csv, coco17-json, csv, "
     "mat, mediapipe-csv, mediapipe-json, npy, npz, openpose-csv, openpose-json)"),
    ({"modalities": {"acc": {"column": "acc_file", "format": "csv", "unit": "g"}}},
     "config key 'data.manifest.modalities.acc.rate': format csv is resampled on its time stamps: name the rate to "
     "resample to in Hz (e.g. rate: 50)"),
    ({"modalities": {"acc": {"column": "acc_file", "format": "csv", "rate": 50}}},
     "config key 'data.manifest.modalities.acc': name the unit (e.g. unit: m/s^2) or the channels (e.g. channels: "
     "[acc_x, acc_y, acc_z]) of an inertial modality; export and the sensor option read them"),
    ({"modalities": {"acc": {"column": "acc_file", "format": "csv", "rate": 50, "unit": "volt"}}},
     "config key 'data.manifest.modalities.acc.channels': unit 'volt' names no sensor (g, m/s^2, m/s2, m/s², deg/s, "
     "rad/s, dps, ut, µt, gauss): list the channel names, e.g. channels: [acc_x, acc_y, acc_z]"),
    ({"modalities": {"acc": {"column": "acc_file", "format": "csv", "rate": 50, "unit": "g", "rates": 1}}},
     "unknown config key 'rates'; did you mean 'rate'? (valid: channels, column, columns, format, header, "
     "max_gap, rate, rate_tolerance, time_column, time_unit, unit) in 'data.manifest.modalities.acc'"),
    ({"modalities": {"acc": {"column": "subject", "format": "npy", "unit": "g"}}},
     "config key 'data.manifest.modalities.acc.column': column 'subject' is already the subject column"),
    ({"modalities": {"x": {"column": "f", "format": "mat", "unit": "g"}}},
     "missing required config key 'data.manifest.modalities.x.key' (the .mat variable to read, e.g. key: d_iner)"),
    ({"protocols": {"split": {"subject": [1]}}},
     "config key 'data.manifest.protocols.split': the protocol name 'split' is reserved (split and "
     "leave_one_subject_out:<subject> come from the columns)"),
    ({"protocols": {"cross_scene": {"scene": [2]}}},
     "config key 'data.manifest.protocols.cross_scene.scene': the table has no scene column (set data.manifest.scene)"),
    ({"classes": ["a", "a"]}, "config key 'data.manifest.classes': expected a list of distinct class names, got "
                              "['a', 'a']"),
])
def test_every_description_problem_is_one_config_error_naming_the_key(changes, message):
    with pytest.raises(ConfigError) as err:
        parse_description({k: v for k, v in {**ROOT_DESCRIPTION, **changes}.items() if v is not None})
    assert str(err.value) == message


def test_a_parquet_table_needs_pyarrow_or_pandas(tmp_path):
    try:
        import pyarrow  # noqa: F401
    except ImportError:
        try:
            import pandas  # noqa: F401
        except ImportError:
            (tmp_path / "labels.parquet").write_bytes(b"PAR1 not really")
            with pytest.raises(DataError) as err:
                spec_at(tmp_path, path="labels.parquet").scan()
            assert str(err.value) == (f"{tmp_path / 'labels.parquet'}: reading a Parquet table needs pyarrow or "
                                      "pandas: pip install pyarrow (or save the table as CSV)")
            return
    pytest.skip("pyarrow or pandas is installed: see test_a_parquet_table_reads_like_the_csv")


def test_a_parquet_table_reads_like_the_csv(phone, tmp_path):
    pa = pytest.importorskip("pyarrow")
    import pyarrow.parquet as pq

    rows = list(csv.DictReader(open(phone / "labels.csv")))
    pq.write_table(pa.Table.from_pylist([{**r, "take": int(r["take"])} for r in rows]), phone / "labels.parquet")
    try:
        assert spec_at(phone, path="labels.parquet").scan().keys == spec_at(phone).scan().keys
    finally:
        (phone / "labels.parquet").unlink()


def test_the_data_config_hook_reads_a_description_file_and_records_an_absolute_root(phone, tmp_path, monkeypatch):
    (tmp_path / "desc.yaml").write_text(yaml.safe_dump(ROOT_DESCRIPTION))
    monkeypatch.chdir(tmp_path)
    manifest, root = resolve_data_source("phone-hook", "desc.yaml", str(phone))
    assert manifest == ROOT_DESCRIPTION and root == str(phone.resolve())
    assert isinstance(get_dataset("phone-hook"), ManifestDataset)
    shutil.copy(phone / "labels.csv", tmp_path / "labels.csv")
    assert resolve_data_source("phone-hook", "desc.yaml", None)[1] == str(tmp_path.resolve())  # the file's folder
    assert resolve_data_source("phone-hook", ROOT_DESCRIPTION, None)[1] == str(tmp_path)        # the cwd
    assert resolve_data_source("utd-mhad", None, "x") == (None, "x")
    for dataset, manifest, message in (
            ("manifest", None, "data.dataset manifest needs data.manifest, the table and its columns, e.g. {path: "
                               "labels.csv, key: recording_id, subject: subject, label: action, modalities: {acc: "
                               "{column: acc_file, format: csv, unit: m/s^2, rate: 50}}} (docs/data.md)"),
            ("utd-mhad", ROOT_DESCRIPTION, "data.dataset 'utd-mhad' is a registered dataset; a dataset described by "
                                           "data.manifest needs a name of its own (e.g. data.dataset: manifest)")):
        with pytest.raises(ConfigError) as err:
            resolve_data_source(dataset, manifest, None)
        assert str(err.value) == message
    with pytest.raises(DataError) as err:
        resolve_data_source("phone-hook", "nothere.yaml", None)
    assert str(err.value) == "nothere.yaml: data.manifest: description file not found"
    DATASETS._items.pop("phone-hook")


def test_paired_samples_cache_by_the_description_and_centre_on_the_format_joint(phone, tmp_path):
    spec = spec_at(phone)
    index = spec.scan()
    transforms = {"acc": {"length": 32}, "skeleton": {"frames": 8, "center": True}}
    keys = [k for k in index.keys if index[k].has("skeleton")][:2]
    first = PairedDataset(spec, index, keys, ("acc", "skeleton"), transforms, cache=tmp_path / "cache")
    assert first.transforms["skeleton"].center_joint == 23
    sample = first[0]
    assert sample["acc"].shape == (3, 32) and sample["skeleton"].shape == (3, 8, 33)
    assert np.allclose(sample["skeleton"][:, :, 23].numpy(), 0.0)
    slower = {**ROOT_DESCRIPTION["modalities"], "acc": {**ROOT_DESCRIPTION["modalities"]["acc"], "rate": 25,
                                                        "rate_tolerance": None}}
    lengths = []
    for described in (spec, spec_at(phone, modalities=slower), spec):  # one cache: the description is in its key
        data = PairedDataset(described, described.scan(), keys, ("acc",), {"acc": {}}, cache=tmp_path / "cache")
        lengths.append(len(data.prepared(data.recordings[0], "acc")))
        stats = data.cache.stats
    assert lengths[0] == lengths[2] and abs(lengths[0] / lengths[1] - 2) < 0.05
    assert stats["disk_hits"] == 1 and stats["misses"] == 0


def test_the_sensor_option_picks_named_channels(tmp_path):
    rows = "\n".join(f"{i * 20},{i},{-i},{2 * i},{i + 100},{i + 200},{i + 300}" for i in range(20))
    (tmp_path / "imu.csv").write_text("t,ax,ay,az,gx,gy,gz\n" + rows + "\n")
    (tmp_path / "labels.csv").write_text("key,subject,label,imu\nr1,1,a,imu.csv\n")
    description = {"path": "labels.csv", "key": "key", "subject": "subject", "label": "label",
                   "modalities": {"inertial": {"column": "imu", "format": "csv", "rate": 50,
                                               "channels": ["acc_x", "acc_y", "acc_z", "gyro_x", "gyro_y", "gyro_z"],
                                               "unit": ["g", "g", "g", "deg/s", "deg/s", "deg/s"]}}}
    spec = ManifestDataset("imu-test", description, tmp_path)
    rec = spec.scan().recordings[0]
    assert spec.load(rec, "inertial").shape == (20, 6)
    assert spec.load(rec, "inertial", sensor="gyro")[0].tolist() == [100, 200, 300]
    three = {**description, "modalities": {"inertial": {**description["modalities"]["inertial"],
                                                        "channels": ["acc_x", "acc_y", "acc_z"], "unit": "g"}}}
    with pytest.raises(DataError) as err:
        ManifestDataset("imu-test", three, tmp_path).load(rec, "inertial")
    assert str(err.value) == (f"{tmp_path / 'imu.csv'}: has 6 value columns, but data.manifest.modalities.inertial "
                              "names 3 channels (acc_x, acc_y, acc_z); list one name per column in its channels "
                              "(labels.csv row 1, column 'imu')")
