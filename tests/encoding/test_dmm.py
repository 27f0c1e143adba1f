"""Depth motion maps on synthetic clips whose motion is known, and the depth transform's ``dmm`` option."""

from __future__ import annotations

import re

import numpy as np
import pytest

import harkd.encoding  # noqa: F401  (registers the 'dmm' depth encoding, as the engine does)
from harkd.data import build_transforms
from harkd.encoding import depth_motion_maps, dmm_channels
from harkd.errors import ConfigError, InputError

SIZE = 32
FRONT, SIDE, TOP = 0, 1, 2


def square_clip(positions, depths, side=8, size=SIZE):
    """(T, size, size) uint16 clip: a ``side``-pixel square, top-left corner at ``positions[t]``, depth
    ``depths[t]`` mm, on a background of 0 (no depth), like UTD-MHAD's background-removed frames."""
    clip = np.zeros((len(positions), size, size), np.uint16)
    for t, ((y, x), z) in enumerate(zip(positions, depths)):
        clip[t, y:y + side, x:x + side] = z
    return clip


def test_sideways_motion_is_seen_from_the_front_and_the_top_but_not_the_side():
    # the square slides right 2 px per frame at constant depth; a far static pixel fixes the depth range
    clip = square_clip([(10, 4 + 2 * t) for t in range(8)], [2000] * 8)
    clip[:, 0, 0] = 3000
    maps = depth_motion_maps(clip, segments=[1], size=SIZE, z_bins=SIZE)
    assert maps.shape == (3, SIZE, SIZE) and maps.dtype == np.float32
    front, side, top = maps
    rows, cols = np.nonzero(front)
    assert set(rows) == set(range(10, 18))            # only the square's rows moved
    assert cols.min() == 4 and cols.max() == 4 + 2 * 7 + 7  # the swept columns, both edges
    assert front.max() == pytest.approx(1.0)
    assert not side.any()                              # y-z occupancy never changes
    z_rows = np.nonzero(top.any(1))[0]
    assert list(z_rows) == [0]                         # one depth bin (near) in the top view moves
    assert np.nonzero(top[0])[0].min() == 4


def test_motion_towards_the_camera_is_seen_from_every_view():
    clip = square_clip([(12, 12)] * 6, [2600 - 100 * t for t in range(6)])
    clip[:, 0, 0] = 3000
    front, side, top = depth_motion_maps(clip, segments=[1], size=SIZE, z_bins=SIZE)
    assert front[12:20, 12:20].min() > 0 and front.sum() == pytest.approx(front[12:20, 12:20].sum())
    assert side.any() and top.any()
    assert np.nonzero(side.any(0))[0].size > 1        # several depth bins visited


def test_segments_keep_the_order_of_events():
    # moves during the first half, still during the second half
    positions = [(10, 2 + 2 * t) for t in range(5)] + [(10, 10)] * 5
    clip = square_clip(positions, [2000] * 10)
    clip[:, 0, 0] = 3000
    maps = depth_motion_maps(clip, segments=[1, 2], size=SIZE, z_bins=SIZE)
    assert maps.shape == (dmm_channels(segments=[1, 2]), SIZE, SIZE) == (9, SIZE, SIZE)
    whole, first, second = maps[FRONT], maps[3 + FRONT], maps[6 + FRONT]
    assert whole.any() and first.any()
    assert not second.any()


def test_views_subset_and_order():
    clip = square_clip([(10, 4 + 2 * t) for t in range(6)], [2000] * 6)
    clip[:, 0, 0] = 3000
    all_views = depth_motion_maps(clip, segments=[1], size=SIZE)
    top_front = depth_motion_maps(clip, views=["top", "front"], segments=[1], size=SIZE)
    np.testing.assert_array_equal(top_front, all_views[[TOP, FRONT]])


def test_threshold_removes_small_depth_changes():
    rng = np.random.default_rng(0)
    clip = square_clip([(10, 10)] * 6, [2000] * 6).astype(np.float32)
    clip[:, 0, 0] = 3000
    clip[clip == 2000] += rng.uniform(-5, 5, size=int((clip == 2000).sum()))  # 5 mm sensor noise only
    noisy = depth_motion_maps(clip, views=["front"], segments=[1], size=SIZE)
    assert noisy.any()
    assert not depth_motion_maps(clip, views=["front"], segments=[1], size=SIZE, threshold=20).any()


@pytest.mark.parametrize("clip", [np.zeros((5, 20, 20), np.uint16),                 # no depth at all
                                  square_clip([(3, 3)] * 5, [2000] * 5, size=20),    # nothing moves
                                  square_clip([(3, 3)], [2000], size=20)],           # one frame
                         ids=["empty", "static", "one-frame"])
def test_no_motion_gives_zeros_not_nan(clip):
    maps = depth_motion_maps(clip, size=16)
    assert maps.shape == (12, 16, 16) and np.isfinite(maps).all() and not maps.any()


@pytest.mark.parametrize("kwargs,message", [
    (dict(views=["front", "back"]),
     "depth_motion_maps 'views' must be distinct names from ['front', 'side', 'top'], got ['front', 'back']"),
    (dict(segments=[1, 0]), "depth_motion_maps 'segments' must be positive integers, got [1, 0]"),
    (dict(size=1), "depth_motion_maps 'size' must be an integer >= 2, got 1"),
])
def test_invalid_options(kwargs, message):
    with pytest.raises(InputError, match=re.escape(message)):
        depth_motion_maps(np.zeros((3, 8, 8), np.uint16), **kwargs)


def test_nan_depth_is_refused_with_its_position():
    clip = np.full((4, 6, 6), 2000.0)
    clip[2, 1, 3] = np.nan
    with pytest.raises(InputError, match=re.escape("depth clip has 1 NaN/inf values (first at frame 2, pixel (1, 3)): "
                                                   "depth motion maps need finite depth")):
        depth_motion_maps(clip)


def test_wrong_shape_is_refused():
    with pytest.raises(InputError, match=re.escape("depth_motion_maps expects a (T, H, W) depth clip, got shape (4, 6)")):
        depth_motion_maps(np.zeros((4, 6)))


# -- the depth transform's dmm option
def test_transform_dmm_prepare_and_finish():
    t = build_transforms({"depth": {"dmm": {"segments": [1, 3]}, "size": 24}}, ["depth"])["depth"]
    clip = square_clip([(40, 30 + 3 * t) for t in range(12)], [2200] * 12, side=30, size=120)
    prepared = t.prepare(clip)
    assert prepared.shape == (12, 24, 24)
    out = t.finish(prepared, train=True)
    assert tuple(out.shape) == (12, 24, 24) and out.dtype.is_floating_point
    assert t.time_axis is None and t.unset_shape_options() == () and not t.stochastic
    assert t.cache_config()["dmm"] == {"segments": [1, 3]} and t.cache_config()["size"] == 24


@pytest.mark.parametrize("options,message", [
    ({"dmm": {"segments": [2], "colour": 1}},
     "unknown depth dmm option 'colour'"),
    ({"dmm": {}, "frames": 8}, "depth transform option 'frames' do not apply with 'dmm' (motion maps summarise every "
                               "frame): remove it"),
    ({"dmm": {}, "size": [32, 48]}, "depth transform option 'size' with 'dmm' must be one integer >= 2 (square motion "
                                    "maps), got [32, 48]"),
    ({"dmm": {"views": ["up"]}}, "depth dmm option: depth_motion_maps 'views' must be distinct names from "
                                 "['front', 'side', 'top'], got ['up']"),
    ({"dmm": [1, 3]}, "depth transform option 'dmm' must be a mapping of ['views', 'segments', 'z_bins', "
                      "'threshold'], got [1, 3]"),
])
def test_transform_dmm_config_errors(options, message):
    with pytest.raises(ConfigError, match=re.escape(message)):
        build_transforms({"depth": options}, ["depth"])


def test_paired_window_on_motion_maps_is_refused():
    t = build_transforms({"depth": {"dmm": {}}}, ["depth"])["depth"]
    with pytest.raises(ConfigError, match=re.escape(
            "data.paired_augment cuts one time window from every modality, but modality 'depth' is depth motion "
            "maps (data.modalities.depth.dmm), which have no time axis: remove data.paired_augment")):
        t.time_window(np.zeros((12, 8, 8), np.float32), 0.1, 0.9)


def test_the_dmm_option_needs_the_encoding_floor_registered():
    """The data layer imports no encoder: without ``import harkd.encoding`` the dmm option says what to do."""
    import subprocess
    import sys

    code = ("from harkd.data.transforms import DepthTransform\n"
            "from harkd.errors import ConfigError\n"
            "try:\n    DepthTransform(dmm={})\n"
            "except ConfigError as err:\n    print(err)\n"
            "import harkd.encoding\n"
            "print(DepthTransform(dmm={}).dmm_encode.__name__)\n")
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True).stdout
    assert out.splitlines() == ["the depth 'dmm' option needs the depth motion map encoding, which harkd.encoding "
                                "registers: import harkd.encoding before building the transforms (harkd's engine, "
                                "CLI and API do)", "depth_motion_maps"]


def test_dmm_augmentation_is_training_only_and_keeps_the_shape():
    import torch

    t = build_transforms({"depth": {"dmm": {}, "size": 24, "crop": "body",
                                    "augment": {"crop_scale": 0.2, "rotate": 10}}}, ["depth"])["depth"]
    clip = square_clip([(40, 30 + 3 * t) for t in range(12)], [2200] * 12, side=30, size=120)
    prepared = t.prepare(clip)
    assert t.stochastic
    plain = t.finish(prepared, train=False)
    np.testing.assert_array_equal(plain.numpy(), prepared)
    torch.manual_seed(0)
    augmented = t.finish(prepared, train=True)
    assert augmented.shape == plain.shape and not torch.equal(augmented, plain)


def test_dmm_refuses_time_augmentation():
    with pytest.raises(ConfigError, match=re.escape(
            "depth augment option 'time_jitter' does not apply with 'dmm' (the motion maps are computed once from "
            "the whole clip): use crop_scale and rotate")):
        build_transforms({"depth": {"dmm": {}, "augment": {"time_jitter": 0.1}}}, ["depth"])
