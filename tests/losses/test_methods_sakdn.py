"""SAKDN's semantic losses and GSDM: golden values, gradients, per-sample behaviour."""

import math

import numpy as np
import pytest
import torch
import torch.nn.functional as F

from harkd.errors import InputError
from harkd.losses import create_loss
from harkd.losses.methods import GSDMLoss, SemanticLoss, ablation_weights, activation_map
from harkd.semantic import class_embedding_loss


# ----------------------------------------------------------------------------- semantic
def test_semantic_golden_single_and_multi_teacher():
    s = torch.tensor([[1.0, 2.0], [0.0, -1.0]], dtype=torch.float64, requires_grad=True)
    t1 = torch.tensor([[0.0, 2.0], [1.0, 1.0]], dtype=torch.float64)
    t2 = torch.tensor([[1.0, 0.0], [0.0, 0.0]], dtype=torch.float64)
    mse1 = (1 + 0 + 1 + 4) / 4
    mse2 = (0 + 4 + 0 + 1) / 4
    l1_1 = (1 + 0 + 1 + 2) / 4
    l1_2 = (0 + 2 + 0 + 1) / 4
    assert float(create_loss("semantic")(s, t1).detach()) == pytest.approx(mse1)
    assert SemanticLoss()(s, [t1, t2]).item() == pytest.approx((mse1 + mse2) / 2)
    assert SemanticLoss(distance="l1")(s, [t1, t2]).item() == pytest.approx((l1_1 + l1_2) / 2)
    t1.requires_grad_(True)
    SemanticLoss()(s, [t1, t2]).backward()
    assert s.grad.abs().sum() > 0 and t1.grad is None


def test_semantic_errors():
    with pytest.raises(InputError) as err:
        SemanticLoss(distance="cos")
    assert str(err.value) == "semantic: distance must be one of 'mse', 'l1', got 'cos'"
    with pytest.raises(InputError) as err:
        SemanticLoss()(torch.randn(3, 4), [torch.randn(3, 4), torch.randn(2, 4)])
    assert str(err.value) == "semantic: teacher[1] shape (2, 4) differs from student shape (3, 4)"


def test_class_embedding_loss_golden():
    emb = torch.tensor([[1.0, 0.0], [0.0, 1.0], [2.0, 2.0]])
    labels = torch.tensor([2, 0])
    b1 = torch.tensor([[2.0, 2.0], [0.0, 0.0]], requires_grad=True)
    b2 = torch.tensor([[0.0, 0.0], [1.0, 0.0]], requires_grad=True)
    # b1: errors (0,0),(1,0) -> mse 1/4, l1 1/4 ; b2: (2,2),(0,0) -> mse 8/4, l1 4/4
    assert class_embedding_loss([b1, b2], labels, emb).item() == pytest.approx((0.25 + 2.0) / 2)
    assert class_embedding_loss([b1, b2], labels, emb, distance="l1").item() == pytest.approx((0.25 + 1.0) / 2)
    assert class_embedding_loss(b1, labels, emb).item() == pytest.approx(0.25)
    class_embedding_loss([b1, b2], labels, emb).backward()
    assert b2.grad.abs().sum() > 0
    with pytest.raises(InputError) as err:
        class_embedding_loss(b1, torch.tensor([0, 3]), emb)
    assert str(err.value) == "class_embedding_loss: labels must lie in [0, 3), got values in [0, 3]"


# ----------------------------------------------------------------------------- ablation weights
def _weights_loop(logits, logits_zero, emb, eps):
    def graph(z):
        b, c = z.shape
        w = np.array([[math.exp(-sum((z[i, k] - z[j, k]) ** 2 for k in range(c)) / (2 * c)) for j in range(b)]
                      for i in range(b)])
        d = w.sum(1)
        return np.array([[w[i, j] / math.sqrt(d[i] * d[j]) for j in range(b)] for i in range(b)])

    p = graph(logits) @ emb[logits.argmax(1)]
    pz = graph(logits_zero) @ emb[logits_zero.argmax(1)]
    out = []
    for i in range(len(p)):
        vals = []
        for d in range(p.shape[1]):
            den = p[i, d]
            if abs(den) < eps:
                den = eps if den >= 0 else -eps
            vals.append(max(0.0, (p[i, d] - pz[i, d]) / den))
        out.append(sum(vals) / len(vals))
    return np.array(out)


LOGITS = np.array([[2.0, 0.1, -1.0], [0.0, 1.5, 0.2], [0.3, 0.2, 2.5], [1.0, 1.1, 0.0]])
LOGITS_ZERO = np.array([[0.1, 0.5, 0.0]] * 4)
EMB = np.array([[0.5, -0.2, 0.0, 1.0], [0.1, 0.4, -0.3, 0.0], [-0.6, 0.2, 0.9, 0.3]])


def test_ablation_weights_golden():
    w = ablation_weights(torch.tensor(LOGITS), torch.tensor(LOGITS_ZERO), torch.tensor(EMB), eps=1e-3)
    np.testing.assert_allclose(w.numpy(), _weights_loop(LOGITS, LOGITS_ZERO, EMB, 1e-3), rtol=1e-12)
    assert w.shape == (4,) and (w >= 0).all()


def test_ablation_weights_guard_near_zero_p():
    emb = EMB.copy()
    emb[:, 2] = 0.0  # P is exactly zero in this dimension; P~ too -> 0 / eps
    emb[1, 3] = 1e-9  # a near-zero component
    logits_zero = np.array([[0.0, 0.0, 3.0]] * 4)
    w = ablation_weights(torch.tensor(LOGITS), torch.tensor(logits_zero), torch.tensor(emb))
    assert torch.isfinite(w).all()
    np.testing.assert_allclose(w.numpy(), _weights_loop(LOGITS, logits_zero, emb, 1e-3), rtol=1e-12)
    zero = ablation_weights(torch.tensor(LOGITS), torch.tensor(LOGITS_ZERO), torch.zeros(3, 4, dtype=torch.float64))
    assert torch.equal(zero, torch.zeros(4, dtype=torch.float64))


def test_ablation_weights_gradient_is_finite_through_the_graph_only():
    logits = torch.tensor(LOGITS, requires_grad=True)
    w = ablation_weights(logits, torch.tensor(LOGITS_ZERO), torch.tensor(EMB))
    w.sum().backward()
    assert torch.isfinite(logits.grad).all()


def test_registered_method_losses():
    from harkd.losses import list_losses

    assert {"dask", "semantic", "gsdm", "acs"} <= set(list_losses())
    assert create_loss("gsdm", student_shape=[(3, 4, 4)], teacher_shape=[(5, 8, 8)]).input_kind == "feature_maps"


def test_ablation_weights_errors():
    with pytest.raises(InputError) as err:
        ablation_weights(torch.randn(4, 3), torch.randn(5, 3), torch.randn(3, 2))
    assert str(err.value) == "ablation_weights: logits_zero shape (5, 3) differs from logits shape (4, 3)"
    with pytest.raises(InputError) as err:
        ablation_weights(torch.randn(4, 3), torch.randn(4, 3), torch.randn(5, 2))
    assert str(err.value) == "ablation_weights: class_embeddings has 5 rows but the logits have 3 classes"


# ----------------------------------------------------------------------------- maps
def test_activation_map_per_sample_normalisation_and_weights():
    torch.manual_seed(0)
    f = torch.randn(3, 4, 5, 5, dtype=torch.float64)
    w = torch.tensor([0.5, 0.0, 2.0], dtype=torch.float64)
    a = activation_map(f, w)
    raw = np.maximum(f.sum(1).numpy() * w.numpy()[:, None, None], 0.0)
    for b in range(3):
        n = np.sqrt((raw[b] ** 2).sum())
        want = raw[b] / n if n > 0 else raw[b]
        np.testing.assert_allclose(a[b].numpy(), want, rtol=1e-12, atol=1e-15)
    assert torch.equal(a[1], torch.zeros(5, 5, dtype=torch.float64))  # w = 0: zero map, no NaN
    for b in (0, 2):
        assert float(a[b].pow(2).sum()) == pytest.approx(1.0)
    # scaling another sample's features changes nothing for sample 0 (no batch-wide normalisation)
    f2 = f.clone()
    f2[2] *= 100
    assert torch.equal(activation_map(f2, w)[0], a[0])


def test_activation_map_averages_video_segments():
    torch.manual_seed(1)
    f = torch.randn(2 * 3, 4, 2, 2, dtype=torch.float64)  # B = 2 clips x S = 3 frames, segment fastest
    a = activation_map(f, num_segments=3, normalize=False)
    frames = F.relu(f.sum(1)).reshape(2, 3, 2, 2)
    assert torch.allclose(a, frames.mean(1))
    with pytest.raises(InputError) as err:
        activation_map(f, num_segments=4)
    assert str(err.value) == "activation_map: 6 frames are not a multiple of num_segments = 4"


# ----------------------------------------------------------------------------- GSDM loss
def _np_map(f, w=None):
    s = f.sum(1)
    if w is not None:
        s = s * w[:, None, None]
    s = np.maximum(s, 0.0)
    n = np.sqrt((s ** 2).reshape(len(s), -1).sum(1))
    n[n == 0] = 1.0
    return s / n[:, None, None]


def _block_mean(a):  # bilinear 2x downsampling with align_corners=False == 2x2 block mean
    b, h, w = a.shape
    return a.reshape(b, h // 2, 2, w // 2, 2).mean((2, 4))


def test_gsdm_golden_two_teachers_with_resize():
    rng = np.random.default_rng(0)
    s_feats = [rng.standard_normal((3, 4, 4, 4)), rng.standard_normal((3, 2, 3, 3))]
    t_feats = [[rng.standard_normal((3, 5, 8, 8)), rng.standard_normal((3, 3, 3, 3))],
               [rng.standard_normal((3, 6, 4, 4)), rng.standard_normal((3, 1, 6, 6))]]
    ws = np.array([0.5, 1.0, 0.0])
    wts = [np.array([1.0, 2.0, 3.0]), np.array([0.0, 1.0, 1.0])]
    want = []
    for m in range(2):
        for l in range(2):
            a_s = _np_map(s_feats[l], ws)
            raw_t = np.maximum(t_feats[m][l].sum(1) * wts[m][:, None, None], 0.0)
            if raw_t.shape[1:] != a_s.shape[1:]:
                raw_t = _block_mean(raw_t)
            n = np.sqrt((raw_t ** 2).reshape(3, -1).sum(1))
            n[n == 0] = 1.0
            a_t = raw_t / n[:, None, None]
            want.append(np.mean((a_s - a_t) ** 2))
    t = lambda x: torch.tensor(x)
    student = [t(f).requires_grad_(True) for f in s_feats]
    teacher = [[t(f).requires_grad_(True) for f in fs] for fs in t_feats]
    loss = create_loss("gsdm")
    value = loss(student, teacher, student_weights=t(ws), teacher_weights=[t(w) for w in wts])
    assert value.item() == pytest.approx(float(np.mean(want)), rel=1e-12)
    value.backward()
    assert all(torch.isfinite(x.grad).all() and x.grad.abs().sum() > 0 for x in student)
    assert all(x.grad is None for fs in teacher for x in fs)


def test_gsdm_weighting_loss_mode_golden():
    torch.manual_seed(2)
    s = [torch.randn(4, 3, 4, 4, dtype=torch.float64)]
    t = [torch.randn(4, 5, 4, 4, dtype=torch.float64)]
    wt = torch.tensor([1.0, 0.0, 3.0, 0.0], dtype=torch.float64)
    loss = GSDMLoss(weighting="loss")
    per = loss.per_sample(s, t)
    assert float(loss(s, t, teacher_weights=wt)) == pytest.approx(float((per * wt).sum() / wt.sum()))
    assert float(loss(s, t, teacher_weights=torch.zeros(4, dtype=torch.float64))) == 0.0
    assert float(loss(s, t)) == pytest.approx(float(per.mean()))


def test_gsdm_sample_loss_independent_of_other_samples():
    torch.manual_seed(3)
    loss = GSDMLoss(student_segments=2)
    s = [torch.randn(4 * 2, 3, 6, 6), torch.randn(4 * 2, 5, 3, 3)]
    t = [torch.randn(4, 4, 12, 12), torch.randn(4, 2, 7, 5)]  # upsampling and odd sizes too
    per = loss.per_sample(s, t)
    s2 = [x.clone() for x in s]
    t2 = [x.clone() for x in t]
    for x in s2:
        x[2:] = torch.randn_like(x[2:]) * 10  # frames of clips 1..3
    for x in t2:
        x[1:] = torch.randn_like(x[1:]) * 10
    per2 = loss.per_sample(s2, t2)
    assert torch.allclose(per2[0], per[0], rtol=1e-6, atol=0)
    assert not torch.allclose(per2[1:], per[1:])
    # permuting the batch permutes the per-sample losses
    perm = torch.tensor([2, 0, 3, 1])
    frame_perm = (perm[:, None] * 2 + torch.arange(2)).reshape(-1)
    per3 = loss.per_sample([x[frame_perm] for x in s], [x[perm] for x in t])
    assert torch.allclose(per3, per[perm], rtol=1e-6, atol=1e-9)


def test_gsdm_resize_is_interpolation():
    torch.manual_seed(4)
    s = [torch.randn(2, 3, 5, 5)]
    t = [torch.randn(2, 4, 9, 9)]
    a_s = activation_map(s[0])
    a_t = F.interpolate(F.relu(t[0].sum(1, keepdim=True)), size=(5, 5), mode="bilinear", align_corners=False)
    a_t = a_t.squeeze(1)
    a_t = a_t / a_t.flatten(1).norm(dim=1).view(-1, 1, 1)
    assert float(GSDMLoss()(s, t)) == pytest.approx(float((a_s - a_t).pow(2).mean()), rel=1e-5)


def test_gsdm_zero_maps_are_finite():
    s = [torch.zeros(2, 3, 4, 4, requires_grad=True)]
    t = [-torch.ones(2, 3, 4, 4)]  # ReLU kills everything
    value = GSDMLoss()(s, t, student_weights=torch.zeros(2), teacher_weights=torch.zeros(2))
    value.backward()
    assert value.item() == 0.0 and torch.isfinite(s[0].grad).all()


def test_gsdm_errors():
    loss = GSDMLoss()
    s = [torch.randn(2, 3, 4, 4), torch.randn(2, 3, 2, 2)]
    with pytest.raises(InputError) as err:
        loss(s, [[torch.randn(2, 3, 4, 4), torch.randn(2, 3, 2, 2)], [torch.randn(2, 3, 4, 4)]])
    assert str(err.value) == "gsdm: teacher 1 has 1 feature maps but the student has 2"
    with pytest.raises(InputError) as err:
        loss(s, [torch.randn(3, 3, 4, 4), torch.randn(3, 3, 2, 2)])
    assert str(err.value) == "gsdm: teacher[0][0] holds 3 samples but the student holds 2"
    with pytest.raises(InputError) as err:
        loss(s, [s, s], teacher_weights=[torch.ones(2)])
    assert str(err.value) == "gsdm: got 1 teacher weight vectors for 2 teachers"
    with pytest.raises(InputError) as err:
        loss(s, s, student_weights=torch.ones(3))
    assert str(err.value) == "gsdm: student_weights must have shape (2,), got (3,)"
    with pytest.raises(InputError) as err:
        GSDMLoss(weighting="both")
    assert str(err.value) == "gsdm: weighting must be one of 'map', 'loss', got 'both'"
