"""train.mixup: one lambda and one permutation per batch for every modality; the mixed cross-entropy."""

from __future__ import annotations

import math
import re

import numpy as np
import pytest
import torch
from torch import nn

import harkd.encoding  # noqa: F401  (registers the inertial 'gaf' encoding, as the engine does)
from harkd.data.transforms import DepthTransform, InertialTransform, SkeletonTransform
from harkd.engine.config import MixupConfig, load_config
from harkd.engine.trainer import MIX_LABEL, MIX_LAMBDA, ClassificationTask, Trainer, mix_batch, mixed_cross_entropy
from harkd.errors import ConfigError

B = 5
AXES = {"inertial": 1, "skeleton": 1, "depth": 0}  # (C, T), (3, T, V), (F, 1, H, W)


def _batch():
    ident = torch.arange(B, dtype=torch.float32)
    return {"inertial": ident[:, None, None].expand(B, 3, 64).clone(),
            "skeleton": ident[:, None, None, None].expand(B, 3, 32, 20).clone(),
            "depth": ident[:, None, None, None, None].expand(B, 8, 1, 4, 4).clone(),
            "label": torch.tensor([0, 1, 2, 0, 1]), "key": [f"k{i}" for i in range(B)], "index": torch.arange(B)}


def test_mixup_uses_one_lambda_and_permutation_for_every_modality():
    batch, perm, lam = _batch(), torch.tensor([3, 0, 4, 1, 2]), 0.7
    mixed = mix_batch(batch, lam, perm, AXES, "mixup")
    expected = lam * torch.arange(B) + (1 - lam) * perm
    for name in AXES:
        values = mixed[name].reshape(B, -1)
        torch.testing.assert_close(values, expected[:, None].expand_as(values))
    assert mixed[MIX_LAMBDA] == lam and mixed[MIX_LABEL].tolist() == batch["label"][perm].tolist()
    assert mixed["key"] is None and mixed["index"] is None  # no single recording: no cached teacher output
    assert torch.equal(mixed["label"], batch["label"])


def test_cutmix_swaps_the_same_normalised_time_segment_in_every_modality():
    batch, perm, lam, start = _batch(), torch.tensor([3, 0, 4, 1, 2]), 0.75, 0.5
    mixed = mix_batch(batch, lam, perm, AXES, "cutmix", start)
    series = {"inertial": mixed["inertial"][:, 0, :], "skeleton": mixed["skeleton"][:, 0, :, 0],
              "depth": mixed["depth"][:, :, 0, 0, 0]}
    for name, x in series.items():
        t = x.shape[1]
        in_cut = torch.zeros(t, dtype=torch.bool)
        in_cut[int(0.5 * t): int(0.75 * t)] = True  # normalised time [0.5, 0.75): 1 - lam of the clip
        torch.testing.assert_close(x[:, in_cut], perm[:, None].float().expand(B, int(in_cut.sum())))
        torch.testing.assert_close(x[:, ~in_cut], torch.arange(B)[:, None].float().expand(B, int((~in_cut).sum())))


def test_mixed_cross_entropy_golden_value():
    logits = torch.tensor([[2.0, 0.0, -1.0], [0.5, 1.5, 0.0]])
    batch = {"label": torch.tensor([0, 1]), MIX_LABEL: torch.tensor([1, 2]), MIX_LAMBDA: 0.25}

    def ce(z, y, eps):  # by hand: (1 - eps) * -log p_y + eps * mean_c -log p_c
        logp = [zi - math.log(sum(math.exp(v) for v in z)) for zi in z]
        return (1 - eps) * -logp[y] + eps * -sum(logp) / len(z)

    for eps in (0.0, 0.1):
        rows = logits.tolist()
        want = np.mean([0.25 * ce(z, y, eps) + 0.75 * ce(z, yb, eps) for z, y, yb in zip(rows, [0, 1], [1, 2])])
        assert float(mixed_cross_entropy(logits, batch, eps)) == pytest.approx(want, rel=1e-6)
        plain = np.mean([ce(z, y, eps) for z, y in zip(rows, [0, 1])])
        assert float(mixed_cross_entropy(logits, {"label": batch["label"]}, eps)) == pytest.approx(plain, rel=1e-6)


class _Data(torch.utils.data.Dataset):
    def __init__(self, transforms):
        self.transforms = transforms

    def __len__(self):
        return 8

    def __getitem__(self, i):
        return {"inertial": torch.full((3, 16), float(i)), "label": i % 2, "key": f"k{i}", "index": i}


class _Spy(nn.Module):
    def __init__(self):
        super().__init__()
        self.w = nn.Parameter(torch.zeros(()))
        self.seen = []

    def forward(self, batch):
        self.seen.append(dict(batch))
        return {"loss": self.w * batch["inertial"].mean()}


def _trainer(tmp_path, transforms, mixup):
    task = _Spy()
    return Trainer(task, _Data(transforms), None, torch.optim.SGD(task.parameters(), lr=0.1), tmp_path, 1,
                   num_classes=2, batch_size=4, log=lambda m: None, progress=False, mixup=mixup), task


def test_trainer_mixes_training_batches_with_probability_prob(tmp_path):
    inertial = {"inertial": InertialTransform(length=16)}
    trainer, task = _trainer(tmp_path / "a", inertial, MixupConfig(alpha=0.4, mode="cutmix", prob=1.0))
    trainer.fit()
    assert task.seen and all(MIX_LAMBDA in b and b["key"] is None for b in task.seen)
    assert len({b[MIX_LAMBDA] for b in task.seen}) == len(task.seen)  # a lambda per batch
    trainer, task = _trainer(tmp_path / "b", inertial, MixupConfig(alpha=0.4, prob=0.0))
    trainer.fit()
    assert not any(MIX_LAMBDA in b for b in task.seen)


def test_cutmix_of_an_image_without_time_axis_is_refused(tmp_path):
    import harkd.encoding  # noqa: F401  (registers the depth 'dmm' encoding)
    from harkd.data.transforms import DepthTransform

    for name, transform in (("inertial", InertialTransform(length=16, gaf={"image_size": 8})),
                            ("depth", DepthTransform(dmm={}, size=8))):
        images = {name: transform}
        message = (f"config key 'train.mixup.mode': cutmix replaces a time segment, but modality '{name}' is an "
                   f"image without a time axis (data.modalities.{name}.gaf or .dmm): use train.mixup.mode=mixup")
        with pytest.raises(ConfigError, match=re.escape(message)):
            _trainer(tmp_path / name, images, MixupConfig(mode="cutmix"))
        _trainer(tmp_path / name, images, MixupConfig(mode="mixup"))  # mixup of images is fine


def test_time_axes_of_the_transforms():
    assert InertialTransform(length=8).time_axis == 1 and InertialTransform(gaf={"image_size": 4}).time_axis is None
    assert SkeletonTransform(frames=8).time_axis == 1 and DepthTransform(frames=4).time_axis == 0


def test_classification_task_uses_the_mixed_labels():
    model = nn.Linear(3, 3)
    task = ClassificationTask(model, "x", label_smoothing=0.1)
    x = torch.randn(4, 3)
    batch = {"x": x, "label": torch.tensor([0, 1, 2, 0]), MIX_LABEL: torch.tensor([2, 2, 1, 1]), MIX_LAMBDA: 0.6}
    want = 0.6 * nn.functional.cross_entropy(model(x), batch["label"], label_smoothing=0.1) + \
        0.4 * nn.functional.cross_entropy(model(x), batch[MIX_LABEL], label_smoothing=0.1)
    torch.testing.assert_close(task(batch)["loss"], want)


def test_mixup_config():
    data = {"name": "x", "model": {"name": "imu_cnn1d", "input": "inertial"},
            "data": {"modalities": {"inertial": {"length": 8}}}}
    assert load_config(data=data).train.mixup is None
    cfg = load_config(data={**data, "train": {"mixup": {"alpha": 0.2, "mode": "cutmix", "prob": 0.5}}})
    assert (cfg.train.mixup.alpha, cfg.train.mixup.mode, cfg.train.mixup.prob) == (0.2, "cutmix", 0.5)
    with pytest.raises(ConfigError, match=re.escape("config key 'train.mixup.alpha': must be")):
        load_config(data={**data, "train": {"mixup": {"alpha": 0}}})
    with pytest.raises(ConfigError, match=re.escape("unknown config key 'lam'")):
        load_config(data={**data, "train": {"mixup": {"lam": 0.2}}})


def test_mixup_with_class_name_embeddings_is_refused():
    data = {"name": "x", "model": {"name": "imu_cnn1d", "input": "inertial"},
            "data": {"modalities": {"inertial": {"length": 8}}}, "train": {"mixup": {"alpha": 0.2}},
            "semantic": {"source": "none"}}
    message = ("train.mixup mixes two recordings per sample, but the 'semantic' section regresses each sample to "
               "ONE class-name embedding: remove train.mixup or the semantic section")
    with pytest.raises(ConfigError) as err:
        load_config(data=data)
    assert str(err.value) == message
