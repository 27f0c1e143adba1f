"""A device-resident loader: a PairedDataset's prepared tensors kept on the device, batches finished there.

The DataLoader path builds every sample in Python (the cache's ``prepared`` array, then the transform's
numpy ``finish``), which sets the pace of a small model on a GPU. :class:`ResidentLoader` calls
``dataset.prepared`` once per recording and modality, stacks each modality into one float32 tensor on
the device, and per batch indexes it and runs :class:`harkd.data.batched.BatchedFinish` (augmentation
of training sets drawn from a generator on the device seeded by ``(seed, epoch)``, normalisation,
channels-first layout). Its batches are those of the DataLoader's default collate: each modality
(B, ...) float32, ``label`` and ``index`` (B,) int64, ``key`` a list of str, in the sampler's order
with the Trainer's batch boundaries; every tensor on the device.

:func:`resident_loader` returns the loader, or None with a one-line reason (a transform without a
batched version, paired augmentation, clips of different shapes, over the memory budget) so the
caller can fall back to the DataLoader and say why.
"""

from __future__ import annotations

import math
import os
from typing import Any, Iterator

import numpy as np
import torch

from harkd.data.batched import BatchedFinish, batched_unsupported
from harkd.data.dataset import PairedDataset
from harkd.errors import InputError

__all__ = ["NotResident", "ResidentLoader", "augment_seed", "device_budget_bytes", "resident_loader"]

_UNITS = {"KiB": 2 ** 10, "MiB": 2 ** 20, "GiB": 2 ** 30}


class NotResident(InputError):
    """A dataset the resident path cannot hold; the message is the one-line reason."""


def augment_seed(seed: int, epoch: int) -> int:
    """The seed of the device generator that augments epoch ``epoch`` (another stream than the sampler's)."""
    return (seed * 1_000_003 + epoch) * 2 + 1


def device_budget_bytes(device: torch.device | str, fraction: float = 0.5) -> int:
    """``fraction`` of the memory free on ``device`` now (a CUDA device), or of the machine's physical memory."""
    device = torch.device(device)
    if device.type == "cuda":
        free, _ = torch.cuda.mem_get_info(device)
        return int(free * fraction)
    return int(os.sysconf("SC_PAGE_SIZE") * os.sysconf("SC_PHYS_PAGES") * fraction)


def _sizes(shape: tuple[int, ...]) -> str:
    return "x".join(map(str, shape))


def _amount(nbytes: float) -> str:
    """``nbytes`` in KiB, MiB or GiB, one decimal."""
    unit = next((u for u in ("GiB", "MiB") if nbytes >= _UNITS[u]), "KiB")
    return f"{nbytes / _UNITS[unit]:.1f} {unit}"


class ResidentLoader:
    """Batches of ``dataset`` from tensors resident on ``device`` (see the module docstring).

    ``sampler``: the order of each epoch (an :class:`~harkd.engine.trainer.EpochSampler`: its order
    depends only on ``(seed, epoch)`` and ``set_epoch``); its ``epoch`` also seeds the augmentation.
    With a sampler the batches follow the Trainer's rule: a last batch of one sample is dropped (it breaks
    BatchNorm). ``sampler=None``: the dataset's order, every sample (evaluation). Augmentation: when the
    dataset is a training set (``dataset.train``) and a transform is stochastic. ``budget_bytes``: the most
    the resident tensors may take (None: no limit). Raises :class:`NotResident` with the reason when it
    cannot hold the dataset; :func:`resident_loader` turns that into ``(None, reason)``.
    """

    def __init__(self, dataset: PairedDataset, batch_size: int, sampler: Any = None,
                 device: torch.device | str = "cpu", *, seed: int = 0, budget_bytes: int | None = None):
        reason = unsupported_reason(dataset)
        if reason:
            raise NotResident(reason)
        if batch_size < 1:
            raise InputError(f"batch_size must be >= 1, got {batch_size!r}")
        size = getattr(sampler, "size", len(dataset))
        if size != len(dataset):
            raise InputError(f"the sampler draws from {size} samples, the dataset has {len(dataset)}")
        self.dataset, self.batch_size, self.sampler = dataset, int(batch_size), sampler
        self.device, self.seed = torch.device(device), int(seed)
        self.finishers = {m: BatchedFinish(dataset.transforms[m], self.device) for m in dataset.modalities}
        self.augment = dataset.train and any(f.stochastic for f in self.finishers.values())
        entries = dataset.entries
        self.keys = [rec.key for rec, _ in entries]
        self.data = _stack_prepared(dataset, self.device, budget_bytes)
        self.labels = torch.tensor([rec.label for rec, _ in entries], dtype=torch.int64, device=self.device)
        per_epoch = len(sampler) if sampler is not None else len(dataset)
        self.drop_last = sampler is not None and per_epoch % self.batch_size == 1

    @property
    def nbytes(self) -> int:
        """Bytes the resident tensors take on the device."""
        return sum(t.numel() * t.element_size() for t in (*self.data.values(), self.labels))

    def describe(self) -> str:
        """One line: where the data live, their shapes and size, and whether augmentation runs on the device."""
        shapes = ", ".join(f"{m} {_sizes(tuple(t.shape))}" for m, t in self.data.items())
        augment = "; augmentation batched on the device" if self.augment else ""
        return f"resident on {self.device}: {shapes} ({_amount(self.nbytes)}){augment}"

    def order(self) -> list[int]:
        """This epoch's sample order (the sampler's, or the dataset's without one)."""
        return list(iter(self.sampler)) if self.sampler is not None else list(range(len(self.dataset)))

    def __len__(self) -> int:
        per_epoch = len(self.sampler) if self.sampler is not None else len(self.dataset)
        return per_epoch // self.batch_size if self.drop_last else math.ceil(per_epoch / self.batch_size)

    def generator(self) -> torch.Generator | None:
        """This epoch's augmentation generator on the device, seeded by ``(seed, sampler.epoch)``; None without
        augmentation."""
        if not self.augment:
            return None
        epoch = getattr(self.sampler, "epoch", 0)
        return torch.Generator(device=self.device).manual_seed(augment_seed(self.seed, epoch))

    def __iter__(self) -> Iterator[dict]:
        order = self.order()[: len(self) * self.batch_size]
        on_device = torch.tensor(order, dtype=torch.int64).to(self.device)
        generator = self.generator()
        for start in range(0, len(order), self.batch_size):
            index = on_device[start: start + self.batch_size]
            batch: dict[str, Any] = {m: finish(self.data[m].index_select(0, index), self.augment, generator)
                                     for m, finish in self.finishers.items()}
            batch["label"] = self.labels.index_select(0, index)
            batch["key"] = [self.keys[i] for i in order[start: start + self.batch_size]]
            batch["index"] = index
            yield batch


def unsupported_reason(dataset: Any) -> str | None:
    """Why the resident path cannot take ``dataset`` before loading anything (transforms, paired augmentation)."""
    if not isinstance(dataset, PairedDataset):
        return f"the dataset is a {type(dataset).__name__}, not a PairedDataset"
    if len(dataset) == 0:
        return "the dataset has no recordings"
    if dataset.paired:
        return (f"paired augmentation (data.paired_augment.shift {dataset.paired_shift:g}) cuts one window from every "
                "modality of a sample, which has no batched version")
    for m in dataset.modalities:
        reason = batched_unsupported(dataset.transforms[m])
        if reason:
            return reason
    return None


def _stack_prepared(dataset: PairedDataset, device: torch.device, budget_bytes: int | None) -> dict[str, torch.Tensor]:
    """One float32 tensor (N, ...) per modality of ``dataset.prepared``, on ``device``; NotResident when the
    clips differ in shape or the tensors would exceed ``budget_bytes`` (checked from the first recording's shapes).
    A virtual twin's row holds its virtual clip (:attr:`PairedDataset.entries`)."""
    entries = dataset.entries
    first_rec = entries[0][0]
    first = {m: np.asarray(dataset.prepared(first_rec, m), dtype=np.float32) for m in dataset.modalities}
    need = sum(len(entries) * a.size * 4 for a in first.values()) + len(entries) * 8
    if budget_bytes is not None and need > budget_bytes:
        raise NotResident(f"the prepared data take {_amount(need)}, over the budget of {_amount(budget_bytes)} "
                          f"on {device}")
    out = {}
    for m, a in first.items():
        stacked = np.empty((len(entries), *a.shape), np.float32)
        stacked[0] = a
        for i, (rec, virtual) in enumerate(entries[1:], 1):
            x = dataset.prepared(rec, m, virtual)
            if x.shape != a.shape:
                raise NotResident(f"modality '{m}': the prepared clips differ in shape ({_sizes(a.shape)} for "
                                  f"{first_rec.key}, {_sizes(x.shape)} for {rec.key})")
            stacked[i] = x
        out[m] = torch.from_numpy(stacked).to(device)
    return out


def resident_loader(dataset: Any, *, batch_size: int, sampler: Any = None, device: torch.device | str = "cpu",
                    seed: int = 0, budget_bytes: int | None = None) -> tuple[ResidentLoader | None, str]:
    """``(ResidentLoader, "")``, or ``(None, reason)`` with a one-line reason when the dataset cannot be resident."""
    try:
        return ResidentLoader(dataset, batch_size, sampler, device, seed=seed, budget_bytes=budget_bytes), ""
    except NotResident as err:
        return None, str(err)
