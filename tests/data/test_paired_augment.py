"""data.paired_augment: one time window per recording, shared by all its modalities on normalised time."""

from __future__ import annotations

import re

import numpy as np
import pytest
import torch

from harkd.data import PairedDataset, get_dataset
from harkd.engine.config import load_config
from harkd.errors import ConfigError

from utdfiles import write_mat

TRANSFORMS = {"inertial": {"sensor": "acc", "length": 64}, "skeleton": {"frames": 32},
              "depth": {"size": [4, 4], "scale": "none"}}


def _write_clock(root, key, inertial=60, skeleton=25, depth=11):
    """Every inertial channel, skeleton coordinate and depth pixel equals the clip's normalised time."""
    write_mat(root / "Inertial" / f"{key}_inertial.mat", d_iner=np.repeat(np.linspace(0, 1, inertial)[:, None], 6, 1))
    write_mat(root / "Skeleton" / f"{key}_skeleton.mat",
              d_skel=np.broadcast_to(np.linspace(0, 1, skeleton), (20, 3, skeleton)).copy())
    frames = np.broadcast_to((np.linspace(0, 1000, depth)).astype(np.uint16), (240, 320, depth)).copy()
    write_mat(root / "Depth" / f"{key}_depth.mat", d_depth=frames)


def _dataset(tmp_path, shift, train=True):
    _write_clock(tmp_path, "a1_s1_t1")
    _write_clock(tmp_path, "a2_s1_t1", inertial=90, skeleton=40, depth=7)
    return PairedDataset("utd-mhad", tmp_path, modalities=("inertial", "skeleton", "depth"),
                         transforms=TRANSFORMS, train=train, paired_shift=shift)


def _clock(sample):
    """Each modality's per-step normalised time: inertial (C, T), skeleton (3, T, V), depth (F, 1, H, W)."""
    return (sample["inertial"][0].numpy(), sample["skeleton"][0, :, 0].numpy(),
            sample["depth"][:, 0, 0, 0].numpy() / 1000)


def test_one_window_aligns_every_modality(tmp_path):
    data = _dataset(tmp_path, shift=0.3)
    torch.manual_seed(0)
    windows = set()
    for _ in range(3):
        for i in range(len(data)):
            inertial, skeleton, depth = _clock(data[i])
            start, stop = float(inertial[0]), float(inertial[-1])
            assert 0 <= start <= 0.3 and 0.7 <= stop <= 1
            assert (start, stop) != (0.0, 1.0)
            # the skeleton shows exactly the same moments; depth the nearest whole frames
            np.testing.assert_allclose(skeleton, np.linspace(start, stop, len(skeleton)), atol=1e-5)
            np.testing.assert_allclose(inertial, np.linspace(start, stop, len(inertial)), atol=1e-5)
            step = 1 / (len(depth) - 1)
            np.testing.assert_allclose(depth, np.linspace(start, stop, len(depth)), atol=step / 2 + 1e-3)
            windows.add(round(start, 6))
    assert len(windows) == 6  # a new window each draw


def test_off_in_evaluation_and_without_shift(tmp_path):
    for data in (_dataset(tmp_path, shift=0.3, train=False), _dataset(tmp_path, shift=0.0)):
        inertial, skeleton, depth = _clock(data[0])
        np.testing.assert_allclose(inertial, np.linspace(0, 1, 64), atol=1e-6)
        np.testing.assert_allclose(skeleton, np.linspace(0, 1, 32), atol=1e-6)


def _config(**data):
    return {"name": "x", "model": {"name": "imu_cnn1d", "input": "inertial"},
            "data": {"modalities": {"inertial": {"length": 8}}, **data}}


def test_config_key_and_messages():
    cfg = load_config(data=_config(paired_augment={"shift": 0.2}))
    assert cfg.data.paired_shift == 0.2
    assert load_config(data=_config()).data.paired_shift == 0.0
    with pytest.raises(ConfigError, match=re.escape(
            "unknown config key 'shfit'; did you mean 'shift'? (valid: shift) in 'data.paired_augment'")):
        load_config(data=_config(paired_augment={"shfit": 0.2}))
    with pytest.raises(ConfigError, match=re.escape("config key 'data.paired_augment.shift': must be")):
        load_config(data=_config(paired_augment={"shift": 0.5}))
    both = _config(paired_augment={"shift": 0.2})
    both["data"]["modalities"]["inertial"]["augment"] = {"shift": 0.1, "rotate": 5}
    message = ("config key 'data.modalities.inertial.augment.shift' (0.1) and 'data.paired_augment.shift' (0.2) "
               "both shift time: remove data.modalities.inertial.augment.shift (paired_augment applies one "
               "window to every modality)")
    with pytest.raises(ConfigError) as err:
        load_config(data=both)
    assert str(err.value) == message


@pytest.mark.parametrize("override, message", [
    ("data.paired_augment.shift=0.7", "harkd: error: config key 'data.paired_augment.shift': must be"),
    ("train.mixup.mode=cut", "harkd: error: config key 'train.mixup.mode'"),
])
def test_cli_reports_bad_consistent_teaching_keys_in_one_line(tmp_path, capsys, override, message):
    import yaml

    from harkd.cli.main import main

    config = tmp_path / "c.yaml"
    config.write_text(yaml.safe_dump(_config(root=str(tmp_path))))
    assert main(["train", str(config), "--set", override]) == 2
    err = capsys.readouterr().err.strip()
    assert err.startswith(message) and "\n" not in err and "Traceback" not in err
