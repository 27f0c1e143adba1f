"""UTD-MHAD: 27 actions x 8 subjects x 4 trials, inertial / skeleton / depth / RGB.

Arrays are returned time first:

- inertial ``d_iner`` (T, 6) -> (T, C) float32: columns 0-2 acceleration (g),
  3-5 angular velocity (deg/s); ``sensor="acc"|"gyro"|"all"`` selects columns.
- skeleton ``d_skel`` (20, 3, T) -> (T, 20, 3) float32, metres; joint order as in
  ``Skeleton_joint_order.txt`` (0-based 3 = hip_center).
- depth ``d_depth`` (240, 320, T) uint16 -> (T, 240, 320) uint16, millimetres
  (any H x W is accepted, e.g. smaller synthetic data).
- RGB ``*_color.avi`` -> (T, H, W, 3) uint8 (needs the ``video`` extra).

The four modalities run at different rates; pair them by key only and align
them by normalised time over the clip.
"""

from __future__ import annotations

import re
from pathlib import Path

import numpy as np

from harkd.errors import ConfigError, unknown_key_message, warn
from harkd.data.readers import MatVar, read_mat
from harkd.data.recording import Recording
from harkd.data.registry import DatasetSpec, ModalitySpec, register_dataset
from harkd.data.virtual import SensorSite
from harkd.data.video import read_video

#: Class names in the dataset definition's order (label = action id - 1).
CLASS_NAMES = (
    "right arm swipe to the left",
    "right arm swipe to the right",
    "right hand wave",
    "two hand front clap",
    "right arm throw",
    "cross arms in the chest",
    "basketball shoot",
    "right hand draw x",
    "right hand draw circle clockwise",
    "right hand draw circle counter clockwise",
    "draw triangle",
    "bowling right hand",
    "front box",
    "baseball swing from right",
    "tennis right hand forehand swing",
    "arm curl two arms",
    "tennis serve",
    "two hand push",
    "right hand knock on door",
    "right hand catch an object",
    "right hand pick up and throw",
    "jogging in place",
    "walking in place",
    "sit to stand",
    "stand to sit",
    "forward lunge left foot forward",
    "squat two arms stretch out",
)

JOINT_NAMES = (
    "head", "shoulder_center", "spine", "hip_center",
    "left_shoulder", "left_elbow", "left_wrist", "left_hand",
    "right_shoulder", "right_elbow", "right_wrist", "right_hand",
    "left_hip", "left_knee", "left_ankle", "left_foot",
    "right_hip", "right_knee", "right_ankle", "right_foot",
)
HIP_CENTER = JOINT_NAMES.index("hip_center")

NUM_ACTIONS, NUM_SUBJECTS, NUM_TRIALS = 27, 8, 4
SENSORS = {"acc": slice(0, 3), "gyro": slice(3, 6), "all": slice(0, 6)}

INERTIAL = MatVar("d_iner", (None, 6), time_axis=0, dtype_kind="f", out_dtype="float32")
SKELETON = MatVar("d_skel", (20, 3, None), time_axis=2, dtype_kind="f", out_dtype="float32")
DEPTH = MatVar("d_depth", (None, None, None), time_axis=2, dtype_kind="uint16", out_dtype="uint16")


def select_sensor(x: np.ndarray, sensor: str) -> np.ndarray:
    """Columns of a (T, 6) inertial array: ``"acc"`` (0-2), ``"gyro"`` (3-5) or ``"all"``."""
    if sensor not in SENSORS:
        raise ConfigError(unknown_key_message("sensor", str(sensor), SENSORS))
    return x[:, SENSORS[sensor]]


def read_inertial(path: str | Path, sensor: str = "all") -> np.ndarray:
    """(T, 6|3) float32 inertial clip."""
    if sensor not in SENSORS:
        raise ConfigError(unknown_key_message("sensor", str(sensor), SENSORS))
    return np.ascontiguousarray(select_sensor(read_mat(path, INERTIAL), sensor))


def read_skeleton(path: str | Path) -> np.ndarray:
    """(T, 20, 3) float32 skeleton clip (time first)."""
    return read_mat(path, SKELETON)


def read_depth(path: str | Path) -> np.ndarray:
    """(T, H, W) uint16 depth clip in millimetres (time first; 240 x 320 in the release).

    An all-zero clip (no depth measured in any frame) is used as it is and reported.
    """
    depth = read_mat(path, DEPTH)
    if not depth.any():
        warn(f"{path}: depth clip is all zeros ({len(depth)} frames without any depth value); used as it is")
    return depth


def _modality(name: str, folder: str, suffix: str, reader, layout: str, options=(), cheap=True,
              **facts) -> ModalitySpec:
    pattern = re.compile(r"a(?P<action>\d+)_s(?P<subject>\d+)_t(?P<trial>\d+)" + re.escape(suffix))
    return ModalitySpec(name, folder, pattern, f"a{{A}}_s{{S}}_t{{T}}{suffix}", f"{{key}}{suffix}",
                        reader, layout, tuple(options), cheap, **facts)


#: The inertial unit's columns: acceleration (g), then angular velocity (deg/s).
INERTIAL_CHANNELS = (*((f"acc_{a}", "g") for a in "xyz"), *((f"gyro_{a}", "deg/s") for a in "xyz"))


def _joint(name: str) -> int:
    return JOINT_NAMES.index(name)


#: Where the inertial unit is worn (the dataset's documentation): the right wrist, at the end of the forearm
#: (elbow -> wrist, its plane with the upper arm), for actions 1-21; the right thigh, halfway from hip to knee
#: (its plane with the hips), for actions 22-27.
WRIST = SensorSite(_joint("right_elbow"), _joint("right_wrist"), (_joint("right_elbow"), _joint("right_shoulder")))
THIGH = SensorSite(_joint("right_hip"), _joint("right_knee"), (_joint("right_hip"), _joint("left_hip")), at=0.5)
FIRST_THIGH_ACTION = 22

#: Hz, the inertial unit's recording rate (skeleton and depth have none: nominally 30 Hz, ~19 Hz by frame counts)
INERTIAL_RATE = 50.0


class UTDMHAD(DatasetSpec):
    """UTD-MHAD (Chen et al., ICIP 2015); key (action, subject, trial), label action - 1."""

    name = "utd-mhad"
    folder = "UTD-MHAD"
    glove_prefix = "UTD"
    class_names = CLASS_NAMES
    key_fields = ("action", "subject", "trial")
    modality_specs = (
        _modality("inertial", "Inertial", "_inertial.mat", read_inertial, "(T, 6) float32 [acc g, gyro deg/s]", ("sensor",),
                  rate=INERTIAL_RATE, channels=INERTIAL_CHANNELS),
        _modality("skeleton", "Skeleton", "_skeleton.mat", read_skeleton, "(T, 20, 3) float32 metres"),
        _modality("depth", "Depth", "_depth.mat", read_depth, "(T, 240, 320) uint16 millimetres", cheap=False),
        _modality("rgb", "RGB", "_color.avi", read_video, "(T, H, W, 3) uint8", cheap=False),
    )
    #: name -> predicate, True for the training side.
    protocols = {
        "cross_subject": lambda r: r.subject in (1, 3, 5, 7),
        "subject_specific": lambda r: r.trial in (1, 2),
    }
    subject_protocols = ("cross_subject",)
    val_subject_count = 1
    skeleton_up = (0.0, 1.0, 0.0)  # Kinect camera coordinates: y points up

    def sensor_site(self, recording: Recording, modality: str) -> SensorSite | None:
        if modality != "inertial":
            return None
        return THIGH if recording.label + 1 >= FIRST_THIGH_ACTION else WRIST

    def make_recording(self, fields: dict[str, int], files: dict[str, Path]) -> Recording:
        a, s, t = fields["action"], fields["subject"], fields["trial"]
        for what, value, top in (("action", a, NUM_ACTIONS), ("subject", s, NUM_SUBJECTS), ("trial", t, NUM_TRIALS)):
            if not 1 <= value <= top:
                raise ValueError(f"{what} {value} outside 1..{top}")
        return Recording(key=f"a{a}_s{s}_t{t}", label=a - 1, subject=s, trial=t,
                         attrs={"action": a, "subject": s, "trial": t}, files=dict(files))

    def expected_keys(self) -> list[str]:
        return [f"a{a}_s{s}_t{t}" for a in range(1, NUM_ACTIONS + 1)
                for s in range(1, NUM_SUBJECTS + 1) for t in range(1, NUM_TRIALS + 1)]


UTD_MHAD = register_dataset(UTDMHAD())
