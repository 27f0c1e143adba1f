"""Training-time inertial and skeleton augmentation: validation messages, physics of each op, train-only."""

from __future__ import annotations

import numpy as np
import pytest
import torch

import harkd.encoding  # noqa: F401  (registers the inertial 'gaf' encoding, as the engine does)
from harkd.data import build_transforms
from harkd.data.transforms import InertialTransform, SkeletonTransform, augment_inertial, augment_skeleton
from harkd.errors import ConfigError


def _clip(t=64, c=6, seed=0):
    return np.random.default_rng(seed).normal(size=(t, c)).astype(np.float32)


@pytest.mark.parametrize("augment,message", [
    ({"rotation": 10}, "unknown inertial augment option 'rotation'; did you mean 'rotate'? "
                       "(valid: noise, rotate, scale, shift)"),
    ({"scale": -0.1}, "inertial augment option 'scale' must be a number >= 0, got -0.1"),
    ({"noise": "lots"}, "inertial augment option 'noise' must be a number >= 0, got 'lots'"),
    ({"rotate": True}, "inertial augment option 'rotate' must be a number >= 0, got True"),
    ({"shift": 0.5}, "inertial augment option 'shift' must be below 0.5, got 0.5"),
    ([0.1], "inertial augment option options must be a mapping, got list"),
])
def test_augment_config_errors(augment, message):
    with pytest.raises(ConfigError) as err:
        build_transforms({"inertial": {"augment": augment}}, ("inertial",))
    assert str(err.value) == message


def test_rotation_turns_every_sensor_alike_and_keeps_norms():
    x = _clip()
    torch.manual_seed(0)
    y = augment_inertial(x, rotate=40)
    for s in (slice(0, 3), slice(3, 6)):  # acc and gyro keep their vector lengths
        np.testing.assert_allclose(np.linalg.norm(y[:, s], axis=1), np.linalg.norm(x[:, s], axis=1), rtol=1e-5)
    # one rotation for the whole clip and both sensors: y = x R^T with the same orthogonal R
    rot, *_ = np.linalg.lstsq(np.concatenate([x[:, :3], x[:, 3:]]), np.concatenate([y[:, :3], y[:, 3:]]), rcond=None)
    np.testing.assert_allclose(rot @ rot.T, np.eye(3), atol=1e-4)
    assert not np.allclose(y, x)


def test_scale_shift_noise():
    x = _clip(c=3)
    torch.manual_seed(1)
    y = augment_inertial(x, scale=0.3)
    ratio = y / x
    assert np.allclose(ratio, ratio.flat[0], rtol=1e-5) and 0.7 <= ratio.flat[0] <= 1.3
    ramp = np.repeat(np.arange(100, dtype=np.float32)[:, None], 3, axis=1)
    z = augment_inertial(ramp, shift=0.2)
    assert z.shape == ramp.shape and np.all(np.diff(z[:, 0]) > 0)  # same length, time order kept
    assert 0 <= z[0, 0] <= 0.2 * 99 + 1e-4 and 99 - 0.2 * 99 - 1e-4 <= z[-1, 0] <= 99
    n = augment_inertial(x, noise=0.1) - x
    assert 0.05 < n.std() < 0.15
    np.testing.assert_array_equal(augment_inertial(x), x)  # no option: unchanged


def test_augmentation_is_seeded_and_train_only():
    t = InertialTransform(sensor="all", length=32, augment={"scale": 0.2, "rotate": 20, "shift": 0.1, "noise": 0.05})
    assert t.stochastic and not InertialTransform(augment={"scale": 0}).stochastic
    x = t.prepare(_clip(t=80))
    np.testing.assert_array_equal(t.finish(x, train=False).numpy(), x.T)
    torch.manual_seed(3)
    a = t.finish(x, train=True).numpy()
    torch.manual_seed(3)
    b = t.finish(x, train=True).numpy()
    np.testing.assert_array_equal(a, b)
    assert not np.allclose(a, x.T)
    gaf = InertialTransform(sensor="acc", length=32, augment={"rotate": 20}, gaf={"image_size": 16})
    assert gaf.finish(gaf.prepare(_clip(t=80, c=3)), train=True).shape == (3, 16, 16)


def test_skeleton_augment_config_errors():
    with pytest.raises(ConfigError) as err:
        build_transforms({"skeleton": {"augment": {"noise": 0.1}}}, ("skeleton",))
    assert str(err.value) == "unknown skeleton augment option 'noise' (valid: rotate, scale, shift)"
    with pytest.raises(ConfigError) as err:
        build_transforms({"skeleton": {"augment": {"shift": 0.7}}}, ("skeleton",))
    assert str(err.value) == "skeleton augment option 'shift' must be below 0.5, got 0.7"


def test_skeleton_rotation_is_rigid_and_train_only():
    x = np.random.default_rng(4).normal(size=(40, 20, 3)).astype(np.float32)
    torch.manual_seed(0)
    y = augment_skeleton(x, rotate=30)
    bones = lambda s: np.linalg.norm(s[:, 1:] - s[:, :-1], axis=-1)  # noqa: E731
    np.testing.assert_allclose(bones(y), bones(x), rtol=1e-4, atol=1e-5)  # distances between joints kept
    assert not np.allclose(y, x)
    z = augment_skeleton(x, scale=0.2)
    ratio = z / x
    assert np.allclose(ratio, ratio.flat[0], rtol=1e-4) and 0.8 <= ratio.flat[0] <= 1.2
    assert augment_skeleton(x, shift=0.2).shape == x.shape
    t = SkeletonTransform(frames=16, center=True, augment={"rotate": 15, "scale": 0.1, "shift": 0.1})
    assert t.stochastic and not SkeletonTransform(frames=16).stochastic
    prepared = t.prepare(x)
    np.testing.assert_array_equal(t.finish(prepared, train=False).numpy(), prepared.transpose(2, 0, 1))
    torch.manual_seed(5)
    a = t.finish(prepared, train=True)
    torch.manual_seed(5)
    assert a.shape == (3, 16, 20) and torch.equal(a, t.finish(prepared, train=True))
    assert not np.allclose(a.numpy(), prepared.transpose(2, 0, 1))
