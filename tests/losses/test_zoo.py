"""Interface tests of the baseline loss zoo: registry, docstrings, gradients, zero/positive, errors.

Golden values against independent numpy computations are in test_zoo_golden.py, the
CRD-specific tests in test_zoo_crd.py.
"""

from __future__ import annotations

import pytest
import torch
from torch import nn

from harkd.errors import ConfigError, InputError
from harkd.losses import INPUT_KINDS, DistillLoss, create_loss, list_losses
from harkd.losses.registry import loss_class

ZOO = ("kd", "fitnet", "at", "sp", "cc", "rkd", "pkt", "vid", "nst", "fsp", "ft", "ab", "crd")
METHODS = ("acs", "dask", "gsdm", "semantic")  # the method losses (tests/losses/test_methods_*.py)
STUDENT_ONLY = ("ce",)  # the student's own term
CONTRACT = sorted(ZOO + METHODS + STUDENT_ONLY)  # every registered loss, exactly (test_contract_covers_the_registry_exactly)
ZERO_WHEN_EQUAL = ("kd", "at", "sp", "cc", "rkd", "pkt", "nst", "fsp")

PAPERS = {  # a word of each paper's citation the docstring must contain
    "kd": "Hinton", "fitnet": "Romero", "at": "Zagoruyko", "sp": "Tung", "cc": "Peng", "rkd": "Park",
    "pkt": "Passalis", "vid": "Ahn", "nst": "Huang", "fsp": "Yim", "ft": "Kim", "ab": "Heo", "crd": "Tian",
}

# name -> (student_shape, teacher_shape, batch, extra kwargs); list shapes = feature_maps
SPECS = {
    "kd": ((5,), (5,), 4, {}),
    "fitnet": ((3, 4, 4), (5, 2, 2), 2, {}),
    "at": ([(3, 4, 4), (4, 2, 2)], [(5, 4, 4), (6, 4, 4)], 2, {}),
    "sp": ((3, 4, 4), (5, 2, 2), 4, {}),
    "cc": ((6,), (8,), 4, {}),
    "rkd": ((6,), (8,), 4, {}),
    "pkt": ((6,), (8,), 4, {}),
    "vid": ((3, 4, 4), (5, 4, 4), 2, {}),
    "nst": ((3, 4, 4), (5, 2, 2), 2, {}),
    "fsp": ([(3, 4, 4), (4, 2, 2), (4, 2, 2)], [(3, 8, 8), (4, 2, 2), (4, 4, 4)], 2, {}),
    "ft": ((3, 4, 4), (4, 4, 4), 2, {}),
    "ab": ((3, 6), (5, 6), 3, {}),
    "crd": ((6,), (8,), 4, {"num_samples": 10, "feat_dim": 8}),
}


def _make(shape, batch, requires_grad=False):
    if isinstance(shape, list):
        return [torch.randn(batch, *s, requires_grad=requires_grad) for s in shape]
    return torch.randn(batch, *shape, requires_grad=requires_grad)


def _leaves(x):
    return x if isinstance(x, list) else [x]


def _detach(x):
    return [t.detach() for t in x] if isinstance(x, list) else x.detach()


def _context(name, batch):
    return {"index": torch.arange(batch)} if name == "crd" else {}


def _build(name, student_shape=None, teacher_shape=None):
    ss, ts, _, kwargs = SPECS[name]
    return create_loss(name, student_shape=student_shape or ss, teacher_shape=teacher_shape or ts, **kwargs)


# ----------------------------------------------------------------------------- registry / docs
@pytest.mark.parametrize("name", ZOO)
def test_docstring_names_paper_and_valid_input_kind(name):
    loss = _build(name)
    cls = type(loss)
    assert isinstance(loss, DistillLoss)
    assert cls.registry_name == name
    assert cls.input_kind in INPUT_KINDS
    doc = cls.__doc__ or ""
    assert PAPERS[name] in doc and "Formula" in doc and "Hyper-parameters" in doc and "Inputs" in doc
    assert any(str(y) in doc for y in range(2014, 2021))


def test_contract_covers_the_registry_exactly():
    assert CONTRACT == list_losses()


@pytest.mark.parametrize("name", CONTRACT)
def test_registered_class_contract(name):
    cls = loss_class(name)
    assert issubclass(cls, DistillLoss) and cls.registry_name == name
    assert cls.input_kind in INPUT_KINDS
    assert isinstance(cls.context_keys, tuple) and all(isinstance(k, str) for k in cls.context_keys)
    assert isinstance(cls.multi_teacher, bool)
    assert (cls.__doc__ or "").strip(), f"{name} has no docstring"


def test_context_keys():
    assert _build("crd").context_keys == ("index",)
    for name in ZOO:
        if name != "crd":
            assert _build(name).context_keys == ()


def test_task_hooks_default_to_nothing_and_soft_target_losses_name_their_temperature():
    for name in CONTRACT:
        loss = _build(name) if name in ZOO else create_loss(name)
        if name != "gsdm":  # the one loss that computes its own context per batch
            assert loss.prepare(None, [(0, "")]) == {} and loss.bind(None) is None
            assert loss.extra_teacher_keys == () and loss.per_teacher_keys == ()
        assert (loss.temperature is not None) == (name in ("kd", "acs", "crd")), name


def test_a_registered_loss_must_be_a_distill_loss():
    from harkd.losses import register_loss

    class Plain(nn.Module):
        input_kind = "logits"

    with pytest.raises(InputError) as err:
        register_loss("plain")(Plain)
    assert str(err.value) == "loss 'plain' must be a subclass of harkd.losses.DistillLoss"
    assert "plain" not in list_losses()


def test_unknown_loss_name_is_config_error():
    with pytest.raises(ConfigError, match=r"unknown loss 'kdd'; did you mean 'kd'\?"):
        create_loss("kdd")


# ----------------------------------------------------------------------------- gradients
@pytest.mark.parametrize("name", ZOO)
def test_gradients_reach_student_and_learned_parts_not_teacher(name):
    torch.manual_seed(0)
    ss, ts, batch, _ = SPECS[name]
    loss = _build(name)
    student = _make(ss, batch, requires_grad=True)
    teacher = _make(ts, batch, requires_grad=True)  # leaves with grad, passed detached
    value = loss(student, _detach(teacher), **_context(name, batch))
    assert value.dim() == 0 and torch.isfinite(value)
    value.backward()
    for s in _leaves(student):
        assert s.grad is not None and torch.isfinite(s.grad).all() and s.grad.abs().sum() > 0
    for t in _leaves(teacher):
        assert t.grad is None
    for pname, p in loss.named_parameters():
        if name == "ft" and pname.startswith("paraphraser."):
            assert p.grad is None  # frozen during transfer (trained by paraphraser_reconstruction_loss)
            continue
        assert p.grad is not None, pname
        assert torch.isfinite(p.grad).all() and p.grad.abs().sum() > 0, pname


@pytest.mark.parametrize("name", ["kd", "sp", "rkd", "at"])
def test_teacher_without_requires_grad(name):
    torch.manual_seed(1)
    ss, ts, batch, _ = SPECS[name]
    student = _make(ss, batch, requires_grad=True)
    teacher = _make(ts, batch)
    _build(name)(student, teacher).backward()
    assert all(s.grad is not None for s in _leaves(student))
    assert all(t.grad is None and not t.requires_grad for t in _leaves(teacher))


# ----------------------------------------------------------------------------- zero / positive
@pytest.mark.parametrize("name", ZERO_WHEN_EQUAL)
def test_zero_when_student_equals_teacher(name):
    torch.manual_seed(2)
    ss, _, batch, _ = SPECS[name]
    loss = _build(name, ss, ss)
    x = _make(ss, batch)
    y = [t.clone() for t in x] if isinstance(x, list) else x.clone()
    assert abs(float(loss(x, y))) < 1e-6


@pytest.mark.parametrize("name", ZOO)
def test_positive_on_different_inputs(name):
    torch.manual_seed(3)
    ss, ts, batch, _ = SPECS[name]
    loss = _build(name)
    assert float(loss(_make(ss, batch), _make(ts, batch), **_context(name, batch)).detach()) > 1e-6


# ----------------------------------------------------------------------------- construction / errors
@pytest.mark.parametrize("name", ZOO)
def test_create_loss_builds_each(name):
    ss, ts, _, kwargs = SPECS[name]
    loss = create_loss(name, student_shape=ss, teacher_shape=ts, **kwargs)
    assert isinstance(loss, nn.Module) and loss.student_shape == ss and loss.teacher_shape == ts


def test_kd_mismatched_shapes_exact_message():
    with pytest.raises(InputError) as err:
        create_loss("kd", student_shape=(10,), teacher_shape=(12,))
    assert str(err.value) == ("kd: student_shape (10,) and teacher_shape (12,) must be equal "
                              "(one score per class for both)")
    with pytest.raises(InputError) as err:
        create_loss("kd")(torch.zeros(4, 10), torch.zeros(4, 12))
    assert str(err.value) == "kd: student logits (4, 10) and teacher logits (4, 12) must have the same shape"


def test_fitnet_shape_errors_exact_message():
    with pytest.raises(InputError) as err:
        create_loss("fitnet", teacher_shape=(5, 4, 4))
    assert str(err.value) == ("fitnet: student_shape is required "
                              "(the shape of one student sample: (C, H, W), (C, L) or (D,))")
    loss = create_loss("fitnet", student_shape=(3, 4, 4), teacher_shape=(5, 4, 4))
    with pytest.raises(InputError) as err:
        loss(torch.zeros(2, 4, 4, 4), torch.zeros(2, 5, 4, 4))
    assert str(err.value) == ("fitnet: student of shape (2, 4, 4, 4) does not match student_shape (3, 4, 4) "
                              "(expected (B, 3, ...) with 4 dims)")


def test_batch_mismatch_exact_message():
    with pytest.raises(InputError) as err:
        create_loss("sp")(torch.zeros(4, 3), torch.zeros(3, 3))
    assert str(err.value) == "sp: student and teacher batch sizes differ (4 vs 3)"


def test_fsp_channel_mismatch_exact_message():
    with pytest.raises(InputError) as err:
        create_loss("fsp", student_shape=[(3, 4, 4), (4, 2, 2)], teacher_shape=[(3, 4, 4), (6, 2, 2)])
    assert str(err.value) == ("fsp: layer 1 has 4 student channels but 6 teacher channels "
                              "(FSP matrices need equal channel counts)")
    with pytest.raises(InputError, match="fsp: needs at least 2 layers"):
        create_loss("fsp")([torch.zeros(2, 3, 4, 4)], [torch.zeros(2, 3, 4, 4)])


@pytest.mark.parametrize("name,student,teacher,message", [
    ("at", [torch.zeros(2, 3, 4, 4)] * 2, [torch.zeros(2, 3, 4, 4)],
     "at: got 2 student feature maps and 1 teacher feature maps"),
    ("at", torch.zeros(2, 3), torch.zeros(2, 3),
     "at: student must be a (B, C, H, W) or (B, C, L) feature map, got shape (2, 3)"),
    ("rkd", torch.zeros(2, 3), torch.zeros(2, 3), "rkd: needs a batch of at least 3 samples, got 2"),
    ("pkt", torch.zeros(1, 3), torch.zeros(1, 3), "pkt: needs a batch of at least 2 samples, got 1"),
    ("nst", torch.zeros(2, 3, 4, 4), torch.zeros(2, 3, 16), "nst: student and teacher must have the same "
     "number of dims, got (2, 3, 4, 4) and (2, 3, 16)"),
    ("kd", torch.zeros(4, 3, dtype=torch.long), torch.zeros(4, 3),
     "kd: student must be floating point, got torch.int64"),
])
def test_forward_input_errors(name, student, teacher, message):
    with pytest.raises(InputError) as err:
        create_loss(name)(student, teacher)
    assert str(err.value) == message


@pytest.mark.parametrize("name,kwargs,fragment", [
    ("kd", {"temperature": 0}, "kd: temperature must be a finite number > 0, got 0"),
    ("pkt", {"reduction": "mean"}, "pkt: reduction must be 'sum' or 'batchmean', got 'mean'"),
    ("ft", {"student_shape": (3, 4, 4), "teacher_shape": (4, 4, 4), "p": 3}, "ft: p must be 1 or 2, got 3"),
    ("vid", {"student_shape": (3, 4, 4), "teacher_shape": (4, 4)}, "vid: student_shape (3, 4, 4) and "
     "teacher_shape (4, 4) must have the same number of dims"),
])
def test_bad_hyper_parameters(name, kwargs, fragment):
    with pytest.raises(InputError) as err:
        create_loss(name, **kwargs)
    assert str(err.value) == fragment


def test_unknown_keyword_is_config_error():
    with pytest.raises(ConfigError, match="loss 'kd'"):
        create_loss("kd", tau=3)


def test_learned_loss_state_dict_round_trip():
    torch.manual_seed(4)
    a = _build("vid")
    b = _build("vid")
    b.load_state_dict(a.state_dict())
    s, t = torch.randn(2, 3, 4, 4), torch.randn(2, 5, 4, 4)
    assert torch.equal(a(s, t), b(s, t))


def test_losses_declare_what_they_consume():
    """The distillation builder reads these declarations instead of lists of names."""
    declared = {name: loss_class(name) for name in CONTRACT}
    assert sorted(n for n, c in declared.items() if c.temperature_role == "soft_targets") == ["acs", "kd"]
    assert sorted(n for n, c in declared.items() if c.temperature_role == "contrastive") == ["crd"]
    assert sorted(n for n, c in declared.items() if c.ensemble) == ["dask", "kd"]
    assert sorted(n for n, c in declared.items() if not c.reads_teacher) == ["ce"]
    assert {n: c.context_args for n, c in declared.items() if c.context_args} == {
        "ce": ("label_smoothing",), "crd": ("num_samples",), "gsdm": ("student_segments", "teacher_segments")}


def test_a_loss_takes_its_declared_context_and_an_argument_wins():
    from harkd.losses.registry import LossContext

    context = LossContext((8,), (8,), num_samples=10, label_smoothing=0.2)
    assert create_loss("crd", context, feat_dim=4).num_samples == 10
    assert create_loss("crd", context, feat_dim=4, num_samples=12).num_samples == 12
    assert create_loss("ce", context).label_smoothing == 0.2
    assert create_loss("kd", context).temperature == 4.0  # declares no context field: takes none


@pytest.mark.parametrize("attrs, message", [
    ({"temperature_role": "softmax"},
     "loss 'bad' must set temperature_role to None or one of ('soft_targets', 'contrastive')"),
    ({"context_args": ("batch_size",)},
     "loss 'bad': context_args 'batch_size' is no LossContext field (fields: num_samples, student_segments, "
     "teacher_segments, label_smoothing)"),
])
def test_a_wrong_declaration_is_refused_at_registration(attrs, message):
    from harkd.losses import register_loss

    with pytest.raises(InputError) as err:
        register_loss("bad")(type("Bad", (DistillLoss,), attrs))
    assert str(err.value) == message
    assert "bad" not in list_losses()


def test_ce_is_the_cross_entropy_with_label_smoothing():
    logits, labels = torch.randn(6, 4), torch.tensor([0, 1, 2, 3, 0, 1])
    ce = create_loss("ce", label_smoothing=0.1)
    torch.testing.assert_close(ce(logits, labels), nn.functional.cross_entropy(logits, labels, label_smoothing=0.1))
    with pytest.raises(InputError, match=r"^ce: label_smoothing must be a number in \[0, 1\), got 1\.0$"):
        create_loss("ce", label_smoothing=1.0)
