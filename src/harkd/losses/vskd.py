"""VSKD (vision-to-sensor KD, ICASSP 2022): the Distance- and Angle-wise Semantic
Knowledge (DASK) loss on the (B, D) semantic embeddings.

Paper: J. Ni, R. Sarbajna, Y. Liu, A. H. H. Ngu, Y. Yan, "Cross-Modal Knowledge Distillation for
Vision-to-Sensor Action Recognition", ICASSP 2022 (the formulas: :class:`DASKLoss`). The full VSKD
objective is
``CE + 0.01 * KD_T4 + DASK``; the CE and KD parts belong to the distillation task,
this module is the DASK part only.
"""

from __future__ import annotations

from typing import Dict

import torch
import torch.nn.functional as F

from harkd.checks import check_number
from harkd.errors import InputError
from harkd.losses.kit import check_batch, check_tensor, safe_norm, safe_unit
from harkd.losses.registry import DistillLoss, register_loss

__all__ = ["DASKLoss", "dask_distance_potential", "dask_angle_potential"]


def dask_distance_potential(z: torch.Tensor) -> torch.Tensor:
    """psi_D (B, B): pairwise distances ``||z_i - z_j||`` divided by ``mu``.

    ``mu`` is the mean of the NON-ZERO pairwise distances of this batch (the diagonal
    and duplicate samples are left out of the mean). When every distance is zero
    (one sample, or identical samples) ``mu`` is taken as 1 and psi_D is all zeros.
    The square root has a finite gradient at zero distance.
    """
    dist = safe_norm(z.unsqueeze(1) - z.unsqueeze(0), dim=-1)
    nonzero = dist > 0
    count = nonzero.sum()
    if int(count) == 0:
        return dist  # all zeros, still attached to the graph
    mu = dist[nonzero].sum() / count
    return dist / mu


def dask_angle_potential(z: torch.Tensor) -> torch.Tensor:
    """psi_A (B, B, B): ``psi[i, j, k] = <unit(z_i - z_j), unit(z_k - z_j)>``.

    The unit vector of a zero difference (i == j, or duplicate samples) is the zero
    vector, so those entries are 0 instead of NaN.
    """
    e = safe_unit(z.unsqueeze(0) - z.unsqueeze(1), dim=-1)  # e[j, i] = unit(z_i - z_j)
    g = torch.bmm(e, e.transpose(1, 2))  # g[j, i, k] = <e[j, i], e[j, k]>
    return g.permute(1, 0, 2)  # -> [i, j, k]


@register_loss("dask")
class DASKLoss(DistillLoss):
    """DASK: ``w_d * L_D + w_a * L_A + w_s * L_S`` on (B, D) semantic embeddings.

    - ``L_D = SmoothL1(psi_D(student), psi_D(teacher))``, mean over the B*B ordered pairs;
    - ``L_A = SmoothL1(psi_A(student), psi_A(teacher))``, mean over the B^3 triplets;
    - ``L_S = MSE(student, teacher)`` (needs equal D; the relational terms do not).

    Argument order: ``loss(student, teacher)``. The teacher is detached here as well
    (a caller that forgets costs nothing), so gradients only reach the student - the
    reference swapped the two and ran under ``no_grad``. Note that SmoothL1 and MSE
    are symmetric, so the *value* does not reveal the order; the gradient does.

    ``forward`` returns the weighted total; the three unweighted terms and the total
    of the last call are kept (detached) in ``last_terms`` for logging, and
    :meth:`terms` returns them as graph-attached tensors.

    Hyper-parameters: ``distance_weight`` w_d = 1.0, ``angle_weight`` w_a = 1.0, ``semantic_weight``
    w_s = 1.0 (the paper's weights) and ``beta`` = 1.0, the SmoothL1 threshold of ``L_D`` and ``L_A``.
    """

    input_kind = "embedding"
    ensemble = True  # on the teachers' averaged class distribution (at T = 1) as the embedding

    def __init__(self, distance_weight: float = 1.0, angle_weight: float = 1.0, semantic_weight: float = 1.0,
                 beta: float = 1.0, **shapes):
        super().__init__(**shapes)
        self.distance_weight = check_number("dask: distance_weight", distance_weight)
        self.angle_weight = check_number("dask: angle_weight", angle_weight)
        self.semantic_weight = check_number("dask: semantic_weight", semantic_weight)
        self.beta = check_number("dask: beta", beta)
        self.last_terms: Dict[str, float] = {}

    def terms(self, student: torch.Tensor, teacher: torch.Tensor) -> Dict[str, torch.Tensor]:
        """``{"distance", "angle", "semantic", "total"}`` as tensors (student side differentiable)."""
        check_tensor("dask", "student", student, 2)
        check_tensor("dask", "teacher", teacher, 2)
        check_batch("dask", "student", student, "teacher", teacher)
        teacher = teacher.detach()
        zero = student.sum() * 0.0
        out: Dict[str, torch.Tensor] = {}
        out["distance"] = F.smooth_l1_loss(dask_distance_potential(student), dask_distance_potential(teacher),
                                           beta=self.beta)
        out["angle"] = F.smooth_l1_loss(dask_angle_potential(student), dask_angle_potential(teacher), beta=self.beta)
        if student.shape[1] != teacher.shape[1]:
            if self.semantic_weight:
                raise InputError(f"dask: the semantic term needs equal embedding sizes, got student D = "
                                 f"{student.shape[1]} and teacher D = {teacher.shape[1]} (set semantic_weight=0)")
            out["semantic"] = zero
        else:
            out["semantic"] = F.mse_loss(student, teacher)
        out["total"] = (self.distance_weight * out["distance"] + self.angle_weight * out["angle"]
                        + self.semantic_weight * out["semantic"])
        return out

    def forward(self, student: torch.Tensor, teacher: torch.Tensor, **context) -> torch.Tensor:
        terms = self.terms(student, teacher)
        self.last_terms = {k: float(v.detach()) for k, v in terms.items()}
        return terms["total"]
