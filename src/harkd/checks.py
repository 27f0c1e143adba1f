"""The argument-checking kit: one readable error per bad value, for models, losses and transforms.

Every check takes the ``name`` shown in the message (the caller prefixes its context, e.g.
``"kd: temperature"`` or ``"inertial transform option 'length'"``), returns the checked value
and raises ``error`` (default :class:`~harkd.errors.InputError` for API arguments; config
options pass :class:`~harkd.errors.ConfigError`) with ``"NAME must be ..., got VALUE"``.
Integers may be Python or numpy integers (returned as ``int``); booleans are never numbers.

Bottom floor: imports nothing from harkd but :mod:`harkd.errors`.
"""

from __future__ import annotations

import math
from typing import Any, Iterable, Mapping, Sequence

import numpy as np

from harkd.errors import ConfigError, HarkdError, InputError, unknown_key_message

__all__ = ["is_int", "is_number", "check_int", "check_ints", "check_number", "check_rate", "check_choice",
           "check_flag", "check_at_most", "check_keys"]


def is_int(value: Any, minimum: int | None = None) -> bool:
    """True for a Python or numpy integer (not a bool) >= ``minimum`` (any, when None): :func:`check_int`'s test."""
    return isinstance(value, (int, np.integer)) and not isinstance(value, (bool, np.bool_)) \
        and (minimum is None or value >= minimum)


def is_number(value: Any, *, positive: bool = False) -> bool:
    """True for a finite number (not a bool) >= 0, > 0 with ``positive``: :func:`check_number`'s test."""
    return isinstance(value, (int, float, np.integer, np.floating)) and not isinstance(value, (bool, np.bool_)) \
        and math.isfinite(value) and (value > 0 if positive else value >= 0)


def check_int(name: str, value: Any, minimum: int = 1, *, error: type[HarkdError] = InputError, why: str = "",
              optional: bool = False, say_positive: bool = False) -> int | None:
    """``value`` as an int >= ``minimum``: "NAME must be an integer >= MIN{why}, got V" (with
    ``say_positive``, a minimum of 1 reads "a positive integer"); ``optional`` lets None through."""
    if value is None and optional:
        return None
    if not is_int(value, minimum):
        what = "a positive integer" if say_positive and minimum == 1 else f"an integer >= {minimum}"
        raise error(f"{name} must be {what}{why}, got {value!r}")
    return int(value)


def check_ints(name: str, values: Any, minimum: int = 1, length: int | None = None, *,
               error: type[HarkdError] = InputError) -> tuple[int, ...]:
    """A non-empty sequence of ints >= ``minimum`` (of ``length`` items if given), as a tuple."""
    if isinstance(values, (str, bytes)) or not isinstance(values, Sequence) or not values:
        raise error(f"{name} must be a non-empty sequence of integers, got {values!r}")
    if length is not None and len(values) != length:
        raise error(f"{name} must have {length} items, got {len(values)}")
    return tuple(check_int(f"{name}[{i}]", v, minimum, error=error) for i, v in enumerate(values))


def check_number(name: str, value: Any, *, positive: bool = False, error: type[HarkdError] = InputError) -> float:
    """``value`` as a finite float >= 0 (> 0 with ``positive``): "NAME must be a finite number >= 0, got V"."""
    if not is_number(value, positive=positive):
        raise error(f"{name} must be a finite number {'> 0' if positive else '>= 0'}, got {value!r}")
    return float(value)


def check_rate(name: str, value: Any, *, error: type[HarkdError] = InputError) -> float:
    """A fraction in [0, 1) (dropout): "NAME must be a number in [0, 1), got V"."""
    if isinstance(value, bool) or not isinstance(value, (int, float)) or not 0.0 <= value < 1.0:
        raise error(f"{name} must be a number in [0, 1), got {value!r}")
    return float(value)


def check_choice(name: str, value: Any, choices: Iterable[Any], *, error: type[HarkdError] = InputError,
                 as_list: bool = False) -> Any:
    """``value`` if it is one of ``choices``: "NAME must be one of 'a', 'b', got V" (``as_list``:
    the choices shown as a Python list, "one of ['a', 'b']")."""
    choices = list(choices)
    if value not in choices:
        shown = str(choices) if as_list else ", ".join(repr(c) for c in choices)
        raise error(f"{name} must be one of {shown}, got {value!r}")
    return value


def check_flag(name: str, value: Any, *, error: type[HarkdError] = ConfigError) -> bool:
    """``value`` as a bool: "NAME must be true or false, got V"."""
    if not isinstance(value, (bool, np.bool_)):
        raise error(f"{name} must be true or false, got {value!r}")
    return bool(value)


def check_at_most(name: str, value: int | float | None, maximum: int | float, *,
                  error: type[HarkdError] = ConfigError) -> None:
    """"NAME must be at most MAX, got V" when ``value`` exceeds ``maximum`` (None passes)."""
    if value is not None and value > maximum:
        raise error(f"{name} must be at most {maximum}, got {value}")


def check_keys(kind: str, given: Any, valid: Iterable[str], *, error: type[HarkdError] = ConfigError) -> None:
    """``given`` is a mapping whose keys are all in ``valid``: "KIND options must be a mapping, got
    TYPE" or "unknown KIND 'key'; did you mean 'x'? (valid: ...)"."""
    if not isinstance(given, Mapping):
        raise error(f"{kind} options must be a mapping, got {type(given).__name__}")
    valid = list(valid)
    for key in given:
        if key not in valid:
            raise error(unknown_key_message(kind, str(key), valid))
