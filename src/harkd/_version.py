"""harkd's version (the installed distribution's; ``0.0.0+unknown`` in a source tree without install).

On the bottom floor so that any module can record it without importing the package face."""

from importlib.metadata import PackageNotFoundError, version as _version

try:
    __version__ = _version("harkd")
except PackageNotFoundError:  # running from a source tree without install
    __version__ = "0.0.0+unknown"

__all__ = ["__version__"]
