"""R(2+1)D specifics: clip-level feature volumes, strides where the clip allows, exact argument errors."""

import pytest
import torch

from harkd.errors import InputError
from harkd.models import create_model


def _shapes(model, x):
    with torch.no_grad():
        feats = model.eval().forward_intermediates(x)
    return {k: tuple(v.shape) for k, v in feats.items()}


def test_default_16_frame_clip_feature_volumes_match_feature_info():
    model = create_model("r2plus1d", 27)  # width 16, depths (1, 1, 1, 1), 16 frames, depth (1 channel)
    shapes = _shapes(model, torch.randn(2, 16, 1, 64, 64))
    assert shapes == {"stem": (2, 16, 16, 16, 16), "layer1": (2, 16, 16, 16, 16), "layer2": (2, 32, 8, 8, 8),
                      "layer3": (2, 64, 4, 4, 4), "layer4": (2, 128, 2, 2, 2), "pool": (2, 128), "logits": (2, 27)}
    for info in model.feature_info[:5]:
        _, c, t, h, w = shapes[info["name"]]
        assert (c, 64 // info["reduction"], 16 // info["time_reduction"]) == (info["num_chs"], h, t)


def test_short_clip_keeps_its_time_steps_and_rgb_input():
    model = create_model("r2plus1d", 5, in_chans=3, num_segments=3, width=4, depths=(1, 2, 1), stem="small")
    shapes = _shapes(model, torch.rand(1, 3, 3, 16, 16))
    assert [shapes[f"layer{i}"][2:] for i in (1, 2, 3)] == [(3, 16, 16), (3, 8, 8), (3, 4, 4)]  # 3 < 4: no time stride
    assert [d["time_reduction"] for d in model.feature_info[:4]] == [1, 1, 1, 1]


def test_embedding_and_wrong_channels():
    model = create_model("r2plus1d", 5, num_segments=4, width=4, depths=(1, 1), head=dict(semantic_dim=6))
    assert model.head_hidden_size == 6 and "embedding" in model.feature_names
    with pytest.raises(InputError) as err:
        model(torch.randn(2, 4, 3, 12, 12))
    assert str(err.value) == ("R2Plus1D expects input (B, S, C, H, W) with dim 1 = 4, dim 2 = 1; "
                              "got shape (2, 4, 3, 12, 12)")


@pytest.mark.parametrize("kwargs, message", [
    (dict(temporal_kernel=2), "model 'r2plus1d': temporal_kernel must be odd, got 2"),
    (dict(kernel_size=0), "model 'r2plus1d': kernel_size must be an integer >= 1, got 0"),
    (dict(stem="big"), "model 'r2plus1d': stem must be one of 'imagenet', 'small', got 'big'"),
    (dict(num_segments=0), "model 'r2plus1d': num_segments must be an integer >= 1, got 0"),
    (dict(depths=()), "model 'r2plus1d': depths must be a non-empty sequence of integers, got ()"),
])
def test_bad_arguments_are_exact_input_errors(kwargs, message):
    with pytest.raises(InputError) as err:
        create_model("r2plus1d", 5, **kwargs)
    assert str(err.value) == message


def test_features_are_per_clip_not_per_frame():
    """Distillation losses read ``num_segments`` as 'stage features hold B * S frames'; r2plus1d's are per clip."""
    model = create_model("r2plus1d", 5, num_segments=4, width=4, depths=(1, 1)).eval()
    assert not hasattr(model, "num_segments") and model.clip_length == 4
    with torch.no_grad():
        assert model.forward_intermediates(torch.randn(3, 4, 1, 12, 12), ["layer1"])["layer1"].shape[0] == 3
