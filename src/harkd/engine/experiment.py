"""Running an experiment: from a config to a trained run directory (:func:`train_experiment`,
:func:`run_config`); back from a run directory to its task and data: :func:`~harkd.engine.runs.load_run`
(re-exported here).

The pieces live in their own modules: :mod:`~harkd.engine.recipe` (recipes and their plan),
:mod:`~harkd.engine.prepare` (the data), :mod:`~harkd.engine.builders` (seeds, optimiser,
schedule, models), :mod:`~harkd.engine.lifecycle` (the run directory's lock, metadata, resume
checks and refit stage).
"""

from __future__ import annotations

import datetime
import sys
import time
from pathlib import Path
from typing import Callable

from harkd.engine import distributed as dist_utils
from harkd.engine.builders import build_optimizer, build_scheduler, seed_everything
from harkd.engine.devices import resolve_device, resolve_precision
from harkd.engine.lifecycle import (AS_PUBLISHED, NO_VALIDATION_FOR_REFIT, REFIT_DIR, SELECTION_TEST,
                                    default_run_dir, check_resumed_selection, check_same_experiment, record_device,
                                    refit_config, refit_epochs, run_dir_lock, run_identity,
                                    saved_validation, validation_line, write_metadata, write_task_reports)
from harkd.engine.prepare import prepare_data, split_size
from harkd.engine.recipe import TRAIN, Plan, Recipe, get_recipe, load_recipe_config
from harkd.engine.runs import load_run  # noqa: F401 (re-exported)
from harkd.engine.trainer import Trainer
from harkd.errors import ConfigError, DataError, InputError

__all__ = ["train_experiment", "run_config", "refit_experiment", "load_run"]


def run_config(config, run_dir: str | Path | None = None, *, kind: str = "train", overrides: list[str] = (),
               stage: str | None = None, **options) -> Path:
    """Read ``config`` (a YAML path, a dict or the config dataclasses) as a ``kind`` run (``stage``: that
    stage of a multi-stage config alone), apply ``overrides`` and train it with :func:`train_experiment`
    (``options``: its keyword arguments)."""
    recipe, cfg = load_recipe_config(config, kind, overrides, stage)
    return train_experiment(cfg, run_dir, recipe=recipe, **options)


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
    plan = recipe.plan(cfg)
    cfg = plan.cfg
    run_dir = Path(run_dir) if run_dir else default_run_dir(cfg, select_on)
    log = log or (lambda msg: print(msg, file=sys.stderr, flush=True))
    if plan.stages:
        return _train_stages(plan, run_dir, recipe, resume=resume, log=log, progress=progress, evaluate=evaluate,
                             select_on=select_on)
    dist_utils.init_from_env(cfg.train.device)
    if dist_utils.rank() == 0:
        check_run_dir(run_dir)
    with run_dir_lock(run_dir, dist_utils.rank() == 0):
        _train_locked(plan, run_dir, resume, log, progress, evaluate, select_on)
    if cfg.train.refit:
        refit_experiment(plan, run_dir, log=log, progress=progress)
    return run_dir


def _train_stages(plan: Plan, run_dir: Path, recipe: Recipe, *, log: Callable[[str], None], **options) -> Path:
    """A multi-stage run: stage ``k`` trains into ``run_dir/<k's name>`` (a complete run directory) from
    the previous stage's weights; each resumes like any run, so a run stopped in stage ``k`` resumes
    there (the finished stages train no further). ``run_dir/config.yaml`` records the whole config.
    Returns the last stage's run directory (its student is the run's)."""
    import yaml

    from harkd.engine.rundir import check_run_dir

    if dist_utils.rank() == 0:
        check_run_dir(run_dir)
        (run_dir / "config.yaml").write_text(yaml.safe_dump(plan.cfg.to_dict(), sort_keys=False))
    previous = None
    for number, (name, stage_config) in enumerate(plan.stages, 1):
        if dist_utils.rank() == 0:
            log(f"stage {number}/{len(plan.stages)}: {name}" + (f" (from {previous})" if previous else ""))
        previous = train_experiment(stage_config(previous), run_dir / name, recipe=recipe, log=log, **options)
    return previous


def refit_experiment(plan: Plan, run_dir: Path, *, log: Callable[[str], None] | None = None,
                     progress: bool | None = None) -> Path:
    """Stage 2 of ``train.refit``: train the plan's config again from scratch on every training-side recording
    into ``run_dir/refit`` (a complete run directory; resumes from its last.pt), evaluate its final epoch on the
    test split and record ``refit`` (epochs, dir, test) in ``run_dir``'s run.json."""
    from harkd.engine.evaluate import evaluate_run
    from harkd.engine.rundir import read_run_meta, write_run_meta

    cfg = plan.cfg
    log = log or (lambda msg: print(msg, file=sys.stderr, flush=True))
    epochs = refit_epochs(cfg, run_dir)
    refit_dir = run_dir / REFIT_DIR
    if dist_utils.rank() == 0:
        log(f"refit: training again on every training-side recording for {epochs} epochs "
            f"(train.refit {cfg.train.refit}) into {refit_dir}")
    with run_dir_lock(refit_dir, dist_utils.rank() == 0):
        _train_locked(plan.with_config(refit_config(cfg, epochs)), refit_dir, True, log, progress)
    if dist_utils.rank() == 0:
        test = None  # a protocol without test recordings (e.g. a partial copy) has nothing to report
        if read_run_meta(refit_dir).get("split", {}).get("test"):
            result = evaluate_run(refit_dir, "test", "last")
            test = {k: result[k] for k in ("checkpoint", "accuracy", "macro_f1", "num_samples")}
        meta = read_run_meta(run_dir)
        meta["refit"] = {"rule": cfg.train.refit, "epochs": epochs, "dir": REFIT_DIR, "test": test}
        write_run_meta(run_dir, meta)
    return refit_dir


def _train_locked(plan: Plan, run_dir: Path, resume: bool, log, progress, evaluate: str | None = None,
                  select_on: str = "val") -> Path:
    from harkd.engine.rundir import check_free_space, check_splits, read_run_meta, record_epochs_change
    from harkd.engine.trainer import verify_resumable

    cfg = plan.cfg
    seed_everything(cfg.seed, cfg.train.deterministic)
    device = resolve_device(cfg.train.device)
    precision = resolve_precision(cfg.train.precision, device)
    last = run_dir / "last.pt"
    existing = (run_dir / "run.json")
    normalization = split_keys = None
    if resume and last.is_file() and existing.is_file():
        check_same_experiment(run_dir, cfg)
        verify_resumable(last, run_dir / "best.pt")  # before the data are read
        saved = read_run_meta(run_dir)
        normalization, split_keys = saved.get("normalization"), saved.get("split")
        check_resumed_selection(run_dir, saved, select_on)
    elif not resume and last.is_file():
        raise DataError(run_dir, "already holds a run; resume it (default) or choose another --run-dir")
    fresh = normalization is None
    if dist_utils.rank() == 0:
        log = logged_to(log, run_dir / TRAIN_LOG)
    normalization = {**(normalization or {}), **plan.normalization}
    started = time.monotonic()
    prepared = prepare_data(cfg.data, plan.inputs, normalization, split_keys, teacher_only=plan.teacher_only,
                            progress=loading_progress(log, cfg.train.log_every))
    check_splits(prepared, cfg.data.protocol, "test" if select_on == "test" else evaluate)
    if cfg.train.refit == "best" and not len(prepared.datasets["val"]):
        raise ConfigError(NO_VALIDATION_FOR_REFIT)
    log(f"data ready in {time.monotonic() - started:.0f} s ({cfg.data.dataset}, {cfg.data.protocol}): " + ", ".join(
        f"{name} {split_size(prepared.datasets[name])}" for name in ("train", "val", "test")) + f"; training on {device}"
        + ("" if precision == "fp32" else f" ({precision})"))
    if dist_utils.rank() == 0 and fresh:
        write_metadata(run_dir, cfg, prepared, plan.kind, select_on)
    if dist_utils.rank() == 0:
        record_device(run_dir, device, precision)
    if dist_utils.rank() == 0:
        log(f"validation: {validation_line(prepared.split.validation or saved_validation(run_dir))}")
        if select_on == "test":
            log(f"selection: {SELECTION_TEST} {AS_PUBLISHED}")
    selection_set = prepared.datasets["test" if select_on == "test" else "val"]
    task = get_recipe(plan.kind).build(plan, prepared)
    optimizer = build_optimizer(cfg.optim, [p for p in task.parameters() if p.requires_grad])
    if dist_utils.rank() == 0:
        check_free_space(run_dir, task, cfg.optim)
        write_task_reports(run_dir, task)
    trainer = Trainer(
        task, prepared.datasets["train"], selection_set if len(selection_set) else None,
        optimizer, run_dir, cfg.train.epochs, num_classes=len(prepared.class_names), seed=cfg.seed,
        batch_size=cfg.train.batch_size, num_workers=cfg.data.num_workers,
        scheduler=build_scheduler(cfg.schedule, optimizer, cfg.train.epochs),
        selection_metric=cfg.train.select, device=device, precision=precision, grad_clip=cfg.train.grad_clip,
        log=log, progress=progress, progress_interval=cfg.train.log_every, mixup=cfg.train.mixup,
        tensorboard=cfg.train.tensorboard, identity=run_identity(run_dir), resident=cfg.data.resident,
    )
    if resume:
        trainer.resume()
    if dist_utils.rank() == 0 and not fresh:
        record_epochs_change(run_dir, cfg.train.epochs, trainer.state.epoch, log)
    trainer.fit()
    return run_dir


def loading_progress(log: Callable[[str], None], every: float,
                     clock: Callable[[], float] = time.monotonic) -> Callable[[str, int, int], None]:
    """``progress(split, done, total)`` for :func:`prepare_data` that logs ``loading train: 200/431 recordings
    (31 s)`` at most every ``every`` seconds (a cold start reads every file once)."""
    start = last = clock()

    def progress(split: str, done: int, total: int) -> None:
        nonlocal last
        now = clock()
        if now - last >= every and done < total:
            last = now
            log(f"loading {split}: {done}/{total} recordings ({now - start:.0f} s)")

    return progress


#: The run directory's log: every line the run printed while training, with the time.
TRAIN_LOG = "train.log"


def logged_to(log: Callable[[str], None], path: Path) -> Callable[[str], None]:
    """``log`` that also appends each line, time-stamped, to ``path`` (a write failure never stops training)."""
    def both(message: str) -> None:
        log(message)
        try:
            with path.open("a", encoding="utf-8") as handle:
                handle.write(f"{datetime.datetime.now().isoformat(timespec='seconds')} {message}\n")
        except OSError:
            pass

    return both
