"""SPAMFM: SAKDN's Similarity-Preserving Adaptive Multimodal Fusion Module (Liu et al., IEEE TIP 2021).

One implementation for any number M of teacher branches (the reference hand-wrote
2-, 4- and 6-branch classes, with copy-paste bugs in the 6-branch one). The model that
uses it is ``gaf_vgg_spamfm`` (:mod:`harkd.models.sakdn`).
"""

from __future__ import annotations

from typing import List, Optional, Sequence

import torch
from torch import nn

from harkd.errors import InputError
from harkd.tensors import safe_norm

__all__ = ["SPAMFM", "default_reduction"]

def default_reduction(num_branches: int) -> int:
    """The paper's r: 4 for 2 branches, 8 for 4, 12 for 6; ``max(4, 2 * M)`` in general."""
    return max(4, 2 * num_branches)


def _mlp(in_dim: int, reduction: int, out_dim: int) -> nn.Sequential:
    hidden = max(1, in_dim // reduction)
    return nn.Sequential(nn.Linear(in_dim, hidden), nn.ReLU(inplace=True), nn.Linear(hidden, out_dim))


class SPAMFM(nn.Module):
    """Fuse M branch features ``X_m`` (B, C_m, *spatial) or (B, C_m) into M re-weighted ones.

    Per branch: ``y_m = GAP(X_m)`` (B, C_m); ``G_m = flat(X_m) flat(X_m)^T`` (B, B),
    rows l2-normalised; ``y^_m = G_m y_m``. Then ``z_cat = concat_m y^_m``,
    ``z_add = sum_m p_m(y^_m)``, ``z_mul = prod_m p_m(y^_m)``; the gates
    ``a_m, b_m, c_m = sigmoid(MLP(z))`` with ``MLP = Linear(in, in // r) - ReLU -
    Linear(., C_m)`` (one MLP per gate kind and branch); the output is
    ``X_m * (a_m + b_m + c_m)`` broadcast over the spatial dims, so each channel is
    scaled by a factor in (0, 3).

    Branch widths: when every ``C_m`` is equal, ``p_m`` is the identity (the paper).
    When they differ, the sum and product are undefined, so each ``y^_m`` is first
    projected to a common width (``common_dim``, default ``min(C_m)``) by a learned
    bias-free linear ``p_m``; the concatenation always uses the raw ``y^_m``.

    ``reduction``: r (default :func:`default_reduction`, 4 / 8 / 12 for M = 2 / 4 / 6).

    Batch dependence and evaluation (``eval_fusion``): in training, ``G_m`` mixes the
    batch, so a sample's output depends on the rest of the batch; it is permutation-
    equivariant (permuting the batch permutes the output). Evaluation must not depend
    on batch order or composition, so by default (``"running"``) eval mode uses each
    sample's own self-similarity instead: a 1 x 1 Gram ``[||x||^2]``, whose row
    normalisation is 1, so ``y^ = y`` - rescaled by a per-branch gain
    ``gamma_m = E[||Y^_m||_F / ||Y_m||_F]`` tracked as an exponential running average
    during training (``momentum``, like BatchNorm's running statistics), so the gates
    see inputs of the magnitude they were trained on (the batch fusion scales ``y``
    up by about sqrt(B) for similar samples). Eval output of a sample is then the same
    alone, in any batch and in any order. ``"batch"`` keeps the batch Gram in eval too
    (the reference's behaviour; batch-dependent, permutation-equivariant).
    """

    def __init__(self, channels: Sequence[int], reduction: Optional[int] = None, common_dim: Optional[int] = None,
                 eval_fusion: str = "running", momentum: float = 0.1, eps: float = 1e-12):
        super().__init__()
        if isinstance(channels, (str, bytes)) or not isinstance(channels, Sequence) or not channels:
            raise InputError(f"SPAMFM: channels must be a non-empty list of integers, got {channels!r}")
        for m, c in enumerate(channels):
            if isinstance(c, bool) or not isinstance(c, int) or c < 1:
                raise InputError(f"SPAMFM: channels[{m}] must be an integer >= 1, got {c!r}")
        self.channels = tuple(channels)
        self.num_branches = len(self.channels)
        if reduction is None:
            reduction = default_reduction(self.num_branches)
        if isinstance(reduction, bool) or not isinstance(reduction, int) or reduction < 1:
            raise InputError(f"SPAMFM: reduction must be an integer >= 1, got {reduction!r}")
        if eval_fusion not in ("running", "batch"):
            raise InputError(f"SPAMFM: eval_fusion must be one of 'running', 'batch', got {eval_fusion!r}")
        if isinstance(momentum, bool) or not isinstance(momentum, (int, float)) or not 0.0 < momentum <= 1.0:
            raise InputError(f"SPAMFM: momentum must be a number in (0, 1], got {momentum!r}")
        self.reduction = reduction
        self.eval_fusion = eval_fusion
        self.momentum = float(momentum)
        self.eps = float(eps)
        equal = len(set(self.channels)) == 1
        if common_dim is None:
            common_dim = min(self.channels)
        elif isinstance(common_dim, bool) or not isinstance(common_dim, int) or common_dim < 1:
            raise InputError(f"SPAMFM: common_dim must be an integer >= 1, got {common_dim!r}")
        self.common_dim = self.channels[0] if equal else common_dim
        self.project = None if equal else nn.ModuleList(
            nn.Linear(c, self.common_dim, bias=False) for c in self.channels)
        cat_dim = sum(self.channels)
        self.gate_cat = nn.ModuleList(_mlp(cat_dim, reduction, c) for c in self.channels)
        self.gate_add = nn.ModuleList(_mlp(self.common_dim, reduction, c) for c in self.channels)
        self.gate_mul = nn.ModuleList(_mlp(self.common_dim, reduction, c) for c in self.channels)
        self.register_buffer("running_gain", torch.ones(self.num_branches))
        self.last_gates: Optional[List[torch.Tensor]] = None

    def extra_repr(self) -> str:
        return f"channels={self.channels}, reduction={self.reduction}, eval_fusion={self.eval_fusion!r}"

    def _check(self, xs) -> List[torch.Tensor]:
        if not isinstance(xs, (list, tuple)) or not all(isinstance(x, torch.Tensor) for x in xs):
            raise InputError("SPAMFM: input must be a list of tensors, one per branch")
        if len(xs) != self.num_branches:
            raise InputError(f"SPAMFM: expected {self.num_branches} branch tensors, got {len(xs)}")
        if torch.jit.is_tracing():  # shape checks would be frozen into the trace as constants
            return list(xs)
        batch = xs[0].shape[0] if xs[0].dim() else None
        for m, x in enumerate(xs):
            if x.dim() < 2 or x.shape[1] != self.channels[m]:
                raise InputError(f"SPAMFM: branch {m} must have shape (B, {self.channels[m]}, ...), "
                                 f"got {tuple(x.shape)}")
            if not x.is_floating_point():
                raise InputError(f"SPAMFM: branch {m} must be a floating-point tensor, got {x.dtype}")
            if x.shape[0] != batch:
                raise InputError(f"SPAMFM: branch {m} has batch size {x.shape[0]}, branch 0 has {batch}")
        return list(xs)

    def _batch_fusion(self, x: torch.Tensor, y: torch.Tensor) -> torch.Tensor:
        flat = x.flatten(1)
        gram = flat @ flat.t()
        gram = gram / safe_norm(gram, dim=1, keepdim=True).clamp_min(self.eps)
        return gram @ y

    def forward(self, xs: Sequence[torch.Tensor]) -> List[torch.Tensor]:
        xs = self._check(xs)
        ys = [x.flatten(2).mean(2) if x.dim() > 2 else x for x in xs]
        if self.training or self.eval_fusion == "batch":
            y_hat = [self._batch_fusion(x, y) for x, y in zip(xs, ys)]
            if self.training and self.eval_fusion == "running":
                with torch.no_grad():
                    gain = torch.stack([safe_norm(h.detach().flatten()) / safe_norm(y.detach().flatten()).clamp_min(
                        self.eps) for h, y in zip(y_hat, ys)])
                    self.running_gain.mul_(1.0 - self.momentum).add_(self.momentum * gain.to(self.running_gain))
        else:
            # per-sample self-similarity: the 1 x 1 Gram row-normalises to 1, so y^ = y (times the gain)
            y_hat = [y * self.running_gain[m].to(y.dtype) for m, y in enumerate(ys)]
        z_cat = torch.cat(y_hat, dim=1)
        common = y_hat if self.project is None else [p(h) for p, h in zip(self.project, y_hat)]
        z_add = torch.stack(common).sum(0)
        z_mul = torch.stack(common).prod(0)
        outputs, gates = [], []
        for m, x in enumerate(xs):
            g = (torch.sigmoid(self.gate_cat[m](z_cat)) + torch.sigmoid(self.gate_add[m](z_add))
                 + torch.sigmoid(self.gate_mul[m](z_mul)))
            gates.append(g.detach())
            outputs.append(x * g.view(*g.shape, *([1] * (x.dim() - 2))))
        self.last_gates = gates
        return outputs
