"""A KD weight that follows the student's progress (issue 24, item 3): ``weight_end`` moves a term's weight
linearly from ``weight`` at the first epoch to ``weight_end`` at the last, as a function of the epoch alone."""

import json

import pytest

from harkd.distillation import distill_experiment, load_distill_config
from harkd.distillation.task import DistillTask, LossTerm
from harkd.errors import ConfigError

from tinyteachers import INERTIAL, skeleton_teacher


def kd_term(weight: float, weight_end: float | None) -> LossTerm:
    return LossTerm("kd", None, weight, ("logits",), ("logits",), (0,), weight_end=weight_end)


def test_the_weight_moves_linearly_from_weight_to_weight_end():
    decay = kd_term(1.0, 0.0)
    assert [decay.weight_at(p) for p in (0.0, 0.25, 0.5, 1.0)] == [1.0, 0.75, 0.5, 0.0]
    ramp = kd_term(0.5, 2.0)
    assert [ramp.weight_at(p) for p in (0.0, 0.5, 1.0)] == [0.5, 1.25, 2.0]
    assert [kd_term(3.0, None).weight_at(p) for p in (0.0, 0.7, 1.0)] == [3.0, 3.0, 3.0]  # unset: constant


def config(root, teacher, out, kd: dict, epochs: int = 3):
    return load_distill_config(data={
        "name": "student", "seed": 1, "output_dir": str(out),
        "data": {"dataset": "utd-mhad", "root": str(root), "modalities": {"inertial": INERTIAL}, "cache": False},
        "teachers": [{"run": str(teacher), "checkpoint": "last"}],
        "student": {"name": "imu_cnn1d", "input": "inertial", "args": {"widths": [8, 16], "depths": [1, 1]}},
        "losses": [{"name": "ce"}, {"name": "kd", "args": {"temperature": 4}, **kd}],
        "optim": {"lr": 3e-3}, "train": {"epochs": epochs, "batch_size": 8}})


def test_a_negative_weight_end_is_refused_with_its_key(synth_utd, tmp_path):
    with pytest.raises(ConfigError) as err:
        config(synth_utd, tmp_path / "teacher", tmp_path, {"weight": 1.0, "weight_end": -1})
    assert str(err.value) == "config key 'losses[1].weight_end': must be in [0, 1000000], got -1.0"


def test_the_trainer_gives_the_task_its_progress_every_epoch(synth_utd, tmp_path, monkeypatch):
    """Three epochs see progress 0, 1/2 and 1, so the KD term's weight is 1, 0.5 and 0 (the run's resolved
    config keeps weight_end, so the experiment is repeatable from its run directory)."""
    seen = []
    original = DistillTask.set_progress

    def record(task, fraction):
        original(task, fraction)
        seen.append([term.weight_at(task.progress) for term in task.terms])

    monkeypatch.setattr(DistillTask, "set_progress", record)
    teacher = skeleton_teacher(synth_utd, tmp_path / "teacher")
    run = distill_experiment(config(synth_utd, teacher, tmp_path / "runs", {"weight": 1.0, "weight_end": 0.0}))
    assert seen == [[1.0, 1.0], [1.0, 0.5], [1.0, 0.0]]
    resolved = (run / "config.yaml").read_text()
    assert "weight_end: 0.0" in resolved
    assert len([json.loads(line) for line in (run / "metrics.jsonl").read_text().splitlines()]) == 3
