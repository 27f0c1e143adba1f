"""harkd.checks: one argument-checking kit, exact messages."""

import numpy as np
import pytest

from harkd.checks import (check_at_most, check_choice, check_flag, check_int, check_ints, check_keys, check_number,
                          check_rate, is_int, is_number)
from harkd.errors import ConfigError, InputError


@pytest.mark.parametrize("call, error, message", [
    (lambda: check_int("width", 0), InputError, "width must be an integer >= 1, got 0"),
    (lambda: check_int("width", True), InputError, "width must be an integer >= 1, got True"),
    (lambda: check_int("kd: order", -1, 0), InputError, "kd: order must be an integer >= 0, got -1"),
    (lambda: check_int("depth transform option 'frames'", 0, error=ConfigError, say_positive=True), ConfigError,
     "depth transform option 'frames' must be a positive integer, got 0"),
    (lambda: check_int("o", 1, 2, error=ConfigError, why=" (why)", say_positive=True), ConfigError,
     "o must be an integer >= 2 (why), got 1"),
    (lambda: check_ints("depths", "12"), InputError, "depths must be a non-empty sequence of integers, got '12'"),
    (lambda: check_ints("depths", (1, 2), length=3), InputError, "depths must have 3 items, got 2"),
    (lambda: check_ints("depths", (1, 0)), InputError, "depths[1] must be an integer >= 1, got 0"),
    (lambda: check_number("kd: temperature", 0, positive=True), InputError,
     "kd: temperature must be a finite number > 0, got 0"),
    (lambda: check_number("rkd: eps", float("nan")), InputError, "rkd: eps must be a finite number >= 0, got nan"),
    (lambda: check_number("w", float("inf")), InputError, "w must be a finite number >= 0, got inf"),
    (lambda: check_number("w", -1e-9), InputError, "w must be a finite number >= 0, got -1e-09"),
    (lambda: check_number("w", False), InputError, "w must be a finite number >= 0, got False"),
    (lambda: check_rate("drop_rate", 1.0), InputError, "drop_rate must be a number in [0, 1), got 1.0"),
    (lambda: check_choice("stem", "tiny", ("imagenet", "small")), InputError,
     "stem must be one of 'imagenet', 'small', got 'tiny'"),
    (lambda: check_choice("s", "x", ("acc", "all"), error=ConfigError, as_list=True), ConfigError,
     "s must be one of ['acc', 'all'], got 'x'"),
    (lambda: check_flag("normalize", "yes"), ConfigError, "normalize must be true or false, got 'yes'"),
    (lambda: check_at_most("length", 11, 10), ConfigError, "length must be at most 10, got 11"),
    (lambda: check_keys("gaf option", [1], ("a",)), ConfigError, "gaf option options must be a mapping, got list"),
    (lambda: check_keys("gaf option", {"methd": 1}, ("method", "scaling")), ConfigError,
     "unknown gaf option 'methd'; did you mean 'method'? (valid: method, scaling)"),
])
def test_exact_messages(call, error, message):
    with pytest.raises(error) as err:
        call()
    assert str(err.value) == message


def test_valid_values_come_back_normalised():
    assert check_int("n", np.int64(3)) == 3 and type(check_int("n", np.int64(3))) is int
    assert check_int("n", None, optional=True) is None
    assert check_ints("d", [1, 2]) == (1, 2)
    assert check_number("t", 2) == 2.0 and check_number("t", np.float32(0.5), positive=True) == 0.5
    assert check_rate("r", 0) == 0.0
    assert check_choice("c", "a", ["a"]) == "a"
    assert check_flag("f", np.bool_(True)) is True
    check_at_most("n", None, 1)
    check_keys("k", {"a": 1}, ["a"])


@pytest.mark.parametrize("value", [-1, 0, 1, 2, np.int64(2), True, np.bool_(True), 0.5, 2.0, np.float32(3), float("inf"),
                                   float("nan"), "2", None])
def test_the_predicates_are_the_checks_tests(value):
    """is_int / is_number (the manifest's key checks) pass exactly what check_int / check_number pass."""
    def passes(check, *args, **kwargs):
        try:
            check("v", value, *args, **kwargs)
        except InputError:
            return False
        return True

    for minimum in (0, 2):
        assert is_int(value, minimum) == passes(check_int, minimum)
    for positive in (False, True):
        assert is_number(value, positive=positive) == passes(check_number, positive=positive)
