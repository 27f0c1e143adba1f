"""Depth/RGB clip transforms: body crop, training-only clip augmentation, the rgb kind, video models on RGB."""

from __future__ import annotations

import re

import numpy as np
import pytest
import torch

from harkd.data import build_transforms
from harkd.data.transforms import DepthTransform, RgbTransform, augment_frames, deterministic_options
from harkd.errors import ConfigError, DataWarning, InputError

AUGMENT = {"crop_scale": 0.2, "rotate": 10, "depth_shift": 0.1, "time_jitter": 0.2}


def _body_clip(t=20):
    """(t, 240, 320) millimetres: a 60 x 40 person (rows 100..159, cols 200..239) on a zero background."""
    x = np.zeros((t, 240, 320), np.uint16)
    x[:, 100:160, 200:240] = 2000
    return x


# -- body crop -------------------------------------------------------------------------
def test_body_crop_fills_the_image_with_the_body_keeping_its_aspect():
    x = _body_clip()
    plain = DepthTransform(frames=4, size=30, scale="metres")
    cropped = DepthTransform(frames=4, size=30, scale="metres", crop="body")
    small = plain.finish(plain.prepare(x)).numpy()
    out = cropped.finish(cropped.prepare(x)).numpy()
    assert out.shape == small.shape == (4, 1, 30, 30)
    assert (small > 0).mean() < 0.05
    # the 60 x 40 body in its 60 x 60 square box: all rows, the middle 20 of 30 columns
    np.testing.assert_allclose(out[..., 5:25], 2.0)
    np.testing.assert_array_equal(out[..., :5], 0)
    np.testing.assert_array_equal(out[..., 25:], 0)
    with_margin = DepthTransform(frames=4, size=30, crop="body", crop_margin=0.25).prepare(x)
    np.testing.assert_array_equal(with_margin[:, :5], 0)  # 90 x 90 box: the body is its middle 60 rows
    np.testing.assert_allclose(with_margin[:, 5:25, 10:20], 2.0)


def test_body_crop_box_is_the_union_over_the_whole_clip():
    x = np.zeros((8, 40, 40), np.uint16)
    x[:4, 0:10, 0:10] = 1000  # the body walks from the top-left to the bottom-right corner
    x[4:, 30:40, 30:40] = 1000
    t = DepthTransform(frames=2, crop="body", scale="none")
    out = t.prepare(x)
    assert out.shape == (2, 40, 40)  # the 40 x 40 union box: the whole frame, both positions kept
    np.testing.assert_array_equal(out, x[[2, 6]].astype(np.float32))


def test_body_crop_of_an_all_zero_clip_keeps_the_frame_and_warns():
    t = DepthTransform(frames=2, size=8, crop="body")
    with pytest.warns(DataWarning, match=re.escape(
            "body crop: the clip has no pixel with depth > 0 (6 frames of 24 x 32); the whole frame is kept")):
        out = t.prepare(np.zeros((6, 24, 32), np.uint16))
    assert out.shape == (2, 8, 8) and not out.any()


def test_crop_enters_the_cache_key_only_when_on():
    base = DepthTransform(frames=8, size=[64, 64]).cache_config()
    assert "crop" not in base and base == DepthTransform(frames=8, size=[64, 64], crop="none").cache_config()
    body = DepthTransform(frames=8, size=[64, 64], crop="body", crop_margin=0.1).cache_config()
    assert body == {**base, "crop": "body", "crop_margin": 0.1}


# -- option checking ---------------------------------------------------------------------
@pytest.mark.parametrize("modality, options, message", [
    ("depth", {"crop": "person"}, "depth transform option 'crop' must be one of ['none', 'body'], got 'person'"),
    ("depth", {"crop_margin": 0.1},
     "depth transform option 'crop_margin' applies to the body crop: set crop: body, or remove crop_margin"),
    ("depth", {"crop": "body", "crop_margin": -0.1},
     "depth transform option 'crop_margin' must be a finite number >= 0, got -0.1"),
    ("depth", {"augment": {"rotation": 5}}, "unknown depth augment option 'rotation'; did you mean 'rotate'? "
                                            "(valid: crop_scale, depth_shift, rotate, time_jitter)"),
    ("depth", {"augment": {"flip": True}}, "unknown depth augment option 'flip' "
                                           "(valid: crop_scale, depth_shift, rotate, time_jitter)"),
    ("depth", {"augment": {"rotate": -5}}, "depth augment option 'rotate' must be a number >= 0, got -5"),
    ("depth", {"augment": {"crop_scale": 1}}, "depth augment option 'crop_scale' must be below 1, got 1"),
    ("depth", {"augment": {"time_jitter": 0.5}}, "depth augment option 'time_jitter' must be below 0.5, got 0.5"),
    ("depth", {"augment": [0.1]}, "depth augment option options must be a mapping, got list"),
    ("rgb", {"crop": "body"}, "rgb transform option 'crop': 'body' finds the body by depth > 0, which RGB frames "
                              "do not have; use crop: none (the body crop is for depth clips)"),
    ("rgb", {"augment": {"depth_shift": 0.1}}, "rgb augment option 'depth_shift' shifts depth values, which RGB "
                                               "frames do not have: remove it (crop_scale, rotate and time_jitter "
                                               "apply to RGB)"),
    ("rgb", {"augment": {"flip": True}}, "unknown rgb augment option 'flip' (valid: crop_scale, rotate, time_jitter)"),
    ("rgb", {"scale": "metres"}, "unknown rgb transform option 'scale' (valid: augment, crop, frames, interpolation, "
                                 "load, random_offsets, size)"),
])
def test_option_errors_are_exact(modality, options, message):
    with pytest.raises(ConfigError) as err:
        build_transforms({modality: options}, (modality,))
    assert str(err.value) == message


# -- augmentation: training only ----------------------------------------------------------
def _moving_clip(t=40):
    """A bar that moves right frame by frame: every frame differs, frame ``i`` has value ``1000 + i``."""
    x = np.zeros((t, 48, 64), np.uint16)
    for i in range(t):
        x[i, 10:40, 5 + i // 2: 15 + i // 2] = 1000 + i
    return x


def test_augmentation_is_training_only_and_evaluation_is_the_plain_path():
    x = _moving_clip()
    plain = DepthTransform(frames=4, size=24, crop="body")
    aug = DepthTransform(frames=4, size=24, crop="body", augment=AUGMENT)
    assert aug.stochastic and not plain.stochastic and aug.keeps_clip
    assert deterministic_options({"frames": 4, "augment": AUGMENT}) == {"frames": 4}
    prepared = aug.prepare(x)
    assert prepared.shape == (40, 24, 24)  # time jitter: every frame cached, the segments sampled in finish
    expected = plain.finish(plain.prepare(x))
    for _ in range(2):
        assert torch.equal(aug.finish(prepared, train=False), expected)
    torch.manual_seed(3)
    a = aug.finish(prepared, train=True)
    assert a.shape == expected.shape and not torch.equal(a, expected)
    torch.manual_seed(3)
    assert torch.equal(aug.finish(prepared, train=True), a)  # torch's generator: a seeded worker replays it


def test_time_jitter_shifts_and_stretches_the_segment_sampling():
    x = np.arange(40, dtype=np.uint16)[:, None, None] * np.ones((1, 2, 2), np.uint16)
    t = DepthTransform(frames=4, scale="none", augment={"time_jitter": 0.25})
    prepared = t.prepare(x)
    np.testing.assert_array_equal(t.finish(prepared)[:, 0, 0, 0].numpy(), [5, 15, 25, 35])
    torch.manual_seed(0)
    drawn = {tuple(t.finish(prepared, train=True)[:, 0, 0, 0].int().tolist()) for _ in range(30)}
    assert len(drawn) > 5
    for frames in drawn:
        assert list(frames) == sorted(frames)
        # the window drops up to 10 frames at each end; centres of 4 segments of a 20..40-frame window
        assert 2 <= frames[0] <= 5 + 10 and 35 - 10 <= frames[-1] <= 37


def test_time_jitter_with_random_offsets_and_without_frames():
    x = np.arange(40, dtype=np.uint16)[:, None, None] * np.ones((1, 2, 2), np.uint16)
    both = DepthTransform(frames=4, scale="none", random_offsets=True, augment={"time_jitter": 0.2})
    assert both.finish(both.prepare(x), train=True).shape == (4, 1, 2, 2)
    every = DepthTransform(scale="none", augment={"time_jitter": 0.2})
    torch.manual_seed(1)
    out = every.finish(every.prepare(x), train=True)[:, 0, 0, 0].numpy()
    assert out.shape == (40,) and np.all(np.diff(out) >= 0) and not np.array_equal(out, np.arange(40))


def test_spatial_augmentation_is_the_same_for_every_frame():
    frame = np.zeros((32, 32), np.float32)
    frame[8:24, 12:20] = 2.0
    x = np.repeat(frame[None], 6, axis=0)
    torch.manual_seed(0)
    y = augment_frames(x, crop_scale=0.3, rotate=15, depth_shift=0.2)
    assert y.shape == x.shape and not np.allclose(y, x)
    for f in y[1:]:
        np.testing.assert_array_equal(f, y[0])
    rgb = np.repeat(np.stack([frame, frame / 2, frame / 4])[None], 3, axis=0)  # (F, 3, H, W)
    torch.manual_seed(0)
    z = augment_frames(rgb, crop_scale=0.3, rotate=15)
    np.testing.assert_allclose(z[:, 1], z[:, 0] / 2, atol=1e-6)  # one warp for every channel of every frame


def test_depth_shift_moves_the_body_only():
    x = np.zeros((3, 16, 16), np.float32)
    x[:, 4:12, 4:12] = 2.5
    shifts = set()
    for seed in range(10):
        torch.manual_seed(seed)
        y = augment_frames(x, depth_shift=0.3)
        np.testing.assert_array_equal(y[x == 0], 0)
        body = np.unique(y[x > 0])
        assert len(body) == 1 and abs(body[0] - 2.5) <= 0.3 + 1e-6
        shifts.add(round(float(body[0]), 6))
    assert len(shifts) > 1


def test_rotation_turns_a_bar_by_at_most_rotate_degrees():
    x = np.zeros((1, 65, 65), np.float32)
    x[0, 30:35, 8:57] = 1.0  # a horizontal bar through the centre

    def angle(img):
        ys, xs = np.nonzero(img > 0.5)
        cov = np.cov(np.stack([xs, ys]))
        vx, vy = np.linalg.eigh(cov)[1][:, -1]
        return np.degrees(np.arctan2(vy, vx)) % 180

    angles = []
    for seed in range(12):
        torch.manual_seed(seed)
        a = angle(augment_frames(x, rotate=20)[0])
        angles.append(min(a, 180 - a))
    assert max(angles) <= 20 + 1.5 and max(angles) > 5


def test_crop_scale_zooms_in_by_at_most_its_factor():
    x = np.zeros((1, 64, 64), np.float32)
    x[0, 24:40, 24:40] = 1.0  # a centred 16 x 16 body: inside every sub-box
    areas = []
    for seed in range(12):
        torch.manual_seed(seed)
        areas.append(float(augment_frames(x, crop_scale=0.3)[0].sum()) / 256)
    assert min(areas) >= 1 - 0.05 and max(areas) <= 1 / 0.7 ** 2 + 0.05 and max(areas) > 1.1
    np.testing.assert_array_equal(augment_frames(x), x)  # no option: unchanged


# -- RGB ---------------------------------------------------------------------------------
def _rgb_clip(t=12, h=36, w=48, seed=0):
    """(t, h, w, 3) uint8: a red left half, a green square moving right, blue noise."""
    rng = np.random.default_rng(seed)
    x = np.zeros((t, h, w, 3), np.uint8)
    x[:, :, : w // 2, 0] = 200
    for i in range(t):
        x[i, 10:22, 2 + 2 * i: 14 + 2 * i, 1] = 250
    x[..., 2] = rng.integers(0, 30, size=(t, h, w))
    return x


def test_rgb_transform_output_layout_and_range():
    x = _rgb_clip()
    t = build_transforms({"rgb": {"frames": 4, "size": [18, 24]}}, ("rgb",))["rgb"]
    assert isinstance(t, RgbTransform) and not t.stochastic
    out = t.finish(t.prepare(x))
    assert out.shape == (4, 3, 18, 24) and out.dtype == torch.float32
    assert 0 <= out.min() and out.max() <= 1
    np.testing.assert_allclose(out[:, 0, :, :12].numpy(), 200 / 255, atol=1e-6)  # red stays in channel 0, left
    np.testing.assert_array_equal(out[:, 0, :, 12:].numpy(), 0)
    full = RgbTransform(frames=4).finish(RgbTransform(frames=4).prepare(x))
    np.testing.assert_allclose(full.numpy(), x[[1, 4, 7, 10]].transpose(0, 3, 1, 2) / 255, atol=1e-6)
    with pytest.raises(InputError, match=re.escape(
            "rgb transform expects (T, H, W, 3) RGB frames, got shape (4, 8, 8)")):
        t.prepare(np.zeros((4, 8, 8), np.uint8))


def test_rgb_augmentation_is_training_only():
    x = _rgb_clip()
    aug = RgbTransform(frames=4, size=16, random_offsets=True,
                       augment={"crop_scale": 0.2, "rotate": 10, "time_jitter": 0.2})
    plain = RgbTransform(frames=4, size=16)
    prepared = aug.prepare(x)
    assert aug.stochastic and prepared.shape == (12, 3, 16, 16)
    assert torch.equal(aug.finish(prepared), plain.finish(plain.prepare(x)))
    torch.manual_seed(0)
    assert not torch.equal(aug.finish(prepared, train=True), aug.finish(prepared))


def test_rgb_video_file_through_the_reader_and_dataset(tmp_path):
    pytest.importorskip("av", reason="writing and reading an .avi needs PyAV (the 'video' extra)")
    from harkd.data import PairedDataset
    from test_video import write_avi

    (tmp_path / "RGB").mkdir()
    for key in ("a1_s1_t1", "a2_s1_t1"):
        write_avi(tmp_path / "RGB" / f"{key}_color.avi", _rgb_clip())
    ds = PairedDataset("utd-mhad", tmp_path, modalities=("rgb",), transforms={"rgb": {"frames": 4, "size": 16}})
    sample = ds[0]
    assert sample["rgb"].shape == (4, 3, 16, 16) and sample["rgb"].dtype == torch.float32
    red_left = sample["rgb"][:, 0, :, :6].mean()
    assert abs(float(red_left) - 200 / 255) < 0.08 and float(sample["rgb"][:, 0, :, 10:].mean()) < 0.1


@pytest.mark.parametrize("name, args", [
    ("tsn", dict(width=4, depths=(1, 1), stem="small")),
    ("trn", dict(width=4, depths=(1, 1), stem="small", head=dict(semantic_dim=6), relation_dim=8)),
    ("r2plus1d", dict(width=4, depths=(1, 1))),
])
def test_video_models_train_on_transformed_rgb_clips(name, args):
    from harkd.models import create_model

    t = RgbTransform(frames=4, size=16, augment={"crop_scale": 0.2, "rotate": 10, "time_jitter": 0.1})
    clips = [t.prepare(_rgb_clip(seed=s)) for s in range(4)]
    torch.manual_seed(0)
    model = create_model(name, num_classes=3, in_chans=3, num_segments=4, **args).train()
    opt = torch.optim.SGD(model.parameters(), lr=0.05)
    labels = torch.tensor([0, 1, 2, 0])
    for _ in range(2):
        batch = torch.stack([t.finish(c, train=True) for c in clips])
        assert batch.shape == (4, 4, 3, 16, 16)
        loss = torch.nn.functional.cross_entropy(model(batch), labels)
        assert torch.isfinite(loss)
        opt.zero_grad()
        loss.backward()
        opt.step()
    with torch.no_grad():
        out = model.eval()(torch.stack([t.finish(c) for c in clips]))
    assert out.shape == (4, 3) and torch.isfinite(out).all()


# -- through the CLI ----------------------------------------------------------------------
def _clip_config(tmp_path, root, depth):
    import yaml

    cfg = {"name": "clip", "seed": 0, "output_dir": str(tmp_path / "runs"),
           "data": {"dataset": "utd-mhad", "root": str(root), "cache": False, "modalities": {"depth": depth}},
           "model": {"name": "r2plus1d", "input": "depth",
                     "args": {"in_chans": 1, "num_segments": 4, "width": 4, "depths": [1, 1]}},
           "schedule": {"name": "constant"}, "train": {"epochs": 1, "batch_size": 8}}
    path = tmp_path / "clip.yaml"
    path.write_text(yaml.safe_dump(cfg))
    return path


def test_cli_trains_r2plus1d_on_cropped_augmented_depth_clips(tmp_path, synth_utd, capsys):
    from harkd.cli.main import main

    depth = {"frames": 4, "size": [16, 16], "crop": "body", "crop_margin": 0.1, "augment": AUGMENT}
    rc = main(["train", str(_clip_config(tmp_path, synth_utd, depth)), "--evaluate", "none"])
    out, err = capsys.readouterr()
    assert rc == 0 and "Traceback" not in err and "epoch 1/1" in err + out
    assert (tmp_path / "runs" / "clip" / "best.pt").is_file()


def test_cli_reports_a_bad_clip_option_on_one_line(tmp_path, synth_utd, capsys):
    from harkd.cli.main import main

    rc = main(["train", str(_clip_config(tmp_path, synth_utd, {"frames": 4, "augment": {"flip": 1}}))])
    _, err = capsys.readouterr()
    assert rc == 2 and "Traceback" not in err
    assert err.strip() == ("harkd: error: unknown depth augment option 'flip' "
                           "(valid: crop_scale, depth_shift, rotate, time_jitter)")
