"""harkd.registry.Registry: one duplicate policy, lazy built-ins, did-you-mean; and its users."""

import json
import subprocess
import sys
from pathlib import Path

import pytest

from harkd.errors import ConfigError, InputError
from harkd.registry import Registry

SRC = str(Path(__file__).resolve().parents[1] / "src")


def test_same_object_again_is_a_no_op_and_another_needs_overwrite():
    reg = Registry("widget")
    a, b = object(), object()
    assert reg.register("w", a) is a
    assert reg.register("w", a) is a  # a module imported twice registers nothing new
    with pytest.raises(InputError) as err:
        reg.register("w", b)
    assert str(err.value) == "widget 'w' is already registered (pass overwrite=True to replace it)"
    assert reg.get("w") is a
    assert reg.register("w", b, overwrite=True) is b and reg.get("w") is b


def test_unknown_name_suggests_a_close_one_only():
    reg = Registry("widget")
    for name in ("alpha", "beta"):
        reg.register(name, name)
    with pytest.raises(ConfigError) as err:
        reg.get("alpah")
    assert str(err.value) == "unknown widget 'alpah'; did you mean 'alpha'? (valid: alpha, beta)"
    with pytest.raises(ConfigError) as err:
        reg.get("zzz")
    assert str(err.value) == "unknown widget 'zzz' (valid: alpha, beta)"
    with pytest.raises(ConfigError, match=r"^unknown widget '\['a'\]' \(valid: alpha, beta\)$"):
        reg.get(["a"])  # unhashable: the same message, no TypeError


def test_decorator_normalise_contains_and_copy():
    reg = Registry("dataset", normalise=lambda n: n.strip().lower().replace("_", "-"))

    @reg.decorator("My_Set")
    def builder():
        return 1

    assert reg.get(" MY-set ") is builder and "my_set" in reg and 3 not in reg
    assert reg.names() == ["my-set"] and list(reg) == ["my-set"] and len(reg) == 1
    other = reg.copy()
    other.register("second", 2)
    assert "second" in other and "second" not in reg


def test_builtins_are_imported_on_first_lookup(tmp_path, monkeypatch):
    (tmp_path / "harkd_test_plugin.py").write_text(
        "from tests_registry_target import REG\nREG.register('builtin', 42)\n")
    (tmp_path / "tests_registry_target.py").write_text(
        "from harkd.registry import Registry\nREG = Registry('thing', builtins=('harkd_test_plugin',))\n")
    monkeypatch.syspath_prepend(str(tmp_path))
    from tests_registry_target import REG

    assert "harkd_test_plugin" not in sys.modules
    assert REG.names() == ["builtin"] and REG.get("builtin") == 42
    assert "harkd_test_plugin" in sys.modules


def test_a_broken_builtin_is_retried_not_forgotten(tmp_path, monkeypatch):
    monkeypatch.syspath_prepend(str(tmp_path))
    reg = Registry("thing", builtins=("harkd_missing_plugin_module",))
    for _ in range(2):  # the import error is raised on every lookup, never a silently empty registry
        with pytest.raises(ModuleNotFoundError):
            reg.names()


@pytest.mark.parametrize("module, function, builtin", [
    ("harkd.models.registry", "list_models", "harkd.models.stgcn"),
    ("harkd.losses.registry", "list_losses", "harkd.losses.zoo"),
    ("harkd.data.registry", "available_datasets", "harkd.data.mmact"),
])
def test_listing_is_complete_without_importing_the_builtins_first(module, function, builtin):
    """A fresh interpreter that imports only the registry module lists every built-in."""
    code = (f"import json, sys; from {module} import {function}; before = '{builtin}' in sys.modules; "
            f"print(json.dumps([before, {function}(), '{builtin}' in sys.modules]))")
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True,
                         env={"PYTHONPATH": SRC, "OMP_NUM_THREADS": "1"})
    before, names, after = json.loads(out.stdout)
    assert not before and after
    expected = {
        "harkd.models.registry": ["dmm_resnet", "gaf_resnet18", "gaf_vgg16_bn", "gaf_vgg_spamfm", "imu_cnn1d",
                                  "late_fusion", "r2plus1d", "stgcn", "trn", "tsn"],
        "harkd.losses.registry": ["ab", "acs", "at", "cc", "ce", "crd", "dask", "fitnet", "fsp", "ft", "gsdm", "kd", "nst",
                                  "pkt", "rkd", "semantic", "sp", "vid"],
        "harkd.data.registry": ["berkeley-mhad", "mmact", "mmact-views", "utd-mhad"],
    }[module]
    assert names == expected


def test_transform_registry():
    from harkd.data.transforms import TRANSFORMS, InertialTransform, ModalityTransform, build_transforms, \
        register_transform

    assert TRANSFORMS.names() == ["depth", "inertial", "rgb", "skeleton"]
    assert register_transform("inertial", InertialTransform) is InertialTransform  # no-op
    with pytest.raises(InputError, match=r"^transform 'inertial' is already registered \(pass overwrite=True"):
        register_transform("inertial", ModalityTransform)
    # a modality whose kind has no registered transform gets the plain one
    assert type(build_transforms({"thermal": {}}, ["thermal"])["thermal"]) is ModalityTransform


def test_dataset_registry_duplicate_policy():
    from harkd.data import get_dataset, register_dataset
    from harkd.data.utd_mhad import UTDMHAD

    spec = get_dataset("utd-mhad")
    assert register_dataset(spec) is spec
    with pytest.raises(InputError, match=r"^dataset 'utd-mhad' is already registered \(pass overwrite=True"):
        register_dataset(UTDMHAD())
    assert get_dataset("UTD_MHAD") is spec
