"""Virtual accelerometer windows from a paired skeleton (harkd.data.virtual) and their twins in PairedDataset."""

from __future__ import annotations

import numpy as np
import pytest
import scipy.io
import torch
from torch.utils.data import DataLoader

import harkd.encoding  # noqa: F401  (the engine's transforms, as a run builds them)
from harkd.data import PairedDataset, get_dataset
from harkd.data.synth import write_utd_mhad
from harkd.data.timeseries import resample_time
from harkd.data.utd_mhad import THIGH, WRIST
from harkd.data.virtual import (GRAVITY, SensorSite, VirtualInertial, fit_rotation, segment_frames,
                                virtual_acceleration)
from harkd.engine.resident import ResidentLoader
from harkd.errors import ConfigError, DataError, InputError

SITE = SensorSite(0, 1, (0, 2))  # segment joint 0 -> 1 along x, side vector along y
UP = (0.0, 1.0, 0.0)
ACC = {"inertial": {"sensor": "acc", "length": 32, "normalize": True}}


def _rotation(seed: int) -> np.ndarray:
    q, _ = np.linalg.qr(np.random.default_rng(seed).normal(size=(3, 3)))
    return q * np.sign(np.linalg.det(q))


def _body(t: np.ndarray, x: np.ndarray) -> np.ndarray:
    """(T, 3, 3) joints: 0 at (x, 1, 0), 1 at (x + 0.3, 1, 0), 2 at (x, 1.2, 0), a rigid translation along x."""
    base = np.array([[0, 1, 0], [0.3, 1, 0], [0, 1.2, 0]], dtype=np.float64)
    return base[None] + np.stack([x, np.zeros_like(t), np.zeros_like(t)], -1)[:, None]


def test_fit_rotation_recovers_a_proper_rotation():
    source = np.random.default_rng(0).normal(size=(50, 3))
    r = _rotation(1)
    found = fit_rotation(source, source @ r)
    np.testing.assert_allclose(found, r, atol=1e-10)
    assert np.linalg.det(fit_rotation(source, -source)) == pytest.approx(1.0)  # a reflection is never returned


def test_segment_frames_are_orthonormal_and_follow_the_segment():
    frames = segment_frames(_body(np.zeros(4), np.zeros(4)), SITE)
    u, v, w = [1, 0, 0], [0, 0, 1], [0, -1, 0]  # along the segment; x cross y; u cross v
    np.testing.assert_allclose(frames[0], np.array([u, v, w]).T, atol=1e-12)
    np.testing.assert_allclose(np.einsum("tij,tik->tjk", frames, frames), np.broadcast_to(np.eye(3), (4, 3, 3)),
                               atol=1e-12)


def test_a_resting_sensor_reads_one_g_against_gravity():
    t = np.linspace(0, 2, 40)
    real = np.tile([0.0, 0.0, 1.0], (100, 1))  # the recorded sensor: +1 g along its own z, at rest
    virtual = virtual_acceleration(_body(t, np.zeros_like(t)), real, SITE, UP, rate=50.0)
    assert virtual.shape == (40, 3) and virtual.dtype == np.float32
    np.testing.assert_allclose(virtual, np.tile([0.0, 0.0, 1.0], (40, 1)), atol=1e-5)


def test_golden_oscillation_in_the_sensor_frame():
    """A body swaying as x = A sin(wt) over 2 s: the sensor reads gravity plus -A w^2 sin(wt) along the segment,
    in its own (rotated) axes; the virtual clip recovers it from the skeleton and the recording."""
    amplitude, omega = 0.1, 2 * np.pi
    t_skel, t_acc = np.linspace(0, 2, 61), np.linspace(0, 2, 101)

    def force(t):  # in the segment frame (columns x, z, -y), in g
        world = np.stack([-amplitude * omega ** 2 * np.sin(omega * t), np.full_like(t, GRAVITY), 0 * t], -1) / GRAVITY
        return world @ segment_frames(_body(t[:1], t[:1] * 0), SITE)[0]

    mounting = _rotation(2)
    real = force(t_acc) @ mounting
    virtual = virtual_acceleration(_body(t_skel, amplitude * np.sin(omega * t_skel)), real, SITE, UP, rate=50.0,
                                   smooth=0.3)
    expected = force(t_skel) @ mounting
    inner = slice(5, -5)  # the filter's edges extrapolate
    np.testing.assert_allclose(virtual[inner], expected[inner], atol=0.03)  # the window's attenuation of a 0.4 g sway


@pytest.mark.parametrize("skeleton, accelerometer, message", [
    (np.zeros((4, 3, 3)), np.ones((100, 3)), "the skeleton clip has 4 frames; a virtual accelerometer needs at least 5"),
    (np.zeros((20, 3)), np.ones((100, 3)), "the skeleton must be (T, joints, 3), got shape (20, 3)"),
    (np.zeros((20, 2, 3)), np.ones((100, 3)), "the skeleton has 2 joints; the sensor site needs joint 2"),
    (None, np.full((100, 3), np.nan), "the accelerometer clip holds NaN or infinite values"),
    (None, np.ones((100, 6)), "the accelerometer must be (T, 3), got shape (100, 6)"),
    (np.zeros((20, 3, 3)), np.ones((100, 3)),
     "the sensor's segment (joints 0 -> 1) has no length in 20 of the skeleton's frames (joints not tracked)"),
])
def test_clips_that_cannot_make_a_virtual_sensor(skeleton, accelerometer, message):
    if skeleton is None:
        skeleton = _body(np.zeros(20), np.zeros(20))
    with pytest.raises(InputError) as err:
        virtual_acceleration(skeleton, accelerometer, SITE, UP, rate=50.0)
    assert str(err.value) == message


def test_utd_declares_wrist_and_thigh():
    spec = get_dataset("utd-mhad")
    from harkd.data.recording import Recording

    assert spec.sensor_site(Recording("a21_s1_t1", 20, 1), "inertial") is WRIST
    assert spec.sensor_site(Recording("a22_s1_t1", 21, 1), "inertial") is THIGH
    assert spec.sensor_site(Recording("a1_s1_t1", 0, 1), "skeleton") is None


@pytest.fixture(scope="module")
def synth_pairs(tmp_path_factory):
    root = tmp_path_factory.mktemp("virtual-utd")
    write_utd_mhad(root, subjects=(1, 2), trials=(1,), actions=(1, 2, 3, 10, 22, 24), seed=0,
                   modalities=("inertial", "skeleton"))
    return root


def test_virtual_sensor_follows_the_simulated_one(synth_pairs):
    """In the synthetic release the sensor is simulated from the same body motion as the skeleton: the virtual
    clip must follow it (a wrong gravity sign, frame or rate would not)."""
    spec = get_dataset("utd-mhad")
    virtual = VirtualInertial(spec)
    corr = []
    for rec in spec.scan(synth_pairs):
        a = resample_time(spec.load(rec, "inertial", sensor="acc"), 128)
        b = resample_time(virtual.load(rec), 128)
        corr += [np.corrcoef(a[:, c], b[:, c])[0, 1] for c in range(3)]
    assert np.mean(corr) > 0.7


def test_twins_follow_the_recordings(synth_pairs):
    plain = PairedDataset("utd-mhad", synth_pairs, modalities=("inertial",), transforms=ACC, train=True)
    ds = PairedDataset("utd-mhad", synth_pairs, modalities=("inertial",), transforms=ACC, train=True, virtual={})
    ds.fit_normalization()
    plain.load_normalization(ds.normalization_state())
    assert plain.normalization_state() == ds.normalization_state()  # fitted on the recordings only
    n = len(plain)
    assert len(ds) == 2 * n and ds.virtual_count == n and ds.keys == plain.keys
    real, twin = ds[0], ds[n]
    assert twin["key"] == real["key"] and twin["label"] == real["label"] and twin["index"] == n
    torch.testing.assert_close(real["inertial"], plain[0]["inertial"])
    assert twin["inertial"].shape == real["inertial"].shape and not torch.equal(twin["inertial"], real["inertial"])
    assert [r.key for r, v in ds.entries if v] == plain.keys


def test_a_recording_without_a_skeleton_has_no_twin(tmp_path):
    write_utd_mhad(tmp_path, subjects=(1,), trials=(1,), actions=(1, 2), seed=0, modalities=("inertial", "skeleton"))
    (tmp_path / "Skeleton" / "a2_s1_t1_skeleton.mat").unlink()
    ds = PairedDataset("utd-mhad", tmp_path, modalities=("inertial",), transforms=ACC, train=True, virtual={})
    assert len(ds) == 3 and [r.key for r, v in ds.entries if v] == ["a1_s1_t1"]


def _untracked(root, key):
    path = root / "Skeleton" / f"{key}_skeleton.mat"
    skel = scipy.io.loadmat(path)["d_skel"]
    skel[10] = skel[9]  # the wrist on the elbow: the forearm has no length
    scipy.io.savemat(path, {"d_skel": skel})
    return path


def test_a_twin_that_cannot_be_made_stops_or_is_dropped_alone(tmp_path):
    write_utd_mhad(tmp_path, subjects=(1,), trials=(1,), actions=(1, 2), seed=0, modalities=("inertial", "skeleton"))
    path = _untracked(tmp_path, "a1_s1_t1")
    ds = PairedDataset("utd-mhad", tmp_path, modalities=("inertial",), transforms=ACC, train=True, virtual={})
    with pytest.raises(DataError) as err:
        ds.check("stop")
    assert str(err.value).startswith(f"{path}: no virtual accelerometer for a1_s1_t1: the sensor's segment "
                                     "(joints 9 -> 10) has no length in")
    ds = PairedDataset("utd-mhad", tmp_path, modalities=("inertial",), transforms=ACC, train=True, virtual={})
    assert ds.check("skip") == []
    assert ds.keys == ["a1_s1_t1", "a2_s1_t1"] and ds.virtual_count == 1 and len(ds) == 3  # the recording stays
    assert [key for key, _ in ds.virtual_skipped] == ["a1_s1_t1"]


def test_configuration_errors(synth_pairs):
    with pytest.raises(ConfigError) as err:
        PairedDataset("utd-mhad", synth_pairs, modalities=("inertial",), transforms={"inertial": {"sensor": "all"}},
                      virtual={})
    assert str(err.value) == ("config key 'data.virtual_inertial' makes accelerometer windows only, but "
                              "data.modalities.inertial.sensor is 'all': set it to acc")
    from harkd.data.registry import DatasetSpec

    class NoSkeletonUp(type(get_dataset("utd-mhad"))):
        skeleton_up = None

    with pytest.raises(ConfigError) as err:
        VirtualInertial(NoSkeletonUp())
    assert str(err.value) == ("config key 'data.virtual_inertial': dataset utd-mhad declares no sensor site on its "
                              "'skeleton' for 'inertial' (DatasetSpec.sensor_site and skeleton_up)")
    assert DatasetSpec.sensor_site(get_dataset("berkeley-mhad"), None, "acc1") is None


def test_resident_batches_hold_the_twins(synth_pairs):
    ds = PairedDataset("utd-mhad", synth_pairs, modalities=("inertial",), transforms=ACC, train=False, virtual={})
    ds.fit_normalization()
    loader = ResidentLoader(ds, 5, None, "cpu")
    resident, reference = list(loader), list(DataLoader(ds, batch_size=5))
    assert len(resident) == len(reference) and sum(len(b["key"]) for b in resident) == len(ds)
    for a, b in zip(resident, reference):
        assert a["key"] == list(b["key"]) and torch.equal(a["label"], b["label"])
        torch.testing.assert_close(a["inertial"], b["inertial"], rtol=1e-6, atol=1e-6)


def test_a_segment_that_does_not_turn_gives_the_world_frame_result():
    """The fitted mounting rotation absorbs a constant segment frame: for a rigid sway both frames agree."""
    t_skel, t_acc = np.linspace(0, 2, 61), np.linspace(0, 2, 101)
    body = _body(t_skel, 0.1 * np.sin(2 * np.pi * t_skel))
    real = np.random.default_rng(0).normal(size=(101, 3)) * 0.1 + [0, 0, 1]
    segment = virtual_acceleration(body, real, SITE, UP, rate=50.0)
    world = virtual_acceleration(body, real, SITE, UP, rate=50.0, frame="world")
    np.testing.assert_allclose(segment, world, atol=1e-5)
    with pytest.raises(ConfigError) as err:
        VirtualInertial(get_dataset("utd-mhad"), frame="body")
    assert str(err.value) == "config key 'data.virtual_inertial.frame': 'body' is not one of segment, world"


def test_twins_need_the_modality_they_replace(synth_pairs):
    with pytest.raises(ConfigError) as err:
        PairedDataset("utd-mhad", synth_pairs, modalities=("skeleton",), virtual={})
    assert str(err.value) == ("config key 'data.virtual_inertial': its twins replace the 'inertial' clip, which the "
                              "run does not load (data.modalities: skeleton)")
