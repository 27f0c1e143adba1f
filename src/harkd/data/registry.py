"""Dataset specifications and the registry that finds them by name.

A dataset is described by a :class:`DatasetSpec`: its class names, its modalities
(folder + file-name pattern + reader each), how a file name's fields become a
pairing key and label, and its protocols. The generic :meth:`DatasetSpec.scan`
builds a :class:`~harkd.data.recording.RecordingIndex` from that description, so a
new dataset is a new module that subclasses :class:`DatasetSpec` and calls
:func:`register_dataset` - nothing in the core changes.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Callable, ClassVar, Mapping

import numpy as np

from harkd.errors import ConfigError, DataError, unknown_key_message
from harkd.data.recording import FileGroup, Recording, RecordingIndex
from harkd.registry import Registry

#: The environment variable naming the data root: the folder that holds each dataset's :attr:`DatasetSpec.folder`.
DATA_ROOT_ENV = "HARKD_DATA_ROOT"
#: Modules that register the built-in datasets when first asked for.
BUILTIN_MODULES = ("harkd.data.utd_mhad", "harkd.data.berkeley_mhad", "harkd.data.mmact")


def _normalise(name: str) -> str:
    return name.strip().lower().replace("_", "-")


DATASETS: Registry["DatasetSpec"] = Registry("dataset", builtins=BUILTIN_MODULES, normalise=_normalise)


@dataclass(frozen=True)
class ModalitySpec:
    """One modality's files: ``folder/NAME`` where NAME fully matches ``pattern``.

    The pattern's named groups are the key fields (integers); ``example`` shows the
    pattern to users and ``expected`` (formatted with ``key`` and the recording's key
    fields) names a missing file. ``reader(path, **options)``
    returns the validated array; ``options`` names the keyword options it accepts.
    ``layout`` documents the returned array (e.g. ``"(T, 6) float32"``); ``cheap`` is
    False for modalities too slow to load for a quick summary (depth, video).

    Nested and multi-file modalities (Berkeley-MHAD's six accelerometers): with
    ``glob`` set, the files are ``folder.glob(glob)`` and ``pattern`` matches their
    path relative to ``folder`` (``/``-separated; a recursive ``**`` glob lists files only).
    A named group ``part`` in the pattern makes the modality multi-file: a recording's entry is a
    :class:`~harkd.data.recording.FileGroup` (part text -> path), and a recording that
    lacks one of ``parts`` does not have the modality (reported as skipped). ``transform``
    names the transform kind in :data:`harkd.data.transforms.TRANSFORMS` (default: ``name``);
    names fully matching the regex ``ignore`` are known non-recording files, passed over silently;
    ``directories=True`` makes each entry a folder (e.g. one folder of image frames).

    Facts for deployment: ``rate`` is the loaded array's samples per second (None: not a fixed
    rate), ``rate_option`` the reader option that sets it (the reader resamples to that grid);
    ``channels`` names each column of a time-first (T, C) array as ``(name, unit)``, with names
    ``SENSOR_axis`` (``acc_x``) so the ``sensor`` option can pick the columns of one sensor.
    ``center``: the joint a skeleton transform's ``center: true`` subtracts (None: the transform's
    own default, UTD-MHAD's hip_center).
    """

    name: str
    folder: str
    pattern: re.Pattern
    example: str
    expected: str
    reader: Callable[..., np.ndarray]
    layout: str
    options: tuple[str, ...] = ()
    cheap: bool = True
    glob: str = ""
    ignore: str = ""
    parts: tuple[str, ...] = ()
    transform: str = ""
    directories: bool = False
    rate: float | None = None
    rate_option: str = ""
    channels: tuple[tuple[str, str], ...] = ()
    center: int | None = None

    @property
    def multi_file(self) -> bool:
        return "part" in self.pattern.groupindex

    def files(self, root: Path) -> list[Path]:
        """The candidate files of this modality under ``root`` (sorted)."""
        folder = root / self.folder
        if not self.glob:
            return sorted(folder.iterdir())
        found = folder.glob(self.glob)
        if "**" in self.glob:  # a recursive glob also yields every folder it walks through
            found = (p for p in found if not p.is_dir())
        return sorted(found)

    def name_of(self, path: Path, root: Path) -> str:
        """What ``pattern`` is matched against: the file name, or with ``glob`` the relative path."""
        return path.relative_to(root / self.folder).as_posix() if self.glob else path.name

    def shown(self, path: Path, root: Path) -> str:
        """``path`` in messages: the file name, or with ``glob`` the path relative to ``root``."""
        return path.relative_to(root).as_posix() if self.glob else path.name


class DatasetSpec:
    """Base class of a dataset description; subclasses set the class attributes.

    Subclasses define ``name``, ``class_names``, ``modality_specs`` (a tuple of
    :class:`ModalitySpec`), ``key_fields``, ``protocols`` (name -> predicate that is
    True for training recordings) and :meth:`make_recording`; :meth:`parse_fields`,
    :attr:`scan_specs` and ``unknown_name`` adapt :meth:`scan` to a layout. ``folder`` is the
    dataset's folder under ``$HARKD_DATA_ROOT`` and ``glove_prefix`` names its class lists under
    ``<data root>/class-embeddings/`` (``PREFIX_classes.txt``, ``PREFIX_Glove.npy``); sampling
    rates and channels are per modality (:class:`ModalitySpec`, :meth:`sampling_rate`, :meth:`channels`).
    """

    #: Reason reported for a file whose name does not match its modality's pattern.
    unknown_name: ClassVar[str] = "unknown file name pattern"

    name: ClassVar[str]
    #: the dataset's folder under ``$HARKD_DATA_ROOT``
    folder: ClassVar[str]
    #: file prefix of its GloVe class lists under ``<data root>/class-embeddings/`` (None: none)
    glove_prefix: ClassVar[str | None] = None
    class_names: ClassVar[tuple[str, ...]]
    modality_specs: ClassVar[tuple[ModalitySpec, ...]]
    key_fields: ClassVar[tuple[str, ...]]
    protocols: ClassVar[dict[str, Callable[[Recording], bool]]]
    #: protocols that split by subject: ``data.val_subjects: auto`` holds whole training subjects out for them
    subject_protocols: ClassVar[tuple[str, ...]] = ()
    #: how many training subjects ``data.val_subjects: auto`` holds out (see :mod:`harkd.data.protocols`)
    val_subject_count: ClassVar[int] = 1
    #: True when the recordings live in memory (:func:`harkd.data.arrays.from_arrays`): nothing to cache
    in_memory: ClassVar[bool] = False
    #: the skeleton's up axis in its own coordinates (metres), for virtual accelerometer windows (None: not declared)
    skeleton_up: ClassVar[tuple[float, float, float] | None] = None

    @property
    def modalities(self) -> tuple[str, ...]:
        return tuple(m.name for m in self.modality_specs)

    @property
    def num_classes(self) -> int:
        return len(self.class_names)

    def modality(self, name: str) -> ModalitySpec:
        for spec in self.modality_specs:
            if spec.name == name:
                return spec
        raise ConfigError(unknown_key_message(f"{self.name} modality", name, self.modalities))

    def sampling_rate(self, modality: str, load: Mapping[str, Any] | None = None) -> float | None:
        """Samples per second of ``modality`` as loaded with the reader options ``load`` (a run's
        ``data.modalities.M.load``): the grid the reader resamples to, else the recording rate; None if not fixed."""
        mod = self.modality(modality)
        if mod.rate_option and (load or {}).get(mod.rate_option) is not None:
            return float(load[mod.rate_option])
        return mod.rate

    def channels(self, modality: str, sensor: str = "all",
                 load: Mapping[str, Any] | None = None) -> tuple[list[str], list[str], list[int]] | None:
        """``(names, units, columns)`` of the loaded (T, C) array that the ``sensor`` option keeps
        (``all``, or the sensor prefix of the channel names); None when the modality has no channel list."""
        mod = self.modality(modality)
        columns = [i for i, (name, _) in enumerate(mod.channels) if sensor == "all" or name.split("_")[0] == sensor]
        if not columns:
            return None
        return [mod.channels[i][0] for i in columns], [mod.channels[i][1] for i in columns], columns

    def sensor_site(self, recording: Recording, modality: str):
        """The :class:`~harkd.data.virtual.SensorSite` (skeleton joints) where ``modality``'s sensor is worn in
        ``recording``, or None when not known (no virtual window for it; see :mod:`harkd.data.virtual`)."""
        return None

    @property
    def scan_specs(self) -> tuple[ModalitySpec, ...]:
        """The modalities :meth:`scan` looks for: all of them, unless a dataset assembles some after scanning."""
        return self.modality_specs

    def parse_fields(self, mod: ModalitySpec, groups: dict[str, str]) -> dict[str, int]:
        """Key fields from the named groups of ``mod.pattern`` (``part`` aside): each through int().

        Raise ValueError(reason) to skip the file with that reason.
        """
        return {k: int(v) for k, v in groups.items() if k != "part"}

    def make_recording(self, fields: dict[str, int], files: dict[str, Path]) -> Recording:
        """Build the recording for a file name's fields; raise ValueError(reason) if invalid."""
        raise NotImplementedError

    def canonical_name(self, mod: ModalitySpec, fields: dict[str, int], key: str, part: str | None) -> str | None:
        """The release's spelling of the file of ``mod`` for a key (as :meth:`ModalitySpec.name_of`
        gives it): ``mod.expected`` formatted with the fields; None when the modality has none.

        Of two files with the same key, :meth:`scan` keeps the one with this name (else the
        first in sorted order) and reports the other.
        """
        if not mod.expected:
            return None
        try:
            return mod.expected.format(**fields, key=key, part=part)
        except (KeyError, IndexError, ValueError):
            return None

    def expected_keys(self) -> list[str] | None:
        """Every key of the complete release (for reporting gaps), or None if unknown."""
        return None

    def given_validation(self, protocol: str) -> set[str] | None:
        """Keys the dataset itself assigns to validation under ``protocol`` (used by ``val_subjects: auto``), or None."""
        return None

    def subject_name(self, subject: int) -> str:
        """How messages name subject ``subject`` (a manifest's subjects may be names numbered 1, 2, ...)."""
        return str(subject)

    def cache_facts(self, modality: str) -> dict:
        """What else decides ``modality``'s loaded array besides the transform's options (hashed into cache keys)."""
        return {}

    def protocol(self, name: str) -> Callable[[Recording], bool]:
        try:
            return self.protocols[name]
        except KeyError:
            raise ConfigError(unknown_key_message(f"{self.name} protocol", name, self.protocols)) from None

    # -- scanning -------------------------------------------------------------------
    def scan(self, root: str | Path, strict: bool = False, validate: bool = False) -> RecordingIndex:
        """Index the recordings under ``root``: one :class:`Recording` per key.

        Scanning only looks at file names and sizes (cheap). Files with an unknown
        name (reason :attr:`unknown_name`), fields that :meth:`parse_fields` or
        :meth:`make_recording` reject, zero size or a duplicate key (the file with the
        release's name, :meth:`canonical_name`, wins, else the first in sorted order) are skipped and
        reported in ``index.skipped``; with ``strict=True`` the first problem raises
        :class:`~harkd.errors.DataError`. ``validate=True`` also loads every file
        (slow: all depth videos) and treats unreadable ones the same way. A multi-file
        modality collects one file per part into a :class:`FileGroup` (duplicates per part);
        a group missing a required part is dropped and its missing file reported.
        """
        root = Path(root)
        if not root.is_dir():
            raise DataError(root, f"{self.name} root is not a directory")
        present = [m for m in self.scan_specs if (root / m.folder).is_dir()]
        if not present:
            folders = ", ".join(f"{m.folder}/" for m in self.scan_specs)
            raise DataError(root, f"no {self.name} modality folder found (expected any of {folders})")
        skipped: list[tuple[Path, str]] = []
        reported: set[Path] = set()

        def skip(path: Path, reason: str) -> None:
            if strict:
                raise DataError(path, reason)
            if path not in reported:  # modalities sharing a folder report a file once
                reported.add(path)
                skipped.append((path, reason))

        fields_of: dict[str, dict[str, int]] = {}
        files_of: dict[str, dict[str, Path]] = {}
        for mod in present:
            for path in mod.files(root):
                name = mod.name_of(path, root)
                match = mod.pattern.fullmatch(name)
                if match is None and mod.ignore and re.fullmatch(mod.ignore, name):
                    continue
                is_entry = path.is_dir() if mod.directories else path.is_file()
                if not is_entry or match is None:
                    what = self.unknown_name if is_entry else (
                        "not a directory" if mod.directories else "not a regular file")
                    skip(path, f"{what} (expected {mod.example})")
                    continue
                part = match.groupdict().get("part")
                try:
                    fields = self.parse_fields(mod, match.groupdict())
                    key = self.make_recording(fields, {}).key
                except ValueError as err:
                    skip(path, str(err))
                    continue
                if mod.directories and not any(path.iterdir()):
                    skip(path, "empty directory")
                    continue
                if not mod.directories and path.stat().st_size == 0:
                    skip(path, "empty file (0 bytes)")
                    continue
                if validate and not mod.multi_file:
                    try:
                        mod.reader(path)
                    except DataError as err:
                        skip(path, err.problem)
                        continue
                other = files_of.get(key, {}).get(mod.name)
                if mod.multi_file and other is not None:
                    other = other.get(part)
                if other is not None:
                    canonical = self.canonical_name(mod, fields, key, part)
                    if canonical is None or mod.name_of(other, root) == canonical or name != canonical:
                        kept = "; the release's file name is kept" if mod.name_of(other, root) == canonical else ""
                        skip(path, f"duplicate of {mod.shown(other, root)} (same key {key}{kept})")
                        continue
                    skip(other, f"duplicate of {mod.shown(path, root)} (same key {key}; the release's file name is kept)")
                fields_of[key] = fields
                if mod.multi_file:
                    files_of.setdefault(key, {}).setdefault(mod.name, FileGroup())[part] = path
                else:
                    files_of.setdefault(key, {})[mod.name] = path
            if mod.multi_file:
                self._check_groups(mod, root, files_of, fields_of, skip, validate)
        order = sorted((k for k in fields_of if files_of.get(k)),
                       key=lambda k: tuple(fields_of[k][f] for f in self.key_fields))
        recordings = [self.make_recording(fields_of[k], files_of[k]) for k in order]
        return RecordingIndex(self.name, root, recordings, skipped)

    def _check_groups(self, mod: ModalitySpec, root: Path, files_of: dict, fields_of: dict, skip,
                      validate: bool) -> None:
        """Drop (and report) the multi-file groups of ``mod`` that lack a part or, with ``validate``, fail to load."""
        for key, files in files_of.items():
            group = files.get(mod.name)
            if group is None:
                continue
            lacking = [p for p in mod.parts if p not in group]
            problem = None
            if lacking:
                names = {**fields_of[key], "key": key, "part": lacking[0]}
                problem = (root / mod.folder / mod.expected.format(**names),
                           f"missing file (part {lacking[0]} of {mod.name} of recording {key}); "
                           f"the recording has no {mod.name}")
            elif validate:
                try:
                    mod.reader(group)
                except DataError as err:
                    problem = (err.path, err.problem)
            if problem is not None:
                del files[mod.name]
                skip(*problem)

    # -- loading --------------------------------------------------------------------
    def path_for(self, recording: Recording, modality: str, root: str | Path | None = None) -> Path:
        """The file of ``modality`` for ``recording``; DataError naming the expected file if absent."""
        mod = self.modality(modality)
        path = recording.files.get(modality)
        if path is None:
            expected = Path(mod.folder) / mod.expected.format(**{**recording.attrs, "key": recording.key, "part": "*"})
            raise DataError(Path(root) / expected if root is not None else expected,
                            f"missing {modality} file for recording {recording.key}")
        return path

    def load(self, recording: Recording, modality: str, root: str | Path | None = None, **options) -> np.ndarray:
        """Load ``modality`` of ``recording`` as a validated array (see the modality's layout).

        ``options`` are the modality's reader options (UTD-MHAD inertial: ``sensor``);
        ``root`` only improves the message when the file is missing.
        """
        mod = self.modality(modality)
        for opt in options:
            if opt not in mod.options:
                raise ConfigError(unknown_key_message(f"{modality} load option", opt, mod.options))
        return mod.reader(self.path_for(recording, modality, root), **options)

    def __repr__(self) -> str:
        return f"<{type(self).__name__} {self.name!r}: {self.num_classes} classes, modalities {self.modalities}>"


def register_dataset(spec: DatasetSpec, *, overwrite: bool = False) -> DatasetSpec:
    """Register ``spec`` under ``spec.name`` (duplicate policy: :class:`harkd.registry.Registry`); returns it."""
    return DATASETS.register(spec.name, spec, overwrite=overwrite)


def available_datasets() -> list[str]:
    """Names of the registered datasets."""
    return DATASETS.names()


def get_dataset(name: str) -> DatasetSpec:
    """The registered dataset spec called ``name`` (case and ``-``/``_`` insensitive)."""
    return DATASETS.get(name)


def dataset_folder(name: str) -> str:
    """The folder of dataset ``name`` under ``$HARKD_DATA_ROOT``; an unregistered name is its own folder."""
    return get_dataset(name).folder if name in DATASETS else name


def glove_prefixes() -> dict[str, str]:
    """Dataset name -> GloVe file prefix, one dataset per prefix: the built-ins in the order of
    :data:`BUILTIN_MODULES` (whichever was imported first), then the others as registered."""
    order = {module: i for i, module in enumerate(BUILTIN_MODULES)}
    out: dict[str, str] = {}
    for name, spec in sorted(DATASETS.items(), key=lambda item: order.get(type(item[1]).__module__, len(order))):
        if spec.glove_prefix and spec.glove_prefix not in out.values():
            out[name] = spec.glove_prefix
    return out

