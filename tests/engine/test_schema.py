import dataclasses
import re
from typing import Literal, Optional

import pytest
import yaml

from harkd.engine.schema import apply_overrides, from_dict, parse_override, ranged, to_dict
from harkd.errors import ConfigError


@dataclasses.dataclass
class Optim:
    name: Literal["adam", "sgd"] = "adam"
    lr: float = 1e-3
    milestones: list[int] = dataclasses.field(default_factory=list)


@dataclasses.dataclass
class Experiment:
    name: str
    epochs: int = 10
    seed: Optional[int] = None
    deterministic: bool = False
    optim: Optim = dataclasses.field(default_factory=Optim)
    model: dict = dataclasses.field(default_factory=dict)

    def __post_init__(self):
        if self.epochs < 1:
            raise ValueError(f"epochs must be >= 1, got {self.epochs}")


def test_builds_nested_with_defaults_and_coercion():
    cfg = from_dict(Experiment, {"name": "x", "optim": {"lr": 1, "milestones": [3, 6]}})
    assert cfg.optim.lr == 1.0 and isinstance(cfg.optim.lr, float)
    assert cfg.optim.milestones == [3, 6]
    assert cfg.epochs == 10 and cfg.seed is None
    assert to_dict(cfg)["optim"] == {"name": "adam", "lr": 1.0, "milestones": [3, 6]}


def test_unknown_key_names_path_and_suggests_closest():
    with pytest.raises(ConfigError) as err:
        from_dict(Experiment, {"name": "x", "optim": {"lrr": 0.1}})
    assert str(err.value) == (
        "unknown config key 'lrr'; did you mean 'lr'? (valid: lr, milestones, name) in 'optim'"
    )


def test_top_level_unknown_key():
    with pytest.raises(ConfigError, match=re.escape("unknown config key 'epoch'; did you mean 'epochs'?")):
        from_dict(Experiment, {"name": "x", "epoch": 3})


@pytest.mark.parametrize(
    "data, message",
    [
        ({"name": "x", "epochs": "ten"}, "config key 'epochs': expected an integer, got 'ten'"),
        ({"name": "x", "deterministic": "yes"}, "config key 'deterministic': expected true or false, got 'yes'"),
        ({"name": "x", "optim": {"name": "rmsprop"}}, "config key 'optim.name': 'rmsprop' is not one of 'adam', 'sgd'"),
        ({"name": "x", "optim": {"milestones": 5}}, "config key 'optim.milestones': expected a list, got 5"),
        ({"epochs": 3}, "missing required config key 'name'"),
        ({"name": "x", "epochs": 0}, "config: epochs must be >= 1, got 0"),
    ],
)
def test_type_errors_are_exact(data, message):
    with pytest.raises(ConfigError) as err:
        from_dict(Experiment, data)
    assert str(err.value) == message


def test_overrides_parse_yaml_values_and_create_sections():
    base = {"name": "x", "optim": {"lr": 0.1}}
    out = apply_overrides(base, ["optim.lr=2e-4", "epochs=3", "model.width=16", "optim.milestones=[2, 4]"])
    assert out == {"name": "x", "epochs": 3, "optim": {"lr": 2e-4, "milestones": [2, 4]}, "model": {"width": 16}}
    assert base == {"name": "x", "optim": {"lr": 0.1}}  # input untouched
    cfg = from_dict(Experiment, out)
    assert cfg.optim.lr == 2e-4


def test_override_errors():
    with pytest.raises(ConfigError, match=re.escape("override 'epochs' must look like key.path=value")):
        parse_override("epochs")
    with pytest.raises(ConfigError, match=re.escape("override 'name.x=1': 'name' is not a section")):
        apply_overrides({"name": "x"}, ["name.x=1"])


def test_yaml_scientific_notation_is_float():
    from harkd.engine.schema import load_yaml

    assert load_yaml("lr: 2e-4\nn: 3\ns: 1e") == {"lr": 2e-4, "n": 3, "s": "1e"}


def test_yaml_refuses_a_key_given_twice():
    from harkd.engine.schema import load_yaml

    with pytest.raises(yaml.YAMLError, match=re.escape("key 'lr' is given twice (line 3)")):
        load_yaml("optim:\n  lr: 1\n  lr: 2\n")
    assert load_yaml("a: &x {b: 1}\nc: {<<: *x, b: 2}\n") == {"a": {"b": 1}, "c": {"b": 2}}  # merge keys still override


def test_overrides_index_lists():
    base = {"losses": [{"name": "ce"}, {"name": "kd", "weight": 1.0}]}
    assert apply_overrides(base, ["losses.1.weight=0.5"])["losses"][1] == {"name": "kd", "weight": 0.5}
    with pytest.raises(ConfigError, match=re.escape("override 'losses.2.weight=1': 'losses.2' is not an index of a 2-item list")):
        apply_overrides(base, ["losses.2.weight=1"])


@dataclasses.dataclass
class Ranged:
    rate: float = ranged(1.0, low=0, closed_low=False)
    fraction: float = ranged(0.5, low=0, high=1, closed_high=False)
    clip: Optional[float] = ranged(None, low=0, closed_low=False)
    steps: list[int] = ranged(default_factory=list, low=1)


@pytest.mark.parametrize("data, message", [
    ({"rate": 0}, "config key 'rate': must be > 0, got 0.0"),
    ({"rate": float("nan")}, "config key 'rate': must be > 0, got nan"),
    ({"fraction": 1}, "config key 'fraction': must be in [0, 1), got 1.0"),
    ({"fraction": -0.5}, "config key 'fraction': must be in [0, 1), got -0.5"),
    ({"clip": -1}, "config key 'clip': must be > 0, got -1.0"),
    ({"steps": [3, 0]}, "config key 'steps[1]': must be >= 1, got 0"),
])
def test_ranged_fields_name_key_value_and_range(data, message):
    with pytest.raises(ConfigError) as err:
        from_dict(Ranged, data)
    assert str(err.value) == message


def test_ranged_fields_accept_their_bounds_and_none():
    cfg = from_dict(Ranged, {"rate": 1e-9, "fraction": 0, "clip": None, "steps": [1]})
    assert (cfg.rate, cfg.fraction, cfg.clip, cfg.steps) == (1e-9, 0.0, None, [1])


def test_check_ranges_covers_a_tree_built_in_python():
    from harkd.engine.schema import check_ranges

    @dataclasses.dataclass
    class Outer:
        inner: Ranged
        items: list = dataclasses.field(default_factory=list)

    check_ranges(Outer(Ranged()))
    with pytest.raises(ConfigError, match=re.escape("config key 'items[1].rate': must be > 0, got -2")):
        check_ranges(Outer(Ranged(), [Ranged(), Ranged(rate=-2)]))
    with pytest.raises(ConfigError, match=re.escape("config key 'inner.fraction': must be in [0, 1), got 3")):
        check_ranges(Outer(Ranged(fraction=3)))
