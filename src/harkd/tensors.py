"""Tensor helpers with finite gradients, shared by models and losses (bottom floor: imports nothing from harkd)."""

from __future__ import annotations

import torch

__all__ = ["TINY", "safe_norm"]

TINY = 1e-24  # below any squared norm that means something in float32


def safe_norm(x: torch.Tensor, dim: int = -1, keepdim: bool = False) -> torch.Tensor:
    """Euclidean norm with a finite gradient everywhere (0 with gradient 0 at the zero vector)."""
    sq = x.pow(2).sum(dim, keepdim=keepdim)
    return torch.where(sq > TINY, sq.clamp_min(TINY).sqrt(), torch.zeros_like(sq))
