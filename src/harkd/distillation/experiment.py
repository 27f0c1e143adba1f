"""The ``distill`` recipe: config -> paired data with every teacher's input -> DistillTask."""

from __future__ import annotations

import copy
import dataclasses
import functools
from pathlib import Path
from typing import Callable

import torch

from harkd.data.transforms import deterministic_options
from harkd.distillation.config import DistillConfig, load_distill_config, read_stage, stage_data
from harkd.distillation.task import DistillTask, LossTerm
from harkd.distillation.teachers import (Teacher, check_teacher_split, load_teacher, out_of_fold_outputs, read_teacher,
                                   warn_near_chance)
from harkd.engine.builders import build_model
from harkd.engine.experiment import train_experiment
from harkd.engine.prepare import PreparedData
from harkd.engine.recipe import Plan, Recipe, register_recipe
from harkd.engine.devices import autocast, place, resolve_device, resolve_precision, to_device
from harkd.engine.tasks import model_input
from harkd.errors import ConfigError
from harkd.losses.registry import LossContext, loss_class

__all__ = ["DISTILL", "distill_experiment", "distill_plan", "resolve_config"]


def resolve_config(cfg: DistillConfig, teachers: list[Teacher] | None = None) -> DistillConfig:
    """Add each teacher's input modality and its training transforms to ``data.modalities``.

    A modality read by two models must use the same transform options in both, except
    training-time randomness (:data:`~harkd.data.transforms.TRAIN_ONLY_OPTIONS`: inertial
    ``augment``, depth ``random_offsets``). The batch holds one view per modality: a teacher
    reading the student's modality sees the student's view (augmented in training; such a
    teacher is not cached), and a modality only teachers read gets the teachers' evaluation
    view (no randomness), so the frozen teachers give their deterministic outputs, which the
    teacher-output cache then computes once per recording. To feed teachers a random view,
    list the modality in ``data.modalities`` with those options, or use ``data.paired_augment``
    (one time window for every modality) or ``train.mixup``; the teachers then run online.
    ``teachers``: the config's teachers when already read (else they are read here).
    """
    teachers = [read_teacher(t) for t in cfg.teachers] if teachers is None else teachers
    cfg = copy.deepcopy(cfg)
    for teacher in teachers:
        for modality, transform in teacher.transforms.items():
            current = cfg.data.modalities.get(modality)
            if current is None:
                cfg.data.modalities[modality] = deterministic_options(transform)
            elif deterministic_options(current) != deterministic_options(transform):
                raise ConfigError(
                    f"modality '{modality}' is read by teacher {teacher.run_dir} with {transform} but "
                    f"data.modalities gives {dict(current)}; use the teacher's options")
    return cfg


def distill_plan(cfg: DistillConfig) -> Plan:
    """A distillation's plan: every teacher run read once; its config resolved with the teachers' inputs;
    the student's and the teachers' modalities; the teachers' inputs normalised with THEIR training
    statistics; the student as the deployable model. A multi-stage config plans its stages (each
    stage's config is checked now, its teachers read when it starts)."""
    if cfg.stages is not None:
        for i in range(len(cfg.stages)):
            stage_config(cfg, i, None)  # every stage's config is valid before the first one trains
        stages = [(name, functools.partial(stage_config, cfg, i)) for i, name in enumerate(cfg.stage_names())]
        attr, student = _student(cfg)
        return Plan("distill", cfg, [], student, attr, stages=stages)
    teachers = [read_teacher(t) for t in cfg.teachers]
    cfg = resolve_config(cfg, teachers)
    inputs = cfg.student.inputs + [m for t in teachers for m in t.transforms]
    normalization = {m: stats for t in teachers for m, stats in t.normalization.items()}
    attr, student = _student(cfg)
    teacher_only = list(dict.fromkeys(m for m in inputs if m not in cfg.student.inputs))
    return Plan("distill", cfg, inputs, student, attr, normalization, teachers, teacher_only=teacher_only)


def stage_config(cfg: DistillConfig, i: int, previous: Path | None) -> DistillConfig:
    """Stage ``i`` of a multi-stage config as a single-stage one: named ``NAME_STAGE``, with the stage's
    teachers, losses, epochs and schedule keys, started from ``previous`` (the last stage's run directory)."""
    data = stage_data(cfg.to_dict(), i)
    data["init_from"] = None if previous is None else str(previous)
    try:
        return load_distill_config(data=data)
    except ConfigError as err:
        raise ConfigError(f"stages[{i}]: {err}") from None


def _student(cfg: DistillConfig) -> tuple[str, object]:
    """The deployable model: (task attribute, ModelConfig); the plan and publish both read it here."""
    return "student", cfg.student


@torch.no_grad()
def _feature_shapes(model, sample: dict, key) -> dict[str, tuple[int, ...]]:
    """Per-sample shape of every named feature (a 2-sample dry run in eval mode)."""
    was_training = model.training
    model.eval()
    pair = torch.utils.data.default_collate([sample, sample])
    feats = model.forward_intermediates(model_input(pair, key), list(model.feature_names))
    model.train(was_training)
    return {name: tuple(value.shape[1:]) for name, value in feats.items()}


def _build_terms(cfg: DistillConfig, student, teachers: list[Teacher], sample: dict, num_samples: int) -> list[LossTerm]:
    """``cfg.losses`` as loss terms, each loss built from a :class:`~harkd.losses.registry.LossContext`."""
    student_shapes = _feature_shapes(student, sample, cfg.student.input)
    teacher_shapes = [_feature_shapes(t.model, sample, t.input) for t in teachers]
    for w, shapes in enumerate(teacher_shapes):
        if shapes.get("logits") != student_shapes.get("logits"):
            raise ConfigError(f"teacher {w} ({teachers[w].run_dir}) gives logits of shape {shapes.get('logits')}, the "
                              f"student {student_shapes.get('logits')}: a teacher must score the student's classes")
    terms, names = [], set()
    for i, term in enumerate(cfg.losses):
        label = term.name if term.name not in names else f"{term.name}_{i}"
        names.add(label)
        cls = loss_class(term.name)
        multi = not isinstance(term.student, str)
        s_keys = (term.student,) if isinstance(term.student, str) else tuple(term.student)
        for key in s_keys:
            if key not in student_shapes:
                raise ConfigError(f"losses[{i}].student: the student has no feature {key!r} "
                                  f"(features: {', '.join(student_shapes)})")
        s_shape = [student_shapes[k] for k in s_keys] if multi else student_shapes[s_keys[0]]
        context = LossContext(s_shape, num_samples=num_samples, student_segments=getattr(student, "num_segments", 1),
                              label_smoothing=cfg.train.label_smoothing)
        if not cls.reads_teacher:
            terms.append(LossTerm(label, cls.from_context(context, **term.args), term.weight, s_keys, (), (), multi,
                                  weight_end=term.weight_end))
            continue
        which, t_keys, branches = _term_teachers(i, term, teachers, teacher_shapes)
        first = teacher_shapes[which[0]]
        t_keys0 = [branches[0][0] + k for k in t_keys]
        context = dataclasses.replace(context, teacher_shape=[first[k] for k in t_keys0] if multi else first[t_keys0[0]],
                                      teacher_segments=getattr(teachers[which[0]].model, "num_segments", 1))
        loss = cls.from_context(context, **term.args)
        ensemble = None
        if term.ensemble:  # the teachers' softmax averaged at the loss's soft-target temperature (else at 1)
            ensemble = float(loss.temperature) if loss.temperature_role == "soft_targets" else 1.0
        terms.append(LossTerm(label, loss, term.weight, s_keys, t_keys, which, multi, branches, ensemble,
                              term.weight_end))
    return terms


def _term_teachers(i: int, term, teachers: list[Teacher], teacher_shapes: list[dict]):
    """(teacher indices, teacher feature keys, branch prefixes per teacher) of loss term ``i``, each checked."""
    index = term.teacher_index
    which = tuple(range(len(teachers))) if index == "all" else tuple(index) if isinstance(index, list) else (index,)
    if any(not 0 <= w < len(teachers) for w in which):
        raise ConfigError(f"losses[{i}].teacher_index {index} is out of range ({len(teachers)} teachers)")
    t_keys = (term.teacher,) if isinstance(term.teacher, str) else tuple(term.teacher)
    branches = tuple(_branch_prefixes(i, term.teacher_branches, w, teachers[w].model) for w in which)
    for w, prefixes in zip(which, branches):
        for key in (p + k for p in prefixes for k in t_keys):
            if key not in teacher_shapes[w]:
                raise ConfigError(f"losses[{i}].teacher: teacher {w} has no feature {key!r} "
                                  f"(features: {', '.join(teacher_shapes[w])})")
    return which, t_keys, branches


def _branch_prefixes(i: int, wanted, w: int, model) -> tuple[str, ...]:
    """Feature-name prefixes of the teacher branches a term reads (``("",)``: the model's own features)."""
    if wanted is None:
        return ("",)
    names = tuple(getattr(model, "branch_names", ()))
    if not names:
        raise ConfigError(f"losses[{i}].teacher_branches: teacher {w} is not a multi-branch model "
                          "(e.g. gaf_vgg_spamfm); remove the key")
    chosen = names if wanted == "all" else tuple(wanted)
    for name in chosen:
        if name not in names:
            raise ConfigError(f"losses[{i}].teacher_branches: teacher {w} has no branch {name!r} "
                              f"(branches: {', '.join(names)})")
    return tuple(f"{b}." for b in chosen)


def _gsdm_embeddings(cfg: DistillConfig, teachers: list[Teacher], terms: list[LossTerm]):
    """Class-name embeddings for GSDM's ablation weights: ``cfg.semantic``, else the first semantic teacher's."""
    if not any(k in ("student_weights", "teacher_weights") for t in terms for k in t.context_keys()):
        return None
    from harkd.engine.builders import semantic_embeddings

    semantic = cfg.semantic or next((t.semantic for t in teachers if t.semantic is not None), None)
    if semantic is None:
        raise ConfigError("config key 'semantic': gsdm's ablation weights need class-name embeddings; set "
                          "semantic: {source: glove} or use a teacher trained with a 'semantic' section")
    return semantic_embeddings(semantic, cfg.data.dataset).matrix


def _init_student(student, run_dir: Path) -> None:
    """Load the best weights of a train run's model or a distill run's student into ``student``."""
    from harkd.engine.checkpoint import load_checkpoint

    state = load_checkpoint(run_dir / "best.pt")["task"]
    for prefix in ("student.", "model."):
        weights = {k[len(prefix):]: v for k, v in state.items() if k.startswith(prefix)}
        if weights:
            break
    try:
        student.load_state_dict(weights)
    except RuntimeError as err:
        raise ConfigError(f"init_from {run_dir}: its model does not match the student ({err})") from None


def build_distill_task(plan: Plan, prepared: PreparedData) -> DistillTask:
    """The plan's student, its frozen teachers (each checked against the split) and loss terms."""
    cfg, teachers = plan.cfg, plan.teachers
    sample = prepared.datasets["train"][0]
    for teacher in teachers:
        check_teacher_split(teacher, prepared.split, cfg.data.dataset, prepared.class_names)
        load_teacher(teacher, sample)
    student = build_model(cfg.student, sample, len(prepared.class_names))
    if cfg.init_from:
        _init_student(student, Path(cfg.init_from))
    terms = _build_terms(cfg, student, teachers, sample, len(prepared.datasets["train"]))
    train = prepared.datasets["train"]
    transforms = train.transforms
    _check_mixup(cfg, teachers, terms, len(train) - len(train.keys_with(plan.teacher_only)))
    # a teacher whose input is augmented (its own options, or the paired time window) runs online
    paired = cfg.data.paired_shift > 0
    cacheable = [cfg.teacher_cache and not paired and not any(transforms[m].stochastic for m in t.transforms)
                 for t in teachers]
    task = DistillTask(student, cfg.student.input, [t.model for t in teachers], [t.input for t in teachers],
                       terms, cacheable, _gsdm_embeddings(cfg, teachers, terms),
                       stored=[bool(t.folds) for t in teachers])
    for i, teacher in enumerate(teachers):
        if teacher.folds:
            task.cache.preload(i, out_of_fold_outputs(teacher, task.teacher_features[i],
                                                      train.keys_with(teacher.transforms), indexes=prepared.indexes))
    task.reports = {"teachers.json": lambda: teacher_report(cfg, task, teachers, terms, prepared)}
    return task


def _check_mixup(cfg: DistillConfig, teachers: list[Teacher], terms: list[LossTerm], untaught: int = 0) -> None:
    """``train.mixup`` needs teachers that can run on a mixed input, terms that need no recording identity
    and training recordings that all have the teachers' modalities (``untaught``: how many lack one)."""
    if cfg.train.mixup is None:
        return
    if untaught:
        raise ConfigError(f"train.mixup mixes two recordings per sample, but {untaught} training recordings lack "
                          "a teacher's modality (a mixed sample would be half taught): set "
                          "data.teacher_missing=skip, or remove train.mixup")
    for i, teacher in enumerate(teachers):
        if teacher.folds:
            raise ConfigError(f"train.mixup runs the teachers on mixed inputs, but teacher {i} is cross-fitted "
                              "('folds': only stored per-recording outputs): give it as 'run', or remove train.mixup")
    for term in terms:
        needs = [k for k in term.context_keys() if k in ("index", "labels")]
        if needs:
            what = "a memory bank indexed by recording" if needs[0] == "index" else "one label per sample"
            raise ConfigError(f"train.mixup mixes two recordings per sample, but loss '{term.loss.registry_name}' needs "
                              f"{what} ('{needs[0]}'): remove train.mixup or that loss term")


def teacher_temperatures(terms: list[LossTerm], count: int) -> list[float]:
    """Per teacher, the temperature of the first soft-target term (``temperature_role``) that reads it (else 1)."""
    temps = [1.0] * count
    found = [False] * count
    for term in terms:
        if term.loss.temperature_role != "soft_targets":
            continue
        t = term.loss.temperature
        for i in term.teachers:
            if not found[i]:
                temps[i], found[i] = float(t), True
    return temps


def teacher_report(cfg: DistillConfig, task: DistillTask, teachers: list[Teacher], terms: list[LossTerm],
                   prepared: PreparedData) -> dict:
    """``teachers.json``: each teacher's calibration on the training recordings it teaches,
    computed once before training (a cached teacher's outputs are stored for the epochs);
    a teacher near chance there is warned about. The teachers run on the training device in the
    training precision (``train.precision``, TF32 off for fp32 on a CUDA GPU), so the stored outputs
    are the ones training would compute itself."""
    from torch.utils.data import DataLoader

    train = prepared.datasets["train"]
    temps = teacher_temperatures(terms, len(teachers))
    taught = set(train.keys_with(task.teacher_modalities))
    device = resolve_device(cfg.train.device)  # the training device (the trainer places the task there too)
    place(task, device)
    loader = DataLoader(train, batch_size=cfg.train.batch_size, num_workers=cfg.data.num_workers)
    with autocast(resolve_precision(cfg.train.precision, device), device):
        rows = task.teacher_calibration((to_device(batch, device) for batch in loader), temps)
    report = {"split": "train", "recordings": len(taught),
              "teachers": [{"name": t.name, "run": str(t.run_dir), "input": t.input, **row}
                           for t, row in zip(teachers, rows)]}
    warn_near_chance(report, [rec.label for rec in train.recordings if rec.key in taught])
    return report


def _load(path=None, overrides=(), data=None) -> DistillConfig:
    return load_distill_config(path, overrides, data)


DISTILL = register_recipe(Recipe("distill", _load, distill_plan, build_distill_task, keys=("teachers", "student"),
                                 title="distillation", deployable=_student, stage=read_stage))


def distill_experiment(cfg: DistillConfig, run_dir: Path | None = None, *, resume: bool = True,
                       log: Callable[[str], None] | None = None, progress: bool | None = None) -> Path:
    """Distil ``cfg`` into ``run_dir`` (resumable, validation-selected), like ``harkd train``."""
    return train_experiment(cfg, run_dir, resume=resume, log=log, progress=progress, recipe=DISTILL)
