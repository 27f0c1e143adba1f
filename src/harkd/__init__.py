"""harkd: cross-modal knowledge distillation for human action recognition.

The Python API (:mod:`harkd.api`) is loaded on first use, so ``import harkd`` stays cheap:
``harkd.train``, ``harkd.distill``, ``harkd.Teacher``, ``harkd.evaluate``, ``harkd.export``,
``harkd.load`` (a run as a predictor of raw recordings), ``harkd.create_model``, ``harkd.list_models``, ``harkd.list_losses``, ``harkd.list_datasets``.
``harkd.distill`` and ``harkd.export`` are also the subpackages of those names: calling one
calls the API function, its attributes are the subpackage's (``harkd.distill.DistillConfig``).
"""

import importlib
import sys
import types

from harkd._version import __version__

#: the names :mod:`harkd.api` provides, imported when first asked for
API = ("Teacher", "train", "distill", "evaluate", "export", "load", "create_model", "list_models", "list_losses",
       "list_datasets")
#: API names that are subpackages too
CALLABLE_PACKAGES = ("distill", "export")

__all__ = ["__version__", *API]


def __getattr__(name: str):
    if name in API:
        from harkd import api

        value = getattr(api, name)
        globals()[name] = value
        return value
    raise AttributeError(f"module 'harkd' has no attribute {name!r}")


def __dir__() -> list[str]:
    return sorted(set(globals()) | set(API))


class _CallablePackage(types.ModuleType):
    """A subpackage that, called, is the API function of its name."""

    def __call__(self, *args, **kwargs):
        from harkd import api

        return getattr(api, self.__name__.rpartition(".")[2])(*args, **kwargs)


def _callable_package(name: str) -> property:
    def get(_):
        package = importlib.import_module(f"{__name__}.{name}")
        if type(package) is types.ModuleType:
            package.__class__ = _CallablePackage
        return package

    def keep(_, value):  # the import system records the subpackage here: it is found in sys.modules
        pass

    return property(get, keep)


sys.modules[__name__].__class__ = type("_Harkd", (types.ModuleType,),
                                       {name: _callable_package(name) for name in CALLABLE_PACKAGES})
