"""train.refit and --select-on-test through harkd distill: the refit's extra recordings get teacher outputs."""

import json

import pytest
import yaml

from harkd.cli.main import main
from harkd.engine.lifecycle import AS_PUBLISHED, SELECTION_TEST

from tinyteachers import INERTIAL, skeleton_teacher


@pytest.fixture(scope="module")
def teacher_run(synth_utd, tmp_path_factory):
    return skeleton_teacher(synth_utd, tmp_path_factory.mktemp("teacher"))


def write(tmp_path, root, teacher, **train):
    data = {
        "name": "student", "seed": 1, "output_dir": str(tmp_path / "runs"),
        "data": {"dataset": "utd-mhad", "root": str(root), "modalities": {"inertial": INERTIAL}, "cache": False},
        "teachers": [{"run": str(teacher)}],
        "student": {"name": "imu_cnn1d", "input": "inertial", "args": {"widths": [8, 16], "depths": [1, 1]}},
        "losses": [{"name": "ce"}, {"name": "kd", "args": {"temperature": 4}}],
        "optim": {"lr": 3e-3}, "train": {"epochs": 2, "batch_size": 8, **train},
    }
    path = tmp_path / "distill.yaml"
    path.write_text(yaml.safe_dump(data))
    return path


def test_distill_refit_teaches_the_held_out_subject_too(synth_utd, teacher_run, tmp_path, capsys):
    assert main(["distill", str(write(tmp_path, synth_utd, teacher_run, refit="last"))]) == 0
    out = capsys.readouterr().out
    run_dir = tmp_path / "runs" / "student"
    meta, refit_meta = (json.loads((d / "run.json").read_text()) for d in (run_dir, run_dir / "refit"))
    assert refit_meta["kind"] == "distill" and meta["validation"]["rule"] == "subjects"
    assert sorted(refit_meta["split"]["train"]) == sorted(meta["split"]["train"] + meta["split"]["val"])
    records = [json.loads(line) for line in (run_dir / "refit" / "metrics.jsonl").read_text().splitlines()]
    assert len(records) == 2 and records[-1]["train_kd"] > 0
    assert meta["refit"]["epochs"] == 2 and any(line.startswith("refit (refit/last.pt") for line in out.splitlines())


def test_distill_select_on_test_is_marked(synth_utd, teacher_run, tmp_path, capsys):
    assert main(["distill", str(write(tmp_path, synth_utd, teacher_run)), "--select-on-test"]) == 0
    out = capsys.readouterr().out
    meta = json.loads((tmp_path / "runs" / "student_select-on-test" / "run.json").read_text())
    assert meta["selection"] == SELECTION_TEST and out.splitlines()[0].startswith("best.pt (epoch ")
    assert AS_PUBLISHED in out.splitlines()[0] and AS_PUBLISHED in out.splitlines()[1]
