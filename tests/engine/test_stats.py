"""Seed statistics: known numbers for the paired tests and harkd's gain rule."""

import math
import re

import pytest

from harkd.engine.stats import paired_test, summarize, verdict
from harkd.errors import InputError


def test_summarize_uses_the_sample_std():
    assert summarize([1.0, 2.0, 3.0]) == {"mean": 2.0, "std": 1.0, "n": 3}
    assert summarize([5.0]) == {"mean": 5.0, "std": 0.0, "n": 1}


def test_paired_t_test_matches_a_hand_computed_value():
    # differences 1, 2, 3, 4, 5: mean 3, sd sqrt(2.5), t = 3 / (sqrt(2.5) / sqrt(5)) = 4.2426, df 4
    baseline = [80.0, 81.0, 79.0, 82.0, 80.5]
    method = [b + d for b, d in zip(baseline, [1, 2, 3, 4, 5])]
    test = paired_test(method, baseline)
    assert test["mean"] == pytest.approx(3.0)
    assert test["std"] == pytest.approx(math.sqrt(2.5))
    assert test["p_value"] == pytest.approx(0.013236, abs=1e-5)  # 2 * (1 - t_cdf(4.2426, 4))
    assert test["p_sign_flip"] == pytest.approx(2 / 32)  # only all-plus and all-minus reach |mean| 3
    assert test["verdict"] == "gain"


def test_the_baseline_order_matters_and_pairs_are_not_pooled():
    # the same two sets of values, paired differently: a consistent +1 gain vs a shuffled mess
    base = [70.0, 80.0, 90.0, 75.0, 85.0]
    paired = paired_test([71.0, 81.0, 91.0, 76.0, 86.0], base)
    shuffled = paired_test([91.0, 71.0, 86.0, 81.0, 76.0], base)
    assert paired["p_value"] == 0.0 and paired["verdict"] == "gain"
    assert shuffled["p_value"] > 0.5 and shuffled["verdict"] == "no significant gain"


def test_fewer_than_five_seeds_never_make_a_gain():
    test = paired_test([90.0, 91.0, 92.0], [80.0, 80.5, 81.0])
    assert test["p_value"] < 0.05
    assert test["verdict"] == "no significant gain"


def test_a_significant_drop_is_a_loss():
    assert verdict({"n": 5, "mean": -2.0, "p_value": 0.01}) == "loss"
    assert verdict({"n": 5, "mean": 2.0, "p_value": 0.2}) == "no significant gain"
    assert verdict({"n": 6, "mean": 2.0, "p_value": math.nan}) == "no significant gain"


def test_identical_runs_have_no_p_value_and_no_gain():
    test = paired_test([80.0] * 5, [80.0] * 5)
    assert math.isnan(test["p_value"]) and test["verdict"] == "no significant gain"


def test_bad_inputs_are_one_line_errors():
    with pytest.raises(InputError, match=re.escape(
            "a paired test needs as many values as baseline values (one per seed), got 2 and 3")):
        paired_test([1.0, 2.0], [1.0, 2.0, 3.0])
    with pytest.raises(InputError, match=re.escape("values contains NaN or inf: [1.0, nan]")):
        paired_test([1.0, float("nan")], [1.0, 2.0])
    with pytest.raises(InputError, match=re.escape("baseline values must be a non-empty list of numbers")):
        paired_test([1.0], [])
