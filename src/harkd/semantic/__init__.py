"""The semantic side of cross-modal KD: class-name embeddings and the teacher's semantic target.

One floor above :mod:`harkd.losses` and below :mod:`harkd.engine` (it may import data,
models and losses, never the engine or distill).

- :mod:`harkd.semantic.embeddings`: the C x D class-name matrix (GloVe files, any
  matrix file, the optional sentence model, the seeded orthonormal fallback);
- :mod:`harkd.semantic.losses`: :func:`class_embedding_loss` (SAKDN's teacher
  semantic training) and :class:`ClassEmbeddingTerm`, the term the ``semantic`` section of a train
  config adds to the classification task.
"""

from harkd.semantic.embeddings import (ClassEmbeddings, SentenceModelMissingError, class_embeddings,
                                       load_embedding_matrix, orthonormal_embeddings, read_class_names)
from harkd.semantic.losses import ClassEmbeddingTerm, class_embedding_loss

__all__ = ["ClassEmbeddingTerm", "ClassEmbeddings", "SentenceModelMissingError", "class_embedding_loss", "class_embeddings",
           "load_embedding_matrix", "orthonormal_embeddings", "read_class_names"]
