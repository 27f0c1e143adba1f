"""Kinematic body model: a 20-joint Kinect-v1 skeleton driven by joint angles.

Coordinates are metres in a floor frame: x = the subject's right (when facing the
camera), y = up, z = away from the camera (the subject's backward); the floor is at
y = 0. A pose is a row of :data:`CHANNELS` (angles in degrees, ``root_*`` in metres).
Every limb hangs straight down at zero angles; left limbs use the same angle meanings
as right ones (mirrored), e.g. a positive ``sh_plane`` moves either arm outwards.
"""

from __future__ import annotations

from dataclasses import dataclass, fields

import numpy as np

from harkd.data.utd_mhad import JOINT_NAMES

JOINTS = JOINT_NAMES  # Kinect v1 order of UTD-MHAD
J = {name: i for i, name in enumerate(JOINTS)}

_LIMB = ("sh_plane", "sh_elev", "sh_rot", "elbow", "pron", "hip_flex", "hip_abd", "knee")
CHANNELS = (
    "root_x", "root_y", "root_z", "root_yaw", "trunk_flex", "trunk_lean", "trunk_twist",
    *(f"{side}_{name}" for side in "rl" for name in _LIMB),
)
CH = {name: i for i, name in enumerate(CHANNELS)}
LINEAR = ("root_x", "root_y", "root_z")  # channels in metres; all others in degrees

_MIRROR = np.diag([-1.0, 1.0, 1.0])  # reflects the right side onto the left


@dataclass(frozen=True)
class Body:
    """Segment lengths (metres) of one subject; the defaults are a 1.70 m adult."""

    torso: float = 0.41          # hip_center -> shoulder_center
    spine: float = 0.06          # hip_center -> spine joint (Kinect puts it low)
    neck: float = 0.18           # shoulder_center -> head centre
    shoulder_half: float = 0.17
    shoulder_drop: float = 0.09
    hip_half: float = 0.08
    hip_drop: float = 0.08
    upper_arm: float = 0.28
    forearm: float = 0.24
    hand: float = 0.07
    thigh: float = 0.46
    shank: float = 0.37
    ankle_height: float = 0.08
    girth: float = 1.0           # scales the depth renderer's limb radii

    @classmethod
    def random(cls, rng: np.random.Generator) -> "Body":
        """A plausible random adult: overall scale 0.9-1.1 and +-5 % per segment."""
        scale = rng.uniform(0.9, 1.1)
        values = {f.name: f.default * scale * rng.uniform(0.95, 1.05) for f in fields(cls) if f.name != "girth"}
        return cls(**values, girth=rng.uniform(0.85, 1.2))


def _rot(axis: int, deg: np.ndarray) -> np.ndarray:
    """Rotation matrices (N, 3, 3) about a coordinate axis by angles in degrees."""
    a = np.radians(np.asarray(deg, dtype=float))
    c, s = np.cos(a), np.sin(a)
    i, j = [(1, 2), (2, 0), (0, 1)][axis]
    r = np.zeros(a.shape + (3, 3))
    r[..., axis, axis] = 1.0
    r[..., i, i] = c
    r[..., j, j] = c
    r[..., i, j] = -s
    r[..., j, i] = s
    return r


def rot_x(deg) -> np.ndarray:
    """Rotations about x; positive turns a hanging limb forward (towards -z)."""
    return _rot(0, deg)


def rot_y(deg) -> np.ndarray:
    """Rotations about the vertical; positive turns the forward direction to the left."""
    return _rot(1, deg)


def rot_z(deg) -> np.ndarray:
    """Rotations about z; positive swings a hanging right limb outwards."""
    return _rot(2, deg)


def _apply(r: np.ndarray, v) -> np.ndarray:
    """Rotate a fixed vector ``v`` (3,) by each matrix in ``r`` (N, 3, 3)."""
    return r @ np.asarray(v, dtype=float)


@dataclass
class Kinematics:
    """Joint positions (N, 20, 3) and segment rotations (name -> (N, 3, 3)) over time."""

    joints: np.ndarray
    frames: dict[str, np.ndarray]

    def point(self, segment: str, joint: str, offset=(0.0, 0.0, 0.0)) -> np.ndarray:
        """Trajectory (N, 3) of a point fixed on ``segment``: ``joint`` + R @ offset."""
        return self.joints[:, J[joint]] + _apply(self.frames[segment], offset)


def forward_kinematics(body: Body, pose: np.ndarray, anchor: float = 0.5, softness: float = 0.04) -> Kinematics:
    """Joint positions and segment frames for poses (N, len(CHANNELS)).

    The pelvis is placed so that the lower ankle rests ``ankle_height`` above the
    floor (a soft minimum, so contacts change smoothly) and a point between the
    ankles (``anchor``: 1 = right foot, 0 = left, 0.5 = midway) keeps its standing
    position horizontally; the ``root_*`` channels then add explicit offsets.
    """
    pose = np.atleast_2d(np.asarray(pose, dtype=float))
    ch = {name: pose[:, i] for i, name in enumerate(CHANNELS)}
    b = body
    pelvis = rot_y(ch["root_yaw"])
    trunk = pelvis @ rot_x(-ch["trunk_flex"]) @ rot_z(ch["trunk_lean"]) @ rot_y(ch["trunk_twist"])

    def mirror(r, side):
        return _MIRROR @ r @ _MIRROR if side == "l" else r

    frames = {"pelvis": pelvis, "trunk": trunk}
    for side, name in (("r", "right"), ("l", "left")):
        upper = rot_y(-ch[f"{side}_sh_plane"]) @ rot_x(ch[f"{side}_sh_elev"]) @ rot_y(ch[f"{side}_sh_rot"])
        fore = upper @ rot_x(ch[f"{side}_elbow"]) @ rot_y(ch[f"{side}_pron"])
        thigh = rot_x(ch[f"{side}_hip_flex"]) @ rot_z(ch[f"{side}_hip_abd"])
        shank = thigh @ rot_x(-ch[f"{side}_knee"])
        frames[f"{name}_upper_arm"] = trunk @ mirror(upper, side)
        frames[f"{name}_forearm"] = trunk @ mirror(fore, side)
        frames[f"{name}_thigh"] = pelvis @ mirror(thigh, side)
        frames[f"{name}_shank"] = pelvis @ mirror(shank, side)

    n = len(pose)
    joints = np.zeros((n, len(JOINTS), 3))
    down = np.array([0.0, -1.0, 0.0])
    joints[:, J["spine"]] = _apply(trunk, (0, b.spine, 0))
    joints[:, J["shoulder_center"]] = _apply(trunk, (0, b.torso, 0))
    joints[:, J["head"]] = joints[:, J["shoulder_center"]] + _apply(trunk, (0, b.neck, 0))
    for sign, name in ((1.0, "right"), (-1.0, "left")):
        sh = joints[:, J["shoulder_center"]] + _apply(trunk, (sign * b.shoulder_half, -b.shoulder_drop, 0))
        el = sh + _apply(frames[f"{name}_upper_arm"], down * b.upper_arm)
        wr = el + _apply(frames[f"{name}_forearm"], down * b.forearm)
        hip = _apply(pelvis, (sign * b.hip_half, -b.hip_drop, 0))
        knee = hip + _apply(frames[f"{name}_thigh"], down * b.thigh)
        ankle = knee + _apply(frames[f"{name}_shank"], down * b.shank)
        foot = ankle + _apply(frames[f"{name}_shank"], (0, -0.6 * b.ankle_height, -0.06))
        for joint, value in zip(("shoulder", "elbow", "wrist", "hip", "knee", "ankle", "foot"),
                                (sh, el, wr, hip, knee, ankle, foot)):
            joints[:, J[f"{name}_{joint}"]] = value
        joints[:, J[f"{name}_hand"]] = wr + _apply(frames[f"{name}_forearm"], down * b.hand)

    # Ground contact: soft-min ankle height on the floor, anchor point fixed horizontally.
    la, ra = joints[:, J["left_ankle"]], joints[:, J["right_ankle"]]
    low = -softness * (np.logaddexp(-la[:, 1] / softness, -ra[:, 1] / softness) - np.log(2))
    target = anchor * ra + (1 - anchor) * la
    rest = _apply(pelvis, ((2 * anchor - 1) * b.hip_half, 0, 0))
    shift = np.stack([rest[:, 0] - target[:, 0], b.ankle_height - low, rest[:, 2] - target[:, 2]], axis=1)
    shift += np.einsum("nij,nj->ni", pelvis, pose[:, [CH[c] for c in LINEAR]])
    joints += shift[:, None, :]
    return Kinematics(joints, frames)
