"""Key-pose motions: poses at key times, interpolated smoothly, with human variation.

An action is written as a list of keys ``(dt, changes)``: ``dt`` seconds (at normal
speed) after the previous key, the body reaches the previous pose updated with
``changes`` (channel -> value). :func:`make_motion` turns keys into a :class:`Motion`,
a function of time, adding the per-subject and per-trial variation.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
from scipy.interpolate import PchipInterpolator

from harkd.data.synth.body import CH, CHANNELS, LINEAR

Key = tuple[float, dict[str, float]]

#: Relaxed standing: arms hang slightly out and forward with soft elbows.
NEUTRAL = {name: 0.0 for name in CHANNELS} | {
    f"{s}_{k}": v for s in "rl" for k, v in
    {"sh_plane": 20.0, "sh_elev": 8.0, "sh_rot": 10.0, "elbow": 12.0, "knee": 3.0}.items()
}
_UNIT = np.array([0.01 if name in LINEAR else 1.0 for name in CHANNELS])  # 1 deg ~ 1 cm


def side(prefix: str, **values: float) -> dict[str, float]:
    """Channel changes for one or both sides: ``side("rl", elbow=90)`` sets r_ and l_ elbow."""
    return {f"{s}_{k}": v for s in prefix for k, v in values.items()}


def rest(prefix: str | None = None) -> dict[str, float]:
    """Changes back to the neutral pose: all channels, or the limbs of ``prefix`` sides."""
    return {k: v for k, v in NEUTRAL.items() if prefix is None or k[:2] in {f"{s}_" for s in prefix}}


def resolve(keys: list[Key]) -> tuple[np.ndarray, np.ndarray]:
    """Key times (K,) from 0 and full poses (K, C) from cumulative changes."""
    state, poses = dict(NEUTRAL), []
    for _, changes in keys:
        unknown = set(changes) - set(CH)
        if unknown:
            raise KeyError(f"unknown pose channels {sorted(unknown)}")
        state.update(changes)
        poses.append([state[c] for c in CHANNELS])
    times = np.cumsum([0.0] + [dt for dt, _ in keys[1:]])
    return times, np.array(poses)


def reverse(keys: list[Key]) -> list[Key]:
    """The same keys played backwards in time (e.g. stand-to-sit from sit-to-stand)."""
    _, poses = resolve(keys)
    dts = [0.0] + [dt for dt, _ in keys[1:]][::-1]
    return [(dt, dict(zip(CHANNELS, pose))) for dt, pose in zip(dts, poses[::-1])]


def repeat(cycle: list[Key], n: int) -> list[Key]:
    """``cycle`` keys repeated ``n`` times."""
    return [key for _ in range(n) for key in cycle]


@dataclass(frozen=True)
class Style:
    """How one subject moves: neutral-pose offsets and speed/amplitude habits."""

    offsets: np.ndarray  # (C,) added to every pose
    speed: float
    amplitude: float

    @classmethod
    def random(cls, rng: np.random.Generator) -> "Style":
        return cls(rng.normal(0.0, 3.0, len(CHANNELS)) * _UNIT, rng.uniform(0.9, 1.1), rng.uniform(0.9, 1.1))


@dataclass(frozen=True)
class Motion:
    """Pose channels as a smooth function of time (seconds from the clip's start).

    Poses are interpolated shape-preservingly (no overshoot, still at the first and
    last key) and smoothed with a Gaussian of ``smooth`` seconds, as muscles would,
    so accelerations have no steps.
    """

    times: np.ndarray     # (K,) key times
    poses: np.ndarray     # (K, C)
    wobble: np.ndarray    # (3, C, 3) sinusoid amplitude, frequency (Hz), phase per channel
    duration: float       # clip length (idle + motion + idle)
    smooth: float = 0.06

    def __call__(self, t: np.ndarray) -> np.ndarray:
        t = np.asarray(t, dtype=float)
        # hold keys before and after make the interpolant's end slopes zero
        times = np.concatenate([[self.times[0] - 1.0], self.times, [self.times[-1] + 1.0]])
        spline = PchipInterpolator(times, np.vstack([self.poses[:1], self.poses, self.poses[-1:]]), axis=0)
        offsets = np.linspace(-2.5, 2.5, 21)
        weights = np.exp(-0.5 * offsets**2)
        tt = np.clip(t[:, None] + self.smooth * offsets, times[0], times[-1])
        pose = np.einsum("nkc,k->nc", spline(tt), weights / weights.sum())
        amp, freq, phase = self.wobble
        return pose + np.sum(amp * np.sin(2 * np.pi * freq * t[:, None, None] + phase), axis=-1)


def make_motion(keys: list[Key], rng: np.random.Generator, style: Style | None = None,
                habit: np.random.Generator | None = None, *, speed_range=(0.8, 1.25),
                amplitude_range=(0.85, 1.15), idle_range=(0.25, 0.9), duration_range=(2.14, 6.5)) -> Motion:
    """A :class:`Motion` from keys with per-trial variation.

    ``habit`` (a generator seeded per subject and action) gives how this subject does
    this action: per-channel amplitude 0.75-1.25 and ~6 degree offsets of the moving
    poses. Per trial, speed and amplitude are drawn per channel, interior key poses
    move by ~4 degrees (both only in the channels the action moves), key times jitter by +-15 %, the clip has idle time before and
    after, and slow sinusoidal wobble (~1 degree) keeps repeated poses from being
    identical. Clips longer than ``duration_range`` are sped up, shorter ones get
    more idle time.
    """
    style = style or Style(np.zeros(len(CHANNELS)), 1.0, 1.0)
    times, poses = resolve(keys)
    n_keys, n_ch = poses.shape
    neutral = np.array([NEUTRAL[c] for c in CHANNELS])
    amp = style.amplitude * rng.uniform(*amplitude_range) * rng.uniform(0.93, 1.07, n_ch)
    offset = np.zeros(n_ch)
    if habit is not None:
        amp = amp * habit.uniform(0.75, 1.25, n_ch)
        offset = habit.normal(0.0, 6.0, n_ch) * _UNIT
    # offsets and jitter only touch the channels the action moves, at keys other than its start and end
    used = np.ptp(poses, axis=0) > 0
    moving = (np.any(poses != poses[:1], axis=1) & np.any(poses != poses[-1:], axis=1))[:, None] & used
    jitter = rng.normal(0.0, 4.0, poses.shape) * _UNIT
    poses = neutral + style.offsets + amp * (poses - neutral) + (offset + jitter) * moving
    dts = np.diff(times) * rng.uniform(0.85, 1.15, len(times) - 1) / (style.speed * rng.uniform(*speed_range))
    idle = rng.uniform(*idle_range, 2)
    lo, hi = duration_range
    total = dts.sum() + idle.sum()
    if total > hi:  # too long: speed everything up
        dts, idle = dts * hi / total, idle * hi / total
    elif total < lo:  # too short: wait longer
        idle *= (lo - dts.sum()) / idle.sum()
    times = idle[0] + np.concatenate([[0.0], np.cumsum(dts)])
    wobble = np.stack([
        rng.uniform(0.5, 1.5, (len(CHANNELS), 3)) * _UNIT[:, None] * 0.5,
        rng.uniform(0.1, 0.6, (len(CHANNELS), 3)),
        rng.uniform(0, 2 * np.pi, (len(CHANNELS), 3)),
    ])
    return Motion(times, poses, wobble, float(times[-1] + idle[1]))
