"""``ce``: the student's own cross-entropy with the labels, a loss term like any distillation loss."""

from __future__ import annotations

import torch
import torch.nn.functional as F

from harkd.checks import check_rate
from harkd.losses.registry import DistillLoss, register_loss

__all__ = ["CrossEntropyLoss"]


@register_loss("ce")
class CrossEntropyLoss(DistillLoss):
    """Cross-entropy of the student's logits with the labels; it reads no teacher.

    Inputs: the student's logits (B, C) and the labels (B,). A distillation calls it on every row of the
    batch (a row no teacher can teach included); on a mixed batch (``train.mixup``) with both label sets,
    weighted like the samples.

    Formula: ``L = -(1/B) sum_b sum_c q[b,c] log softmax(s)[b,c]`` with ``q = (1 - eps) onehot(y) + eps / C``.

    Hyper-parameters: ``label_smoothing`` eps (default: the run's ``train.label_smoothing``).
    """

    input_kind = "logits"
    reads_teacher = False
    context_args = ("label_smoothing",)

    def __init__(self, *, student_shape=None, teacher_shape=None, label_smoothing: float = 0.0):
        super().__init__(student_shape=student_shape, teacher_shape=teacher_shape)
        self.label_smoothing = check_rate("ce: label_smoothing", label_smoothing)

    def forward(self, student: torch.Tensor, labels: torch.Tensor) -> torch.Tensor:
        return F.cross_entropy(student, labels, label_smoothing=self.label_smoothing)
