"""Body keypoints from pose estimators: MediaPipe Pose (33), OpenPose BODY_25 and COCO-17.

Each :class:`KeypointLayout` names its joints in the estimator's order, the graph layout the
skeleton models use (``harkd.models.graph``: ``mediapipe_pose33``, ``openpose_body25``,
``coco17``, each connected) and its default centre joint (MediaPipe and COCO: the left hip,
23 and 11; OpenPose: the mid hip, 8). Readers return (T, J, 3) float32 (``dims=2``: (T, J, 2));
2-D keypoints get z = 0 so the skeleton transform and ST-GCN's three input channels apply.

CSV (:func:`read_keypoints_csv`), one header row and either

- *wide*: one row per frame, a column per joint and axis, named ``<joint>_<axis>``,
  ``<axis><index>`` or ``<axis>_<index>`` (joint: its index or name, e.g. ``left_wrist`` or
  OpenPose's ``LWrist``; axis ``x``, ``y``, ``z`` and a confidence ``visibility``, ``presence``,
  ``confidence``, ``score``, ``c`` or ``v``); or
- *long*: one row per joint and frame, columns ``frame`` (or a time), ``landmark`` (or ``joint``,
  ``keypoint``, ``id``, ``name``), ``x``, ``y`` (``z``, a confidence);

with an optional time column (resampled on its time stamps onto ``rate`` Hz like the inertial
CSVs) or ``frame`` column (frame numbers at ``rate`` fps; skipped frames are interpolated).

JSON (:func:`read_keypoints_json`): a folder of one JSON file per frame (OpenPose's
``*_000000000012_keypoints.json``, ordered by the last number in the name) or one file holding a
list of frames (or ``{"frames": [...]}``). A frame is OpenPose's ``{"people": [{"pose_keypoints_2d":
[x, y, c, ...]}]}`` (``pose_keypoints_3d`` with ``dims=3`` when present), ``{"landmarks": [{"x": ..,
"y": .., "z": .., "visibility": ..}, ...]}`` (MediaPipe), ``{"keypoints": [...]}`` (COCO), or such a
list itself; the first person is used.

A keypoint is missing when its value is empty or NaN or its confidence is at most
``min_confidence`` (default 0: OpenPose's and COCO's "not detected"). Missing keypoints and
frames without a person are linearly interpolated over time from that joint's other frames
(reported with a :class:`~harkd.errors.DataWarning`); a joint never detected is placed at the
centre joint. No person in fewer than 2 frames is a DataError.
"""

from __future__ import annotations

import json
import math
import re
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from harkd.errors import ConfigError, DataError, unknown_key_message, warn
from harkd.data.formats import TextTable, TIME_NAMES, _unit_hint, parse_times, read_text_table, seconds_of
from harkd.data.readers import read_file
from harkd.data.timeseries import DEFAULT_MAX_GAP, DEFAULT_RATE_TOLERANCE, resample_stream

__all__ = ["KeypointLayout", "KEYPOINT_LAYOUTS", "MEDIAPIPE_POSE", "OPENPOSE_BODY25", "COCO17",
           "keypoint_layout", "read_keypoints_csv", "read_keypoints_json"]

MEDIAPIPE_POSE = (
    "nose", "left_eye_inner", "left_eye", "left_eye_outer", "right_eye_inner", "right_eye", "right_eye_outer",
    "left_ear", "right_ear", "mouth_left", "mouth_right", "left_shoulder", "right_shoulder", "left_elbow",
    "right_elbow", "left_wrist", "right_wrist", "left_pinky", "right_pinky", "left_index", "right_index",
    "left_thumb", "right_thumb", "left_hip", "right_hip", "left_knee", "right_knee", "left_ankle", "right_ankle",
    "left_heel", "right_heel", "left_foot_index", "right_foot_index",
)
OPENPOSE_BODY25 = (
    "nose", "neck", "right_shoulder", "right_elbow", "right_wrist", "left_shoulder", "left_elbow", "left_wrist",
    "mid_hip", "right_hip", "right_knee", "right_ankle", "left_hip", "left_knee", "left_ankle", "right_eye",
    "left_eye", "right_ear", "left_ear", "left_big_toe", "left_small_toe", "left_heel", "right_big_toe",
    "right_small_toe", "right_heel",
)
COCO17 = (
    "nose", "left_eye", "right_eye", "left_ear", "right_ear", "left_shoulder", "right_shoulder", "left_elbow",
    "right_elbow", "left_wrist", "right_wrist", "left_hip", "right_hip", "left_knee", "right_knee", "left_ankle",
    "right_ankle",
)


@dataclass(frozen=True)
class KeypointLayout:
    """An estimator's joints in its order, its graph layout name and default centre joint.
    ``triples``: what a flat list of 3 numbers per joint holds, ``xyc`` (OpenPose, COCO) or ``xyz``."""

    name: str
    joints: tuple[str, ...]
    graph: str
    center: int
    triples: str = "xyc"

    @property
    def num_joints(self) -> int:
        return len(self.joints)

    def joint_index(self, token: str) -> int | None:
        """A joint by 0-based index or name (``left_wrist``, ``LWrist``, ``l_wrist``); None if unknown."""
        if token.isdigit():
            i = int(token)
            return i if i < self.num_joints else None
        return _joint_keys(self).get(token.lower().replace("_", "").replace(" ", ""))


def _joint_keys(layout: KeypointLayout) -> dict[str, int]:
    keys = {}
    for i, name in enumerate(layout.joints):
        flat = name.replace("_", "")
        keys[flat] = i
        for side, short in (("left", "l"), ("right", "r")):
            if flat.startswith(side):
                keys[short + flat[len(side):]] = i
    keys.setdefault("midhip", layout.joints.index("mid_hip") if "mid_hip" in layout.joints else -1)
    return {k: v for k, v in keys.items() if v >= 0}


KEYPOINT_LAYOUTS = {
    "mediapipe": KeypointLayout("mediapipe", MEDIAPIPE_POSE, "mediapipe_pose33", MEDIAPIPE_POSE.index("left_hip"),
                                triples="xyz"),
    "openpose": KeypointLayout("openpose", OPENPOSE_BODY25, "openpose_body25", OPENPOSE_BODY25.index("mid_hip")),
    "coco17": KeypointLayout("coco17", COCO17, "coco17", COCO17.index("left_hip")),
}


def keypoint_layout(name: str) -> KeypointLayout:
    try:
        return KEYPOINT_LAYOUTS[name]
    except KeyError:
        raise ConfigError(unknown_key_message("keypoint layout", str(name), KEYPOINT_LAYOUTS)) from None


# -- missing keypoints ------------------------------------------------------------------
def fill_missing(path: Path, points: np.ndarray, layout: KeypointLayout) -> np.ndarray:
    """(T, J, D) with NaN where a keypoint is missing -> the same, interpolated (see the module rules)."""
    present = ~np.isnan(points).any(axis=2)
    people = present.any(axis=1)
    if people.sum() < 2:
        raise DataError(path, f"a person in only {int(people.sum())} of {len(points)} frames (need at least 2)")
    never = [j for j in range(points.shape[1]) if not present[:, j].any()]
    seen_joints = present.any(axis=0)
    missing = int((~present[people][:, seen_joints]).sum())  # of joints detected in some frame
    if people.all() and not missing and not never:
        return points
    frames = np.arange(len(points))
    for j in range(points.shape[1]):
        if present[:, j].any() and not present[:, j].all():
            seen = present[:, j]
            for d in range(points.shape[2]):
                points[~seen, j, d] = np.interp(frames[~seen], frames[seen], points[seen, j, d])
    if never:
        anchor = points[:, layout.center] if layout.center not in never else np.nanmean(points, axis=1)
        points[:, never] = anchor[:, None]
    without = int((~people).sum())
    parts = [f"{without} of {len(points)} frames without a person"] if without else []
    if missing:
        parts.append(f"{missing} missing keypoint{'s' if missing > 1 else ''}")
    text = " and ".join(parts) + ", linearly interpolated from neighbouring frames" if parts else ""
    if never:
        more = f" and {len(never) - 3} more" if len(never) > 3 else ""
        shown = ", ".join(layout.joints[j] for j in never[:3]) + more
        text += f"{'; n' if text else 'N'}ever detected: {shown} (placed at {layout.joints[layout.center]})"
    warn(f"{path}: {text}")
    return points


def _finish(path: Path, points: np.ndarray, times: np.ndarray | None, layout: KeypointLayout, rate: float | None,
            dims: int, max_gap: float | None, rate_tolerance: float | None, lines: np.ndarray | None,
            option: str) -> np.ndarray:
    """Fill missing keypoints, resample on ``times`` (if any) onto ``rate`` Hz, keep ``dims`` axes."""
    points = fill_missing(path, points, layout)
    if times is not None:
        if not rate:
            raise ConfigError(f"{path}: keypoints with time stamps need the rate to resample to (option 'rate', fps)")
        points = resample_stream(path, times, points, rate, max_gap, lines, option, rate_tolerance)
    return np.ascontiguousarray(points[..., :dims], dtype=np.float32)


def _check_dims(dims) -> int:
    if dims not in (2, 3) or isinstance(dims, bool):
        raise ConfigError(f"keypoint option 'dims' must be 2 or 3, got {dims!r}")
    return int(dims)


# -- CSV ----------------------------------------------------------------------------------
_AXES = {"x": 0, "y": 1, "z": 2, "v": 3, "c": 3, "vis": 3, "visibility": 3, "conf": 3, "confidence": 3,
         "score": 3, "presence": 4}
_AXIS = "|".join(sorted(_AXES, key=len, reverse=True))
_PREFIX = r"(?:(?:landmark|lm|kp|keypoint|joint|point|pose)_?)?"
_WIDE = re.compile(rf"{_PREFIX}(?:(?P<j1>\d+|[a-z][a-z_]*?)[_.](?P<a1>{_AXIS})"  # left_wrist_x, 15_x
                   rf"|(?P<a2>{_AXIS})[_.]?(?P<j2>\d+|[a-z][a-z_]*))")  # x15, x_left_wrist
_JOINT_COLUMNS = ("landmark", "joint", "keypoint", "kp", "landmark_id", "joint_id", "keypoint_id", "id", "index",
                  "name", "part")
_FRAME_COLUMNS = ("frame", "frame_id", "frame_index", "frame_idx", "frame_number", "frame_no", "idx")


def _wide_columns(table: TextTable, layout: KeypointLayout) -> dict[tuple[int, int], int]:
    """(joint, axis) -> column of a one-row-per-frame file; DataError naming the first joint without x and y."""
    found: dict[tuple[int, int], int] = {}
    for c, name in enumerate(table.header):
        m = _WIDE.fullmatch(name)
        if m is None:
            continue
        token, axis = (m["j1"], m["a1"]) if m["j1"] is not None else (m["j2"], m["a2"])
        joint = layout.joint_index(token)
        if joint is not None:
            found.setdefault((joint, _AXES[axis]), c)
    for j, name in enumerate(layout.joints):
        if (j, 0) not in found or (j, 1) not in found:
            raise DataError(table.path, f"no x and y columns for {layout.name} joint {j} '{name}' (expected e.g. "
                                        f"{name}_x, {name}_y or x{j}, y{j}; {layout.num_joints} joints)")
    return found


def _cells(table: TextTable, columns: list[int]) -> np.ndarray:
    """(N, len(columns)) float64 with NaN for empty cells; a non-numeric cell is a DataError naming its line."""
    out = np.full((len(table.rows), len(columns)), np.nan)
    for i, (row, line) in enumerate(zip(table.rows, table.lines)):
        for k, c in enumerate(columns):
            text = row[c]
            if text == "":
                continue
            try:
                out[i, k] = float(text)
            except ValueError:
                raise DataError(table.path, f"line {line}: non-numeric value '{text}' in {table.describe(c)}") from None
            if math.isinf(out[i, k]):
                raise DataError(table.path, f"line {line}: infinite value in {table.describe(c)}")
    return out


def _masked(points: np.ndarray, confidence: np.ndarray | None, min_confidence: float) -> np.ndarray:
    """(T, J, 3) coordinates with NaN where a coordinate is missing or the confidence is at most ``min_confidence``."""
    points = points.copy()
    if confidence is not None:
        low = ~(confidence > min_confidence)  # NaN confidence: missing
        points[low] = np.nan
    bad = np.isnan(points[..., :2]).any(axis=-1)
    points[bad] = np.nan
    points[..., 2][~bad & np.isnan(points[..., 2])] = 0.0  # a detected 2-D keypoint without z
    return points


def _frame_times(table: TextTable, exclude: set[int]) -> tuple[int | None, str]:
    """The time or frame column (index, ``"time"``/``"frame"``), or (None, "")."""
    for c, name in enumerate(table.header):
        if c in exclude:
            continue
        if name in _FRAME_COLUMNS:
            return c, "frame"
        if TIME_NAMES.fullmatch(name):
            return c, "time"
    return None, ""


def read_keypoints_csv(path: str | Path, layout: str = "mediapipe", rate: float | None = None, dims: int = 3,
                       time_unit: str = "auto", min_confidence: float = 0.0, max_gap: float | None = DEFAULT_MAX_GAP,
                       rate_tolerance: float | None = DEFAULT_RATE_TOLERANCE, option: str = "max_gap") -> np.ndarray:
    """Keypoints of one clip from a wide or long CSV/TSV (see the module docstring) -> (T, J, dims) float32."""
    path, lay, dims = Path(path), keypoint_layout(layout), _check_dims(dims)
    table = read_text_table(path, header=True)
    joint_col = next((table.header.index(n) for n in _JOINT_COLUMNS if n in table.header), None)
    long = joint_col is not None and "x" in table.header and "y" in table.header
    if long:
        points, confidence, frame_values, lines, when = _long_points(table, lay, joint_col, rate, time_unit)
    else:
        where = _wide_columns(table, lay)
        columns = sorted(set(where.values()))
        values = _cells(table, columns)
        at = {c: k for k, c in enumerate(columns)}
        n, j = len(table.rows), lay.num_joints
        points = np.full((n, j, 3), np.nan)
        confidence = np.full((n, j), np.nan) if any(a >= 3 for _, a in where) else None
        for (joint, axis), c in where.items():
            if axis < 3:
                points[:, joint, axis] = values[:, at[c]]
            elif axis == 3 or (joint, 3) not in where:
                confidence[:, joint] = values[:, at[c]]
        t_col, when = _frame_times(table, set(columns))
        frame_values = None if t_col is None else (
            parse_times(table, t_col, time_unit, rate) if when == "time" else table.numbers([t_col])[:, 0])
        lines = np.asarray(table.lines)
    points = _masked(points, confidence, min_confidence)
    if when == "frame":  # frame numbers: skipped frames are interpolated on the grid of every number
        points = fill_missing(path, points, lay)
        gap = max_gap * rate if max_gap is not None and rate else None
        points = resample_stream(path, frame_values, points, 1.0, gap, lines, option)
        return np.ascontiguousarray(points[..., :dims])
    return _finish(path, points, frame_values if when == "time" else None, lay, rate, dims, max_gap, rate_tolerance,
                   lines, option)


def _long_points(table: TextTable, layout: KeypointLayout, joint_col: int, rate: float | None, time_unit: str):
    """Points of a one-row-per-joint file: (T, J, 3), confidence (T, J) or None, frame values, lines, kind."""
    head = table.header
    t_col, when = _frame_times(table, {joint_col})
    if t_col is None:
        raise DataError(table.path, "one row per joint needs a frame or time column to group the rows "
                                    f"(columns: {', '.join(head)})")
    axes = {a: head.index(n) for n in head for a in [_AXES.get(n)] if a is not None and n in _AXES}
    conf_col = axes.get(3, axes.get(4))
    coords = _cells(table, [axes.get(a, axes[0]) for a in (0, 1, 2)])
    if 2 not in axes:
        coords[:, 2] = np.nan
    confidence = _cells(table, [conf_col])[:, 0] if conf_col is not None else None
    stamps = parse_times(table, t_col, time_unit, rate) if when == "time" else table.numbers([t_col])[:, 0]
    order, index = np.unique(stamps, return_inverse=True)
    points = np.full((len(order), layout.num_joints, 3), np.nan)
    conf = np.full((len(order), layout.num_joints), np.nan) if confidence is not None else None
    first_line = np.full(len(order), np.iinfo(np.int64).max)
    for i, (row, line) in enumerate(zip(table.rows, table.lines)):
        joint = layout.joint_index(row[joint_col].lower())
        if joint is None:
            raise DataError(table.path, f"line {line}: '{row[joint_col]}' in {table.describe(joint_col)} is not a "
                                        f"{layout.name} joint (0..{layout.num_joints - 1} or a name such as "
                                        f"{layout.joints[0]})")
        points[index[i], joint] = coords[i]
        if conf is not None:
            conf[index[i], joint] = confidence[i]
        first_line[index[i]] = min(first_line[index[i]], line)
    return points, conf, order, first_line, when


# -- JSON ---------------------------------------------------------------------------------
def _load_json(path: Path):
    try:
        return json.loads(read_file(path).decode("utf-8-sig"))
    except UnicodeDecodeError:
        raise DataError(path, "not a text file (cannot decode as UTF-8)") from None
    except json.JSONDecodeError as err:
        raise DataError(path, f"not valid JSON (line {err.lineno}: {err.msg})") from None


def _frame_number(path: Path) -> tuple[int, str]:
    numbers = re.findall(r"\d+", path.stem)
    return (int(numbers[-1]) if numbers else -1, path.name)


_PEOPLE_KEYS = ("people", "persons", "poses", "instances")
_POINT_KEYS = ("pose_keypoints_3d", "pose_keypoints_2d", "landmarks", "pose_landmarks", "pose_world_landmarks",
               "keypoints")
_TIME_KEYS = ("timestamp", "timestamp_ms", "timestamp_s", "time", "time_ms", "t")


def _person(frame, path: Path, where: str, dims: int):
    """The first person's keypoint list of one frame, or None when the frame has nobody."""
    if isinstance(frame, dict):
        for key in _PEOPLE_KEYS:
            if key in frame:
                people = frame[key]
                if not isinstance(people, list):
                    raise DataError(path, f"{where}: '{key}' is not a list")
                return _person(people[0], path, where, dims) if people else None
        keys = _POINT_KEYS if dims == 3 else tuple(k for k in _POINT_KEYS if k != "pose_keypoints_3d")
        for key in keys:
            if frame.get(key):
                return frame[key]
        if any(k in frame for k in _POINT_KEYS):
            return None  # an empty keypoint list: nobody detected
        raise DataError(path, f"{where}: no keypoints (expected one of {', '.join(_PEOPLE_KEYS + _POINT_KEYS)})")
    if isinstance(frame, list):
        if frame and isinstance(frame[0], dict) and not {"x", "y"} <= set(frame[0]):
            return _person(frame[0], path, where, dims)  # a list of people
        return frame or None
    raise DataError(path, f"{where}: a frame must be an object or a list, got {type(frame).__name__}")


def _points_of(person, layout: KeypointLayout, path: Path, where: str) -> np.ndarray:
    """(J, 4) x, y, z, confidence (NaN where absent) of one person's keypoint list."""
    j = layout.num_joints
    out = np.full((j, 4), np.nan)
    if person and isinstance(person[0], dict):
        if len(person) != j:
            raise DataError(path, f"{where}: {len(person)} landmarks, expected the {j} of {layout.name}")
        for i, point in enumerate(person):
            for axis, key in enumerate(("x", "y", "z")):
                out[i, axis] = _number(point.get(key), path, where)
            conf = point.get("visibility", point.get("score", point.get("confidence", point.get("presence"))))
            out[i, 3] = _number(conf, path, where)
        return out
    flat = [_number(v, path, where) for v in person]
    if len(flat) % j or len(flat) // j not in (2, 3, 4):
        raise DataError(path, f"{where}: {len(flat)} numbers do not make {j} keypoints of 2, 3 or 4 values "
                              f"({layout.name})")
    values = np.asarray(flat).reshape(j, -1)
    stride = values.shape[1]
    columns = {2: (0, 1), 3: (0, 1, 3) if layout.triples == "xyc" else (0, 1, 2), 4: (0, 1, 2, 3)}[stride]
    for k, axis in enumerate(columns):
        out[:, axis] = values[:, k]
    return out


def _number(value, path: Path, where: str) -> float:
    if value is None:
        return math.nan
    if isinstance(value, bool) or not isinstance(value, (int, float)):
        raise DataError(path, f"{where}: keypoint value {value!r} is not a number")
    if math.isinf(value):
        raise DataError(path, f"{where}: infinite keypoint value")
    return float(value)


def read_keypoints_json(path: str | Path, layout: str = "openpose", rate: float | None = None, dims: int = 3,
                        min_confidence: float = 0.0, max_gap: float | None = DEFAULT_MAX_GAP,
                        rate_tolerance: float | None = DEFAULT_RATE_TOLERANCE, option: str = "max_gap") -> np.ndarray:
    """Keypoints of one clip from a folder of per-frame JSON files or one JSON file of frames -> (T, J, dims)."""
    path, lay, dims = Path(path), keypoint_layout(layout), _check_dims(dims)
    if path.is_dir():
        files = sorted((p for p in path.iterdir() if p.suffix.lower() == ".json"), key=_frame_number)
        if not files:
            raise DataError(path, "no .json frame files in this folder")
        frames = [(_load_json(f), f, f.name) for f in files]
    else:
        data = _load_json(path)
        if isinstance(data, dict) and isinstance(data.get("frames"), list):
            data = data["frames"]
        if not isinstance(data, list) or (data and isinstance(data[0], dict) and {"x", "y"} <= set(data[0])):
            raise DataError(path, "holds one frame, not a clip (expected a list of frames, {\"frames\": [...]}, or a "
                                  "folder of per-frame JSON files)")
        frames = [(frame, path, f"frame {i}") for i, frame in enumerate(data)]
    points = np.full((len(frames), lay.num_joints, 4), np.nan)
    times, time_key = [], None
    for i, (frame, source, where) in enumerate(frames):
        person = _person(frame, source, where, dims)
        if person is not None:
            points[i] = _points_of(person, lay, source, where)
        if isinstance(frame, dict):
            time_key = next((k for k in _TIME_KEYS if k in frame), None)
            if time_key is not None:
                times.append(_number(frame[time_key], source, where))
    stamped = seconds_of(np.asarray(times), _unit_hint(time_key), rate) if len(times) == len(frames) else None
    confidence = points[..., 3] if not np.isnan(points[..., 3]).all() else None
    coords = _masked(points[..., :3], confidence, min_confidence)
    return _finish(path, coords, stamped, lay, rate, dims, max_gap, rate_tolerance, None, option)
