"""ST-GCN (Yan et al., AAAI 2018) for skeleton sequences.

Input layout: ``(B, C, T, V)`` = batch, coordinates (3 for x/y/z), frames, joints (in
the layout's joint order). One body per sample; for multi-person data (NTU) fold the
persons into the batch or select one before calling the model.
"""

from __future__ import annotations

from collections import OrderedDict
from typing import Mapping, Optional, Sequence

import torch
from torch import nn

from harkd.checks import check_int, check_ints
from harkd.errors import InputError
from harkd.models.base import ActionModel, ClassifierHead, init_weights
from harkd.models.graph import get_graph_layout, partition_adjacency
from harkd.models.registry import register_model

__all__ = ["STGCN", "STGCNBlock"]


class STGCNBlock(nn.Module):
    """Spatial graph conv (K partitions, learnable edge importance) -> BN-ReLU -> temporal
    conv (``kernel_t`` x 1, temporal ``stride``) -> BN, + residual, ReLU."""

    def __init__(self, in_chs: int, out_chs: int, adjacency: torch.Tensor, stride: int = 1, kernel_t: int = 9,
                 residual: bool = True, edge_importance: bool = True):
        super().__init__()
        k = adjacency.shape[0]
        self.out_chs = out_chs
        self.register_buffer("adjacency", adjacency.clone())
        self.importance = nn.Parameter(torch.ones_like(adjacency), requires_grad=edge_importance)
        self.gcn = nn.Conv2d(in_chs, out_chs * k, 1)
        self.tcn = nn.Sequential(
            nn.BatchNorm2d(out_chs), nn.ReLU(inplace=True),
            nn.Conv2d(out_chs, out_chs, (kernel_t, 1), (stride, 1), (kernel_t // 2, 0)), nn.BatchNorm2d(out_chs))
        if not residual:
            self.residual = None
        elif in_chs == out_chs and stride == 1:
            self.residual = nn.Identity()
        else:
            self.residual = nn.Sequential(nn.Conv2d(in_chs, out_chs, 1, (stride, 1)), nn.BatchNorm2d(out_chs))
        self.relu = nn.ReLU(inplace=True)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        n, _, t, v = x.shape
        y = self.gcn(x).view(n, -1, self.out_chs, t, v)
        y = torch.einsum("nkctv,kvw->nctw", y, self.adjacency * self.importance)
        y = self.tcn(y)
        if self.residual is not None:
            y = y + self.residual(x)
        return self.relu(y)


class STGCN(ActionModel):
    """ST-GCN classifier (registered as ``stgcn``); stages ``block1..blockN``.

    - ``layout``: a registered layout name (see ``list_graph_layouts()``) or a
      :class:`~harkd.models.graph.GraphLayout`.
    - ``strategy``: ``"uniform"``, ``"distance"`` or ``"spatial"`` partitioning.
    - ``widths`` / ``strides``: per block channels and temporal stride (default: the
      original 10 blocks 64x4, 128x3, 256x3, stride 2 at blocks 5 and 8).
    - Input is normalised per (joint, coordinate) by a BatchNorm ("data BN") first.
    """

    def __init__(self, num_classes: int, in_chans: int = 3, layout="utd_kinect_v1", strategy: str = "spatial",
                 widths: Sequence[int] = (64, 64, 64, 64, 128, 128, 128, 256, 256, 256),
                 strides: Sequence[int] = (1, 1, 1, 1, 2, 1, 1, 2, 1, 1), kernel_t: int = 9,
                 edge_importance: bool = True, head: Optional[Mapping] = None):
        super().__init__()
        self.layout = get_graph_layout(layout)
        self.in_chans = check_int("in_chans", in_chans)
        widths = check_ints("widths", widths)
        strides = check_ints("strides", strides, length=len(widths))
        if check_int("kernel_t", kernel_t) % 2 == 0:
            raise InputError(f"kernel_t must be odd, got {kernel_t}")
        adjacency = torch.from_numpy(partition_adjacency(self.layout, strategy))
        v = self.layout.num_joints
        self.data_bn = nn.BatchNorm1d(in_chans * v)
        stages, info = OrderedDict(), []
        in_chs, reduction = in_chans, 1
        for i, (width, stride) in enumerate(zip(widths, strides)):
            stages[f"block{i + 1}"] = STGCNBlock(in_chs, width, adjacency, stride, kernel_t, residual=i > 0,
                                                 edge_importance=edge_importance)
            reduction *= stride
            info.append({"name": f"block{i + 1}", "num_chs": width, "reduction": reduction})
            in_chs = width
        self.stages = nn.ModuleDict(stages)
        self.head = ClassifierHead(in_chs, num_classes, **(head or {}))
        init_weights(self.stages)
        self._finish(info)

    def prepare(self, x: torch.Tensor) -> torch.Tensor:
        v = self.layout.num_joints
        self._check_input(x, "(B, C, T, V)", {1: self.in_chans, 3: v})
        n, c, t, _ = x.shape
        x = self.data_bn(x.permute(0, 3, 1, 2).reshape(n, v * c, t))
        return x.view(n, v, c, t).permute(0, 2, 3, 1).contiguous()


register_model("stgcn")(STGCN)
