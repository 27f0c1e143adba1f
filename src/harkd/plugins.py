"""Plug-ins: a user's module that registers datasets, models, losses or readers when imported.

Three ways, each honoured by every CLI command and by every config harkd reads:

- the config key ``imports: [mymodule, plugins/my_dataset.py]`` (saved in the run's config.yaml, so
  ``harkd evaluate`` and ``harkd export`` of the run import them again);
- ``--import MODULE`` on any command (repeatable);
- the entry-point group ``harkd.plugins`` of an installed package (``[project.entry-points."harkd.plugins"]
  mine = "mypackage.harkd_plugin"``), imported once per process before any config is read.

A name is a dotted module name, found on the Python path with the current directory appended, or
the path of a ``.py`` file (relative to the current directory; imported under its file stem). A
module that fails to import is one :class:`~harkd.errors.ConfigError` line naming it.

Bottom floor: imports nothing from harkd but :mod:`harkd.errors`.
"""

from __future__ import annotations

import importlib
import importlib.util
import os
import sys
import traceback
from pathlib import Path
from typing import Iterable

from harkd.errors import ConfigError

__all__ = ["ENTRY_POINT_GROUP", "load_plugins", "import_plugin", "load_entry_points"]

ENTRY_POINT_GROUP = "harkd.plugins"
_entry_points_loaded = False


def load_plugins(modules: Iterable[str] | None = (), origin: str = "imports") -> None:
    """Import the ``harkd.plugins`` entry points (once per process), then each of ``modules``;
    ``origin`` says where the names came from in an error (``--import``, ``imports in cfg.yaml``)."""
    load_entry_points()
    if isinstance(modules, str):
        raise ConfigError(f"{origin}: expected a list of module names, got {modules!r}")
    for name in modules or ():
        import_plugin(name, origin)


def load_entry_points() -> None:
    """Import every module of the ``harkd.plugins`` entry-point group, once per process."""
    global _entry_points_loaded
    if _entry_points_loaded:
        return
    _entry_points_loaded = True
    from importlib.metadata import entry_points

    for entry in entry_points(group=ENTRY_POINT_GROUP):
        try:
            entry.load()
        except Exception as err:  # the plug-in's own failure, whatever it is
            dist = getattr(getattr(entry, "dist", None), "name", None)
            where = f" of package {dist}" if dist else ""
            raise ConfigError(f"{ENTRY_POINT_GROUP} entry point '{entry.name}' ({entry.value}){where} failed to import: "
                              f"{_describe(err)}") from None


def import_plugin(name: str, origin: str = "imports"):
    """Import one plug-in module by dotted name or ``.py`` path; returns the module."""
    if not isinstance(name, str) or not name.strip():
        raise ConfigError(f"{origin}: expected a module name or a .py file, got {name!r}")
    name = name.strip()
    if name.endswith(".py") or os.sep in name or "/" in name:
        return _import_file(Path(os.path.expanduser(name)), name, origin)
    if os.getcwd() not in sys.path and "" not in sys.path:
        sys.path.append(os.getcwd())
    try:
        return importlib.import_module(name)
    except ModuleNotFoundError as err:
        if err.name and (name == err.name or name.startswith(err.name + ".")):
            raise ConfigError(f"cannot import plug-in module '{name}' ({origin}): no module named '{err.name}' on the "
                              "Python path (the current directory included)") from None
        raise ConfigError(f"plug-in module '{name}' ({origin}) failed to import: {_describe(err)}") from None
    except Exception as err:
        raise ConfigError(f"plug-in module '{name}' ({origin}) failed to import: {_describe(err)}") from None


def _import_file(path: Path, name: str, origin: str):
    if not path.is_file():
        raise ConfigError(f"cannot import plug-in file '{name}' ({origin}): file not found")
    resolved = path.resolve()
    for module in list(sys.modules.values()):
        if getattr(module, "__file__", None) and Path(module.__file__).resolve() == resolved:
            return module  # imported already (a second config naming it)
    module_name = path.stem
    spec = importlib.util.spec_from_file_location(module_name, resolved)
    module = importlib.util.module_from_spec(spec)
    sys.modules[module_name] = module  # pickled objects of the plug-in (a saved teacher module) find it again
    try:
        spec.loader.exec_module(module)
    except Exception as err:
        del sys.modules[module_name]
        raise ConfigError(f"plug-in file '{name}' ({origin}) failed to import: {_describe(err)}") from None
    return module


def _describe(err: BaseException) -> str:
    """``Type: message (file, line N)`` of the innermost frame in the plug-in's own code."""
    text = f"{type(err).__name__}: {err}" if str(err) else type(err).__name__
    if isinstance(err, SyntaxError) and err.filename:
        return f"{text.splitlines()[0]}"
    frames = [f for f in traceback.extract_tb(err.__traceback__) if "importlib" not in f.filename]
    if frames:
        return f"{text.splitlines()[0]} ({Path(frames[-1].filename).name}, line {frames[-1].lineno})"
    return text.splitlines()[0]
