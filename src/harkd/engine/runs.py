"""From a run directory back to its config, metadata, task and data (:func:`load_run`).

Below both :mod:`~harkd.engine.experiment` (which trains runs) and :mod:`~harkd.engine.evaluate` (which reads them),
so neither imports the other to rebuild a run."""

from __future__ import annotations

import dataclasses
from pathlib import Path
from typing import Any

from harkd.engine.builders import build_model
from harkd.engine.devices import evaluation_device, place, resolve_device
from harkd.engine.lifecycle import run_data_root, run_identity
from harkd.engine.prepare import PreparedData, prepare_data
from harkd.engine.recipe import Plan, read_run_config
from harkd.engine.tasks import ClassificationTask
from harkd.errors import DataError

__all__ = ["load_run"]


def load_run(run_dir: str | Path, checkpoint: str = "best", *, device: str | None = None,
             indexes: dict | None = None, whole: bool = False) -> tuple[Any, dict, Any, PreparedData]:
    """Rebuild a trained run: (config, run metadata, task with the checkpoint's weights, data).

    By default the task is a :class:`~harkd.engine.tasks.ClassificationTask` around the run's deployable
    model alone (a distillation's student: its teachers are neither read nor needed) and the data hold that
    model's inputs only; ``whole=True`` rebuilds the run's own task through its recipe (a distillation's
    teachers and loss terms included). The task is in eval mode on ``device`` (default:
    :func:`~harkd.engine.devices.evaluation_device` of the run's ``train.device``: the GPU it trained on when
    this machine has it, else the CPU with a warning). The split is run.json's; no split is preflighted; the
    data root is :func:`~harkd.engine.lifecycle.run_data_root`'s; ``indexes`` (see
    :func:`~harkd.engine.prepare.prepare_data`) reuses dataset scans already made. ``prepared.plan`` is the
    plan of the rebuilt task."""
    from harkd.engine.checkpoint import load_checkpoint
    from harkd.engine.trainer import check_checkpoint_identity

    run_dir = Path(run_dir)
    meta, recipe, cfg = read_run_config(run_dir)
    root, source = run_data_root(cfg.data, meta, run_dir)
    path = run_dir / f"{checkpoint}.pt"
    if whole:
        plan = recipe.plan(cfg)
        prepared = prepare_data(cfg.data, plan.inputs, meta.get("normalization"), meta.get("split"), check=(),
                                root=root, indexes=indexes, teacher_only=plan.teacher_only)
        task, target, weights = recipe.build(plan, prepared), None, None
    else:
        attr, model_cfg = recipe.deployable(cfg)
        plan = Plan(meta.get("kind", "train"), cfg, list(model_cfg.inputs), model_cfg)
        data = dataclasses.replace(cfg.data, modalities={m: cfg.data.modalities[m] for m in plan.inputs})
        normalization = {m: stats for m, stats in (meta.get("normalization") or {}).items() if m in plan.inputs}
        prepared = prepare_data(data, plan.inputs, normalization, meta.get("split"), check=(), root=root,
                                indexes=indexes)
        target = build_model(model_cfg, prepared.datasets["train"][0], len(prepared.class_names))
        task = ClassificationTask(target, model_cfg.input)
    prepared.root_source = source
    prepared.plan = plan
    ckpt = load_checkpoint(path)
    check_checkpoint_identity(ckpt, run_identity(run_dir), path)
    if target is None:
        target, weights = task, ckpt["task"]
    else:
        prefix = f"{attr}."
        weights = {k[len(prefix):]: v for k, v in ckpt["task"].items() if k.startswith(prefix)}
        if not weights:
            raise DataError(path, f"holds no weights of the run's {attr} (was it written by harkd?)")
    try:
        target.load_state_dict(weights)
    except RuntimeError as err:  # shapes or names differ: config.yaml no longer describes these weights
        detail = str(err).splitlines()[1].strip() if len(str(err).splitlines()) > 1 else str(err)
        raise DataError(path, f"does not fit the model of {run_dir / 'config.yaml'} ({detail}); "
                              "was config.yaml edited after training? restore it") from None
    place(task, evaluation_device(cfg.train.device) if device is None else resolve_device(device))
    task.eval()
    return cfg, meta, task, prepared
