"""Backbone registry for cross-modal action recognition.

``create_model(name, num_classes, in_chans=None, head=None, **options)`` builds any model in
``list_models()``; every model is an :class:`ActionModel` with the timm-style API
(``forward_features``, ``forward_head(x, pre_logits)``, ``forward_intermediates``,
``feature_names``, ``feature_info``, ``num_features``, ``reset_classifier``) and one
:class:`ClassifierHead` set by a head spec (``head={"semantic_dim": 300}`` adds the semantic
embedding layer, feature ``"embedding"``) over the model's declared default.

Models: ``gaf_resnet18``, ``gaf_vgg16_bn`` (GAF images), ``gaf_vgg_spamfm`` (SAKDN's
SPAMFM-fused multi-branch GAF teacher), ``imu_cnn1d`` (raw IMU),
``stgcn`` (skeletons; layouts via :func:`register_graph_layout`), ``tsn``, ``trn``,
``r2plus1d`` (video: depth or RGB clips), ``late_fusion`` (several modalities, one branch each).
"""

from harkd.models.base import ActionModel, ClassifierHead
from harkd.models.graph import (GraphLayout, get_graph_layout, list_graph_layouts, partition_adjacency,
                                register_graph_layout)
from harkd.models.registry import create_model, list_models, register_model  # built-ins load on first lookup

__all__ = ["ActionModel", "ClassifierHead", "GraphLayout", "create_model", "get_graph_layout", "list_graph_layouts",
           "list_models", "partition_adjacency", "register_graph_layout", "register_model"]
