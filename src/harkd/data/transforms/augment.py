"""Training-time augmentation: random views of frame clips, skeleton clips and inertial clips
(torch's generator, seeded per DataLoader worker), and the check of a transform's ``augment`` options."""

from __future__ import annotations

from typing import Any, Iterable

import numpy as np
import torch

from harkd.checks import check_at_most, check_keys
from harkd.data.timeseries import interpolate
from harkd.data.transforms.base import _EPS
from harkd.errors import ConfigError


def augment_frames(x: np.ndarray, crop_scale: float = 0.0, rotate: float = 0.0,
                   depth_shift: float = 0.0) -> np.ndarray:
    """Random training-time view of a clip of (F, ..., H, W) frames, the same for every frame.

    ``crop_scale``: a random sub-box of relative side U(1 - crop_scale, 1) at a random place
    inside the frame, resized back to H x W (a zoom of up to 1 / (1 - crop_scale));
    ``rotate``: in-plane rotation by U(-rotate, rotate) degrees about the frame centre (zeros
    where it uncovers the frame). Both are one bilinear ``grid_sample`` of the whole clip.
    ``depth_shift``: one constant U(-depth_shift, depth_shift) added to every pixel > 0 (the
    body moves nearer or farther; the zero background stays). No flip (UTD-MHAD tells swipe
    left from swipe right). Random numbers come from torch's generator (seeded per DataLoader
    worker).
    """
    x = np.array(x, dtype=np.float32)
    h, w = x.shape[-2:]
    if crop_scale > 0 or rotate > 0:
        side = 1 - crop_scale * float(torch.rand(()))
        cx, cy = ((2 * torch.rand(2, dtype=torch.float64) - 1) * (1 - side)).tolist()
        angle = np.deg2rad(rotate) * (2 * float(torch.rand(())) - 1)
        cos, sin = side * np.cos(angle), side * np.sin(angle)
        # output -> input position in normalised (x, y) coordinates; h / w keep the rotation rigid in pixels
        theta = torch.tensor([[[cos, -sin * h / w, cx], [sin * w / h, cos, cy]]], dtype=torch.float32)
        frames = torch.from_numpy(x.reshape(1, -1, h, w))
        grid = torch.nn.functional.affine_grid(theta, list(frames.shape), align_corners=False)
        x = torch.nn.functional.grid_sample(frames, grid, mode="bilinear", padding_mode="zeros",
                                            align_corners=False).numpy().reshape(x.shape)
    if depth_shift > 0:
        x[x > 0] += depth_shift * (2 * float(torch.rand(())) - 1)
    return x


#: augment option -> the largest value that still means something: degrees of a rotation, a factor
#: U(1 - scale, 1 + scale) that stays >= 0, noise in channel standard deviations
AUGMENT_MAXIMUM = {"rotate": 180, "scale": 1, "noise": 10}
MAX_AUGMENT = 1_000_000  # any other augment option (a finite number; depth_shift is in the depth's units)


def _augment_options(modality: str, augment: Any, valid: Iterable[str]) -> dict[str, float]:
    """Checked ``augment`` options: numbers >= 0, ``shift`` below 0.5."""
    augment = augment or {}
    check_keys(f"{modality} augment option", augment, valid)
    for name, value in augment.items():
        if isinstance(value, bool) or not isinstance(value, (int, float)) or not value >= 0:
            raise ConfigError(f"{modality} augment option '{name}' must be a number >= 0, got {value!r}")
        check_at_most(f"{modality} augment option '{name}'", value, AUGMENT_MAXIMUM.get(name, MAX_AUGMENT))
    if augment.get("shift", 0) >= 0.5:
        raise ConfigError(f"{modality} augment option 'shift' must be below 0.5, got {augment['shift']!r}")
    return dict(augment)


def _rotation_matrix(axis: torch.Tensor, angle: float) -> np.ndarray:
    """3 x 3 rotation by ``angle`` radians about ``axis`` (Rodrigues)."""
    k = (axis / axis.norm().clamp_min(_EPS)).numpy().astype(np.float64)
    cross = np.array([[0, -k[2], k[1]], [k[2], 0, -k[0]], [-k[1], k[0], 0]])
    return np.eye(3) + np.sin(angle) * cross + (1 - np.cos(angle)) * cross @ cross


def random_time_window(x: np.ndarray, shift: float) -> np.ndarray:
    """Keep a random window of ``x`` (time on axis 0) that drops up to ``shift`` of the clip at
    each end, resampled back to the same length (a random time shift and stretch)."""
    t = x.shape[0]
    if t < 2:
        return x
    start, end = (torch.rand(2) * shift * (t - 1)).tolist()
    # float64 interpolation, as this augmentation always did (time_window's float32 taps round differently)
    return interpolate(x, np.arange(t), np.linspace(start, t - 1 - end, t)).astype(np.float32)


def augment_skeleton(x: np.ndarray, rotate: float = 0.0, scale: float = 0.0, shift: float = 0.0) -> np.ndarray:
    """Random training-time view of a time-first (T, V, 3) skeleton clip.

    ``rotate``: one rotation of every joint (angle uniform in +-``rotate`` degrees about a
    random axis: a different camera view); ``scale``: coordinates times U(1 - scale,
    1 + scale) (body size); ``shift``: :func:`random_time_window`. Random numbers come from
    torch's generator (seeded per DataLoader worker).
    """
    x = x.astype(np.float32, copy=True)
    if rotate > 0:
        angle = np.deg2rad(rotate) * (2 * float(torch.rand(())) - 1)
        x = x @ _rotation_matrix(torch.randn(3), angle).astype(np.float32).T
    if scale > 0:
        x *= 1 + scale * (2 * float(torch.rand(())) - 1)
    if shift > 0:
        x = random_time_window(x, shift)
    return x


def augment_inertial(x: np.ndarray, scale: float = 0.0, rotate: float = 0.0, shift: float = 0.0,
                     noise: float = 0.0) -> np.ndarray:
    """Random training-time view of a time-first (T, C) inertial clip, C a multiple of 3.

    ``rotate``: one random rotation (angle uniform in +-``rotate`` degrees about a random
    axis) applied to every 3-axis sensor of the clip (a re-mounted device: acceleration
    incl. gravity and angular velocity turn together). ``scale``: amplitude times
    U(1 - scale, 1 + scale). ``shift``: keep a random window dropping up to ``shift`` of
    the clip at each end and resample it back to T samples (time shift and stretch).
    ``noise``: Gaussian noise with std ``noise`` times each channel's std over the clip.
    Random numbers come from torch's generator (seeded per DataLoader worker).
    """
    x = x.astype(np.float32, copy=True)
    t, c = x.shape
    if rotate > 0 and c % 3 == 0:
        angle = np.deg2rad(rotate) * (2 * float(torch.rand(())) - 1)
        rot = _rotation_matrix(torch.randn(3), angle).astype(np.float32)
        x = (x.reshape(t, c // 3, 3) @ rot.T).reshape(t, c)
    if scale > 0:
        x *= 1 + scale * (2 * float(torch.rand(())) - 1)
    if shift > 0:
        x = random_time_window(x, shift)
    if noise > 0:
        x += noise * x.std(axis=0, keepdims=True) * torch.randn(t, c).numpy()
    return x
