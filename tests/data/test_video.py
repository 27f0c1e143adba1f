"""RGB video through PyAV, tested on a tiny video written here."""

from __future__ import annotations

import re

import numpy as np
import pytest

from harkd.data import get_dataset, read_video
from harkd.errors import DataError, MissingDependencyError


def test_missing_pyav_message(monkeypatch, tmp_path):
    import builtins

    real_import = builtins.__import__

    def no_av(name, *args, **kwargs):
        if name == "av":
            raise ImportError("no av")
        return real_import(name, *args, **kwargs)

    monkeypatch.setattr(builtins, "__import__", no_av)
    with pytest.raises(MissingDependencyError, match=r"RGB video needs the optional package 'av': pip install 'harkd\[video\]'"):
        read_video(tmp_path / "x.avi")


def write_avi(path, frames):
    av = pytest.importorskip("av")
    with av.open(str(path), "w") as out:
        stream = out.add_stream("mjpeg", rate=30)
        stream.width, stream.height, stream.pix_fmt = frames.shape[2], frames.shape[1], "yuvj420p"
        for f in frames:
            for packet in stream.encode(av.VideoFrame.from_ndarray(f, format="rgb24")):
                out.mux(packet)
        for packet in stream.encode():
            out.mux(packet)


def test_rgb_video_in_index(tmp_path):
    pytest.importorskip("av")
    frames = np.zeros((6, 48, 64, 3), np.uint8)
    frames[:, :, :32, 0] = 200  # red left half
    (tmp_path / "RGB").mkdir()
    write_avi(tmp_path / "RGB" / "a3_s2_t1_color.avi", frames)
    spec = get_dataset("utd-mhad")
    index = spec.scan(tmp_path)
    video = spec.load(index["a3_s2_t1"], "rgb")
    assert video.shape == (6, 48, 64, 3) and video.dtype == np.uint8
    assert abs(int(video[:, 10:40, 4:28, 0].mean()) - 200) < 15 and video[:, 10:40, 40:, 0].mean() < 20


def test_bad_video(tmp_path):
    pytest.importorskip("av")
    path = tmp_path / "a1_s1_t1_color.avi"
    path.write_bytes(b"not a video" * 10)
    with pytest.raises(DataError, match="^" + re.escape(str(path)) + ": cannot decode video"):
        read_video(path)


def test_single_frame_video_is_rejected(tmp_path):
    pytest.importorskip("av")
    path = tmp_path / "a1_s1_t1_color.avi"
    write_avi(path, np.zeros((1, 16, 16, 3), np.uint8))
    with pytest.raises(DataError) as err:
        read_video(path)
    assert str(err.value) == f"{path}: video has only 1 frame (need at least 2)"
