"""Inertial sensor simulation from segment trajectories (dataset-agnostic)."""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
from scipy.ndimage import convolve1d

from harkd.data.synth.body import J, Kinematics, rot_x, rot_y, rot_z

GRAVITY = 9.80665
#: Sensor axes in a segment's local frame (columns): x along the bone towards its
#: distal end, y backwards (at rest), z = x cross y. A hanging limb reads x = -1 g.
SENSOR_AXES = np.array([[0.0, -1.0, 0.0], [0.0, 0.0, 1.0], [-1.0, 0.0, 0.0]]).T


@dataclass(frozen=True)
class Mount:
    """Where a sensor sits: on ``segment``, ``along`` the way from ``proximal`` to ``distal``."""

    segment: str
    proximal: str
    distal: str
    along: float = 0.5
    offset: tuple[float, float, float] = (0.0, 0.0, 0.0)  # local frame, metres (skin surface)

    def trajectory(self, kin: Kinematics, tilt: np.ndarray | None = None) -> tuple[np.ndarray, np.ndarray]:
        """Sensor positions (N, 3) and orientations (N, 3, 3); ``tilt`` (3,) degrees mis-mounting."""
        p, d = kin.joints[:, J[self.proximal]], kin.joints[:, J[self.distal]]
        rot = kin.frames[self.segment]
        pos = p + self.along * (d - p) + rot @ np.asarray(self.offset)
        axes = SENSOR_AXES if tilt is None else SENSOR_AXES @ (rot_x(tilt[0]) @ rot_y(tilt[1]) @ rot_z(tilt[2]))
        return pos, rot @ axes


RIGHT_WRIST = Mount("right_forearm", "right_elbow", "right_wrist", along=0.9, offset=(0.0, 0.0, 0.03))
RIGHT_THIGH = Mount("right_thigh", "right_hip", "right_knee", along=0.5, offset=(0.0, 0.0, -0.07))


def simulate_imu(positions: np.ndarray, rotations: np.ndarray, rate: float) -> np.ndarray:
    """Ideal accelerometer and gyroscope readings (N, 6) of a moving sensor frame.

    ``positions`` (N, 3) metres and ``rotations`` (N, 3, 3) (sensor-to-world) are
    sampled at ``rate`` Hz in a world frame with y up. Columns 0-2: specific force
    (acceleration minus gravity) in the sensor frame, in g, so a still sensor reads
    1 g upwards; columns 3-5: angular velocity in the sensor frame (from R^T dR/dt),
    in deg/s. Derivatives are central finite differences: sample densely (>=100 Hz).
    """
    dt = 1.0 / rate
    acc = np.gradient(np.gradient(positions, dt, axis=0), dt, axis=0)
    force = acc + np.array([0.0, GRAVITY, 0.0])
    force_s = np.einsum("nji,nj->ni", rotations, force) / GRAVITY
    w = np.swapaxes(rotations, 1, 2) @ np.gradient(rotations, dt, axis=0)  # skew-symmetric
    omega = 0.5 * np.stack([w[:, 2, 1] - w[:, 1, 2], w[:, 0, 2] - w[:, 2, 0], w[:, 1, 0] - w[:, 0, 1]], axis=1)
    return np.concatenate([force_s, np.degrees(omega)], axis=1)


def decimate(x: np.ndarray, factor: int, offset: int = 0) -> np.ndarray:
    """Low-pass (a ``factor``-wide centred box, like a sensor's filter) and keep every ``factor``-th row."""
    kernel = np.ones(factor + 1)
    kernel[[0, -1]] = 0.5
    return convolve1d(x, kernel / factor, axis=0, mode="nearest")[offset::factor]


def add_imu_noise(imu: np.ndarray, rng: np.random.Generator, *, acc_noise=0.006, gyro_noise=0.8,
                  acc_bias=0.02, gyro_bias=6.0, acc_range=8.0, gyro_range=1000.0) -> np.ndarray:
    """White noise and a constant bias per axis (g, deg/s), then saturation at the ranges."""
    scale = np.repeat([acc_noise, gyro_noise], 3)
    bias = np.repeat([acc_bias, gyro_bias], 3) * rng.standard_normal(6)
    out = imu + bias + scale * rng.standard_normal(imu.shape)
    limits = np.repeat([acc_range, gyro_range], 3)
    return np.clip(out, -limits, limits)
