"""What a run is built from: seeds, optimiser, learning-rate schedule and models sized to the data."""

from __future__ import annotations

import copy
import math
import os
import random
import sys
from typing import Callable

import numpy as np
import torch

from harkd.engine.devices import configure_kernels
from harkd.engine.config import ExperimentConfig, OptimConfig, ScheduleConfig
from harkd.engine.tasks import ClassificationTask
from harkd.errors import ConfigError

__all__ = ["seed_everything", "build_optimizer", "schedule_factor", "build_scheduler", "build_model", "build_task",
           "semantic_embeddings", "resolve_train_config"]


def seed_everything(seed: int, deterministic: bool = False) -> None:
    """Seed Python, NumPy and torch; ``deterministic`` also forces deterministic kernels."""
    random.seed(seed)
    np.random.seed(seed % 2**32)
    torch.manual_seed(seed)
    configure_kernels(deterministic)


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


def build_model(model_cfg, sample: dict, num_classes: int):
    """The model of ``model_cfg`` sized to a prepared ``sample`` (in_chans, segments, or each input's shape
    for a model that reads several, as the model declared) and the classes, with its head spec."""
    from harkd.models.registry import create_model, sample_arguments

    shapes = {m: tuple(sample[m].shape) for m in model_cfg.inputs}
    size = sample_arguments(model_cfg.name, shapes, model_cfg.input)
    return create_model(model_cfg.name, num_classes=num_classes, head=model_cfg.head, **{**size, **model_cfg.args})


def build_task(cfg: ExperimentConfig, prepared, embeddings=None) -> ClassificationTask:
    """The model of ``cfg`` in a cross-entropy task (plus class-name regression with ``semantic``;
    ``embeddings``: its class embeddings when already read, as a train plan holds them)."""
    if cfg.semantic is None:
        model = build_model(cfg.model, prepared.datasets["train"][0], len(prepared.class_names))
        return ClassificationTask(model, cfg.model.input, label_smoothing=cfg.train.label_smoothing)
    emb = embeddings if embeddings is not None else semantic_embeddings(cfg.semantic, cfg.data.dataset)
    for dup in emb.duplicates():
        print(f"harkd: warning: classes {', '.join(dup)} share one class-name embedding ({emb.source})",
              file=sys.stderr)
    model = build_model(cfg.model, prepared.datasets["train"][0], len(prepared.class_names))
    from harkd.semantic import ClassEmbeddingTerm

    term = ClassEmbeddingTerm(emb.matrix, cfg.semantic.weight, cfg.semantic.distance)
    return ClassificationTask(model, cfg.model.input, label_smoothing=cfg.train.label_smoothing, terms=[term])


def semantic_embeddings(semantic, dataset: str):
    """The class-name embeddings a :class:`SemanticConfig` names, rows in ``dataset``'s class order."""
    from harkd.data import get_dataset
    from harkd.semantic import class_embeddings

    return class_embeddings(semantic.source, list(get_dataset(dataset).class_names), dataset=dataset,
                            normalize=semantic.normalize)


def resolve_train_config(cfg: ExperimentConfig, embeddings=None) -> ExperimentConfig:
    """With ``semantic``, the model's embedding width is the class embeddings' (saved in config.yaml)."""
    if cfg.semantic is None:
        return cfg
    dim = (embeddings if embeddings is not None else semantic_embeddings(cfg.semantic, cfg.data.dataset)).dim
    width = cfg.model.head.get("semantic_dim", dim)
    if width != dim:
        raise ConfigError(f"config key 'model.head.semantic_dim': {width} differs from the "
                          f"{cfg.semantic.source} class embeddings' dimension {dim}")
    cfg = copy.deepcopy(cfg)
    cfg.model.head["semantic_dim"] = dim
    return cfg
