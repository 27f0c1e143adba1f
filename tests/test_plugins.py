"""Plug-ins (harkd.plugins): the ``imports`` config key, ``--import`` on every command, the entry-point group."""

from __future__ import annotations

import argparse
import importlib.metadata
import sys
import textwrap

import pytest
import yaml

import harkd.cli.main as cli_main
import harkd.plugins
from harkd.errors import ConfigError
from harkd.models.registry import MODELS

MODEL_PLUGIN = '''
import torch
from harkd.models import create_model
from harkd.models.registry import register_model

LOADED = globals().get("LOADED", 0) + 1


@register_model("plugin_cnn")
def plugin_cnn(num_classes, in_chans=3, **options):
    """A user's model: harkd's 1D CNN under another name."""
    return create_model("imu_cnn1d", num_classes, in_chans=in_chans, widths=[8], depths=[1])
'''


@pytest.fixture
def plugin_dir(tmp_path, monkeypatch):
    """A working directory with the user's plug-in modules; the plug-ins are forgotten afterwards."""
    (tmp_path / "my_models.py").write_text(MODEL_PLUGIN)
    (tmp_path / "broken.py").write_text("import math\n\nVALUE = 1 / 0\n")
    (tmp_path / "needs_missing.py").write_text("import not_installed_anywhere\n")
    monkeypatch.chdir(tmp_path)
    monkeypatch.setenv("HARKD_CACHE_DIR", str(tmp_path / "cache"))
    yield tmp_path
    MODELS._items.pop("plugin_cnn", None)
    for name in ("my_models", "broken", "needs_missing", "my_dataset"):
        sys.modules.pop(name, None)
    while str(tmp_path) in sys.path:
        sys.path.remove(str(tmp_path))


def run(capsys, *argv):
    code = cli_main.main(list(argv))
    out, err = capsys.readouterr()
    return code, out, err


def forget(name: str) -> None:
    MODELS._items.pop("plugin_cnn", None)
    sys.modules.pop(name, None)


def test_the_imports_key_is_honoured_by_train_and_again_by_evaluate_and_export(plugin_dir, synth_utd, capsys):
    config = {"name": "plug", "imports": ["my_models"], "output_dir": str(plugin_dir / "runs"),
              "data": {"dataset": "utd-mhad", "root": str(synth_utd), "modalities": {"inertial": {"length": 32}}},
              "model": {"name": "plugin_cnn", "input": "inertial"}, "train": {"epochs": 1, "batch_size": 16}}
    (plugin_dir / "plug.yaml").write_text(yaml.safe_dump(config))
    code, out, err = run(capsys, "train", "plug.yaml", "--evaluate", "none")
    assert code == 0, err
    saved = yaml.safe_load((plugin_dir / "runs" / "plug" / "config.yaml").read_text())
    assert saved["imports"] == ["my_models"]
    for argv in (["evaluate", "runs/plug", "--json"], ["export", "runs/plug", "--out", "plug.onnx"]):
        forget("my_models")  # a fresh process: only config.yaml's imports bring the model back
        code, out, err = run(capsys, *argv)
        assert code == 0, err
        assert sys.modules["my_models"].LOADED == 1


def every_parser(parser: argparse.ArgumentParser, path=()):
    yield path, parser
    for action in parser._actions:
        if isinstance(action, argparse._SubParsersAction):
            for name, sub in action.choices.items():
                yield from every_parser(sub, (*path, name))


def test_every_command_takes_import(plugin_dir):
    commands = dict(every_parser(cli_main.build_parser()))
    assert {"train", "distill", "evaluate", "export", "compare", ("data", "info")} <= {
        p[0] if len(p) == 1 else p for p in commands}
    for path, parser in commands.items():
        assert "--import" in parser._option_string_actions, path


@pytest.mark.parametrize("argv", [["train", "nothere.yaml"], ["distill", "nothere.yaml"], ["evaluate", "nothere"],
                                  ["export", "nothere", "--out", "x.onnx"], ["compare", "a", "--baseline", "b"],
                                  ["data", "info", "--root", "nothere"]])
def test_import_runs_before_the_command(plugin_dir, capsys, argv):
    code, out, err = run(capsys, *argv, "--import", "my_models")
    assert "my_models" in sys.modules and "plugin_cnn" in MODELS._items
    assert code != 0 and err.startswith("harkd: error: ") and len(err.strip().splitlines()) == 1


@pytest.mark.parametrize("name, line", [
    ("nosuch_module", "harkd: error: cannot import plug-in module 'nosuch_module' (--import): no module named "
                      "'nosuch_module' on the Python path (the current directory included)"),
    ("broken", "harkd: error: plug-in module 'broken' (--import) failed to import: ZeroDivisionError: division by zero "
               "(broken.py, line 3)"),
    ("needs_missing", "harkd: error: plug-in module 'needs_missing' (--import) failed to import: ModuleNotFoundError: "
                      "No module named 'not_installed_anywhere' (needs_missing.py, line 1)"),
    ("plugins/nothere.py", "harkd: error: cannot import plug-in file 'plugins/nothere.py' (--import): file not found"),
    ("broken.py", "harkd: error: plug-in file 'broken.py' (--import) failed to import: ZeroDivisionError: division by "
                  "zero (broken.py, line 3)"),
])
def test_an_import_failure_is_one_line_naming_the_module(plugin_dir, capsys, name, line):
    code, out, err = run(capsys, "data", "info", "--root", ".", "--import", name)
    assert code == 2 and err.strip() == line


def test_a_failing_import_in_a_config_names_the_config(plugin_dir, capsys):
    (plugin_dir / "bad.yaml").write_text("name: x\nimports: [broken]\ndata: {modalities: {inertial: {}}}\n"
                                         "model: {name: imu_cnn1d, input: inertial}\n")
    code, out, err = run(capsys, "train", "bad.yaml")
    assert err.strip() == ("harkd: error: plug-in module 'broken' (imports in bad.yaml) failed to import: "
                           "ZeroDivisionError: division by zero (broken.py, line 3)")


def test_a_py_file_is_imported_once_by_its_path(plugin_dir):
    (plugin_dir / "plugins").mkdir()
    (plugin_dir / "plugins" / "my_dataset.py").write_text("COUNT = globals().get('COUNT', 0) + 1\n")
    first = harkd.plugins.import_plugin("plugins/my_dataset.py")
    again = harkd.plugins.import_plugin(str(plugin_dir / "plugins" / "my_dataset.py"))
    assert first is again and first.COUNT == 1 and sys.modules["my_dataset"] is first


def test_entry_points_of_the_group_are_imported_once(plugin_dir, monkeypatch):
    seen = []

    def entry_points(group):
        seen.append(group)
        return [importlib.metadata.EntryPoint("mine", "my_models", "harkd.plugins")]

    sys.path.append(str(plugin_dir))
    monkeypatch.setattr(importlib.metadata, "entry_points", entry_points)
    monkeypatch.setattr(harkd.plugins, "_entry_points_loaded", False)
    harkd.plugins.load_plugins()
    harkd.plugins.load_plugins(["my_models"])
    assert seen == ["harkd.plugins"] and "plugin_cnn" in MODELS._items
    monkeypatch.setattr(harkd.plugins, "_entry_points_loaded", False)
    monkeypatch.setattr(importlib.metadata, "entry_points",
                        lambda group: [importlib.metadata.EntryPoint("bad", "broken", "harkd.plugins")])
    with pytest.raises(ConfigError) as err:
        harkd.plugins.load_plugins()
    assert str(err.value) == ("harkd.plugins entry point 'bad' (broken) failed to import: ZeroDivisionError: division "
                              "by zero (broken.py, line 3)")


def test_a_dataset_plugin_serves_data_info(plugin_dir, capsys):
    from harkd.data.registry import DATASETS
    from harkd.data.synth.phone_har import write_phone_har

    write_phone_har(plugin_dir / "rec", subjects=2, actions=["walk", "wave"])
    (plugin_dir / "my_dataset.py").write_text(textwrap.dedent('''
        from harkd.data.manifest import ManifestDataset
        from harkd.data.registry import register_dataset

        DESCRIPTION = {"path": "labels.csv", "key": "recording_id", "subject": "subject", "label": "action",
                       "modalities": {"acc": {"column": "acc_file", "format": "csv", "unit": "m/s^2", "rate": 50}}}
        register_dataset(ManifestDataset("my-phone-har", DESCRIPTION, "rec"), overwrite=True)
    '''))
    try:
        code, out, err = run(capsys, "data", "info", "--import", "my_dataset", "--dataset", "my-phone-har", "--root",
                             "rec", "--protocol", "leave_one_subject_out:p2", "--check")
        assert code == 0, err
        assert "my-phone-har at rec" in out and "acc         4" in out
    finally:
        DATASETS._items.pop("my-phone-har", None)
