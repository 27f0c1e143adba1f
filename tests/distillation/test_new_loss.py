"""A new logit loss is one class plus its registration: the distillation reads what it declares.

``JSLoss`` (a symmetric Jensen-Shannon soft-target loss) lives only here, as the example of adding a
loss: nothing in harkd names it, yet a distillation builds it, averages an ensemble of teachers at its
temperature and reports the teachers' calibration at that temperature, because the class says so."""

from __future__ import annotations

import json

import pytest
import torch
import torch.nn.functional as F

from harkd.distillation import distill_experiment, load_distill_config
from harkd.distillation.task import ensemble_logits
from harkd.engine.runs import load_run
from harkd.losses import DistillLoss, register_loss
from harkd.losses.registry import LOSSES

from tinyteachers import INERTIAL, skeleton_teacher


class JSLoss(DistillLoss):
    """Jensen-Shannon divergence of the softened distributions: ``T^2 * JS(softmax(s / T), softmax(t / T))``,
    batch mean. Hyper-parameters: ``temperature`` T = 2.0."""

    input_kind = "logits"
    temperature_role = "soft_targets"
    ensemble = True

    def __init__(self, *, student_shape=None, teacher_shape=None, temperature: float = 2.0):
        super().__init__(student_shape=student_shape, teacher_shape=teacher_shape)
        self.temperature = float(temperature)

    def forward(self, student: torch.Tensor, teacher: torch.Tensor) -> torch.Tensor:
        log_p, log_q = F.log_softmax(student / self.temperature, 1), F.log_softmax(teacher / self.temperature, 1)
        log_m = torch.logsumexp(torch.stack([log_p, log_q]), 0) - torch.log(torch.tensor(2.0))
        js = 0.5 * (log_p.exp() * (log_p - log_m) + log_q.exp() * (log_q - log_m)).sum(1)
        return self.temperature ** 2 * js.mean()


@pytest.fixture
def js_registered(monkeypatch):
    """``js`` registered for one test (the registry is restored afterwards)."""
    LOSSES.load_builtins()
    monkeypatch.setattr(LOSSES, "_items", dict(LOSSES._items))
    register_loss("js")(JSLoss)
    return "js"


@pytest.fixture(scope="module")
def teacher_run(synth_utd, tmp_path_factory):
    return skeleton_teacher(synth_utd, tmp_path_factory.mktemp("teacher"))


def test_a_new_logit_loss_distils_from_its_declarations(synth_utd, teacher_run, tmp_path, js_registered):
    losses = [{"name": "ce"}, {"name": js_registered, "ensemble": True, "teacher_index": "all",
                               "args": {"temperature": 3}}]
    cfg = load_distill_config(data={
        "name": "student", "seed": 0, "output_dir": str(tmp_path),
        "data": {"dataset": "utd-mhad", "root": str(synth_utd), "modalities": {"inertial": INERTIAL}, "cache": False},
        "teachers": [{"run": str(teacher_run)}] * 2,
        "student": {"name": "imu_cnn1d", "input": "inertial", "args": {"widths": [8, 16], "depths": [1, 1]}},
        "losses": losses, "optim": {"lr": 3e-3}, "train": {"epochs": 1, "batch_size": 8},
    })
    run_dir = distill_experiment(cfg, tmp_path / "js", log=lambda m: None)

    metrics = json.loads((run_dir / "metrics.jsonl").read_text().splitlines()[0])
    assert metrics["train_js"] > 0
    report = json.loads((run_dir / "teachers.json").read_text())
    assert [t["temperature"] for t in report["teachers"]] == [3.0, 3.0]  # calibration at its soft-target temperature
    _, _, task, prepared = load_run(run_dir, whole=True)
    term = task.terms[1]
    assert isinstance(term.loss, JSLoss) and term.teachers == (0, 1) and term.ensemble_temperature == 3.0
    batch = torch.utils.data.default_collate([prepared.datasets["train"][i] for i in range(4)])
    student = task.student.forward_intermediates(batch["inertial"], ["logits"])
    teachers = task.teacher_outputs(batch)
    want = term.loss(student["logits"], ensemble_logits([t["logits"] for t in teachers], 3.0))
    torch.testing.assert_close(task._term(term, student, teachers, {"batch": batch, "hooks": None}), want)


def test_the_example_loss_is_no_shipped_loss():
    assert "js" not in LOSSES
