"""harkd.data.timeseries: the one resampling implementation, on known signals with exact expectations."""

import numpy as np
import pytest

from harkd.data import timeseries as ts
from harkd.data import transforms
from harkd.data.berkeley_mhad import common_grid
from harkd.data.mmact import resample_uniform


def test_uniform_grid_spans_whole_samples():
    np.testing.assert_array_equal(ts.uniform_grid(10.0, 10.5, 4.0), [10.0, 10.25, 10.5])
    np.testing.assert_array_equal(ts.uniform_grid(0.0, 0.7, 4.0), [0.0, 0.25, 0.5])  # the partial sample is dropped
    assert ts.uniform_grid(1.0, 0.0, 4.0).size == 0  # stop before start
    # a span a hair short of a whole number of samples still gets its last sample (within the slack)
    assert len(ts.uniform_grid(0.0, 0.9995, 1.0)) == 2
    assert len(ts.uniform_grid(0.0, 0.9995, 1.0, slack=1e-6)) == 1


def test_uniform_grid_on_epoch_seconds_keeps_the_last_sample():
    start = 1.6e9
    stop = start + 0.1  # 10 intervals at 100 Hz, but (stop - start) * 100 rounds below 10
    assert (stop - start) * 100 < 10
    grid = ts.uniform_grid(start, stop, 100.0)
    assert len(grid) == 11 and grid[0] == start


def test_interpolate_is_linear_between_samples_and_holds_the_ends():
    times = np.array([0.0, 1.0, 3.0])
    values = np.stack([2 * times + 1, -times], axis=1)  # two linear channels
    out = ts.interpolate(values, times, np.array([-1.0, 0.0, 0.5, 2.0, 3.0, 4.0]))
    assert out.dtype == np.float64 and out.shape == (6, 2)
    np.testing.assert_array_equal(out[:, 0], [1.0, 1.0, 2.0, 5.0, 7.0, 7.0])
    np.testing.assert_array_equal(out[:, 1], [0.0, 0.0, -0.5, -2.0, -3.0, -3.0])


def test_interpolate_keeps_trailing_dims():
    x = np.arange(24, dtype=np.float32).reshape(4, 2, 3)  # (T, V, C): every value steps by 6 per frame
    out = ts.interpolate(x, np.arange(4.0), np.array([0.5, 2.25]))
    assert out.shape == (2, 2, 3)
    np.testing.assert_array_equal(out, x[0] + 6 * np.array([0.5, 2.25])[:, None, None])


def test_resample_at_two_taps_in_float32():
    x = np.arange(5, dtype=np.float64)[:, None] * [1.0, 10.0]
    out = ts.resample_at(x, np.array([0.0, 0.5, 3.75, 4.0]))
    assert out.dtype == np.float32
    np.testing.assert_array_equal(out, np.array([[0, 0], [0.5, 5], [3.75, 37.5], [4, 40]], dtype=np.float32))


def test_resample_time_keeps_the_ends_and_spaces_evenly():
    x = np.arange(5, dtype=np.float32)[:, None]
    np.testing.assert_array_equal(ts.resample_time(x, 9)[:, 0], np.linspace(0, 4, 9, dtype=np.float32))
    np.testing.assert_array_equal(ts.resample_time(x, 2)[:, 0], [0.0, 4.0])
    np.testing.assert_array_equal(ts.resample_time(np.full((1, 3), 7.0), 4), np.full((4, 3), 7.0, np.float32))


def test_window_positions():
    np.testing.assert_array_equal(ts.window_positions(5, 0.25, 0.25), [1.0, 1.5, 2.0, 2.5, 3.0])
    np.testing.assert_array_equal(ts.window_positions(3, 0.0, 0.0), [0.0, 1.0, 2.0])


def test_the_two_kernels_agree_up_to_float32_rounding():
    rng = np.random.default_rng(0)
    x = rng.standard_normal((37, 6)).astype(np.float32)
    pos = np.sort(rng.uniform(0, 36, 50))
    np.testing.assert_allclose(ts.resample_at(x, pos), ts.interpolate(x, np.arange(37.0), pos), rtol=0, atol=1e-5)


def test_the_readers_and_transforms_use_it():
    assert transforms.resample_time is ts.resample_time and transforms.resample_at is ts.resample_at
    times = 1.6e9 + np.array([0.0, 0.013, 0.021, 0.037, 0.05])
    values = np.stack([times - times[0], 2 * (times - times[0])], axis=1)
    grid = ts.uniform_grid(times[0], times[-1], 100.0)
    np.testing.assert_array_equal(resample_uniform(times, values, 100.0),
                                  ts.interpolate(values, times, grid).astype(np.float32))
    spans = {"a": (times[0], times[-1]), "b": (times[0] + 0.01, times[-1] + 1)}
    np.testing.assert_array_equal(common_grid(spans, 100.0, "streams"),
                                  ts.uniform_grid(times[0] + 0.01, times[-1], 100.0, slack=1e-6))


@pytest.mark.parametrize("t", [2, 5, 64])
def test_time_window_is_resample_at_window_positions(t):
    x = np.random.default_rng(t).standard_normal((t, 3)).astype(np.float32)
    np.testing.assert_array_equal(transforms.time_window(x, 0.1, 0.2),
                                  ts.resample_at(x, ts.window_positions(t, 0.1, 0.2)))
    # nearest: whole frames at the rounded positions
    idx = np.clip(np.rint(ts.window_positions(t, 0.1, 0.2)).astype(np.int64), 0, t - 1)
    np.testing.assert_array_equal(transforms.time_window(x, 0.1, 0.2, nearest=True), x[idx])
