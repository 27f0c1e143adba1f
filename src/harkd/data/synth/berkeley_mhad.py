"""Synthetic Berkeley-MHAD: the real release's layout, file formats, clocks and units.

One simulated body (the 20-joint body of :mod:`.body`, mapped to Berkeley's 16 joints)
performs each action; the six accelerometers, the camera time stamps, the D-Mocap
skeleton and the optical mocap all come from that motion on one shared unix clock.
"""

from __future__ import annotations

import time
from collections.abc import Iterable, Mapping
from pathlib import Path

import numpy as np
from scipy.io import savemat

from harkd.data.berkeley_mhad import (ACCELEROMETERS, CLASS_NAMES, JOINT_NAMES, MISSING, MISSING_ACCELEROMETERS,
                                      RELEASE_GAPS, key_of)
from harkd.data.synth.actions import ACTIONS
from harkd.data.synth.body import J, Body, forward_kinematics
from harkd.data.synth.motion import Style, make_motion
from harkd.data.synth.sensors import Mount, simulate_imu
from harkd.data.synth.utd_mhad import SynthSummary, _ids
from harkd.errors import InputError

#: The synthetic body's action used for each Berkeley-MHAD class (closest scripted motion).
MOTIONS = (
    "jogging in place",                 # jumping in place
    "squat two arms stretch out",       # jumping jacks
    "bowling right hand",               # bending
    "front box",                        # punching
    "arm curl two arms",                # waving two hands
    "right hand wave",                  # waving one hand
    "two hand front clap",              # clapping hands
    "right arm throw",                  # throwing a ball
    "forward lunge left foot forward",  # sit down then stand up
    "stand to sit",                     # sit down
    "sit to stand",                     # stand up
)
#: Shimmer0H placement (measured on the real data: H = 2 moves alone in "waving one hand").
MOUNTS = {
    1: Mount("left_forearm", "left_elbow", "left_wrist", along=0.9, offset=(0.0, 0.0, 0.03)),
    2: Mount("right_forearm", "right_elbow", "right_wrist", along=0.9, offset=(0.0, 0.0, 0.03)),
    3: Mount("left_thigh", "left_hip", "left_knee", along=0.1, offset=(0.0, 0.0, -0.07)),
    4: Mount("right_thigh", "right_hip", "right_knee", along=0.1, offset=(0.0, 0.0, -0.07)),
    5: Mount("left_shank", "left_knee", "left_ankle", along=0.9, offset=(0.0, 0.0, -0.04)),
    6: Mount("right_shank", "right_knee", "right_ankle", along=0.9, offset=(0.0, 0.0, -0.04)),
}
#: Berkeley joint i is the synthetic body's joint TO_BODY[i].
TO_BODY = tuple(J["shoulder_center"] if name == "neck" else J[name] for name in JOINT_NAMES)
STREAMS = (*(f"acc{h}" for h in ACCELEROMETERS), "timestamps", "skeleton", "mocap")
ACC_RATE = 38.0            # nominal Shimmer rate (real median interval ~0.026 s)
CAMERA_DT = 3.0 / 64.0     # ~21.3 fps, the real cameras' usual frame interval
SKELETON_RATE = 30.0       # D-Mocap frames over the camera span
ACC_RANGE = 2.0            # g; the real Shimmers saturate at +-2 g
CLOCK_START = 1309539264.0  # unix time of the real subject 1's first recording
_FAST = 200.0              # Hz of the dense IMU simulation


def _keys(value, name: str) -> set[tuple[tuple[int, int, int], str]]:
    """{((subject, action, repetition), stream)} from pairs like (("s01_a02_r03" | (1, 2, 3)), "acc3")."""
    out = set()
    for item in value:
        try:
            key, stream = item
            if isinstance(key, str):
                key = tuple(int(key.split("_")[i][1:]) for i in range(3))
            key = tuple(int(v) for v in key)
            ok = len(key) == 3 and stream in STREAMS
        except (TypeError, ValueError, IndexError):
            ok = False
        if not ok:
            raise InputError(f"{name}: expected (key, stream) pairs like ('s01_a02_r03', 'acc3') with stream one of "
                             f"{', '.join(STREAMS)}, got {item!r}")
        out.add((key, stream))
    return out


def _acc_times(rng: np.random.Generator, start: float, end: float, uneven: bool) -> np.ndarray:
    """Sample times in [start, end]: regular at ACC_RATE, or jittered with near-duplicates and gaps."""
    n = int((end - start) * ACC_RATE * 2) + 8
    if uneven:
        kind = rng.random(n)
        dt = np.where(kind < 0.85, rng.normal(0.026, 0.003, n),
                      np.where(kind < 0.93, rng.uniform(5e-6, 1e-3, n), rng.uniform(0.04, 0.09, n)))
        dt = np.maximum(dt, 5e-6)
    else:
        dt = np.full(n, 1.0 / ACC_RATE)
    t = start + np.concatenate([[0.0], np.cumsum(dt)])
    return t[t <= end]


def with_gap(times: np.ndarray, gap: float, row: int) -> np.ndarray:
    """``times`` without samples for ``gap`` seconds before data row ``row`` (1-based; moved to a
    third of the stream when the stream is shorter), so that row follows the previous one by ``gap``."""
    i = max(1, min(row - 1, len(times) // 3))
    after = times[i:][times[i:] >= times[i - 1] + gap]
    if len(after) < 2:
        raise InputError(f"a gap of {gap:g} s does not fit in a {np.ptp(times):.2f} s stream")
    after[0] = times[i - 1] + gap
    return np.concatenate([times[:i], after])


def berkeley_recording(subject: int, action: int, repetition: int, *, seed: int = 0,
                       uneven: bool = False, gaps: Mapping[int, tuple[float, int]] | None = None
                       ) -> dict[str, np.ndarray]:
    """Arrays of one synthetic recording by stream: ``acc1``..``acc6`` (N, 4) ``x y z unix_time``,
    ``timestamps`` (M, 2) ``frame unix_time``, ``skeleton`` and ``mocap`` (T, 16, 3) millimetres.

    ``gaps`` maps an accelerometer id to (seconds, row): its stream has no sample for that
    long before that data row (:func:`with_gap`). Depends only on (seed, subject, action,
    repetition) and ``gaps``.
    """
    body_rng = np.random.default_rng([seed, 10, subject])
    body, style = Body.random(body_rng), Style.random(body_rng)
    rngs = np.random.SeedSequence([seed, 12, subject, action, repetition]).spawn(4)
    motion_rng, clock_rng, acc_rng, skel_rng = (np.random.default_rng(s) for s in rngs)
    spec = ACTIONS[MOTIONS[action - 1]]
    motion = make_motion(spec.build(motion_rng), motion_rng, style, np.random.default_rng([seed, 11, subject, action]))

    t0 = CLOCK_START + 60.0 * ((subject - 1) * 55 + (action - 1) * 5 + (repetition - 1))
    frame_dt = CAMERA_DT if clock_rng.random() < 0.9 else 0.0625
    n_cam = int(motion.duration / frame_dt) + 1
    cam = np.arange(n_cam) * frame_dt + clock_rng.normal(0, 0.0005, n_cam)
    cam[0] = 0.0
    cam = np.maximum.accumulate(cam + np.arange(n_cam) * 1e-6)
    out = {"timestamps": np.column_stack([np.arange(n_cam), t0 + cam])}

    n_skel = int(round(cam[-1] * SKELETON_RATE)) + 1
    joints = forward_kinematics(body, motion(np.linspace(0.0, cam[-1], n_skel)), spec.anchor).joints[:, TO_BODY]
    # body frame (x subject's right, y up, z backwards) -> D-Mocap (x forward, y left, z up, pelvis at x=y=0)
    dm = np.stack([-joints[..., 2], -joints[..., 0], joints[..., 1]], axis=-1) * 1000.0
    dm[..., :2] -= dm[:, :1, :2]
    out["skeleton"] = dm + skel_rng.normal(0, 8.0, dm.shape)
    # mocap: x towards the subject's left, y up, z forward, offset origin; frame-aligned with D-Mocap
    mocap = np.stack([-joints[..., 0], joints[..., 1], -joints[..., 2]], axis=-1) * 1000.0 + [560.0, 0.0, 0.0]
    out["mocap"] = mocap + skel_rng.normal(0, 0.5, mocap.shape)

    t_fast = np.arange(-0.3, cam[-1] + 0.3, 1.0 / _FAST)
    kin = forward_kinematics(body, motion(t_fast), spec.anchor)
    for h in ACCELEROMETERS:
        pos, rot = MOUNTS[h].trajectory(kin, tilt=acc_rng.normal(0, 10, 3))
        acc = simulate_imu(pos, rot, _FAST)[:, :3]
        times = _acc_times(acc_rng, acc_rng.uniform(-0.14, 0.05), cam[-1] + acc_rng.uniform(-0.09, 0.16), uneven)
        if gaps and h in gaps:
            times = with_gap(times, *gaps[h])
        values = np.stack([np.interp(times, t_fast, acc[:, c]) for c in range(3)], axis=1)
        values = np.clip(values + acc_rng.normal(0, 0.01, values.shape), -ACC_RANGE, ACC_RANGE)
        out[f"acc{h}"] = np.column_stack([values, t0 + times])
    return out


def _write_table(path: Path, rows: np.ndarray, formats: str) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    np.savetxt(path, rows, fmt=formats.split(), delimiter=" ")


#: The extra camera captures of each subject in the release's ``Time_stamps/`` (not recordings).
EXTRA_CAPTURES = ("b01", "b02", "t-pose")


def _write_extra_captures(root: Path, subject: int, seed: int) -> int:
    """The background / T-pose camera time stamps of ``subject`` in the release's own format
    (rows ``frame seconds microseconds``); returns the bytes written."""
    total = 0
    for n, capture in enumerate(EXTRA_CAPTURES):
        rng = np.random.default_rng([seed, 13, subject, n])
        t = CLOCK_START - 300.0 + 60.0 * ((subject - 1) * 55 + n) + np.arange(rng.integers(100, 112)) * CAMERA_DT
        path = root / "Time_stamps" / f"time_stamps_img_s{subject:02d}_{capture}.txt"
        _write_table(path, np.column_stack([np.arange(len(t)), np.floor(t), np.round(t % 1 * 1e6)]), "%d %d %d")
        total += path.stat().st_size
    return total


def write_berkeley_mhad(root: str | Path, *, subjects: int | Iterable[int] = 12,
                        actions: Iterable[int] | None = None, repetitions: int | Iterable[int] = 5,
                        seed: int = 0, uneven: bool = False, missing_streams: Iterable = (),
                        no_overlap: Iterable = (), like_release: bool = False) -> SynthSummary:
    """Write a synthetic dataset in Berkeley-MHAD's layout under ``root``.

    Files: ``Accelerometer/Shimmer0H/acc_h0H_sSS_aAA_rRR.txt`` (rows ``x y z unix_time``,
    g, +-2 g, ~38 Hz; ``uneven=True`` jitters the intervals with near-duplicate stamps
    and gaps like the real Shimmers), ``Time_stamps/time_stamps_img_sSS_aAA_rRR.txt``,
    ``Front-Facing/D-Mocap/K1_kinect_SSS_AAA_RRR.mat`` (``frontKinect``) and
    ``Front-Facing/Mocap/K1_mocap_SSS_AAA_RRR.mat`` (variable named like the file).

    ``subjects`` (1-12) and ``repetitions`` (1-5) are a count N (ids 1..N) or ids,
    ``actions`` ids 1-11 (default all). ``missing_streams`` lists (key, stream) pairs to
    leave out (stream: ``acc1``..``acc6``, ``timestamps``, ``skeleton``, ``mocap``);
    ``no_overlap`` lists (key, ``accH``) pairs whose accelerometer clock is shifted by an
    hour so it no longer overlaps the others. ``like_release`` reproduces the real release's
    faults (of the subjects/actions written): s04_a08_r05 is left out
    (:data:`~harkd.data.berkeley_mhad.MISSING`), s02_a07_r05 has no accelerometer files
    (:data:`~harkd.data.berkeley_mhad.MISSING_ACCELEROMETERS`), the eleven files of
    :data:`~harkd.data.berkeley_mhad.RELEASE_GAPS` have their gap (1.02-1.19 s), and
    ``Time_stamps/`` holds each subject's extra ``_b01``/``_b02``/``_t-pose`` captures.
    """
    subject_ids, rep_ids = _ids(subjects, "subjects", 12), _ids(repetitions, "repetitions", 5)
    action_ids = _ids(len(CLASS_NAMES) if actions is None else actions, "actions", len(CLASS_NAMES))
    if isinstance(seed, bool) or not isinstance(seed, (int, np.integer)) or seed < 0:
        raise InputError(f"seed must be a non-negative integer, got {seed!r}")
    drop, shift = _keys(missing_streams, "missing_streams"), _keys(no_overlap, "no_overlap")
    start = time.perf_counter()
    root = Path(root)
    files = dict.fromkeys(STREAMS, 0)
    recordings = total = 0
    if like_release:
        drop |= {(k, f"acc{h}") for k in MISSING_ACCELEROMETERS for h in ACCELEROMETERS}
    for s in subject_ids:
        if like_release:
            total += _write_extra_captures(root, s, int(seed))
        for a in action_ids:
            for r in rep_ids:
                if like_release and (s, a, r) in MISSING:
                    continue
                gaps = {h: gap for (h, *k), gap in RELEASE_GAPS.items() if tuple(k) == (s, a, r)} if like_release else None
                arrays = berkeley_recording(s, a, r, seed=int(seed), uneven=uneven, gaps=gaps)
                key, mat_key = key_of(s, a, r), f"S{s:02d}_A{a:02d}_R{r:02d}"
                for stream, x in arrays.items():
                    if ((s, a, r), stream) in drop:
                        continue
                    if stream.startswith("acc"):
                        h = int(stream[3:])
                        if ((s, a, r), stream) in shift:
                            x = x + [0.0, 0.0, 0.0, 3600.0]
                        path = root / "Accelerometer" / f"Shimmer{h:02d}" / f"acc_h{h:02d}_{key}.txt"
                        _write_table(path, x, "%.6f %.6f %.6f %.6f")
                    elif stream == "timestamps":
                        path = root / "Time_stamps" / f"time_stamps_img_{key}.txt"
                        _write_table(path, x, "%d %.6f")
                    else:
                        kind = "kinect" if stream == "skeleton" else "mocap"
                        folder = "D-Mocap" if kind == "kinect" else "Mocap"
                        path = root / "Front-Facing" / folder / f"K1_{kind}_{mat_key}.mat"
                        path.parent.mkdir(parents=True, exist_ok=True)
                        savemat(path, {"frontKinect" if kind == "kinect" else path.stem: x})
                    files[stream] += 1
                    total += path.stat().st_size
                recordings += 1
    return SynthSummary(root, recordings, files, time.perf_counter() - start, total)
