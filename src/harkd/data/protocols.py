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

Subject rule (``val_subjects=(7,)``): every training recording of those training
subjects is held out. ``val_subjects="auto"`` (the default here and in
experiments, ``data.val_subjects: auto``) picks them: for a protocol that splits by subject
(``DatasetSpec.subject_protocols``, e.g. ``cross_subject``), the training subjects are
ordered by ``sha256(f"val:{dataset}:{protocol}:{subject}")`` and the first
``DatasetSpec.val_subject_count`` (UTD-MHAD 1, Berkeley-MHAD 1, MMAct 2; never all of
them) are held out. The rule does not depend on the experiment seed, so every seed,
teacher and student of a protocol share one split. For the other protocols
(``subject_specific`` - the UTD-MHAD trial split -, ``cross_scene``, ...) ``auto`` uses the
per-class carve (their test subjects are the training subjects anyway). A by-subject
protocol with fewer than 2 training subjects has none to hold out: ``auto`` then gives no
validation split (with a warning; every model keeps its last epoch), because selection
never uses recordings of the subjects a model trains on. ``val_subjects=None`` always uses
the per-class carve. A dataset that marks its own validation recordings for a protocol
(:meth:`DatasetSpec.given_validation`: a manifest's ``split`` column) gives them under ``auto``.
"""

from __future__ import annotations

import hashlib
from collections import defaultdict
from dataclasses import dataclass, field
from typing import Iterable, Union

from harkd.errors import InputError, warn
from harkd.data.recording import Recording, RecordingIndex
from harkd.data.registry import DatasetSpec

DEFAULT_VAL_FRACTION = 0.15
#: ``val_subjects`` value that picks the held-out training subjects by the module's rule.
AUTO = "auto"
ValSubjects = Union[str, Iterable[int], None]


@dataclass(frozen=True)
class Validation:
    """How a validation split was made: ``rule`` subjects / fraction / none, and one line saying so."""

    rule: str
    subjects: tuple[int, ...] = ()
    how: str = ""

    def to_dict(self) -> dict:
        return {"rule": self.rule, "subjects": list(self.subjects), "how": self.how}


@dataclass(frozen=True)
class Split:
    """Keys of the train, validation and test recordings (disjoint, each sorted by index order)."""

    train: tuple[str, ...]
    val: tuple[str, ...]
    test: tuple[str, ...]
    validation: Validation | None = field(default=None, compare=False)

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


def auto_validation_subjects(dataset: str, protocol: str, subjects: Iterable[int], count: int) -> tuple[int, ...]:
    """The ``count`` subjects (at most all but one) first in ``sha256(f"val:{dataset}:{protocol}:{subject}")`` order."""
    subjects = sorted(set(int(s) for s in subjects))
    ordered = sorted(subjects, key=lambda s: hashlib.sha256(f"val:{dataset}:{protocol}:{s}".encode()).hexdigest())
    return tuple(sorted(ordered[:max(0, min(count, len(subjects) - 1))]))


def _subject_list(subjects: Iterable[int], spec: DatasetSpec | None = None) -> str:
    subjects = list(subjects)
    name = spec.subject_name if spec is not None else str
    return f"subject{'s' if len(subjects) > 1 else ''} {', '.join(name(s) for s in subjects)}"


def resolve_validation(spec: DatasetSpec, protocol: str, train: list[Recording],
                       val_fraction: float = DEFAULT_VAL_FRACTION,
                       val_subjects: ValSubjects = AUTO) -> Validation:
    """Which rule ``val_subjects`` (``"auto"``, a list of subjects, or None) means for these training recordings."""
    if isinstance(val_subjects, str):
        if val_subjects != AUTO:
            raise InputError(f"val_subjects must be '{AUTO}', a list of subject ids or None, got {val_subjects!r}")
        if protocol in spec.subject_protocols:
            present = sorted({r.subject for r in train})
            if len(present) >= 2:
                chosen = auto_validation_subjects(spec.name, protocol, present, spec.val_subject_count)
                return Validation("subjects", chosen,
                                  f"training {_subject_list(chosen, spec)} held out (data.val_subjects auto)")
            # selection never uses recordings of the subjects the model trains on: no validation at all
            if val_fraction > 0:
                warn(f"data.val_subjects auto: protocol {protocol} of {spec.name} has {len(present)} training "
                     f"subject(s) ({', '.join(map(str, present)) or 'none'}), too few to hold one out: no validation "
                     "split, every model keeps its last epoch (set data.val_subjects: null to carve validation "
                     "recordings from the training subjects instead)")
            return Validation("none", (), f"no validation split (data.val_subjects auto: too few training subjects "
                                          f"in {protocol} to hold one out)")
        why = f"data.val_subjects auto: protocol {protocol} does not split by subject"
    elif val_subjects is not None:
        chosen = tuple(sorted(set(int(s) for s in val_subjects)))
        return Validation("subjects", chosen, f"training {_subject_list(chosen, spec)} held out "
                                              f"(data.val_subjects {list(chosen)})")
    else:
        why = "data.val_subjects null"
    if val_fraction == 0:
        return Validation("none", (), f"no validation split (data.val_fraction 0, {why})")
    return Validation("fraction", (), f"{val_fraction:.0%} of each class's training recordings "
                                      f"(data.val_fraction {val_fraction:g}, {why})")


def make_split(spec: DatasetSpec, index: RecordingIndex | Iterable[Recording], protocol: str,
               val_fraction: float = DEFAULT_VAL_FRACTION, seed: int = 0,
               val_subjects: ValSubjects = AUTO) -> Split:
    """Split ``index`` by ``protocol`` into train/val/test keys (val from training only).

    ``val_subjects``: ``"auto"`` (the default, as in experiments: whole training subjects held
    out), a list of training subjects, or None (the per-class ``val_fraction`` carve); see the
    module rules. ``split.validation`` says which rule was used."""
    is_train = spec.protocol(protocol)
    recordings = list(index)
    train = [r for r in recordings if is_train(r)]
    given = spec.given_validation(protocol) if val_subjects == AUTO else None
    if given is not None:  # the dataset's own validation rows (a manifest's split column)
        validation = Validation("given", (), f"the recordings the dataset marks val (protocol {protocol}, "
                                             "data.val_subjects auto)")
        val = given & {r.key for r in train}
    else:
        validation = resolve_validation(spec, protocol, train, val_fraction, val_subjects)
        fraction = 0.0 if validation.rule == "none" else val_fraction
        val = carve_validation(train, fraction, seed, validation.subjects if validation.rule == "subjects" else None)
    return Split(
        train=tuple(r.key for r in train if r.key not in val),
        val=tuple(r.key for r in train if r.key in val),
        test=tuple(r.key for r in recordings if not is_train(r)),
        validation=validation,
    )
