"""Student-only "publish" of a distillation run.

The published directory is an ordinary ``train``-kind run directory: ``config.yaml``
with the student as ``model`` and only the student's input modality under
``data.modalities``; ``run.json`` (the source run's metadata, kind ``train``, the
student modality's normalisation, ``published_from``); ``best.pt`` holding only the
student's weights (as ``model.*``). Teachers, loss adapters/memory banks, optimiser and
scheduler state and RNG state are not carried. ``harkd evaluate`` and ``harkd export``
accept it.
"""

from __future__ import annotations

import dataclasses
import datetime
import json
import shutil
from pathlib import Path

import yaml

from harkd.errors import DataError, InputError

__all__ = ["publish_student"]


def publish_student(run_dir: str | Path, out_dir: str | Path, checkpoint: str = "best") -> Path:
    from harkd.engine.checkpoint import atomic_save, load_checkpoint
    from harkd.engine.config import DataConfig, ExperimentConfig
    from harkd.recipes import read_run_config

    run_dir, out_dir = Path(run_dir), Path(out_dir)
    if not run_dir.is_dir():
        raise DataError(run_dir, "run directory not found")
    meta, recipe, cfg = read_run_config(run_dir)
    attr, model_cfg = recipe.deployable(cfg)
    if attr == "model":  # the task holds the deployable model alone: nothing to leave out
        raise InputError(f"{run_dir} is a '{recipe.kind}' run: only distillation runs are published "
                         "(a train run already holds one model; export it directly)")
    if out_dir.exists() and any(out_dir.iterdir()):
        raise DataError(out_dir, "already exists and is not empty; choose another publish directory")
    modality = model_cfg.input
    if not isinstance(modality, str):
        raise InputError(f"publish supports single-input students; this student reads {modality}")
    state = load_checkpoint(run_dir / f"{checkpoint}.pt")
    weights = {k[len(attr) + 1:]: v for k, v in state["task"].items() if k.startswith(f"{attr}.")}
    if not weights:
        raise DataError(run_dir / f"{checkpoint}.pt", "holds no student weights")
    # a train run's data section: DataConfig's keys (a distillation's teacher_missing is about its teachers)
    data = DataConfig(**{**{f.name: getattr(cfg.data, f.name) for f in dataclasses.fields(DataConfig)},
                         "modalities": {modality: dict(cfg.data.modalities[modality])}})
    student_cfg = ExperimentConfig(name=f"{cfg.name}_student", model=model_cfg, data=data, seed=cfg.seed,
                                   optim=cfg.optim, schedule=cfg.schedule, train=cfg.train,
                                   output_dir=cfg.output_dir)
    out_dir.mkdir(parents=True, exist_ok=True)
    (out_dir / "config.yaml").write_text(yaml.safe_dump(student_cfg.to_dict(), sort_keys=False))
    published = dict(meta)
    published.update({
        "kind": "train",
        "normalization": {m: s for m, s in (meta.get("normalization") or {}).items() if m == modality},
        "skipped": {split: [s for s in skipped if isinstance(s, (list, tuple)) and f"missing {modality}" in str(s[1])]
                    for split, skipped in (meta.get("skipped") or {}).items()},
        "published_from": {"run_dir": str(run_dir.resolve()), "checkpoint": checkpoint,
                           "epoch": state.get("epoch"), "teachers": [t.run for t in getattr(cfg, "teachers", [])],
                           "at": datetime.datetime.now(datetime.timezone.utc).isoformat(timespec="seconds")},
    })
    (out_dir / "run.json").write_text(json.dumps(published, indent=1))
    atomic_save({"task": {f"model.{k}": v.detach().clone() for k, v in weights.items()},
                 "epoch": state.get("epoch"), "published_from": str(run_dir.resolve())}, out_dir / "best.pt")
    if (run_dir / "metrics.jsonl").is_file():
        shutil.copyfile(run_dir / "metrics.jsonl", out_dir / "metrics.jsonl")
    return out_dir
