"""Piecewise Aggregate Approximation (PAA): mean over near-equal windows.

Window ``n`` (of ``size``) covers ``[edge[n], edge[n + 1])`` with
``edge[n] = floor(n * (length / size))`` computed in float64 and ``edge[size] =
length``.  The windows never overlap, every window holds at least one sample when
``size <= length``, and the split is exactly the one pyts'
``GramianAngularField(image_size=size)`` applies (its default non-overlapping PAA),
so the rounding of ``length / size`` matches too.

PAA is linear, so it is applied as one matmul with a fixed ``(length, size)``
averaging matrix: fast, differentiable, TorchScript- and ONNX-friendly.
"""

from typing import Optional

import torch
from torch import Tensor


def paa_edges(length: int, size: int, device: Optional[torch.device] = None) -> Tensor:
    """Window edges (float64 tensor of ``size + 1`` integral values)."""
    step = float(length) / float(size)
    inner = torch.floor(torch.arange(size, dtype=torch.float64, device=device) * step)
    last = torch.full((1,), float(length), dtype=torch.float64, device=device)
    return torch.cat([inner, last])


def paa_matrix(length: int, size: int, dtype: torch.dtype = torch.float64,
               device: Optional[torch.device] = None) -> Tensor:
    """The ``(length, size)`` averaging matrix ``W``: ``paa(x) == x @ W``."""
    edges = paa_edges(length, size, device)
    t = torch.arange(length, dtype=torch.float64, device=device).unsqueeze(-1)
    inside = (t >= edges[:-1]) & (t < edges[1:])
    return (inside.to(torch.float64) / (edges[1:] - edges[:-1])).to(dtype)


def paa(x: Tensor, size: int) -> Tensor:
    """Reduce a ``(..., T)`` tensor to ``(..., size)`` window means (``size <= T``)."""
    length = x.shape[-1]
    if size == length:
        return x
    return x @ paa_matrix(length, size, x.dtype, x.device)
