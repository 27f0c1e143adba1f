"""Synthetic UTD-MHAD: the real release's layout, variable names, shapes, rates and units.

Every recording comes from one simulated body performing the action, so the wrist (or
thigh) inertial sensor, the Kinect skeleton and the depth video agree physically.
"""

from __future__ import annotations

import time
from collections.abc import Iterable
from dataclasses import dataclass
from pathlib import Path

import numpy as np
from scipy.io import savemat

from harkd.data.synth.actions import ACTIONS
from harkd.data.synth.body import Body, forward_kinematics, rot_x, rot_y
from harkd.data.synth.motion import Style, make_motion
from harkd.data.synth.render import render_depth, to_millimetres
from harkd.data.synth.sensors import RIGHT_THIGH, RIGHT_WRIST, add_imu_noise, decimate, simulate_imu
from harkd.data.utd_mhad import CLASS_NAMES
from harkd.errors import InputError, unknown_key_message

UTD_ACTIONS = CLASS_NAMES  # the dataset definition's order: action id - 1
#: (action, subject, trial) keys absent from the official release.
UTD_MISSING = ((8, 1, 4), (23, 6, 4), (27, 8, 4))
MODALITIES = ("inertial", "skeleton", "depth")
INERTIAL_RATE = 50
# modality -> (folder, file suffix, variable)
_FILES = {"inertial": ("Inertial", "inertial", "d_iner"), "skeleton": ("Skeleton", "skeleton", "d_skel"),
          "depth": ("Depth", "depth", "d_depth")}
_OVERSAMPLE = 4  # the IMU is simulated at 200 Hz, filtered and decimated to 50 Hz
_PAD = 8


@dataclass(frozen=True)
class SynthSummary:
    """What a writer produced: where, how many recordings and files, how long it took."""

    root: Path
    recordings: int
    files: dict[str, int]
    seconds: float
    bytes: int


def utd_mhad_recording(action: int, subject: int, trial: int, *, seed: int = 0,
                       depth_size: tuple[int, int] | None = (240, 320)) -> dict[str, np.ndarray]:
    """Arrays of one synthetic recording by variable name: ``d_iner``, ``d_skel``, ``d_depth``.

    ``d_depth`` is left out when ``depth_size`` is None. The result depends only on
    (seed, action, subject, trial), not on which other recordings are generated.
    """
    body_rng = np.random.default_rng([seed, 0, subject])
    body, style = Body.random(body_rng), Style.random(body_rng)
    rngs = [np.random.default_rng(s) for s in np.random.SeedSequence([seed, 2, action, subject, trial]).spawn(4)]
    motion_rng, imu_rng, skel_rng, depth_rng = rngs
    spec = ACTIONS[UTD_ACTIONS[action - 1]]
    motion = make_motion(spec.build(motion_rng), motion_rng, style, np.random.default_rng([seed, 1, subject, action]))
    n_iner = int(round(motion.duration * INERTIAL_RATE))

    rate = INERTIAL_RATE * _OVERSAMPLE
    t_fast = np.arange(-_PAD, n_iner * _OVERSAMPLE + _PAD) / rate
    mount = RIGHT_WRIST if action <= 21 else RIGHT_THIGH
    pos, rot = mount.trajectory(forward_kinematics(body, motion(t_fast), spec.anchor), tilt=imu_rng.normal(0, 10, 3))
    imu = decimate(simulate_imu(pos, rot, rate), _OVERSAMPLE, _PAD)[:n_iner]
    out = {"d_iner": add_imu_noise(imu, imu_rng)}

    # Kinect: 11-21 Hz effective rate per clip over the same time span.
    skel_rate = 21.0 - 10.0 * skel_rng.beta(1.2, 6.0)
    n_skel = max(2, int(round(motion.duration * skel_rate)))
    t_skel = np.linspace(0.0, (n_iner - 1) / INERTIAL_RATE, n_skel)
    joints = forward_kinematics(body, motion(t_skel), spec.anchor).joints
    yaw, pitch = rot_y(skel_rng.uniform(-12, 12)), rot_x(skel_rng.uniform(-3, 3))
    shift = [skel_rng.uniform(-0.25, 0.15), -skel_rng.uniform(1.05, 1.15), skel_rng.uniform(2.55, 3.2)]
    joints = (joints @ yaw.T + shift) @ pitch.T  # floor frame -> camera frame
    out["d_skel"] = (joints + skel_rng.normal(0, 0.004, joints.shape)).transpose(1, 2, 0)
    if depth_size is not None:
        out["d_depth"] = to_millimetres(render_depth(joints, depth_size, body.girth), depth_rng)
    return out


def _ids(value, name: str, maximum: int) -> tuple[int, ...]:
    """1-based ids from an int N (meaning 1..N) or an iterable, checked against 1..maximum."""
    if isinstance(value, (int, np.integer)) and not isinstance(value, bool):
        if not 1 <= value <= maximum:
            raise InputError(f"{name} must be between 1 and {maximum}, got {value}")
        return tuple(range(1, int(value) + 1))
    try:
        ids = sorted({int(v) for v in value})
    except (TypeError, ValueError):
        raise InputError(f"{name} must be an integer count or a list of integer ids, got {value!r}") from None
    bad = [i for i in ids if not 1 <= i <= maximum]
    if not ids or bad:
        raise InputError(f"{name} must be ids between 1 and {maximum}, got {bad or 'none'}")
    return tuple(ids)


def _check_size(depth_size) -> tuple[int, int]:
    try:
        h, w = (int(v) for v in depth_size)
        ok = all(float(v) == int(v) for v in depth_size)
    except (TypeError, ValueError):
        ok = False
    if not ok or not (8 <= h <= 4096 and 8 <= w <= 4096):
        raise InputError(f"depth_size must be (height, width) with each between 8 and 4096 pixels, got {depth_size!r}")
    return h, w


def write_utd_mhad(root: str | Path, *, subjects: int | Iterable[int] = 8, trials: int | Iterable[int] = 4,
                   actions: Iterable[int] | None = None, seed: int = 0, depth_size: tuple[int, int] = (240, 320),
                   modalities: Iterable[str] = MODALITIES,
                   missing: Iterable[tuple[int, int, int]] = ()) -> SynthSummary:
    """Write a synthetic dataset in UTD-MHAD's layout under ``root``.

    Files are ``Inertial/a{A}_s{S}_t{T}_inertial.mat`` (``d_iner``, T x 6 float64:
    acceleration in g with gravity, angular velocity in deg/s, 50 Hz; the sensor is
    on the right wrist for actions 1-21, on the right thigh for 22-27),
    ``Skeleton/..._skeleton.mat`` (``d_skel``, 20 x 3 x T float64 metres, Kinect v1
    joints, 11-21 Hz) and ``Depth/..._depth.mat`` (``d_depth``, H x W x T uint16
    millimetres, 0 = background, as many frames as the skeleton).

    ``subjects`` (1-8) and ``trials`` (1-4) are a count N (ids 1..N) or ids;
    ``actions`` are 1-based ids (1-27, default all); ``missing`` lists
    (action, subject, trial) keys to leave out, e.g. :data:`UTD_MISSING`. The same
    seed gives identical arrays.
    """
    subject_ids, trial_ids = _ids(subjects, "subjects", 8), _ids(trials, "trials", 4)
    action_ids = _ids(len(UTD_ACTIONS) if actions is None else actions, "actions", len(UTD_ACTIONS))
    if isinstance(seed, bool) or not isinstance(seed, (int, np.integer)) or seed < 0:
        raise InputError(f"seed must be a non-negative integer, got {seed!r}")
    size = _check_size(depth_size)
    modalities = tuple(dict.fromkeys([modalities] if isinstance(modalities, str) else modalities))
    for m in modalities:
        if m not in _FILES:
            raise InputError(unknown_key_message("modality", str(m), MODALITIES))
    if not modalities:
        raise InputError("modalities must name at least one of: " + ", ".join(MODALITIES))
    try:
        skip = {tuple(int(v) for v in key) for key in missing}
    except (TypeError, ValueError):
        raise InputError(f"missing must be (action, subject, trial) keys, got {missing!r}") from None
    if any(len(key) != 3 for key in skip):
        raise InputError(f"missing must be (action, subject, trial) keys, got {sorted(skip)}")

    start = time.perf_counter()
    root = Path(root)
    for m in modalities:
        (root / _FILES[m][0]).mkdir(parents=True, exist_ok=True)
    files = dict.fromkeys(modalities, 0)
    recordings = total_bytes = 0
    for a in action_ids:
        for s in subject_ids:
            for t in trial_ids:
                if (a, s, t) in skip:
                    continue
                arrays = utd_mhad_recording(a, s, t, seed=int(seed), depth_size=size if "depth" in modalities else None)
                for m in modalities:
                    folder, suffix, var = _FILES[m]
                    path = root / folder / f"a{a}_s{s}_t{t}_{suffix}.mat"
                    savemat(path, {var: arrays[var]}, do_compression=(m == "depth"))
                    files[m] += 1
                    total_bytes += path.stat().st_size
                recordings += 1
    return SynthSummary(root, recordings, files, time.perf_counter() - start, total_bytes)
