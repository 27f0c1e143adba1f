"""Export reads each dataset's sampling rate and channels off its DatasetSpec: no --rate for any dataset."""

from __future__ import annotations

import json

import pytest

from harkd.cli.main import main
from harkd.data import get_dataset
from harkd.data.registry import DATA_ROOT_ENV, dataset_folder, glove_prefixes
from harkd.errors import ConfigError
from harkd.deploy.manifest import manifest_path

STUDENT = {"name": "imu_cnn1d", "input": "inertial", "args": {"widths": [8], "depths": [1]}}


@pytest.mark.parametrize("dataset, modality, load, rate", [
    ("utd-mhad", "inertial", None, 50.0),
    ("utd-mhad", "skeleton", None, None),  # Kinect frames: no fixed rate (align by normalised time)
    ("berkeley-mhad", "inertial", None, 30.0),  # the reader's common grid
    ("berkeley-mhad", "inertial", {"rate": 40}, 40.0),
    ("berkeley-mhad", "acc3", {"rate": 12.5}, 12.5),
    ("berkeley-mhad", "skeleton", None, None),
    ("mmact", "inertial", None, 100.0),
    ("mmact", "acc_watch", {"rate": 50}, 50.0),
    ("mmact-views", "gyro", None, 100.0),
])
def test_sampling_rate_comes_from_the_spec_and_the_load_options(dataset, modality, load, rate):
    assert get_dataset(dataset).sampling_rate(modality, load) == rate


@pytest.mark.parametrize("dataset, modality, sensor, load, names, unit", [
    ("utd-mhad", "inertial", "acc", None, ["acc_x", "acc_y", "acc_z"], "g"),
    ("utd-mhad", "inertial", "gyro", None, ["gyro_x", "gyro_y", "gyro_z"], "deg/s"),
    ("berkeley-mhad", "inertial", "all", {"accelerometers": [2, 5]},
     ["acc2_x", "acc2_y", "acc2_z", "acc5_x", "acc5_y", "acc5_z"], "g"),
    ("berkeley-mhad", "acc4", "acc", None, ["acc4_x", "acc4_y", "acc4_z"], "g"),
    ("mmact", "inertial", "acc", None, ["acc_x", "acc_y", "acc_z"], "m/s^2"),
    ("mmact", "gyro", "all", None, ["gyro_x", "gyro_y", "gyro_z"], "rad/s"),
])
def test_channels_come_from_the_spec(dataset, modality, sensor, load, names, unit):
    got_names, units, columns = get_dataset(dataset).channels(modality, sensor, load)
    assert got_names == names and units == [unit] * len(names) and columns == sorted(columns)
    assert len(columns) == len(names)


def test_berkeley_six_accelerometers_by_default_and_no_channels_for_a_skeleton():
    names, _, columns = get_dataset("berkeley-mhad").channels("inertial")
    assert len(names) == 18 and columns == list(range(18)) and names[-1] == "acc6_z"
    assert get_dataset("utd-mhad").channels("skeleton") is None
    assert get_dataset("mmact").channels("orientation") is None


def test_folders_and_glove_prefixes_are_spec_facts():
    assert {n: get_dataset(n).folder for n in ("utd-mhad", "berkeley-mhad", "mmact", "mmact-views")} == {
        "utd-mhad": "UTD-MHAD", "berkeley-mhad": "Berkeley-MHAD", "mmact": "MMAct", "mmact-views": "MMAct"}
    assert dataset_folder("my-set") == "my-set"
    assert dataset_folder("UTD_MHAD") == "UTD-MHAD"
    assert glove_prefixes() == {"utd-mhad": "UTD", "berkeley-mhad": "Berkeley", "mmact": "MMAct"}
    from harkd.semantic import embeddings
    from harkd.engine import config

    assert config.DATA_ROOT_ENV is DATA_ROOT_ENV == embeddings.DATA_ROOT_ENV == "HARKD_DATA_ROOT"


def test_a_dataset_registered_after_import_has_its_glove_prefix(monkeypatch):
    from harkd.data import register_dataset
    from harkd.data.registry import DATASETS
    from harkd.data.utd_mhad import UTDMHAD
    from harkd.semantic import embeddings

    DATASETS.load_builtins()
    monkeypatch.setattr(DATASETS, "_items", dict(DATASETS._items))  # restored after the test
    register_dataset(type("MySet", (UTDMHAD,), {"name": "my-set", "folder": "MySet", "glove_prefix": "MySet"})())
    assert glove_prefixes()["my-set"] == "MySet" == embeddings._glove_prefix("my-set")


def test_unknown_modality_is_a_config_error():
    with pytest.raises(ConfigError, match=r"^unknown berkeley-mhad modality 'inertal'; did you mean 'inertial'\?"):
        get_dataset("berkeley-mhad").sampling_rate("inertal")


@pytest.fixture(scope="module")
def berkeley_student(tmp_path_factory):
    """A skeleton teacher and an accelerometer student distilled on synthetic Berkeley-MHAD."""
    from harkd.data.synth.berkeley_mhad import write_berkeley_mhad
    from harkd.distillation import distill_experiment, load_distill_config
    from harkd.engine.config import load_config
    from harkd.engine.experiment import train_experiment

    out = tmp_path_factory.mktemp("berkeley-export")
    root = out / "Berkeley-MHAD"
    write_berkeley_mhad(root, subjects=(1, 8), actions=(1, 2, 3), repetitions=2, seed=0)
    data = {"dataset": "berkeley-mhad", "root": str(root), "cache": False, "val_subjects": None}
    teacher = train_experiment(load_config(data={
        "name": "teacher", "seed": 0, "output_dir": str(out),
        "data": {**data, "modalities": {"skeleton": {"frames": 16, "center": 0}}},
        "model": {"name": "stgcn", "input": "skeleton",
                  "args": {"layout": "berkeley_dmocap16", "widths": [8], "strides": [1]}},
        "train": {"epochs": 1, "batch_size": 4},
    }), log=lambda m: None, progress=False)
    cfg = load_distill_config(data={
        "name": "student", "seed": 0, "output_dir": str(out),
        "data": {**data, "modalities": {"inertial": {"length": 32, "normalize": True,
                                                     "load": {"accelerometers": [1, 4]}}}},
        "teachers": [{"run": str(teacher)}], "student": STUDENT,
        "losses": [{"name": "ce"}, {"name": "kd", "weight": 0.5}],
        "train": {"epochs": 1, "batch_size": 4},
    })
    return root, distill_experiment(cfg, log=lambda m: None, progress=False)


def test_berkeley_student_exports_without_rate(berkeley_student, tmp_path, capsys):
    out = tmp_path / "student.onnx"
    assert main(["export", str(berkeley_student[1]), "--out", str(out)]) == 0
    assert "Traceback" not in capsys.readouterr().err
    manifest = json.loads(manifest_path(out).read_text())
    assert manifest["sampling_rate_hz"] == 30.0  # Berkeley-MHAD's common grid (load option rate, default 30 Hz)
    assert manifest["window_seconds"] == round(manifest["window_samples"] / 30.0, 6)
    assert manifest["channels"] == ["acc1_x", "acc1_y", "acc1_z", "acc4_x", "acc4_y", "acc4_z"]
    assert manifest["units"] == ["g"] * 6 and manifest["stream_columns"] == list(range(6))
    assert manifest["input"]["shape"][1] == 6 and manifest["run"]["kind"] == "distill"


def test_the_configured_grid_rate_is_the_exported_rate(berkeley_student, tmp_path):
    """A run whose loader resamples to ``load: {rate: 40}`` deploys at 40 Hz."""
    from harkd.engine.config import load_config
    from harkd.engine.experiment import train_experiment
    from harkd.deploy import export_run

    run = train_experiment(load_config(data={
        "name": "grid40", "seed": 0, "output_dir": str(tmp_path),
        "data": {"dataset": "berkeley-mhad", "root": str(berkeley_student[0]), "cache": False, "val_subjects": None,
                 "modalities": {"inertial": {"length": 32, "load": {"accelerometers": [2], "rate": 40}}}},
        "model": STUDENT, "train": {"epochs": 1, "batch_size": 4},
    }), log=lambda m: None, progress=False)
    manifest = export_run(run, "onnx", tmp_path / "m.onnx", log=lambda m: None)
    assert manifest["sampling_rate_hz"] == 40.0 and manifest["channels"] == ["acc2_x", "acc2_y", "acc2_z"]


@pytest.mark.parametrize("dataset, folder", [("berkeley-mhad", "Berkeley-MHAD"), ("mmact-views", "MMAct")])
def test_default_data_root_is_the_spec_folder(dataset, folder, tmp_path, monkeypatch):
    """``data.root`` unset: ``$HARKD_DATA_ROOT/<DatasetSpec.folder>`` (mmact-views reads the MMAct folder)."""
    from harkd.engine.config import DataConfig
    from harkd.errors import DataError

    monkeypatch.setenv(DATA_ROOT_ENV, str(tmp_path))
    cfg = DataConfig(dataset=dataset, modalities={"inertial": {}})
    with pytest.raises(DataError) as err:
        cfg.resolved_root()
    assert str(err.value).startswith(f"{tmp_path / folder}: data root is not a directory")
    (tmp_path / folder).mkdir()
    assert cfg.resolved_root() == tmp_path / folder
