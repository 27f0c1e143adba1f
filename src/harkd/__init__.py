"""harkd: cross-modal knowledge distillation for human action recognition.

The Python API (:mod:`harkd.api`) is loaded on first use, so ``import harkd`` stays cheap:
``harkd.train``, ``harkd.distill``, ``harkd.Teacher``, ``harkd.evaluate``, ``harkd.export``,
``harkd.load`` (a run as a predictor of raw recordings), ``harkd.create_model``, ``harkd.list_models``,
``harkd.list_losses``, ``harkd.list_datasets``. The subpackages have their own names
(:mod:`harkd.distillation`, :mod:`harkd.deploy`, ...), so every name here is a plain function or class.
"""

from harkd._version import __version__

#: the names :mod:`harkd.api` provides, imported when first asked for
API = ("Teacher", "train", "distill", "evaluate", "export", "load", "create_model", "list_models", "list_losses",
       "list_datasets")

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
