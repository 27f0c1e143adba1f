"""The ``distill`` recipe: config -> paired data with every teacher's input -> DistillTask."""

from __future__ import annotations

import copy
import inspect
from pathlib import Path
from typing import Callable

import torch

from harkd.distill.config import DistillConfig, load_distill_config
from harkd.distill.task import DistillTask, LossTerm
from harkd.distill.teachers import Teacher, check_teacher_split, load_teacher, read_teacher_run
from harkd.engine.experiment import PreparedData, Recipe, build_model, register_recipe, train_experiment
from harkd.errors import ConfigError

__all__ = ["DISTILL", "distill_experiment", "resolve_config"]


def _teachers(cfg: DistillConfig) -> list[Teacher]:
    return [read_teacher_run(t.run, t.checkpoint, t.name) for t in cfg.teachers]


def resolve_config(cfg: DistillConfig) -> DistillConfig:
    """Add each teacher's input modality and its training transforms to ``data.modalities``.

    A modality read by two models must use the same transform options in both.
    """
    cfg = copy.deepcopy(cfg)
    for teacher in _teachers(cfg):
        current = cfg.data.modalities.get(teacher.input)
        if current is None:
            cfg.data.modalities[teacher.input] = dict(teacher.transform)
        elif dict(current) != teacher.transform:
            raise ConfigError(
                f"modality '{teacher.input}' is read by teacher {teacher.run_dir} with {teacher.transform} but "
                f"data.modalities gives {dict(current)}; use the teacher's options")
    return cfg


def _inputs(cfg: DistillConfig) -> list[str]:
    return [cfg.student.input] + [t.input for t in _teachers(cfg)]


def _normalization(cfg: DistillConfig) -> dict:
    """Teachers see their input normalised with THEIR training statistics."""
    return {t.input: t.normalization for t in _teachers(cfg) if t.normalization}


@torch.no_grad()
def _feature_shapes(model, sample: torch.Tensor) -> dict[str, tuple[int, ...]]:
    """Per-sample shape of every named feature (a 2-sample dry run in eval mode)."""
    was_training = model.training
    model.eval()
    feats = model.forward_intermediates(torch.stack([sample, sample]), list(model.feature_names))
    model.train(was_training)
    return {name: tuple(value.shape[1:]) for name, value in feats.items()}


def _build_terms(cfg: DistillConfig, student, teachers: list[Teacher], sample: dict, num_samples: int) -> list[LossTerm]:
    from harkd.losses.registry import create_loss, loss_class

    student_shapes = _feature_shapes(student, sample[cfg.student.input])
    teacher_shapes = [_feature_shapes(t.model, sample[t.input]) for t in teachers]
    terms, names = [], set()
    for i, term in enumerate(cfg.losses):
        label = term.name if term.name not in names else f"{term.name}_{i}"
        names.add(label)
        if term.name == "ce":
            terms.append(LossTerm(label, None, term.weight, ("logits",), (), ()))
            continue
        index = term.teacher_index
        which = tuple(range(len(teachers))) if index == "all" else (index,)
        if any(not 0 <= w < len(teachers) for w in which):
            raise ConfigError(f"losses[{i}].teacher_index {index} is out of range ({len(teachers)} teachers)")
        s_keys = (term.student,) if isinstance(term.student, str) else tuple(term.student)
        t_keys = (term.teacher,) if isinstance(term.teacher, str) else tuple(term.teacher)
        multi = not isinstance(term.student, str)
        for key in s_keys:
            if key not in student_shapes:
                raise ConfigError(f"losses[{i}].student: the student has no feature {key!r} "
                                  f"(features: {', '.join(student_shapes)})")
        for w in which:
            for key in t_keys:
                if key not in teacher_shapes[w]:
                    raise ConfigError(f"losses[{i}].teacher: teacher {w} has no feature {key!r} "
                                      f"(features: {', '.join(teacher_shapes[w])})")
        s_shape = [student_shapes[k] for k in s_keys] if multi else student_shapes[s_keys[0]]
        t_shape = [teacher_shapes[which[0]][k] for k in t_keys] if multi else teacher_shapes[which[0]][t_keys[0]]
        args = dict(term.args)
        if "num_samples" in inspect.signature(loss_class(term.name).__init__).parameters:
            args.setdefault("num_samples", num_samples)  # memory banks sized from the training set
        loss = create_loss(term.name, student_shape=s_shape, teacher_shape=t_shape, **args)
        terms.append(LossTerm(label, loss, term.weight, s_keys, t_keys, which, multi))
    return terms


def build_distill_task(cfg: DistillConfig, prepared: PreparedData) -> DistillTask:
    teachers = _teachers(cfg)
    sample = prepared.datasets["train"][0]
    for teacher in teachers:
        check_teacher_split(teacher, prepared.split, cfg.data.dataset, prepared.class_names)
        load_teacher(teacher, sample[teacher.input])
    student = build_model(cfg.student, sample, len(prepared.class_names))
    terms = _build_terms(cfg, student, teachers, sample, len(prepared.datasets["train"]))
    transforms = prepared.datasets["train"].transforms
    cacheable = [cfg.teacher_cache and not transforms[t.input].stochastic for t in teachers]
    return DistillTask(student, cfg.student.input, [t.model for t in teachers], [t.input for t in teachers],
                       terms, cacheable)


def _load(path=None, overrides=(), data=None) -> DistillConfig:
    return load_distill_config(path, overrides, data)


DISTILL = register_recipe(Recipe("distill", _load, _inputs, build_distill_task, _normalization, resolve_config))


def distill_experiment(cfg: DistillConfig, run_dir: Path | None = None, *, resume: bool = True,
                       log: Callable[[str], None] | None = None, progress: bool | None = None) -> Path:
    """Distil ``cfg`` into ``run_dir`` (resumable, validation-selected), like ``harkd train``."""
    return train_experiment(cfg, run_dir, resume=resume, log=log, progress=progress, recipe=DISTILL)
