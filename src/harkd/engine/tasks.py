"""What the trainer trains: a :class:`Task` turns a batch into named loss terms; :class:`ClassificationTask`
is one model with cross-entropy (and SAKDN's semantic regression when the run has class-name embeddings)."""

from __future__ import annotations

from typing import Mapping

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


class ClassificationTask(Task):
    """Cross-entropy on one model reading its modality (or modalities) of the batch.

    With ``class_embeddings`` (C x D), the model's ``embedding`` feature is also regressed
    to the label's class-name embedding (SAKDN's semantic teacher training):
    ``loss = CE + semantic_weight * dist(embedding, E[y])``. A multi-branch model (a
    non-empty ``branch_names``, e.g. ``gaf_vgg_spamfm``) is trained per branch:
    ``mean_m CE(<b>.logits) + semantic_weight * mean_m dist(<b>.embedding, E[y])``."""

    def __init__(self, model: nn.Module, input_key, label_smoothing: float = 0.0,
                 class_embeddings: torch.Tensor | None = None, semantic_weight: float = 1.0,
                 semantic_distance: str = "mse"):
        super().__init__()
        self.model = model
        self.input_key = input_key
        self.criterion = nn.CrossEntropyLoss(label_smoothing=label_smoothing)
        self.semantic_weight, self.semantic_distance = semantic_weight, semantic_distance
        self.register_buffer("class_embeddings", class_embeddings, persistent=False)

    def forward(self, batch: Mapping) -> dict[str, torch.Tensor]:
        x = model_input(batch, self.input_key)
        prefixes = [f"{b}." for b in getattr(self.model, "branch_names", ())] or [""]
        if self.class_embeddings is None and prefixes == [""]:
            return {"loss": mixed_loss(self.criterion, self.model(x), batch)}
        names = [p + "logits" for p in prefixes]
        if self.class_embeddings is not None:
            names += [p + "embedding" for p in prefixes]
        feats = self.model.forward_intermediates(x, names)
        ce = torch.stack([mixed_loss(self.criterion, feats[p + "logits"], batch) for p in prefixes]).mean()
        if self.class_embeddings is None:
            return {"loss": ce}
        from harkd.semantic import class_embedding_loss

        if MIX_LAMBDA in batch:
            raise InputError("the class-name embedding loss ('semantic') needs one label per sample: "
                             "train.mixup cannot be combined with a 'semantic' section")

        semantic = class_embedding_loss([feats[p + "embedding"] for p in prefixes], batch["label"],
                                        self.class_embeddings, self.semantic_distance)
        return {"loss": ce + self.semantic_weight * semantic, "ce": ce.detach(), "semantic": semantic.detach()}

    def predict(self, batch: Mapping) -> torch.Tensor:
        return self.model(model_input(batch, self.input_key))
