"""VSKD's DASK loss: golden values against explicit loops, gradients, argument order."""

import math

import numpy as np
import pytest
import torch

from harkd.errors import ConfigError, InputError
from harkd.losses import create_loss
from harkd.losses.methods import DASKLoss, dask_angle_potential, dask_distance_potential


def _smooth_l1(a, b):
    d = np.abs(np.asarray(a) - np.asarray(b))
    return float(np.mean(np.where(d < 1.0, 0.5 * d * d, d - 0.5)))


def _psi_d(z):
    b = len(z)
    dist = np.zeros((b, b))
    for i in range(b):
        for j in range(b):
            dist[i, j] = math.sqrt(sum((z[i][k] - z[j][k]) ** 2 for k in range(len(z[i]))))
    nonzero = [dist[i, j] for i in range(b) for j in range(b) if dist[i, j] > 0]
    mu = sum(nonzero) / len(nonzero) if nonzero else 1.0
    return dist / mu


def _unit(v):
    n = math.sqrt(sum(x * x for x in v))
    return [x / n for x in v] if n > 0 else [0.0 for _ in v]


def _psi_a(z):
    b = len(z)
    out = []
    for i in range(b):
        for j in range(b):
            for k in range(b):
                u = _unit([z[i][d] - z[j][d] for d in range(len(z[j]))])
                v = _unit([z[k][d] - z[j][d] for d in range(len(z[j]))])
                out.append(sum(x * y for x, y in zip(u, v)))
    return np.array(out)


S = [[0.5, -1.0, 2.0], [1.5, 0.0, -0.5], [-2.0, 1.0, 0.0], [0.0, 3.0, 1.0]]
T = [[1.0, 0.0, 0.0], [0.0, 2.0, 0.0], [0.0, 0.0, 3.0], [1.0, 1.0, 1.0]]


def test_potentials_match_loops():
    z = torch.tensor(S, dtype=torch.float64)
    np.testing.assert_allclose(dask_distance_potential(z).numpy(), _psi_d(S), rtol=1e-12)
    psi_a = dask_angle_potential(z).numpy()
    assert psi_a.shape == (4, 4, 4)
    np.testing.assert_allclose(psi_a.reshape(-1), _psi_a(S), rtol=1e-12, atol=1e-15)


def test_golden_total_and_terms():
    loss = create_loss("dask", distance_weight=2.0, angle_weight=0.5, semantic_weight=3.0)
    s, t = torch.tensor(S, dtype=torch.float64), torch.tensor(T, dtype=torch.float64)
    want_d = _smooth_l1(_psi_d(S), _psi_d(T))
    want_a = _smooth_l1(_psi_a(S), _psi_a(T))
    want_s = float(np.mean((np.array(S) - np.array(T)) ** 2))
    total = loss(s, t)
    assert loss.last_terms["distance"] == pytest.approx(want_d, rel=1e-12)
    assert loss.last_terms["angle"] == pytest.approx(want_a, rel=1e-12)
    assert loss.last_terms["semantic"] == pytest.approx(want_s, rel=1e-12)
    assert total.item() == pytest.approx(2 * want_d + 0.5 * want_a + 3 * want_s, rel=1e-12)
    assert loss.last_terms["total"] == pytest.approx(total.item())
    terms = loss.terms(s, t)
    assert set(terms) == {"distance", "angle", "semantic", "total"}


def test_relational_terms_are_scale_free_and_semantic_is_not():
    s = torch.tensor(S, dtype=torch.float64)
    t = torch.tensor(T, dtype=torch.float64)
    loss = DASKLoss()
    loss(s, t)
    small = dict(loss.last_terms)
    loss(10 * s, t)
    assert loss.last_terms["distance"] == pytest.approx(small["distance"], rel=1e-12)
    assert loss.last_terms["angle"] == pytest.approx(small["angle"], rel=1e-12)
    assert loss.last_terms["semantic"] == pytest.approx(float(np.mean((10 * np.array(S) - np.array(T)) ** 2)))


def test_gradient_reaches_student_only_and_argument_order_matters():
    torch.manual_seed(0)
    a = torch.randn(6, 5, requires_grad=True)
    b = (3.0 * torch.randn(6, 5)).requires_grad_(True)
    loss = DASKLoss()
    loss(a, b).backward()
    assert a.grad is not None and torch.isfinite(a.grad).all() and a.grad.abs().sum() > 0
    assert b.grad is None  # the teacher (second argument) is detached
    a.grad = None
    loss(b, a).backward()  # swapped: now b is the student
    assert a.grad is None and b.grad is not None and b.grad.abs().sum() > 0


def test_relational_terms_alone_give_gradient():
    torch.manual_seed(1)
    s = torch.randn(5, 4, requires_grad=True)
    loss = DASKLoss(semantic_weight=0.0)
    loss(s, torch.randn(5, 8)).backward()  # different D is fine without the semantic term
    assert s.grad.abs().sum() > 0 and torch.isfinite(s.grad).all()


def test_degenerate_batches_are_finite():
    loss = DASKLoss()
    # identical samples: every distance zero (mu guarded), every unit vector zero
    s = torch.zeros(4, 3, requires_grad=True)
    t = torch.ones(4, 3)
    value = loss(s, t)
    value.backward()
    assert torch.isfinite(value) and torch.isfinite(s.grad).all()
    assert loss.last_terms["distance"] == 0.0 and loss.last_terms["angle"] == 0.0
    # one sample, and duplicates inside a batch
    assert torch.isfinite(loss(torch.randn(1, 3), torch.randn(1, 3)))
    dup = torch.tensor([[1.0, 2.0], [1.0, 2.0], [0.0, 1.0]], requires_grad=True)
    loss(dup, torch.randn(3, 2)).backward()
    assert torch.isfinite(dup.grad).all()


def test_bad_inputs_have_exact_messages():
    loss = DASKLoss()
    with pytest.raises(InputError) as err:
        loss(torch.randn(4, 3), torch.randn(5, 3))
    assert str(err.value) == "dask: student and teacher batch sizes differ (4 vs 5)"
    with pytest.raises(InputError) as err:
        loss(torch.randn(4, 3), torch.randn(4, 6))
    assert str(err.value) == ("dask: the semantic term needs equal embedding sizes, got student D = 3 and "
                              "teacher D = 6 (set semantic_weight=0)")
    with pytest.raises(InputError) as err:
        loss(torch.randn(4, 3, 2), torch.randn(4, 3))
    assert str(err.value) == "dask: student must have 2 dims, got shape (4, 3, 2)"
    with pytest.raises(InputError) as err:
        DASKLoss(angle_weight=-1)
    assert str(err.value) == "dask: angle_weight must be a finite number >= 0, got -1"
    with pytest.raises(ConfigError):
        create_loss("dask", wieght=1.0)


def test_registry_metadata():
    loss = create_loss("dask", student_shape=(300,), teacher_shape=(300,))
    assert loss.input_kind == "embedding" and loss.context_keys == ()
