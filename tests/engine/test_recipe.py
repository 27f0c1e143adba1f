"""Recipes are plug-ins: the engine knows ``train``; ``distill`` registers itself when harkd.distillation is imported."""

import json
import subprocess
import sys
from pathlib import Path

import yaml

from harkd.cli.main import main

SRC = Path(__file__).resolve().parents[2] / "src"


def test_the_engine_alone_knows_only_the_train_recipe():
    code = ("import sys; from harkd.engine.recipe import get_recipe, list_recipes; print(list_recipes(), "
            "'harkd.distillation' in sys.modules); import harkd.recipes; print(list_recipes())")
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True,
                         env={"PYTHONPATH": str(SRC), "PATH": "/usr/bin:/bin"}).stdout.splitlines()
    assert out == ["['train'] False", "['distill', 'train']"]


def test_a_run_of_an_unknown_kind_is_named(tmp_path, capsys):
    (tmp_path / "config.yaml").write_text(yaml.safe_dump({"name": "x"}))
    (tmp_path / "run.json").write_text(json.dumps({"kind": "foo", "class_names": [], "normalization": {}}))
    assert main(["evaluate", str(tmp_path)]) == 2
    err = capsys.readouterr().err
    assert err == "harkd: error: unknown run kind 'foo' (valid: distill, train)\n"
