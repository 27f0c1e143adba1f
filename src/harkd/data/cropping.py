"""TEMPORARY (replaced by the clip branch's module at merge): body box and square crop."""
import numpy as np


def body_box(frames, margin=0.0):
    m = (frames > 0).any(0)
    if not m.any():
        return 0, frames.shape[1], 0, frames.shape[2]
    ys = np.nonzero(m.any(1))[0]
    xs = np.nonzero(m.any(0))[0]
    return int(ys[0]), int(ys[-1]) + 1, int(xs[0]), int(xs[-1]) + 1


def crop_square(frames, box):
    y0, y1, x0, x1 = box
    s = max(y1 - y0, x1 - x0)
    cy, cx = (y0 + y1) // 2, (x0 + x1) // 2
    out = np.zeros((len(frames), s, s), frames.dtype)
    ty, tx = cy - s // 2, cx - s // 2
    sy0, sx0 = max(ty, 0), max(tx, 0)
    sy1, sx1 = min(ty + s, frames.shape[1]), min(tx + s, frames.shape[2])
    out[:, sy0 - ty:sy1 - ty, sx0 - tx:sx1 - tx] = frames[:, sy0:sy1, sx0:sx1]
    return out
