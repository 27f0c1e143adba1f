"""Every built-in recipe, registered: import this module (top floor) wherever a run of any kind may come.

The engine knows only the ``train`` recipe; each method package registers its own when imported
(``harkd.distillation``: ``distill``). Entry points (CLI, Python API, export, benchmarks) import this
module so that a run directory or config of any built-in kind is understood.
"""

import harkd.distillation  # noqa: F401  (registers the "distill" recipe)
from harkd.engine.experiment import run_config, train_experiment
from harkd.engine.recipe import (Plan, Recipe, get_recipe, list_recipes, load_recipe_config, read_run_config,
                                 register_recipe)
from harkd.engine.runs import load_run

__all__ = ["Plan", "Recipe", "get_recipe", "list_recipes", "load_recipe_config", "load_run", "read_run_config",
           "register_recipe", "run_config", "train_experiment"]
