"""harkd's Python face: train, distil, evaluate and export runs; create and list models, losses, datasets.

Every function takes a config as a YAML path, a dict or the config dataclasses, validated alike
(the same :class:`~harkd.errors.ConfigError` for the same mistake), and works on the same run
directories as the CLI::

    import harkd
    teacher = harkd.train("configs/utd_mhad/skeleton_stgcn.yaml")
    student = harkd.distill("configs/utd_mhad/distill/skel2acc_kd.yaml", teachers=[teacher])
    print(harkd.evaluate(student)["accuracy"])

A teacher is a ``harkd train`` run directory, a ``{run: ...}`` / ``{folds: [...]}`` entry of a
distillation config, or an in-memory model given as :class:`Teacher`.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from pathlib import Path
from torch import nn

from harkd.errors import InputError

__all__ = ["Teacher", "train", "distill", "evaluate", "export", "create_model", "list_models", "list_losses",
           "list_datasets"]


@dataclass(frozen=True)
class Teacher:
    """An in-memory teacher for :func:`distill` (the logits/KD path and any feature its model names).

    ``module`` follows harkd's model contract (``forward_features``, ``forward_head``,
    ``forward_intermediates`` and ``feature_names`` with ``logits``: any :func:`create_model`
    model), scores the student's classes and is frozen. ``modality``: the input it reads (a
    ``data`` modality name such as ``skeleton``); ``transform``: that modality's options (default:
    the config's ``data.modalities`` entry); ``normalization``: its statistics as a run.json records
    them (default: fitted on the student's training split when the transform normalises). It is saved
    into the student's run directory (``teachers/<i>``, the whole module: its class must be importable
    when the run is loaded again). harkd cannot check what it was trained on: it must not have seen
    the student's test recordings."""

    module: nn.Module
    modality: str
    transform: dict | None = None
    normalization: dict | None = None
    name: str | None = None


def train(config, run_dir: str | Path | None = None, *, overrides: list[str] = (), **options) -> Path:
    """Train ``config`` into ``run_dir`` (default ``output_dir/name``; resumed when it holds a run) and
    return the run directory. ``options``: ``resume``, ``log``, ``progress``, ``evaluate``, ``select_on``
    as for :func:`harkd.engine.experiment.train_experiment`."""
    from harkd.recipes import run_config

    return run_config(config, run_dir, kind="train", overrides=overrides, **options)


def distill(config, teachers: list | None = None, run_dir: str | Path | None = None, *,
            overrides: list[str] = (), **options) -> Path:
    """Distil ``teachers`` (run directories, config entries or :class:`Teacher`; default: the config's)
    into the student of ``config`` and return its run directory (options as for :func:`train`)."""
    from harkd.engine.lifecycle import default_run_dir
    from harkd.recipes import load_recipe_config, run_config

    if teachers is None:
        return run_config(config, run_dir, kind="distill", overrides=overrides, **options)
    if not isinstance(teachers, (list, tuple)) or not teachers:
        raise InputError(f"teachers must be a non-empty list of run directories or harkd.Teacher, got {teachers!r}")
    entries = [_teacher_entry(i, t) for i, t in enumerate(teachers)]
    modules = {i: t for i, t in enumerate(teachers) if isinstance(t, Teacher)}
    if modules:  # saved into the run directory first, so config.yaml names them like any teacher
        _, draft = load_recipe_config(config, "distill", [_teachers_override(entries), *overrides])
        run_dir = Path(run_dir) if run_dir else default_run_dir(draft, options.get("select_on", "val"))
        for i, teacher in modules.items():
            entries[i] = {"run": str(_save_module(i, teacher, draft, run_dir / "teachers" / str(i))), "name": teacher.name}
    return run_config(config, run_dir, kind="distill", overrides=[_teachers_override(entries), *overrides], **options)


def _teachers_override(entries: list[dict]) -> str:
    return "teachers=" + json.dumps([{k: v for k, v in e.items() if v is not None} for e in entries])


def _teacher_entry(i: int, teacher) -> dict:
    if isinstance(teacher, (str, Path)):
        return {"run": str(teacher)}
    if isinstance(teacher, dict):
        return dict(teacher)
    if isinstance(teacher, Teacher):
        return {"run": f"<in-memory teacher {i}>", "name": teacher.name}
    if isinstance(teacher, nn.Module):
        raise InputError(f"teachers[{i}]: a module teacher needs the modality it reads: pass "
                         f"harkd.Teacher(module, modality=...) (e.g. modality='skeleton')")
    raise InputError(f"teachers[{i}]: expected a run directory, a teacher config entry or harkd.Teacher, "
                     f"got {type(teacher).__name__}")


def _save_module(i: int, teacher: Teacher, cfg, folder: Path) -> Path:
    from harkd.distill.teachers import check_module_teacher, save_module_teacher

    check_module_teacher(teacher.module, f"teachers[{i}]")
    transform = teacher.transform if teacher.transform is not None else cfg.data.modalities.get(teacher.modality)
    if transform is None:
        raise InputError(f"teachers[{i}]: the module teacher reads '{teacher.modality}', which data.modalities does "
                         f"not list: pass harkd.Teacher(..., transform={{...}}) or add data.modalities."
                         f"{teacher.modality} to the config")
    return save_module_teacher(folder, teacher.module, teacher.modality, dict(transform), teacher.normalization,
                               teacher.name or f"teacher{i}")


def evaluate(run: str | Path, split: str = "test", checkpoint: str = "best", **options) -> dict:
    """Accuracy, macro-F1, per-class accuracy and confusion matrix of a run's ``checkpoint`` on ``split``
    (:func:`harkd.engine.evaluate.evaluate_run`; a distillation run is evaluated through its student)."""
    import harkd.recipes  # noqa: F401  (a run of any built-in kind)
    from harkd.engine.evaluate import evaluate_run

    return evaluate_run(run, split, checkpoint, **options)


def export(run: str | Path, out: str | Path, format: str | None = None, **options) -> dict:
    """Export a run's deployable model with its input pipeline to ``out`` (ONNX or TorchScript, from the
    suffix unless ``format`` says), check parity, write the manifest and return it
    (:func:`harkd.export.exporter.export_run`'s options: checkpoint, window_samples, rate, quantize, ...)."""
    from harkd.export.exporter import export_run, infer_format

    options.setdefault("log", lambda message: None)
    return export_run(run, format or infer_format(out), out, **options)


def create_model(name: str, num_classes: int, **options) -> nn.Module:
    """A registered model (:func:`list_models`), e.g. ``create_model("imu_cnn1d", 27, in_chans=6)``."""
    from harkd.models import create_model as create

    return create(name, num_classes, **options)


def list_models() -> list[str]:
    from harkd.models import list_models as names

    return names()


def list_losses() -> list[str]:
    from harkd.losses import list_losses as names

    return names()


def list_datasets() -> list[str]:
    from harkd.data import available_datasets

    return available_datasets()
