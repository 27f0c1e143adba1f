"""Synthetic UTD-MHAD: layout, formats, determinism and physical agreement of modalities."""

from __future__ import annotations

import numpy as np
import pytest
import scipy.io
from scipy.ndimage import uniform_filter1d

from harkd.data.synth import UTD_ACTIONS, SynthSummary, utd_mhad_recording, write_utd_mhad
from harkd.data.synth.body import CHANNELS, J, Body, forward_kinematics, rot_y
from harkd.data.synth.motion import NEUTRAL
from harkd.data.synth.sensors import simulate_imu
from harkd.errors import InputError

FIXTURE_KEYS = [(a, s, t) for a in (1, 2, 3, 10, 22, 24) for s in (1, 2, 3, 4) for t in (1, 2)]
G = 9.80665


def load(root, a, s, t):
    """(d_iner, d_skel, d_depth) of one recording."""
    out = []
    for folder, suffix, var in (("Inertial", "inertial", "d_iner"), ("Skeleton", "skeleton", "d_skel"),
                                ("Depth", "depth", "d_depth")):
        out.append(scipy.io.loadmat(root / folder / f"a{a}_s{s}_t{t}_{suffix}.mat")[var])
    return out


@pytest.fixture(scope="module")
def recordings(synth_utd):
    return {key: load(synth_utd, *key) for key in FIXTURE_KEYS}


def test_layout_names_and_counts(synth_utd):
    for folder, suffix in (("Inertial", "inertial"), ("Skeleton", "skeleton"), ("Depth", "depth")):
        names = sorted(p.name for p in (synth_utd / folder).iterdir())
        assert names == sorted(f"a{a}_s{s}_t{t}_{suffix}.mat" for a, s, t in FIXTURE_KEYS)


def test_shapes_dtypes_and_ranges(recordings):
    for key, (iner, skel, depth) in recordings.items():
        assert iner.dtype == np.float64 and iner.ndim == 2 and iner.shape[1] == 6, key
        assert 107 <= len(iner) <= 326, key
        assert np.abs(iner[:, :3]).max() <= 8.0 and np.abs(iner[:, 3:]).max() <= 1000.0
        assert skel.dtype == np.float64 and skel.shape[:2] == (20, 3)
        assert depth.dtype == np.uint16 and depth.shape[:2] == (60, 80)
        assert depth.shape[2] == skel.shape[2], "depth and skeleton frame counts differ"
        rate = skel.shape[2] / (len(iner) / 50)
        assert 10.5 <= rate <= 21.5, f"{key}: skeleton rate {rate:.1f} Hz"
        assert np.all((skel[:, 2] > 1.8) & (skel[:, 2] < 4.0)), "z is the distance from the camera"
        assert np.all(skel[J["head"], 1] > skel[J["right_foot"], 1] + 0.6), "y is up"
        nz = depth[depth > 0]
        assert 0.02 < (depth > 0).mean() < 0.2
        assert 1500 < nz.min() and nz.max() < 4500, "millimetres"


def test_still_sensor_reads_one_g(recordings):
    for key, (iner, _, _) in recordings.items():
        mag = np.linalg.norm(iner[:8, :3], axis=1)  # the clips start with >= 0.25 s of idle
        assert np.all(np.abs(mag - 1) < 0.1), (key, mag)


def test_simulate_imu_static_and_rotating():
    n, rate = 200, 100.0
    still = simulate_imu(np.zeros((n, 3)), np.repeat(np.eye(3)[None], n, 0), rate)
    np.testing.assert_allclose(still, np.tile([0, 1, 0, 0, 0, 0], (n, 1)), atol=1e-12)
    spin = simulate_imu(np.zeros((n, 3)), rot_y(90.0 * np.arange(n) / rate), rate)  # 90 deg/s about y
    np.testing.assert_allclose(spin[5:-5, 3:], np.tile([0, 90, 0], (n - 10, 1)), atol=0.01)


def test_forward_kinematics_neutral_skeleton_is_plausible():
    pose = np.array([[NEUTRAL[c] for c in CHANNELS]])
    joints = forward_kinematics(Body(), pose).joints[0]
    assert 1.5 < joints[J["head"], 1] < 1.7 and abs(joints[J["right_ankle"], 1] - Body().ankle_height) < 0.01
    mirrored = joints * [-1, 1, 1]
    pairs = [(J[f"left_{n}"], J[f"right_{n}"]) for n in ("shoulder", "elbow", "wrist", "hand", "hip", "knee", "foot")]
    for left, right in pairs:
        np.testing.assert_allclose(mirrored[left], joints[right], atol=1e-9)


def test_deterministic_and_seed_dependent(recordings):
    again = utd_mhad_recording(10, 3, 2, seed=0, depth_size=(60, 80))
    for written, new in zip(recordings[(10, 3, 2)], (again["d_iner"], again["d_skel"], again["d_depth"])):
        assert np.array_equal(written, new)
    other = utd_mhad_recording(10, 3, 2, seed=1, depth_size=None)
    assert other["d_iner"].shape != again["d_iner"].shape or not np.allclose(other["d_iner"], again["d_iner"])
    assert not np.array_equal(utd_mhad_recording(10, 3, 1, depth_size=None)["d_iner"][:107], again["d_iner"][:107])


def _wrist_force(iner, skel):
    """Specific-force magnitude (g) from the skeleton's right wrist and from the sensor, on skeleton times."""
    n = skel.shape[2]
    dur = (len(iner) - 1) / 50
    dt = dur / (n - 1)
    acc = np.gradient(np.gradient(skel[J["right_wrist"]].T, dt, axis=0), dt, axis=0) + [0, G, 0]
    from_skeleton = np.linalg.norm(acc, axis=1) / G
    sensor = uniform_filter1d(np.linalg.norm(iner[:, :3], axis=1), 5)
    return from_skeleton, np.interp(np.linspace(0, dur, n), np.arange(len(iner)) / 50, sensor)


def test_wrist_sensor_agrees_with_skeleton(recordings):
    pairs = [_wrist_force(i, s) for (a, _, _), (i, s, _) in recordings.items() if a <= 21]
    matched = [np.corrcoef(x, y)[0, 1] for x, y in pairs]
    shuffled = [np.corrcoef(x[:m], y[:m])[0, 1] for (x, _), (_, y) in zip(pairs, pairs[1:] + pairs[:1])
                for m in [min(len(x), len(y))]]
    assert np.median(matched) > 0.7, matched
    assert np.median(matched) > np.median(shuffled) + 0.4


def _features(iner):
    return np.concatenate([np.r_[p.mean(0), p.std(0)] for p in np.array_split(iner, 3)])


def test_actions_learnable_across_subjects(recordings):
    keys = sorted(recordings)
    x = np.array([_features(recordings[k][0]) for k in keys])
    y = np.array([k[0] for k in keys])
    train = np.array([k[1] in (1, 3) for k in keys])
    z = (x - x[train].mean(0)) / (x[train].std(0) + 1e-9)
    classes = np.unique(y)
    centroids = np.array([z[train & (y == c)].mean(0) for c in classes])
    pred = classes[np.argmin(((z[~train, None] - centroids[None]) ** 2).sum(-1), axis=1)]
    assert (pred == y[~train]).mean() > 3 / len(classes)


def test_sit_to_stand_is_the_reverse_of_stand_to_sit():
    up = utd_mhad_recording(24, 1, 1, depth_size=None)["d_iner"]
    down = utd_mhad_recording(25, 1, 1, depth_size=None)["d_iner"]
    # thigh sensor x runs along the thigh: horizontal when seated (~0 g), vertical when standing (~-1 g)
    assert abs(up[:5, 0].mean()) < 0.55 and up[-5:, 0].mean() < -0.85
    assert down[:5, 0].mean() < -0.85 and abs(down[-5:, 0].mean()) < 0.55


def test_write_options(tmp_path):
    summary = write_utd_mhad(tmp_path, subjects=1, trials=(1, 4), actions=[8, 27], modalities=("inertial",),
                             missing=[(8, 1, 4)], seed=3)
    assert isinstance(summary, SynthSummary)
    assert summary.recordings == 3 and summary.files == {"inertial": 3} and summary.bytes > 0
    assert sorted(p.name for p in tmp_path.iterdir()) == ["Inertial"]
    assert not (tmp_path / "Inertial" / "a8_s1_t4_inertial.mat").exists()
    assert len(UTD_ACTIONS) == 27


@pytest.mark.parametrize("kwargs, match", [
    ({"actions": (30,)}, "actions"), ({"actions": ()}, "actions"), ({"subjects": 9}, "subjects"),
    ({"trials": 0}, "trials"), ({"depth_size": (0, 5)}, "depth_size"), ({"depth_size": "big"}, "depth_size"),
    ({"modalities": ("rgb",)}, "modality"), ({"seed": -1}, "seed"), ({"missing": [(1, 2)]}, "missing"),
])
def test_bad_arguments_raise_input_error(tmp_path, kwargs, match):
    with pytest.raises(InputError, match=match):
        write_utd_mhad(tmp_path, **kwargs)


def test_berkeley_with_gap_places_an_exact_gap():
    from harkd.data.synth.berkeley_mhad import with_gap

    times = np.arange(200) * 0.025
    out = with_gap(times, 1.15, 46)
    dt = np.diff(out)
    assert np.isclose(dt.max(), 1.15) and int(np.argmax(dt)) + 2 == 46 and out[-1] == times[-1]
    assert int(np.argmax(np.diff(with_gap(times, 1.1, 400)))) + 2 == 200 // 3 + 1  # a short stream: a third in
    with pytest.raises(InputError, match=r"a gap of 3 s does not fit in a 1.00 s stream"):
        with_gap(times[:41], 3.0, 10)
