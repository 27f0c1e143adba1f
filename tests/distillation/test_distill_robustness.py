"""Distillation: train.label_smoothing reaches the ce term, teacher calibration, evaluate in a new shell."""

import json
import math

import pytest
import torch
from torch.nn import functional as F

from harkd.distillation import load_distill_config
from harkd.distillation.experiment import DISTILL, distill_experiment
from harkd.engine.evaluate import evaluate_run
from harkd.engine.lifecycle import write_task_reports
from harkd.engine.recipe import prepare_plan
from harkd.engine.trainer import model_input

from tinyteachers import INERTIAL, SKELETON, skeleton_teacher



@pytest.fixture(scope="module")
def teacher_run(synth_utd, tmp_path_factory):
    return skeleton_teacher(synth_utd, tmp_path_factory.mktemp("teacher"))


def config(root, teacher, out, losses, smoothing=0.0):
    return load_distill_config(data={
        "name": "student", "seed": 1, "output_dir": str(out),
        "data": {"dataset": "utd-mhad", "root": None if root is None else str(root),
                 "modalities": {"inertial": INERTIAL}, "cache": False},
        "teachers": [{"run": str(teacher)}],
        "student": {"name": "imu_cnn1d", "input": "inertial", "args": {"widths": [8, 16], "depths": [1, 1]}},
        "losses": losses, "optim": {"lr": 3e-3},
        "train": {"epochs": 1, "batch_size": 8, "label_smoothing": smoothing},
    })


def build(cfg):
    plan = DISTILL.plan(cfg)
    prepared = prepare_plan(plan)
    return DISTILL.build(plan, prepared), prepared


def first_batch(dataset, n=8):
    return torch.utils.data.default_collate([dataset[i] for i in range(n)])


def test_label_smoothing_reaches_the_ce_term(synth_utd, teacher_run, tmp_path):
    task, prepared = build(config(synth_utd, teacher_run, tmp_path, [{"name": "ce"}, {"name": "kd"}], smoothing=0.1))
    task.eval()
    batch = first_batch(prepared.datasets["train"])
    ce = task(batch)["ce"]
    logits = task.predict(batch)
    torch.testing.assert_close(ce, F.cross_entropy(logits, batch["label"], label_smoothing=0.1))
    assert not torch.allclose(ce, F.cross_entropy(logits, batch["label"]))


def manual_calibration(task, dataset, temperature):
    teacher = task.teachers[0]
    correct = p_true = entropy = 0.0
    for i in range(len(dataset)):
        sample = torch.utils.data.default_collate([dataset[i]])
        logits = teacher(model_input(sample, "skeleton"))
        probs = torch.softmax(logits / temperature, 1)[0]
        label = sample["label"][0]
        correct += float(logits.argmax(1)[0] == label)
        p_true += float(probs[label])
        entropy += float(-(probs * probs.log()).sum())
    n = len(dataset)
    return correct / n, p_true / n, entropy / n


@pytest.mark.parametrize("losses, temperature", [
    ([{"name": "ce"}, {"name": "kd", "args": {"temperature": 4}}], 4.0),
    ([{"name": "ce"}, {"name": "fitnet", "student": "pool", "teacher": "pool"}], 1.0),  # no soft-target term: T = 1
])
def test_teacher_calibration_is_recorded_once_before_training(synth_utd, teacher_run, tmp_path, losses, temperature):
    task, prepared = build(config(synth_utd, teacher_run, tmp_path, losses))
    train = prepared.datasets["train"]
    write_task_reports(tmp_path, task)
    report = json.loads((tmp_path / "teachers.json").read_text())
    entry, = report["teachers"]
    assert report["split"] == "train" and report["recordings"] == len(train)
    assert entry["run"] == str(teacher_run) and entry["input"] == "skeleton"
    assert entry["temperature"] == temperature and entry["recordings"] == len(train)
    accuracy, p_true, entropy = manual_calibration(task, train, temperature)
    assert entry["accuracy"] == pytest.approx(accuracy)
    assert entry["mean_p_true"] == pytest.approx(p_true, rel=1e-4)
    assert entry["mean_entropy"] == pytest.approx(entropy, rel=1e-4)
    assert 0 < entry["mean_entropy"] <= math.log(len(prepared.class_names)) + 1e-6
    if any(term["name"] == "kd" for term in losses):  # the outputs training reads were cached by the report
        assert task.cache.misses == len(train)
        task.teacher_outputs(first_batch(train))
        assert task.cache.hits == 8
    (tmp_path / "teachers.json").write_text("{}")
    write_task_reports(tmp_path, task)  # once per run directory: a resumed run keeps it
    assert (tmp_path / "teachers.json").read_text() == "{}"


def test_distill_run_evaluates_in_a_new_shell(synth_utd, teacher_run, tmp_path, monkeypatch):
    (tmp_path / "data").mkdir()
    (tmp_path / "data" / "UTD-MHAD").symlink_to(synth_utd)
    monkeypatch.setenv("HARKD_DATA_ROOT", str(tmp_path / "data"))
    run_dir = distill_experiment(config(None, teacher_run, tmp_path, [{"name": "ce"}, {"name": "kd"}]),
                                 tmp_path / "run", log=lambda m: None)
    monkeypatch.delenv("HARKD_DATA_ROOT")
    result = evaluate_run(run_dir)
    assert result["data_root_from"] == "run.json" and result["data_root"] == str(synth_utd.resolve())
    assert result["missing_keys"] == 0
