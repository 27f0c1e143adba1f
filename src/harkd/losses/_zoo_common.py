"""Shared checks and small building blocks of the baseline losses in :mod:`harkd.losses.zoo`
(their input tensors: :func:`harkd.losses.kit.check_tensor` with the shape in words, and
:func:`harkd.losses.kit.check_batch`).

Every error raised here is an :class:`~harkd.errors.InputError` whose message starts
with the loss's registry name, e.g. ``"kd: student logits (4, 10) and teacher logits
(4, 12) must have the same shape"``.
"""

from __future__ import annotations

from typing import Sequence

import torch
import torch.nn.functional as F
from torch import nn

from harkd.errors import InputError

FEATURE_MAP = "(B, C, H, W) or (B, C, L) feature map"


# ----------------------------------------------------------------------------- shapes (numbers: harkd.checks)
def sample_shape(loss: str, role: str, shape, ranks: Sequence[int], what: str) -> tuple[int, ...]:
    """Validate ``student_shape`` / ``teacher_shape`` (one sample, no batch dim) of a learned loss."""
    if shape is None:
        raise InputError(f"{loss}: {role}_shape is required (the shape of one {role} sample: {what})")
    try:
        dims = tuple(shape)
    except TypeError:
        dims = None
    if (dims is None or not dims or len(dims) not in ranks
            or any(isinstance(d, bool) or not isinstance(d, int) or d < 1 for d in dims)):
        raise InputError(f"{loss}: {role}_shape must be the shape of one {role} sample ({what}), got {shape!r}")
    return dims


def shape_list(loss: str, role: str, shapes) -> list[tuple[int, ...]] | None:
    """``None`` or a list of per-layer sample shapes (a single shape counts as one layer)."""
    if shapes is None:
        return None
    if isinstance(shapes, (list, tuple)) and shapes and all(isinstance(s, (list, tuple, torch.Size)) for s in shapes):
        return [tuple(s) for s in shapes]
    if isinstance(shapes, (list, tuple, torch.Size)) and all(isinstance(d, int) for d in shapes):
        return [tuple(shapes)]
    raise InputError(f"{loss}: {role}_shape must be a list of per-layer sample shapes, got {shapes!r}")


# ----------------------------------------------------------------------------- tensors
# (check_tensor and check_batch: harkd.losses.kit)
def check_channels(loss: str, role: str, x: torch.Tensor, shape: tuple[int, ...]) -> None:
    """The input's rank and channel count (dim 1) must match the declared sample shape."""
    if x.dim() != len(shape) + 1 or x.shape[1] != shape[0]:
        raise InputError(f"{loss}: {role} of shape {tuple(x.shape)} does not match "
                         f"{role}_shape {shape} (expected (B, {shape[0]}, ...) with {len(shape) + 1} dims)")


def as_layer_list(loss: str, role: str, x) -> list:
    """A tensor or a non-empty list/tuple of tensors, as a list."""
    if isinstance(x, torch.Tensor):
        return [x]
    if isinstance(x, (list, tuple)) and x:
        return list(x)
    raise InputError(f"{loss}: {role} must be a tensor or a non-empty list of tensors, got {type(x).__name__}")


def pool_to(x: torch.Tensor, size: tuple[int, ...]) -> torch.Tensor:
    """Adaptive average pooling of the spatial dims of (B, C, *S) to ``size`` (no-op if equal)."""
    if tuple(x.shape[2:]) == tuple(size):
        return x
    if x.dim() == 3:
        return F.adaptive_avg_pool1d(x, size)
    return F.adaptive_avg_pool2d(x, size)


def match_spatial(loss: str, a: torch.Tensor, b: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
    """Pool whichever is larger, per spatial dim, to the smaller size (same rank required)."""
    if a.dim() != b.dim():
        raise InputError(f"{loss}: student and teacher must have the same number of dims, "
                         f"got {tuple(a.shape)} and {tuple(b.shape)}")
    size = tuple(min(p, q) for p, q in zip(a.shape[2:], b.shape[2:]))
    return pool_to(a, size), pool_to(b, size)


# ----------------------------------------------------------------------------- layers
def pointwise(rank: int, cin: int, cout: int, bias: bool = True) -> nn.Module:
    """Channel mixing along dim 1: Linear for (B, D), 1x1 Conv1d / Conv2d for (B, C, L) / (B, C, H, W).

    ``rank`` is the rank of ONE sample (1, 2 or 3)."""
    if rank == 1:
        return nn.Linear(cin, cout, bias=bias)
    if rank == 2:
        return nn.Conv1d(cin, cout, 1, bias=bias)
    return nn.Conv2d(cin, cout, 1, bias=bias)


def conv3(rank: int, cin: int, cout: int) -> nn.Module:
    """A 3-wide (3x3) stride-1 'same' convolution for (B, C, L) (rank 2) or (B, C, H, W) (rank 3)."""
    return nn.Conv1d(cin, cout, 3, padding=1) if rank == 2 else nn.Conv2d(cin, cout, 3, padding=1)


def batch_norm(rank: int, channels: int) -> nn.Module:
    return nn.BatchNorm2d(channels) if rank == 3 else nn.BatchNorm1d(channels)
