"""The body's bounding box in a depth clip, and the square crop around it (pure numpy).

UTD-MHAD's depth maps have the background already zeroed (about 8 % of the pixels are
non-zero), so the body is where depth > 0. :func:`body_box` takes the union of those pixels
over the whole clip (every frame inside one fixed box, so the motion stays visible) and
makes it square around its centre; :func:`crop_square` cuts it out, padding with zeros
where the box leaves the frame. A square box resized to a square ``size`` keeps the body's
aspect ratio.
"""

from __future__ import annotations

import math

import numpy as np

from harkd.errors import InputError, warn

__all__ = ["body_box", "crop_square"]

def _frames(frames: np.ndarray) -> np.ndarray:
    frames = np.asarray(frames)
    if frames.ndim < 2 or 0 in frames.shape[-2:]:
        raise InputError(f"frames must be (..., H, W) with H, W >= 1, got shape {frames.shape}")
    return frames


def body_box(frames: np.ndarray, margin: float = 0.0) -> tuple[int, int, int, int]:
    """The square box ``(y0, y1, x0, x1)`` around every pixel with depth > 0 in ``frames``
    (..., H, W), over all leading (frame) axes.

    The side is the larger side of the tight box times ``1 + 2 * margin`` (``margin``: the
    fraction of it added on each side), centred on the tight box's centre; it may reach
    outside the frame (:func:`crop_square` pads there). A clip without any depth > 0 keeps
    the whole frame ``(0, H, 0, W)``, reported with :func:`harkd.errors.warn`.
    """
    frames = _frames(frames)
    if isinstance(margin, bool) or not isinstance(margin, (int, float)) or not margin >= 0:
        raise InputError(f"margin must be a number >= 0, got {margin!r}")
    h, w = frames.shape[-2:]
    body = (frames > 0).reshape(-1, h, w).any(axis=0)
    rows, cols = np.flatnonzero(body.any(axis=1)), np.flatnonzero(body.any(axis=0))
    if rows.size == 0:
        count = int(np.prod(frames.shape[:-2], dtype=np.int64))
        warn(f"body crop: the clip has no pixel with depth > 0 ({count} frames of {h} x {w}); "
             "the whole frame is kept")
        return 0, int(h), 0, int(w)
    y0, y1, x0, x1 = int(rows[0]), int(rows[-1]) + 1, int(cols[0]), int(cols[-1]) + 1
    side = math.ceil(max(y1 - y0, x1 - x0) * (1 + 2 * margin) - 1e-9)
    top, left = (y0 + y1 - side) // 2, (x0 + x1 - side) // 2  # centred (half a pixel up/left when odd)
    return top, top + side, left, left + side


def crop_square(frames: np.ndarray, box: tuple[int, int, int, int]) -> np.ndarray:
    """``frames`` (..., H, W) cut to ``box`` = (y0, y1, x0, x1), zeros where the box leaves the frame
    (same dtype; the output is (..., y1 - y0, x1 - x0))."""
    frames = _frames(frames)
    y0, y1, x0, x1 = (int(v) for v in box)
    if y1 <= y0 or x1 <= x0:
        raise InputError(f"box must have y1 > y0 and x1 > x0, got {tuple(box)}")
    h, w = frames.shape[-2:]
    if (y0, y1, x0, x1) == (0, h, 0, w):
        return frames
    out = np.zeros(frames.shape[:-2] + (y1 - y0, x1 - x0), dtype=frames.dtype)
    sy0, sy1, sx0, sx1 = max(y0, 0), min(y1, h), max(x0, 0), min(x1, w)
    if sy1 > sy0 and sx1 > sx0:
        out[..., sy0 - y0:sy1 - y0, sx0 - x0:sx1 - x0] = frames[..., sy0:sy1, sx0:sx1]
    return out
