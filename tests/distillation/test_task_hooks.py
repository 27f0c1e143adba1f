"""DistillTask's loss-side hooks (bind / prepare / extra_teacher_keys / per_teacher_keys) and GSDM's use of them."""

import re

import pytest
import torch

from harkd.distillation.task import BatchContext, DistillTask, LossTerm, TermSetup
from harkd.errors import ConfigError
from harkd.losses.registry import DistillLoss
from harkd.losses.sakdn import GSDMLoss
from harkd.models import create_model

TINY = dict(widths=(4, 8), depths=(1, 1))


class ProbeLoss(DistillLoss):
    """A loss whose per-batch context comes from its own hook: the teachers' zero-input logits."""

    context_keys = ("labels", "shift")
    extra_teacher_keys = ("logits",)
    per_teacher_keys = ("shift",)

    def __init__(self):
        super().__init__()
        self.bound, self.calls = [], []

    def bind(self, setup):
        self.bound.append(setup)

    def prepare(self, ctx, sources):
        return {"shift": [ctx.teacher_zero(i, p + "logits").sum() for i, p in sources]}

    def forward(self, student, teacher, labels=None, shift=None):
        self.calls.append((teacher.shape, labels.shape, shift))
        return (student - teacher).pow(2).mean() + 0 * shift


def _task(loss, stored=(False, False), embeddings=None, keys=("logits",)):
    torch.manual_seed(0)
    student = create_model("imu_cnn1d", num_classes=3, in_chans=3, **TINY)
    teachers = [create_model("imu_cnn1d", num_classes=3, in_chans=3, **TINY) for _ in range(2)]
    term = LossTerm("probe", loss, 1.0, keys, keys, (0, 1), multi_layer=len(keys) > 1)
    return DistillTask(student, "x", teachers, ["x", "x"], [term], class_embeddings=embeddings, stored=list(stored))


def _batch():
    return {"x": torch.randn(4, 3, 24), "label": torch.tensor([0, 1, 2, 0])}


def test_hooks_are_bound_once_and_prepared_per_batch():
    loss = ProbeLoss()
    task = _task(loss)
    assert loss.bound == [TermSetup([(0, ""), (1, "")], [False, False], None)]
    assert task.teacher_features == [["logits"], ["logits"]]
    task.train()
    out = task(_batch())
    assert torch.isfinite(out["loss"]) and len(loss.calls) == 2  # one call per teacher ...
    zero0 = task._zero_features[(0, "logits")].sum()
    zero1 = task._zero_features[(1, "logits")].sum()
    assert torch.equal(loss.calls[0][2], zero0) and torch.equal(loss.calls[1][2], zero1)  # ... with its own value
    cached = dict(task._zero_features)
    task(_batch())
    assert all(task._zero_features[k] is v for k, v in cached.items())  # frozen teachers: zero pass once per run


def test_student_zero_pass_runs_once_per_batch_in_eval_mode_and_restores_train_mode():
    task = _task(ProbeLoss())
    task.train()
    batch = _batch()
    ctx = BatchContext(task, batch, task.student.forward_intermediates(batch["x"], ["logits"]), [{}, {}])
    modes = []
    original = task.zero_logits
    task.zero_logits = lambda model, x, names=("logits",): modes.append(model.training) or original(model, x, names)
    first = ctx.student_zero(["logits"])["logits"]
    assert ctx.student_zero(["logits"])["logits"] is first and len(modes) == 1
    assert first.shape == (1, 3) and task.student.training
    task.student.eval()
    with torch.no_grad():
        torch.testing.assert_close(first, task.student(torch.zeros(1, 3, 24)))


def test_gsdm_bind_needs_class_embeddings():
    with pytest.raises(ConfigError, match=re.escape(
            "a loss term needs GSDM ablation weights but no class-name embeddings were given")):
        GSDMLoss().bind(TermSetup([(0, "")], [False], None))


def test_gsdm_bind_refuses_a_cross_fitted_teacher():
    message = ("GSDM's ablation weights run the teacher on a zero input; a cross-fitted ('folds') teacher only "
               "has stored outputs: give that teacher as 'run'")
    with pytest.raises(ConfigError, match=re.escape(message)):
        GSDMLoss().bind(TermSetup([(0, ""), (1, "")], [False, True], torch.eye(3)))
    GSDMLoss().bind(TermSetup([(0, "")], [False, True], torch.eye(3)))  # teacher 1 is not a GSDM source


def test_gsdm_term_in_a_task_reads_each_teachers_logits_and_gets_one_weight_per_teacher():
    task = _task(GSDMLoss(), embeddings=torch.eye(3), keys=("stem", "layer1"))
    assert task.teacher_features == [["stem", "layer1", "logits"]] * 2
    gsdm = task.terms[0]
    task.train()
    out = task(_batch())
    assert torch.isfinite(out["loss"])
    batch = _batch()
    student = task.student.forward_intermediates(batch["x"], task.student_features)
    prepared = gsdm.loss.prepare(BatchContext(task, batch, student, task.teacher_outputs(batch)), gsdm.sources())
    assert set(prepared) == {"student_weights", "teacher_weights"} and len(prepared["teacher_weights"]) == 2
    assert all(w.shape == (4,) and (w >= 0).all() for w in prepared["teacher_weights"])


def test_a_task_built_with_gsdm_and_no_embeddings_is_refused():
    with pytest.raises(ConfigError, match=re.escape(
            "a loss term needs GSDM ablation weights but no class-name embeddings were given")):
        _task(GSDMLoss())
