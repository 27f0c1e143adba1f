"""Batched device-side augmentation and finish (harkd.data.batched) against the per-sample transforms."""

from __future__ import annotations

import math

import numpy as np
import pytest
import torch

import harkd.encoding  # noqa: F401  (registers the inertial 'gaf' encoding, as the engine does)
from harkd.data.batched import (BatchedFinish, apply_augment, augment_inertial_batch, augment_skeleton_batch,
                                batched_unsupported, draw_augment, window_resample)
from harkd.data.timeseries import interpolate
from harkd.data.transforms import (DepthTransform, InertialTransform, ModalityTransform, SkeletonTransform,
                                   augment_inertial, augment_skeleton, build_transforms)
from harkd.errors import ConfigError, InputError

INERTIAL_AUGMENT = {"scale": 0.1, "rotate": 15, "shift": 0.1, "noise": 0.02}
SKELETON_AUGMENT = {"rotate": 15, "scale": 0.1, "shift": 0.1}


def _batch(*shape, seed=0) -> torch.Tensor:
    return torch.from_numpy(np.random.default_rng(seed).normal(size=shape).astype(np.float32))


def _gen(seed=0, device="cpu") -> torch.Generator:
    return torch.Generator(device=device).manual_seed(seed)


def _fitted(transform, batch: torch.Tensor):
    transform.fit(list(batch.numpy()))
    return transform


def _per_sample(transform, batch: torch.Tensor, train=False) -> torch.Tensor:
    return torch.stack([transform.finish(x, train=train) for x in batch.numpy()])


@pytest.mark.parametrize("transform,shape", [
    (InertialTransform(sensor="all", length=40, normalize=True, augment=INERTIAL_AUGMENT), (5, 40, 6)),
    (InertialTransform(sensor="acc", length=40), (5, 40, 3)),
    (SkeletonTransform(frames=12, center=True, normalize=True, augment=SKELETON_AUGMENT), (5, 12, 20, 3)),
    (SkeletonTransform(frames=12), (5, 12, 20, 3)),
])
def test_without_augmentation_equals_finish(transform, shape):
    x = _batch(*shape) * 3 + 1
    if transform.normalize:
        _fitted(transform, x)
    finish = BatchedFinish(transform)
    out = finish(x, train=False, generator=_gen())
    assert out.dtype == torch.float32 and out.is_contiguous()
    torch.testing.assert_close(out, _per_sample(transform, x), rtol=1e-6, atol=1e-6)
    if not transform.stochastic:  # a training set without augmentation: finish(train=True) is deterministic too
        torch.testing.assert_close(finish(x, train=True), _per_sample(transform, x, train=True), rtol=1e-6, atol=1e-6)


def test_training_finish_augments_then_normalises():
    x = _batch(8, 40, 6)
    t = _fitted(InertialTransform(sensor="all", length=40, normalize=True, augment={"scale": 0.3}), x)
    out = BatchedFinish(t)(x, train=True, generator=_gen(4))
    draw = draw_augment(x.shape, _gen(4), scale=0.3)
    expected = ((x * draw.scale.view(-1, 1, 1) - torch.from_numpy(t.mean)) / torch.from_numpy(t.std)).transpose(1, 2)
    torch.testing.assert_close(out, expected, rtol=1e-6, atol=1e-6)
    with pytest.raises(InputError) as err:
        BatchedFinish(t)(x, train=True)
    assert str(err.value) == "modality 'inertial': batched augmentation needs a torch.Generator"


def test_unfitted_normalisation_is_the_transforms_error():
    with pytest.raises(ConfigError) as err:
        BatchedFinish(SkeletonTransform(frames=8, normalize=True))
    assert str(err.value) == ("skeleton normalisation is not fitted: fit it on the training split "
                              "(PairedDataset.fit_normalization) or load fitted statistics")


def test_rotation_is_one_rigid_turn_per_sample_within_the_angle():
    x = _batch(64, 30, 20, 3)
    draw = draw_augment(x.shape, _gen(1), rotate=25)
    rot = draw.rotation
    torch.testing.assert_close(rot @ rot.transpose(1, 2), torch.eye(3).expand(64, 3, 3), atol=1e-5, rtol=0)
    torch.testing.assert_close(torch.linalg.det(rot), torch.ones(64), atol=1e-5, rtol=0)
    angle = torch.rad2deg(torch.arccos(((rot.diagonal(dim1=1, dim2=2).sum(1) - 1) / 2).clamp(-1, 1)))
    assert angle.max() <= 25 + 1e-3 and angle.max() > 20  # |angle| ~ U(0, 25) degrees
    y = apply_augment(x, draw)
    torch.testing.assert_close(y.norm(dim=-1), x.norm(dim=-1), rtol=1e-5, atol=1e-5)  # every joint, every frame
    torch.testing.assert_close(y, torch.einsum("btvj,bij->btvi", x, rot))
    assert len({tuple(r.flatten().tolist()) for r in rot}) == 64  # one independent draw per sample


def test_inertial_rotation_turns_every_sensor_alike():
    x = _batch(16, 50, 6)
    y = augment_inertial_batch(x, _gen(2), rotate=40)
    for s in (slice(0, 3), slice(3, 6)):  # acc and gyro keep their per-time-step vector lengths
        torch.testing.assert_close(y[..., s].norm(dim=-1), x[..., s].norm(dim=-1), rtol=1e-5, atol=1e-5)
    rot = draw_augment(x.shape, _gen(2), rotate=40).rotation
    torch.testing.assert_close(y, (x.reshape(16, -1, 3) @ rot.transpose(1, 2)).reshape(x.shape))
    assert draw_augment((4, 50, 4), _gen(), rotate=40).rotation is None  # channels not in 3-axis groups


def test_scale_factors_within_bounds():
    x = _batch(256, 20, 3)
    draw = draw_augment(x.shape, _gen(3), scale=0.2)
    assert draw.scale.shape == (256,) and 0.8 <= draw.scale.min() and draw.scale.max() <= 1.2
    assert draw.scale.min() < 0.82 and draw.scale.max() > 1.18  # U(0.8, 1.2): the whole range is drawn
    ratio = augment_inertial_batch(x, _gen(3), scale=0.2) / x
    torch.testing.assert_close(ratio, draw.scale.view(-1, 1, 1).expand_as(ratio), rtol=1e-5, atol=1e-5)
    skeleton = _batch(8, 10, 20, 3)
    torch.testing.assert_close(augment_skeleton_batch(skeleton, _gen(5), scale=0.2) / skeleton,
                               draw_augment(skeleton.shape, _gen(5), scale=0.2).scale.view(-1, 1, 1, 1).expand(
                                   skeleton.shape), rtol=1e-5, atol=1e-5)


@pytest.mark.parametrize("shape", [(12, 64, 6), (6, 32, 20, 3)])
def test_shift_is_a_linear_resample_of_a_sub_window(shape):
    x = _batch(*shape)
    t = shape[1]
    draw = draw_augment(x.shape, _gen(6), shift=0.2)
    assert draw.window.min() >= 0 and draw.window.max() <= 0.2 * (t - 1)
    y = apply_augment(x, draw)
    for xs, ys, (start, end) in zip(x.numpy(), y.numpy(), draw.window.tolist()):
        expected = interpolate(xs, np.arange(t), np.linspace(start, t - 1 - end, t))  # random_time_window's grid
        np.testing.assert_allclose(ys, expected, rtol=1e-4, atol=1e-4)
    ramp = torch.arange(10, dtype=torch.float32).view(1, 10, 1).repeat(2, 1, 3)
    torch.testing.assert_close(window_resample(ramp, torch.tensor([[0.0, 0.0], [1.5, 2.5]])),
                               torch.stack([torch.arange(10.0), torch.linspace(1.5, 6.5, 10)]).unsqueeze(-1).expand(
                                   2, 10, 3))


def test_noise_std_is_its_share_of_each_channels_std():
    x = _batch(64, 128, 6) * torch.tensor([0.5, 1.0, 2.0, 4.0, 8.0, 16.0])
    noise = augment_inertial_batch(x, _gen(7), noise=0.1) - x
    ratio = noise.std(dim=1) / x.std(dim=1)  # per sample and channel
    assert abs(ratio.mean().item() - 0.1) < 0.005 and ratio.std().item() < 0.02
    assert noise.mean().abs().item() < 0.01 * x.std().item()


def test_distributions_match_the_per_sample_functions():
    """Scale factors and rotation angles of the batched and per-sample functions: same ranges and moments."""
    n, x = 400, np.random.default_rng(8).normal(size=(20, 3)).astype(np.float32)
    torch.manual_seed(8)
    single = np.array([(augment_inertial(x, scale=0.3) / x).mean() for _ in range(n)])
    batched = (augment_inertial_batch(torch.from_numpy(x).expand(n, 20, 3), _gen(8), scale=0.3) /
               torch.from_numpy(x)).mean(dim=(1, 2)).numpy()
    for sample in (single, batched):  # U(0.7, 1.3): mean 1, std 0.3 / sqrt(3)
        assert abs(sample.mean() - 1) < 0.02 and abs(sample.std() - 0.3 / math.sqrt(3)) < 0.015

    def angle(y, x):  # of the rotation taking every frame of x to y
        u, _, vt = np.linalg.svd(x.reshape(-1, 3).T @ y.reshape(-1, 3))
        return np.degrees(np.arccos(np.clip((np.trace(u @ vt) - 1) / 2, -1, 1)))

    skeleton = np.random.default_rng(9).normal(size=(8, 20, 3)).astype(np.float32)
    single = np.array([angle(augment_skeleton(skeleton, rotate=30), skeleton) for _ in range(200)])
    rotated = augment_skeleton_batch(torch.from_numpy(skeleton).expand(200, 8, 20, 3), _gen(9), rotate=30).numpy()
    batched = np.array([angle(y, skeleton) for y in rotated])
    for sample in (single, batched):  # |U(-30, 30)|: U(0, 30), mean 15
        assert sample.max() <= 30 + 1e-2 and abs(sample.mean() - 15) < 1.5


def test_draws_follow_the_generator():
    x = _batch(8, 32, 6)
    a = augment_inertial_batch(x, _gen(11), **INERTIAL_AUGMENT)
    assert torch.equal(a, augment_inertial_batch(x, _gen(11), **INERTIAL_AUGMENT))
    assert not torch.allclose(a, augment_inertial_batch(x, _gen(12), **INERTIAL_AUGMENT))
    assert torch.equal(augment_inertial_batch(x, _gen(11)), x)  # no option: unchanged
    assert not torch.allclose(a, x) and a.shape == x.shape and a.device == x.device


def test_unsupported_transforms_say_why():
    only = "only inertial without gaf and skeleton transforms have one"
    t = build_transforms({"inertial": {"length": 32, "gaf": {"image_size": 16}}, "depth": {"frames": 4}},
                         ("inertial", "depth", "acc1"), {"acc1": "inertial"})
    assert batched_unsupported(t["inertial"]) == ("modality 'inertial' is encoded as gaf images, which have no "
                                                  f"batched finish: {only}")
    assert batched_unsupported(t["depth"]) == f"modality 'depth' (DepthTransform) has no batched finish: {only}"
    assert batched_unsupported(t["acc1"]) == f"modality 'acc1' (ModalityTransform) has no batched finish: {only}"
    assert batched_unsupported(SkeletonTransform(frames=8)) is None
    assert isinstance(t["depth"], DepthTransform) and type(t["acc1"]) is ModalityTransform
    with pytest.raises(InputError) as err:
        BatchedFinish(t["depth"])
    assert str(err.value) == batched_unsupported(t["depth"])


@pytest.mark.skipif(not torch.cuda.is_available(), reason="needs a CUDA device")
def test_on_cuda():
    x = _batch(8, 32, 20, 3)
    t = _fitted(SkeletonTransform(frames=32, normalize=True, augment=SKELETON_AUGMENT), x)
    finish = BatchedFinish(t, "cuda")
    out = finish(x.cuda(), train=True, generator=_gen(1, "cuda"))
    assert out.device.type == "cuda" and out.shape == (8, 3, 32, 20)
    assert torch.equal(out, finish(x.cuda(), train=True, generator=_gen(1, "cuda")))
    torch.testing.assert_close(finish(x.cuda()).cpu(), _per_sample(t, x), rtol=1e-6, atol=1e-6)
