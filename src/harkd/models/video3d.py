"""A compact (2+1)-D CNN over a whole clip (R(2+1)D, Tran et al. 2018), from scratch.

Input ``(B, S, C, H, W)`` like TSN/TRN (S frames, C = 1 depth or 3 RGB), run as one
``(B, C, S, H, W)`` volume. Every convolution is factorised into a ``k x k`` spatial conv
(``1 x k x k``), BN, ReLU, then a ``t x 1 x 1`` temporal conv, BN. Stages: ``stem``
(``imagenet``: spatial reduction 4 by a strided conv and a max-pool; ``small``: none), then
``layer1..layerN`` of residual (2+1)-D blocks, widths ``width * 2**i``, spatial stride 2 per
stage after the first and temporal stride 2 where the clip still has at least 4 time steps.
Features are clip-level volumes ``(B, C', S', H', W')``, not TSN/TRN's per-frame maps, so the
model has no ``num_segments`` attribute (``clip_length`` is S); ``feature_info``'s
``reduction`` is the spatial one, ``time_reduction`` the temporal one. Global average pooling
over time and space feeds the :class:`~harkd.models.base.ClassifierHead` (``semantic_dim``,
``drop_rate`` as elsewhere).
"""

from __future__ import annotations

from collections import OrderedDict
from typing import Mapping, Optional, Sequence

import torch
from torch import nn

from harkd.checks import check_choice, check_int, check_ints
from harkd.errors import InputError
from harkd.models.base import ActionModel, ClassifierHead
from harkd.models.registry import register_model

__all__ = ["R2Plus1D", "SpatioTemporalConv", "Block2Plus1D"]


class SpatioTemporalConv(nn.Sequential):
    """``1 x k x k`` conv (spatial stride), BN, ReLU, ``t x 1 x 1`` conv (temporal stride), BN."""

    def __init__(self, in_chs: int, out_chs: int, kernel_size: int = 3, temporal_kernel: int = 3,
                 stride: int = 1, temporal_stride: int = 1):
        k, t = kernel_size, temporal_kernel
        super().__init__(
            nn.Conv3d(in_chs, out_chs, (1, k, k), (1, stride, stride), (0, k // 2, k // 2), bias=False),
            nn.BatchNorm3d(out_chs), nn.ReLU(inplace=True),
            nn.Conv3d(out_chs, out_chs, (t, 1, 1), (temporal_stride, 1, 1), (t // 2, 0, 0), bias=False),
            nn.BatchNorm3d(out_chs))


class Block2Plus1D(nn.Module):
    """Residual block: (2+1)-D conv, ReLU, (2+1)-D conv + shortcut (1x1x1 conv-BN when the shape changes), ReLU."""

    def __init__(self, in_chs: int, out_chs: int, kernel_size: int, temporal_kernel: int, stride: int = 1,
                 temporal_stride: int = 1):
        super().__init__()
        self.conv1 = SpatioTemporalConv(in_chs, out_chs, kernel_size, temporal_kernel, stride, temporal_stride)
        self.conv2 = SpatioTemporalConv(out_chs, out_chs, kernel_size, temporal_kernel)
        self.relu = nn.ReLU(inplace=True)
        self.shortcut = nn.Identity()
        if stride != 1 or temporal_stride != 1 or in_chs != out_chs:
            self.shortcut = nn.Sequential(
                nn.Conv3d(in_chs, out_chs, 1, (temporal_stride, stride, stride), bias=False), nn.BatchNorm3d(out_chs))

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        out = self.conv2(self.relu(self.conv1(x)))
        return self.relu(out + self.shortcut(x))


def _init(module: nn.Module) -> None:
    """Kaiming-normal 3-D convolutions, unit BN; every residual block starts as identity (zero last BN)."""
    for m in module.modules():
        if isinstance(m, nn.Conv3d):
            nn.init.kaiming_normal_(m.weight, mode="fan_out", nonlinearity="relu")
        elif isinstance(m, nn.BatchNorm3d):
            nn.init.ones_(m.weight)
            nn.init.zeros_(m.bias)
    for m in module.modules():
        if isinstance(m, Block2Plus1D):
            nn.init.zeros_(m.conv2[-1].weight)


def _stem(in_chans: int, width: int, kernel_size: int, temporal_kernel: int, kind: str) -> nn.Sequential:
    """``imagenet``: 1x7x7 conv stride 2, BN, ReLU, 1x3x3 max-pool stride 2, then the temporal conv, BN,
    ReLU (spatial reduction 4, the temporal conv on the pooled map); ``small``: one (2+1)-D conv, stride 1."""
    t = temporal_kernel
    if kind == "small":
        return nn.Sequential(SpatioTemporalConv(in_chans, width, kernel_size, t), nn.ReLU(inplace=True))
    return nn.Sequential(
        nn.Conv3d(in_chans, width, (1, 7, 7), (1, 2, 2), (0, 3, 3), bias=False), nn.BatchNorm3d(width),
        nn.ReLU(inplace=True), nn.MaxPool3d((1, 3, 3), (1, 2, 2), (0, 1, 1)),
        nn.Conv3d(width, width, (t, 1, 1), 1, (t // 2, 0, 0), bias=False), nn.BatchNorm3d(width), nn.ReLU(inplace=True))


class R2Plus1D(ActionModel):
    """Residual (2+1)-D CNN over the clip; see the module docstring."""

    def __init__(self, num_classes: int, in_chans: int = 1, num_segments: int = 16, width: int = 16,
                 depths: Sequence[int] = (1, 1, 1, 1), kernel_size: int = 3, temporal_kernel: int = 3,
                 stem: str = "imagenet", head: Optional[Mapping] = None):
        super().__init__()
        self.in_chans = check_int("in_chans", in_chans)
        # not ``num_segments``: that attribute tells the distillation losses that features hold B * S frames
        self.clip_length = check_int("num_segments", num_segments)
        width = check_int("width", width)
        depths = check_ints("depths", depths)
        for name, k in (("kernel_size", kernel_size), ("temporal_kernel", temporal_kernel)):
            if check_int(name, k) % 2 == 0:
                raise InputError(f"{name} must be odd, got {k}")
        check_choice("stem", stem, ("imagenet", "small"))
        stages = OrderedDict(stem=_stem(in_chans, width, kernel_size, temporal_kernel, stem))
        reduction, time, time_reduction = 4 if stem == "imagenet" else 1, num_segments, 1
        info = [{"name": "stem", "num_chs": width, "reduction": reduction, "time_reduction": 1}]
        in_chs = width
        for i, depth in enumerate(depths):
            out_chs = width * 2 ** i
            stride = 1 if i == 0 else 2
            temporal_stride = 2 if i > 0 and time >= 4 else 1
            time = -(-time // temporal_stride)  # padded conv: ceil
            reduction, time_reduction = reduction * stride, time_reduction * temporal_stride
            stages[f"layer{i + 1}"] = nn.Sequential(*[
                Block2Plus1D(in_chs if j == 0 else out_chs, out_chs, kernel_size, temporal_kernel,
                             stride if j == 0 else 1, temporal_stride if j == 0 else 1) for j in range(depth)])
            info.append({"name": f"layer{i + 1}", "num_chs": out_chs, "reduction": reduction,
                         "time_reduction": time_reduction})
            in_chs = out_chs
        self.stages = nn.ModuleDict(stages)
        self.head = ClassifierHead(in_chs, num_classes, **(head or {}))
        _init(self.stages)
        self._finish(info)

    def prepare(self, x: torch.Tensor) -> torch.Tensor:
        self._check_input(x, "(B, S, C, H, W)", {1: self.clip_length, 2: self.in_chans})
        return x.transpose(1, 2)  # (B, C, S, H, W): Conv3d's (N, C, D, H, W)


@register_model("r2plus1d", sample_layout="segments")
def r2plus1d(num_classes: int, in_chans: int = 1, num_segments: int = 16, width: int = 16,
             depths: Sequence[int] = (1, 1, 1, 1), kernel_size: int = 3, temporal_kernel: int = 3,
             stem: str = "imagenet", head: Optional[Mapping] = None) -> R2Plus1D:
    """Compact R(2+1)D, input (B, S, C, H, W): (2+1)-D stem and residual stages (widths
    ``width * 2**i``, ``depths`` blocks each), global average pool, [embedding], classifier."""
    return R2Plus1D(num_classes, in_chans, num_segments, width, depths, kernel_size, temporal_kernel, stem, head)
