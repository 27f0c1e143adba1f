"""PSKD's ACS loss: teacher choice on hand-made logits, golden values, fallbacks."""

import math

import pytest
import torch

from harkd.errors import InputError
from harkd.losses import create_loss
from harkd.losses.methods import ACSLoss, acs_choose_teacher

LABELS = torch.tensor([0, 1, 2, 0])
# teacher 0: right & very confident on 0, right but unsure on 1, wrong on 2 and 3
T0 = torch.tensor([[5.0, 0.0, 0.0], [0.0, 0.5, 0.0], [3.0, 0.0, 1.0], [0.0, 2.0, 0.0]], dtype=torch.float64)
# teacher 1: right but less confident on 0, right & confident on 1, right on 2, wrong on 3
T1 = torch.tensor([[2.0, 1.0, 0.0], [0.0, 4.0, 0.0], [0.0, 0.0, 2.0], [0.0, 0.0, 3.0]], dtype=torch.float64)
STUDENT = torch.tensor([[1.0, 0.0, -1.0], [0.5, 0.5, 0.0], [0.0, 1.0, 0.0], [0.2, 0.1, 0.3]], dtype=torch.float64)


def _softmax(x):
    e = [math.exp(v - max(x)) for v in x]
    return [v / sum(e) for v in e]


def _kd(s, t, temp):
    p_t = _softmax([v / temp for v in t])
    p_s = _softmax([v / temp for v in s])
    return temp ** 2 * sum(a * math.log(a / b) for a, b in zip(p_t, p_s))


def _ce(s, y):
    return -math.log(_softmax(s)[y])


def test_choice_on_hand_made_logits():
    chosen, followed, conf = acs_choose_teacher([T0, T1], LABELS)
    assert chosen.tolist() == [0, 1, 1, -1]
    assert followed.tolist() == [True, True, True, False]
    assert conf[0] == pytest.approx(_softmax([5.0, 0.0, 0.0])[0])
    assert conf[3] == 0.0


def test_golden_total_and_terms():
    s, t0, t1 = STUDENT.tolist(), T0.tolist(), T1.tolist()
    temp = 2.0
    kd = [_kd(s[0], t0[0], temp), _kd(s[1], t1[1], temp), _kd(s[2], t1[2], temp)]
    ce = _ce(s[3], 0)
    student_emb = torch.tensor([[1.0, 0.0], [0.0, 1.0], [2.0, 2.0], [5.0, 5.0]], dtype=torch.float64)
    e0 = torch.tensor([[0.0, 0.0], [9.0, 9.0], [9.0, 9.0], [0.0, 0.0]], dtype=torch.float64)
    e1 = torch.tensor([[9.0, 9.0], [0.0, 3.0], [2.0, 0.0], [0.0, 0.0]], dtype=torch.float64)
    # chosen embeddings: e0[0], e1[1], e1[2]; sample 3 follows the label -> no semantic term
    sem = ((1 + 0) / 2 + (0 + 4) / 2 + (0 + 4) / 2) / 3
    loss = create_loss("acs", temperature=temp, semantic_weight=0.5)
    assert loss.context_keys == ("labels",) and loss.input_kind == "logits"
    total = loss(STUDENT, [T0, T1], labels=LABELS, student_embedding=student_emb, teacher_embeddings=[e0, e1])
    assert total.item() == pytest.approx((sum(kd) + ce) / 4 + 0.5 * sem, rel=1e-12)
    terms = loss.last_terms
    assert terms["kd"] == pytest.approx(sum(kd) / 3, rel=1e-12)
    assert terms["ce"] == pytest.approx(ce, rel=1e-12)
    assert terms["semantic"] == pytest.approx(sem, rel=1e-12)
    assert terms["followed_fraction"] == 0.75
    assert terms["total"] == pytest.approx(total.item())
    # without embeddings there is no semantic term
    plain = ACSLoss(temperature=temp)(STUDENT, [T0, T1], labels=LABELS)
    assert plain.item() == pytest.approx((sum(kd) + ce) / 4, rel=1e-12)


def test_confidence_weighting():
    temp = 4.0
    _, _, conf = acs_choose_teacher([T0, T1], LABELS)
    s, t0, t1 = STUDENT.tolist(), T0.tolist(), T1.tolist()
    kd = [_kd(s[0], t0[0], temp) * float(conf[0]), _kd(s[1], t1[1], temp) * float(conf[1]),
          _kd(s[2], t1[2], temp) * float(conf[2])]
    value = ACSLoss(confidence_weighting=True)(STUDENT, [T0, T1], labels=LABELS)
    assert value.item() == pytest.approx((sum(kd) + _ce(s[3], 0)) / 4, rel=1e-12)


def test_falls_back_to_labels_when_no_teacher_is_right():
    wrong = torch.tensor([[0.0, 3.0, 0.0], [2.0, 0.0, 0.0], [0.0, 1.0, 0.0], [0.0, 0.0, 1.0]], dtype=torch.float64)
    loss = ACSLoss()
    value = loss(STUDENT, [wrong, wrong * 2], labels=LABELS,
                 student_embedding=torch.randn(4, 3, dtype=torch.float64),
                 teacher_embeddings=[torch.randn(4, 3, dtype=torch.float64)] * 2)
    ce = torch.nn.functional.cross_entropy(STUDENT, LABELS)
    assert value.item() == pytest.approx(ce.item(), rel=1e-12)
    assert loss.last_terms["followed_fraction"] == 0.0
    assert loss.last_terms["kd"] == 0.0 and loss.last_terms["semantic"] == 0.0


def test_gradients_reach_student_only():
    s = STUDENT.clone().requires_grad_(True)
    se = torch.randn(4, 3, dtype=torch.float64, requires_grad=True)
    teachers = [T0.clone().requires_grad_(True), T1.clone().requires_grad_(True)]
    embs = [torch.randn(4, 3, dtype=torch.float64, requires_grad=True) for _ in range(2)]
    ACSLoss()(s, teachers, labels=LABELS, student_embedding=se, teacher_embeddings=embs).backward()
    assert torch.isfinite(s.grad).all() and s.grad.abs().sum() > 0
    assert se.grad[:3].abs().sum() > 0 and torch.equal(se.grad[3], torch.zeros(3, dtype=torch.float64))
    assert all(t.grad is None for t in teachers + embs)


def test_single_teacher_tensor():
    value = ACSLoss()(STUDENT, T1, labels=LABELS)
    both = ACSLoss()(STUDENT, [T1], labels=LABELS)
    assert value.item() == both.item()


def test_errors():
    loss = ACSLoss()
    with pytest.raises(InputError) as err:
        loss(STUDENT, [T0, T1], labels=LABELS, student_embedding=torch.randn(4, 2),
             teacher_embeddings=[torch.randn(4, 2)])
    assert str(err.value) == "acs: got 2 teacher logits but 1 teacher embeddings"
    with pytest.raises(InputError) as err:
        loss(STUDENT, [T0, T1[:3]], labels=LABELS)
    assert str(err.value) == "acs: teacher[1] logits shape (3, 3) differs from student shape (4, 3)"
    with pytest.raises(InputError) as err:
        loss(STUDENT, [T0], labels=LABELS[:3])
    assert str(err.value) == "acs: labels must have shape (4,), got (3,)"
    with pytest.raises(InputError) as err:
        loss(STUDENT, [T0])
    assert str(err.value) == "acs: labels are required"
    with pytest.raises(InputError) as err:
        loss(STUDENT, [T0], labels=LABELS, student_embedding=torch.randn(4, 2))
    assert str(err.value) == "acs: give both student_embedding and teacher_embeddings, or neither"
    with pytest.raises(InputError) as err:
        loss(STUDENT, [T0], labels=LABELS, student_embedding=torch.randn(5, 2), teacher_embeddings=[torch.randn(5, 2)])
    assert str(err.value) == "acs: student_embedding and student logits batch sizes differ (5 vs 4)"
    with pytest.raises(InputError) as err:
        ACSLoss(temperature=0)
    assert str(err.value) == "acs: temperature must be a finite number > 0, got 0"
