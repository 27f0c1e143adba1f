"""Depth rendering of a skeleton as capsules, through a Kinect-v1-like pinhole camera."""

from __future__ import annotations

import numpy as np

from harkd.data.synth.body import J

#: Focal length in pixels at 320 x 240, fitted to UTD-MHAD's skeleton/depth pairs.
KINECT_FOCAL = 260.0

#: Body shape: (joint, joint, radius at first, radius at second) in metres.
CAPSULES = (
    ("hip_center", "shoulder_center", 0.15, 0.17),
    ("left_shoulder", "right_shoulder", 0.07, 0.07),
    ("left_hip", "right_hip", 0.11, 0.11),
    ("shoulder_center", "head", 0.05, 0.05),
    ("head", "head", 0.095, 0.095),
    *((f"{s}_{a}", f"{s}_{b}", ra, rb) for s in ("left", "right") for a, b, ra, rb in (
        ("shoulder", "elbow", 0.055, 0.045), ("elbow", "wrist", 0.045, 0.035), ("wrist", "hand", 0.04, 0.03),
        ("hip", "knee", 0.09, 0.065), ("knee", "ankle", 0.06, 0.045), ("ankle", "foot", 0.045, 0.04))),
)


def project(points: np.ndarray, size: tuple[int, int]) -> tuple[np.ndarray, np.ndarray, float]:
    """Pixel columns and rows of camera-frame points (..., 3), and the focal length used.

    x maps to increasing columns (Kinect images are mirrored), y up to decreasing rows.
    """
    h, w = size
    f = KINECT_FOCAL * min(w / 320, h / 240)
    z = points[..., 2]
    return (w - 1) / 2 + f * points[..., 0] / z, (h - 1) / 2 - f * points[..., 1] / z, f


def render_depth(joints: np.ndarray, size: tuple[int, int], girth: float = 1.0) -> np.ndarray:
    """Depth images (H, W, T) in metres (0 = background) of skeletons (T, 20, 3).

    Each capsule is drawn on every frame at once in a box just large enough for it;
    a pixel inside a capsule's projection gets the depth of its near surface and the
    nearest surface wins (z-buffer).
    """
    h, w = size
    t = len(joints)
    zbuf = np.full(t * h * w, np.inf)
    frame = np.arange(t)[:, None, None]
    for a, b, ra, rb in CAPSULES:
        pa, pb = joints[:, J[a]], joints[:, J[b]]
        (ua, ub), (va, vb), f = project(np.stack([pa, pb]), size)
        za, zb = pa[:, 2], pb[:, 2]
        ra, rb = ra * girth, rb * girth
        reach = f * max(ra, rb) / np.minimum(za, zb)
        u0 = np.floor(np.minimum(ua, ub) - reach).astype(int)
        v0 = np.floor(np.minimum(va, vb) - reach).astype(int)
        pw = int(np.ceil(np.max(np.abs(ua - ub) + 2 * reach))) + 2
        ph = int(np.ceil(np.max(np.abs(va - vb) + 2 * reach))) + 2
        uu = u0[:, None, None] + np.arange(pw)[None, None, :]
        vv = v0[:, None, None] + np.arange(ph)[None, :, None]
        du, dv = (ub - ua)[:, None, None], (vb - va)[:, None, None]
        s = np.clip(((uu - ua[:, None, None]) * du + (vv - va[:, None, None]) * dv) / (du**2 + dv**2 + 1e-9), 0, 1)
        d2 = (uu - ua[:, None, None] - s * du) ** 2 + (vv - va[:, None, None] - s * dv) ** 2
        z = za[:, None, None] + s * (zb - za)[:, None, None]
        radius = ra + s * (rb - ra)
        rpx2 = (f * radius / z) ** 2
        inside = (d2 < rpx2) & (uu >= 0) & (uu < w) & (vv >= 0) & (vv < h)
        depth = z - radius * np.sqrt(np.clip(1 - d2 / rpx2, 0, 1))
        idx = ((frame * h + vv) * w + uu)[inside]
        zbuf[idx] = np.minimum(zbuf[idx], depth[inside])
    zbuf[np.isinf(zbuf)] = 0.0
    return zbuf.reshape(t, h, w).transpose(1, 2, 0)


def to_millimetres(depth: np.ndarray, rng: np.random.Generator | None = None, noise_mm: float = 4.0) -> np.ndarray:
    """uint16 millimetres with sensor noise on the foreground; background stays 0."""
    out = np.zeros(depth.shape, dtype=np.uint16)
    fg = depth > 0
    mm = depth[fg] * 1000.0
    if rng is not None:
        mm += noise_mm * rng.standard_normal(mm.shape)
    out[fg] = np.clip(np.rint(mm), 1, 65535)
    return out
