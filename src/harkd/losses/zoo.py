"""The baseline distillation-loss zoo, registered by name (each class's docstring cites its paper and formula).

Importing this module registers every baseline with :func:`harkd.losses.register_loss`
(the registry imports it on first use):

============  ==============  ==================================================  =============
name          input_kind      paper                                               learned parts
============  ==============  ==================================================  =============
``kd``        logits          Hinton, Vinyals, Dean, NIPS-W 2015                  -
``fitnet``    feature_map     Romero et al., ICLR 2015                            1x1 regressor
``at``        feature_maps    Zagoruyko & Komodakis, ICLR 2017                    -
``sp``        feature_map     Tung & Mori, ICCV 2019                              -
``cc``        embedding       Peng et al., ICCV 2019                              -
``rkd``       embedding       Park et al., CVPR 2019                              -
``pkt``       embedding       Passalis & Tefas, ECCV 2018                         -
``vid``       feature_map     Ahn et al., CVPR 2019                               regressor, variances
``nst``       feature_map     Huang & Wang, arXiv 2017                            -
``fsp``       feature_maps    Yim et al., CVPR 2017                               -
``ft``        feature_map     Kim, Park, Kwak, NeurIPS 2018                       paraphraser, translator
``ab``        feature_map     Heo et al., AAAI 2019                               connector
``crd``       embedding       Tian, Krishnan, Isola, ICLR 2020                    heads, memory banks
============  ==============  ==================================================  =============

Each class's docstring gives the exact formula, normalisation, defaults and inputs.
"""

from harkd.losses.zoo_crd import CRDLoss
from harkd.losses.zoo_feature import ABLoss, ATLoss, FitNetLoss, FSPLoss, FTLoss, NSTLoss, VIDLoss
from harkd.losses.zoo_relation import CCLoss, KDLoss, PKTLoss, RKDLoss, SPLoss

ZOO_LOSSES = ("kd", "fitnet", "at", "sp", "cc", "rkd", "pkt", "vid", "nst", "fsp", "ft", "ab", "crd")

__all__ = ["ZOO_LOSSES", "KDLoss", "FitNetLoss", "ATLoss", "SPLoss", "CCLoss", "RKDLoss", "PKTLoss",
           "VIDLoss", "NSTLoss", "FSPLoss", "FTLoss", "ABLoss", "CRDLoss"]
