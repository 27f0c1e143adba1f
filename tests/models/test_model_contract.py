"""The timm-style contract, checked on every registered model that reads one input with a tiny config (a model
that reads several modalities, late_fusion, takes a dict: tests/models/test_model_registry.py)."""

import pytest
import torch

from harkd.errors import InputError
from harkd.models import ActionModel, list_models
from harkd.models.registry import model_facts

MODELS = [name for name in list_models() if model_facts(name)[0] != "modalities"]
HEAD_NAMES = ("pool", "hidden", "embedding", "logits")


def test_every_model_has_a_tiny_config(tiny_configs):
    assert sorted(tiny_configs) == MODELS


@pytest.mark.parametrize("name", MODELS)
def test_train_step_output_and_gradients(name, tiny_model, tiny_input):
    model = tiny_model(name, head=dict(drop_rate=0.1)).train()
    assert isinstance(model, ActionModel)
    out = model(tiny_input(name))
    assert out.shape == (2, 5) and torch.isfinite(out).all()
    torch.nn.functional.cross_entropy(out, torch.tensor([0, 3])).backward()
    for pname, p in model.named_parameters():
        if p.requires_grad:
            assert p.grad is not None and torch.isfinite(p.grad).all(), pname
    assert model.get_classifier() is model.head.fc
    assert any(p.grad.abs().sum() > 0 for p in model.head.fc.parameters())


@pytest.mark.parametrize("name", MODELS)
def test_features_head_and_intermediates_agree(name, tiny_model, tiny_input):
    model = tiny_model(name).eval()
    x = tiny_input(name)
    with torch.no_grad():
        logits = model(x)
        feats = model.forward_features(x)
        assert torch.equal(model.forward_head(feats), logits)
        pre = model.forward_head(feats, pre_logits=True)
        assert pre.shape == (2, model.head_hidden_size)
        inter = model.forward_intermediates(x)
    assert tuple(inter) == model.feature_names
    assert model.feature_names[-1] == "logits"
    assert [d["name"] for d in model.feature_info] == list(model.feature_names)
    for info in model.feature_info:
        assert inter[info["name"]].shape[1] == info["num_chs"], info
    assert torch.equal(inter["logits"], logits)
    assert torch.equal(inter[model.feature_names[-2]], pre)
    # head features may be per-branch ("acc.logits" in gaf_vgg_spamfm); the last stage is forward_features
    last_stage = [n for n in model.feature_names if n.rsplit(".", 1)[-1] not in HEAD_NAMES][-1]
    assert torch.equal(inter[last_stage], feats)
    assert inter["pool"].shape == (2, model.num_features)
    assert model.num_classes == 5


@pytest.mark.parametrize("name", MODELS)
def test_forward_intermediates_subset_and_unknown_name(name, tiny_model, tiny_input):
    model = tiny_model(name).eval()
    first = model.feature_names[0]
    with torch.no_grad():
        out = model.forward_intermediates(tiny_input(name), names=["logits", first])
    assert list(out) == [first, "logits"]
    with pytest.raises(InputError, match="unknown feature of .* 'logit'; did you mean 'logits'"):
        model.forward_intermediates(tiny_input(name), names=["logit"])


@pytest.mark.parametrize("name", MODELS)
def test_semantic_embedding_head(name, tiny_model, tiny_input):
    model = tiny_model(name, head=dict(semantic_dim=7, semantic_bn=True, semantic_act="relu")).eval()
    assert "embedding" in model.feature_names and model.head_hidden_size == 7
    with torch.no_grad():
        inter = model.forward_intermediates(tiny_input(name), names=["embedding", "logits"])
        pre = model.forward_head(model.forward_features(tiny_input(name)), pre_logits=True)
    assert inter["embedding"].shape == (2, 7)
    assert torch.equal(inter["embedding"], pre)
    assert (inter["embedding"] >= 0).all()  # Linear + BN + ReLU


@pytest.mark.parametrize("name", MODELS)
def test_reset_classifier(name, tiny_model, tiny_input):
    model = tiny_model(name)
    model.reset_classifier(3)
    assert model.num_classes == 3 and model.feature_info[-1] == {"name": "logits", "num_chs": 3}
    assert model.eval()(tiny_input(name)).shape == (2, 3)


@pytest.mark.parametrize("name", MODELS)
def test_eval_is_deterministic_and_batch_independent(name, tiny_model, tiny_input):
    model = tiny_model(name).eval()
    x = tiny_input(name, batch=3)
    with torch.no_grad():
        a, b = model(x), model(x)
        single = model(x[1:2])
    assert torch.equal(a, b)
    torch.testing.assert_close(single, a[1:2], rtol=1e-5, atol=1e-5)


@pytest.mark.parametrize("name", MODELS)
def test_wrong_input_shape_is_a_clear_error(name, tiny_model, tiny_input):
    model = tiny_model(name)
    x = tiny_input(name)
    with pytest.raises(InputError, match=r"expects input \(B, "):
        model(torch.cat([x, x], dim=1))
    with pytest.raises(InputError, match="floating-point"):
        model(x.long())


@pytest.mark.parametrize("name", MODELS)
@pytest.mark.filterwarnings("ignore:`torch.jit.trace:DeprecationWarning")
def test_torchscript_trace(name, tiny_model, tiny_input):
    model = tiny_model(name).eval()
    with torch.no_grad():
        traced = torch.jit.trace(model, tiny_input(name), check_trace=False)
        x = tiny_input(name, batch=3, seed=2)
        torch.testing.assert_close(traced(x), model(x), rtol=1e-5, atol=1e-5)


@pytest.mark.parametrize("name", MODELS)
def test_torch_export_with_dynamic_batch(name, tiny_model, tiny_input):
    model = tiny_model(name).eval()
    batch = torch.export.Dim("batch", min=1, max=64)
    program = torch.export.export(model, (tiny_input(name),), dynamic_shapes=({0: batch},))
    x = tiny_input(name, batch=5, seed=3)
    with torch.no_grad():
        torch.testing.assert_close(program.module()(x), model(x), rtol=1e-5, atol=1e-5)
