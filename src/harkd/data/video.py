"""RGB video reading through PyAV (optional extra ``video``)."""

from __future__ import annotations

from pathlib import Path

import numpy as np

from harkd.errors import DataError, MissingDependencyError


def _av():
    try:
        import av
    except ImportError:
        raise MissingDependencyError("av", "video", "RGB video") from None
    return av


def read_video(path: str | Path) -> np.ndarray:
    """Decode every frame of a video file to a ``(T, H, W, 3)`` uint8 RGB array."""
    av = _av()
    path = Path(path)
    if not path.is_file():
        raise DataError(path, "file not found")
    try:
        with av.open(str(path)) as container:
            if not container.streams.video:
                raise DataError(path, "no video stream")
            frames = [f.to_ndarray(format="rgb24") for f in container.decode(video=0)]
    except DataError:
        raise
    except Exception as err:  # av.error.* and decoder failures
        raise DataError(path, f"cannot decode video ({err})") from None
    if not frames:
        raise DataError(path, "video has 0 frames")
    if len(frames) < 2:
        raise DataError(path, "video has only 1 frame (need at least 2)")
    return np.stack(frames)
