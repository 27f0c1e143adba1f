"""harkd's Python face: train, distil, evaluate and export runs; create and list models, losses, datasets.

Every function takes a config as a YAML path, a dict or the config dataclasses, validated alike
(the same :class:`~harkd.errors.ConfigError` for the same mistake), and works on the same run
directories as the CLI::

    import harkd
    teacher = harkd.train("configs/utd_mhad/skeleton_stgcn.yaml")
    student = harkd.distill("configs/utd_mhad/distill/skel2acc_kd.yaml", teachers=[teacher])
    print(harkd.evaluate(student)["accuracy"])

A teacher is a ``harkd train`` run directory, a ``{run: ...}`` / ``{folds: [...]}`` entry of a
distillation config, or an in-memory model given as :class:`Teacher`. A trained run predicts raw
recordings through its own preprocessing: ``harkd.load(run).predict(X)`` (:func:`load`).

Errors are the CLI's, worded for Python: they name the functions' arguments (``run_dir=``,
``overrides=[...]``, ``checkpoint=``), never a command-line flag (see ``docs/python.md``).
"""

from __future__ import annotations

import functools
import json
import re
import shutil
from dataclasses import dataclass
from pathlib import Path
from torch import nn

from harkd.checks import check_choice
from harkd.errors import DataError, HarkdError, InputError, warn

__all__ = ["Teacher", "train", "distill", "evaluate", "export", "load", "create_model", "list_models", "list_losses",
           "list_datasets"]

#: CLI wording -> the Python API's (regular expression, replacement), applied in order to an error's message
PYTHON_WORDING = [
    (r"--set ([^\s;,)]+)", r'overrides=["\1"]'),
    (r"--run-dir", "run_dir"),
    (r"--select-on-test", 'select_on="test"'),
    (r"--evaluate none", "evaluate=None"),
    (r"--format onnx\|torchscript", 'format="onnx" or format="torchscript"'),
    (r"--rate HZ", "rate=HZ"),
    (r"--(format|quantize|checkpoint|split) ([A-Za-z0-9_]+)", r'\1="\2"'),
    (r"--(format|quantize|checkpoint|split|rate)\b", r"\1="),
    (r"--no-plots", "plots=False"),
    (r"run it with harkd (train|distill) (\S+)", r'run it with harkd.\1("\2")'),
]


def python_wording(message: str) -> str:
    """``message`` with the CLI's flags replaced by the API's arguments (:data:`PYTHON_WORDING`)."""
    for pattern, replacement in PYTHON_WORDING:
        message = re.sub(pattern, replacement, message)
    return message


def _python_errors(function):
    """Re-raise a :class:`~harkd.errors.HarkdError` of ``function`` (same class) worded for Python."""

    @functools.wraps(function)
    def wrapper(*args, **kwargs):
        try:
            return function(*args, **kwargs)
        except HarkdError as err:
            message = python_wording(str(err))
            if message == str(err):
                raise
            worded = type(err).__new__(type(err), message)  # the same class and attributes, not re-initialised
            worded.__dict__.update(err.__dict__)
            worded.args = (message,)
            if isinstance(err, DataError):
                worded.problem = python_wording(err.problem)
            raise worded.with_traceback(err.__traceback__) from None

    return wrapper


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


@_python_errors
def train(config, run_dir: str | Path | None = None, *, overrides: list[str] = (), **options) -> Path:
    """Train ``config`` into ``run_dir`` (default ``output_dir/name``; resumed when it holds a run) and
    return the run directory. ``options``: ``resume``, ``log``, ``progress``, ``evaluate``, ``select_on``
    as for :func:`harkd.engine.experiment.train_experiment`."""
    from harkd.recipes import run_config

    return run_config(config, run_dir, kind="train", overrides=overrides, **options)


@_python_errors
def distill(config, teachers: list | None = None, run_dir: str | Path | None = None, *,
            overrides: list[str] = (), **options) -> Path:
    """Distil ``teachers`` (run directories, config entries or :class:`Teacher`; default: the config's)
    into the student of ``config`` and return its run directory (options as for :func:`train`).

    A :class:`Teacher` module is saved into ``run_dir/teachers/<i>`` first. If the run then fails before
    its first checkpoint, the teacher folders this call wrote are removed again, and a folder left by an
    earlier try that never trained is replaced: only a run that has trained keeps (and checks) its teacher."""
    from harkd.engine.lifecycle import default_run_dir
    from harkd.recipes import load_recipe_config, run_config

    if teachers is None:
        return run_config(config, run_dir, kind="distill", overrides=overrides, **options)
    if not isinstance(teachers, (list, tuple)) or not teachers:
        raise InputError(f"teachers must be a non-empty list of run directories or harkd.Teacher, got {teachers!r}")
    entries = [_teacher_entry(i, t) for i, t in enumerate(teachers)]
    modules = {i: t for i, t in enumerate(teachers) if isinstance(t, Teacher)}
    if not modules:
        return run_config(config, run_dir, kind="distill", overrides=[_teachers_override(entries), *overrides],
                          **options)
    # saved into the run directory first, so config.yaml names them like any teacher
    _, draft = load_recipe_config(config, "distill", [_teachers_override(entries), *overrides])
    run_dir = Path(run_dir) if run_dir else default_run_dir(draft, options.get("select_on", "val"))
    existed = run_dir.exists()
    written: list[Path] = []
    try:
        trained = _has_trained(run_dir)
        for i, teacher in modules.items():
            folder = run_dir / "teachers" / str(i)
            if not folder.exists():
                written.append(folder)
            entries[i] = {"run": str(_save_module(i, teacher, draft, folder, replace=not trained)),
                          "name": teacher.name}
        return run_config(config, run_dir, kind="distill", overrides=[_teachers_override(entries), *overrides],
                          **options)
    except BaseException:
        if not _has_trained(run_dir):
            _remove_written(run_dir, written, existed)
        raise


def _has_trained(run_dir: Path) -> bool:
    """Whether ``run_dir`` holds a checkpoint (of its run, or of a stage of a multi-stage run)."""
    return run_dir.is_dir() and any(p.is_file() for p in [run_dir / "last.pt", *run_dir.glob("*/last.pt")])


def _remove_written(run_dir: Path, written: list[Path], existed: bool) -> None:
    """Remove the teacher folders a failed :func:`distill` wrote, then ``teachers/`` and ``run_dir`` when empty
    (``run_dir`` only if this call created it)."""
    for folder in written:
        shutil.rmtree(folder, ignore_errors=True)
    for folder in [run_dir / "teachers"] + ([] if existed else [run_dir]):
        leftovers = [p for p in folder.iterdir() if p.name != ".lock"] if folder.is_dir() else [None]
        if leftovers:
            continue
        shutil.rmtree(folder, ignore_errors=True)


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


def _save_module(i: int, teacher: Teacher, cfg, folder: Path, replace: bool) -> Path:
    from harkd.distillation.teachers import check_module_teacher, save_module_teacher

    check_module_teacher(teacher.module, f"teachers[{i}]")
    transform = teacher.transform if teacher.transform is not None else cfg.data.modalities.get(teacher.modality)
    if transform is None:
        raise InputError(f"teachers[{i}]: the module teacher reads '{teacher.modality}', which data.modalities does "
                         f"not list: pass harkd.Teacher(..., transform={{...}}) or add data.modalities."
                         f"{teacher.modality} to the config")
    return save_module_teacher(folder, teacher.module, teacher.modality, dict(transform), teacher.normalization,
                               teacher.name or f"teacher{i}", replace=replace)


@_python_errors
def evaluate(run: str | Path, split: str = "test", checkpoint: str = "best", *, plots: bool = False,
             **options) -> dict:
    """Accuracy, macro-F1, per-class accuracy and confusion matrix of a run's ``checkpoint`` on ``split``
    (:func:`harkd.engine.evaluate.evaluate_run`; a distillation run is evaluated through its student).
    ``plots=True`` also writes ``confusion_<split>.png`` and ``learning_curves.png`` into the run directory,
    as ``harkd evaluate`` does, and lists them under ``figures`` (a figure that cannot be written is a
    warning: the results stand)."""
    import harkd.recipes  # noqa: F401  (a run of any built-in kind)
    from harkd.engine.evaluate import evaluate_run, write_figures

    check_choice("harkd.evaluate(split=...)", split, ("train", "val", "test"))
    check_choice("harkd.evaluate(checkpoint=...)", checkpoint, ("best", "last"))
    result = evaluate_run(run, split, checkpoint, **options)
    if plots:
        result["figures"], failed = write_figures(result, run)
        for line in failed:
            warn(python_wording(line))
    return result


@_python_errors
def load(run: str | Path, checkpoint: str = "best"):
    """A trained run (any kind; a distillation run through its student) as a predictor of raw recordings:
    ``.predict(X)`` (class indices) and ``.predict_proba(X)`` (probabilities), ``X`` going through the run's
    own preprocessing (:class:`harkd.engine.inference.Predictor`). E.g. for an inertial run,
    ``harkd.load("runs/utd_acc_cnn1d").predict(X)`` with ``X`` of shape ``(n, T, C)`` or a list of ``(T_i, C)``
    recordings. The run's data root must be readable (it gives the shape of a raw recording)."""
    import harkd.recipes  # noqa: F401  (a run of any built-in kind)
    from harkd.engine.inference import load_predictor

    check_choice("harkd.load(checkpoint=...)", checkpoint, ("best", "last"))
    if not Path(run).is_dir():
        raise DataError(run, "run directory not found")
    return load_predictor(run, checkpoint)


@_python_errors
def export(run: str | Path, out: str | Path, format: str | None = None, **options) -> dict:
    """Export a run's deployable model with its input pipeline to ``out`` (ONNX or TorchScript, from the
    suffix unless ``format`` says), check parity, write the manifest and return it
    (:func:`harkd.deploy.exporter.export_run`'s options: checkpoint, window_samples, rate, quantize, ...)."""
    from harkd.deploy.exporter import export_run
    from harkd.deploy.manifest import infer_format

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
