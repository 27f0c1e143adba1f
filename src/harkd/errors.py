"""Exceptions that carry one readable message for the user.

Every error harkd raises on bad input derives from :class:`HarkdError`; the CLI
prints its message on one line and exits with status 2 instead of a traceback.
"""

from __future__ import annotations

import difflib
import errno
import warnings
from pathlib import Path
from typing import Iterable


class HarkdError(Exception):
    """Base class of harkd's user-facing errors."""


class InputError(HarkdError, ValueError):
    """An argument or array is not acceptable (NaN, wrong shape, bad option)."""


class DataError(HarkdError, ValueError):
    """A dataset file is missing, corrupt, truncated or has unexpected content.

    The message always starts with the offending file's path.
    """

    def __init__(self, path: str | Path, problem: str):
        self.path = Path(path)
        self.problem = problem
        super().__init__(f"{self.path}: {problem}")


class ConfigError(HarkdError, KeyError):
    """A configuration key or value is wrong."""

    def __str__(self) -> str:  # KeyError would otherwise repr() the message
        return str(self.args[0]) if self.args else ""


class TrainingError(HarkdError, FloatingPointError):
    """Training diverged (a loss that is NaN or infinite)."""


class ParityError(HarkdError):
    """An exported file does not reproduce the eager pipeline (or its int8 model drifts past the bounds)."""


class MissingDependencyError(HarkdError, ImportError):
    """An optional extra is needed for this feature."""

    def __init__(self, package: str, extra: str, feature: str):
        super().__init__(
            f"{feature} needs the optional package '{package}': "
            f"pip install 'harkd[{extra}]'"
        )


def file_in_the_way(path: str | Path, include_self: bool = False) -> Path | None:
    """The nearest existing ancestor of ``path`` (or ``path`` itself with ``include_self``) when it is
    not a directory, e.g. a file where a folder must be created; None when the way is clear."""
    path = Path(path)
    for candidate in ((path,) if include_self else ()) + tuple(path.parents):
        if candidate.exists() or candidate.is_symlink():
            return None if candidate.is_dir() else candidate
    return None


def unknown_key_message(kind: str, key: str, valid: Iterable[str]) -> str:
    """Return "unknown KIND 'key'; did you mean 'x'? (valid: a, b)"."""
    valid = sorted(valid)
    close = difflib.get_close_matches(key, valid, n=1)
    hint = f"; did you mean '{close[0]}'?" if close else ""
    return f"unknown {kind} '{key}'{hint} (valid: {', '.join(valid)})"


class DataWarning(UserWarning):
    """Something in the input was repaired or left out (an interpolated gap, a skipped file).

    Printed on one line as ``harkd: warning: ...``, by the CLI and from Python alike (see
    :func:`_format_warning`); library users see an ordinary :mod:`warnings` warning they can
    filter, record or turn into an error.
    """


def warn(message: str) -> None:
    """Issue a :class:`DataWarning` with ``message`` (shown once per distinct message)."""
    warnings.warn(message, DataWarning, stacklevel=2)


def _format_warning(message, category, filename, lineno, line=None) -> str:
    """``harkd: warning: MESSAGE`` for a :class:`DataWarning` (not harkd's source line); other
    categories as Python formats them."""
    if isinstance(category, type) and issubclass(category, DataWarning):
        return f"harkd: warning: {message}\n"
    return _python_format_warning(message, category, filename, lineno, line)


_python_format_warning = getattr(warnings.formatwarning, "python_format", warnings.formatwarning)
_format_warning.python_format = _python_format_warning  # a reload of this module wraps Python's, not ours
warnings.formatwarning = _format_warning


def os_error_message(err: OSError) -> str:
    """``PATH: what happened`` for a filesystem error, with a hint for the common ones."""
    what = err.strerror or str(err)
    hints = {errno.ENOSPC: "free some space or choose another directory",
             errno.EDQUOT: "free some space or choose another directory",
             errno.EACCES: "choose a writable directory", errno.EROFS: "choose a writable directory",
             errno.EPERM: "choose a writable directory"}
    hint = hints.get(err.errno)
    where = f"{err.filename}: " if err.filename else ""
    return f"{where}{what}" + (f" ({hint})" if hint else "")
