"""Bad input files: each gives one DataError whose message starts with the file's path."""

from __future__ import annotations

import re
import warnings

import numpy as np
import pytest

from harkd.data import get_dataset
from harkd.data.readers import read_file
from harkd.data.utd_mhad import read_depth, read_inertial, read_skeleton
from harkd.errors import DataError, DataWarning

from utdfiles import make_array, write_mat


def expect(path, reader, pattern):
    with pytest.raises(DataError) as info:
        reader(path)
    message = str(info.value)
    assert message.startswith(str(path) + ": "), message
    assert re.search(pattern, message), message
    assert "\n" not in message
    return message


def test_read_file_bytes_and_problems(tmp_path):
    (tmp_path / "six.bin").write_bytes(b"abcdef")
    (tmp_path / "empty.bin").write_bytes(b"")
    assert read_file(tmp_path / "six.bin") == b"abcdef" and read_file(tmp_path / "six.bin", 2) == b"ab"
    expect(tmp_path / "nope.bin", read_file, r": file not found$")
    expect(tmp_path / "empty.bin", read_file, r": empty file \(0 bytes\)$")
    expect(tmp_path, read_file, r": cannot read file \(Is a directory\)$")


def test_valid_files_are_time_first(tmp_path):
    iner = read_inertial(write_mat(tmp_path / "i.mat", d_iner=make_array("inertial", "k", 5)))
    skel = read_skeleton(write_mat(tmp_path / "s.mat", d_skel=make_array("skeleton", "k", 5)))
    depth = read_depth(write_mat(tmp_path / "d.mat", d_depth=make_array("depth", "k", 5)))
    assert iner.shape == (15, 6) and iner.dtype == np.float32
    assert skel.shape == (5, 20, 3) and skel.dtype == np.float32
    assert depth.shape == (5, 240, 320) and depth.dtype == np.uint16
    raw = make_array("skeleton", "k", 5)
    np.testing.assert_allclose(skel[2, 7], raw[7, :, 2], rtol=1e-6)  # (20,3,T) -> (T,20,3)


def test_sensor_selection(tmp_path):
    path = write_mat(tmp_path / "i.mat", d_iner=make_array("inertial", "k", 5))
    full = read_inertial(path)
    np.testing.assert_array_equal(read_inertial(path, sensor="acc"), full[:, :3])
    np.testing.assert_array_equal(read_inertial(path, sensor="gyro"), full[:, 3:])


def test_single_frame_clips_are_rejected_with_the_file_name(tmp_path):
    path = write_mat(tmp_path / "d.mat", d_depth=np.ones((240, 320), np.uint16))  # MATLAB drops T = 1
    assert str(pytest.raises(DataError, read_depth, path).value) == (
        f"{path}: variable 'd_depth' has only 1 frame (need at least 2)")
    path = write_mat(tmp_path / "i.mat", d_iner=np.ones((1, 6)))
    assert str(pytest.raises(DataError, read_inertial, path).value) == (
        f"{path}: variable 'd_iner' has only 1 frame (need at least 2)")
    path = write_mat(tmp_path / "s.mat", d_skel=np.ones((20, 3, 1)))
    assert str(pytest.raises(DataError, read_skeleton, path).value) == (
        f"{path}: variable 'd_skel' has only 1 frame (need at least 2)")
    assert read_depth(write_mat(tmp_path / "d2.mat", d_depth=np.ones((240, 320, 2), np.uint16))).shape == (2, 240, 320)


def test_all_zero_depth_clip_is_warned_about_and_used(tmp_path):
    path = write_mat(tmp_path / "d.mat", d_depth=np.zeros((24, 32, 3), np.uint16))
    with pytest.warns(DataWarning) as caught:
        depth = read_depth(path)
    assert [str(w.message) for w in caught] == [
        f"{path}: depth clip is all zeros (3 frames without any depth value); used as it is"]
    assert depth.shape == (3, 24, 32) and not depth.any()
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        read_depth(write_mat(tmp_path / "ok.mat", d_depth=np.ones((24, 32, 3), np.uint16)))  # no warning


def test_missing_file(tmp_path):
    expect(tmp_path / "nope.mat", read_inertial, r": file not found$")


def test_empty_file(tmp_path):
    path = tmp_path / "e.mat"
    path.write_bytes(b"")
    expect(path, read_inertial, r": empty file \(0 bytes\)$")


def test_not_a_mat_file(tmp_path):
    path = tmp_path / "x.mat"
    path.write_bytes(b"hello, this is a text file\n" * 10)
    expect(path, read_inertial, r": not a MATLAB MAT-file")


def test_mat73_hdf5(tmp_path):
    path = tmp_path / "x.mat"
    path.write_bytes(b"MATLAB 7.3 MAT-file, Platform: GLNXA64".ljust(512, b" "))
    expect(path, read_inertial, r"MAT v7\.3 \(HDF5\) files are not supported")


@pytest.mark.parametrize("keep", [0.3, 0.6, 0.9])
def test_truncated_file(tmp_path, keep):
    good = write_mat(tmp_path / "good.mat", d_depth=make_array("depth", "k", 6))
    data = good.read_bytes()
    path = tmp_path / "trunc.mat"
    path.write_bytes(data[: int(len(data) * keep)])
    expect(path, read_depth, r": corrupt or truncated MAT file \(.+\)$")


def test_corrupt_stream(tmp_path):
    good = write_mat(tmp_path / "good.mat", d_skel=make_array("skeleton", "k", 6))
    data = bytearray(good.read_bytes())
    data[200:260] = b"\xff" * 60
    path = tmp_path / "bad.mat"
    path.write_bytes(bytes(data))
    expect(path, read_skeleton, r": corrupt or truncated MAT file")


def test_missing_variable(tmp_path):
    path = write_mat(tmp_path / "i.mat", data=np.zeros((5, 6)))
    expect(path, read_inertial, r": variable 'd_iner' not found \(variables: data\)$")


@pytest.mark.parametrize("reader,var,shape,expected", [
    (read_inertial, "d_iner", (10, 3), r"shape \(10, 3\), expected 'd_iner' \(T x 6\)"),
    (read_skeleton, "d_skel", (25, 3, 4), r"shape \(25, 3, 4\), expected 'd_skel' \(20 x 3 x T\)"),
    (read_skeleton, "d_skel", (4, 20, 3), r"shape \(4, 20, 3\), expected 'd_skel' \(20 x 3 x T\)"),
    (read_depth, "d_depth", (24, 32, 3, 2), r"shape \(24, 32, 3, 2\), expected 'd_depth' \(\* x \* x T\)"),
])
def test_wrong_shape(tmp_path, reader, var, shape, expected):
    dtype = np.uint16 if var == "d_depth" else np.float64
    path = write_mat(tmp_path / "x.mat", **{var: np.zeros(shape, dtype)})
    expect(path, reader, expected)


def test_wrong_dtype(tmp_path):
    path = write_mat(tmp_path / "d.mat", d_depth=np.zeros((240, 320, 2), np.float64))
    expect(path, read_depth, r"variable 'd_depth' has dtype float64, expected uint16$")
    path = write_mat(tmp_path / "i.mat", d_iner=np.zeros((5, 6), np.int32))
    expect(path, read_inertial, r"variable 'd_iner' has dtype int32, expected a float type$")


@pytest.mark.parametrize("bad", [np.nan, np.inf, -np.inf])
def test_non_finite(tmp_path, bad):
    x = make_array("inertial", "k", 5)
    x[4, 2] = bad
    expect(write_mat(tmp_path / "i.mat", d_iner=x), read_inertial,
           r"variable 'd_iner' has 1 NaN/inf value\(s\) \(first at frame 4\)$")
    s = make_array("skeleton", "k", 5)
    s[3, 1, 2] = bad
    expect(write_mat(tmp_path / "s.mat", d_skel=s), read_skeleton, r"1 NaN/inf value\(s\) \(first at frame 2\)$")


def test_values_beyond_float32_range(tmp_path):
    x = make_array("inertial", "k", 5)
    x[3, 1] = 1e300  # finite as float64, inf once cast to the returned float32
    with warnings.catch_warnings():
        warnings.simplefilter("error")  # no numpy overflow RuntimeWarning either
        expect(write_mat(tmp_path / "i.mat", d_iner=x), read_inertial,
               r"variable 'd_iner' has 1 value\(s\) beyond the float32 range \(first at frame 3\)$")


def test_empty_clip(tmp_path):
    expect(write_mat(tmp_path / "i.mat", d_iner=np.zeros((0, 6))), read_inertial, r"'d_iner' is empty \(0 frames\)$")
    expect(write_mat(tmp_path / "s.mat", d_skel=np.zeros((20, 3, 0))), read_skeleton, r"is empty \(0 frames\)$")


def test_missing_modality_names_expected_file(small_utd):
    (small_utd / "Depth" / "a1_s1_t1_depth.mat").unlink()
    spec = get_dataset("utd-mhad")
    index = spec.scan(small_utd)
    with pytest.raises(DataError, match=re.escape(str(small_utd / "Depth" / "a1_s1_t1_depth.mat"))
                       + r": missing depth file for recording a1_s1_t1$"):
        spec.load(index["a1_s1_t1"], "depth", root=index.root)
