"""SAKDN's semantic sensor teacher: M GAF-image VGG branches fused by SPAMFM (Liu et al., IEEE TIP 2021).

Registered as ``gaf_vgg_spamfm``. The input (B, C, H, W) is split along channels into M
branch images (e.g. 6 GAF channels -> accelerometer [0:3] and gyroscope [3:6]; six
3-axis accelerometers -> 18 channels, M = 6). With ``stacked_images=k`` the input is k
image kinds stacked block-wise (``gaf: {method: both}`` gives every channel's GASF, then
every channel's GADF: k = 2) and each branch reads its channels from every block (acc
GASF + acc GADF). Each branch is a VGG (``block1..block5``
as in ``gaf_vgg16_bn``) ending FC6 (-> ``fc_dim``, BN, ReLU), FC7 (the ``semantic_dim``
semantic layer) and FC8 (-> C); a :class:`~harkd.models.spamfm.SPAMFM` re-weights the
M branches after every block and after FC6 and FC7. The model's logits are the mean of
the branch logits.

Feature names (branch names default to ``b0, b1, ...``): ``<b>.block1`` ...
``<b>.block5`` (fused maps, block-major), ``features`` (the fused block5 maps
concatenated, = ``forward_features``), ``pool`` (pooled, concatenated),
``<b>.hidden`` (fused FC6), ``<b>.embedding`` (fused FC7, the ``s_m`` that SAKDN
regresses to class-name embeddings and distils), ``<b>.logits`` (FC8),
``embedding`` (mean of the fused FC7s, = ``forward_head(pre_logits=True)``) and
``logits``. ``branch_names`` lists the prefixes; tasks use it to read every branch.

Evaluation is batch-independent: SPAMFM's default ``eval_fusion="running"`` replaces
the batch Gram by each sample's own (see :class:`~harkd.models.spamfm.SPAMFM`), so a
sample's eval output is the same alone, in any batch and in any order. Training
output depends on the batch (the paper's fusion).
"""

from __future__ import annotations

from typing import Dict, List, Mapping, Optional, Sequence, Union

import torch
from torch import nn

from harkd.errors import InputError
from harkd.checks import check_choice, check_int, check_ints, check_rate
from harkd.models.base import ActionModel, _fc_block, init_weights
from harkd.models.spamfm import SPAMFM
from harkd.models.registry import register_model
from harkd.models.vgg import vgg_stages

__all__ = ["FusedHead", "SPAMFMVGG"]


def _classifiers(dim: int, num_classes: int, count: int) -> nn.ModuleList:
    fcs = nn.ModuleList(nn.Linear(dim, num_classes) for _ in range(count))
    for fc in fcs:
        nn.init.normal_(fc.weight, std=0.01)
        nn.init.zeros_(fc.bias)
    return fcs


class FusedHead(nn.Module):
    """Per branch: global pool -> FC6 (Linear-BN-ReLU) -> SPAMFM -> FC7 -> SPAMFM -> dropout -> FC8.

    Input: the M branches' block5 maps concatenated along channels (``split`` gives
    each branch's width). ``fc`` is the ``ModuleList`` of the M FC8 classifiers;
    logits = their mean; pre-logits = the mean of the fused FC7 vectors.
    """

    def __init__(self, branch_names: Sequence[str], split: Sequence[int], num_classes: int, *, fc_dim: int,
                 fusion: dict, semantic_dim: int, semantic_act: str = "none", semantic_bn: bool = False,
                 drop_rate: float = 0.0):
        super().__init__()
        self.branch_names, self.split = tuple(branch_names), tuple(split)
        self.num_classes = check_int("num_classes", num_classes)
        check_int("fc_dim", fc_dim)
        check_int("semantic_dim", semantic_dim)
        check_choice("semantic_act", semantic_act, ("relu", "none"))
        m = len(self.split)
        self.num_features = sum(self.split)
        self.hidden = nn.ModuleList(_fc_block(c, fc_dim, True, True) for c in self.split)
        self.fuse_hidden = SPAMFM([fc_dim] * m, **fusion)
        self.semantic = nn.ModuleList(_fc_block(fc_dim, semantic_dim, bool(semantic_bn), semantic_act == "relu")
                                      for _ in range(m))
        self.fuse_semantic = SPAMFM([semantic_dim] * m, **fusion)
        self.fc_dim, self.pre_logits_dim = fc_dim, semantic_dim
        self.drop = nn.Dropout(check_rate("drop_rate", drop_rate))
        self.fc = _classifiers(semantic_dim, self.num_classes, m)

    def feature_dims(self) -> Dict[str, int]:
        dims = {"pool": self.num_features}
        for kind, dim in (("hidden", self.fc_dim), ("embedding", self.pre_logits_dim), ("logits", self.num_classes)):
            dims.update({f"{b}.{kind}": dim for b in self.branch_names})
        dims["embedding"] = self.pre_logits_dim
        return dims

    def reset_classifier(self, num_classes: int) -> None:
        self.num_classes = check_int("num_classes", num_classes)
        self.fc = _classifiers(self.pre_logits_dim, num_classes, len(self.split))

    def forward_intermediates(self, x: torch.Tensor, with_logits: bool = True) -> Dict[str, torch.Tensor]:
        pooled = [t.flatten(2).mean(-1) for t in torch.split(x, self.split, dim=1)]
        feats: Dict[str, torch.Tensor] = {"pool": torch.cat(pooled, 1)}
        hidden = self.fuse_hidden([fc6(p) for fc6, p in zip(self.hidden, pooled)])
        semantic = self.fuse_semantic([fc7(h) for fc7, h in zip(self.semantic, hidden)])
        for b, h, s in zip(self.branch_names, hidden, semantic):
            feats[f"{b}.hidden"], feats[f"{b}.embedding"] = h, s
        feats["embedding"] = feats["pre_logits"] = torch.stack(semantic).mean(0)
        if with_logits:
            logits = [fc8(self.drop(s)) for fc8, s in zip(self.fc, semantic)]
            feats.update({f"{b}.logits": z for b, z in zip(self.branch_names, logits)})
            feats["logits"] = torch.stack(logits).mean(0)
        return feats

    def forward(self, x: torch.Tensor, pre_logits: bool = False) -> torch.Tensor:
        feats = self.forward_intermediates(x, with_logits=not pre_logits)
        return feats["pre_logits"] if pre_logits else feats["logits"]


class SPAMFMVGG(ActionModel):
    """M VGG branches over channel groups of one GAF image, SPAMFM-fused (see the module docstring).

    ``branches``: M (``in_chans`` split evenly) or the list of per-branch channel counts;
    ``branch_names``: feature prefixes (default ``b0, b1, ...``); ``width``/``depths``:
    each branch's VGG plan (VGG-16-BN: 64, (2, 2, 3, 3, 3)); ``reduction``/``eval_fusion``:
    SPAMFM's (r default 4 / 8 / 12 for M = 2 / 4 / 6; ``"running"`` = batch-independent eval);
    ``stacked_images``: image kinds stacked block-wise along channels (2 for GASF + GADF),
    ``branches`` then splits one block and every branch reads its slice of each block.
    """

    def __init__(self, num_classes: int, in_chans: int = 6, branches: Union[int, Sequence[int]] = 2,
                 branch_names: Optional[Sequence[str]] = None, width: int = 64,
                 depths: Sequence[int] = (2, 2, 3, 3, 3), fc_dim: int = 300, head: Optional[Mapping] = None,
                 reduction: Optional[int] = None, eval_fusion: str = "running", stacked_images: int = 1):
        super().__init__()
        self.in_chans = check_int("in_chans", in_chans)
        self.stacked_images = check_int("stacked_images", stacked_images)
        if in_chans % stacked_images:
            raise InputError(f"stacked_images: {in_chans} input channels do not split into {stacked_images} "
                             "equal image blocks")
        self.block_split = _branch_channels(branches, in_chans // stacked_images)
        split = tuple(c * stacked_images for c in self.block_split)
        names = tuple(branch_names) if branch_names is not None else tuple(f"b{m}" for m in range(len(split)))
        if len(names) != len(split) or len(set(names)) != len(names) or not all(
                isinstance(n, str) and n and "." not in n for n in names):
            raise InputError(f"branch_names must be {len(split)} distinct names without dots, got {branch_names!r}")
        self.branch_names, self.branch_channels = names, split
        fusion = dict(reduction=reduction, eval_fusion=eval_fusion)
        branch_stages = {b: vgg_stages(c, width, depths) for b, c in zip(names, split)}
        info = branch_stages[names[0]][1]
        self.stages = nn.ModuleDict({b: nn.ModuleDict(stages) for b, (stages, _) in branch_stages.items()})
        self.fusion = nn.ModuleDict({d["name"]: SPAMFM([d["num_chs"]] * len(names), **fusion) for d in info})
        stage_info = [{**d, "name": f"{b}.{d['name']}"} for d in info for b in names]
        last = info[-1]
        stage_info.append({"name": "features", "num_chs": last["num_chs"] * len(names),
                           "reduction": last["reduction"]})
        self.head = FusedHead(names, [last["num_chs"]] * len(names), num_classes, fc_dim=fc_dim, fusion=fusion,
                              **(head or {}))
        init_weights(self.stages)
        self._finish(stage_info)

    def prepare(self, x: torch.Tensor) -> torch.Tensor:
        self._check_input(x, "(B, C, H, W)", {1: self.in_chans})
        return x

    def _forward_stages(self, x: torch.Tensor, wanted: List[str], out: Dict[str, torch.Tensor]) -> torch.Tensor:
        # (B, k * C, H, W) -> per branch (B, k * C_m, H, W): its slice of every image block (k = 1: a plain split)
        blocks = x.reshape(x.shape[0], self.stacked_images, -1, *x.shape[2:])
        xs = [t.flatten(1, 2) for t in torch.split(blocks, self.block_split, dim=2)]
        for block, fuse in self.fusion.items():
            xs = fuse([self.stages[b][block](t) for b, t in zip(self.branch_names, xs)])
            out.update({f"{b}.{block}": t for b, t in zip(self.branch_names, xs) if f"{b}.{block}" in wanted})
        x = torch.cat(xs, 1)
        if "features" in wanted:
            out["features"] = x
        return x


def _branch_channels(branches, in_chans: int) -> tuple[int, ...]:
    """Per-branch channel counts of ``in_chans`` channels (``branches``: M equal parts or the counts)."""
    if isinstance(branches, int) and not isinstance(branches, bool):
        m = check_int("branches", branches, minimum=2)
        if in_chans % m:
            raise InputError(f"branches: {in_chans} input channels do not split into {m} equal branches; "
                             "give the list of per-branch channel counts")
        return (in_chans // m,) * m
    split = check_ints("branches", branches)
    if len(split) < 2 or sum(split) != in_chans:
        raise InputError(f"branches must list >= 2 channel counts summing to in_chans = {in_chans}, got {list(split)}")
    return split


register_model("gaf_vgg_spamfm", head={"semantic_dim": 300, "semantic_act": "none"})(SPAMFMVGG)
