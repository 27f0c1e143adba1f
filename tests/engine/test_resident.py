"""The device-resident loader (harkd.engine.resident) against the Trainer's DataLoader path."""

from __future__ import annotations

import pytest
import torch
from torch import nn
from torch.utils.data import DataLoader, TensorDataset

import harkd.encoding  # noqa: F401  (registers the inertial 'gaf' encoding, as the engine does)
from harkd.data import PairedDataset
from harkd.engine.resident import NotResident, ResidentLoader, augment_seed, resident_loader
from harkd.engine.trainer import ClassificationTask, EpochSampler, Trainer

PLAIN = {"inertial": {"sensor": "all", "length": 32, "normalize": True},
         "skeleton": {"frames": 16, "center": True, "normalize": True}}
AUGMENTED = {"inertial": {**PLAIN["inertial"], "augment": {"scale": 0.1, "rotate": 15, "shift": 0.1, "noise": 0.02}},
             "skeleton": {**PLAIN["skeleton"], "augment": {"rotate": 15, "scale": 0.1, "shift": 0.1}}}


def _dataset(root, transforms=PLAIN, train=True, modalities=("inertial", "skeleton"), **kw) -> PairedDataset:
    ds = PairedDataset("utd-mhad", root, modalities=modalities, transforms=transforms, train=train, **kw)
    ds.fit_normalization()
    return ds


def _trainer(dataset, batch_size, tmp_path) -> Trainer:
    """A Trainer on ``dataset``: its sampler and DataLoader are the reference."""
    task = ClassificationTask(nn.Linear(1, 1), "inertial")
    return Trainer(task, dataset, None, torch.optim.SGD(task.parameters(), lr=0.1), tmp_path, 1, num_classes=27,
                   seed=3, batch_size=batch_size, log=lambda m: None)


def assert_same_batches(resident, reference, exact=False):
    resident, reference = list(resident), list(reference)
    assert len(resident) == len(reference)
    for a, b in zip(resident, reference):
        assert list(a) == list(b) and a["key"] == b["key"]
        for name, value in b.items():
            if torch.is_tensor(value):
                assert a[name].dtype == value.dtype and a[name].shape == value.shape, name
                if exact or not value.is_floating_point():
                    assert torch.equal(a[name], value), name
                else:
                    torch.testing.assert_close(a[name], value, rtol=1e-6, atol=1e-6)


@pytest.mark.parametrize("batch_size", [5, 47, 48])  # 48 recordings: 47 leaves a lone sample, which is dropped
def test_training_batches_equal_the_trainers_dataloader(synth_utd, tmp_path, batch_size):
    dataset = _dataset(synth_utd)
    assert len(dataset) == 48
    trainer = _trainer(dataset, batch_size, tmp_path)
    loader = ResidentLoader(dataset, trainer.rank_batch_size, trainer.sampler, "cpu", seed=3)
    assert loader.drop_last == trainer.train_loader.drop_last == (batch_size == 47)
    for epoch in (0, 1):
        trainer.sampler.set_epoch(epoch)
        assert len(loader) == len(trainer.train_loader)
        assert_same_batches(loader, trainer.train_loader)
        assert [b["index"].tolist() for b in loader] == [b["index"].tolist() for b in trainer.train_loader]


def test_evaluation_batches_equal_the_dataloader(synth_utd):
    train = _dataset(synth_utd, AUGMENTED)
    test = PairedDataset("utd-mhad", synth_utd, train.keys[:13], ("inertial", "skeleton"), train.transforms)
    loader, reason = resident_loader(test, batch_size=4, sampler=None, device="cpu", seed=3)
    assert reason == "" and not loader.augment and len(loader) == 4  # 4 + 4 + 4 + 1: nothing dropped
    assert_same_batches(loader, DataLoader(test, batch_size=4, shuffle=False))


def test_one_modality_and_the_description(synth_utd):
    dataset = _dataset(synth_utd, {"skeleton": PLAIN["skeleton"]}, modalities=("skeleton",), train=False)
    loader, _ = resident_loader(dataset, batch_size=16, sampler=None, device="cpu")
    assert_same_batches(loader, DataLoader(dataset, batch_size=16))
    assert loader.nbytes == 48 * 16 * 20 * 3 * 4 + 48 * 8
    assert loader.describe() == "resident on cpu: skeleton 48x16x20x3 (180.4 KiB)"


def test_augmentation_replays_each_epoch_and_keeps_the_order(synth_utd, tmp_path):
    dataset = _dataset(synth_utd, AUGMENTED)
    trainer = _trainer(dataset, 8, tmp_path)
    loader = ResidentLoader(dataset, 8, trainer.sampler, "cpu", seed=3)
    assert loader.augment
    epochs = []
    for epoch in (0, 1):
        trainer.sampler.set_epoch(epoch)
        epochs.append(list(loader))
        for a, b in zip(epochs[-1], trainer.train_loader):  # same samples in the same batches, other views
            assert a["key"] == b["key"] and torch.equal(a["index"], b["index"]) and torch.equal(a["label"], b["label"])
            assert not torch.allclose(a["inertial"], b["inertial"]) and not torch.allclose(a["skeleton"], b["skeleton"])
    # a resumed run: a new loader (and sampler) at epoch 1 replays epoch 1 exactly, without running epoch 0
    sampler = EpochSampler(len(dataset), 3)
    sampler.set_epoch(1)
    assert_same_batches(ResidentLoader(dataset, 8, sampler, "cpu", seed=3), epochs[1], exact=True)
    trainer.sampler.set_epoch(1)
    assert_same_batches(loader, epochs[1], exact=True)  # iterating again: the same epoch
    fixed = EpochSampler(len(dataset), 3, shuffle=False)  # the same order every epoch: new views each epoch
    views = []
    for epoch in (0, 1):
        fixed.set_epoch(epoch)
        views.append(next(iter(ResidentLoader(dataset, 8, fixed, "cpu", seed=3))))
    assert views[0]["key"] == views[1]["key"] and not torch.allclose(views[0]["inertial"], views[1]["inertial"])
    other = ResidentLoader(dataset, 8, trainer.sampler, "cpu", seed=4)  # another seed: other views, same order
    assert not torch.allclose(next(iter(other))["inertial"], epochs[1][0]["inertial"])
    assert len({augment_seed(s, e) for s in range(5) for e in range(100)}) == 500


def test_tensors_stay_on_the_device(synth_utd):
    loader, _ = resident_loader(_dataset(synth_utd, AUGMENTED), batch_size=10, sampler=EpochSampler(48, 0),
                                device="cpu", seed=0)
    for batch in loader:
        assert all(v.device == torch.device("cpu") for v in batch.values() if torch.is_tensor(v))
    assert all(t.device == torch.device("cpu") for t in loader.data.values())


@pytest.mark.skipif(not torch.cuda.is_available(), reason="needs a CUDA device")
def test_on_cuda(synth_utd, tmp_path):
    dataset = _dataset(synth_utd, AUGMENTED)
    sampler = EpochSampler(len(dataset), 3)
    loader, reason = resident_loader(dataset, batch_size=8, sampler=sampler, device="cuda", seed=3)
    assert reason == "" and all(t.is_cuda for t in loader.data.values())
    first = list(loader)
    for batch in first:
        assert all(v.is_cuda for v in batch.values() if torch.is_tensor(v))
    assert_same_batches(loader, first, exact=True)  # the device generator replays the epoch
    plain = _dataset(synth_utd, PLAIN, train=False)
    on_cuda, _ = resident_loader(plain, batch_size=8, sampler=None, device="cuda")
    assert_same_batches(({k: v.cpu() if torch.is_tensor(v) else v for k, v in b.items()} for b in on_cuda),
                        DataLoader(plain, batch_size=8))


def test_fallback_reasons(synth_utd):
    only = "only inertial without gaf and skeleton transforms have one"
    cases = [
        (TensorDataset(torch.zeros(3)), "the dataset is a TensorDataset, not a PairedDataset"),
        (_dataset(synth_utd, {"inertial": {"length": 32, "gaf": {"image_size": 8}}}, modalities=("inertial",)),
         f"modality 'inertial' is encoded as gaf images, which have no batched finish: {only}"),
        (_dataset(synth_utd, {"skeleton": {"frames": 8}, "depth": {"frames": 2, "size": [8, 8]}},
                  modalities=("skeleton", "depth")),
         f"modality 'depth' (DepthTransform) has no batched finish: {only}"),
        (_dataset(synth_utd, {"skeleton": {"frames": 8}}, modalities=("skeleton",), paired_shift=0.2),
         "paired augmentation (data.paired_augment.shift 0.2) cuts one window from every modality of a sample, "
         "which has no batched version"),
        (_dataset(synth_utd, {"skeleton": {"frames": 8}}, modalities=("skeleton",), keys=[]),
         "the dataset has no recordings"),
        (_dataset(synth_utd, {"skeleton": {"frames": 8}}, modalities=("skeleton",)),
         "the prepared data take 90.4 KiB, over the budget of 50.0 KiB on cpu"),  # 48 * (8 * 20 * 3 * 4 + 8) bytes
    ]
    for dataset, message in cases:
        loader, reason = resident_loader(dataset, batch_size=4, sampler=None, device="cpu", budget_bytes=50 * 1024)
        assert loader is None and reason == message
    # the paired window only cuts training samples: an evaluation set with the same option is taken
    assert resident_loader(_dataset(synth_utd, {"skeleton": {"frames": 8}}, modalities=("skeleton",),
                                    paired_shift=0.2, train=False), batch_size=4)[1] == ""
    with pytest.raises(NotResident) as err:
        ResidentLoader(cases[0][0], 4)
    assert str(err.value) == cases[0][1]


def test_clips_of_different_shapes_are_refused(synth_utd):
    dataset = _dataset(synth_utd, {"inertial": {"sensor": "acc"}}, modalities=("inertial",))  # no 'length'
    shapes = [dataset.prepared(r, "inertial").shape for r in dataset.recordings]
    other = next(i for i, s in enumerate(shapes) if s != shapes[0])
    loader, reason = resident_loader(dataset, batch_size=4)
    assert loader is None
    assert reason == (f"modality 'inertial': the prepared clips differ in shape ({shapes[0][0]}x3 for "
                      f"{dataset.keys[0]}, {shapes[other][0]}x3 for {dataset.keys[other]})")


def test_a_sampler_of_another_size_is_an_error(synth_utd):
    with pytest.raises(ValueError) as err:
        ResidentLoader(_dataset(synth_utd), 4, EpochSampler(40, 0))
    assert str(err.value) == "the sampler draws from 40 samples, the dataset has 48"
