"""The timm-style contract shared by every harkd model.

A model is a sequence of named *stages* (``self.stages``, an ``nn.ModuleDict``) applied
in order to the prepared input, followed by a :class:`ClassifierHead`. One loop
(:meth:`ActionModel._run`) serves ``forward_features`` and ``forward_intermediates``,
so intermediate features come from the same single pass as the logits, without hooks.
Models support ``torch.jit.trace`` and ``torch.export`` (dynamic batch); ``torch.jit.script``
is not supported (input checks and the dict-returning loop are plain Python).

Feature names, in order: the stage names, then the head's ``"pool"`` (globally pooled
stage output), ``"hidden"`` (optional FC layer, VGG's FC6), ``"embedding"`` (optional
semantic layer) and ``"logits"``.
"""

from __future__ import annotations

from typing import Dict, Iterable, List, Optional

import torch
from torch import nn

from harkd.checks import check_choice, check_int, check_rate
from harkd.errors import InputError, unknown_key_message

__all__ = ["ActionModel", "ClassifierHead", "HEAD_OPTIONS", "init_weights"]


def init_weights(module: nn.Module) -> None:
    """Kaiming-normal convolutions, unit BatchNorm, small-normal linears, zero biases.

    Models apply it to their stages; heads initialise their own layers (PyTorch
    defaults, classifier ~ N(0, 0.01))."""
    for m in module.modules():
        if isinstance(m, (nn.Conv1d, nn.Conv2d)):
            nn.init.kaiming_normal_(m.weight, mode="fan_out", nonlinearity="relu")
            if m.bias is not None:
                nn.init.zeros_(m.bias)
        elif isinstance(m, (nn.BatchNorm1d, nn.BatchNorm2d)):
            nn.init.ones_(m.weight)
            nn.init.zeros_(m.bias)
        elif isinstance(m, nn.Linear):
            nn.init.normal_(m.weight, std=0.01)
            if m.bias is not None:
                nn.init.zeros_(m.bias)


# ----------------------------------------------------------------------------- head
def _fc_block(in_dim: int, out_dim: int, bn: bool, act: bool) -> nn.Sequential:
    layers: List[nn.Module] = [nn.Linear(in_dim, out_dim)]
    if bn:
        layers.append(nn.BatchNorm1d(out_dim))
    if act:
        layers.append(nn.ReLU(inplace=True))
    return nn.Sequential(*layers)


#: The options of a head spec: what a model's ``head`` argument (``model.head`` in a config) may set
HEAD_OPTIONS = ("semantic_dim", "semantic_act", "semantic_bn", "drop_rate")


class ClassifierHead(nn.Module):
    """Pool -> [hidden FC-BN-ReLU] -> [semantic embedding] -> dropout -> classifier.

    - ``pool_size`` 1: global average over all dims after the channel dim (works for
      (N, C, L), (N, C, H, W) and (N, C, T, V)); > 1: adaptive 2D average pooling to
      ``pool_size x pool_size``, flattened (VGG's classic 7 x 7).
    - ``semantic_dim``: Linear(-> D) [+ BN] [+ ReLU]; its output is ``"embedding"``.
      ``semantic_act="none"`` leaves it linear (to regress signed word vectors).
    - ``num_segments`` > 1: the input holds ``B * S`` frames (frame index fastest);
      pool/hidden/embedding are computed per frame and averaged over the S segments
      (the consensus), then classified. Every exposed head feature is clip-level (B, .).
    """

    def __init__(self, in_features: int, num_classes: int, *, pool_size: int = 1,
                 hidden_dim: Optional[int] = None, semantic_dim: Optional[int] = None,
                 semantic_act: str = "relu", semantic_bn: bool = False,
                 drop_rate: float = 0.0, num_segments: int = 1):
        super().__init__()
        self.num_classes = check_int("num_classes", num_classes)
        self.pool_size = check_int("pool_size", pool_size)
        self.num_segments = num_segments
        check_choice("semantic_act", semantic_act, ("relu", "none"))
        self.num_features = in_features * pool_size * pool_size
        dim = self.num_features
        self.hidden = None if hidden_dim is None else _fc_block(dim, check_int("hidden_dim", hidden_dim), True, True)
        dim = hidden_dim or dim
        self.semantic = None
        if semantic_dim is not None:
            check_int("semantic_dim", semantic_dim)
            self.semantic = _fc_block(dim, semantic_dim, bool(semantic_bn), semantic_act == "relu")
            dim = semantic_dim
        self.pre_logits_dim = dim
        self.drop = nn.Dropout(check_rate("drop_rate", drop_rate))
        self.fc = self._make_classifier(num_classes)

    def feature_dims(self) -> Dict[str, int]:
        dims = {"pool": self.num_features}
        if self.hidden is not None:
            dims["hidden"] = self.hidden[0].out_features
        if self.semantic is not None:
            dims["embedding"] = self.pre_logits_dim
        return dims

    def _make_classifier(self, num_classes: int) -> nn.Module:
        fc = nn.Linear(self.pre_logits_dim, num_classes)
        nn.init.normal_(fc.weight, std=0.01)
        nn.init.zeros_(fc.bias)
        return fc

    def reset_classifier(self, num_classes: int) -> None:
        self.num_classes = check_int("num_classes", num_classes)
        self.fc = self._make_classifier(num_classes)

    def _pool(self, x: torch.Tensor) -> torch.Tensor:
        if self.pool_size == 1:
            return x.mean(dim=tuple(range(2, x.dim())))
        return nn.functional.adaptive_avg_pool2d(x, self.pool_size).flatten(1)

    def _consensus(self, x: torch.Tensor) -> torch.Tensor:
        if self.num_segments == 1:
            return x
        return x.reshape(-1, self.num_segments, x.shape[-1]).mean(1)

    def classify(self, frames: torch.Tensor, clip: torch.Tensor) -> torch.Tensor:
        """Logits from per-frame (B*S, D) and clip-level (B, D) pre-logits vectors."""
        return self.fc(self.drop(clip))

    def forward_intermediates(self, x: torch.Tensor, with_logits: bool = True) -> Dict[str, torch.Tensor]:
        feats: Dict[str, torch.Tensor] = {}
        x = self._pool(x)
        feats["pool"] = self._consensus(x)
        if self.hidden is not None:
            x = self.hidden(x)
            feats["hidden"] = self._consensus(x)
        if self.semantic is not None:
            x = self.semantic(x)
            feats["embedding"] = self._consensus(x)
        clip = self._consensus(x)
        feats["pre_logits"] = clip
        if with_logits:
            feats["logits"] = self.classify(x, clip)
        return feats

    def forward(self, x: torch.Tensor, pre_logits: bool = False) -> torch.Tensor:
        feats = self.forward_intermediates(x, with_logits=not pre_logits)
        return feats["pre_logits"] if pre_logits else feats["logits"]


# ----------------------------------------------------------------------------- model
class ActionModel(nn.Module):
    """Base class: named stages + :class:`ClassifierHead`, timm-style API.

    Subclasses build ``self.stages`` (ordered ``nn.ModuleDict``), ``self.head`` and call
    :meth:`_finish` with each stage's ``feature_info`` entry; they may override
    :meth:`prepare` to validate/reshape the input.
    """

    stages: nn.ModuleDict
    head: ClassifierHead

    def _finish(self, stage_info: List[dict]) -> None:
        self._stage_info = stage_info
        self._refresh_info()

    def _refresh_info(self) -> None:
        head_dims = self.head.feature_dims()
        self.num_features = self.head.num_features
        self.head_hidden_size = self.head.pre_logits_dim
        self.num_classes = self.head.num_classes
        self.feature_info = [dict(d) for d in self._stage_info] + [
            {"name": k, "num_chs": v} for k, v in head_dims.items()] + [{"name": "logits", "num_chs": self.num_classes}]
        self.feature_names = tuple(d["name"] for d in self.feature_info)

    # -- input
    def prepare(self, x: torch.Tensor) -> torch.Tensor:
        """Validate (and reshape) the raw input before the first stage."""
        return x

    def _check_input(self, x: torch.Tensor, layout: str, dims: Dict[int, int]) -> None:
        """InputError unless ``x`` has ``len(layout.split(','))`` dims and ``x.shape[i] == n``.

        Skipped under ``torch.jit.trace`` (the trace would freeze the check as constants)."""
        if torch.jit.is_tracing():
            return
        ndim = len(layout.split(","))
        if x.dim() != ndim or any(x.shape[i] != n for i, n in dims.items()):
            raise InputError(f"{type(self).__name__} expects input {layout} with "
                             + ", ".join(f"dim {i} = {n}" for i, n in dims.items())
                             + f"; got shape {tuple(x.shape)}")
        if not x.is_floating_point():
            raise InputError(f"{type(self).__name__} expects a floating-point input, got {x.dtype}")

    # -- timm-style API
    def _forward_stages(self, x: torch.Tensor, wanted: List[str], out: Dict[str, torch.Tensor]) -> torch.Tensor:
        """Apply the stages in order, storing the ``wanted`` ones in ``out``; returns the last output."""
        for name, stage in self.stages.items():
            x = stage(x)
            if name in wanted:
                out[name] = x
        return x

    def _run(self, x: torch.Tensor, wanted: List[str], with_head: bool) -> Dict[str, torch.Tensor]:
        """The single forward loop; collects ``wanted`` features, key ``"_x"`` = last stage output."""
        out: Dict[str, torch.Tensor] = {}
        x = self._forward_stages(self.prepare(x), wanted, out)
        if with_head:
            for name, value in self.head.forward_intermediates(x).items():
                if name in wanted:
                    out[name] = value
        out["_x"] = x
        return out

    def forward_features(self, x: torch.Tensor) -> torch.Tensor:
        """Output of the last stage, before pooling."""
        return self._run(x, [], False)["_x"]

    def forward_head(self, x: torch.Tensor, pre_logits: bool = False) -> torch.Tensor:
        """Pool + [hidden] + [embedding] + classifier; ``pre_logits`` returns the vector before the classifier."""
        return self.head(x, pre_logits=pre_logits)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.forward_head(self.forward_features(x))

    def forward_intermediates(self, x: torch.Tensor, names: Optional[Iterable[str]] = None) -> Dict[str, torch.Tensor]:
        """The requested named features (all of ``feature_names`` when ``names`` is None) from one pass.

        Keys follow ``feature_names`` order. The head runs only when a head feature
        (pool/hidden/embedding/logits) is requested.
        """
        if names is None:
            wanted = list(self.feature_names)
        else:
            wanted = [names] if isinstance(names, str) else list(names)
            for name in wanted:
                if name not in self.feature_names:
                    raise InputError(unknown_key_message(f"feature of {type(self).__name__}", name, self.feature_names))
        stage_names = {d["name"] for d in self._stage_info}
        out = self._run(x, wanted, any(n not in stage_names for n in wanted))
        return {n: out[n] for n in self.feature_names if n in wanted}

    def reset_classifier(self, num_classes: int) -> None:
        """Replace the classifier with a freshly initialised one for ``num_classes`` classes."""
        self.head.reset_classifier(num_classes)
        self._refresh_info()

    def get_classifier(self) -> nn.Module:
        return self.head.fc
