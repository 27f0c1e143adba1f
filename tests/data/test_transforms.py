"""Per-modality transforms: config validation, time resampling, fitting, depth sampling."""

from __future__ import annotations

import json

import numpy as np
import pytest

import harkd.encoding  # noqa: F401  (registers the inertial 'gaf' encoding, as the engine does)
from harkd.data import build_transforms, resample_time, segment_indices
from harkd.data.transforms import DepthTransform, InertialTransform, SkeletonTransform
from harkd.errors import ConfigError


def test_resample_by_normalised_time():
    x = np.arange(5, dtype=np.float32)[:, None]           # 5 samples over the clip
    np.testing.assert_allclose(resample_time(x, 9)[:, 0], np.linspace(0, 4, 9))
    y = np.arange(11, dtype=np.float32)[:, None] * 0.4     # another rate, same clip
    np.testing.assert_allclose(resample_time(y, 9)[:, 0], np.linspace(0, 4, 9), atol=1e-6)
    assert resample_time(np.ones((1, 20, 3)), 4).shape == (4, 20, 3)


def test_segment_indices():
    np.testing.assert_array_equal(segment_indices(80, 8), [5, 15, 25, 35, 45, 55, 65, 75])
    np.testing.assert_array_equal(segment_indices(80, 8, np.zeros(8)), np.arange(0, 80, 10))
    assert segment_indices(3, 8).max() == 2 and segment_indices(3, 8).min() == 0


@pytest.mark.parametrize("config,message", [
    ({"inertial": {"lenght": 128}}, r"unknown inertial transform option 'lenght'; did you mean 'length'\?"),
    ({"skeletn": {}}, r"unknown transform modality 'skeletn'; did you mean 'skeleton'\?"),
    ({"depth": {"frams": 8}}, r"unknown depth transform option 'frams'; did you mean 'frames'\?"),
    ({"inertial": {"gaf": {"imagesize": 64}}}, r"unknown inertial gaf option 'imagesize'; did you mean 'image_size'\?"),
    ({"inertial": {"length": 0}}, r"'length' must be an integer >= 2 \(a series needs at least 2 samples\), got 0"),
    ({"inertial": {"sensor": "mag"}}, r"'sensor' must be one of \['acc', 'gyro', 'all'\], got 'mag'"),
    ({"depth": {"size": [1, 2, 3]}}, r"'size' must be \[height, width\]"),
    ({"depth": {"scale": "cm"}}, r"'scale' must be one of"),
    ({"inertial": {"remove_mean": "yes"}}, r"^inertial transform option 'remove_mean' must be true or false, got 'yes'$"),
])
def test_config_errors(config, message):
    with pytest.raises(ConfigError, match=message):
        build_transforms(config, ("inertial", "skeleton", "depth"))


@pytest.mark.parametrize("config, message", [
    ({"inertial": {"length": 1}},
     "inertial transform option 'length' must be an integer >= 2 (a series needs at least 2 samples), got 1"),
    ({"inertial": {"length": 2.5}},
     "inertial transform option 'length' must be an integer >= 2 (a series needs at least 2 samples), got 2.5"),
    ({"skeleton": {"frames": 1}},
     "skeleton transform option 'frames' must be an integer >= 2 (a series needs at least 2 samples), got 1"),
    ({"inertial": {"length": 32, "gaf": {"image_size": 1}}},
     "inertial gaf option 'image_size' must be an integer >= 2 (a 1 x 1 image holds no angle pairs), got 1"),
    ({"inertial": {"length": 32, "gaf": {"image_size": 64}}},
     "inertial gaf option 'image_size' (64) must not exceed the inertial option 'length' (32): "
     "the image is N x N over at most 'length' samples"),
    ({"depth": {"frames": 0}}, "depth transform option 'frames' must be a positive integer, got 0"),
    ({"depth": {"size": 1.5}}, "depth transform option 'size' must be [height, width], got 1.5"),
    ({"depth": {"size": True}}, "depth transform option 'size' must be [height, width], got True"),
    ({"depth": {"size": [0, 8]}}, "depth transform option 'size' must be a positive integer, got 0"),
    ({"inertial": {"length": 100_001}}, "inertial transform option 'length' must be at most 100000, got 100001"),
    ({"skeleton": {"frames": 10**8}}, "skeleton transform option 'frames' must be at most 100000, got 100000000"),
    ({"depth": {"frames": 10**9}}, "depth transform option 'frames' must be at most 100000, got 1000000000"),
    ({"depth": {"frames": 8, "size": [64, 10**6]}}, "depth transform option 'size' must be at most 4096, got 1000000"),
    ({"inertial": {"length": 64, "augment": {"scale": 1e308}}},
     "inertial augment option 'scale' must be at most 1, got 1e+308"),  # U(1 - scale, 1 + scale) would flip the sign
    ({"inertial": {"length": 64, "augment": {"rotate": 720}}}, "inertial augment option 'rotate' must be at most 180, "
                                                                "got 720"),
    ({"inertial": {"length": 64, "augment": {"noise": 1e6}}},
     "inertial augment option 'noise' must be at most 10, got 1000000.0"),
    ({"skeleton": {"frames": 8, "augment": {"rotate": float("inf")}}},
     "skeleton augment option 'rotate' must be at most 180, got inf"),
    ({"depth": {"frames": 8, "augment": {"depth_shift": 1e308}}},
     "depth augment option 'depth_shift' must be at most 1000000, got 1e+308"),
    ({"depth": {"frames": 8, "crop": "body", "crop_margin": 1e308}},
     "depth transform option 'crop_margin' must be at most 1, got 1e+308"),
    ({"inertial": {"normalize": "maybe"}}, "inertial transform option 'normalize' must be true or false, got 'maybe'"),
    ({"skeleton": {"normalize": 1}}, "skeleton transform option 'normalize' must be true or false, got 1"),
    ({"skeleton": {"center": "hip"}},
     "skeleton transform option 'center' must be true/false or a joint index >= 0, got 'hip'"),
    ({"depth": {"random_offsets": "yes"}}, "depth transform option 'random_offsets' must be true or false, got 'yes'"),
])
def test_size_options_out_of_range_name_the_key(config, message):
    with pytest.raises(ConfigError) as err:
        build_transforms(config, ("inertial", "skeleton", "depth"))
    assert str(err.value) == message


def test_unset_shape_options_name_what_a_batch_needs():
    t = build_transforms({"inertial": {}, "skeleton": {}, "depth": {"frames": 4}}, ("inertial", "skeleton", "depth"))
    assert [t[m].unset_shape_options() for m in ("inertial", "skeleton", "depth")] == [("length",), ("frames",), ("size",)]
    fixed = build_transforms({"inertial": {"gaf": {"image_size": 16}}, "skeleton": {"frames": 8},
                              "depth": {"frames": 4, "size": 8}}, ("inertial", "skeleton", "depth"))
    assert all(transform.unset_shape_options() == () for transform in fixed.values())


def test_smallest_valid_sizes():
    t = build_transforms({"inertial": {"length": 2, "gaf": {"image_size": 2}}, "skeleton": {"frames": 2},
                          "depth": {"frames": 1, "size": 8}}, ("inertial", "skeleton", "depth"))
    assert t["inertial"].length == 2 and t["skeleton"].frames == 2 and t["depth"].size == (8, 8)


def test_inertial_fit_normalise_and_serialise():
    t = InertialTransform(length=16, normalize=True, sensor="acc")
    assert t.load_options() == {"sensor": "acc"}
    rng = np.random.default_rng(0)
    clips = [t.prepare(rng.normal(3.0, 2.0, size=(n, 3))) for n in (40, 70, 100)]
    with pytest.raises(ConfigError, match="inertial normalisation is not fitted"):
        t.finish(clips[0])
    t.fit(clips)
    out = np.concatenate([t.finish(c).numpy() for c in clips], axis=1)  # channels-first (3, length)
    assert out.shape == (3, 48)
    np.testing.assert_allclose(out.mean(1), 0, atol=1e-5)
    np.testing.assert_allclose(out.std(1), 1, atol=1e-4)
    state = json.loads(json.dumps(t.state_dict()))
    t2 = InertialTransform(length=16, normalize=True, sensor="acc")
    t2.load_state_dict(state)
    np.testing.assert_allclose(t2.finish(clips[1]).numpy(), t.finish(clips[1]).numpy())


def test_remove_mean_drops_each_clips_static_offset():
    rng = np.random.default_rng(0)
    motion = rng.normal(size=(50, 3)).astype(np.float32)
    mounted = motion + np.array([0.9, -0.4, 0.2], dtype=np.float32)  # the same motion, sensor sat another way
    t = InertialTransform(length=32, remove_mean=True)
    a, b = t.prepare(motion), t.prepare(mounted)
    np.testing.assert_allclose(a.mean(axis=0), 0, atol=1e-6)
    np.testing.assert_allclose(a, b, atol=1e-5)
    np.testing.assert_allclose(a, resample_time(motion, 32) - resample_time(motion, 32).mean(0), atol=1e-6)
    assert t.cache_config() != InertialTransform(length=32).cache_config()
    assert "remove_mean" not in InertialTransform(length=32).cache_config()  # older cache entries stay valid


def test_skeleton_centring():
    x = np.random.default_rng(0).normal(size=(30, 20, 3)).astype(np.float32)
    out = SkeletonTransform(frames=8, center=True).prepare(x)
    assert out.shape == (8, 20, 3)
    np.testing.assert_allclose(out[:, 3], 0, atol=1e-6)  # hip_center at the origin
    model_ready = SkeletonTransform(frames=8, center=True).finish(out)
    assert model_ready.shape == (3, 8, 20)  # (C, T, V) for ST-GCN
    np.testing.assert_array_equal(model_ready.numpy(), out.transpose(2, 0, 1))


def test_depth_pipeline():
    x = np.full((20, 240, 320), 2000, np.uint16)
    x[:, :, :160] = 0
    t = DepthTransform(frames=4, size=[60, 80], scale="metres")
    out = t.finish(t.prepare(x))
    assert out.shape == (4, 1, 60, 80) and out.dtype.is_floating_point  # (frames, C, H, W)
    np.testing.assert_allclose(out[..., 40:].numpy(), 2.0)
    np.testing.assert_allclose(out[..., :40].numpy(), 0.0)
    assert DepthTransform(scale="max").prepare(x).max() == 1.0
    bil = DepthTransform(size=30, interpolation="bilinear").prepare(x[:2])
    assert bil.shape == (2, 30, 30)


def test_depth_random_offsets_train_only():
    x = np.arange(40, dtype=np.uint16)[:, None, None] * np.ones((1, 4, 4), np.uint16)
    t = DepthTransform(frames=4, random_offsets=True, scale="none")
    prepared = t.prepare(x)
    assert prepared.shape[0] == 40  # all frames cached, sampling afterwards
    eval_frames = t.finish(prepared, train=False)[:, 0, 0, 0].numpy()
    np.testing.assert_array_equal(eval_frames, [5, 15, 25, 35])
    train_frames = {tuple(t.finish(prepared, train=True)[:, 0, 0, 0].numpy()) for _ in range(20)}
    assert len(train_frames) > 1
    for frames in train_frames:
        assert all(10 * i <= f < 10 * (i + 1) for i, f in enumerate(frames))


def test_gaf_output():
    t = InertialTransform(sensor="all", length=32, gaf={"image_size": 16, "method": "summation"})
    out = t.finish(t.prepare(np.random.default_rng(0).normal(size=(100, 6))))
    assert tuple(out.shape) == (6, 16, 16)


def test_gaf_dataset_scaling_keeps_amplitude_and_serialises():
    base = np.sin(np.linspace(0, 6, 100))[:, None] * np.ones((1, 3))
    quiet, loud = 0.2 * base, 1.0 * base
    per_sample = InertialTransform(sensor="acc", length=32, gaf={"image_size": 16})
    np.testing.assert_allclose(per_sample.finish(per_sample.prepare(quiet)).numpy(),
                               per_sample.finish(per_sample.prepare(loud)).numpy(), atol=1e-5)  # amplitude lost
    t = InertialTransform(sensor="acc", length=32, gaf={"image_size": 16, "scaling": "dataset"})
    assert t.needs_fit
    with pytest.raises(ConfigError, match="inertial gaf scaling 'dataset' is not fitted"):
        t.finish(t.prepare(quiet))
    t.fit([t.prepare(quiet), t.prepare(loud)])
    lo, hi = t.gaf_range
    np.testing.assert_allclose(hi, np.percentile(np.concatenate([t.prepare(quiet), t.prepare(loud)]), 99.5, axis=0), rtol=1e-5)
    a, b = t.finish(t.prepare(quiet)).numpy(), t.finish(t.prepare(loud)).numpy()
    assert np.abs(a - b).max() > 0.3  # amplitude kept
    t2 = InertialTransform(sensor="acc", length=32, gaf={"image_size": 16, "scaling": "dataset"})
    t2.load_state_dict(json.loads(json.dumps(t.state_dict())))
    np.testing.assert_array_equal(t2.finish(t2.prepare(loud)).numpy(), b)
    with pytest.raises(ConfigError, match=r"inertial gaf option 'scaling' must be one of \['per_sample', 'dataset'\]"):
        InertialTransform(gaf={"scaling": "global"})


def test_the_gaf_option_needs_the_encoding_floor_registered():
    """The data layer imports no encoder: without ``import harkd.encoding`` the gaf option says what to do."""
    import subprocess
    import sys

    code = ("from harkd.data.transforms import InertialTransform\n"
            "from harkd.errors import ConfigError\n"
            "try:\n    InertialTransform(length=32, gaf={'image_size': 16})\n"
            "except ConfigError as err:\n    print(err)\n"
            "import harkd.encoding\n"
            "print(InertialTransform(length=32, gaf={'image_size': 16}).gaf_encode.__name__)\n")
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True).stdout
    assert out.splitlines() == ["the inertial 'gaf' option needs the GAF encoding, which harkd.encoding registers: "
                                "import harkd.encoding before building the transforms (harkd's engine, CLI and API do)",
                                "gaf_channels"]
