"""harkd: cross-modal knowledge distillation for human action recognition."""

from importlib.metadata import PackageNotFoundError, version as _version

try:
    __version__ = _version("harkd")
except PackageNotFoundError:  # running from a source tree without install
    __version__ = "0.0.0+unknown"

__all__ = ["__version__"]
