"""PairedDataset: samples that pair every requested modality of ONE recording.

Pairing is by recording key, never by list position: each sample is built from a
single :class:`~harkd.data.recording.Recording`, whose files all share its key.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any, Callable, Iterable, Mapping

import numpy as np
import torch
from torch.utils.data import Dataset

from harkd.errors import ConfigError, DataError, InputError
from harkd.data.cache import PreprocessCache
from harkd.data.protocols import Split
from harkd.data.recording import Recording, RecordingIndex
from harkd.data.registry import DatasetSpec, get_dataset
from harkd.data.transforms import ModalityTransform, SkeletonTransform, build_transforms


#: ``data.on_error`` policies for a recording whose file fails to load (see :meth:`PairedDataset.check`).
ON_ERROR = ("stop", "skip")


def present_key(modality: str) -> str:
    """The sample entry saying whether an optional ``modality`` was recorded (see :class:`PairedDataset`)."""
    return f"present_{modality}"


def _as_cache(cache: Any) -> PreprocessCache | None:
    if cache is None or cache is False:
        return None
    if cache is True:
        return PreprocessCache()
    if isinstance(cache, PreprocessCache):
        return cache
    return PreprocessCache(cache)


class PairedDataset(Dataset):
    """``{"<modality>": tensor, ..., "label": int, "key": str, "index": int}`` per recording.

    Args:
        spec: dataset spec or registered name (``"utd-mhad"``).
        index: a :class:`RecordingIndex` or the dataset root to scan.
        keys: the recordings to use (a split); default all in ``index``.
        modalities: the modalities each sample contains.
        transforms: config dict (see :mod:`harkd.data.transforms`) or the
            ``transforms`` of another PairedDataset (to share fitted statistics).
        train: enables training-only randomness (random depth offsets).
        strict: a key lacking a requested modality raises instead of being skipped
            (skipped keys are listed in ``self.skipped`` as ``(key, reason)``).
        cache: None/False (off), True (default directory), a directory, or a
            :class:`PreprocessCache`.
        paired_shift: with ``train``, one random window per sample (up to this fraction of
            the clip dropped at each end, ``data.paired_augment.shift``) cut from EVERY
            modality on normalised time before its own ``finish``, so all modalities of a
            sample show the same moment of the action.
        optional: modalities a recording may lack (a distillation's teacher-only modalities):
            such a recording is kept; its sample holds zeros of that modality's shape and
            ``present_<modality>`` False (every sample has the flag of every optional modality).
        virtual: options of :class:`harkd.data.virtual.VirtualInertial` (``smooth``, ``source``, ``frame``): every
            recording it covers gets a second sample after the recorded ones, whose inertial clip is the
            virtual accelerometer computed from the recording's skeleton (its other modalities, label and
            key are the recording's own); training data only.

    With fixed ``length``/``frames``/``size`` options the samples have fixed shapes
    and batch with the default ``DataLoader`` collate (keys become a list of str).
    """

    def __init__(self, spec: DatasetSpec | str, index: RecordingIndex | str | Path,
                 keys: Iterable[str] | None = None, modalities: Iterable[str] = ("inertial", "skeleton"),
                 transforms: Mapping[str, Any] | None = None, *, train: bool = False,
                 strict: bool = False, cache: Any = None, paired_shift: float = 0.0,
                 optional: Iterable[str] = (), virtual: Mapping[str, Any] | None = None):
        if not 0 <= paired_shift < 0.5:
            raise InputError(f"paired_shift must be in [0, 0.5), got {paired_shift!r}")
        self.paired_shift = float(paired_shift)
        self.spec = get_dataset(spec) if isinstance(spec, str) else spec
        self.index = index if isinstance(index, RecordingIndex) else self.spec.scan(index, strict=strict)
        self.modalities = tuple(modalities)
        if not self.modalities:
            raise InputError("PairedDataset needs at least one modality")
        for m in self.modalities:
            self.spec.modality(m)  # ConfigError for unknown names
        kinds = {m: self.spec.modality(m).transform or m for m in self.modalities}
        if transforms and all(isinstance(t, ModalityTransform) for t in transforms.values()):
            missing = [m for m in self.modalities if m not in transforms]
            self.transforms = {**build_transforms({}, missing, kinds), **transforms}
        else:
            self.transforms = build_transforms(transforms, self.modalities, kinds)
            for m, t in self.transforms.items():  # `center: true` means the modality's own centre joint
                joint = self.spec.modality(m).center
                if joint is not None and isinstance(t, SkeletonTransform) and t.config.get("center") is True:
                    t.center_joint = joint
        self.train = train
        self.cache = _as_cache(cache)
        self.optional = tuple(optional)
        for m in self.optional:
            if m not in self.modalities:
                raise InputError(f"optional modality '{m}' is not among the dataset's modalities "
                                 f"({', '.join(self.modalities)})")
        self._absent: dict[str, torch.Tensor] = {}  # optional modality -> the zeros standing in for it
        keys = list(self.index.keys if keys is None else keys)
        if len(set(keys)) != len(keys):
            raise InputError("PairedDataset keys contain duplicates")
        self.recordings: list[Recording] = []
        self.skipped: list[tuple[str, str]] = []
        for rec in self.index.subset(keys):
            lacking = [m for m in self.modalities if not rec.has(m) and m not in self.optional]
            if lacking and strict:
                self.spec.path_for(rec, lacking[0], self.index.root)  # raises DataError naming the file
            if lacking:
                self.skipped.append((rec.key, f"missing {', '.join(lacking)}"))
            else:
                self.recordings.append(rec)
        self.virtual = None
        if virtual is not None:
            from harkd.data.virtual import VirtualInertial

            options = dict(virtual)
            modality = options.get("modality", "inertial")
            if modality not in self.modalities:
                raise ConfigError(f"config key 'data.virtual_inertial': its twins replace the '{modality}' clip, "
                                  f"which the run does not load (data.modalities: {', '.join(self.modalities)})")
            self.virtual = VirtualInertial(self.spec, transform=self.transforms[modality], **options)
        #: the recordings with a virtual twin, and the ``(key, problem)`` of those whose twin :meth:`check` dropped
        self._twins = [r for r in self.recordings if self.virtual.covers(r)] if self.virtual is not None else []
        self.virtual_skipped: list[tuple[str, str]] = []

    def __len__(self) -> int:
        return len(self.recordings) + len(self._twins)

    @property
    def entries(self) -> list[tuple[Recording, bool]]:
        """``(recording, virtual)`` of every sample in order: the recordings, then their virtual twins."""
        return [(r, False) for r in self.recordings] + [(r, True) for r in self._twins]

    def entry(self, i: int) -> tuple[Recording, bool]:
        n = len(self.recordings)
        if i < 0:
            i += len(self)
        return (self.recordings[i], False) if i < n else (self._twins[i - n], True)

    @property
    def virtual_count(self) -> int:
        """How many virtual twins the dataset holds."""
        return len(self._twins)

    @property
    def keys(self) -> list[str]:
        return [r.key for r in self.recordings]

    def keys_with(self, modalities: Iterable[str]) -> list[str]:
        """Keys of the recordings that have every one of ``modalities``."""
        wanted = tuple(modalities)
        return [r.key for r in self.recordings if all(r.has(m) for m in wanted)]

    def absent(self, modality: str) -> torch.Tensor:
        """Zeros shaped like ``modality``'s samples, for a recording without it (shape and dtype from the
        first recording of the dataset's index that has it, through the evaluation view)."""
        if modality not in self._absent:
            rec = next((r for r in self.index if r.has(modality)), None)
            if rec is None:
                raise DataError(self.index.root, f"no recording has the modality '{modality}'")
            self._absent[modality] = torch.zeros_like(self.transforms[modality].finish(self.prepared(rec, modality)))
        return self._absent[modality].clone()

    def prepared(self, rec: Recording, modality: str, virtual: bool = False) -> np.ndarray:
        """The deterministic (cacheable) part of ``modality``'s pipeline for ``rec`` (``virtual``: for its
        virtual twin, whose inertial clip comes from the skeleton)."""
        t = self.transforms[modality]
        virtual = virtual and self.virtual is not None and modality == self.virtual.modality

        def compute() -> np.ndarray:
            if virtual:
                return t.prepare(self.virtual.load(rec, root=self.index.root))
            return t.prepare(self.spec.load(rec, modality, root=self.index.root, **t.load_options()))

        if self.cache is None or self.spec.in_memory:
            return compute()
        facts = self.spec.cache_facts(modality)
        config = {**t.cache_config(), **facts} if facts else t.cache_config()
        source = rec.files[modality]
        if virtual:
            config, source = {**config, **self.virtual.cache_config()}, self.virtual.files(rec)
        return self.cache.get(self.spec.name, modality, config, rec.key, source, compute).copy()

    def __getitem__(self, i: int) -> dict[str, Any]:
        rec, virtual = self.entry(i)
        sample: dict[str, Any] = {}
        window = self.paired_window()
        for m in self.modalities:
            if m in self.optional:
                sample[present_key(m)] = rec.has(m)
                if not rec.has(m):
                    sample[m] = self.absent(m)
                    continue
            x = self.prepared(rec, m, virtual)
            if window is not None:
                x = self.transforms[m].time_window(x, *window)
            sample[m] = self.transforms[m].finish(x, train=self.train)
        sample["label"] = rec.label
        sample["key"] = rec.key
        sample["index"] = i  # position in this dataset (memory-bank losses such as CRD use it)
        return sample

    @property
    def paired(self) -> bool:
        """True when training samples get one random time window shared by their modalities."""
        return self.train and self.paired_shift > 0

    def paired_window(self) -> tuple[float, float] | None:
        """(start, end) fractions dropped at the clip's ends, drawn from torch's generator (seeded per
        DataLoader worker), or None when paired augmentation is off."""
        if not self.paired:
            return None
        start, end = (torch.rand(2, dtype=torch.float64) * self.paired_shift).tolist()
        return start, end

    def check(self, on_error: str = "stop", progress: Callable[[int, int], None] | None = None) -> list[tuple[str, str]]:
        """Preflight: run the deterministic :meth:`prepared` of every recording and modality.

        Through the cache, so the epochs reuse the work (without a cache it is one extra pass).
        Returns the ``(key, problem)`` of the recordings whose files fail to load. ``on_error``
        ``"stop"`` raises the first failure as one DataError naming its file (with a cache the
        pass goes on, to count the others); ``"skip"`` drops the failing recordings and lists
        them in ``self.skipped``. ``progress(done, total)`` is called after each recording.
        A virtual twin that cannot be made fails the same way under ``"stop"``; under ``"skip"`` only the
        twin is dropped (its recording stays) and listed in ``self.virtual_skipped``.
        """
        if on_error not in ON_ERROR:
            raise InputError(f"on_error must be one of {', '.join(ON_ERROR)}, got {on_error!r}")
        bad: list[tuple[str, str]] = []
        first: DataError | None = None
        twins = {r.key for r in self._twins}
        self.virtual_skipped = []
        for done, rec in enumerate(self.recordings, 1):
            if first is not None and on_error == "stop" and self.cache is None:
                break
            for m in (m for m in self.modalities if rec.has(m)):  # the others are optional
                try:
                    self.prepared(rec, m)
                except DataError as err:
                    bad.append((rec.key, str(err)))
                    first = first or err
                    break
            else:
                if rec.key in twins:
                    try:
                        self.prepared(rec, self.virtual.modality, virtual=True)
                    except DataError as err:
                        if on_error == "skip":
                            self.virtual_skipped.append((rec.key, str(err)))
                        else:
                            bad.append((rec.key, str(err)))
                            first = first or err
            if progress is not None:
                progress(done, len(self.recordings))
        if first is not None and on_error == "stop":
            others = (f"; {len(bad) - 1} other recording(s) fail too" if len(bad) > 1 else "")
            raise DataError(first.path, f"{first.problem}{others} (--set data.on_error=skip leaves the failing "
                                        "recordings out and reports them)")
        failed = {key for key, _ in bad}
        self.recordings = [r for r in self.recordings if r.key not in failed]
        self.skipped.extend(bad)
        untwinned = {key for key, _ in self.virtual_skipped}
        self._twins = [r for r in self._twins if r.key not in failed | untwinned]
        return bad

    def fit_normalization(self, modalities: Iterable[str] | None = None) -> dict[str, dict]:
        """Fit the normalising transforms of ``modalities`` (default all) on THIS dataset (use the
        training split); returns the JSON-serialisable statistics (see :meth:`load_normalization`)."""
        wanted = set(self.transforms if modalities is None else modalities)
        for m, t in self.transforms.items():
            if t.needs_fit and m in wanted:
                t.fit(self.prepared(r, m) for r in self.recordings if r.has(m))
        return self.normalization_state()

    def normalization_state(self) -> dict[str, dict]:
        return {m: t.state_dict() for m, t in self.transforms.items() if t.state_dict()}

    def load_normalization(self, state: Mapping[str, Mapping]) -> None:
        """Restore statistics produced by :meth:`fit_normalization`."""
        for m, s in state.items():
            if m not in self.transforms:
                raise InputError(f"normalisation state for '{m}', which this dataset does not load")
            self.transforms[m].load_state_dict(s)


def make_datasets(spec: DatasetSpec | str, index: RecordingIndex, split: Split,
                  modalities: Iterable[str] = ("inertial", "skeleton"),
                  transforms: Mapping[str, Any] | None = None, *, strict: bool = False,
                  cache: Any = None, paired_shift: float = 0.0) -> dict[str, PairedDataset]:
    """Train/val/test datasets of ``split``; normalisation is fitted on ``train`` only
    and shared (same transform objects) with ``val`` and ``test``; ``paired_shift`` applies to ``train``."""
    cache = _as_cache(cache)
    train = PairedDataset(spec, index, split.train, modalities, transforms, train=True, strict=strict, cache=cache,
                         paired_shift=paired_shift)
    train.fit_normalization()
    out = {"train": train}
    for name in ("val", "test"):
        out[name] = PairedDataset(spec, index, getattr(split, name), modalities, train.transforms,
                                  strict=strict, cache=cache)
    return out
