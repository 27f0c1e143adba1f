"""SPAMFM: one implementation for any M; golden forward; eval batch independence."""

import numpy as np
import pytest
import torch

from harkd.errors import InputError
from harkd.models.spamfm import SPAMFM, default_reduction


def _branches(channels, batch, seed=0, spatial=((3, 3), (), (4,), (2, 5))):
    g = torch.Generator().manual_seed(seed)
    return [torch.randn(batch, c, *spatial[m % len(spatial)], generator=g) for m, c in enumerate(channels)]


def _np_mlp(seq, x):
    w1, b1 = seq[0].weight.detach().double().numpy(), seq[0].bias.detach().double().numpy()
    w2, b2 = seq[2].weight.detach().double().numpy(), seq[2].bias.detach().double().numpy()
    h = np.maximum(x @ w1.T + b1, 0.0)
    return h @ w2.T + b2


def _sigmoid(x):
    return 1.0 / (1.0 + np.exp(-x))


def _np_spamfm(module, xs, batch_gram=True):
    xs = [x.detach().double().numpy() for x in xs]
    b = xs[0].shape[0]
    y_hat = []
    for m, x in enumerate(xs):
        flat = x.reshape(b, -1)
        y = flat.reshape(b, x.shape[1], -1).mean(2) if x.ndim > 2 else x
        if batch_gram:
            g = np.zeros((b, b))
            for i in range(b):
                for j in range(b):
                    g[i, j] = sum(flat[i, k] * flat[j, k] for k in range(flat.shape[1]))
            g = g / np.sqrt((g ** 2).sum(1, keepdims=True))
            y_hat.append(g @ y)
        else:
            y_hat.append(y * float(module.running_gain[m]))
    if module.project is None:
        common = y_hat
    else:
        common = [h @ p.weight.detach().double().numpy().T for p, h in zip(module.project, y_hat)]
    z_cat = np.concatenate(y_hat, 1)
    z_add = sum(common)
    z_mul = np.prod(np.stack(common), 0)
    out = []
    for m, x in enumerate(xs):
        gate = (_sigmoid(_np_mlp(module.gate_cat[m], z_cat)) + _sigmoid(_np_mlp(module.gate_add[m], z_add))
                + _sigmoid(_np_mlp(module.gate_mul[m], z_mul)))
        out.append(x * gate.reshape(gate.shape + (1,) * (x.ndim - 2)))
    return out


@pytest.mark.parametrize("channels", [(4, 4), (3, 5, 2, 4)])
def test_golden_forward_train_and_eval(channels):
    torch.manual_seed(0)
    module = SPAMFM(list(channels)).double()
    xs = [x.double() for x in _branches(channels, 3)]
    for got, want in zip(module(xs), _np_spamfm(module, xs)):
        np.testing.assert_allclose(got.detach().numpy(), want, rtol=1e-10, atol=1e-12)
    module.eval()
    for got, want in zip(module(xs), _np_spamfm(module, xs, batch_gram=False)):
        np.testing.assert_allclose(got.detach().numpy(), want, rtol=1e-10, atol=1e-12)


@pytest.mark.parametrize("num_branches", [2, 4, 6])
def test_any_number_of_branches_shapes_backward_gates(num_branches):
    torch.manual_seed(num_branches)
    channels = [6] * num_branches
    module = SPAMFM(channels)
    assert module.reduction == {2: 4, 4: 8, 6: 12}[num_branches] == default_reduction(num_branches)
    assert module.gate_cat[0][0].out_features == 6 * num_branches // module.reduction
    xs = [x.requires_grad_(True) for x in _branches(channels, 5, seed=num_branches)]
    out = module(xs)
    assert [o.shape for o in out] == [x.shape for x in xs]
    sum(o.pow(2).sum() for o in out).backward()
    assert all(x.grad is not None and torch.isfinite(x.grad).all() for x in xs)
    for name, p in module.named_parameters():
        assert p.grad is not None and torch.isfinite(p.grad).all(), name
    # every branch's three gate MLPs get gradient (the reference mis-wired branches)
    for m in range(num_branches):
        for gates in (module.gate_cat, module.gate_add, module.gate_mul):
            assert gates[m][2].bias.grad.abs().sum() > 0
    for g, x in zip(module.last_gates, xs):
        assert g.shape == x.shape[:2] and (g > 0).all() and (g < 3).all()


def test_different_widths_use_a_learned_projection():
    module = SPAMFM([3, 5])
    assert module.common_dim == 3 and module.project[1].weight.shape == (3, 5)
    assert SPAMFM([4, 4]).project is None
    assert SPAMFM([3, 5], common_dim=8).project[0].weight.shape == (8, 3)


def _train_a_little(module, channels):
    module.train()
    for seed in range(3):
        module(_branches(channels, 6, seed=seed))


def test_eval_does_not_depend_on_the_batch():
    torch.manual_seed(1)
    channels = [4, 4, 4, 4]
    module = SPAMFM(channels)
    _train_a_little(module, channels)
    assert not torch.allclose(module.running_gain, torch.ones(4))
    gain = module.running_gain.clone()
    module.eval()
    xs = _branches(channels, 5, seed=10)
    batch_out = module(xs)
    alone = module([x[2:3] for x in xs])
    perm = torch.tensor([4, 2, 0, 3, 1])
    permuted = module([x[perm] for x in xs])
    other = _branches(channels, 5, seed=11)
    mixed = module([torch.cat([x[2:3], o]) for x, o in zip(xs, other)])
    for m in range(4):
        assert torch.allclose(alone[m][0], batch_out[m][2], rtol=1e-6, atol=1e-7)
        assert torch.allclose(permuted[m], batch_out[m][perm], rtol=1e-6, atol=1e-7)
        assert torch.allclose(mixed[m][0], batch_out[m][2], rtol=1e-6, atol=1e-7)
    assert torch.equal(module.running_gain, gain)  # eval leaves the running statistic alone


def test_train_mode_is_permutation_equivariant_and_batch_dependent():
    torch.manual_seed(2)
    channels = [3, 5]
    module = SPAMFM(channels)
    xs = _branches(channels, 6, seed=3)
    out = module(xs)
    perm = torch.randperm(6)
    out_p = module([x[perm] for x in xs])
    for m in range(2):
        assert torch.allclose(out_p[m], out[m][perm], rtol=1e-5, atol=1e-6)
    alone = module([x[:1] for x in xs])
    assert not torch.allclose(alone[0][0], out[0][0])  # the batch Gram mixes samples in training


def test_batch_eval_fusion_keeps_the_reference_behaviour():
    torch.manual_seed(3)
    channels = [4, 4]
    module = SPAMFM(channels, eval_fusion="batch")
    xs = _branches(channels, 4, seed=4)
    train_out = module(xs)
    module.eval()
    for a, b in zip(module(xs), train_out):
        assert torch.allclose(a, b)


def test_zero_inputs_are_finite():
    module = SPAMFM([3, 3])
    out = module([torch.zeros(4, 3, 2, 2), torch.zeros(4, 3)])
    assert all(torch.isfinite(o).all() for o in out)
    assert torch.isfinite(module.running_gain).all()


def test_errors():
    module = SPAMFM([3, 4])
    with pytest.raises(InputError) as err:
        module([torch.randn(2, 3)])
    assert str(err.value) == "SPAMFM: expected 2 branch tensors, got 1"
    with pytest.raises(InputError) as err:
        module([torch.randn(2, 3), torch.randn(2, 5, 4)])
    assert str(err.value) == "SPAMFM: branch 1 must have shape (B, 4, ...), got (2, 5, 4)"
    with pytest.raises(InputError) as err:
        module([torch.randn(2, 3), torch.randn(3, 4)])
    assert str(err.value) == "SPAMFM: branch 1 has batch size 3, branch 0 has 2"
    with pytest.raises(InputError) as err:
        SPAMFM([3, 0])
    assert str(err.value) == "SPAMFM: channels[1] must be an integer >= 1, got 0"
    with pytest.raises(InputError) as err:
        SPAMFM([3, 3], eval_fusion="none")
    assert str(err.value) == "SPAMFM: eval_fusion must be one of 'running', 'batch', got 'none'"
