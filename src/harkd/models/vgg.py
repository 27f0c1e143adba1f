"""VGG-16-BN-style GAF-image CNN: SAKDN's semantic sensor-teacher branch."""

from __future__ import annotations

from collections import OrderedDict
from typing import List, Mapping, Optional, Sequence

import torch
from torch import nn

from harkd.checks import check_int, check_ints
from harkd.models.base import ActionModel, ClassifierHead, init_weights
from harkd.models.registry import register_model

__all__ = ["VGG", "vgg_stages"]


def vgg_stages(in_chans: int, width: int, depths: Sequence[int]) -> tuple["OrderedDict[str, nn.Module]", List[dict]]:
    """VGG conv blocks ``block1..block5``: ``depths[i]`` conv3x3-BN-ReLU then 2x2 max-pool,
    widths ``min(width * 2**i, 8 * width)``; returns (stages, feature_info entries)."""
    width = check_int("width", width)
    depths = check_ints("depths", depths, length=5)
    stages: "OrderedDict[str, nn.Module]" = OrderedDict()
    info: List[dict] = []
    in_chs = in_chans
    for i, depth in enumerate(depths):
        out = min(width * 2 ** i, 8 * width)
        layers: List[nn.Module] = []
        for j in range(depth):
            layers += [nn.Conv2d(in_chs if j == 0 else out, out, 3, padding=1, bias=False),
                       nn.BatchNorm2d(out), nn.ReLU(inplace=True)]
        layers.append(nn.MaxPool2d(2, 2))
        stages[f"block{i + 1}"] = nn.Sequential(*layers)
        info.append({"name": f"block{i + 1}", "num_chs": out, "reduction": 2 ** (i + 1)})
        in_chs = out
    return stages, info


class VGG(ActionModel):
    """VGG-16-BN on GAF images (registered as ``gaf_vgg16_bn``; ``width=64`` is VGG-16's plan).

    Five conv blocks ``block1..block5`` (``depths[i]`` conv3x3-BN-ReLU, then 2x2 max-pool;
    widths ``min(width * 2**i, 8 * width)``), then the head:
    pool -> FC6 (``"hidden"``: Linear -> ``fc_dim``, BN, ReLU) -> FC7 (``"embedding"``:
    ``fc_dim`` -> ``semantic_dim``) -> FC8 (``"logits"``).

    ``pool_size=1`` (default) global-average-pools block5 (input size free, small FC6);
    ``pool_size=7`` is classic VGG's 7x7 flatten (a large FC6). FC7 is linear by
    by default (head ``semantic_act="none"``) because SAKDN regresses it to signed word vectors.
    Input (B, C, H, W) with H, W >= 32.
    """

    def __init__(self, num_classes: int, in_chans: int = 3, width: int = 64, depths: Sequence[int] = (2, 2, 3, 3, 3),
                 fc_dim: int = 300, pool_size: int = 1, head: Optional[Mapping] = None):
        super().__init__()
        self.in_chans = check_int("in_chans", in_chans)
        stages, info = vgg_stages(in_chans, width, depths)
        in_chs = info[-1]["num_chs"]
        self.stages = nn.ModuleDict(stages)
        self.head = ClassifierHead(in_chs, num_classes, pool_size=pool_size, hidden_dim=fc_dim, **(head or {}))
        init_weights(self.stages)
        self._finish(info)

    def prepare(self, x: torch.Tensor) -> torch.Tensor:
        self._check_input(x, "(B, C, H, W)", {1: self.in_chans})
        return x


register_model("gaf_vgg16_bn", head={"semantic_dim": 300, "semantic_act": "none"})(VGG)
