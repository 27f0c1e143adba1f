"""TSN / TRN specifics: per-frame feature layout, consensus, relation sampling."""

import pytest
import torch

from harkd.errors import InputError
from harkd.models import create_model

TINY = dict(width=4, depths=(1, 1), stem="small", num_segments=4)


def test_per_frame_stage_layout_is_frame_fastest():
    model = create_model("tsn", 3, **TINY).eval()
    x = torch.randn(2, 4, 1, 10, 10)
    with torch.no_grad():
        feats = model.forward_intermediates(x, ["layer2"])["layer2"]
        single = model.stages["layer2"](model.stages["layer1"](model.stages["stem"](x[1, 2:3])))
    assert feats.shape == (8, 8, 5, 5)
    torch.testing.assert_close(feats[1 * 4 + 2], single[0])


def test_tsn_logits_are_the_average_of_frame_scores_and_embedding_is_averaged():
    model = create_model("tsn", 3, head=dict(semantic_dim=6), **TINY).eval()
    x = torch.randn(2, 4, 1, 10, 10)
    with torch.no_grad():
        out = model.forward_intermediates(x)
        frames = model.head.semantic(model.head._pool(out["layer2"]))
        frame_scores = model.head.fc(frames).view(2, 4, 3)
    torch.testing.assert_close(out["embedding"], frames.view(2, 4, 6).mean(1))
    torch.testing.assert_close(out["logits"], frame_scores.mean(1))


def test_trn_relation_subsets_and_eval_expectation():
    model = create_model("trn", 3, head=dict(semantic_dim=5), relation_dim=7, subsets_per_scale=2, **TINY)
    head = model.head
    assert head.scales == [4, 3, 2] and head.num_subsets == {4: 1, 3: 4, 2: 6}
    assert [g[2].in_features for g in head.fc] == [20, 15, 10]
    x = torch.randn(2, 4, 1, 10, 10)
    model.eval()
    frames = torch.randn(8, 5)
    with torch.no_grad():
        got = head.classify(frames, frames.view(2, 4, 5).mean(1))
        f = frames.view(2, 4, 5)
        expected = head.fc[0](f.reshape(2, 20))
        for g, s in zip(head.fc[1:], (3, 2)):
            subsets = getattr(head, f"subsets{s}")
            expected = expected + 2 * torch.stack([g(f[:, list(sub)].reshape(2, -1)) for sub in subsets]).mean(0)
    torch.testing.assert_close(got, expected)
    model.train()
    torch.manual_seed(0)
    a = model(x)
    torch.manual_seed(0)
    torch.testing.assert_close(model(x), a)  # training-time sampling follows torch's seed


def test_trn_default_bottleneck_and_rgb_input():
    model = create_model("trn", 3, in_chans=3, **TINY)
    assert model.head_hidden_size == 256 and "embedding" in model.feature_names
    assert model.eval()(torch.randn(1, 4, 3, 8, 8)).shape == (1, 3)


def test_wrong_segment_count():
    model = create_model("tsn", 3, **TINY)
    with pytest.raises(InputError, match=r"expects input \(B, S, C, H, W\) with dim 1 = 4, dim 2 = 1"):
        model(torch.randn(2, 3, 1, 10, 10))
