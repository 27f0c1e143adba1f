import math

import numpy as np
import pytest

from harkd.engine.metrics import classification_report, confusion_matrix


def test_confusion_matrix_counts():
    cm = confusion_matrix([0, 0, 1, 2, 2, 2], [0, 1, 1, 2, 0, 2], 3)
    np.testing.assert_array_equal(cm, [[1, 1, 0], [0, 1, 0], [1, 0, 2]])


def test_report_golden_values():
    report = classification_report([0, 0, 1, 2, 2, 2], [0, 1, 1, 2, 0, 2], 4)
    assert report["accuracy"] == pytest.approx(4 / 6)
    # per-class F1: c0 p=1/2 r=1/2 -> 1/2; c1 p=1/2 r=1 -> 2/3; c2 p=1 r=2/3 -> 4/5; c3 absent -> excluded
    assert report["macro_f1"] == pytest.approx((1 / 2 + 2 / 3 + 4 / 5) / 3)
    assert report["per_class_accuracy"][:3] == pytest.approx([0.5, 1.0, 2 / 3])
    assert math.isnan(report["per_class_accuracy"][3])
    assert report["num_samples"] == 6


def test_out_of_range_labels_raise():
    with pytest.raises(ValueError, match=r"predictions must lie in \[0, 2\), got \[0, 5\]"):
        confusion_matrix([0, 1], [0, 5], 2)
