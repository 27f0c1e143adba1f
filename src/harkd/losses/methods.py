"""The three published methods' losses (VSKD, SAKDN, PSKD; each module cites its paper).

Importing this module registers ``"dask"`` (VSKD), ``"semantic"`` and ``"gsdm"``
(SAKDN) and ``"acs"`` (PSKD) with :func:`harkd.losses.create_loss`, and re-exports
the helpers tasks need. SAKDN's fusion module is :mod:`harkd.models.spamfm`; its
class-name embeddings and teacher semantic target are :mod:`harkd.semantic`.

- :mod:`harkd.losses.vskd`: :class:`DASKLoss`;
- :mod:`harkd.losses.sakdn`: :class:`SemanticLoss`, :func:`ablation_weights`,
  :func:`activation_map`, :class:`GSDMLoss`;
- :mod:`harkd.losses.pskd`: :class:`ACSLoss`, :func:`acs_choose_teacher`.
"""

from harkd.losses.pskd import ACSLoss, acs_choose_teacher
from harkd.losses.sakdn import GSDMLoss, SemanticLoss, ablation_weights, activation_map
from harkd.losses.vskd import DASKLoss, dask_angle_potential, dask_distance_potential

__all__ = [
    "ACSLoss", "acs_choose_teacher",
    "GSDMLoss", "SemanticLoss", "ablation_weights", "activation_map",
    "DASKLoss", "dask_angle_potential", "dask_distance_potential",
]
