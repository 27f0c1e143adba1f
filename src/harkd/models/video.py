"""Segment-based video models (depth now, RGB later): TSN and multi-scale TRN.

Input ``(B, S, C, H, W)``: S frames sampled one per segment (``num_segments``), C = 1
(depth) or 3 (RGB). A ResNet (:func:`~harkd.models.resnet.resnet_stages`) runs on every
frame; its stages ``stem, layer1..layerN`` are exposed **per frame**, shaped
``(B * S, C', H', W')`` with the frame index fastest (row ``b * S + s``); use
``.view(B, S, ...)`` to split them. Head features (``pool``, ``embedding``) are
per-frame vectors averaged over the S segments, so ``embedding`` is the clip-level
semantic vector VSKD/SAKDN use (the teacher's per-frame 300-d embedding averaged over
segments).
"""

from __future__ import annotations

from itertools import combinations
from typing import Mapping, Optional, Sequence

import torch
from torch import nn

from harkd.checks import check_int, check_ints
from harkd.models.base import ActionModel, ClassifierHead, init_weights
from harkd.models.registry import register_model
from harkd.models.resnet import resnet_stages, zero_init_residuals

__all__ = ["VideoModel", "RelationHead"]


class RelationHead(ClassifierHead):
    """Multi-scale temporal relation classifier (MTRN, Zhou et al. 2018).

    For each scale s = S..2, ordered s-frame subsets of the per-frame vectors are
    concatenated and fed to an MLP g_s (ReLU, Dropout, Linear -> ``relation_dim``, ReLU,
    Linear -> classes); the logits are summed over subsets and scales. Training draws
    ``subsets_per_scale`` random subsets per scale (scale S has one); evaluation is
    deterministic: it uses all subsets (at most ``max_eval_subsets``, evenly spaced),
    averaged and scaled by ``subsets_per_scale`` to match the training sum's expectation.
    ``pre_logits`` is the segment-averaged per-frame vector (logits are not a linear
    function of it).
    """

    max_eval_subsets = 64

    def __init__(self, in_features: int, num_classes: int, *, num_segments: int, subsets_per_scale: int = 3,
                 relation_dim: int = 256, **kwargs):
        # plain attributes read by _make_classifier, called from ClassifierHead.__init__
        self.subsets_per_scale = check_int("subsets_per_scale", subsets_per_scale)
        self.relation_dim = check_int("relation_dim", relation_dim)
        self.scales = list(range(num_segments, 1, -1))
        super().__init__(in_features, num_classes, num_segments=num_segments, **kwargs)
        self.num_subsets = {}
        for s in self.scales:
            subsets = torch.tensor(list(combinations(range(num_segments), s)), dtype=torch.long)
            self.register_buffer(f"subsets{s}", subsets, persistent=False)
            n = self.num_subsets[s] = len(subsets)
            eval_idx = torch.linspace(0, n - 1, min(n, self.max_eval_subsets)).round().long()
            self.register_buffer(f"eval_idx{s}", eval_idx, persistent=False)

    def _make_classifier(self, num_classes: int) -> nn.Module:
        d, drop = self.pre_logits_dim, self.drop.p
        return nn.ModuleList([
            nn.Sequential(nn.ReLU(), nn.Dropout(drop), nn.Linear(s * d, self.relation_dim), nn.ReLU(inplace=True),
                          nn.Linear(self.relation_dim, num_classes)) for s in self.scales])

    def classify(self, frames: torch.Tensor, clip: torch.Tensor) -> torch.Tensor:
        x = frames.reshape(-1, self.num_segments, frames.shape[-1])
        b = x.shape[0]
        logits = torch.zeros(b, self.num_classes, dtype=x.dtype, device=x.device)
        for s, g in zip(self.scales, self.fc):
            subsets, n, k = getattr(self, f"subsets{s}"), self.num_subsets[s], self.subsets_per_scale
            if self.training:
                if n > k:
                    subsets = subsets[torch.randperm(n, device=subsets.device)[:k]]
                scale = 1.0
            else:
                subsets = subsets[getattr(self, f"eval_idx{s}")]
                scale = min(n, k) / min(n, self.max_eval_subsets)
            rel = x[:, subsets].reshape(b, -1, s * x.shape[-1])
            logits = logits + g(rel).sum(1) * scale
        return logits


class VideoModel(ActionModel):
    """Per-frame ResNet + segment consensus (``tsn``) or multi-scale relation head (``trn``)."""

    def __init__(self, num_classes: int, in_chans: int = 1, num_segments: int = 8, width: int = 64,
                 depths: Sequence[int] = (2, 2, 2, 2), stem: str = "imagenet", head: Optional[Mapping] = None,
                 relation: dict | None = None):
        super().__init__()
        self.in_chans = check_int("in_chans", in_chans)
        self.num_segments = check_int("num_segments", num_segments, minimum=2 if relation is not None else 1)
        width = check_int("width", width)
        depths = check_ints("depths", depths)
        stages, info = resnet_stages(in_chans, [width * 2 ** i for i in range(len(depths))], depths, stem=stem)
        self.stages = nn.ModuleDict(stages)
        kwargs = dict(head or {}, num_segments=num_segments)
        if relation is None:
            self.head = ClassifierHead(info[-1]["num_chs"], num_classes, **kwargs)
        else:
            self.head = RelationHead(info[-1]["num_chs"], num_classes, **relation, **kwargs)
        init_weights(self.stages)
        zero_init_residuals(self.stages)
        self._finish(info)

    def prepare(self, x: torch.Tensor) -> torch.Tensor:
        self._check_input(x, "(B, S, C, H, W)", {1: self.num_segments, 2: self.in_chans})
        return x.flatten(0, 1)


@register_model("tsn", sample_layout="segments")
def tsn(num_classes: int, in_chans: int = 1, num_segments: int = 8, width: int = 64,
        depths: Sequence[int] = (2, 2, 2, 2), stem: str = "imagenet", head: Optional[Mapping] = None) -> VideoModel:
    """TSN, input (B, S, C, H, W): per-frame ResNet (widths ``width * 2**i``), per-frame
    [embedding], average consensus over segments, linear classifier (== averaging the
    per-frame scores). See the module docstring for the feature layout."""
    return VideoModel(num_classes, in_chans, num_segments, width, depths, stem, head)


@register_model("trn", sample_layout="segments", head={"semantic_dim": 256})
def trn(num_classes: int, in_chans: int = 1, num_segments: int = 8, width: int = 64,
        depths: Sequence[int] = (2, 2, 2, 2), stem: str = "imagenet", head: Optional[Mapping] = None,
        subsets_per_scale: int = 3, relation_dim: int = 256) -> VideoModel:
    """Multi-scale TRN, input (B, S, C, H, W): the TSN backbone/embedding with a
    :class:`RelationHead` classifier. The head's ``semantic_dim`` is TRN's per-frame bottleneck
    (256 as in TRN; 300 for VSKD's teacher; None feeds the pooled frame features)."""
    return VideoModel(num_classes, in_chans, num_segments, width, depths, stem, head,
                      relation=dict(subsets_per_scale=subsets_per_scale, relation_dim=relation_dim))
