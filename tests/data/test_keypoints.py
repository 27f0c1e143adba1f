"""Pose-estimator keypoints: MediaPipe Pose, OpenPose BODY_25, COCO-17 (CSV and JSON) and their graph layouts."""

from __future__ import annotations

import json
import warnings

import numpy as np
import pytest
import torch

from harkd.data.keypoints import (COCO17, KEYPOINT_LAYOUTS, MEDIAPIPE_POSE, OPENPOSE_BODY25, read_keypoints_csv,
                                  read_keypoints_json)
from harkd.data.synth.phone_har import _write_pose, phone_recording
from harkd.errors import DataError, DataWarning, InputError
from harkd.models.graph import GraphLayout, get_graph_layout


@pytest.fixture(scope="module")
def pose():
    return phone_recording(1, "wave", 1)["pose"][:40]  # (40, 33, 4): x, y, z, visibility


def caught_warnings(call):
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        out = call()
    return out, [str(w.message) for w in caught if w.category is DataWarning]


def test_a_mediapipe_csv_by_names_by_indices_and_long_reads_alike(tmp_path, pose):
    _write_pose(tmp_path / "named.csv", pose)
    named, notes = caught_warnings(lambda: read_keypoints_csv(tmp_path / "named.csv", "mediapipe"))
    assert notes == [] and named.shape == (40, 33, 3) and named.dtype == np.float32
    assert np.allclose(named, pose[..., :3], atol=1e-5)
    head = ["frame"] + [f"{a}{j}" for j in range(33) for a in ("x", "y", "z", "v")]
    rows = [",".join([str(i)] + [f"{v:.5f}" for v in frame.reshape(-1)]) for i, frame in enumerate(pose)]
    (tmp_path / "indexed.csv").write_text("\n".join([",".join(head), *rows]) + "\n")
    assert np.array_equal(read_keypoints_csv(tmp_path / "indexed.csv"), named)
    long = ["frame,landmark,x,y,z,visibility"] + [f"{i},{MEDIAPIPE_POSE[j] if j % 2 else j},{x:.5f},{y:.5f},{z:.5f},{v:.5f}"
                                                  for i, frame in enumerate(pose) for j, (x, y, z, v) in enumerate(frame)]
    (tmp_path / "long.tsv").write_text("\n".join(line.replace(",", "\t") for line in long) + "\n")
    assert np.array_equal(read_keypoints_csv(tmp_path / "long.tsv"), named)
    assert read_keypoints_csv(tmp_path / "named.csv", dims=2).shape == (40, 33, 2)


def test_missing_keypoints_are_interpolated_over_time_and_reported(tmp_path, pose):
    _write_pose(tmp_path / "p.csv", pose)
    lines = (tmp_path / "p.csv").read_text().splitlines()
    cells = [line.split(",") for line in lines]
    wrist = 1 + 4 * MEDIAPIPE_POSE.index("left_wrist")
    cells[5][wrist:wrist + 4] = ["", "", "", ""]  # frame 4: the left wrist is missing
    cells[9][1:] = [""] * (len(cells[9]) - 1)     # frame 8: nobody
    for row in cells[1:]:                          # the right heel: visibility 0 everywhere
        row[4 + 4 * MEDIAPIPE_POSE.index("right_heel")] = "0"
    (tmp_path / "p.csv").write_text("\n".join(",".join(c) for c in cells) + "\n")
    out, notes = caught_warnings(lambda: read_keypoints_csv(tmp_path / "p.csv"))
    assert notes == [f"{tmp_path / 'p.csv'}: 1 of 40 frames without a person and 1 missing keypoint, linearly "
                     "interpolated from neighbouring frames; never detected: right_heel (placed at left_hip)"]
    j = MEDIAPIPE_POSE.index("left_wrist")
    assert np.allclose(out[4, j], (pose[3, j, :3] + pose[5, j, :3]) / 2, atol=1e-5)
    seen = [i for i, name in enumerate(MEDIAPIPE_POSE) if name != "right_heel"]
    assert np.allclose(out[8, seen], (pose[7, seen, :3] + pose[9, seen, :3]) / 2, atol=1e-5)
    assert np.array_equal(out[:, MEDIAPIPE_POSE.index("right_heel")], out[:, MEDIAPIPE_POSE.index("left_hip")])


def test_a_time_column_resamples_onto_the_rate(tmp_path, pose):
    head = ["timestamp_ms"] + [f"{n}_{a}" for n in MEDIAPIPE_POSE for a in ("x", "y", "z")]
    stamps = 1000 + np.arange(40) * (1000 / 30) + np.tile([0, 3, -3, 1], 10)
    rows = [",".join([f"{t:.1f}"] + [f"{v:.5f}" for v in frame[:, :3].reshape(-1)]) for t, frame in zip(stamps, pose)]
    (tmp_path / "t.csv").write_text("\n".join([",".join(head), *rows]) + "\n")
    out = read_keypoints_csv(tmp_path / "t.csv", rate=30)
    grid = stamps[0] / 1000 + np.arange(len(out)) / 30
    assert len(out) == 40 and grid[-1] <= stamps[-1] / 1000
    expected = np.interp(grid, stamps / 1000, pose[:, 0, 0])
    assert np.allclose(out[:, 0, 0], expected, atol=1e-5)


def openpose_frame(points, people=1):
    flat = np.concatenate([points[:, :2], np.ones((len(points), 1))], axis=1)
    return {"version": 1.3, "people": [{"person_id": [-1], "pose_keypoints_2d": flat.reshape(-1).tolist()}] * people}


def test_openpose_json_per_frame_in_a_folder(tmp_path):
    rng = np.random.default_rng(0)
    clip = rng.uniform(0, 640, (12, 25, 2))
    folder = tmp_path / "take1"
    folder.mkdir()
    for i, points in enumerate(clip):
        frame = openpose_frame(points, people=2)
        if i == 5:
            frame["people"] = []                              # nobody detected
        if i == 7:
            frame["people"][0]["pose_keypoints_2d"][3 * 4 + 2] = 0.0   # right wrist not detected
        (folder / f"take1_{i:012d}_keypoints.json").write_text(json.dumps(frame))
    (folder / "notes.txt").write_text("not a frame")
    out, notes = caught_warnings(lambda: read_keypoints_json(folder, "openpose"))
    assert out.shape == (12, 25, 3) and not out[..., 2].any()
    assert np.allclose(out[[0, 11], :, :2], clip[[0, 11]], atol=1e-4)
    assert np.allclose(out[5, :, :2], (clip[4] + clip[6]) / 2, atol=1e-3)
    assert np.allclose(out[7, 4, :2], (clip[6, 4] + clip[8, 4]) / 2, atol=1e-3)
    assert notes == [f"{folder}: 1 of 12 frames without a person and 1 missing keypoint, linearly interpolated from "
                     "neighbouring frames"]


def test_frame_files_are_ordered_by_their_number_not_their_name(tmp_path):
    clip = np.arange(3 * 25 * 2, dtype=float).reshape(3, 25, 2)
    for i in (0, 2, 10):
        (tmp_path / f"f_{i}.json").write_text(json.dumps(openpose_frame(clip[min(i, 2) if i != 10 else 2] * 0 + i)))
    out = read_keypoints_json(tmp_path, "openpose")
    assert out[:, 0, 0].tolist() == [0.0, 2.0, 10.0]


def test_coco17_and_mediapipe_json_files_of_frames(tmp_path):
    rng = np.random.default_rng(1)
    coco = rng.uniform(0, 1, (6, 17, 2))
    frames = [[{"keypoints": np.concatenate([p, np.full((17, 1), 2.0)], axis=1).reshape(-1).tolist(),
                "score": 0.9}] for p in coco]
    (tmp_path / "coco.json").write_text(json.dumps(frames))
    assert np.allclose(read_keypoints_json(tmp_path / "coco.json", "coco17")[..., :2], coco)
    mp = rng.uniform(0, 1, (5, 33, 3))
    frames = {"frames": [{"timestamp_ms": 1000 + 1000 / 30 * i,
                          "landmarks": [{"x": x, "y": y, "z": z, "visibility": 0.9} for x, y, z in p]}
                         for i, p in enumerate(mp)]}
    (tmp_path / "mp.json").write_text(json.dumps(frames))
    out = read_keypoints_json(tmp_path / "mp.json", "mediapipe", rate=30)
    assert out.shape == (5, 33, 3) and np.allclose(out[0], mp[0], atol=1e-6)


@pytest.mark.parametrize("name, text, layout, problem", [
    ("few.csv", "frame,nose_x,nose_y\n0,1,2\n1,1,2\n", "coco17",
     "no x and y columns for coco17 joint 1 'left_eye' (expected e.g. left_eye_x, left_eye_y or x1, y1; 17 joints)"),
    ("text.csv", "frame,landmark,x,y\n0,nose,1,a\n", "coco17", "line 2: non-numeric value 'a' in column 'y'"),
    ("joint.csv", "frame,landmark,x,y\n0,tail,1,2\n", "coco17",
     "line 2: 'tail' in column 'landmark' is not a coco17 joint (0..16 or a name such as nose)"),
    ("nogroup.csv", "landmark,x,y\nnose,1,2\n", "coco17",
     "one row per joint needs a frame or time column to group the rows (columns: landmark, x, y)"),
    ("bad.json", "[{\"people\": [", "openpose", "not valid JSON (line 1: Expecting value)"),
    ("count.json", "[[1, 2, 3, 4]]", "openpose",
     "frame 0: 4 numbers do not make 25 keypoints of 2, 3 or 4 values (openpose)"),
    ("one.json", "[{\"x\": 1, \"y\": 2}]", "openpose",
     "holds one frame, not a clip (expected a list of frames, {\"frames\": [...]}, or a folder of per-frame JSON files)"),
    ("nobody.json", "[{\"people\": []}, {\"people\": []}]", "openpose", "a person in only 0 of 2 frames (need at least 2)"),
    ("landmarks.json", "[{\"landmarks\": [{\"x\": 1, \"y\": 2}]}, {\"landmarks\": []}]", "mediapipe",
     "frame 0: 1 landmarks, expected the 33 of mediapipe"),
    ("string.json", "[[\"1\", 2]]", "coco17", "frame 0: keypoint value '1' is not a number"),
])
def test_bad_keypoint_files_are_one_error_naming_the_line_or_frame(tmp_path, name, text, layout, problem):
    path = tmp_path / name
    path.write_text(text)
    with pytest.raises(DataError) as err:
        (read_keypoints_csv if name.endswith(".csv") else read_keypoints_json)(path, layout)
    assert str(err.value) == f"{path}: {problem}"


# -- graph layouts --------------------------------------------------------------------------
MEDIAPIPE_CONNECTIONS = [  # mediapipe.solutions.pose.POSE_CONNECTIONS, verbatim
    (0, 1), (1, 2), (2, 3), (3, 7), (0, 4), (4, 5), (5, 6), (6, 8), (9, 10), (11, 12), (11, 13), (13, 15), (15, 17),
    (15, 19), (15, 21), (17, 19), (12, 14), (14, 16), (16, 18), (16, 20), (16, 22), (18, 20), (11, 23), (12, 24),
    (23, 24), (23, 25), (24, 26), (25, 27), (26, 28), (27, 29), (28, 30), (29, 31), (30, 32), (27, 31), (28, 32)]


def test_mediapipe_own_connections_leave_the_face_apart_and_the_builtin_layout_joins_it():
    with pytest.raises(InputError) as err:
        GraphLayout("mediapipe_as_published", 33, tuple(MEDIAPIPE_CONNECTIONS), 23)
    assert str(err.value) == ("graph layout 'mediapipe_as_published': joints [0, 1, 2, 3, 4, 5, 6, 7, 8, 9, 10] are "
                              "not connected to the center joint 23")
    layout = get_graph_layout("mediapipe_pose33")
    assert set(MEDIAPIPE_CONNECTIONS) <= set(layout.edges)
    added = {tuple(sorted(e)) for e in layout.edges} - {tuple(sorted(e)) for e in MEDIAPIPE_CONNECTIONS}
    assert {tuple(MEDIAPIPE_POSE[j] for j in e) for e in added} == {
        ("nose", "left_shoulder"), ("nose", "right_shoulder"), ("nose", "mouth_left"), ("nose", "mouth_right")}


@pytest.mark.parametrize("name, joints", [("mediapipe", MEDIAPIPE_POSE), ("openpose", OPENPOSE_BODY25),
                                          ("coco17", COCO17)])
def test_every_keypoint_layout_has_a_connected_graph_with_its_centre(name, joints):
    from harkd.models import create_model

    layout = KEYPOINT_LAYOUTS[name]
    graph = get_graph_layout(layout.graph)
    assert graph.num_joints == len(joints) and graph.center == layout.center
    assert min(graph.hop_distance()) == 0  # every joint reaches the centre (GraphLayout checks it)
    assert joints[layout.center] in ("left_hip", "mid_hip")
    model = create_model("stgcn", num_classes=4, layout=layout.graph, widths=[8], strides=[1])
    assert model(torch.zeros(2, 3, 16, len(joints))).shape == (2, 4)
