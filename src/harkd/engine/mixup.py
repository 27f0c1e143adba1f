"""Mixup and CutMix: a batch mixed with a permutation of itself, and losses that weigh both label sets.

The trainer draws one ``lam`` and one permutation per batch (``train.mixup``) and calls :func:`mix_batch`;
a task scores a mixed batch through :func:`mixed_loss`, which reads the entries :func:`mix_batch` adds.
"""

from __future__ import annotations

from typing import Callable, Mapping

import torch
from torch import nn

from harkd.errors import InputError

__all__ = ["MIX_LAMBDA", "MIX_LABEL", "mix_batch", "mixed_loss", "mixed_cross_entropy"]

#: Batch entries a mixed batch carries: the mixing weight of ``label`` and the partner labels.
MIX_LAMBDA, MIX_LABEL = "mix_lambda", "mix_label"


def mix_batch(batch: Mapping, lam: float, perm: torch.Tensor, time_axes: Mapping[str, int | None],
              mode: str = "mixup", start: float = 0.0) -> dict:
    """``batch`` with every modality in ``time_axes`` mixed with ``batch[.][perm]`` by ONE ``lam``.

    ``mixup``: ``lam * x + (1 - lam) * x[perm]``. ``cutmix``: the normalised-time segment
    ``[start, start + 1 - lam)`` of each modality (``time_axes[m]``: its per-sample time axis)
    comes from ``x[perm]``, so every modality swaps the same moment. The labels stay; the mixed
    batch also holds ``mix_lambda`` and ``mix_label`` (``label[perm]``) for the cross-entropy, and
    no ``key``/``index``: a mixed sample is no single recording (no cached teacher output).
    """
    out = dict(batch)
    for name, axis in time_axes.items():
        x = batch.get(name)
        if not torch.is_tensor(x) or not x.is_floating_point():
            continue
        if mode == "mixup":
            out[name] = lam * x + (1 - lam) * x[perm]
            continue
        if axis is None:
            raise InputError(f"cutmix: modality '{name}' has no time axis")
        dim, t = axis + 1, x.shape[axis + 1]
        cut = torch.arange(round(start * t), round((start + 1 - lam) * t), device=x.device)
        out[name] = x.index_copy(dim, cut, x[perm].index_select(dim, cut))
    out[MIX_LAMBDA] = float(lam)
    out[MIX_LABEL] = batch["label"][perm]
    out["key"] = None
    out["index"] = None
    return out


def mixed_loss(criterion: Callable, logits: torch.Tensor, batch: Mapping) -> torch.Tensor:
    """``criterion(logits, label)``; on a mixed batch ``lam * criterion(label) + (1 - lam) * criterion(label[perm])``."""
    loss = criterion(logits, batch["label"])
    lam = batch.get(MIX_LAMBDA)
    return loss if lam is None else lam * loss + (1 - lam) * criterion(logits, batch[MIX_LABEL])


def mixed_cross_entropy(logits: torch.Tensor, batch: Mapping, label_smoothing: float = 0.0) -> torch.Tensor:
    """Cross-entropy with ``label_smoothing`` through :func:`mixed_loss`."""
    return mixed_loss(nn.CrossEntropyLoss(label_smoothing=label_smoothing), logits, batch)
