"""CRD: memory banks, negative sampling, Z constants, determinism, learning sanity, golden value."""

from __future__ import annotations

import math

import numpy as np
import pytest
import torch

from harkd.errors import ConfigError, InputError
from harkd.losses import create_loss


def _crd(n=10, ds=6, dt=8, **kw):
    kw.setdefault("feat_dim", 8)
    return create_loss("crd", student_shape=(ds,), teacher_shape=(dt,), num_samples=n, **kw)


def crd_ref(s, t, w_s, w_t, mem_s, mem_t, idx, temp, z=None, eps=1e-7):
    """numpy CRD (paper eqs., NCE form): returns (loss, (z_s, z_t), updated banks)."""
    n, k = mem_s.shape[0], idx.shape[1] - 1

    def unit(x):
        return x / np.linalg.norm(x, axis=1, keepdims=True)

    v_s, v_t = unit(s @ w_s.T), unit(t @ w_t.T)
    h_s = np.array([[math.exp(mem_t[j] @ v_s[b] / temp) for j in idx[b]] for b in range(len(idx))])
    h_t = np.array([[math.exp(mem_s[j] @ v_t[b] / temp) for j in idx[b]] for b in range(len(idx))])
    if z is None:
        z = (h_s.mean() * n, h_t.mean() * n)

    def nce(h):
        pn = k / n
        total = 0.0
        for b in range(h.shape[0]):
            total += math.log(h[b, 0] / (h[b, 0] + pn + eps))
            total += sum(math.log(pn / (h[b, j] + pn + eps)) for j in range(1, k + 1))
        return -total / h.shape[0]

    loss = nce(h_s / z[0]) + nce(h_t / z[1])
    new_s, new_t = mem_s.copy(), mem_t.copy()
    for b, y in enumerate(idx[:, 0]):
        new_s[y] = unit((0.5 * mem_s[y] + 0.5 * v_s[b])[None])[0]
        new_t[y] = unit((0.5 * mem_t[y] + 0.5 * v_t[b])[None])[0]
    return loss, z, (new_s, new_t)


def test_golden_against_numpy_with_fixed_heads_banks_and_negatives():
    n, temp = 5, 0.5
    loss = create_loss("crd", student_shape=(3,), teacher_shape=(2,), num_samples=n, feat_dim=3,
                       num_negatives=2, temperature=temp).double()
    w_s = np.array([[1.0, 0.0, 0.5], [0.0, 1.0, 0.0], [0.0, -0.5, 1.0]])
    w_t = np.array([[1.0, 0.0], [0.0, 1.0], [1.0, 1.0]])
    rng = np.random.default_rng(0)
    mem_s, mem_t = rng.normal(size=(n, 3)), rng.normal(size=(n, 3))
    with torch.no_grad():
        loss.embed_s.weight.copy_(torch.tensor(w_s)); loss.embed_s.bias.zero_()
        loss.embed_t.weight.copy_(torch.tensor(w_t)); loss.embed_t.bias.zero_()
        loss.memory_s.copy_(torch.tensor(mem_s)); loss.memory_t.copy_(torch.tensor(mem_t))
    s = np.array([[1.0, 2.0, -1.0], [0.5, 0.0, 1.0], [-1.0, 1.0, 1.0]])
    t = np.array([[1.0, -1.0], [2.0, 0.5], [0.0, 1.0]])
    idx = np.array([[1, 0, 4], [3, 4, 2], [0, 2, 2]])  # positives in column 0; row 2 repeats a negative
    loss.sample_indices = lambda index: torch.tensor(idx)
    got = loss(torch.tensor(s), torch.tensor(t), index=torch.tensor(idx[:, 0])).detach()
    want, z, (new_s, new_t) = crd_ref(s, t, w_s, w_t, mem_s, mem_t, idx, temp)
    assert float(got) == pytest.approx(want, rel=1e-10)
    assert float(got) == pytest.approx(4.0189625547, abs=1e-6)  # crd_ref(...) printed once to 10 decimals
    assert float(loss.z_s) == pytest.approx(z[0], rel=1e-6) and float(loss.z_t) == pytest.approx(z[1], rel=1e-6)
    np.testing.assert_allclose(loss.memory_s.numpy(), new_s, rtol=1e-10)
    np.testing.assert_allclose(loss.memory_t.numpy(), new_t, rtol=1e-10)
    # second batch: Z kept from the first one, banks as updated
    got2 = loss(torch.tensor(s[::-1].copy()), torch.tensor(t), index=torch.tensor(idx[:, 0])).detach()
    want2, _, _ = crd_ref(s[::-1], t, w_s, w_t, new_s, new_t, idx, temp, z=z)
    assert float(got2) == pytest.approx(want2, rel=1e-6)


def test_memory_bank_size_from_num_samples_and_buffers_in_state_dict():
    loss = _crd(n=37, feat_dim=16)
    assert loss.memory_s.shape == (37, 16) and loss.memory_t.shape == (37, 16)
    state = loss.state_dict()
    assert {"memory_s", "memory_t", "z_s", "z_t"} <= set(state)
    assert "memory_s" not in dict(loss.named_parameters())
    assert loss.memory_s.device.type == "cpu"


def test_num_samples_required_exact_message():
    with pytest.raises(InputError) as err:
        create_loss("crd", student_shape=(6,), teacher_shape=(8,))
    assert str(err.value) == ("crd: num_samples is required (the training-set size: one memory-bank slot "
                              "per training sample)")
    with pytest.raises(InputError, match="crd: num_samples must be an integer >= 2, got 1"):
        _crd(n=1)
    with pytest.raises(ConfigError):
        create_loss("crd", student_shape=(6,), teacher_shape=(8,), num_samples=10, nce_k=3)


def test_negatives_clamped_to_n_minus_1_and_exclude_positive():
    torch.manual_seed(0)
    loss = _crd(n=10)  # default K = 4096
    assert loss.requested_negatives == 4096 and loss.num_negatives == 9
    index = torch.tensor([0, 3, 9, 3])
    idx = loss.sample_indices(index)
    assert idx.shape == (4, 10) and torch.equal(idx[:, 0], index)
    assert (idx[:, 1:] != index[:, None]).all() and idx.min() >= 0 and idx.max() < 10
    value = loss(torch.randn(4, 6), torch.randn(4, 8), index=index).detach()
    assert torch.isfinite(value) and float(value) > 0
    two = _crd(n=2)
    assert torch.equal(two.sample_indices(torch.tensor([0, 1]))[:, 1], torch.tensor([1, 0]))


def test_deterministic_under_seed():
    def run():
        torch.manual_seed(123)
        loss = _crd(n=50, num_negatives=16)
        s, t, index = torch.randn(4, 6), torch.randn(4, 8), torch.randint(0, 50, (4,))
        values = [float(loss(s, t, index=index).detach()) for _ in range(3)]
        return values, loss.memory_s.clone()

    (v1, m1), (v2, m2) = run(), run()
    assert v1 == v2 and torch.equal(m1, m2)


def test_index_errors():
    loss = _crd()
    s, t = torch.randn(2, 6), torch.randn(2, 8)
    with pytest.raises(InputError) as err:
        loss(s, t)
    assert str(err.value) == ("crd: needs the context key 'index' (the dataset indices of the batch, "
                              "a LongTensor of shape (B,))")
    with pytest.raises(InputError) as err:
        loss(s, t, index=torch.tensor([0, 10]))
    assert str(err.value) == "crd: index values must be in [0, 10) (num_samples), got range [0, 10]"
    with pytest.raises(InputError, match=r"crd: index must have shape \(2,\)"):
        loss(s, t, index=torch.tensor([0, 1, 2]))
    with pytest.raises(InputError, match="crd: index must be an integer tensor"):
        loss(s, t, index=torch.tensor([0.0, 1.0]))
    with pytest.raises(InputError, match=r"crd: expected student \(B, 6\) and teacher \(B, 8\)"):
        loss(torch.randn(2, 5), t, index=torch.tensor([0, 1]))


def test_eval_mode_leaves_banks_unchanged_training_updates_them():
    torch.manual_seed(0)
    loss = _crd()
    s, t, index = torch.randn(3, 6), torch.randn(3, 8), torch.tensor([1, 2, 5])
    before = loss.memory_s.clone()
    loss.eval()
    loss(s, t, index=index)
    assert torch.equal(before, loss.memory_s)
    loss.train()
    loss(s, t, index=index)
    changed = (before != loss.memory_s).any(1)
    assert changed.tolist() == [i in (1, 2, 5) for i in range(10)]
    assert torch.allclose(loss.memory_s[index].norm(dim=1), torch.ones(3))


def test_optimising_student_head_decreases_loss():
    torch.manual_seed(0)
    loss = _crd(n=20, num_negatives=8)
    s, t, index = torch.randn(6, 6), torch.randn(6, 8), torch.arange(6)
    loss.train()
    for _ in range(3):  # fill the teacher bank rows of this batch with the teacher's embeddings
        loss(s, t, index=index)
    loss.eval()

    def value():
        torch.manual_seed(7)  # the same negatives each time
        return loss(s, t, index=index)

    start = float(value().detach())
    opt = torch.optim.SGD(loss.embed_s.parameters(), lr=0.5)
    for _ in range(20):
        opt.zero_grad()
        value().backward()
        opt.step()
    assert float(value().detach()) < start
