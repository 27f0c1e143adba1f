"""``harkd data info`` and ``harkd train`` on a manifest dataset: the same reports and one-line errors as the benchmarks."""

from __future__ import annotations

import json

import pytest
import yaml

from harkd.data.synth.phone_har import write_phone_har

DESCRIPTION = {"path": "labels.csv", "key": "recording_id", "subject": "subject", "label": "action",
               "protocols": {"cross_subject": {"subject": ["p3"]}},
               "modalities": {"acc": {"column": "acc_file", "format": "csv", "unit": "m/s^2", "rate": 50},
                              "skeleton": {"column": "pose_file", "format": "mediapipe-csv"}}}


@pytest.fixture
def recordings(tmp_path, monkeypatch):
    write_phone_har(tmp_path / "rec", subjects=3, actions=["walk", "wave"])
    monkeypatch.chdir(tmp_path)
    monkeypatch.setenv("HARKD_CACHE_DIR", str(tmp_path / "cache"))
    config = {"name": "m", "data": {"dataset": "manifest", "root": "rec", "manifest": DESCRIPTION,
                                    "modalities": {"acc": {"length": 32}}},
              "model": {"name": "imu_cnn1d", "input": "acc", "args": {"widths": [8], "depths": [1]}},
              "train": {"epochs": 1, "batch_size": 4}}
    (tmp_path / "m.yaml").write_text(yaml.safe_dump(config))
    return tmp_path


def test_data_info_reads_a_configs_manifest(recordings, run):
    code, out, err = run("data", "info", "--config", "m.yaml", "--check", "--json")
    assert code == 0, err
    summary = json.loads(out)
    assert summary["dataset"] == "manifest" and summary["root"] == str(recordings / "rec")
    assert summary["modalities"] == {"acc": 6, "skeleton": 3} and summary["recordings"] == 6
    assert summary["split"]["test"] == 2 and summary["split"]["validation"]["subjects"] == [1]
    assert summary["missing"]["incomplete"] == {f"p{s}_wave_1": ["skeleton"] for s in (1, 2, 3)}
    code, out, err = run("data", "info", "--config", "m.yaml", "--protocol", "leave_one_subject_out:p1", "--json")
    assert json.loads(out)["split"]["test"] == 2


def test_a_file_that_fails_to_load_is_listed_by_check_with_its_row(recordings, run):
    (recordings / "rec" / "acc" / "p2_wave_1.csv").write_text("timestamp,x,y,z\n0,1,2\n")
    code, out, err = run("data", "info", "--config", "m.yaml", "--check", "--json")
    assert code == 1
    assert json.loads(out)["errors"] == [{
        "path": str(recordings / "rec" / "acc" / "p2_wave_1.csv"),
        "reason": "line 2: expected 4 fields (timestamp,x,y,z), got 3 (labels.csv row 4, column 'acc_file')"}]
    code, out, err = run("train", "m.yaml")
    assert code == 2 and err.startswith(f"harkd: error: {recordings / 'rec' / 'acc' / 'p2_wave_1.csv'}: line 2: ")
    assert len(err.strip().splitlines()) == 1


@pytest.mark.parametrize("argv, line", [
    (["data", "info", "--dataset", "manifest", "--root", "rec"],
     "harkd: error: dataset manifest is described by a config's data.manifest: pass --config EXPERIMENT.yaml"),
    (["data", "info", "--config", "m.yaml", "--protocol", "cross_scene"],
     "harkd: error: unknown manifest protocol 'cross_scene'; did you mean 'cross_subject'? (valid: cross_subject, "
     "leave_one_subject_out:p1, leave_one_subject_out:p2, leave_one_subject_out:p3)"),
    (["train", "m.yaml", "--set", "data.manifest.modalities.acc.format=xls"],
     "harkd: error: config key 'data.manifest.modalities.acc.format': unknown format 'xls' "
     "(valid: coco17-csv, coco17-json, csv, mat, mediapipe-csv, mediapipe-json, npy, npz, openpose-csv, openpose-json)"),
    (["train", "m.yaml", "--set", "data.manifest.subject=person"],
     "harkd: error: {root}/rec/labels.csv: no column 'person' (data.manifest.subject) (columns: recording_id, subject, "
     "action, take, acc_file, pose_file)"),
])
def test_bad_input_is_one_line(recordings, run, argv, line):
    code, out, err = run(*argv)
    assert code == 2 and err.strip() == line.format(root=recordings)
