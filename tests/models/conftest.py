"""Tiny configurations and inputs for every registered model (kept fast on 2 shared CPUs)."""

import pytest
import torch

NUM_CLASSES = 5
BATCH = 2

TINY = {
    "gaf_resnet18": (dict(width=4, depths=(1, 1), stem="small"), (3, 12, 12)),
    "gaf_vgg16_bn": (dict(width=2, depths=(1, 1, 1, 1, 1), fc_dim=12, head=dict(semantic_dim=10)), (3, 32, 32)),
    "gaf_vgg_spamfm": (dict(width=2, depths=(1, 1, 1, 1, 1), fc_dim=12, head=dict(semantic_dim=10),
                            branch_names=("acc", "gyro")),
                       (6, 32, 32)),
    "dmm_resnet": (dict(width=4, depths=(1, 1), stem="small"), (12, 12, 12)),
    "imu_cnn1d": (dict(widths=(4, 8), depths=(1, 1)), (3, 24)),
    "stgcn": (dict(widths=(4, 8), strides=(1, 2), kernel_t=3), (3, 8, 20)),
    "r2plus1d": (dict(width=4, depths=(1, 1), num_segments=4), (4, 1, 12, 12)),
    "tsn": (dict(width=4, depths=(1, 1), stem="small", num_segments=3), (3, 1, 12, 12)),
    "trn": (dict(width=4, depths=(1, 1), stem="small", num_segments=3, head=dict(semantic_dim=6),
                 relation_dim=8),
            (3, 1, 12, 12)),
}


def _tiny_model(name, **overrides):
    from harkd.models import create_model

    torch.manual_seed(0)
    kwargs = {**TINY[name][0], **overrides}
    if "head" in overrides:  # a head override updates the tiny config's head
        kwargs["head"] = {**TINY[name][0].get("head", {}), **overrides["head"]}
    return create_model(name, num_classes=kwargs.pop("num_classes", NUM_CLASSES), **kwargs)


def _tiny_input(name, batch=BATCH, seed=1):
    return torch.randn((batch,) + TINY[name][1], generator=torch.Generator().manual_seed(seed))


@pytest.fixture
def tiny_model():
    """``tiny_model(name, **overrides)``: the tiny config of a registered model (seeded)."""
    return _tiny_model


@pytest.fixture
def tiny_input():
    """``tiny_input(name, batch=2, seed=1)``: a random input of the model's tiny shape."""
    return _tiny_input


@pytest.fixture
def tiny_configs():
    return TINY
