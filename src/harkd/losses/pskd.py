"""PSKD (progressive skeleton-to-sensor KD, ACM MM 2022): the Adaptive-Confidence
Semantic (ACS) loss.

Only the paper's abstract is public (no code): J. Ni, A. H. H. Ngu, Y. Yan, "Progressive Cross-modal
Knowledge Distillation for Human Action Recognition", ACM MM 2022. This is a design from it,
documented here and to be measured:

Per sample i, the student chooses ONE target to mimic:

- among the M teachers that classify sample i correctly (argmax = true label), the
  one with the highest confidence ``softmax(t_m)[y_i]`` on the true class (ties ->
  lowest teacher index); the target is then its softened distribution and the term is
  Hinton's ``T^2 * KL(softmax(t_m*/T) || softmax(s/T))``;
- if no teacher is correct, the one-hot label: the term is ``CE(s, y_i)``.

Why: a wrong teacher would pull the student towards a wrong class (the modality gap
makes skeleton/fused teachers confidently wrong on some sensor-ambiguous samples),
while a correct and confident teacher provides dark knowledge the label lacks.
Confidence is measured at temperature 1 (the teacher's actual prediction);
the soft target uses ``temperature``. With ``confidence_weighting=True`` a
followed sample's KD term is scaled by the chosen teacher's confidence.

Semantic alignment: when embeddings are given, ``MSE(v_s_i, v_t_{m*,i})`` (mean over
D) for the samples that follow a teacher, averaged over those samples (0 when none
follows), weighted by ``semantic_weight``.

``total = mean_i [KD_i if followed else CE_i] + semantic_weight * L_sem``.
The task adds its own CE on all samples if it wants one. Teachers are detached.
"""

from __future__ import annotations

from typing import Dict

import torch
import torch.nn.functional as F

from harkd.checks import check_number
from harkd.errors import InputError
from harkd.losses.kit import as_tensor_list, check_batch, check_labels, check_tensor, kd_per_sample
from harkd.losses.registry import DistillLoss, register_loss

__all__ = ["ACSLoss", "acs_choose_teacher"]


def acs_choose_teacher(teacher_logits, labels: torch.Tensor):
    """Per-sample teacher choice: ``(chosen (B,) long, followed (B,) bool, confidence (B,))``.

    ``chosen[i]`` is the index of the correct teacher most confident on the true class
    (ties -> lowest index); ``followed[i]`` is False (and ``chosen[i]`` = -1,
    ``confidence[i]`` = 0) when no teacher predicts ``labels[i]``.
    """
    stacked = torch.stack([t.detach() for t in teacher_logits])  # (M, B, C)
    probs = stacked.softmax(-1)
    idx = labels.view(1, -1, 1).expand(stacked.shape[0], -1, 1)
    conf = probs.gather(2, idx).squeeze(2)  # (M, B)
    correct = stacked.argmax(-1) == labels.unsqueeze(0)
    masked = torch.where(correct, conf, torch.full_like(conf, -1.0))
    best_conf, chosen = masked.max(0)  # max returns the first index among ties
    followed = correct.any(0)
    chosen = torch.where(followed, chosen, torch.full_like(chosen, -1))
    return chosen, followed, torch.where(followed, best_conf, torch.zeros_like(best_conf))


@register_loss("acs")
class ACSLoss(DistillLoss):
    """Adaptive-Confidence Semantic loss (see the module docstring for the design).

    ``forward(student, teacher, labels=..., student_embedding=None, teacher_embeddings=None)``:
    ``student`` (B, C) logits; ``teacher`` one (B, C) tensor or a list of M;
    ``labels`` (B,); embeddings (B, D) and a list of M (B, D), both or neither.
    After each call ``last_terms`` holds (floats): ``kd`` (mean over followed samples),
    ``ce`` (mean over label samples), ``semantic``, ``followed_fraction`` and ``total``.

    Hyper-parameters: ``temperature`` T = 4.0 (softens the followed teacher's target; the choice of
    teacher is made at T = 1); ``semantic_weight`` = 1.0 (weight of the embedding MSE, used only when
    embeddings are given); ``confidence_weighting`` = False (True scales a followed sample's KD term
    by the chosen teacher's confidence on the true class).
    """

    multi_teacher = True  # ``teacher``: the list of every teacher's logits
    temperature_role = "soft_targets"

    input_kind = "logits"
    context_keys = ("labels",)

    def __init__(self, temperature: float = 4.0, semantic_weight: float = 1.0, confidence_weighting: bool = False,
                 **shapes):
        super().__init__(**shapes)
        self.temperature = check_number("acs: temperature", temperature, positive=True)
        self.semantic_weight = check_number("acs: semantic_weight", semantic_weight)
        if not isinstance(confidence_weighting, bool):
            raise InputError(f"acs: confidence_weighting must be True or False, got {confidence_weighting!r}")
        self.confidence_weighting = confidence_weighting
        self.last_terms: Dict[str, float] = {}

    def terms(self, student, teacher, labels=None, student_embedding=None, teacher_embeddings=None):
        check_tensor("acs", "student", student, 2)
        teachers = as_tensor_list("acs", "teacher", teacher)
        for m, t in enumerate(teachers):
            check_tensor("acs", f"teacher[{m}]", t, 2)
            if t.shape != student.shape:
                raise InputError(f"acs: teacher[{m}] logits shape {tuple(t.shape)} differs from student shape "
                                 f"{tuple(student.shape)}")
        if labels is None:
            raise InputError("acs: labels are required")
        labels = check_labels("acs", labels, student.shape[0], student.shape[1])
        if (student_embedding is None) != (teacher_embeddings is None):
            raise InputError("acs: give both student_embedding and teacher_embeddings, or neither")
        t_emb = None
        if student_embedding is not None:
            check_tensor("acs", "student_embedding", student_embedding, 2)
            check_batch("acs", "student_embedding", student_embedding, "student logits", student)
            t_emb = as_tensor_list("acs", "teacher_embeddings", teacher_embeddings)
            if len(t_emb) != len(teachers):
                raise InputError(f"acs: got {len(teachers)} teacher logits but {len(t_emb)} teacher embeddings")
            for m, e in enumerate(t_emb):
                check_tensor("acs", f"teacher_embeddings[{m}]", e, 2)
                if e.shape != student_embedding.shape:
                    raise InputError(f"acs: teacher_embeddings[{m}] shape {tuple(e.shape)} differs from "
                                     f"student_embedding shape {tuple(student_embedding.shape)}")
        teachers = [t.detach() for t in teachers]
        chosen, followed, conf = acs_choose_teacher(teachers, labels)
        batch = student.shape[0]
        stacked = torch.stack(teachers)  # (M, B, C)
        safe_idx = chosen.clamp_min(0)
        ar = torch.arange(batch, device=student.device)
        target_logits = stacked[safe_idx, ar]  # (B, C); rows of non-followed samples unused
        kd = kd_per_sample(student, target_logits, self.temperature)
        if self.confidence_weighting:
            kd = kd * conf.to(kd.dtype)
        ce = F.cross_entropy(student, labels, reduction="none")
        fl = followed.to(student.dtype)
        n_follow = fl.sum()
        n_label = batch - n_follow
        per_sample = torch.where(followed, kd, ce)
        zero = student.sum() * 0.0
        out = {
            "kd": (kd * fl).sum() / n_follow if n_follow > 0 else zero,
            "ce": (ce * (1 - fl)).sum() / n_label if n_label > 0 else zero,
            "followed_fraction": n_follow / max(batch, 1),
        }
        target_term = per_sample.mean() if batch else zero
        if t_emb is not None:
            e_stack = torch.stack([e.detach() for e in t_emb])  # (M, B, D)
            sq = (student_embedding - e_stack[safe_idx, ar]).pow(2).mean(1)
            out["semantic"] = (sq * fl).sum() / n_follow if n_follow > 0 else student_embedding.sum() * 0.0
        else:
            out["semantic"] = zero
        out["total"] = target_term + self.semantic_weight * out["semantic"]
        out["chosen"] = chosen
        return out

    def forward(self, student, teacher, labels=None, student_embedding=None, teacher_embeddings=None,
                **context) -> torch.Tensor:
        out = self.terms(student, teacher, labels, student_embedding, teacher_embeddings)
        self.last_terms = {k: float(v.detach()) for k, v in out.items() if k != "chosen"}
        return out["total"]
