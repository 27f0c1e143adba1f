"""Late fusion of single-modality backbones: one model reading several modalities.

PSKD's fused skeleton + accelerometer teacher is ``late_fusion`` over an ``stgcn``
branch and an ``imu_cnn1d`` branch. Each branch is a registered model whose classifier
is dropped; the branches' pooled features are concatenated and classified by one
:class:`~harkd.models.base.ClassifierHead` (optional semantic embedding).

Registered as ``late_fusion`` with the ``modalities`` sample layout: it reads several inputs, and
``branches`` maps each to ``{name: MODEL, args: {...}, head: {...}}``, sized from that input's shape.

Input: a dict ``{modality: tensor}``. Feature names: every branch feature as
``"<modality>.<feature>"`` (stages and ``pool``), then the fused ``pool``, optional
``embedding``, and ``logits``.
"""

from __future__ import annotations

from typing import Dict, Iterable, Mapping, Optional

import torch
from torch import nn

from harkd.errors import ConfigError, InputError, unknown_key_message
from harkd.models.base import ClassifierHead
from harkd.models.registry import create_model, register_model, sample_arguments

__all__ = ["LateFusion", "late_fusion"]


class LateFusion(nn.Module):
    """Concatenate the pooled features of per-modality branches, then one classifier head."""

    def __init__(self, branches: Mapping[str, nn.Module], num_classes: int, *, head: Optional[Mapping] = None):
        super().__init__()
        if len(branches) < 2:
            raise InputError(f"late_fusion needs at least 2 branches, got {len(branches)}")
        self.branches = nn.ModuleDict(dict(branches))
        for branch in self.branches.values():
            branch.head.fc = nn.Identity()  # the fused head classifies; branch classifiers would sit unused
        dim = sum(b.num_features for b in self.branches.values())
        self.head = ClassifierHead(dim, num_classes, **(head or {}))
        self.num_features = dim
        self.num_classes = num_classes
        self.inputs = tuple(self.branches)
        branch_names = [f"{m}.{n}" for m, b in self.branches.items() for n in b.feature_names
                        if n not in ("logits", "embedding", "hidden")]
        head_names = list(self.head.feature_dims()) + ["logits"]
        self.feature_names = tuple(branch_names + head_names)

    def _branch_outputs(self, x: Mapping[str, torch.Tensor], wanted: Iterable[str]) -> Dict[str, Dict[str, torch.Tensor]]:
        missing = [m for m in self.inputs if m not in x]
        if missing:
            raise InputError(f"late_fusion expects inputs {list(self.inputs)}; missing {missing}")
        out = {}
        for m, branch in self.branches.items():
            names = sorted({n.split(".", 1)[1] for n in wanted if n.startswith(m + ".")} | {"pool"},
                           key=list(branch.feature_names).index)
            out[m] = branch.forward_intermediates(x[m], names)
        return out

    def forward_intermediates(self, x: Mapping[str, torch.Tensor], names: Optional[Iterable[str]] = None) -> Dict[str, torch.Tensor]:
        wanted = list(self.feature_names) if names is None else ([names] if isinstance(names, str) else list(names))
        for name in wanted:
            if name not in self.feature_names:
                raise InputError(unknown_key_message("feature of LateFusion", name, self.feature_names))
        branches = self._branch_outputs(x, wanted)
        feats = {f"{m}.{n}": v for m, fs in branches.items() for n, v in fs.items()}
        fused = torch.cat([branches[m]["pool"] for m in self.inputs], dim=1)
        feats.update(self.head.forward_intermediates(fused.unsqueeze(-1)))
        return {n: feats[n] for n in self.feature_names if n in wanted}

    def forward_features(self, x: Mapping[str, torch.Tensor]) -> torch.Tensor:
        """The concatenated pooled branch features (B, sum of branch widths)."""
        branches = self._branch_outputs(x, [])
        return torch.cat([branches[m]["pool"] for m in self.inputs], dim=1)

    def forward_head(self, x: torch.Tensor, pre_logits: bool = False) -> torch.Tensor:
        return self.head(x.unsqueeze(-1), pre_logits=pre_logits)

    def forward(self, x: Mapping[str, torch.Tensor]) -> torch.Tensor:
        return self.forward_head(self.forward_features(x))


#: the keys of one ``branches`` entry of late_fusion
BRANCH_KEYS = ("name", "args", "head")


@register_model("late_fusion", sample_layout="modalities")
def late_fusion(num_classes: int, input_shapes: Mapping[str, tuple], branches: Mapping[str, Mapping],
                head: Optional[Mapping] = None) -> LateFusion:
    """One branch per input modality (``branches``: {modality: {name, args, head}}), each sized from its
    input's shape, fused by :class:`LateFusion` under one head."""
    if not isinstance(branches, Mapping) or set(branches) != set(input_shapes):
        got = sorted(branches) if isinstance(branches, Mapping) else branches
        raise ConfigError(f"config key 'model.args.branches': late_fusion needs one branch per input "
                          f"{list(input_shapes)}, got {got}")
    built = {}
    for modality in input_shapes:
        branch = branches[modality]
        where = f"model.args.branches.{modality}"
        if not isinstance(branch, Mapping):
            raise ConfigError(f"config key '{where}': expected a mapping, got {branch!r}")
        for key in branch:  # the schema's messages (engine.schema sits above this floor)
            if key not in BRANCH_KEYS:
                raise ConfigError(unknown_key_message("config key", str(key), BRANCH_KEYS) + f" in '{where}'")
        if "name" not in branch:
            raise ConfigError(f"missing required config key '{where}.name'")
        size = sample_arguments(branch["name"], input_shapes, modality)
        built[modality] = create_model(branch["name"], num_classes, head=branch.get("head"),
                                       **{**size, **branch.get("args", {})})
    return LateFusion(built, num_classes, head=head)
