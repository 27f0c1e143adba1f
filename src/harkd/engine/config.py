"""The experiment schema: one YAML file = one experiment.

Example (``configs/utd_mhad/acc_cnn1d.yaml``)::

    name: utd_acc_cnn1d
    seed: 0
    data:
      dataset: utd-mhad
      protocol: cross_subject
      modalities:
        inertial: {sensor: acc, length: 128, normalize: true}
    model:
      name: imu_cnn1d
      input: inertial
      args: {width: 64}
    optim: {name: adam, lr: 1e-3, weight_decay: 1e-4}
    schedule: {name: cosine, warmup_epochs: 2}
    train: {epochs: 40, batch_size: 32}

``data.root`` defaults to ``$HARKD_DATA_ROOT/<dataset folder>``. Numbers with an obvious
range (``optim.lr`` > 0, ``train.label_smoothing`` in [0, 1), ...) are checked when the config
is read; :func:`check_run_config` adds what only matters when training starts (the device is
available, the warm-up is shorter than the run).
"""

from __future__ import annotations

import difflib
import os
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Literal, Optional, Union

from harkd.engine.devices import check_device, resolve_device, resolve_precision
from harkd.engine.schema import (OMIT_DEFAULT, Range, apply_overrides, check_ranges, check_value, from_dict, load_yaml,
                                 ranged, to_dict)
from harkd.errors import ConfigError, DataError, warn

__all__ = ["ExperimentConfig", "DataConfig", "ModelConfig", "OptimConfig", "ScheduleConfig", "TrainConfig",
           "SemanticConfig", "PairedAugmentConfig", "MixupConfig", "VirtualInertialConfig",
           "load_config", "read_saved_config", "check_run_config", "check_device", "DATA_ROOT_ENV"]

from harkd.data.registry import DATA_ROOT_ENV, dataset_folder  # noqa: E402  (each DatasetSpec.folder)

#: upper bounds beyond any real experiment: a slip such as 10**20 is refused when the config is read
MAX_EPOCHS = 100_000
MAX_BATCH_SIZE = 2**20  # 1048576 samples per step
MAX_WORKERS = 256  # data-loading processes: more than any host has cores
MAX_LR = 1_000_000  # a learning rate (1e6 already diverges at once; above 3.4e38 the optimiser fails in float32)
MAX_WEIGHT = 1_000_000  # a loss term's weight (the largest in configs/ is 1000)


@dataclass
class PairedAugmentConfig:
    """Training-time augmentation drawn ONCE per recording and applied to every modality of the
    sample on normalised time. ``shift``: keep one random window dropping up to ``shift`` of the
    clip at each end (each modality resampled back to its own length), so teacher and student
    inputs show the same moment of the action."""

    shift: float = ranged(0.0, low=0, high=0.5, closed_high=False)


@dataclass
class VirtualInertialConfig:
    """A second, virtual accelerometer sample of every training recording that has a skeleton
    (harkd.data.virtual): the sensor site's acceleration minus gravity, in its body segment's moving
    frame, turned onto the recording's own accelerometer; ``smooth``: the Savitzky-Golay window (s); ``frame``:
    ``segment`` (the body segment's moving frame) or ``world`` (the skeleton's axes, an ablation)."""

    source: str = "skeleton"
    smooth: float = ranged(0.5, low=0.05, high=10)
    frame: Literal["segment", "world"] = field(default="segment", metadata=OMIT_DEFAULT)


@dataclass
class DataConfig:
    dataset: str = "utd-mhad"
    root: Optional[str] = None
    protocol: str = "cross_subject"
    val_fraction: float = ranged(0.15, low=0, high=1, closed_high=False)
    #: ``auto`` (whole training subjects held out for a by-subject protocol, else the per-class carve),
    #: a list of training subjects, or null (the per-class ``val_fraction`` carve); see harkd.data.protocols
    val_subjects: Union[list[int], Literal["auto"], None] = ranged("auto", low=1)
    modalities: dict[str, dict[str, Any]] = field(default_factory=dict)
    cache: bool = True
    num_workers: int = ranged(0, low=0, high=MAX_WORKERS)
    strict: bool = False
    #: a recording whose file fails to load when the run starts: ``stop`` (one error naming the
    #: file) or ``skip`` (left out, reported per split, listed in run.json's ``skipped``)
    on_error: Literal["stop", "skip"] = "stop"
    #: one random time window per recording shared by all its modalities (training only)
    paired_augment: Optional[PairedAugmentConfig] = None
    #: keep the prepared tensors on the training device and augment batches there (harkd.engine.resident):
    #: ``auto`` on a GPU (CUDA/MPS) when the data support it, ``true`` always (an error says why not), ``false`` never
    resident: Union[bool, Literal["auto"]] = "auto"
    #: a dataset described by one table (a mapping, or a YAML file read into one): harkd.data.manifest
    manifest: Union[str, dict[str, Any], None] = field(default=None, metadata=OMIT_DEFAULT)
    #: virtual accelerometer twins of the training recordings, computed from their skeleton (training only)
    virtual_inertial: Optional[VirtualInertialConfig] = field(default=None, metadata=OMIT_DEFAULT)

    def __post_init__(self):
        from harkd.data.manifest import resolve_data_source  # a manifest's description and absolute root

        self.manifest, self.root = resolve_data_source(self.dataset, self.manifest, self.root)
        if not self.modalities:
            raise ValueError("data.modalities must name at least one modality, e.g. {inertial: {length: 128}}")
        if self.paired_shift > 0:
            for name, options in self.modalities.items():
                augment = (options or {}).get("augment") if isinstance(options, dict) else None
                if isinstance(augment, dict) and augment.get("shift", 0):
                    raise ConfigError(
                        f"config key 'data.modalities.{name}.augment.shift' ({augment['shift']}) and "
                        f"'data.paired_augment.shift' ({self.paired_shift}) both shift time: remove "
                        f"data.modalities.{name}.augment.shift (paired_augment applies one window to every modality)")

    @property
    def paired_shift(self) -> float:
        """``paired_augment.shift``, 0 when paired augmentation is off."""
        return self.paired_augment.shift if self.paired_augment is not None else 0.0

    def resolved_root(self) -> Path:
        """``root``, else ``$HARKD_DATA_ROOT/<dataset folder>``; a clear error when neither exists."""
        folder = dataset_folder(self.dataset)
        if self.root:
            root = Path(os.path.expanduser(self.root))
        elif os.environ.get(DATA_ROOT_ENV):
            root = Path(os.environ[DATA_ROOT_ENV]) / folder
        else:
            raise ConfigError(f"data.root is not set and {DATA_ROOT_ENV} is not defined: "
                              f"pass --set data.root=/path/to/{folder}")
        if not root.is_dir():
            hint = _env_root_hint(Path(os.environ[DATA_ROOT_ENV]), folder) if not self.root else ""
            raise DataError(root, "data root is not a directory" + hint)
        return root


def _env_root_hint(env_root: Path, folder: str) -> str:
    """Why ``$HARKD_DATA_ROOT/<folder>`` is missing: the variable names the dataset folder itself, or a near name."""
    if env_root.is_dir() and env_root.name.lower().startswith(folder.lower()):
        return (f" ({DATA_ROOT_ENV}={env_root} looks like the {folder} folder itself: set {DATA_ROOT_ENV} to its "
                f"parent, {DATA_ROOT_ENV}={env_root.parent}, or pass --set data.root={env_root})")
    try:
        names = [p.name for p in env_root.iterdir() if p.is_dir()] if env_root.is_dir() else []
    except OSError:
        names = []
    close = difflib.get_close_matches(folder, names, n=1, cutoff=0.6)
    if close:
        return (f" ({DATA_ROOT_ENV}={env_root} holds {close[0]}/, not {folder}/: "
                f"pass --set data.root={env_root / close[0]})")
    return f" ({DATA_ROOT_ENV}={env_root} must be the folder that holds {folder}/; or pass --set data.root=...)"


@dataclass
class ModelConfig:
    """``input``: the modality the model reads, or a list of modalities for ``late_fusion``
    (``args.branches`` maps each modality to ``{name: MODEL, args: {...}, head: {...}}``); ``head``: the head
    spec (``semantic_dim``, ``semantic_act``, ``semantic_bn``, ``drop_rate``) over the model's default."""

    name: str
    input: Union[str, list[str]]
    args: dict[str, Any] = field(default_factory=dict)
    head: dict[str, Any] = field(default_factory=dict, metadata=OMIT_DEFAULT)

    def __post_init__(self):
        from harkd.models.base import HEAD_OPTIONS

        for key in self.args:
            if key in HEAD_OPTIONS:
                raise ValueError(f"'args.{key}' is a head option: write it as 'head.{key}'")

    @property
    def inputs(self) -> list[str]:
        return [self.input] if isinstance(self.input, str) else list(self.input)


@dataclass
class OptimConfig:
    name: Literal["adam", "adamw", "sgd"] = "adam"
    lr: float = ranged(1e-3, low=0, high=MAX_LR, closed_low=False)
    weight_decay: float = ranged(0.0, low=0, high=10)
    momentum: float = ranged(0.9, low=0, high=1, closed_high=False)
    nesterov: bool = False


@dataclass
class ScheduleConfig:
    """Epoch-based: ``lr(e) = lr * warmup(e) * decay(e)``, stepped once per epoch."""

    name: Literal["constant", "step", "cosine"] = "cosine"
    warmup_epochs: int = ranged(0, low=0, high=MAX_EPOCHS)
    milestones: list[int] = ranged(default_factory=list, low=1, high=MAX_EPOCHS)
    gamma: float = ranged(0.1, low=0, high=1, closed_low=False)
    min_lr_ratio: float = ranged(0.0, low=0, high=1)

    def __post_init__(self):
        if any(b <= a for a, b in zip(self.milestones, self.milestones[1:])):
            raise ConfigError(f"config key 'schedule.milestones': must be increasing epochs, got {self.milestones}")


@dataclass
class MixupConfig:
    """Paired mixup in the training step: one permutation and one ``lam ~ Beta(alpha, alpha)`` per
    batch, applied to every modality of the batch (student and teacher inputs alike), with
    probability ``prob``. ``mode``: ``mixup`` (``lam * x + (1 - lam) * x[perm]``) or ``cutmix``
    (the same normalised-time segment, a fraction ``1 - lam`` of the clip, taken from ``x[perm]`` in
    every modality). Cross-entropy terms use ``lam * CE(y) + (1 - lam) * CE(y[perm])``."""

    alpha: float = ranged(1.0, low=0, high=1000, closed_low=False)
    mode: Literal["mixup", "cutmix"] = "mixup"
    prob: float = ranged(1.0, low=0, high=1)


@dataclass
class TrainConfig:
    epochs: int = ranged(30, low=1, high=MAX_EPOCHS)
    batch_size: int = ranged(32, low=1, high=MAX_BATCH_SIZE)
    label_smoothing: float = ranged(0.0, low=0, high=1, closed_high=False)
    grad_clip: Optional[float] = ranged(None, low=0, closed_low=False)
    #: ``auto`` (a CUDA GPU when visible, else MPS where present, else the CPU), or a torch device
    #: (``cpu``, ``cuda``, ``cuda:1``, ``mps``); run.json records the device actually used
    device: str = "auto"
    #: ``fp32`` (strict float32), ``tf32`` (TF32 matmuls/convolutions on a CUDA GPU), ``bf16``/``fp16``
    #: (autocast; fp16 with a gradient scaler), ``auto`` (tf32 on a CUDA GPU, else fp32): harkd.engine.devices
    precision: Literal["auto", "fp32", "tf32", "bf16", "fp16"] = "fp32"
    deterministic: bool = False
    select: Literal["accuracy", "macro_f1"] = "accuracy"
    mixup: Optional[MixupConfig] = None  # paired mixup / time-cutmix of every modality (null: off)
    #: after the run, train again from scratch on every training-side recording (no validation) into
    #: RUN/refit for stage 1's best epoch count (``best``) or ``train.epochs`` (``last``); see engine.lifecycle
    refit: Optional[Literal["best", "last"]] = None
    #: mirror each epoch's metrics to TensorBoard (RUN/tensorboard; needs the [tensorboard] extra)
    tensorboard: bool = False
    #: seconds between progress lines within an epoch when the output is not a terminal (a log file, a job)
    log_every: float = ranged(30.0, low=0, high=86400, closed_low=False)

    def __post_init__(self):
        import torch

        try:
            torch.device(self.device) if self.device != "auto" else None
        except (RuntimeError, ValueError, TypeError):
            raise ConfigError(f"config key 'train.device': {self.device!r} is not a torch device "
                              "(auto, cpu, cuda, cuda:1, mps)") from None


@dataclass
class SemanticConfig:
    """Regress the model's ``embedding`` to the class-name embedding of the label (SAKDN teachers).

    ``source``: ``glove`` (``$HARKD_DATA_ROOT/class-embeddings``), ``sentence`` (the
    ``[semantic]`` extra), ``none`` (seeded orthonormal rows) or a C x D matrix file."""

    source: str = "glove"
    weight: float = ranged(1.0, low=0, high=MAX_WEIGHT)
    distance: Literal["l1", "mse"] = "mse"
    normalize: Literal["none", "l2"] = "none"


@dataclass
class ExperimentConfig:
    name: str
    model: ModelConfig
    data: DataConfig
    seed: int = ranged(0, low=0)
    optim: OptimConfig = field(default_factory=OptimConfig)
    schedule: ScheduleConfig = field(default_factory=ScheduleConfig)
    train: TrainConfig = field(default_factory=TrainConfig)
    semantic: Optional[SemanticConfig] = None
    output_dir: str = "runs"
    #: plug-in modules imported before the config is read (harkd.plugins)
    imports: list[str] = field(default_factory=list, metadata=OMIT_DEFAULT)

    def __post_init__(self):
        if self.train.mixup is not None and self.semantic is not None:
            raise ConfigError("train.mixup mixes two recordings per sample, but the 'semantic' section regresses "
                              "each sample to ONE class-name embedding: remove train.mixup or the semantic section")

    def to_dict(self) -> dict:
        return to_dict(self)


def load_config(path: str | Path | None = None, overrides: list[str] = (), data: dict | None = None,
                schema: type | None = None) -> Any:
    """Read a YAML experiment (or take ``data``), apply ``key=value`` overrides, validate
    against ``schema`` (default :class:`ExperimentConfig`)."""
    if path is not None:
        path = Path(path)
        if path.is_dir():
            raise DataError(path, "is a directory, not a config file (pass the experiment's .yaml file)")
        if not path.is_file():
            raise DataError(path, "config file not found")
        try:
            data = load_yaml(path.read_text())
        except Exception as err:  # yaml.YAMLError, UnicodeDecodeError
            raise DataError(path, f"not valid YAML ({err})") from None
        if not isinstance(data, dict):
            raise DataError(path, "a config file must hold a mapping of keys")
    from harkd.plugins import load_plugins

    data = apply_overrides(data or {}, list(overrides))
    load_plugins(data.get("imports") if isinstance(data, dict) else None,
                 f"imports in {path}" if path is not None else "imports")  # they may register what the config names
    cfg = from_dict(schema or ExperimentConfig, data)
    _check_seed(cfg)
    return cfg


def read_saved_config(path: Path) -> dict:
    """A run directory's config.yaml as data, as written by any harkd release. harkd 0.9 kept the head options
    under a model's ``args``; a run it wrote reads with them under ``head`` (a config a user writes today gets
    the ConfigError of :class:`ModelConfig` instead, naming the key's new place)."""
    try:
        data = load_yaml(Path(path).read_text())
    except Exception as err:  # yaml.YAMLError, UnicodeDecodeError, OSError
        raise DataError(path, f"not a readable run config ({err})") from None
    if not isinstance(data, dict):
        raise DataError(path, "a config file must hold a mapping of keys")
    from harkd.models.base import HEAD_OPTIONS

    def move_head_options(model) -> None:
        if not isinstance(model, dict) or not isinstance(model.get("args"), dict):
            return
        moved = {k: model["args"].pop(k) for k in list(model["args"]) if k in HEAD_OPTIONS}
        if moved:
            model["head"] = {**moved, **(model.get("head") or {})}
        branches = model["args"].get("branches")
        for branch in branches.values() if isinstance(branches, dict) else ():
            move_head_options(branch)

    for section in ("model", "student"):
        move_head_options(data.get(section))
    return data


SEED_RANGE = Range(0, 2**32 - 1)  # NumPy's seeds


def _check_seed(cfg: Any) -> None:
    """``seed`` in [0, 2**32 - 1] in any run schema (a distillation config declares its own ``seed``)."""
    if hasattr(cfg, "seed"):
        check_value(cfg.seed, SEED_RANGE, "seed")


def check_run_config(cfg: Any) -> None:
    """What a run needs before it starts: every range (also of a config built in Python), an available
    ``train.device``; a warm-up not shorter than the run is reported (smoke runs of a shipped config
    with ``--set train.epochs=1`` keep working)."""
    check_ranges(cfg)
    _check_seed(cfg)
    resolve_precision(cfg.train.precision, resolve_device(cfg.train.device))
    epochs, warmup = cfg.train.epochs, cfg.schedule.warmup_epochs
    if warmup >= epochs:
        warn(f"schedule.warmup_epochs ({warmup}) is not shorter than train.epochs ({epochs}): "
             f"the learning rate never reaches optim.lr ({cfg.optim.lr:g}) in this run; lower "
             f"schedule.warmup_epochs (e.g. --set schedule.warmup_epochs={epochs // 2}) for a full-rate run")
