"""A synthetic "own recordings" dataset in the formats people have: phone CSVs, MediaPipe CSVs, a labels table.

One simulated body (:mod:`.body`, the UTD-MHAD action scripts) per recording drives

- a phone in the right trouser pocket: ``acc/<key>.csv`` with rows ``timestamp,x,y,z``
  (milliseconds since the epoch, m/s^2 with gravity, ~50 Hz with +-4 ms clock jitter);
- a camera in front: ``pose/<key>.csv``, MediaPipe Pose landmarks at 30 fps, one row per frame:
  ``frame`` then ``<landmark>_x, _y, _z, _visibility`` for the 33 landmarks (normalised image
  coordinates, y down; z on the scale of x, relative to the hips), for two thirds of the
  recordings (one in three has none, a different action for each subject: its ``pose_file`` cell is empty);
- ``labels.csv``: ``recording_id,subject,action,take,acc_file,pose_file``.

Describe it with ``configs/phone_har/manifest.yaml`` (``data.dataset: manifest``).
"""

from __future__ import annotations

import csv
import time
from collections.abc import Iterable
from pathlib import Path

import numpy as np

from harkd.data.keypoints import MEDIAPIPE_POSE
from harkd.data.synth.actions import ACTIONS
from harkd.data.synth.body import J, Body, Kinematics, forward_kinematics
from harkd.data.synth.motion import Style, make_motion
from harkd.data.synth.sensors import GRAVITY, RIGHT_THIGH, simulate_imu
from harkd.data.synth.utd_mhad import SynthSummary
from harkd.errors import InputError

#: class name -> the action script the body performs
PHONE_ACTIONS = {"walk": "walking in place", "jog": "jogging in place", "sit down": "stand to sit",
                 "stand up": "sit to stand", "squat": "squat two arms stretch out", "wave": "right hand wave"}
PHONE_RATE = 50.0
POSE_RATE = 30.0
EPOCH_MS = 1714557600000  # 2024-05-01 10:00 UTC: the first recording's start
_SIM_RATE = 200.0

# MediaPipe landmarks relative to a body joint, in that segment's frame (metres; x = the subject's
# right, y = up, z = backwards): (landmark, segment, joint, offset)
_FACE = [("nose", (0.0, -0.02, -0.10)), ("left_eye_inner", (-0.015, 0.02, -0.09)), ("left_eye", (-0.032, 0.02, -0.085)),
         ("left_eye_outer", (-0.047, 0.02, -0.08)), ("right_eye_inner", (0.015, 0.02, -0.09)),
         ("right_eye", (0.032, 0.02, -0.085)), ("right_eye_outer", (0.047, 0.02, -0.08)),
         ("left_ear", (-0.075, 0.0, -0.01)), ("right_ear", (0.075, 0.0, -0.01)),
         ("mouth_left", (-0.025, -0.06, -0.085)), ("mouth_right", (0.025, -0.06, -0.085))]
_HAND = [("pinky", (0.02, -0.07, 0.0)), ("index", (-0.01, -0.08, -0.01)), ("thumb", (-0.03, -0.04, -0.02))]
_SAME = ("shoulder", "elbow", "wrist", "hip", "knee", "ankle")


def mediapipe_landmarks(kin: Kinematics) -> np.ndarray:
    """(N, 33, 3) world positions (metres, floor frame) of MediaPipe's landmarks on the simulated body."""
    out = np.zeros((len(kin.joints), len(MEDIAPIPE_POSE), 3))
    at = {name: i for i, name in enumerate(MEDIAPIPE_POSE)}
    for name, offset in _FACE:
        out[:, at[name]] = kin.point("trunk", "head", offset)
    for side in ("left", "right"):
        sign = 1.0 if side == "right" else -1.0
        for joint in _SAME:
            out[:, at[f"{side}_{joint}"]] = kin.joints[:, J[f"{side}_{joint}"]]
        for finger, (x, y, z) in _HAND:
            out[:, at[f"{side}_{finger}"]] = kin.point(f"{side}_forearm", f"{side}_hand", (sign * x, y, z))
        out[:, at[f"{side}_heel"]] = kin.point(f"{side}_shank", f"{side}_ankle", (0.0, -0.05, 0.05))
        out[:, at[f"{side}_foot_index"]] = kin.point(f"{side}_shank", f"{side}_foot", (0.0, 0.0, -0.08))
    return out


def to_image(world: np.ndarray, camera_z: float = -3.2, height: float = 1.0, focal: float = 1.1) -> np.ndarray:
    """MediaPipe's normalised image landmarks (x right, y down, z on x's scale from the hips' depth) of
    world points seen by a camera at ``camera_z`` in front of the subject, ``height`` metres up."""
    depth = world[..., 2] - camera_z
    hips = world[:, [MEDIAPIPE_POSE.index("left_hip"), MEDIAPIPE_POSE.index("right_hip")], 2].mean(axis=1)
    x = 0.5 - focal * world[..., 0] / depth  # the subject's right is the image's left
    y = 0.5 - focal * (world[..., 1] - height) / depth
    z = focal * (world[..., 2] - hips[:, None]) / depth
    return np.stack([x, y, z], axis=-1)


def phone_recording(subject: int, action: str, take: int, *, seed: int = 0) -> dict[str, np.ndarray]:
    """One recording: ``acc_ms`` (N,) int64 ms stamps, ``acc`` (N, 3) m/s^2, ``pose`` (F, 33, 4) x, y, z, visibility.

    Depends only on the arguments."""
    body_rng = np.random.default_rng([seed, 0, subject])
    body, style = Body.random(body_rng), Style.random(body_rng)
    label = list(PHONE_ACTIONS).index(action)
    rng = np.random.default_rng([seed, 7, subject, label, take])
    spec = ACTIONS[PHONE_ACTIONS[action]]
    motion = make_motion(spec.build(rng), rng, style, np.random.default_rng([seed, 1, subject, label]),
                         duration_range=(2.5, 4.5))
    t_sim = np.arange(int(motion.duration * _SIM_RATE) + 1) / _SIM_RATE
    kin = forward_kinematics(body, motion(t_sim), spec.anchor)
    pos, rot = RIGHT_THIGH.trajectory(kin, tilt=rng.normal(0, 15, 3))
    acc = simulate_imu(pos, rot, _SIM_RATE)[:, :3] * GRAVITY
    nominal = np.arange(0.0, motion.duration, 1.0 / PHONE_RATE)
    times = nominal + rng.uniform(-0.004, 0.004, len(nominal))
    times[0] = max(times[0], 0.0)
    values = np.stack([np.interp(times, t_sim, a) for a in acc.T], axis=1) + 0.05 * rng.standard_normal((len(times), 3))
    frames = np.arange(0.0, motion.duration, 1.0 / POSE_RATE)
    world = mediapipe_landmarks(forward_kinematics(body, motion(frames), spec.anchor))
    image = to_image(world) + rng.normal(0, 0.003, world.shape)
    visibility = np.clip(rng.normal(0.97, 0.02, world.shape[:2]), 0.5, 1.0)
    start = EPOCH_MS + 60_000 * (100 * subject + 10 * label + take)
    return {"acc_ms": start + np.round(times * 1000).astype(np.int64), "acc": values,
            "pose": np.concatenate([image, visibility[..., None]], axis=-1)}


def _write_acc(path: Path, stamps: np.ndarray, values: np.ndarray) -> None:
    rows = "".join(f"{t},{x:.4f},{y:.4f},{z:.4f}\n" for t, (x, y, z) in zip(stamps, values))
    path.write_text("timestamp,x,y,z\n" + rows)


def _write_pose(path: Path, pose: np.ndarray) -> None:
    head = ["frame"] + [f"{name}_{axis}" for name in MEDIAPIPE_POSE for axis in ("x", "y", "z", "visibility")]
    lines = [",".join(head)]
    for i, frame in enumerate(pose):
        lines.append(",".join([str(i)] + [f"{v:.5f}" for v in frame.reshape(-1)]))
    path.write_text("\n".join(lines) + "\n")


def write_phone_har(root: str | Path, *, subjects: int = 6, takes: int = 1, actions: Iterable[str] | None = None,
                    seed: int = 0, pose_every: int = 3) -> SynthSummary:
    """Write the phone + MediaPipe dataset (see the module docstring) under ``root``.

    ``subjects`` p1..pN (1-20), ``takes`` per subject and action (1-5), ``actions`` class names of
    :data:`PHONE_ACTIONS` (default all six); one recording in ``pose_every`` has no pose file (0: all have
    one): recording n (1-based, in table order) of subject s lacks it when ``(n + s) % pose_every == 0``,
    so the gaps move across the actions from subject to subject."""
    names = list(PHONE_ACTIONS) if actions is None else list(actions)
    unknown = [a for a in names if a not in PHONE_ACTIONS]
    if unknown or not names:
        raise InputError(f"actions must be among {', '.join(PHONE_ACTIONS)}, got {unknown or 'none'}")
    for option, value, top in (("subjects", subjects, 20), ("takes", takes, 5)):
        if isinstance(value, bool) or not isinstance(value, int) or not 1 <= value <= top:
            raise InputError(f"{option} must be an integer between 1 and {top}, got {value!r}")
    if isinstance(seed, bool) or not isinstance(seed, int) or seed < 0:
        raise InputError(f"seed must be a non-negative integer, got {seed!r}")
    if isinstance(pose_every, bool) or not isinstance(pose_every, int) or pose_every < 0:
        raise InputError(f"pose_every must be a non-negative integer, got {pose_every!r}")
    started, root = time.perf_counter(), Path(root)
    (root / "acc").mkdir(parents=True, exist_ok=True)
    (root / "pose").mkdir(parents=True, exist_ok=True)
    table = [["recording_id", "subject", "action", "take", "acc_file", "pose_file"]]
    files = {"acc": 0, "pose": 0}
    n = 0
    for s in range(1, subjects + 1):
        for action in names:
            for take in range(1, takes + 1):
                n += 1
                key = f"p{s}_{action.replace(' ', '_')}_{take}"
                rec = phone_recording(s, action, take, seed=seed)
                _write_acc(root / "acc" / f"{key}.csv", rec["acc_ms"], rec["acc"])
                files["acc"] += 1
                pose = ""
                if not pose_every or (n + s) % pose_every:
                    pose = f"pose/{key}.csv"
                    _write_pose(root / pose, rec["pose"])
                    files["pose"] += 1
                table.append([key, f"p{s}", action, str(take), f"acc/{key}.csv", pose])
    with open(root / "labels.csv", "w", newline="") as fh:
        csv.writer(fh).writerows(table)
    size = sum(p.stat().st_size for p in root.rglob("*") if p.is_file())
    return SynthSummary(root, n, {**files, "labels": 1}, time.perf_counter() - started, size)
