"""From an :class:`ExperimentConfig` to a trained run directory, and back.

A run directory holds everything needed to reproduce or evaluate the run:
``config.yaml`` (resolved), ``run.json`` (seed, harkd/torch version, git hash, command,
class names, split keys, training-split normalisation statistics), ``metrics.jsonl``,
``last.pt`` and ``best.pt``.
"""

from __future__ import annotations

import contextlib
import copy
import fcntl
import json
import math
import os
import platform
import random
import subprocess
import sys
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Callable

import numpy as np
import torch
import yaml

import harkd
from harkd.engine import distributed as dist_utils
from harkd.engine.config import DataConfig, ExperimentConfig, OptimConfig, ScheduleConfig, load_config
from harkd.engine.trainer import ClassificationTask, Trainer
from harkd.engine.rundir import jsonable, write_run_meta
from harkd.errors import ConfigError, DataError, InputError

__all__ = ["seed_everything", "build_optimizer", "build_scheduler", "prepare_data", "build_model", "build_task",
           "train_experiment", "load_run", "git_hash", "PreparedData", "check_disjoint", "report_left_out",
           "run_data_root", "write_task_reports", "Recipe", "register_recipe", "get_recipe"]


def seed_everything(seed: int, deterministic: bool = False) -> None:
    """Seed Python, NumPy and torch; ``deterministic`` also forces deterministic kernels."""
    random.seed(seed)
    np.random.seed(seed % 2**32)
    torch.manual_seed(seed)
    if deterministic:
        os.environ.setdefault("CUBLAS_WORKSPACE_CONFIG", ":4096:8")
        torch.use_deterministic_algorithms(True)
        torch.backends.cudnn.benchmark = False


def git_hash(path: Path | None = None) -> str | None:
    """The source tree's commit (with ``-dirty`` when modified), or None outside git."""
    where = path or Path(harkd.__file__).resolve().parent
    try:
        out = subprocess.run(["git", "describe", "--always", "--dirty", "--abbrev=12"], cwd=where,
                             capture_output=True, text=True, timeout=5)
    except (OSError, subprocess.TimeoutExpired):
        return None
    return out.stdout.strip() or None if out.returncode == 0 else None


def build_optimizer(cfg: OptimConfig, params) -> torch.optim.Optimizer:
    if cfg.name == "sgd":
        return torch.optim.SGD(params, lr=cfg.lr, momentum=cfg.momentum, weight_decay=cfg.weight_decay,
                               nesterov=cfg.nesterov)
    cls = torch.optim.AdamW if cfg.name == "adamw" else torch.optim.Adam
    return cls(params, lr=cfg.lr, weight_decay=cfg.weight_decay)


def schedule_factor(cfg: ScheduleConfig, epochs: int) -> Callable[[int], float]:
    """Multiplier of the base learning rate for epoch ``e`` (0-based)."""

    def factor(e: int) -> float:
        warm = min(1.0, (e + 1) / (cfg.warmup_epochs + 1)) if cfg.warmup_epochs else 1.0
        if cfg.name == "step":
            decay = cfg.gamma ** sum(e >= m for m in cfg.milestones)
        elif cfg.name == "cosine":
            span = max(1, epochs - cfg.warmup_epochs)
            progress = min(1.0, max(0, e - cfg.warmup_epochs) / span)
            decay = cfg.min_lr_ratio + (1 - cfg.min_lr_ratio) * 0.5 * (1 + math.cos(math.pi * progress))
        else:
            decay = 1.0
        return warm * decay

    return factor


def build_scheduler(cfg: ScheduleConfig, optimizer: torch.optim.Optimizer, epochs: int):
    """A LambdaLR over epochs (the Trainer steps it once per epoch)."""
    return torch.optim.lr_scheduler.LambdaLR(optimizer, schedule_factor(cfg, epochs))


@dataclass
class PreparedData:
    spec: Any
    split: Any
    datasets: dict
    class_names: list[str]
    root: Path
    root_source: str = "config"  # where the root came from: config (data.root / HARKD_DATA_ROOT) or run.json


SPLITS = ("train", "val", "test")
#: How many keys (or files) a report of left-out recordings names before "and N more".
SHOWN = 3


def prepare_data(data: DataConfig, inputs: list[str], normalization: dict | None = None,
                 split_keys: dict | None = None, *, check: tuple[str, ...] = SPLITS,
                 root: Path | None = None) -> PreparedData:
    """Scan the dataset, split it by protocol (validation from training only), build paired datasets.

    ``inputs`` are the modalities some model reads (each must be in ``data.modalities``).
    ``normalization`` (per modality) supplies statistics; those of the other modalities are
    fitted on the training split. ``split_keys`` (a saved ``{"train": [...], "val": [...],
    "test": [...]}``) replaces the protocol split; its keys no longer found are left out.
    The ``check`` splits are preflighted (every file loaded once, through the cache;
    ``data.on_error`` stop/skip decides what a bad file does) and what each leaves out is
    reported with :func:`harkd.errors.warn`. ``root`` overrides ``data.resolved_root()``.
    """
    from harkd.data import PairedDataset, Split, get_dataset, make_split
    from harkd.data.dataset import ON_ERROR

    spec = get_dataset(data.dataset)
    modalities = list(data.modalities)
    for name in inputs:
        if name not in modalities:
            raise ConfigError(f"config key 'model.input': '{name}' is not among data.modalities "
                              f"({', '.join(modalities)})")
    on_error = data.on_error  # checked again here: a DataConfig built in Python skips the schema
    if on_error not in ON_ERROR:
        raise ConfigError(f"config key 'data.on_error': {on_error!r} is not one of {', '.join(ON_ERROR)}")
    root = root or data.resolved_root()
    index = spec.scan(root, strict=data.strict)
    if split_keys is not None:
        split = Split(**{name: tuple(split_keys.get(name, ())) for name in SPLITS})
        origin = "the split saved in run.json"
    else:
        split = make_split(spec, index, data.protocol, val_fraction=data.val_fraction, seed=0,
                           val_subjects=data.val_subjects)
        origin = f"protocol {data.protocol} with validation {split.validation.how}"
    check_disjoint(split, origin)
    cache = True if data.cache else None
    datasets: dict = {}
    for name in SPLITS:
        keys = list(getattr(split, name))
        absent = [k for k in keys if k not in index]
        if absent and data.strict:
            raise DataError(root, f"recording {absent[0]} of the {name} split is not found (data.strict)")
        first = datasets.get("train")
        datasets[name] = PairedDataset(
            spec, index, [k for k in keys if k in index], modalities,
            data.modalities if first is None else first.transforms, train=name == "train",
            strict=data.strict, cache=cache if first is None else first.cache,
            paired_shift=data.paired_shift if name == "train" else 0.0)
        datasets[name].skipped[:0] = [(k, f"not found under {root}") for k in absent]
        if first is None:
            check_fixed_shapes(datasets[name].transforms)
        if name in check:
            datasets[name].check(on_error)
        if name == "train" and len(datasets[name]) == 0:
            raise DataError(root, f"no training recordings with modalities {modalities} under protocol {data.protocol}")
    train = datasets["train"]
    if check:
        report_left_out(index, datasets, split)
    supplied = dict(normalization or {})
    train.fit_normalization([m for m in modalities if m not in supplied])
    if supplied:
        train.load_normalization(supplied)
    return PreparedData(spec, split, datasets, list(spec.class_names), root)


_SHAPE_EXAMPLES = {"length": "128", "frames": "32", "size": "[112,112]"}


def check_fixed_shapes(transforms: dict) -> None:
    """A ConfigError naming the option when a modality's clips would differ in shape (no batch could be stacked)."""
    for modality, transform in transforms.items():
        unset = transform.unset_shape_options()
        if unset:
            raise ConfigError(
                f"config key 'data.modalities.{modality}': {' and '.join(repr(o) for o in unset)} not set, so its "
                f"clips differ in shape and cannot be batched; set {'them' if len(unset) > 1 else 'it'}, e.g. "
                f"--set data.modalities.{modality}.{unset[0]}={_SHAPE_EXAMPLES[unset[0]]}")


def check_disjoint(split, origin: str) -> None:
    """Validation recordings must be neither training nor test recordings (ConfigError naming them)."""
    val = set(split.val)
    for other in ("train", "test"):
        common = sorted(val & set(getattr(split, other)))
        if common:
            raise ConfigError(f"{len(common)} validation recording(s) are also {other} recordings "
                              f"({_first_keys(common)}) in {origin}: validation must be held out from "
                              "training and test")


def _first_keys(keys: list[str], shown: int = SHOWN) -> str:
    more = f" and {len(keys) - shown} more" if len(keys) > shown else ""
    return ", ".join(keys[:shown]) + more


def report_left_out(index, datasets: dict, split) -> None:
    """Warn, once at the start, about the files the scan skipped and, per split, the recordings left out."""
    from harkd.errors import warn

    if index.skipped:
        shown = "; ".join(f"{path} ({reason})" for path, reason in index.skipped[:SHOWN])
        more = f"; and {len(index.skipped) - SHOWN} more" if len(index.skipped) > SHOWN else ""
        warn(f"scanning {index.root} skipped {len(index.skipped)} file(s): {shown}{more} "
             f"(harkd data info --dataset {index.dataset} --root {index.root} lists them all)")
    for name, dataset in datasets.items():
        if dataset.skipped:
            warn(f"{name} split: {len(dataset.skipped)} of {len(getattr(split, name))} recordings left out: "
                 + _first_keys([f"{key} ({reason})" for key, reason in dataset.skipped])
                 + " (listed in run.json 'skipped')")


def model_input_kwargs(sample: torch.Tensor | np.ndarray, model_name: str) -> dict:
    """``in_chans`` (and ``num_segments`` for video models) read off one prepared sample."""
    shape = tuple(sample.shape)
    if model_name in ("tsn", "trn"):  # (S, C, H, W)
        return {"in_chans": shape[1], "num_segments": shape[0]}
    return {"in_chans": shape[0]}


def build_model(model_cfg, sample: dict, num_classes: int):
    """The model of ``model_cfg`` sized to a prepared ``sample`` (in_chans, segments) and the classes.

    ``late_fusion`` builds one branch per input modality from ``args.branches``."""
    from harkd.models import create_model
    from harkd.models.fusion import LateFusion

    if model_cfg.name != "late_fusion":
        if not isinstance(model_cfg.input, str):
            raise ConfigError(f"config key 'model.input': model '{model_cfg.name}' reads one modality; "
                              "use late_fusion for several")
        kwargs = {**model_input_kwargs(sample[model_cfg.input], model_cfg.name), **model_cfg.args}
        return create_model(model_cfg.name, num_classes=num_classes, **kwargs)
    args = dict(model_cfg.args)
    branches = args.pop("branches", None) or {}
    if set(branches) != set(model_cfg.inputs):
        raise ConfigError(f"config key 'model.args.branches': late_fusion needs one branch per input "
                          f"{model_cfg.inputs}, got {sorted(branches)}")
    built = {}
    for modality in model_cfg.inputs:
        branch = branches[modality]
        kwargs = {**model_input_kwargs(sample[modality], branch["name"]), **branch.get("args", {})}
        built[modality] = create_model(branch["name"], num_classes=num_classes, **kwargs)
    return LateFusion(built, num_classes, **args)


def build_task(cfg: ExperimentConfig, prepared: PreparedData) -> ClassificationTask:
    """The model of ``cfg`` in a cross-entropy task (plus class-name regression with ``semantic``)."""
    if cfg.semantic is None:
        model = build_model(cfg.model, prepared.datasets["train"][0], len(prepared.class_names))
        return ClassificationTask(model, cfg.model.input, label_smoothing=cfg.train.label_smoothing)
    emb = _class_embeddings(cfg)
    for dup in emb.duplicates():
        print(f"harkd: warning: classes {', '.join(dup)} share one class-name embedding ({emb.source})",
              file=sys.stderr)
    model = build_model(cfg.model, prepared.datasets["train"][0], len(prepared.class_names))
    return ClassificationTask(model, cfg.model.input, label_smoothing=cfg.train.label_smoothing,
                              class_embeddings=emb.matrix, semantic_weight=cfg.semantic.weight,
                              semantic_distance=cfg.semantic.distance)


def _class_embeddings(cfg: ExperimentConfig):
    return semantic_embeddings(cfg.semantic, cfg.data.dataset)


def semantic_embeddings(semantic, dataset: str):
    """The class-name embeddings a :class:`SemanticConfig` names, rows in ``dataset``'s class order."""
    from harkd.data import get_dataset
    from harkd.semantic import class_embeddings

    return class_embeddings(semantic.source, list(get_dataset(dataset).class_names), dataset=dataset,
                            normalize=semantic.normalize)


def resolve_train_config(cfg: ExperimentConfig) -> ExperimentConfig:
    """With ``semantic``, the model's embedding width is the class embeddings' (saved in config.yaml)."""
    if cfg.semantic is None:
        return cfg
    dim = _class_embeddings(cfg).dim
    width = cfg.model.args.get("semantic_dim", dim)
    if width != dim:
        raise ConfigError(f"config key 'model.args.semantic_dim': {width} differs from the "
                          f"{cfg.semantic.source} class embeddings' dimension {dim}")
    cfg = copy.deepcopy(cfg)
    cfg.model.args["semantic_dim"] = dim
    return cfg


@dataclass(frozen=True)
class Recipe:
    """How one kind of experiment (``train``, ``distill``) reads its config and builds its task."""

    kind: str
    load: Callable[..., Any]  # (path or None, overrides, data) -> config
    inputs: Callable[[Any], list]  # config -> modalities its models read
    build: Callable[[Any, PreparedData], Any]  # (config, data) -> Task
    fixed_normalization: Callable[[Any], dict] = lambda cfg: {}  # e.g. teachers' training statistics
    resolve: Callable[[Any], Any] = lambda cfg: cfg  # completes a config before it is saved


RECIPES: dict[str, Recipe] = {}


def register_recipe(recipe: Recipe) -> Recipe:
    RECIPES[recipe.kind] = recipe
    return recipe


TRAIN = register_recipe(Recipe("train", load_config, lambda cfg: cfg.model.inputs, build_task,
                               resolve=resolve_train_config))


def get_recipe(kind: str) -> Recipe:
    if kind not in RECIPES:
        import harkd.distill  # noqa: F401  (registers the distillation recipe)
    if kind not in RECIPES:
        raise ConfigError(f"unknown run kind '{kind}' (known: {', '.join(sorted(RECIPES))})")
    return RECIPES[kind]


#: run.json ``selection`` of a run selected on validation, and of one trained with ``--select-on-test``
SELECTION_VALIDATION = "validation (best.pt is chosen on the validation split; the test split only reports)"
SELECTION_TEST = "test (as published: the checkpoint is chosen on the test split; not an unbiased estimate)"
#: the marker every output of a ``--select-on-test`` run carries
AS_PUBLISHED = "[as published: selected on test]"
#: default run directory suffix of a ``--select-on-test`` run
SELECT_ON_TEST_SUFFIX = "_select-on-test"
REFIT_DIR = "refit"


def selected_on_test(meta: dict) -> bool:
    """Whether a run's run.json says its checkpoint was chosen on the test split (``--select-on-test``)."""
    return str(meta.get("selection", "")).startswith("test")


def _write_metadata(run_dir: Path, cfg, prepared: PreparedData, kind: str, select_on: str = "val") -> None:
    run_dir.mkdir(parents=True, exist_ok=True)
    (run_dir / "config.yaml").write_text(yaml.safe_dump(cfg.to_dict(), sort_keys=False))
    meta = {
        "kind": kind,
        "harkd_version": harkd.__version__,
        "git": git_hash(),
        "torch_version": torch.__version__,
        "python": platform.python_version(),
        "command": " ".join(sys.argv),
        "seed": cfg.seed,
        "selection": SELECTION_TEST if select_on == "test" else SELECTION_VALIDATION,
        "data_root": str(Path(prepared.root).resolve()),
        "class_names": prepared.class_names,
        "split": prepared.split.to_dict(),
        "validation": prepared.split.validation.to_dict() if prepared.split.validation else None,
        "skipped": {name: ds.skipped for name, ds in prepared.datasets.items()},
        "normalization": prepared.datasets["train"].normalization_state(),
    }
    write_run_meta(run_dir, meta)


def write_task_reports(run_dir: Path, task) -> None:
    """Write the reports a task describes itself with (``task.reports``: file name -> function
    returning JSON, e.g. a distillation's ``teachers.json``), once per run directory."""
    for name, make in getattr(task, "reports", {}).items():
        path = Path(run_dir) / name
        if not path.exists():
            path.write_text(json.dumps(make(), indent=1, default=jsonable))


def train_experiment(cfg, run_dir: Path | None = None, *, resume: bool = True,
                     log: Callable[[str], None] | None = None, progress: bool | None = None,
                     recipe: Recipe = TRAIN, evaluate: str | None = None, select_on: str = "val") -> Path:
    """Train ``cfg`` into ``run_dir`` (default ``output_dir/name``), resuming from ``last.pt`` if present.

    ``evaluate`` (``val`` or ``test``): the split the caller evaluates after training; an empty
    one is refused before training, like an empty training split. ``select_on="test"`` (the CLI's
    ``--select-on-test``, never a config key) chooses best.pt on the test split, as the published
    SAKDN/VSKD code does; run.json's ``selection`` and the default run directory name say so.
    With ``train.refit`` a second stage follows (:func:`refit_experiment`)."""
    from harkd.engine.config import check_run_config
    from harkd.engine.rundir import check_run_dir

    if select_on not in ("val", "test"):
        raise InputError(f"select_on must be 'val' or 'test', got {select_on!r}")
    if select_on == "test" and cfg.train.refit == "best":
        raise ConfigError("--select-on-test with train.refit: best would take the refit's epochs from an epoch chosen "
                          "on the test split: use --set train.refit=last, or drop --select-on-test")
    check_run_config(cfg)
    cfg = recipe.resolve(cfg)
    suffix = SELECT_ON_TEST_SUFFIX if select_on == "test" else ""
    run_dir = Path(run_dir) if run_dir else Path(cfg.output_dir) / (cfg.name + suffix)
    log = log or (lambda msg: print(msg, file=sys.stderr, flush=True))
    dist_utils.init_from_env(cfg.train.device)
    if dist_utils.rank() == 0:
        check_run_dir(run_dir)
    with run_dir_lock(run_dir, dist_utils.rank() == 0):
        _train_locked(cfg, run_dir, resume, log, progress, recipe, evaluate, select_on)
    if cfg.train.refit:
        refit_experiment(cfg, run_dir, log=log, progress=progress, recipe=recipe)
    return run_dir


def refit_config(cfg, epochs: int):
    """``cfg`` for the refit stage: every training-side recording trains (``data.val_subjects: null``,
    ``data.val_fraction: 0``), ``epochs`` epochs, the warm-up clipped below them, no further refit."""
    cfg = copy.deepcopy(cfg)
    cfg.train.refit = None
    cfg.train.epochs = epochs
    cfg.schedule.warmup_epochs = min(cfg.schedule.warmup_epochs, epochs - 1)
    cfg.data.val_subjects = None
    cfg.data.val_fraction = 0.0
    return cfg


def refit_epochs(cfg, run_dir: Path) -> int:
    """Stage 2's epochs: stage 1's best validation epoch (``train.refit: best``) or ``train.epochs`` (``last``)."""
    from harkd.engine.trainer import read_metrics_file

    if cfg.train.refit == "last":
        return cfg.train.epochs
    lines = read_metrics_file(run_dir / "metrics.jsonl")
    best = lines[-1].get("best_epoch", -1) if lines else -1
    if best < 1:
        raise ConfigError(NO_VALIDATION_FOR_REFIT)
    return best


NO_VALIDATION_FOR_REFIT = ("train.refit: best takes the refit's epochs from the best validation epoch, but this run "
                           "has no validation split: set data.val_subjects auto (or a list of training subjects, or "
                           "data.val_fraction > 0), or use train.refit: last")


def refit_experiment(cfg, run_dir: Path, *, log: Callable[[str], None] | None = None, progress: bool | None = None,
                     recipe: Recipe = TRAIN) -> Path:
    """Stage 2 of ``train.refit``: train ``cfg`` again from scratch on every training-side recording into
    ``run_dir/refit`` (a complete run directory; resumes from its last.pt), evaluate its final epoch on the
    test split and record ``refit`` (epochs, dir, test) in ``run_dir``'s run.json."""
    from harkd.engine.evaluate import evaluate_run
    from harkd.engine.rundir import read_run_meta

    log = log or (lambda msg: print(msg, file=sys.stderr, flush=True))
    epochs = refit_epochs(cfg, run_dir)
    refit_cfg = refit_config(cfg, epochs)
    refit_dir = run_dir / REFIT_DIR
    if dist_utils.rank() == 0:
        log(f"refit: training again on every training-side recording for {epochs} epochs "
            f"(train.refit {cfg.train.refit}) into {refit_dir}")
    with run_dir_lock(refit_dir, dist_utils.rank() == 0):
        _train_locked(refit_cfg, refit_dir, True, log, progress, recipe)
    if dist_utils.rank() == 0:
        test = None  # a protocol without test recordings (e.g. a partial copy) has nothing to report
        if read_run_meta(refit_dir).get("split", {}).get("test"):
            result = evaluate_run(refit_dir, "test", "last")
            test = {k: result[k] for k in ("checkpoint", "accuracy", "macro_f1", "num_samples")}
        meta = read_run_meta(run_dir)
        meta["refit"] = {"rule": cfg.train.refit, "epochs": epochs, "dir": REFIT_DIR, "test": test}
        write_run_meta(run_dir, meta)
    return refit_dir


@contextlib.contextmanager
def run_dir_lock(run_dir: Path, active: bool = True):
    """Hold an exclusive lock on ``run_dir`` (its ``.lock`` file) while a process trains into it.

    A second process on the same directory would resume from the same checkpoint and write
    the same epochs again; it gets a DataError instead. The OS releases the lock when the
    holder exits, even when it is killed, so a killed run resumes normally.
    """
    if not active:
        yield
        return
    run_dir.mkdir(parents=True, exist_ok=True)
    with open(run_dir / ".lock", "a+") as handle:
        try:
            fcntl.flock(handle, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except OSError:
            handle.seek(0)
            holder = handle.read().strip() or "?"
            raise DataError(run_dir, f"another harkd process (pid {holder}) is training into this run directory; "
                                     "wait for it to finish or choose another --run-dir") from None
        handle.seek(0)
        handle.truncate()
        handle.write(str(os.getpid()))
        handle.flush()
        try:
            yield
        finally:
            fcntl.flock(handle, fcntl.LOCK_UN)


def _train_locked(cfg, run_dir: Path, resume: bool, log, progress, recipe: "Recipe",
                  evaluate: str | None = None, select_on: str = "val") -> Path:
    from harkd.engine.rundir import check_free_space, check_splits, read_run_meta, record_epochs_change
    from harkd.engine.trainer import verify_resumable

    seed_everything(cfg.seed, cfg.train.deterministic)
    last = run_dir / "last.pt"
    existing = (run_dir / "run.json")
    normalization = split_keys = None
    if resume and last.is_file() and existing.is_file():
        _check_same_experiment(run_dir, cfg)
        verify_resumable(last, run_dir / "best.pt")  # before the data are read
        saved = read_run_meta(run_dir)
        normalization, split_keys = saved.get("normalization"), saved.get("split")
        if selected_on_test(saved) != (select_on == "test"):
            was, now = ("test", "validation") if selected_on_test(saved) else ("validation", "test")
            raise ConfigError(f"{run_dir} selects its checkpoint on the {was} split; resuming it with selection on "
                              f"the {now} split would mix both: " + ("pass --select-on-test again" if was == "test"
                                                                      else "drop --select-on-test")
                              + " or choose another --run-dir")
    elif not resume and last.is_file():
        raise DataError(run_dir, "already holds a run; resume it (default) or choose another --run-dir")
    fresh = normalization is None
    normalization = {**(normalization or {}), **recipe.fixed_normalization(cfg)}
    prepared = prepare_data(cfg.data, recipe.inputs(cfg), normalization, split_keys)
    check_splits(prepared, cfg.data.protocol, "test" if select_on == "test" else evaluate)
    if cfg.train.refit == "best" and not len(prepared.datasets["val"]):
        raise ConfigError(NO_VALIDATION_FOR_REFIT)
    if dist_utils.rank() == 0 and fresh:
        _write_metadata(run_dir, cfg, prepared, recipe.kind, select_on)
    if dist_utils.rank() == 0:
        log(f"validation: {validation_line(prepared.split.validation or saved_validation(run_dir))}")
        if select_on == "test":
            log(f"selection: {SELECTION_TEST} {AS_PUBLISHED}")
    selection_set = prepared.datasets["test" if select_on == "test" else "val"]
    task = recipe.build(cfg, prepared)
    optimizer = build_optimizer(cfg.optim, [p for p in task.parameters() if p.requires_grad])
    if dist_utils.rank() == 0:
        check_free_space(run_dir, task, cfg.optim)
        write_task_reports(run_dir, task)
    trainer = Trainer(
        task, prepared.datasets["train"], selection_set if len(selection_set) else None,
        optimizer, run_dir, cfg.train.epochs, num_classes=len(prepared.class_names), seed=cfg.seed,
        batch_size=cfg.train.batch_size, num_workers=cfg.data.num_workers,
        scheduler=build_scheduler(cfg.schedule, optimizer, cfg.train.epochs),
        selection_metric=cfg.train.select, device=cfg.train.device, grad_clip=cfg.train.grad_clip,
        log=log, progress=progress, mixup=cfg.train.mixup,
    )
    if resume:
        trainer.resume()
    if dist_utils.rank() == 0 and not fresh:
        record_epochs_change(run_dir, cfg.train.epochs, trainer.state.epoch, log)
    trainer.fit()
    return run_dir


def saved_validation(run_dir: Path):
    """The :class:`~harkd.data.protocols.Validation` recorded in ``run_dir``'s run.json (None before 0.5)."""
    from harkd.data.protocols import Validation
    from harkd.engine.rundir import read_run_meta

    saved = read_run_meta(run_dir).get("validation") if (run_dir / "run.json").is_file() else None
    return Validation(saved["rule"], tuple(saved.get("subjects", ())), saved.get("how", "")) if saved else None


def validation_line(validation) -> str:
    return validation.how if validation else "as saved in run.json's split (recorded before validation rules were)"


def _check_same_experiment(run_dir: Path, cfg: ExperimentConfig) -> None:
    """Refuse to resume a run directory that was trained with a different configuration.

    The saved config is read through the current schema first, so a key added to harkd since
    the run was written (at its default) is not a change. ``train.epochs`` may change unless the
    schedule is cosine: its curve is laid out over the epochs, so a longer (or shorter) cosine run
    resumed from a started one would be neither the old run nor a run of the new length.
    """
    saved = yaml.safe_load((run_dir / "config.yaml").read_text())
    try:
        saved = yaml.safe_load(yaml.safe_dump(load_config(data=saved, schema=type(cfg)).to_dict()))
    except ConfigError:
        pass  # compare the raw file: the diff names what no longer matches
    current = yaml.safe_load(yaml.safe_dump(cfg.to_dict()))
    changed = sorted(_diff_keys(saved, current))
    harmless = {"train.epochs", "data.num_workers", "train.device", "output_dir", "train.refit"}
    if set(changed) - harmless:
        raise ConfigError(f"{run_dir} was trained with a different config (changed: {', '.join(changed)}); "
                          "use another --run-dir or restore the original values")
    old = (saved.get("train") or {}).get("epochs")
    if "train.epochs" in changed and cfg.schedule.name == "cosine":
        raise ConfigError(f"{run_dir} was trained with train.epochs={old} and a cosine schedule laid out over "
                          f"{old} epochs; resuming it with train.epochs={cfg.train.epochs} would not give a "
                          f"{cfg.train.epochs}-epoch cosine run: train a new run (another --run-dir) with "
                          f"train.epochs={cfg.train.epochs}, or keep train.epochs={old} to resume this one")


def _diff_keys(a: Any, b: Any, prefix: str = "") -> set[str]:
    if isinstance(a, dict) and isinstance(b, dict):
        out: set[str] = set()
        for key in set(a) | set(b):
            out |= _diff_keys(a.get(key), b.get(key), f"{prefix}{key}.")
        return out
    return set() if a == b else {prefix.rstrip(".")}


def run_data_root(data: DataConfig, meta: dict, run_dir: Path) -> tuple[Path, str]:
    """The data root of a saved run and where it came from: ``data.root`` or ``$HARKD_DATA_ROOT``
    when set (``"config"``), else run.json's ``data_root``, the root it was trained on (``"run.json"``)."""
    from harkd.engine.config import DATA_ROOT_ENV

    if data.root or os.environ.get(DATA_ROOT_ENV) or not meta.get("data_root"):
        return data.resolved_root(), "config"
    saved = Path(meta["data_root"])
    if not saved.is_dir():
        raise ConfigError(f"{run_dir}: data.root is not set, {DATA_ROOT_ENV} is not defined and the data root "
                          f"recorded in run.json ({saved}) is not a directory: set {DATA_ROOT_ENV} to the folder "
                          f"holding the dataset, or set data.root in {run_dir / 'config.yaml'}")
    return saved, "run.json"


def load_run(run_dir: str | Path, checkpoint: str = "best") -> tuple[Any, dict, Any, PreparedData]:
    """Rebuild a trained run of any kind: (config, run metadata, task with weights loaded, data).

    No split is preflighted; the data root is :func:`run_data_root`'s."""
    from harkd.engine.checkpoint import load_checkpoint
    from harkd.engine.rundir import read_run_meta

    run_dir = Path(run_dir)
    for name in ("config.yaml", "run.json"):
        if not (run_dir / name).is_file():
            raise DataError(run_dir / name, "not found: is this a harkd run directory?")
    meta = read_run_meta(run_dir)
    recipe = get_recipe(meta.get("kind", "train"))
    cfg = recipe.load(run_dir / "config.yaml")
    root, source = run_data_root(cfg.data, meta, run_dir)
    prepared = prepare_data(cfg.data, recipe.inputs(cfg), meta.get("normalization"), meta.get("split"),
                            check=(), root=root)
    prepared.root_source = source
    task = recipe.build(cfg, prepared)
    ckpt = load_checkpoint(run_dir / f"{checkpoint}.pt")
    try:
        task.load_state_dict(ckpt["task"])
    except RuntimeError as err:  # shapes or names differ: config.yaml no longer describes these weights
        detail = str(err).splitlines()[1].strip() if len(str(err).splitlines()) > 1 else str(err)
        raise DataError(run_dir / f"{checkpoint}.pt", f"does not fit the model of {run_dir / 'config.yaml'} ({detail}); "
                                                      "was config.yaml edited after training? restore it") from None
    task.eval()
    return cfg, meta, task, prepared
