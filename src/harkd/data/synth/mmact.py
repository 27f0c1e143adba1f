"""Synthetic MMAct: the release's folders and CSV format, from the simulated body.

Each take is one simulated motion (a UTD-MHAD action script standing in for the
MMAct action): the phone sits in the right trouser pocket (``acc_phone`` m/s^2,
``gyro`` rad/s, ``orientation`` degrees), the watch on the left wrist (``acc_watch``
m/s^2). Streams run at their own rates and start and stop at slightly different
times, as in the release.
"""

from __future__ import annotations

import time
from collections.abc import Iterable
from datetime import datetime, timedelta
from pathlib import Path

import numpy as np

from harkd.data.mmact import CLASS_NAMES, NUM_CAMERAS, NUM_SCENES, NUM_SESSIONS, NUM_SUBJECTS, STREAMS, action_stem
from harkd.data.synth.actions import ACTIONS
from harkd.data.synth.body import Body, forward_kinematics
from harkd.data.synth.motion import Style, make_motion
from harkd.data.synth.render import render_depth
from harkd.data.synth.sensors import GRAVITY, RIGHT_THIGH, Mount, simulate_imu
from harkd.data.synth.utd_mhad import UTD_ACTIONS, SynthSummary, _ids
from harkd.errors import InputError, unknown_key_message

#: MMAct class -> the UTD-MHAD motion script that stands in for it (others: UTD action label % 27).
MOTIONS = {"walking": "walking in place", "running": "jogging in place", "sitting down": "stand to sit",
           "standing up": "sit to stand", "throwing": "right arm throw", "waving hand": "right hand wave",
           "picking up": "right hand pick up and throw", "pushing": "two hand push", "crouching": "squat two arms stretch out"}
LEFT_WRIST = Mount("left_forearm", "left_elbow", "left_wrist", along=0.9, offset=(0.0, 0.0, 0.03))
RATES = {"acc_phone": 100.0, "acc_watch": 50.0, "gyro": 100.0, "orientation": 50.0}
PADDINGS = ("none", "zero", "mixed")
_SIM_RATE = 200.0
_START = datetime(2018, 10, 16, 9, 0, 0)


def _orientation(rot: np.ndarray) -> np.ndarray:
    """Azimuth, pitch, roll (degrees) of sensor-to-world rotations (N, 3, 3), world y up."""
    azimuth = np.degrees(np.arctan2(rot[:, 0, 2], rot[:, 2, 2]))
    pitch = np.degrees(np.arcsin(np.clip(-rot[:, 1, 2], -1, 1)))
    roll = np.degrees(np.arctan2(rot[:, 1, 0], rot[:, 1, 1]))
    return np.stack([azimuth, pitch, roll], axis=1)


def mmact_take(subject: int, scene: int, session: int, label: int, *, seed: int = 0,
               uneven: bool = False) -> tuple[dict[str, tuple[np.ndarray, np.ndarray]], np.ndarray]:
    """Streams of one take (stream -> (times in s from the take's start, values (N, 3))) and its joints.

    ``uneven`` jitters the sample times and stamps one row 30 ms late (out of order,
    as real phone clocks do). Depends only on the arguments.
    """
    body_rng = np.random.default_rng([seed, 0, subject])
    body, style = Body.random(body_rng), Style.random(body_rng)
    rng = np.random.default_rng([seed, 3, subject, scene, session, label])
    name = CLASS_NAMES[label]
    spec = ACTIONS[MOTIONS.get(name, UTD_ACTIONS[label % len(UTD_ACTIONS)])]
    motion = make_motion(spec.build(rng), rng, style, np.random.default_rng([seed, 1, subject, label]))
    t_sim = np.arange(int(motion.duration * _SIM_RATE) + 1) / _SIM_RATE
    kin = forward_kinematics(body, motion(t_sim), spec.anchor)
    pos, rot = RIGHT_THIGH.trajectory(kin, tilt=rng.normal(0, 10, 3))
    phone = simulate_imu(pos, rot, _SIM_RATE)
    watch = simulate_imu(*LEFT_WRIST.trajectory(kin, tilt=rng.normal(0, 10, 3)), _SIM_RATE)
    signals = {"acc_phone": phone[:, :3] * GRAVITY, "gyro": np.radians(phone[:, 3:]),
               "orientation": _orientation(rot), "acc_watch": watch[:, :3] * GRAVITY}
    noise = {"acc_phone": 0.05, "acc_watch": 0.08, "gyro": 0.01, "orientation": 0.2}
    out = {}
    for stream in STREAMS:
        rate = RATES[stream]
        start, stop = rng.uniform(0.0, 0.15), motion.duration - rng.uniform(0.0, 0.15)
        times = np.arange(start, stop, 1.0 / rate)
        if uneven:
            times = times + rng.uniform(-0.3, 0.3, len(times)) / rate
        values = np.stack([np.interp(times, t_sim, s) for s in signals[stream].T], axis=1)
        values += noise[stream] * rng.standard_normal(values.shape)
        if uneven and len(times) > 10:
            times[len(times) // 2] += 3.0 / rate  # a late stamp: the next rows are "earlier"
        out[stream] = (times, values)
    return out, kin.joints


def _csv(start: datetime, times: np.ndarray, values: np.ndarray) -> str:
    stamps = [(start + timedelta(seconds=float(t))).strftime("%Y%m%d_%H:%M:%S.%f") for t in times]
    return "".join(f"{s},{x:.7g},{y:.7g},{z:.7g}\n" for s, (x, y, z) in zip(stamps, values))


def _write_video(path: Path, joints: np.ndarray, cam: int, size=(32, 40)) -> None:
    """A tiny grey mp4 of the body seen from camera ``cam`` (needs the ``video`` extra)."""
    from harkd.data.video import _av

    av = _av()
    yaw = np.radians(90.0 * (cam - 1))
    c, s = np.cos(yaw), np.sin(yaw)
    view = joints @ np.array([[c, 0, -s], [0, 1, 0], [s, 0, c]]).T + [0.0, -1.1, 3.0]
    depth = render_depth(view[::10], size)
    frames = np.repeat((255 * (depth > 0)).astype(np.uint8).transpose(2, 0, 1)[..., None], 3, axis=3)
    with av.open(str(path), "w") as out:
        stream = out.add_stream("mpeg4", rate=10)
        stream.width, stream.height, stream.pix_fmt = size[1], size[0], "yuv420p"
        for f in frames:
            out.mux(stream.encode(av.VideoFrame.from_ndarray(np.ascontiguousarray(f), format="rgb24")))
        out.mux(stream.encode())


def write_mmact(root: str | Path, *, subjects: int | Iterable[int] = 2, scenes: int | Iterable[int] = 1,
                sessions: int | Iterable[int] = 1, actions: Iterable[int] | None = None, seed: int = 0,
                uneven: bool = False, empty_csv: bool = False, missing_stream: bool = False,
                padding: str = "mixed", video: bool = False) -> SynthSummary:
    """Write a synthetic dataset in MMAct's layout under ``root``.

    Files are ``<stream>/subject{S}/scene{C}/session{E}/<action>.csv`` with rows
    ``YYYYMMDD_HH:MM:SS.ffffff,x,y,z`` (phone streams 100 Hz, watch and orientation
    50 Hz) and, with ``video``, ``subject{S}/cam{K}/scene{C}/session{E}/<action>.mp4``
    for cams 1-4. ``subjects`` (1-20), ``scenes`` (1-4), ``sessions`` (1-5) are a
    count N (ids 1..N) or ids; ``actions`` are 1-based class ids (1-36, default all).
    ``padding``: folder numbers ``none`` (``subject1``), ``zero`` (``subject01``) or
    ``mixed`` (zero-padded for even subjects). ``empty_csv`` leaves the first take's
    ``acc_watch`` CSV empty (0 bytes); ``missing_stream`` leaves out the last take's
    ``gyro`` CSV; ``uneven`` jitters sample times (see :func:`mmact_take`).
    """
    subject_ids = _ids(subjects, "subjects", NUM_SUBJECTS)
    scene_ids, session_ids = _ids(scenes, "scenes", NUM_SCENES), _ids(sessions, "sessions", NUM_SESSIONS)
    action_ids = _ids(len(CLASS_NAMES) if actions is None else actions, "actions", len(CLASS_NAMES))
    if isinstance(seed, bool) or not isinstance(seed, (int, np.integer)) or seed < 0:
        raise InputError(f"seed must be a non-negative integer, got {seed!r}")
    if padding not in PADDINGS:
        raise InputError(unknown_key_message("padding", str(padding), PADDINGS))
    takes = [(s, c, e, a - 1) for s in subject_ids for c in scene_ids for e in session_ids for a in action_ids]
    start_time, root = time.perf_counter(), Path(root)
    files = dict.fromkeys([*STREAMS, *(["video"] if video else [])], 0)
    total = 0
    for n, (s, c, e, label) in enumerate(takes):
        pad = "02d" if padding == "zero" or (padding == "mixed" and s % 2 == 0) else "d"
        subject = f"subject{s:{pad}}"
        take = Path(f"scene{c:{pad}}", f"session{e:{pad}}")
        streams, joints = mmact_take(s, c, e, label, seed=int(seed), uneven=uneven)
        start = _START + timedelta(minutes=n)
        for stream, (times, values) in streams.items():
            if missing_stream and n == len(takes) - 1 and stream == "gyro":
                continue
            path = root / stream / subject / take / f"{action_stem(label)}.csv"
            path.parent.mkdir(parents=True, exist_ok=True)
            path.write_text("" if empty_csv and n == 0 and stream == "acc_watch" else _csv(start, times, values))
            files[stream] += 1
            total += path.stat().st_size
        for cam in range(1, NUM_CAMERAS + 1) if video else ():
            path = root / subject / f"cam{cam}" / take / f"{action_stem(label)}.mp4"
            path.parent.mkdir(parents=True, exist_ok=True)
            _write_video(path, joints, cam)
            files["video"] += 1
            total += path.stat().st_size
    return SynthSummary(root, len(takes), files, time.perf_counter() - start_time, total)
