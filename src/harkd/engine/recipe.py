"""Recipes: how one kind of run (``train``, ``distill``, ...) reads its config and builds its task.

A recipe is a plug-in: the package that defines a kind registers it with :func:`register_recipe`
when imported (``harkd.distillation`` registers ``distill``); the engine never imports it.
``harkd.recipes`` imports every built-in recipe, for the entry points (CLI, API, export).

Before its data are read a run builds ONE :class:`Plan` (``recipe.plan(cfg)``): the resolved
config, the modalities its models read, fixed normalisation statistics, what it depends on
read once (a distillation's teachers) and which of its models is the deployable one. The
recipe's ``build`` gets that plan, export asks it for the deployable model.
"""

from __future__ import annotations

import dataclasses
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import Any, Callable

from harkd.engine.builders import build_task, resolve_train_config, semantic_embeddings
from harkd.engine.config import load_config
from harkd.engine.prepare import PreparedData, prepare_data
from harkd.engine.schema import load_yaml, to_dict
from harkd.errors import ConfigError, InputError
from harkd.registry import Registry

__all__ = ["Plan", "Recipe", "TRAIN", "register_recipe", "get_recipe", "list_recipes", "load_recipe_config",
           "prepare_plan"]


@dataclass
class Plan:
    """What one run reads before its data, read once and handed to its recipe's steps."""

    kind: str
    cfg: Any  # the resolved config (what config.yaml saves)
    inputs: list[str]  # the modalities its models read
    model_cfg: Any  # the deployable model's ModelConfig
    model_attr: str = "model"  # the task attribute holding the deployable model
    normalization: dict = field(default_factory=dict)  # fixed statistics (e.g. the teachers' training ones)
    teachers: list = field(default_factory=list)  # a distillation's teachers, each read once
    context: dict = field(default_factory=dict)  # anything else read once (e.g. class-name embeddings)
    #: a multi-stage run: (name, previous stage's run dir or None -> the stage's config), trained in order
    stages: list = field(default_factory=list)
    #: the modalities only a distillation's teachers read (``data.teacher_missing`` decides on recordings lacking one)
    teacher_only: list = field(default_factory=list)

    def deployable(self, task):
        """The model of ``task`` that is deployed (exported, published, evaluated on its own)."""
        return getattr(task, self.model_attr)

    def with_config(self, cfg) -> "Plan":
        """This plan for a variant of its config with the same models and teachers (a refit stage)."""
        return replace(self, cfg=cfg)


@dataclass(frozen=True)
class Recipe:
    """How one kind of experiment reads its config, plans its run and builds its task."""

    kind: str
    load: Callable[..., Any]  # (path or None, overrides, data) -> config
    plan: Callable[[Any], Plan]  # config -> its plan (reads what the run depends on, resolves the config)
    build: Callable[[Plan, PreparedData], Any]  # (plan, data) -> Task
    keys: tuple[str, ...] = ()  # top-level config keys that mark a config of this kind
    title: str = ""  # the kind in words ("training", "distillation")
    #: config -> (task attribute, ModelConfig) of the deployable model, read off the config alone
    deployable: Callable[[Any], tuple[str, Any]] = lambda cfg: ("model", cfg.model)
    #: (config path or mapping, stage name) -> that stage of a multi-stage config as a single-stage mapping
    stage: Callable[[Any, str], dict] | None = None


RECIPES: Registry[Recipe] = Registry("run kind")  # the one registry rule (harkd.registry)


def register_recipe(recipe: Recipe, *, overwrite: bool = False) -> Recipe:
    """Register ``recipe`` under its kind (a package registers its recipe when imported)."""
    return RECIPES.register(recipe.kind, recipe, overwrite=overwrite)


def list_recipes() -> list[str]:
    return RECIPES.names()


def get_recipe(kind: str) -> Recipe:
    """The recipe registered as ``kind`` (import :mod:`harkd.recipes` first for every built-in kind)."""
    return RECIPES.get(kind)


def read_run_config(run_dir: Path) -> tuple[dict, Recipe, Any]:
    """A run directory's run.json, its kind's recipe and its config.yaml as that recipe reads it (written by
    any release: :func:`~harkd.engine.config.read_saved_config`)."""
    from harkd.engine.config import read_saved_config
    from harkd.engine.rundir import read_run_meta
    from harkd.errors import DataError

    for name in ("config.yaml", "run.json"):
        if not (run_dir / name).is_file():
            raise DataError(run_dir / name, "not found: is this a harkd run directory?")
    meta = read_run_meta(run_dir)
    recipe = get_recipe(meta.get("kind", "train"))
    return meta, recipe, recipe.load(None, [], read_saved_config(run_dir / "config.yaml"))


def load_recipe_config(config, kind: str = "train", overrides: list[str] = (),
                       stage: str | None = None) -> tuple[Recipe, Any]:
    """``kind``'s recipe and ``config`` read and validated by it: a YAML path, a dict, or the config
    dataclasses (turned into their dict first, so every form is validated alike). A YAML file of
    another registered kind is named as such. ``stage``: that stage of a multi-stage config alone,
    the overrides applied to it."""
    recipe = get_recipe(kind)
    if stage is not None:
        if recipe.stage is None:
            raise ConfigError(f"--stage {stage}: a {recipe.title or kind} config has no stages")
        if dataclasses.is_dataclass(config) and not isinstance(config, type):
            config = to_dict(config)
        config = recipe.stage(config, stage)
    if isinstance(config, (str, Path)):
        try:
            return recipe, recipe.load(config, list(overrides))
        except ConfigError:
            other = _other_kind(recipe, Path(config))
            if other is None:
                raise
            keys = " and ".join(f"'{k}'" for k in other.keys)
            raise ConfigError(f"{config} is a {other.title} config (it has {keys}): run it with harkd {other.kind} "
                              f"{config}") from None
    if isinstance(config, dict):
        return recipe, recipe.load(None, list(overrides), config)
    if dataclasses.is_dataclass(config) and not isinstance(config, type):
        return recipe, recipe.load(None, list(overrides), to_dict(config))
    raise InputError(f"config must be a YAML file path, a dict or a config dataclass, got {type(config).__name__}")


def _other_kind(recipe: Recipe, path: Path) -> Recipe | None:
    """The registered recipe whose keys the raw file at ``path`` has while lacking ``recipe``'s."""
    try:
        data = load_yaml(path.read_text())
    except Exception:  # unreadable or not YAML: the recipe's own error stands
        return None
    if not isinstance(data, dict):
        return None
    for _, other in RECIPES.items():
        if (other.kind != recipe.kind and other.keys and all(k in data for k in other.keys)
                and not any(k in data for k in recipe.keys)):
            return other
    return None


def prepare_plan(plan: Plan, normalization: dict | None = None, split_keys: dict | None = None, **options) -> PreparedData:
    """:func:`prepare_data` for a plan: its inputs, its fixed statistics over ``normalization``."""
    return prepare_data(plan.cfg.data, plan.inputs, {**(normalization or {}), **plan.normalization}, split_keys,
                        teacher_only=plan.teacher_only, **options)


def train_plan(cfg) -> Plan:
    """A ``train`` run: its model, the class-name embeddings of ``semantic`` read once."""
    embeddings = None if cfg.semantic is None else semantic_embeddings(cfg.semantic, cfg.data.dataset)
    cfg = resolve_train_config(cfg, embeddings)
    return Plan("train", cfg, cfg.model.inputs, cfg.model, context={"embeddings": embeddings})


def _build_train(plan: Plan, prepared: PreparedData):
    return build_task(plan.cfg, prepared, plan.context.get("embeddings"))


TRAIN = register_recipe(Recipe("train", load_config, train_plan, _build_train, keys=("model",), title="training"))
