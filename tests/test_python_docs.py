"""docs/python.md: its own-model teacher example runs as written, and its loss table is the registry's."""

from __future__ import annotations

import inspect
import re
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
DOC = ROOT / "docs" / "python.md"


def python_blocks(section: str) -> list[str]:
    text = DOC.read_text()
    start = text.index(f"## {section}")
    end = text.find("\n## ", start + 1)
    return re.findall(r"```python\n(.*?)```", text[start:end if end > 0 else None], re.S)


def loss_arguments(name: str) -> list[str]:
    """``name=default`` of a registered loss's hyper-parameters (its shapes and ``**shapes`` left out)."""
    from harkd.losses.registry import loss_class

    params = inspect.signature(loss_class(name).__init__).parameters.values()
    return [f"{p.name}={p.default!r}" for p in params if p.name not in ("self", "student_shape", "teacher_shape")
            and p.kind not in (p.VAR_KEYWORD, p.VAR_POSITIONAL)]


def test_the_loss_table_lists_every_loss_with_its_arguments():
    from harkd.losses import list_losses

    text = DOC.read_text()
    rows = dict(re.findall(r"^\| `(\w+)` \| \w+ \| (.*?) \|", text, re.M))
    assert sorted(rows) == list_losses()
    for name, shown in rows.items():
        assert re.findall(r"`([^`]+)`", shown) == loss_arguments(name), name


def test_every_loss_documents_its_arguments_in_its_docstring():
    from harkd.losses import list_losses
    from harkd.losses.registry import loss_class

    for name in list_losses():
        doc = loss_class(name).__doc__ or ""
        lacking = [a.split("=")[0] for a in loss_arguments(name) if f"``{a.split('=')[0]}``" not in doc]
        assert not lacking, f"{name}: {lacking}"


def test_the_own_model_teacher_example_runs(synth_utd, tmp_path, monkeypatch, capsys):
    import torch

    module, script = python_blocks("Your own model as a teacher")
    (tmp_path / "mymodels.py").write_text(module)
    (tmp_path / "synthetic-utd").symlink_to(synth_utd)
    monkeypatch.chdir(tmp_path)
    monkeypatch.syspath_prepend(str(tmp_path))
    monkeypatch.delitem(sys.modules, "mymodels", raising=False)
    from mymodels import PoseMLP

    torch.manual_seed(0)
    torch.save(PoseMLP(num_classes=27).state_dict(), "pose_mlp.pt")  # the user's trained weights
    exec(compile(script, "docs/python.md", "exec"), {})
    accuracy, predictions = capsys.readouterr().out.strip().splitlines()[-2:]
    assert 0 <= float(accuracy) <= 1
    assert len(predictions.strip("[]").split()) == 4
    run = tmp_path / "runs" / "acc_from_pose"
    assert (run / "teachers" / "0" / "module.pt").is_file()
    assert (run / "confusion_test.png").is_file() and (run / "learning_curves.png").is_file()


def test_the_loss_snippet_runs():
    import torch

    namespace = {"student_logits": torch.randn(4, 27), "teacher_logits": torch.randn(4, 27)}
    exec(compile(python_blocks("Losses: `harkd.losses.create_loss`")[0], "docs/python.md", "exec"), namespace)
    assert namespace["value"].dim() == 0 and namespace["value"] >= 0
    assert namespace["fitnet"](torch.randn(2, 64, 32), torch.randn(2, 128, 16)).dim() == 0


def test_the_predictor_snippet_runs(synth_utd, tmp_path, monkeypatch):
    """``harkd.load`` as the page shows it, on a tiny inertial run standing in for runs/utd_acc_cnn1d."""
    import numpy as np

    monkeypatch.syspath_prepend(str(ROOT / "tests" / "deploy"))
    from tinyruns import train_tiny

    run = train_tiny(synth_utd, tmp_path / "out", "raw", epochs=1)
    (tmp_path / "runs").mkdir()
    (tmp_path / "runs" / "utd_acc_cnn1d").symlink_to(run)
    monkeypatch.chdir(tmp_path)
    namespace = {"X": [np.random.default_rng(0).normal(size=(t, 3)) for t in (90, 150)]}
    exec(compile(python_blocks("A run as a predictor: `harkd.load`")[0], "docs/python.md", "exec"), namespace)
    assert namespace["probabilities"].shape == (2, 27)
    assert namespace["labels"].tolist() == namespace["probabilities"].argmax(1).tolist()
