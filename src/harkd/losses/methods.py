"""The three published methods' losses and modules (docs/METHODS.md sections 2-4).

Importing this module registers ``"dask"`` (VSKD), ``"semantic"`` and ``"gsdm"``
(SAKDN) and ``"acs"`` (PSKD) with :func:`harkd.losses.create_loss`; it also re-exports
SAKDN's fusion module :class:`SPAMFM` and the helpers tasks need.

- :mod:`harkd.losses.vskd`: :class:`DASKLoss`;
- :mod:`harkd.losses.sakdn`: :class:`SemanticLoss`, :func:`class_embedding_loss`,
  :func:`ablation_weights`, :func:`activation_map`, :class:`GSDMLoss`;
- :mod:`harkd.losses.spamfm`: :class:`SPAMFM`;
- :mod:`harkd.losses.pskd`: :class:`ACSLoss`, :func:`acs_choose_teacher`.
"""

from harkd.losses.pskd import ACSLoss, acs_choose_teacher
from harkd.losses.sakdn import GSDMLoss, SemanticLoss, ablation_weights, activation_map, class_embedding_loss
from harkd.losses.spamfm import SPAMFM, default_reduction
from harkd.losses.vskd import DASKLoss, dask_angle_potential, dask_distance_potential

__all__ = [
    "ACSLoss", "acs_choose_teacher",
    "GSDMLoss", "SemanticLoss", "ablation_weights", "activation_map", "class_embedding_loss",
    "SPAMFM", "default_reduction",
    "DASKLoss", "dask_angle_potential", "dask_distance_potential",
]
