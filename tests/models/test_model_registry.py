"""Registry behaviour and exact error messages."""

import pytest
import torch
from torch import nn

from harkd.errors import ConfigError, InputError
from harkd.models import ActionModel, ClassifierHead, create_model, list_models, register_model
from harkd.models import registry

BUILTINS = ["dmm_resnet", "gaf_resnet18", "gaf_vgg16_bn", "gaf_vgg_spamfm", "imu_cnn1d", "late_fusion", "r2plus1d",
            "stgcn", "trn", "tsn"]


@pytest.fixture
def isolated_registry(monkeypatch):
    monkeypatch.setattr(registry, "MODELS", registry.MODELS.copy())


def test_builtins_are_registered():
    assert list_models() == BUILTINS


def test_unknown_model_message_is_exact():
    with pytest.raises(ConfigError) as err:
        create_model("gaf_resnet19", num_classes=5)
    assert str(err.value) == ("unknown model 'gaf_resnet19'; did you mean 'gaf_resnet18'? "
                              "(valid: dmm_resnet, gaf_resnet18, gaf_vgg16_bn, gaf_vgg_spamfm, imu_cnn1d, late_fusion, "
                              "r2plus1d, stgcn, trn, tsn)")


def test_unknown_argument_names_model_and_argument():
    with pytest.raises(InputError) as err:
        create_model("imu_cnn1d", num_classes=5, widht=(8,))
    assert str(err.value) == (
        "model 'imu_cnn1d': unknown argument 'widht'; did you mean 'widths'? (valid: depths, head, in_chans, "
        "kernel_size, num_classes, stem, widths)")


@pytest.mark.parametrize("name, kwargs, message", [
    ("gaf_resnet18", dict(width=0), "model 'gaf_resnet18': width must be an integer >= 1, got 0"),
    ("gaf_resnet18", dict(stem="tiny"), "model 'gaf_resnet18': stem must be one of 'imagenet', 'small', got 'tiny'"),
    ("gaf_resnet18", dict(in_chans=0), "model 'gaf_resnet18': in_chans must be an integer >= 1, got 0"),
    ("imu_cnn1d", dict(kernel_size=4), "model 'imu_cnn1d': kernel_size must be odd, got 4"),
    ("imu_cnn1d", dict(widths=(8, 16), depths=(1,)), "model 'imu_cnn1d': depths must have 2 items, got 1"),
    ("gaf_vgg16_bn", dict(depths=(2, 2)), "model 'gaf_vgg16_bn': depths must have 5 items, got 2"),
    ("tsn", dict(head=dict(drop_rate=1.0)), "model 'tsn': drop_rate must be a number in [0, 1), got 1.0"),
    ("trn", dict(num_segments=1), "model 'trn': num_segments must be an integer >= 2, got 1"),
    ("stgcn", dict(strategy="hops"),
     "model 'stgcn': partition strategy must be one of 'uniform', 'distance', 'spatial', got 'hops'"),
    ("stgcn", dict(head=dict(semantic_act="tanh")),
     "model 'stgcn': semantic_act must be one of 'relu', 'none', got 'tanh'"),
    ("stgcn", dict(drop_rate=0.2), "model 'stgcn': 'drop_rate' is a head option: pass it in head, e.g. "
                                   "head={'drop_rate': 0.2}"),
    ("stgcn", dict(head=dict(dropout=0.2)), "model 'stgcn': unknown head option 'dropout'; did you mean 'drop_rate'? "
                                            "(valid: drop_rate, semantic_act, semantic_bn, semantic_dim)"),
    ("stgcn", dict(head=[0.2]), "model 'stgcn': head must be a mapping of head options, got [0.2]"),
])
def test_bad_values_are_clear_input_errors(name, kwargs, message):
    with pytest.raises(InputError) as err:
        create_model(name, num_classes=5, **kwargs)
    assert str(err.value) == message


def test_bad_num_classes():
    with pytest.raises(InputError, match="^model 'tsn': num_classes must be an integer >= 1, got 0$"):
        create_model("tsn", num_classes=0)


def test_register_custom_model_without_library_edits(isolated_registry):
    @register_model("toy_mlp")
    class ToyMLP(ActionModel):
        def __init__(self, num_classes, in_chans=4, hidden=8, head=None):
            super().__init__()
            self.stages = nn.ModuleDict(
                {"fc": nn.Sequential(nn.Linear(in_chans, hidden), nn.ReLU(), nn.Unflatten(1, (hidden, 1)))})
            self.head = ClassifierHead(hidden, num_classes, **(head or {}))
            self._finish([{"name": "fc", "num_chs": hidden}])

    model = create_model("toy_mlp", num_classes=3, head={"semantic_dim": 5})
    assert model.feature_names == ("fc", "pool", "embedding", "logits")
    assert model(torch.randn(2, 4)).shape == (2, 3)
    assert "toy_mlp" in list_models()
    assert register_model("toy_mlp")(ToyMLP) is ToyMLP  # the same builder again: a no-op
    other = type("OtherMLP", (ToyMLP,), {})
    with pytest.raises(InputError) as err:
        register_model("toy_mlp")(other)
    assert str(err.value) == "model 'toy_mlp' is already registered (pass overwrite=True to replace it)"
    register_model("toy_mlp", overwrite=True)(other)
    assert isinstance(create_model("toy_mlp", num_classes=3), other)


def test_in_chans_none_keeps_default_and_six_channel_gaf():
    assert create_model("imu_cnn1d", 5, widths=(4,), depths=(1,)).in_chans == 3
    model = create_model("gaf_resnet18", 5, in_chans=6, width=4, depths=(1,), stem="small").eval()
    assert model(torch.randn(1, 6, 8, 8)).shape == (1, 5)


def test_vgg_classic_pool_and_fc_layers():
    model = create_model("gaf_vgg16_bn", 4, width=2, depths=(1, 1, 1, 1, 1), pool_size=2).eval()
    assert model.num_features == 16 * 2 * 2
    inter = model.forward_intermediates(torch.randn(2, 3, 64, 64))
    assert [inter[f"block{i}"].shape[-1] for i in range(1, 6)] == [32, 16, 8, 4, 2]
    assert inter["hidden"].shape == (2, 300) and (inter["hidden"] >= 0).all()
    assert inter["embedding"].shape == (2, 300) and (inter["embedding"] < 0).any()  # linear FC7 by default


def test_a_model_declares_its_default_head_and_a_head_argument_updates_it():
    from harkd.models.registry import model_facts

    assert model_facts("gaf_vgg16_bn") == ("channels_first", {"semantic_dim": 300, "semantic_act": "none"})
    assert model_facts("trn") == ("segments", {"semantic_dim": 256})
    assert model_facts("late_fusion") == ("modalities", {})
    model = create_model("gaf_vgg16_bn", 4, width=2, depths=(1, 1, 1, 1, 1), head={"drop_rate": 0.5})
    assert model.head.pre_logits_dim == 300 and len(model.head.semantic) == 1  # linear FC7 kept
    assert model.head.drop.p == 0.5
    assert create_model("gaf_vgg16_bn", 4, width=2, depths=(1, 1, 1, 1, 1),
                        head={"semantic_dim": None}).head.semantic is None
    assert create_model("dmm_resnet", 4, width=4, depths=(1,)).head.drop.p == 0.3


def test_head_options_reach_a_builder_only_through_its_head_parameter(isolated_registry):
    @register_model("toy_plain")
    def toy_plain(num_classes, in_chans=4):
        return create_model("imu_cnn1d", num_classes, in_chans=in_chans, widths=(4,), depths=(1,))

    assert create_model("toy_plain", 3).head.semantic is None
    with pytest.raises(InputError) as err:
        create_model("toy_plain", 3, head={"drop_rate": 0.1})
    assert str(err.value) == "model 'toy_plain': takes no head options, got head={'drop_rate': 0.1}"
    with pytest.raises(InputError) as err:
        register_model("toy_bad", head={"hidden": 3})
    assert str(err.value) == ("model 'toy_bad': unknown head option 'hidden' "
                              "(valid: drop_rate, semantic_act, semantic_bn, semantic_dim)")


def test_late_fusion_is_a_registered_model_sized_from_each_input_shape():
    branches = {"skeleton": {"name": "stgcn", "args": {"widths": (4,), "strides": (1,), "kernel_t": 3}},
                "inertial": {"name": "imu_cnn1d", "args": {"widths": (4,), "depths": (1,)},
                             "head": {"semantic_dim": 3}}}
    shapes = {"skeleton": (3, 8, 20), "inertial": (6, 24)}
    model = create_model("late_fusion", 5, input_shapes=shapes, branches=branches, head={"drop_rate": 0.2})
    assert model.branches["inertial"].in_chans == 6 and model.head.drop.p == 0.2
    x = {"skeleton": torch.randn(2, 3, 8, 20), "inertial": torch.randn(2, 6, 24)}
    assert model.eval()(x).shape == (2, 5)
    with pytest.raises(ConfigError) as err:
        create_model("late_fusion", 5, input_shapes=shapes, branches={"skeleton": branches["skeleton"]})
    assert str(err.value) == ("config key 'model.args.branches': late_fusion needs one branch per input "
                              "['skeleton', 'inertial'], got ['skeleton']")
    with pytest.raises(ConfigError) as err:
        create_model("late_fusion", 5, input_shapes=shapes,
                     branches={**branches, "inertial": {"name": "imu_cnn1d", "heads": {}}})
    assert str(err.value) == ("unknown config key 'heads'; did you mean 'head'? (valid: args, head, name) "
                              "in 'model.args.branches.inertial'")
