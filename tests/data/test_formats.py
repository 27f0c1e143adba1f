"""Readers for user formats: timestamped sensor CSV/TSV and NumPy/MATLAB arrays (harkd.data.formats)."""

from __future__ import annotations

import warnings

import numpy as np
import pytest
import scipy.io

from harkd.data.formats import read_array, read_timestamped
from harkd.errors import ConfigError, DataError, DataWarning

RATE = 50.0


def stream(n=60, rate=RATE, jitter=0.004, seed=0, start=1714557600.0):
    """Times (s) with clock jitter and values that are linear in time (so resampling is exact)."""
    rng = np.random.default_rng(seed)
    times = start + np.arange(n) / rate + rng.uniform(-jitter, jitter, n)
    t = times - start
    return times.tolist(), np.stack([t, 2 * t + 1, -t], axis=1).tolist()


def write(path, header, rows):
    path.write_text((header + "\n" if header else "") + "".join(rows))
    return path


def test_a_phone_csv_in_milliseconds_is_resampled_on_its_time_stamps(tmp_path):
    times, values = stream()
    rows = [f"{int(round(t * 1000))},{x:.6f},{y:.6f},{z:.6f}\n" for t, (x, y, z) in zip(times, values)]
    out = read_timestamped(write(tmp_path / "acc.csv", "timestamp,x,y,z", rows), rate=RATE)
    stamps = np.round(np.asarray(times) * 1000) / 1000
    grid = stamps[0] + np.arange(out.shape[0]) / RATE
    assert out.dtype == np.float32 and out.shape[1] == 3 and grid[-1] <= stamps[-1] < grid[-1] + 1 / RATE
    expected = np.stack([np.interp(grid, stamps, v) for v in np.asarray(values).T], axis=1)
    assert np.allclose(out, expected, atol=2e-5)


@pytest.mark.parametrize("unit, scale", [("s", 1.0), ("ms", 1e3), ("us", 1e6), ("ns", 1e9)])
def test_the_time_unit_is_found_from_the_declared_rate(tmp_path, unit, scale):
    times, values = stream(start=0.0)
    rows = [f"{t * scale!r} {x} {y} {z}\n" for t, (x, y, z) in zip(times, values)]  # whitespace, no header
    out = read_timestamped(write(tmp_path / "acc.txt", "", rows), rate=RATE)
    reference = read_timestamped(write(tmp_path / "s.csv", "t,x,y,z", [f"{t!r},{x},{y},{z}\n" for t, (x, y, z)
                                                                        in zip(times, values)]), rate=RATE)
    assert np.allclose(out, reference, atol=1e-4)


def test_iso_times_tabs_and_a_unit_named_in_the_header(tmp_path):
    times, values = stream(start=0.0)
    iso = [f"2024-05-01T10:00:{t:09.6f}\t{x}\t{y}\t{z}\n" for t, (x, y, z) in zip(times, values)]
    named = [f"{t * 1000!r};{x};{y};{z}\n" for t, (x, y, z) in zip(times, values)]
    a = read_timestamped(write(tmp_path / "iso.tsv", "", iso), rate=RATE)
    b = read_timestamped(write(tmp_path / "ms.csv", "time_ms;x;y;z", named), rate=RATE, rate_tolerance=None)
    assert a.shape == b.shape and np.allclose(a, b, atol=1e-4)


def test_columns_pick_values_by_name_or_index(tmp_path):
    times, values = stream()
    rows = [f"{x},{t!r},{y},{z},7\n" for t, (x, y, z) in zip(times, values)]
    path = write(tmp_path / "acc.csv", "ax,Time,ay,az,battery", rows)
    full = read_timestamped(path, rate=RATE, columns=["ax", "ay", "az"])
    assert np.allclose(full, read_timestamped(path, rate=RATE, columns=[0, 2, 3]))
    assert read_timestamped(path, rate=RATE, columns=["battery"]).min() == 7
    with pytest.raises(DataError) as err:
        read_timestamped(path, rate=RATE, columns=["gx"])
    assert str(err.value) == f"{path}: column 'gx' is not a column of this file (ax, time, ay, az, battery)"


def lines(tmp_path, text):
    return write(tmp_path / "bad.csv", "", [text])


@pytest.mark.parametrize("text, problem", [
    ("timestamp,x,y,z\n0,1,2,3\n0.02,1,2\n", "line 3: expected 4 fields (timestamp,x,y,z), got 3"),
    ("timestamp,x,y,z\n0,1,2,3\n0.02,1,abc,3\n", "line 3: non-numeric value 'abc' in column 'y'"),
    ("timestamp,x,y,z\n0,1,2,3\n0.02,1,nan,3\n", "line 3: NaN/inf value in column 'y'"),
    ("timestamp,x,y,z\n0,1,2,3\n0.02,1,,3\n", "line 3: empty value in column 'y'"),
    ("timestamp,x,y,z\n0.04,1,2,3\n0.02,1,2,3\n0.06,1,2,3\n",
     "time stamps not increasing: line 3 (0.020000) is before line 2 (0.040000)"),
    ("timestamp,x,y,z\n0,1,2,3\n0.02,1,2,3\n0.04,1,2,3\n3.04,1,2,3\n",
     "gap of 3.000 s without samples before line 5 (max_gap 2 s; raise max_gap to interpolate it)"),
    ("timestamp,x,y,z\n0,1,2,3\n", "only 1 data row (need at least 2)"),
    ("timestamp,x,y,z\n", "only 0 data rows (need at least 2)"),
    ("# a comment\n\n", "no data rows (only blank or # lines)"),
    ("timestamp,x,y,z\n2024-05-01T10:00:00,1,2,3\n2024-05-01 10:00:61,1,2,3\n",
     "line 3: '2024-05-01 10:00:61' in column 'timestamp' is not an ISO 8601 time (e.g. 2024-05-01T10:00:00.020)"),
    ("timestamp,x,y,z\n0,1,2,3\n0.01,1,2,3\n0.02,1,2,3\n",
     "sampled at 100 Hz (median interval 10 ms), not at the declared 50 Hz: mixed sampling rates (more than 25% "
     "off; set rate_tolerance: null to resample every file to 50 Hz)"),
])
def test_every_bad_file_is_one_error_naming_its_line(tmp_path, text, problem):
    path = lines(tmp_path, text)
    with pytest.raises(DataError) as err:
        read_timestamped(path, rate=RATE)
    assert str(err.value) == f"{path}: {problem}"


def test_empty_and_binary_files(tmp_path):
    empty = tmp_path / "empty.csv"
    empty.write_bytes(b"")
    binary = tmp_path / "binary.csv"
    binary.write_bytes(b"\xff\xfe\x00\x01")
    for path, problem in ((empty, "empty file (0 bytes)"), (binary, "not a text file (cannot decode byte 0 as UTF-8)"),
                          (tmp_path / "missing.csv", "file not found")):
        with pytest.raises(DataError) as err:
            read_timestamped(path, rate=RATE)
        assert str(err.value) == f"{path}: {problem}"


def test_gaps_follow_the_berkeley_rules(tmp_path):
    text = "t,x\n0,0\n0.02,1\n1.52,2\n1.52,5\n1.54,3\n"  # a 1.5 s gap (interpolated, reported), a repeated stamp
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        out = read_timestamped(lines(tmp_path, text), rate=RATE, rate_tolerance=None)
    messages = sorted(str(w.message) for w in caught if w.category is DataWarning)
    path = tmp_path / "bad.csv"
    assert messages == [f"{path}: 1 row with a repeated time stamp dropped (first: line 5; the first row of each time "
                        "stamp is kept)",
                        f"{path}: gap of 1.500 s without samples before line 4, linearly interpolated (max_gap 2 s)"]
    assert out.shape == (78, 1) and np.isclose(out[40, 0], 1 + (0.8 - 0.02) / 1.5, atol=1e-5)
    with pytest.raises(DataError, match=r"gap of 1\.500 s .* \(max_gap 1 s"), pytest.warns(DataWarning):
        read_timestamped(path, rate=RATE, rate_tolerance=None, max_gap=1.0)


def test_a_bad_time_unit_is_a_config_error(tmp_path):
    with pytest.raises(ConfigError) as err:
        read_timestamped(lines(tmp_path, "0,1\n1,2\n"), rate=1.0, time_unit="minutes")
    assert str(err.value) == "time_unit must be auto, iso, s, ms, us, ns, got 'minutes'"


# -- arrays ---------------------------------------------------------------------------------
def test_npy_npz_and_mat_arrays_come_back_time_first(tmp_path):
    x = np.arange(30, dtype=np.float64).reshape(10, 3)
    np.save(tmp_path / "a.npy", x)
    np.save(tmp_path / "t.npy", x.T)
    np.save(tmp_path / "one.npy", x[:, 0])
    np.savez(tmp_path / "single.npz", data=x)
    np.savez(tmp_path / "two.npz", acc=x, gyro=-x)
    scipy.io.savemat(tmp_path / "m.mat", {"d_skel": np.zeros((20, 3, 7))})
    assert read_array(tmp_path / "a.npy").dtype == np.float32
    assert np.array_equal(read_array(tmp_path / "a.npy"), x)
    assert np.array_equal(read_array(tmp_path / "t.npy", time_axis=-1), x)
    assert read_array(tmp_path / "one.npy").shape == (10, 1)
    assert np.array_equal(read_array(tmp_path / "single.npz"), x)
    assert np.array_equal(read_array(tmp_path / "two.npz", key="gyro"), -x)
    assert read_array(tmp_path / "m.mat", key="d_skel", time_axis=-1).shape == (7, 20, 3)


def test_bad_arrays_are_one_error_each(tmp_path):
    np.save(tmp_path / "nan.npy", np.array([[0.0], [np.nan]]))
    np.save(tmp_path / "short.npy", np.zeros((1, 3)))
    np.save(tmp_path / "text.npy", np.array(["a", "b"]))
    np.savez(tmp_path / "two.npz", acc=np.zeros((4, 3)), gyro=np.zeros((4, 3)))
    (tmp_path / "junk.npy").write_bytes(b"not numpy at all")
    cases = [("nan.npy", {}, "the array has 1 NaN/inf value(s) (first at frame 1)"),
             ("short.npy", {}, "the array has only 1 frame (need at least 2)"),
             ("text.npy", {}, "the array is not a numeric array (<U1)"),
             ("two.npz", {}, "holds 2 arrays (acc, gyro): name one with option 'key'"),
             ("two.npz", {"key": "mag"}, "no array 'mag' (arrays: acc, gyro)"),
             ("junk.npy", {}, "not a NumPy .npy/.npz file (no .npy header or .npz archive)"),
             ("short.npy", {"time_axis": 2}, "the array has 2 dimensions, so time_axis 2 does not exist")]
    for name, options, problem in cases:
        with pytest.raises(DataError) as err:
            read_array(tmp_path / name, **options)
        assert str(err.value) == f"{tmp_path / name}: {problem}"
    with pytest.raises(DataError) as err:
        read_array(tmp_path / "short.npy", ndim=(3,))
    assert str(err.value) == f"{tmp_path / 'short.npy'}: the array has shape (1, 3): expected 3 dimensions"
