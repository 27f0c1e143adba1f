"""gaf_vgg_spamfm (SAKDN's fused sensor teacher): any M, branch features, batch-independent eval."""

import pytest
import torch

from harkd.engine.trainer import ClassificationTask
from harkd.errors import InputError
from harkd.semantic import ClassEmbeddingTerm, class_embedding_loss
from harkd.models import create_model

TINY = dict(width=2, depths=(1, 1, 1, 1, 1), fc_dim=8, head=dict(semantic_dim=6))


def _model(m, chans=2, **kw):
    torch.manual_seed(0)
    return create_model("gaf_vgg_spamfm", num_classes=5, in_chans=m * chans, branches=m, **{**TINY, **kw})


@pytest.mark.parametrize("m", [2, 4, 6])
def test_branches_features_and_logits(m):
    model = _model(m).eval()
    names = [f"b{i}" for i in range(m)]
    assert model.branch_names == tuple(names)
    assert [n for n in model.feature_names if n.endswith(".block1")] == [f"{b}.block1" for b in names]
    assert model.fusion["block1"].num_branches == m and model.fusion["block1"].reduction == max(4, 2 * m)
    with torch.no_grad():
        feats = model.forward_intermediates(torch.randn(3, 2 * m, 32, 32))
    assert feats["features"].shape == (3, 16 * m, 1, 1)
    for b in names:
        assert feats[f"{b}.block2"].shape == (3, 4, 8, 8) and feats[f"{b}.embedding"].shape == (3, 6)
    torch.testing.assert_close(feats["logits"], torch.stack([feats[f"{b}.logits"] for b in names]).mean(0))
    torch.testing.assert_close(feats["embedding"], torch.stack([feats[f"{b}.embedding"] for b in names]).mean(0))


@pytest.mark.parametrize("m", [2, 4, 6])
def test_eval_does_not_depend_on_batch_order_or_company(m):
    """SPAMFM's batch Gram is replaced by each sample's own in eval: permuting the batch permutes the outputs."""
    model = _model(m)
    x = torch.randn(6, 2 * m, 32, 32, generator=torch.Generator().manual_seed(1))
    model.train()
    model(x)  # one training step's fusion updates the running gains
    model.eval()
    perm = torch.tensor([4, 2, 0, 5, 1, 3])
    with torch.no_grad():
        base = model.forward_intermediates(x)
        permuted = model.forward_intermediates(x[perm])
        alone = model.forward_intermediates(x[2:3])
    for name in ("b0.block3", f"b{m - 1}.embedding", "logits"):
        torch.testing.assert_close(permuted[name], base[name][perm], rtol=1e-4, atol=1e-5)
        torch.testing.assert_close(alone[name], base[name][2:3], rtol=1e-4, atol=1e-5)


def test_training_fusion_mixes_the_batch():
    """In training a sample's output depends on the rest of the batch (the paper's fusion)."""
    model = _model(2, head=dict(semantic_dim=6, drop_rate=0.0)).train()
    x = torch.randn(4, 4, 32, 32, generator=torch.Generator().manual_seed(2))
    a = model.forward_intermediates(x, ["b0.block1"])["b0.block1"][:2]
    b = model.forward_intermediates(torch.cat([x[:2], -x[2:]]), ["b0.block1"])["b0.block1"][:2]
    assert not torch.allclose(a, b)


def test_uneven_branches_and_names():
    model = create_model("gaf_vgg_spamfm", num_classes=5, in_chans=4, branches=[3, 1], branch_names=["acc", "bar"],
                         **TINY)
    assert model.branch_channels == (3, 1)
    assert "acc.block5" in model.feature_names and "bar.logits" in model.feature_names
    with pytest.raises(InputError, match="do not split into 4 equal branches"):
        create_model("gaf_vgg_spamfm", num_classes=5, in_chans=6, branches=4)
    with pytest.raises(InputError, match=r"summing to in_chans = 6, got \[3, 2\]"):
        create_model("gaf_vgg_spamfm", num_classes=5, in_chans=6, branches=[3, 2])
    with pytest.raises(InputError, match="branch_names must be 2 distinct names"):
        create_model("gaf_vgg_spamfm", num_classes=5, in_chans=6, branch_names=["a", "a"])


def test_semantic_training_is_per_branch():
    """mean_m CE(z_m, y) + w * mean_m dist(s_m, E[y]) (SAKDN's teacher training, harkd.semantic's term)."""
    model = _model(2).train()
    emb = torch.randn(5, 6, generator=torch.Generator().manual_seed(3))
    task = ClassificationTask(model, "x", terms=[ClassEmbeddingTerm(emb, weight=0.5, distance="l1")])
    batch = {"x": torch.randn(4, 4, 32, 32), "label": torch.tensor([0, 1, 4, 2])}
    torch.manual_seed(5)
    out = task(batch)
    torch.manual_seed(5)
    feats = model.forward_intermediates(batch["x"], ["b0.embedding", "b1.embedding", "b0.logits", "b1.logits"])
    ce = sum(torch.nn.functional.cross_entropy(feats[f"b{i}.logits"], batch["label"]) for i in range(2)) / 2
    sem = class_embedding_loss([feats["b0.embedding"], feats["b1.embedding"]], batch["label"], emb, "l1")
    torch.testing.assert_close(out["ce"], ce.detach())
    torch.testing.assert_close(out["semantic"], sem.detach())
    torch.testing.assert_close(out["loss"], ce + 0.5 * sem)


def test_stacked_images_give_each_branch_its_slice_of_every_block():
    """GASF + GADF stacked block-wise (12 = 2 x (acc 3 + gyro 3)): branch acc reads channels 0-2 and 6-8."""
    torch.manual_seed(0)
    model = create_model("gaf_vgg_spamfm", num_classes=5, in_chans=12, branches=2, stacked_images=2,
                         branch_names=["acc", "gyro"], **TINY).eval()
    seen = {}
    for name in ("acc", "gyro"):
        model.stages[name]["block1"].register_forward_pre_hook(
            lambda module, args, name=name: seen.__setitem__(name, args[0]))
    x = torch.arange(12.0).view(1, 12, 1, 1).expand(2, 12, 32, 32)
    with torch.no_grad():
        model(x)
    assert seen["acc"][0, :, 0, 0].tolist() == [0, 1, 2, 6, 7, 8]
    assert seen["gyro"][0, :, 0, 0].tolist() == [3, 4, 5, 9, 10, 11]


def test_stacked_images_must_divide_the_channels():
    with pytest.raises(InputError, match=r"^model 'gaf_vgg_spamfm': stacked_images: 10 input channels do not split into 4 equal image blocks$"):
        create_model("gaf_vgg_spamfm", num_classes=5, in_chans=10, branches=2, stacked_images=4, **TINY)


def test_a_semantic_term_refuses_a_mixed_batch():
    from harkd.engine.mixup import mix_batch

    task = ClassificationTask(_model(2), "x", terms=[ClassEmbeddingTerm(torch.randn(5, 6))])
    batch = mix_batch({"x": torch.randn(4, 4, 32, 32), "label": torch.tensor([0, 1, 4, 2])}, 0.5,
                      torch.tensor([1, 0, 3, 2]), {"x": None})
    with pytest.raises(InputError) as err:
        task(batch)
    assert str(err.value) == "the 'semantic' term needs one label per sample: train.mixup cannot be combined with it"
