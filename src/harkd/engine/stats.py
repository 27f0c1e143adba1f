"""Seed statistics for comparing runs: mean +- std and paired tests against a baseline.

A gain is a *paired* difference: run ``i`` of a method and run ``i`` of its baseline share
the seed (and so the split, the initialisation stream and the data order). Two tests are
reported for the per-seed differences ``d_i``:

- ``t``: the two-sided paired t-test (``scipy.stats.ttest_rel``), which assumes roughly
  normal differences;
- ``sign_flip``: the exact two-sided permutation test of the mean difference under
  random sign flips (all ``2**n`` of them), which assumes only symmetry. With 5 seeds
  its smallest possible p-value is ``2 / 32 = 0.0625``: five seeds can never reach
  p < 0.05 with this test, so it is the cautious companion of the t-test, not the rule.

harkd calls a difference a gain only when the t-test gives ``p < ALPHA`` over at least
``MIN_SEEDS`` seeds and the mean difference is positive (:func:`verdict`).
"""

from __future__ import annotations

import itertools
import math
from typing import Sequence

import numpy as np

from harkd.errors import InputError

__all__ = ["ALPHA", "MIN_SEEDS", "summarize", "paired_test", "verdict", "confidence_interval"]

ALPHA = 0.05
MIN_SEEDS = 5
MAX_EXACT_SEEDS = 20  # 2**20 sign patterns; above this the sign-flip test is sampled


def _values(values: Sequence[float], what: str) -> np.ndarray:
    arr = np.asarray(list(values), dtype=np.float64)
    if arr.ndim != 1 or arr.size == 0:
        raise InputError(f"{what} must be a non-empty list of numbers")
    if not np.all(np.isfinite(arr)):
        raise InputError(f"{what} contains NaN or inf: {arr.tolist()}")
    return arr


def summarize(values: Sequence[float]) -> dict:
    """``{"mean", "std", "n"}`` (sample standard deviation; 0 for one value)."""
    arr = _values(values, "values")
    return {"mean": float(arr.mean()), "std": float(arr.std(ddof=1)) if arr.size > 1 else 0.0, "n": int(arr.size)}


def confidence_interval(values: Sequence[float], level: float = 0.95) -> list[float]:
    """``[low, high]``: the Student-t confidence interval of the mean of ``values`` (NaN for one value)."""
    arr = _values(values, "values")
    if arr.size < 2:
        return [math.nan, math.nan]
    from scipy import stats

    half = float(stats.t.ppf(0.5 + level / 2, arr.size - 1) * arr.std(ddof=1) / math.sqrt(arr.size))
    return [float(arr.mean()) - half, float(arr.mean()) + half]


def _sign_flip_p(diff: np.ndarray, rng_seed: int = 0) -> float:
    observed = abs(diff.mean())
    if diff.size <= MAX_EXACT_SEEDS:
        signs = np.array(list(itertools.product((1.0, -1.0), repeat=diff.size)))
    else:
        signs = np.random.default_rng(rng_seed).choice((1.0, -1.0), size=(200_000, diff.size))
    means = np.abs((signs * diff).mean(axis=1))
    return float(np.mean(means >= observed - 1e-12))


def paired_test(values: Sequence[float], baseline: Sequence[float]) -> dict:
    """Paired comparison of ``values`` against ``baseline`` (same length, same seed order).

    Returns the mean and std of the differences, both p-values (``p_value`` is the
    t-test's; NaN when the differences have no spread) and :func:`verdict`'s text.
    """
    a, b = _values(values, "values"), _values(baseline, "baseline values")
    if a.size != b.size:
        raise InputError(f"a paired test needs as many values as baseline values (one per seed), "
                         f"got {a.size} and {b.size}")
    diff = a - b
    out = {"n": int(diff.size), "mean": float(diff.mean()),
           "std": float(diff.std(ddof=1)) if diff.size > 1 else 0.0,
           "p_value": math.nan, "p_sign_flip": _sign_flip_p(diff) if diff.size > 1 else math.nan,
           "test": "two-sided paired t-test (scipy.stats.ttest_rel); exact sign-flip permutation test beside it"}
    if diff.size > 1 and out["std"] > 0:
        from scipy import stats

        out["p_value"] = float(stats.ttest_rel(a, b).pvalue)
    elif diff.size > 1 and out["mean"] != 0:
        out["p_value"] = 0.0  # identical non-zero differences on every seed
    out["verdict"] = verdict(out)
    return out


def verdict(test: dict) -> str:
    """``"gain"``, ``"loss"`` or ``"no significant gain"`` by harkd's rule (see the module docstring)."""
    if test["n"] < MIN_SEEDS or not test["p_value"] < ALPHA:
        return "no significant gain"
    return "gain" if test["mean"] > 0 else "loss"
