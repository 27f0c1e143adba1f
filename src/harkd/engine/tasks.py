"""What the trainer trains: a :class:`Task` turns a batch into named loss terms; :class:`ClassificationTask`
is one model with cross-entropy and the extra terms a method contributes (SAKDN's semantic regression)."""

from __future__ import annotations

from typing import Mapping, Sequence

import torch
from torch import nn

from harkd.engine.mixup import MIX_LAMBDA, mixed_loss
from harkd.errors import InputError

__all__ = ["Task", "ClassificationTask", "model_input"]


def model_input(batch: Mapping, key):
    """``batch[key]``, or ``{modality: batch[modality]}`` for a multi-input model's list of keys."""
    return batch[key] if isinstance(key, str) else {m: batch[m] for m in key}


class Task(nn.Module):
    """Something trainable: ``forward(batch)`` returns a dict of scalar terms with ``"loss"``."""

    def forward(self, batch: Mapping) -> dict[str, torch.Tensor]:  # pragma: no cover - interface
        raise NotImplementedError

    def predict(self, batch: Mapping) -> torch.Tensor:  # pragma: no cover - interface
        """Class logits for a batch (evaluation)."""
        raise NotImplementedError

    def set_progress(self, fraction: float) -> None:
        """Called by the trainer before every epoch with the fraction of the schedule done: 0 at the first
        epoch, 1 at the last (a function of the epoch alone, so a resumed run continues alike)."""


class ClassificationTask(Task):
    """Cross-entropy on one model reading its modality (or modalities) of the batch, plus extra ``terms``.

    A multi-branch model (a non-empty ``branch_names``, e.g. ``gaf_vgg_spamfm``) is trained per branch:
    ``mean_m CE(<b>.logits)``. A term is a module that a method contributes (SAKDN's semantic teacher
    training: :class:`harkd.semantic.ClassEmbeddingTerm`): it has a ``name``, a ``weight``, the ``features``
    it reads from every branch, and ``term(features, prefixes, labels)`` returns a scalar;
    ``loss = CE + sum_k weight_k * term_k``. Terms read one label per sample: a mixed batch is refused."""

    def __init__(self, model: nn.Module, input_key, label_smoothing: float = 0.0, terms: Sequence[nn.Module] = ()):
        super().__init__()
        self.model = model
        self.input_key = input_key
        self.criterion = nn.CrossEntropyLoss(label_smoothing=label_smoothing)
        self.terms = nn.ModuleList(terms)

    def forward(self, batch: Mapping) -> dict[str, torch.Tensor]:
        x = model_input(batch, self.input_key)
        prefixes = [f"{b}." for b in getattr(self.model, "branch_names", ())] or [""]
        if not len(self.terms) and prefixes == [""]:
            return {"loss": mixed_loss(self.criterion, self.model(x), batch)}
        names = [p + "logits" for p in prefixes] + [p + f for term in self.terms for f in term.features for p in prefixes]
        feats = self.model.forward_intermediates(x, list(dict.fromkeys(names)))
        ce = torch.stack([mixed_loss(self.criterion, feats[p + "logits"], batch) for p in prefixes]).mean()
        if not len(self.terms):
            return {"loss": ce}
        if MIX_LAMBDA in batch:
            raise InputError(f"the '{self.terms[0].name}' term needs one label per sample: train.mixup cannot be "
                             "combined with it")
        values = {term.name: term(feats, prefixes, batch["label"]) for term in self.terms}
        total = ce
        for term in self.terms:
            total = total + term.weight * values[term.name]
        return {"loss": total, "ce": ce.detach(), **{name: v.detach() for name, v in values.items()}}

    def predict(self, batch: Mapping) -> torch.Tensor:
        return self.model(model_input(batch, self.input_key))
