"""Baseline losses without learned parts on logits and batch relations: KD, SP, CC, RKD, PKT.

Registered on import of :mod:`harkd.losses.zoo`. None of them has parameters, so
``student_shape`` / ``teacher_shape`` are accepted and only checked for consistency.
"""

from __future__ import annotations

import math

import torch
import torch.nn.functional as F

from harkd.checks import check_int, check_number
from harkd.errors import InputError
from harkd.losses.kit import check_batch, check_tensor, kd_per_sample
from harkd.losses.registry import DistillLoss, register_loss

__all__ = ["KDLoss", "SPLoss", "CCLoss", "RKDLoss", "PKTLoss"]

EMBEDDING = "(B, D) embedding"
ANY_BATCH = "(B, ...) tensor with at least 2 dims"


@register_loss("kd")
class KDLoss(DistillLoss):
    r"""Soft-target knowledge distillation (the soft term only).

    Paper: G. Hinton, O. Vinyals, J. Dean, "Distilling the Knowledge in a Neural
    Network", NIPS Deep Learning Workshop, 2015 (arXiv:1503.02531).

    Inputs: student and teacher logits, both (B, C) with the same C.

    Formula, with p_t = softmax(t / T), p_s = softmax(s / T) over the C classes::

        L = T^2 * (1/B) * sum_b sum_c p_t[b,c] * (log p_t[b,c] - log p_s[b,c])

    i.e. ``T^2 * KL(p_t || p_s)`` averaged over the batch ("batchmean"). The T^2 factor
    keeps the gradient scale independent of T. The hard cross-entropy term and the
    mixing weight alpha of the paper are NOT part of this loss: a recipe adds the
    cross-entropy as a separate term and weights the two (alpha * kd + (1 - alpha) * ce).

    Hyper-parameters: ``temperature`` T = 4.0.
    """

    input_kind = "logits"
    temperature_role = "soft_targets"
    ensemble = True

    def __init__(self, *, student_shape=None, teacher_shape=None, temperature: float = 4.0):
        super().__init__(student_shape=student_shape, teacher_shape=teacher_shape)
        self.temperature = check_number("kd: temperature", temperature, positive=True)
        if student_shape is not None and teacher_shape is not None and tuple(student_shape) != tuple(teacher_shape):
            raise InputError(f"kd: student_shape {tuple(student_shape)} and teacher_shape {tuple(teacher_shape)} "
                             "must be equal (one score per class for both)")

    def forward(self, student, teacher, **context):
        check_tensor("kd", "student", student, (2,), "(B, C) logits")
        check_tensor("kd", "teacher", teacher, (2,), "(B, C) logits")
        if student.shape != teacher.shape:
            raise InputError(f"kd: student logits {tuple(student.shape)} and teacher logits "
                             f"{tuple(teacher.shape)} must have the same shape")
        return kd_per_sample(student, teacher, self.temperature).mean()


@register_loss("sp")
class SPLoss(DistillLoss):
    r"""Similarity-preserving distillation.

    Paper: F. Tung, G. Mori, "Similarity-Preserving Knowledge Distillation", ICCV 2019.

    Inputs: one layer's activations of student and teacher, any (B, ...) shape (a
    feature map (B, C, H, W) / (B, C, L) or an embedding (B, D)); channels and sizes
    may differ, the batch must match. For several layer pairs, use one term per pair.

    Formula, with Q = the activations flattened to (B, N)::

        G = Q Q^T                       (B, B)
        G~[i] = G[i] / ||G[i]||_2       (each row L2-normalised)
        L = ||G~_s - G~_t||_F^2 / B^2

    Hyper-parameters: none (the paper's gamma weight belongs to the recipe).
    """

    input_kind = "feature_map"

    def forward(self, student, teacher, **context):
        check_tensor("sp", "student", student, range(2, 6), ANY_BATCH)
        check_tensor("sp", "teacher", teacher, range(2, 6), ANY_BATCH)
        b = check_batch("sp", "student", student, "teacher", teacher, minimum=1)
        qs, qt = student.flatten(1), teacher.flatten(1)
        gs = F.normalize(qs @ qs.t(), p=2, dim=1)
        gt = F.normalize(qt @ qt.t(), p=2, dim=1)
        return (gs - gt).pow(2).sum() / (b * b)


@register_loss("cc")
class CCLoss(DistillLoss):
    r"""Correlation congruence.

    Paper: B. Peng, X. Jin, J. Liu, D. Li, Y. Wu, Y. Liu, S. Zhou, Z. Zhang,
    "Correlation Congruence for Knowledge Distillation", ICCV 2019.

    Inputs: student and teacher embeddings (B, Ds) and (B, Dt) (Ds may differ from Dt;
    higher-rank inputs are flattened to (B, -1)).

    Formula: the embeddings are L2-normalised, f = x / ||x||_2, so that
    ||f_i - f_j||^2 = 2 - 2 f_i.f_j and the Gaussian RBF kernel
    exp(-gamma ||f_i - f_j||^2) = exp(-2 gamma) exp(2 gamma f_i.f_j) is approximated by
    its P-order Taylor expansion in f_i.f_j::

        K[i,j] = sum_{p=0..P} exp(-2 gamma) (2 gamma)^p / p! * (f_i . f_j)^p     (B, B)
        L = ||K_s - K_t||_F^2 / B^2       (sum of squared entries over B^2)

    Hyper-parameters: ``gamma`` = 0.4, ``order`` P = 2 (the paper's settings);
    ``normalize`` = True (set False to use the raw inner products, in which case the
    expansion no longer equals the RBF kernel).
    The paper's full objective also has CE and KD terms: recipes add those separately.
    """

    input_kind = "embedding"

    def __init__(self, *, student_shape=None, teacher_shape=None, gamma: float = 0.4, order: int = 2,
                 normalize: bool = True):
        super().__init__(student_shape=student_shape, teacher_shape=teacher_shape)
        self.gamma = check_number("cc: gamma", gamma, positive=True)
        self.order = check_int("cc: order", order, 0)
        self.normalize = bool(normalize)

    def _kernel(self, x: torch.Tensor) -> torch.Tensor:
        f = x.flatten(1)
        if self.normalize:
            f = F.normalize(f, p=2, dim=1)
        dot = f @ f.t()
        g2 = 2.0 * self.gamma
        k = torch.zeros_like(dot)
        for p in range(self.order + 1):
            k = k + (g2 ** p / math.factorial(p)) * dot.pow(p)
        return math.exp(-g2) * k

    def forward(self, student, teacher, **context):
        check_tensor("cc", "student", student, range(2, 6), EMBEDDING)
        check_tensor("cc", "teacher", teacher, range(2, 6), EMBEDDING)
        b = check_batch("cc", "student", student, "teacher", teacher, minimum=1)
        return (self._kernel(student) - self._kernel(teacher)).pow(2).sum() / (b * b)


@register_loss("rkd")
class RKDLoss(DistillLoss):
    r"""Relational knowledge distillation: distance-wise and angle-wise terms.

    Paper: W. Park, D. Kim, Y. Lu, M. Cho, "Relational Knowledge Distillation", CVPR 2019.

    Inputs: student and teacher embeddings (B, Ds) and (B, Dt) (dims may differ;
    higher-rank inputs are flattened). Needs B >= 2, and B >= 3 when the angle
    weight is non-zero.

    Formula, for each of student and teacher (teacher computed under ``no_grad``)::

        d[i,j] = sqrt(max(||x_i - x_j||^2, eps))                    i != j
        mu     = mean of d over the B(B-1) ordered pairs i != j (clamped to >= eps)
        psi_D  = d / mu
        e[j,i] = (x_i - x_j) / ||x_i - x_j||                        (unit vectors)
        psi_A[i,j,k] = e[j,i] . e[j,k]        (cosine of the angle at apex x_j)

        L_D = mean over pairs i != j of huber(psi_D_s - psi_D_t)
        L_A = mean over triplets of pairwise-distinct i, j, k of huber(psi_A_s - psi_A_t)
        L   = w_d * L_D + w_a * L_A

    with huber = Smooth-L1, delta = 1 (0.5 x^2 if |x| < 1 else |x| - 0.5). "mean of the
    non-zero distances": the diagonal (d[i,i] = 0) is excluded from mu and from both
    means; the popular public code averages over all B^2 / B^3 entries including the
    degenerate ones (which contribute 0), so its values are ours times (B-1)/B for L_D
    and (B-1)(B-2)/B^2 for L_A.

    Hyper-parameters: ``distance_weight`` = 25, ``angle_weight`` = 50, ``eps`` = 1e-12.
    """

    input_kind = "embedding"

    def __init__(self, *, student_shape=None, teacher_shape=None, distance_weight: float = 25.0,
                 angle_weight: float = 50.0, eps: float = 1e-12):
        super().__init__(student_shape=student_shape, teacher_shape=teacher_shape)
        self.distance_weight = check_number("rkd: distance_weight", distance_weight)
        self.angle_weight = check_number("rkd: angle_weight", angle_weight)
        self.eps = check_number("rkd: eps", eps, positive=True)

    def _relations(self, x: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        x = x.flatten(1)
        b = x.shape[0]
        diff = x.unsqueeze(0) - x.unsqueeze(1)  # diff[j, i] = x_i - x_j
        dist = diff.pow(2).sum(-1).clamp_min(self.eps).sqrt()
        off = ~torch.eye(b, dtype=torch.bool, device=x.device)
        dist = dist[off]
        dist = dist / dist.mean().clamp_min(self.eps)
        angle = None
        if self.angle_weight > 0:
            unit = F.normalize(diff, p=2, dim=2, eps=self.eps)
            angle = unit @ unit.transpose(1, 2)  # angle[j, i, k] = e[j,i] . e[j,k]
            distinct = off.unsqueeze(0) & off.unsqueeze(2) & off.unsqueeze(1)
            angle = angle[distinct]
        return dist, angle

    def forward(self, student, teacher, **context):
        check_tensor("rkd", "student", student, range(2, 6), EMBEDDING)
        check_tensor("rkd", "teacher", teacher, range(2, 6), EMBEDDING)
        check_batch("rkd", "student", student, "teacher", teacher, minimum=3 if self.angle_weight > 0 else 2)
        with torch.no_grad():
            dt, at = self._relations(teacher)
        ds, as_ = self._relations(student)
        loss = self.distance_weight * F.smooth_l1_loss(ds, dt, beta=1.0)
        if self.angle_weight > 0:
            loss = loss + self.angle_weight * F.smooth_l1_loss(as_, at, beta=1.0)
        return loss


@register_loss("pkt")
class PKTLoss(DistillLoss):
    r"""Probabilistic knowledge transfer with the cosine-similarity kernel.

    Paper: N. Passalis, A. Tefas, "Learning Deep Representations with Probabilistic
    Knowledge Transfer", ECCV 2018.

    Inputs: student and teacher embeddings (B, Ds) and (B, Dt) (dims may differ;
    higher-rank inputs are flattened). Needs B >= 2.

    Formula, with f_i = x_i / ||x_i||_2::

        K[i,j]   = (f_i . f_j + 1) / 2                  in [0, 1]
        P[j|i]   = K[i,j] / sum_{k != i} K[i,k]         for j != i (rows normalised,
                                                         self-similarity excluded as in the paper)
        L = sum_i sum_{j != i} P_t[j|i] * log((P_t[j|i] + eps) / (P_s[j|i] + eps))

    i.e. KL(P_t || P_s) of each row's conditional distribution, summed over the rows
    (``reduction="sum"``, the paper's form, which grows with B) or averaged over them
    (``reduction="batchmean"``). The popular public code keeps the diagonal and takes
    the mean over all B^2 entries instead.

    Hyper-parameters: ``eps`` = 1e-7, ``reduction`` = "sum".
    """

    input_kind = "embedding"

    def __init__(self, *, student_shape=None, teacher_shape=None, eps: float = 1e-7, reduction: str = "sum"):
        super().__init__(student_shape=student_shape, teacher_shape=teacher_shape)
        self.eps = check_number("pkt: eps", eps, positive=True)
        if reduction not in ("sum", "batchmean"):
            raise InputError(f"pkt: reduction must be 'sum' or 'batchmean', got {reduction!r}")
        self.reduction = reduction

    def _conditional(self, x: torch.Tensor) -> torch.Tensor:
        f = F.normalize(x.flatten(1), p=2, dim=1)
        k = (f @ f.t() + 1.0) / 2.0
        k = k * (1.0 - torch.eye(k.shape[0], dtype=k.dtype, device=k.device))
        return k / k.sum(1, keepdim=True).clamp_min(self.eps)

    def forward(self, student, teacher, **context):
        check_tensor("pkt", "student", student, range(2, 6), EMBEDDING)
        check_tensor("pkt", "teacher", teacher, range(2, 6), EMBEDDING)
        b = check_batch("pkt", "student", student, "teacher", teacher, minimum=2)
        ps, pt = self._conditional(student), self._conditional(teacher)
        kl = (pt * torch.log((pt + self.eps) / (ps + self.eps))).sum()
        return kl if self.reduction == "sum" else kl / b
