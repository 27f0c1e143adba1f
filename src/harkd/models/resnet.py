"""ResNet with BasicBlocks, in 2D (GAF images, video frames) or 1D (raw IMU series).

One implementation serves ``gaf_resnet18``, ``imu_cnn1d`` and the per-frame backbone
of the video models (:func:`resnet_stages`).
"""

from __future__ import annotations

from collections import OrderedDict
from typing import List, Mapping, Optional, Sequence, Tuple

import torch
from torch import nn

from harkd.checks import check_choice, check_int, check_ints
from harkd.errors import InputError
from harkd.models.base import ActionModel, ClassifierHead, init_weights
from harkd.models.registry import register_model

__all__ = ["BasicBlock", "ResNet", "resnet_stages", "zero_init_residuals"]

_CONV = {1: nn.Conv1d, 2: nn.Conv2d}
_BN = {1: nn.BatchNorm1d, 2: nn.BatchNorm2d}


class BasicBlock(nn.Module):
    """conv-BN-ReLU-conv-BN + shortcut (1x1 conv-BN when shape changes), ReLU; ``dims`` 1 or 2."""

    def __init__(self, in_chs: int, out_chs: int, stride: int = 1, dims: int = 2, kernel_size: int = 3):
        super().__init__()
        conv, bn, pad = _CONV[dims], _BN[dims], kernel_size // 2
        self.conv1 = conv(in_chs, out_chs, kernel_size, stride, pad, bias=False)
        self.bn1 = bn(out_chs)
        self.conv2 = conv(out_chs, out_chs, kernel_size, 1, pad, bias=False)
        self.bn2 = bn(out_chs)
        self.relu = nn.ReLU(inplace=True)
        self.shortcut = nn.Identity()
        if stride != 1 or in_chs != out_chs:
            self.shortcut = nn.Sequential(conv(in_chs, out_chs, 1, stride, bias=False), bn(out_chs))

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        out = self.relu(self.bn1(self.conv1(x)))
        out = self.bn2(self.conv2(out))
        return self.relu(out + self.shortcut(x))


def resnet_stages(in_chans: int, widths: Sequence[int], depths: Sequence[int], *, dims: int = 2,
                  stem: str = "imagenet", kernel_size: int = 3) -> Tuple["OrderedDict[str, nn.Module]", List[dict]]:
    """Stages ``stem, layer1..layerN`` and their feature_info.

    ``stem``: ``"imagenet"`` (7-wide conv stride 2 + max-pool stride 2, reduction 4) or
    ``"small"`` (3-wide conv stride 1, no pool; for small GAF images / raw series).
    ``layer1`` keeps the resolution, each later layer halves it.
    """
    check_int("in_chans", in_chans)
    widths = check_ints("widths", widths)
    depths = check_ints("depths", depths, length=len(widths))
    check_choice("stem", stem, ("imagenet", "small"))
    if check_int("kernel_size", kernel_size) % 2 == 0:
        raise InputError(f"kernel_size must be odd, got {kernel_size}")
    conv, bn = _CONV[dims], _BN[dims]
    if stem == "imagenet":
        pool = nn.MaxPool1d(3, 2, 1) if dims == 1 else nn.MaxPool2d(3, 2, 1)
        stem_mod = nn.Sequential(conv(in_chans, widths[0], 7, 2, 3, bias=False), bn(widths[0]), nn.ReLU(inplace=True),
                                 pool)
        reduction = 4
    else:
        stem_mod = nn.Sequential(conv(in_chans, widths[0], 3, 1, 1, bias=False), bn(widths[0]), nn.ReLU(inplace=True))
        reduction = 1
    stages = OrderedDict(stem=stem_mod)
    info = [{"name": "stem", "num_chs": widths[0], "reduction": reduction}]
    in_chs = widths[0]
    for i, (width, depth) in enumerate(zip(widths, depths)):
        stride = 1 if i == 0 else 2
        reduction *= stride
        blocks = [BasicBlock(in_chs if j == 0 else width, width, stride if j == 0 else 1, dims, kernel_size)
                  for j in range(depth)]
        stages[f"layer{i + 1}"] = nn.Sequential(*blocks)
        info.append({"name": f"layer{i + 1}", "num_chs": width, "reduction": reduction})
        in_chs = width
    return stages, info


def zero_init_residuals(module: nn.Module) -> None:
    """Start every residual block as identity (zero gamma on its last BN)."""
    for m in module.modules():
        if isinstance(m, BasicBlock):
            nn.init.zeros_(m.bn2.weight)


class ResNet(ActionModel):
    """BasicBlock ResNet classifier; input (B, C, H, W) for ``dims=2``, (B, C, T) for ``dims=1``."""

    def __init__(self, num_classes: int, in_chans: int, widths: Sequence[int], depths: Sequence[int], *,
                 dims: int = 2, stem: str = "imagenet", kernel_size: int = 3, head: Optional[Mapping] = None):
        super().__init__()
        self.in_chans, self.dims = in_chans, dims
        stages, info = resnet_stages(in_chans, widths, depths, dims=dims, stem=stem, kernel_size=kernel_size)
        self.stages = nn.ModuleDict(stages)
        self.head = ClassifierHead(info[-1]["num_chs"], num_classes, **(head or {}))
        init_weights(self.stages)
        zero_init_residuals(self.stages)
        self._finish(info)

    def prepare(self, x: torch.Tensor) -> torch.Tensor:
        self._check_input(x, "(B, C, H, W)" if self.dims == 2 else "(B, C, T)", {1: self.in_chans})
        return x


@register_model("gaf_resnet18")
def gaf_resnet18(num_classes: int, in_chans: int = 3, width: int = 64, depths: Sequence[int] = (2, 2, 2, 2),
                 stem: str = "imagenet", head: Optional[Mapping] = None) -> ResNet:
    """ResNet-18 on GAF images (B, C, H, W): C = 3 (acc x/y/z) or 6 (acc + gyro).

    Stage widths ``width * 2**i`` for ``len(depths)`` stages; ``stem="small"`` for
    small images (3x3 stride 1, no max-pool). VSKD's student: ``head={"semantic_dim": 300}``.
    """
    width = check_int("width", width)
    depths = check_ints("depths", depths)
    return ResNet(num_classes, in_chans, [width * 2 ** i for i in range(len(depths))], depths, dims=2, stem=stem,
                  head=head)


@register_model("dmm_resnet", head={"drop_rate": 0.3})
def dmm_resnet(num_classes: int, in_chans: int = 12, width: int = 32, depths: Sequence[int] = (1, 1, 1, 1),
               stem: str = "imagenet", head: Optional[Mapping] = None) -> ResNet:
    """Multi-view depth motion map CNN (B, C, H, W): the views and temporal segments of
    ``data.modalities.depth.dmm`` stacked as channels (C = views x segments, 12 for front/side/top
    over the whole clip and its thirds), a compact ResNet (widths ``width * 2**i``) trained from scratch."""
    return gaf_resnet18(num_classes, in_chans, width, depths, stem, head)


@register_model("imu_cnn1d")
def imu_cnn1d(num_classes: int, in_chans: int = 3, widths: Sequence[int] = (64, 128, 256),
              depths: Sequence[int] = (1, 1, 1), kernel_size: int = 5, stem: str = "small",
              head: Optional[Mapping] = None) -> ResNet:
    """Residual 1D CNN on raw IMU series (B, C, T): C = 3 (acc) or 6 (acc + gyro).

    Conv1d stem, then residual stages of ``kernel_size``-wide convolutions, each stage
    after the first halving T; global average pooling over time (any T works).
    """
    return ResNet(num_classes, in_chans, widths, depths, dims=1, stem=stem, kernel_size=kernel_size, head=head)
