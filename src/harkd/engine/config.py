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

``data.root`` defaults to ``$HARKD_DATA_ROOT/<dataset folder>``.
"""

from __future__ import annotations

import os
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Literal, Optional, Union

from harkd.engine.schema import apply_overrides, from_dict, load_yaml, to_dict
from harkd.errors import ConfigError, DataError

__all__ = ["ExperimentConfig", "DataConfig", "ModelConfig", "OptimConfig", "ScheduleConfig", "TrainConfig",
           "SemanticConfig",
           "load_config", "DATA_ROOT_ENV"]

DATA_ROOT_ENV = "HARKD_DATA_ROOT"
DATASET_FOLDERS = {"utd-mhad": "UTD-MHAD", "berkeley-mhad": "Berkeley-MHAD", "mmact": "MMAct"}


@dataclass
class DataConfig:
    dataset: str = "utd-mhad"
    root: Optional[str] = None
    protocol: str = "cross_subject"
    val_fraction: float = 0.15
    val_subjects: Optional[list[int]] = None
    modalities: dict[str, dict[str, Any]] = field(default_factory=dict)
    cache: bool = True
    num_workers: int = 0
    strict: bool = False

    def __post_init__(self):
        if not self.modalities:
            raise ValueError("data.modalities must name at least one modality, e.g. {inertial: {length: 128}}")

    def resolved_root(self) -> Path:
        """``root``, else ``$HARKD_DATA_ROOT/<dataset folder>``; a clear error when neither exists."""
        if self.root:
            root = Path(os.path.expanduser(self.root))
        elif os.environ.get(DATA_ROOT_ENV):
            root = Path(os.environ[DATA_ROOT_ENV]) / DATASET_FOLDERS.get(self.dataset, self.dataset)
        else:
            raise ConfigError(f"data.root is not set and {DATA_ROOT_ENV} is not defined: "
                              f"pass --set data.root=/path/to/{DATASET_FOLDERS.get(self.dataset, self.dataset)}")
        if not root.is_dir():
            raise DataError(root, "data root is not a directory")
        return root


@dataclass
class ModelConfig:
    """``input``: the modality the model reads, or a list of modalities for ``late_fusion``
    (``args.branches`` maps each modality to ``{name: MODEL, args: {...}}``)."""

    name: str
    input: Union[str, list[str]]
    args: dict[str, Any] = field(default_factory=dict)

    @property
    def inputs(self) -> list[str]:
        return [self.input] if isinstance(self.input, str) else list(self.input)


@dataclass
class OptimConfig:
    name: Literal["adam", "adamw", "sgd"] = "adam"
    lr: float = 1e-3
    weight_decay: float = 0.0
    momentum: float = 0.9
    nesterov: bool = False


@dataclass
class ScheduleConfig:
    """Epoch-based: ``lr(e) = lr * warmup(e) * decay(e)``, stepped once per epoch."""

    name: Literal["constant", "step", "cosine"] = "cosine"
    warmup_epochs: int = 0
    milestones: list[int] = field(default_factory=list)
    gamma: float = 0.1
    min_lr_ratio: float = 0.0


@dataclass
class TrainConfig:
    epochs: int = 30
    batch_size: int = 32
    label_smoothing: float = 0.0
    grad_clip: Optional[float] = None
    device: str = "cpu"
    deterministic: bool = False
    select: Literal["accuracy", "macro_f1"] = "accuracy"

    def __post_init__(self):
        if self.epochs < 1 or self.batch_size < 1:
            raise ValueError(f"epochs and batch_size must be >= 1, got {self.epochs} and {self.batch_size}")


@dataclass
class SemanticConfig:
    """Regress the model's ``embedding`` to the class-name embedding of the label (SAKDN teachers).

    ``source``: ``glove`` (``$HARKD_DATA_ROOT/class-embeddings``), ``sentence`` (the
    ``[semantic]`` extra), ``none`` (seeded orthonormal rows) or a C x D matrix file."""

    source: str = "glove"
    weight: float = 1.0
    distance: Literal["l1", "mse"] = "mse"
    normalize: Literal["none", "l2"] = "none"


@dataclass
class ExperimentConfig:
    name: str
    model: ModelConfig
    data: DataConfig
    seed: int = 0
    optim: OptimConfig = field(default_factory=OptimConfig)
    schedule: ScheduleConfig = field(default_factory=ScheduleConfig)
    train: TrainConfig = field(default_factory=TrainConfig)
    semantic: Optional[SemanticConfig] = None
    output_dir: str = "runs"

    def to_dict(self) -> dict:
        return to_dict(self)


def load_config(path: str | Path | None = None, overrides: list[str] = (), data: dict | None = None,
                schema: type | None = None) -> Any:
    """Read a YAML experiment (or take ``data``), apply ``key=value`` overrides, validate
    against ``schema`` (default :class:`ExperimentConfig`)."""
    if path is not None:
        path = Path(path)
        if not path.is_file():
            raise DataError(path, "config file not found")
        try:
            data = load_yaml(path.read_text())
        except Exception as err:  # yaml.YAMLError, UnicodeDecodeError
            raise DataError(path, f"not valid YAML ({err})") from None
        if not isinstance(data, dict):
            raise DataError(path, "a config file must hold a mapping of keys")
    return from_dict(schema or ExperimentConfig, apply_overrides(data or {}, list(overrides)))
