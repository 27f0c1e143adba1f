"""Real MMAct sample (HARKD_DATA_ROOT/MMAct-sample/carrying.csv): parse, rate, units, scan."""

from __future__ import annotations

import numpy as np
import pytest

from harkd.data import get_dataset
from harkd.data.mmact import read_samples, read_stream

pytestmark = pytest.mark.realdata


@pytest.fixture(scope="module")
def sample(real_data_root):
    path = real_data_root / "MMAct-sample" / "carrying.csv"
    if not path.is_file():
        pytest.skip(f"real-data test skipped: {path} not found")
    return path


def test_sample_parses(sample):
    times, values = read_samples(sample)
    assert times.shape == (890,) and values.shape == (890, 3)
    assert np.all(np.diff(times) > 0)  # 6 late-stamped rows of the file are repaired in place
    assert np.median(np.diff(times)) == pytest.approx(0.01, abs=1e-4)
    assert 8.9 < times[-1] - times[0] < 9.0
    magnitude = np.linalg.norm(values, axis=1).mean()
    assert 9.0 < magnitude < 11.0  # m/s^2, gravity included
    x = read_stream(sample)
    assert x.dtype == np.float32 and abs(len(x) - 893) <= 1 and np.isfinite(x).all()


def test_sample_scans_in_release_layout(sample, tmp_path):
    take = tmp_path / "acc_phone" / "subject01" / "scene1" / "session3"
    take.mkdir(parents=True)
    (take / "carrying.csv").symlink_to(sample)
    spec = get_dataset("mmact")
    index = spec.scan(tmp_path, strict=True, validate=True)
    assert index.keys == ["s1_sc1_se3_carrying"] and index.skipped == []
    rec = index["s1_sc1_se3_carrying"]
    assert rec.label == 0 and spec.class_names[rec.label] == "carrying"
    assert spec.load(rec, "acc_phone").shape[1] == 3


def test_class_names_match_release_file(real_data_root):
    path = real_data_root / "class-embeddings" / "MMAct_classes.txt"
    if not path.is_file():
        pytest.skip(f"{path} not found")
    names = [line.strip() for line in path.read_text().splitlines() if line.strip()]
    assert tuple(names) == get_dataset("mmact").class_names
