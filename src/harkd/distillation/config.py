"""The distillation experiment schema: teachers, a student, weighted loss terms.

Example (``configs/utd_mhad/distill/skel2acc_kd.yaml``)::

    name: utd_skel2acc_kd
    data:
      dataset: utd-mhad
      protocol: cross_subject
      modalities:
        inertial: {sensor: acc, length: 128, normalize: true}   # the student's input
    # each teacher's modality and transforms come from its own run directory
    teachers:
      - {run: runs/utd_skeleton_stgcn}
    student: {name: imu_cnn1d, input: inertial, args: {widths: [64, 128, 256]}}
    losses:
      - {name: ce, weight: 1.0}
      - {name: kd, weight: 1.0, args: {temperature: 4}}
      - {name: fitnet, weight: 0.5, student: layer3, teacher: block5}

A teacher given as ``folds`` (runs of one config, each with some training subjects held
out as its validation split) is *cross-fitted*: every training recording is taught by the
fold that never trained on it, so the student sees the teacher's errors on unseen data
(what ACS needs to choose between teachers); those outputs are computed once before training.

A loss term reads the student's and one teacher's features by name (``student`` /
``teacher``: a feature name, or a list for multi-layer losses; default ``logits``);
``teacher_index`` picks the teacher (default 0), a list or ``all`` averages the term over
those teachers; with ``ensemble: true`` (kd, dask on logits) those teachers act as ONE
teacher whose distribution is the mean of their ``softmax(logits / T)``. ``teacher_branches: all`` (or a list of branch names) reads the
features of every branch of a multi-branch teacher (``gaf_vgg_spamfm``: ``embedding``
means ``acc.embedding``, ``gyro.embedding``, ...) and averages the term over them
(SAKDN). ``ce`` is the student's cross-entropy with the labels. ``init_from`` starts
the student from another run's best weights (a progressive stage). ``semantic`` names
the class-name embeddings of GSDM's ablation weights (default: the teacher's).
``stages`` (see :class:`StageConfig`) makes one config a chain of such stages (PSKD: ``pskd.yaml``).
"""

from __future__ import annotations

import copy
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Literal, Optional, Union

from harkd.engine.config import (MAX_EPOCHS, MAX_WEIGHT, DataConfig, ModelConfig, OptimConfig, ScheduleConfig,
                                 SemanticConfig, TrainConfig, load_config)
from harkd.engine.schema import OMIT_DEFAULT, load_yaml, ranged, to_dict
from harkd.errors import ConfigError
from harkd.losses.registry import LOSSES

__all__ = ["DistillConfig", "DistillDataConfig", "TeacherConfig", "LossTermConfig", "StageConfig",
           "load_distill_config", "read_stage", "stage_data"]


@dataclass
class DistillDataConfig(DataConfig):
    """A distillation's data section: :class:`~harkd.engine.config.DataConfig` and ``teacher_missing``, what
    a recording without a teacher-only modality does: ``student_only`` (default) keeps it in the student's
    splits (cross-entropy only; the distillation terms skip it), ``skip`` leaves it out of every split."""

    teacher_missing: Literal["student_only", "skip"] = "student_only"


@dataclass
class TeacherConfig:
    """``run``: one ``harkd train`` run directory; or ``folds``: >= 2 runs of one config, each holding
    some training subjects out (``data.val_subjects``), for out-of-fold (cross-fitted) teacher outputs.
    ``checkpoint``: best (default for ``run``) or last (default for ``folds``: a fold's best epoch was
    chosen on the very recordings it teaches). ``config``: the experiment YAML that trains the teacher,
    named in the error when its run is missing (else looked up under ``./configs`` by name and output_dir)."""
    run: Optional[str] = None
    folds: Optional[list[str]] = None
    checkpoint: Optional[str] = None
    name: Optional[str] = None
    config: Optional[str] = None

    def __post_init__(self):
        if (self.run is None) == (self.folds is None):
            raise ValueError("give a teacher either 'run' (a run directory) or 'folds' (cross-fitting run "
                             "directories), not both or neither")
        if self.folds is not None and len(self.folds) < 2:
            raise ValueError(f"'folds' needs >= 2 run directories, got {len(self.folds)}")
        if self.checkpoint is None:
            self.checkpoint = "best" if self.run is not None else "last"
        if self.checkpoint not in ("best", "last"):
            raise ValueError(f"teacher checkpoint must be 'best' or 'last', got {self.checkpoint!r}")


@dataclass
class LossTermConfig:
    name: str
    weight: float = ranged(1.0, low=0, high=MAX_WEIGHT)
    student: Union[str, list[str]] = "logits"
    teacher: Union[str, list[str]] = "logits"
    teacher_index: Union[int, str, list[int]] = 0
    teacher_branches: Union[str, list[str], None] = None
    #: the term's teachers (``teacher_index``: all or a list) as ONE teacher: their softmax(logits / T)
    #: averaged at the term's temperature (the losses that declare ``ensemble``: ``harkd list losses``)
    ensemble: bool = False
    #: a weight that follows the student's progress: ``weight`` at the first epoch, ``weight_end`` at the last,
    #: linear in between (None: ``weight`` throughout)
    weight_end: Optional[float] = ranged(None, low=0, high=MAX_WEIGHT, omit_default=True)
    args: dict[str, Any] = field(default_factory=dict)

    def __post_init__(self):
        if isinstance(self.teacher_index, str) and self.teacher_index != "all":
            raise ValueError(f"teacher_index must be an integer, a list of integers or 'all', got {self.teacher_index!r}")
        if isinstance(self.teacher_index, list) and not self.teacher_index:
            raise ValueError("teacher_index: an empty list names no teacher")
        if self.ensemble:
            if isinstance(self.teacher_index, int):
                raise ValueError(f"ensemble: true averages several teachers: set teacher_index to all or a list of "
                                 f"teacher indices, got {self.teacher_index}")
            if not (self.name in LOSSES and LOSSES.get(self.name).ensemble):
                able = ", ".join(name for name in LOSSES.names() if LOSSES.get(name).ensemble)
                raise ValueError(f"ensemble: true averages the teachers' softmax(logits / T), which only the losses "
                                 f"{able} read; loss {self.name!r} cannot use it")
            if self.student != "logits" or self.teacher != "logits" or self.teacher_branches is not None:
                raise ValueError("ensemble: true averages the teachers' logits: leave student and teacher at "
                                 "'logits' and remove teacher_branches")
        if isinstance(self.teacher_branches, str) and self.teacher_branches != "all":
            raise ValueError(f"teacher_branches must be 'all' or a list of branch names, got {self.teacher_branches!r}")


@dataclass
class StageConfig:
    """One stage of a multi-stage distillation (``stages:``): the indices of its teachers in the
    config's ``teachers`` list, its ``epochs``, its loss terms (default: the config's ``losses``)
    and the ``schedule`` keys it changes. Stage ``i`` starts from stage ``i - 1``'s best student."""
    teachers: list[int]
    epochs: int = ranged(low=1, high=MAX_EPOCHS)
    name: Optional[str] = None  # default stage1, stage2, ...: the run directory under the config's
    losses: Optional[list[LossTermConfig]] = None
    schedule: dict[str, Any] = field(default_factory=dict)

    def __post_init__(self):
        if not self.teachers:
            raise ValueError("teachers: a stage needs at least one teacher (an index into the config's teachers)")


@dataclass
class DistillConfig:
    name: str
    data: DistillDataConfig
    student: ModelConfig
    teachers: list[TeacherConfig]
    losses: list[LossTermConfig]
    seed: int = 0
    teacher_cache: bool = True
    init_from: Optional[str] = None  # a run directory whose best student/model weights start this one
    semantic: Optional[SemanticConfig] = None  # class-name embeddings for GSDM (default: a teacher's)
    optim: OptimConfig = field(default_factory=OptimConfig)
    schedule: ScheduleConfig = field(default_factory=ScheduleConfig)
    train: TrainConfig = field(default_factory=TrainConfig)
    output_dir: str = "runs"
    #: a multi-stage run (e.g. PSKD): each stage one run directory under this run's, started from the last
    stages: Optional[list[StageConfig]] = None
    #: plug-in modules imported before the config is read (harkd.plugins)
    imports: list[str] = field(default_factory=list, metadata=OMIT_DEFAULT)

    def __post_init__(self):
        if not self.teachers:
            raise ValueError("teachers: at least one teacher run is needed")
        if not self.losses:
            raise ValueError("losses: at least one loss term is needed (e.g. {name: ce})")
        if self.stages is not None:
            self._check_stages()

    def _check_stages(self):
        if not self.stages:
            raise ValueError("stages: an empty list names no stage; remove the key for a single-stage run")
        names = [stage.name or f"stage{i + 1}" for i, stage in enumerate(self.stages)]
        for i, stage in enumerate(self.stages):
            for t in stage.teachers:
                if not 0 <= t < len(self.teachers):
                    raise ValueError(f"stages[{i}].teachers: {t} is not an index of the {len(self.teachers)} teachers")
            if names.index(names[i]) != i:
                raise ValueError(f"stages[{i}].name: {names[i]!r} names an earlier stage too; give each stage its own")
        if self.train.refit is not None:
            raise ValueError("train.refit refits one run; a multi-stage run ('stages') cannot: remove train.refit")
        if self.init_from is not None:
            raise ValueError("init_from starts a single-stage run; in a multi-stage run stage 1 starts from scratch "
                             "and every later stage from the one before: remove init_from")

    def stage_names(self) -> list[str]:
        return [stage.name or f"stage{i + 1}" for i, stage in enumerate(self.stages or [])]

    def to_dict(self) -> dict:
        out = to_dict(self)
        if self.stages is None:  # a single-stage run's config.yaml reads as before stages existed
            del out["stages"]
        return out


def load_distill_config(path: str | Path | None = None, overrides: list[str] = (), data: dict | None = None) -> DistillConfig:
    """Read a distillation YAML (or take ``data``), apply overrides, validate."""
    return load_config(path, overrides, data, schema=DistillConfig)


def stage_data(data: dict, i: int) -> dict:
    """Stage ``i`` of a multi-stage config mapping (as written or resolved) as a single-stage mapping:
    named ``NAME_STAGE``, with the stage's teachers, losses, epochs and schedule keys; the rest as written
    (an unset key keeps its default, e.g. a ``folds`` teacher's checkpoint)."""
    data = copy.deepcopy(data)
    stage = data.pop("stages")[i]
    data["name"] = f"{data['name']}_{stage.get('name') or f'stage{i + 1}'}"
    data["teachers"] = [data["teachers"][t] for t in stage["teachers"]]
    if stage.get("losses") is not None:
        data["losses"] = stage["losses"]
    data["train"] = {**(data.get("train") or {}), "epochs": stage["epochs"]}
    data["schedule"] = {**(data.get("schedule") or {}), **(stage.get("schedule") or {})}
    return data


def read_stage(config: str | Path | dict, stage: str) -> dict:
    """The stage named ``stage`` of a multi-stage config (a YAML path or a mapping) as the single-stage
    config mapping the chain trains (``harkd distill CONFIG --stage NAME``; ``init_from`` as written:
    point it at the previous stage's run). The whole file is validated first."""
    is_path = isinstance(config, (str, Path))
    where = str(config) if is_path else "the config"
    cfg = load_distill_config(config) if is_path else load_distill_config(data=config)
    if cfg.stages is None:
        raise ConfigError(f"{where}: --stage {stage}: this config has no stages (run it without --stage)")
    names = cfg.stage_names()
    if stage not in names:
        raise ConfigError(f"{where}: --stage {stage}: no such stage; its stages are {', '.join(names)}")
    raw = load_yaml(Path(config).read_text()) if is_path else config
    return stage_data(raw, names.index(stage))
