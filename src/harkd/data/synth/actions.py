"""Action library: key-pose scripts for the body model, by action name.

Actions are built from a few parametrised families (arm strokes through a path,
swings with wind-up/strike/follow-through, cycles between two poses, there-and-back
poses); mirrored or time-reversed variants share one definition. Builders take a
random generator for the parts a person varies (number of repetitions). Arm paths
are in shoulder angles (``sh_plane`` = left/right, ``sh_elev`` = down/up).
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Callable

import numpy as np

from harkd.data.synth.motion import Key, repeat, rest, reverse, side

Builder = Callable[[np.random.Generator], list[Key]]


@dataclass(frozen=True)
class ActionDef:
    """A named action: its key builder and which foot stays put (1 right, 0 left)."""

    build: Builder
    anchor: float = 0.5


def _arm(s: str, plane: float, elev: float, **more: float) -> dict[str, float]:
    return side(s, sh_plane=plane, sh_elev=elev, **more)


def _path(points, seconds_per_metre: float, s: str = "r", **arm: float) -> list[Key]:
    """Raise the arm to the first (plane, elev) point, trace the points, lower the arm."""
    pts = np.asarray(points, dtype=float)
    keys: list[Key] = [(0.0, {}), (0.7, _arm(s, *pts[0], **arm))]
    for a, b in zip(pts[:-1], pts[1:]):
        # angular distance -> hand distance (~0.55 m arm) -> time
        keys.append((max(0.08, np.hypot(*np.radians(b - a)) * 0.55 * seconds_per_metre), _arm(s, *b)))
    return keys + [(0.7, rest(s))]


def _polyline(corners, per_edge: int = 4) -> np.ndarray:
    """Points along straight edges between corners (so strokes stay straight)."""
    c = np.asarray(corners, dtype=float)
    f = np.linspace(0, 1, per_edge, endpoint=False)[:, None]
    return np.vstack([a + f * (b - a) for a, b in zip(c[:-1], c[1:])] + [c[-1:]])


def swipe(to_left: bool) -> Builder:
    """Right arm raised to one side, swept horizontally across to the other."""
    ends = [(75.0, 80.0), (-45.0, 85.0)]
    ends = ends if to_left else ends[::-1]
    return lambda rng: [(0.0, {}), (0.6, _arm("r", *ends[0], sh_rot=0.0, elbow=15.0)),
                        (0.6, _arm("r", *ends[1])), (0.6, rest("r"))]


def circle(clockwise: bool) -> Builder:
    """Right hand draws 1-2 circles in front of the body (as seen by the subject)."""
    def build(rng):
        loops = int(rng.integers(1, 3))
        phi = np.linspace(0, 2 * np.pi * loops, 12 * loops + 1) * (1 if clockwise else -1)
        pts = np.c_[20 + 28 * np.sin(phi), 88 + 25 * np.cos(phi)]
        return _path(pts, 1.0, elbow=15.0, sh_rot=0.0)
    return build


def draw(corners) -> Builder:
    """Right hand draws straight strokes through ``corners`` (plane, elev)."""
    return lambda rng: _path(_polyline(corners), 0.8, elbow=15.0, sh_rot=0.0)


def cycle(start: dict, a: dict, b: dict, half: float, counts=(3, 6), end: dict | None = None) -> Builder:
    """Go to ``start``, alternate between poses ``a`` and ``b`` n times, then rest."""
    def build(rng):
        n = int(rng.integers(*counts))
        return [(0.0, {}), (0.6, start), *repeat([(half, a), (half, b)], n), (0.6, rest() if end is None else end)]
    return build


def script(*keys: Key) -> Builder:
    """A fixed sequence of keys, from neutral, ending back at neutral."""
    return lambda rng: [(0.0, {}), *keys, (0.7, rest())]


def _throw(twist: float = 20.0) -> list[Key]:
    windup = _arm("r", 70, 130, sh_rot=-70.0, elbow=100.0) | {"trunk_twist": -25.0}
    release = _arm("r", 10, 80, sh_rot=20.0, elbow=15.0) | {"trunk_twist": twist, "trunk_flex": 15.0}
    follow = _arm("r", -30, 30, elbow=30.0) | {"trunk_twist": twist + 5, "trunk_flex": 20.0}
    return [(0.8, windup), (0.35, release), (0.35, follow), (0.4, {"trunk_twist": 0.0, "trunk_flex": 0.0})]


def _legs(hip: float, knee: float, prefix: str = "rl") -> dict[str, float]:
    return side(prefix, hip_flex=hip, knee=knee)


_SEATED = _legs(90, 90) | _arm("rl", 10, 35, elbow=60.0) | {"trunk_flex": 5.0}


def _sit_to_stand(rng) -> list[Key]:
    return [(0.0, _SEATED), (0.6, {"trunk_flex": 40.0} | side("rl", hip_flex=95.0)),
            (0.6, _legs(40, 40) | {"trunk_flex": 25.0}), (0.7, rest())]


def _gait(hip: float, knee: float, arm: float, elbow: float, half: float, counts) -> Builder:
    """Jogging or walking in place: alternating leg lifts with opposite arm swing."""
    right_up = side("r", hip_flex=hip, knee=knee, sh_elev=-arm) | side("l", hip_flex=-5, knee=10, sh_elev=arm)
    left_up = side("l", hip_flex=hip, knee=knee, sh_elev=-arm) | side("r", hip_flex=-5, knee=10, sh_elev=arm)
    return cycle(side("rl", elbow=elbow, sh_plane=10.0), right_up, left_up, half, counts)


ACTIONS: dict[str, ActionDef] = {
    "right arm swipe to the left": ActionDef(swipe(to_left=True)),
    "right arm swipe to the right": ActionDef(swipe(to_left=False)),
    "right hand wave": ActionDef(cycle(_arm("r", 80, 85, sh_rot=0.0, elbow=90.0),
                                       side("r", elbow=55.0), side("r", elbow=115.0), 0.3)),
    "two hand front clap": ActionDef(cycle(_arm("rl", 45, 80, elbow=20.0),
                                           side("rl", sh_plane=-12.0), side("rl", sh_plane=40.0), 0.22)),
    "right arm throw": ActionDef(script(*_throw())),
    "cross arms in the chest": ActionDef(script(
        (0.8, _arm("r", -10, 50, sh_rot=80.0, elbow=110.0) | _arm("l", -10, 40, sh_rot=80.0, elbow=110.0)),
        (0.9, {}))),
    "basketball shoot": ActionDef(script(
        (0.7, _arm("rl", 15, 55, sh_rot=20.0, elbow=125.0) | _legs(25, 35)),
        (0.25, {}), (0.35, _arm("rl", 10, 155, elbow=10.0) | _legs(0, 3)), (0.3, {}))),
    "right hand draw x": ActionDef(draw([(-10, 115), (45, 60), (45, 115), (-10, 60)])),
    "right hand draw circle clockwise": ActionDef(circle(clockwise=True)),
    "right hand draw circle counter clockwise": ActionDef(circle(clockwise=False)),
    "draw triangle": ActionDef(draw([(20, 115), (50, 60), (-10, 60), (20, 115)])),
    "bowling right hand": ActionDef(script(
        (0.9, _arm("r", 5, -45, elbow=10.0) | side("l", hip_flex=35.0, knee=40.0)
         | side("r", knee=25.0) | {"trunk_flex": 25.0}),
        (0.45, _arm("r", 5, 70) | {"trunk_flex": 30.0}), (0.35, _arm("r", 0, 110, elbow=20.0) | {"trunk_flex": 10.0}),
        (0.3, {}), (0.5, side("rl", hip_flex=0.0, knee=3.0) | {"trunk_flex": 0.0}))),
    "front box": ActionDef(cycle(
        _arm("rl", 10, 45, sh_rot=30.0, elbow=125.0),
        _arm("r", -5, 85, elbow=5.0) | _arm("l", 10, 45, elbow=125.0) | {"trunk_twist": 15.0},
        _arm("l", -5, 85, elbow=5.0) | _arm("r", 10, 45, elbow=125.0) | {"trunk_twist": -15.0},
        0.3, counts=(2, 4))),
    "baseball swing from right": ActionDef(script(
        (0.9, _arm("r", 45, 50, sh_rot=-30.0, elbow=120.0) | _arm("l", -35, 60, sh_rot=50.0, elbow=100.0)
         | {"trunk_twist": -35.0}),
        (0.2, {}), (0.45, _arm("r", -40, 75, sh_rot=30.0, elbow=20.0) | _arm("l", 60, 75, elbow=15.0)
                    | {"trunk_twist": 45.0}),
        (0.3, _arm("r", -60, 110, elbow=70.0) | _arm("l", 80, 100, elbow=80.0) | {"trunk_twist": 60.0}),
        (0.6, {"trunk_twist": 0.0}))),
    "tennis right hand forehand swing": ActionDef(script(
        (0.8, _arm("r", 100, 50, sh_rot=-20.0, elbow=25.0) | {"trunk_twist": -40.0}),
        (0.4, _arm("r", -20, 75, elbow=35.0) | {"trunk_twist": 30.0}),
        (0.3, _arm("r", -50, 100, elbow=90.0) | {"trunk_twist": 40.0}), (0.6, {"trunk_twist": 0.0}))),
    "arm curl two arms": ActionDef(cycle(side("rl", sh_rot=0.0, elbow=10.0),
                                         side("rl", elbow=140.0), side("rl", elbow=15.0), 0.45, (3, 5))),
    "tennis serve": ActionDef(script(
        (0.9, _arm("l", 10, 150, elbow=5.0) | _arm("r", 70, 120, sh_rot=-80.0, elbow=120.0)
         | _legs(20, 25) | {"trunk_flex": -10.0}),
        (0.4, _arm("r", 20, 165, sh_rot=0.0, elbow=5.0) | _arm("l", 10, 40) | _legs(0, 3) | {"trunk_flex": 10.0}),
        (0.5, _arm("r", -30, 20, elbow=20.0) | _arm("l", 10, 20) | {"trunk_flex": 30.0}),
        (0.5, {"trunk_flex": 0.0}))),
    "two hand push": ActionDef(script(
        (0.6, _arm("rl", 10, 60, sh_rot=20.0, elbow=120.0)), (0.35, _arm("rl", 10, 85, elbow=5.0)),
        (0.3, {}), (0.5, _arm("rl", 10, 60, elbow=120.0)))),
    "right hand knock on door": ActionDef(cycle(_arm("r", 15, 70, sh_rot=10.0, elbow=100.0),
                                                side("r", elbow=75.0), side("r", elbow=100.0), 0.15, (3, 5))),
    "right hand catch an object": ActionDef(script(
        (0.35, _arm("r", 25, 115, elbow=10.0)), (0.2, {}),
        (0.5, _arm("r", 0, 35, sh_rot=60.0, elbow=120.0)), (0.3, {}))),
    "right hand pick up and throw": ActionDef(script(
        (1.0, _arm("r", 10, 40, elbow=10.0) | _legs(25, 30) | {"trunk_flex": 70.0}), (0.4, {}),
        (0.5, _legs(0, 3) | {"trunk_flex": 0.0}), *_throw())),
    "jogging in place": ActionDef(_gait(55, 80, 30, 90, 0.3, (4, 8))),
    "walking in place": ActionDef(_gait(35, 55, 15, 20, 0.5, (3, 6))),
    "sit to stand": ActionDef(_sit_to_stand),
    "stand to sit": ActionDef(lambda rng: reverse(_sit_to_stand(rng))),
    "forward lunge left foot forward": ActionDef(script(
        (0.9, side("l", hip_flex=60.0, knee=70.0) | side("r", hip_flex=-10.0, knee=50.0) | {"trunk_flex": 5.0}),
        (0.5, {}), (0.9, _legs(0, 3))), anchor=1.0),
    "squat two arms stretch out": ActionDef(script(
        (0.7, _arm("rl", 0, 90, elbow=5.0)), (0.9, _legs(95, 115) | {"trunk_flex": 35.0}),
        (0.3, {}), (0.9, _legs(0, 3) | {"trunk_flex": 0.0}))),
}
