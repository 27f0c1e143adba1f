"""The kit of the method losses (VSKD, SAKDN, PSKD) and of losses other packages contribute
(``harkd.semantic``): tensor checks with one readable :class:`InputError` message (scalar
arguments: :mod:`harkd.checks`), guarded norms/divisions, and the per-sample KD term."""

from __future__ import annotations

from typing import List

import torch
import torch.nn.functional as F

from harkd.errors import InputError
from harkd.tensors import safe_norm

__all__ = ["check_tensor", "check_batch", "check_labels", "as_tensor_list", "safe_norm", "safe_unit", "signed_guard",
           "distance", "kd_per_sample"]


def check_tensor(where: str, name: str, x, ndim=None, what: str | None = None) -> torch.Tensor:
    """``x`` as a floating tensor with ``ndim`` dims (an int, or a tuple or range of allowed ints).

    ``what`` says the expected shape in words (the baseline losses' ``"(B, C) logits"``): the messages then name
    it (``kd: student must be a (B, C) logits, got shape (4,)``) and the rank is checked before the dtype; without
    it they count the dims (``dask: student must have 2 dims, got shape (4, 3, 2)``), the dtype checked first."""
    if not isinstance(x, torch.Tensor):
        shape = "" if what is None else f" ({what})"
        raise InputError(f"{where}: {name} must be a tensor{shape}, got {type(x).__name__}")
    if what is None and not x.is_floating_point():
        raise InputError(f"{where}: {name} must be a floating-point tensor, got {x.dtype}")
    if ndim is not None:
        allowed = (ndim,) if isinstance(ndim, int) else tuple(ndim)
        if x.dim() not in allowed:
            want = f"have {' or '.join(str(n) for n in allowed)} dims" if what is None else f"be a {what}"
            raise InputError(f"{where}: {name} must {want}, got shape {tuple(x.shape)}")
    if what is not None and not x.is_floating_point():
        raise InputError(f"{where}: {name} must be floating point, got {x.dtype}")
    return x


def check_batch(where: str, name_a: str, a: torch.Tensor, name_b: str, b: torch.Tensor, minimum: int = 0) -> int:
    """The batch size ``a`` and ``b`` share (dim 0), at least ``minimum`` (the baseline losses ask for 1 or more)."""
    if a.shape[0] != b.shape[0]:
        raise InputError(f"{where}: {name_a} and {name_b} batch sizes differ ({a.shape[0]} vs {b.shape[0]})")
    if a.shape[0] < minimum:
        raise InputError(f"{where}: needs a batch of at least {minimum} samples, got {a.shape[0]}")
    return a.shape[0]


def check_labels(where: str, labels, batch: int, num_classes: int) -> torch.Tensor:
    if not isinstance(labels, torch.Tensor):
        raise InputError(f"{where}: labels must be a tensor, got {type(labels).__name__}")
    if labels.dim() != 1 or labels.shape[0] != batch:
        raise InputError(f"{where}: labels must have shape ({batch},), got {tuple(labels.shape)}")
    if labels.dtype not in (torch.int64, torch.int32, torch.int16, torch.int8, torch.uint8):
        raise InputError(f"{where}: labels must be an integer tensor, got {labels.dtype}")
    if batch and (int(labels.min()) < 0 or int(labels.max()) >= num_classes):
        raise InputError(f"{where}: labels must lie in [0, {num_classes}), got values in "
                         f"[{int(labels.min())}, {int(labels.max())}]")
    return labels.long()


def as_tensor_list(where: str, name: str, x) -> List[torch.Tensor]:
    """A tensor -> [tensor]; a non-empty list/tuple of tensors -> list."""
    if isinstance(x, torch.Tensor):
        return [x]
    if isinstance(x, (list, tuple)) and x and all(isinstance(t, torch.Tensor) for t in x):
        return list(x)
    raise InputError(f"{where}: {name} must be a tensor or a non-empty list of tensors")


def safe_unit(x: torch.Tensor, dim: int = -1) -> torch.Tensor:
    """``x / ||x||`` along ``dim``; the zero vector maps to the zero vector (no NaN)."""
    n = safe_norm(x, dim, keepdim=True)
    return x / torch.where(n > 0, n, torch.ones_like(n))


def signed_guard(x: torch.Tensor, eps: float) -> torch.Tensor:
    """``x`` pushed away from zero to magnitude >= eps, keeping its sign (0 counts as +)."""
    return torch.where(x >= 0, x.clamp_min(eps), x.clamp_max(-eps))


def distance(a: torch.Tensor, b: torch.Tensor, kind: str) -> torch.Tensor:
    """Mean element-wise MSE or L1 between ``a`` and ``b`` (same shape)."""
    return F.mse_loss(a, b) if kind == "mse" else F.l1_loss(a, b)


def kd_per_sample(student_logits: torch.Tensor, teacher_logits: torch.Tensor, temperature: float) -> torch.Tensor:
    """Hinton's soft term per sample: T^2 * KL(softmax(t/T) || softmax(s/T)), shape (B,)."""
    log_p_s = F.log_softmax(student_logits / temperature, dim=1)
    log_p_t = F.log_softmax(teacher_logits / temperature, dim=1)
    return (log_p_t.exp() * (log_p_t - log_p_s)).sum(1) * temperature ** 2
