"""Train / validation / test splits of a recording index.

A protocol (defined by the dataset spec) says which recordings train and which
test. The validation split is carved from the TRAINING side only; the test side is
never used for selection. Default rule (``val_fraction``):

1. group the training recordings by class label;
2. within each class, order the keys by ``sha256(f"{seed}:{key}")`` - a seeded
   shuffle that is identical on every machine and NumPy/Python version;
3. the first ``max(1, round(val_fraction * n))`` keys of each class go to
   validation (none if the class has fewer than 2 training recordings, or if
   ``val_fraction`` is 0).

Alternative rule: ``val_subjects=(7,)`` holds out every training recording of
those (training) subjects.
"""

from __future__ import annotations

import hashlib
from collections import defaultdict
from dataclasses import dataclass
from typing import Iterable

from harkd.errors import InputError
from harkd.data.recording import Recording, RecordingIndex
from harkd.data.registry import DatasetSpec

DEFAULT_VAL_FRACTION = 0.15


@dataclass(frozen=True)
class Split:
    """Keys of the train, validation and test recordings (disjoint, each sorted by index order)."""

    train: tuple[str, ...]
    val: tuple[str, ...]
    test: tuple[str, ...]

    def counts(self) -> dict[str, int]:
        return {"train": len(self.train), "val": len(self.val), "test": len(self.test)}

    def to_dict(self) -> dict[str, list[str]]:
        return {"train": list(self.train), "val": list(self.val), "test": list(self.test)}


def _seeded_order(keys: Iterable[str], seed: int) -> list[str]:
    return sorted(keys, key=lambda k: hashlib.sha256(f"{seed}:{k}".encode()).hexdigest())


def carve_validation(recordings: list[Recording], val_fraction: float = DEFAULT_VAL_FRACTION,
                     seed: int = 0, val_subjects: Iterable[int] | None = None) -> set[str]:
    """Keys of ``recordings`` (the training side) that go to validation; see the module rule."""
    if val_subjects is not None:
        wanted = set(int(s) for s in val_subjects)
        present = {r.subject for r in recordings}
        if not wanted <= present:
            raise InputError(f"val_subjects {sorted(wanted - present)} are not training subjects "
                             f"(training subjects: {sorted(present)})")
        return {r.key for r in recordings if r.subject in wanted}
    if not 0 <= val_fraction < 1:
        raise InputError(f"val_fraction must be in [0, 1), got {val_fraction}")
    if val_fraction == 0:
        return set()
    by_class: dict[int, list[str]] = defaultdict(list)
    for r in recordings:
        by_class[r.label].append(r.key)
    val: set[str] = set()
    for label in sorted(by_class):
        keys = by_class[label]
        if len(keys) < 2:
            continue
        n = min(len(keys) - 1, max(1, round(val_fraction * len(keys))))
        val.update(_seeded_order(keys, seed)[:n])
    return val


def make_split(spec: DatasetSpec, index: RecordingIndex | Iterable[Recording], protocol: str,
               val_fraction: float = DEFAULT_VAL_FRACTION, seed: int = 0,
               val_subjects: Iterable[int] | None = None) -> Split:
    """Split ``index`` by ``protocol`` into train/val/test keys (val from training only)."""
    is_train = spec.protocol(protocol)
    recordings = list(index)
    train = [r for r in recordings if is_train(r)]
    val = carve_validation(train, val_fraction, seed, val_subjects)
    return Split(
        train=tuple(r.key for r in train if r.key not in val),
        val=tuple(r.key for r in train if r.key in val),
        test=tuple(r.key for r in recordings if not is_train(r)),
    )
