"""Recordings (one per pairing key) and the index a dataset scan returns."""

from __future__ import annotations

from collections import Counter
from dataclasses import dataclass, field
from pathlib import Path
from typing import Iterable, Iterator

from harkd.errors import InputError


class FileGroup(dict):
    """The files of one multi-file modality of a recording: part (the file name's ``part``
    field, e.g. ``"03"``) -> path."""

    def __str__(self) -> str:
        return ", ".join(str(p) for p in self.values())


@dataclass(frozen=True)
class Recording:
    """One recorded performance, shared by all the modalities captured with it.

    ``key`` is the pairing key (UTD-MHAD: ``"a10_s1_t1"``); ``label`` is the 0-based
    class index from the dataset definition; ``attrs`` holds every key field
    (UTD-MHAD: action, subject, trial); ``files`` maps modality -> file path (a
    :class:`FileGroup` for a multi-file modality).
    """

    key: str
    label: int
    subject: int
    trial: int | None = None
    attrs: dict = field(default_factory=dict, compare=False)
    files: dict = field(default_factory=dict, compare=False)

    @property
    def modalities(self) -> tuple[str, ...]:
        return tuple(sorted(self.files))

    def has(self, modality: str) -> bool:
        return modality in self.files


@dataclass
class RecordingIndex:
    """The recordings found under a dataset root, plus the files that were skipped.

    ``recordings`` is sorted by key; ``skipped`` lists ``(path, reason)`` pairs.
    """

    dataset: str
    root: Path
    recordings: list[Recording]
    skipped: list[tuple[Path, str]] = field(default_factory=list)

    def __post_init__(self) -> None:
        self._by_key = {r.key: r for r in self.recordings}

    def __len__(self) -> int:
        return len(self.recordings)

    def __iter__(self) -> Iterator[Recording]:
        return iter(self.recordings)

    def __contains__(self, key: object) -> bool:
        return key in self._by_key

    def __getitem__(self, key: str) -> Recording:
        try:
            return self._by_key[key]
        except KeyError:
            raise InputError(f"no recording with key '{key}' in {self.dataset} at {self.root}") from None

    @property
    def keys(self) -> list[str]:
        return [r.key for r in self.recordings]

    def modality_counts(self) -> dict[str, int]:
        """Number of recordings that have each modality."""
        return dict(sorted(Counter(m for r in self.recordings for m in r.files).items()))

    def with_modalities(self, modalities: Iterable[str]) -> list[Recording]:
        """Recordings that have every one of ``modalities``."""
        wanted = tuple(modalities)
        return [r for r in self.recordings if all(r.has(m) for m in wanted)]

    def missing(self, modalities: Iterable[str] | None = None) -> dict[str, list[str]]:
        """Key -> modalities it lacks, among ``modalities`` (default: all seen)."""
        wanted = tuple(modalities) if modalities is not None else tuple(self.modality_counts())
        out = {r.key: [m for m in wanted if not r.has(m)] for r in self.recordings}
        return {k: v for k, v in out.items() if v}

    def subset(self, keys: Iterable[str]) -> list[Recording]:
        """The recordings for ``keys``, in the given order (unknown key -> InputError)."""
        return [self[k] for k in keys]
