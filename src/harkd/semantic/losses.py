"""The teacher's semantic training target: each branch's embedding regressed to ``E[y]``
(SAKDN, Liu et al., IEEE TIP 2021: ``L = mean_m CE(z_m, y) + mean_m dist(s_m, E[y])``).

The student-side semantic losses are registered distillation losses (``"semantic"``,
``"gsdm"``: :mod:`harkd.losses.sakdn`), so they sit with the loss registry.
"""

from __future__ import annotations

import torch
from torch import nn

from harkd.errors import InputError
from harkd.checks import check_choice
from harkd.losses.kit import as_tensor_list, check_labels, check_tensor
from harkd.losses.kit import distance as _distance
from harkd.losses.sakdn import DISTANCES

__all__ = ["class_embedding_loss", "ClassEmbeddingTerm"]


def class_embedding_loss(embedding, labels: torch.Tensor, class_embeddings: torch.Tensor,
                         distance: str = "mse") -> torch.Tensor:
    """Teacher semantic training: ``mean_m dist(s_m, E[y])``.

    ``embedding``: one (B, D) tensor or a list of M of them (one per branch);
    ``labels``: (B,) class indices; ``class_embeddings``: (C, D) targets (detached);
    ``distance``: ``"mse"`` (default) or ``"l1"`` (the paper's UTD-MHAD choice).
    """
    check_choice("class_embedding_loss: distance", distance, DISTANCES)
    check_tensor("class_embedding_loss", "class_embeddings", class_embeddings, 2)
    branches = as_tensor_list("class_embedding_loss", "embedding", embedding)
    first = check_tensor("class_embedding_loss", "embedding", branches[0], 2)
    labels = check_labels("class_embedding_loss", labels, first.shape[0], class_embeddings.shape[0])
    target = class_embeddings.detach()[labels]
    losses = []
    for m, s in enumerate(branches):
        check_tensor("class_embedding_loss", f"embedding[{m}]", s, 2)
        if s.shape != target.shape:
            raise InputError(f"class_embedding_loss: embedding shape {tuple(s.shape)} does not match "
                             f"(batch, embedding dim) = {tuple(target.shape)}")
        losses.append(_distance(s, target, distance))
    return torch.stack(losses).mean()


class ClassEmbeddingTerm(nn.Module):
    """The ``semantic`` section's term of a :class:`~harkd.engine.tasks.ClassificationTask`:
    ``weight * mean_m dist(<b>.embedding, E[y])`` over the model's branches (:func:`class_embedding_loss`)."""

    name = "semantic"
    features = ("embedding",)

    def __init__(self, class_embeddings: torch.Tensor, weight: float = 1.0, distance: str = "mse"):
        super().__init__()
        self.weight, self.distance = weight, distance
        self.register_buffer("class_embeddings", class_embeddings, persistent=False)

    def forward(self, features, prefixes, labels: torch.Tensor) -> torch.Tensor:
        return class_embedding_loss([features[p + "embedding"] for p in prefixes], labels, self.class_embeddings,
                                    self.distance)
