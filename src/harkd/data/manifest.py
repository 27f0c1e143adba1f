"""A dataset described by one table: a row per recording, no code.

``data.dataset: manifest`` (or a name of your own) with ``data.manifest`` describing the table::

    data:
      dataset: manifest
      root: phone-har                       # the folder `path` is relative to (default: see below)
      manifest:
        path: labels.csv                    # CSV/TSV, or .parquet (needs pyarrow or pandas)
        key: recording_id                   # the columns of each role; key, subject, label required
        subject: subject
        label: action                       # a class name, or a 0-based index into `classes`
        trial: take                         # optional: trial, session, scene, split (train/val/test)
        classes: [walk, jog, sit, stand]    # optional: the class order (default: the labels, sorted)
        protocols: {cross_subject: {subject: [p5, p6]}}    # name -> test values per column role
        modalities:                         # one file column per modality, with its format
          acc: {column: acc_file, format: csv, unit: m/s^2, rate: 50}
          skeleton: {column: pose_file, format: mediapipe-csv, rate: 30}

``data.manifest`` may also be the path of a YAML file holding that mapping (read when the config
is, and saved inline in the run's config.yaml). File cells are relative to the table's folder; an
empty cell means the recording lacks that modality. ``data.root`` defaults to the description
file's folder (or the current directory for an inline description) and is recorded absolute.

Protocols: every name under ``protocols`` (a recording is a test recording when its value in
every listed column role is among the listed values; one by subject splits by subject, so
``data.val_subjects: auto`` holds a training subject out), ``leave_one_subject_out:<subject>``
for every subject, and ``split`` when a ``split`` column is given (its ``val`` rows are the
validation split under ``data.val_subjects: auto``). Subjects that are not all whole numbers are
numbered 1, 2, ... in sorted order (``Recording.subject``; protocols use the names).

Formats (:data:`FORMATS`): ``csv`` (timestamped sensor rows, :func:`harkd.data.formats.read_timestamped`;
``rate`` required: the grid it is resampled to), ``npy``, ``npz``, ``mat`` (``key``: the array or
variable; ``kind``: inertial (default), skeleton, depth), and keypoints ``mediapipe-csv``,
``mediapipe-json``, ``openpose-csv``, ``openpose-json``, ``coco17-csv``, ``coco17-json``
(:mod:`harkd.data.keypoints`). The format's options (``max_gap``, ``time_unit``, ...) go beside it;
a run's ``data.modalities.M.load`` may override them. An inertial modality names its ``unit`` (one
for every channel or a list) or its ``channels`` (``acc_x``, ...): export and the ``sensor`` option read them.

Every problem of the table is one error naming the table, the row and the column; a file that
fails to load names itself and its row and column.
"""

from __future__ import annotations

import csv
import difflib
import io
import json
import math
import os
import re
from dataclasses import dataclass, field
from functools import partial
from pathlib import Path
from typing import Callable, Mapping

import numpy as np

from harkd.errors import ConfigError, DataError, unknown_key_message
from harkd.data import formats, keypoints
from harkd.data.readers import read_file
from harkd.data.recording import Recording, RecordingIndex
from harkd.data.registry import DATASETS, DatasetSpec, ModalitySpec, get_dataset

__all__ = ["ManifestDataset", "FORMATS", "ROLES", "resolve_data_source", "dataset_of", "manifest_dataset",
           "read_table", "Table"]

#: column roles of the table; key, subject and label are required
ROLES = ("key", "subject", "label", "trial", "session", "scene", "split")
REQUIRED_ROLES = ("key", "subject", "label")
#: roles a protocol may select test recordings by
PROTOCOL_ROLES = ("subject", "trial", "session", "scene")
SPLIT_VALUES = {"train": "train", "training": "train", "val": "val", "valid": "val", "validation": "val",
                "test": "test", "testing": "test"}
LOSO = "leave_one_subject_out"
KINDS = ("inertial", "skeleton", "depth", "rgb")
#: unit -> sensor prefix of default channel names (``acc_x``): the ``sensor`` option picks by it
UNIT_SENSORS = {"g": "acc", "m/s^2": "acc", "m/s2": "acc", "m/s²": "acc", "deg/s": "gyro", "rad/s": "gyro",
                "dps": "gyro", "ut": "mag", "µt": "mag", "gauss": "mag"}


@dataclass(frozen=True)
class Format:
    """A file format of a manifest modality: its transform ``kind`` (None: the ``kind`` option, default
    inertial), the options its reader takes, whether it is timestamped (``rate`` required) and its reader
    ``read(path, **options)``; ``layout`` is a keypoint layout (:data:`harkd.data.keypoints.KEYPOINT_LAYOUTS`)."""

    kind: str | None
    options: tuple[str, ...]
    read: Callable[..., np.ndarray]
    timestamped: bool = False
    layout: str | None = None


_TIMED = ("max_gap", "rate_tolerance", "time_unit")
_KEYPOINT_OPTIONS = ("dims", "min_confidence", *_TIMED)
FORMATS: dict[str, Format] = {
    "csv": Format("inertial", ("columns", "time_column", "header", *_TIMED), formats.read_timestamped, True),
    "npy": Format(None, ("time_axis",), formats.read_array),
    "npz": Format(None, ("key", "time_axis"), formats.read_array),
    "mat": Format(None, ("key", "time_axis"), formats.read_array),
    **{f"{name}-{container}": Format("skeleton", _KEYPOINT_OPTIONS,
                                     partial(reader, layout=name), layout=name)
       for name in keypoints.KEYPOINT_LAYOUTS
       for container, reader in (("csv", keypoints.read_keypoints_csv), ("json", keypoints.read_keypoints_json))},
}
FORMAT_ALIASES = {"tsv": "csv", "csv-timestamped": "csv", "body25-csv": "openpose-csv", "body25-json": "openpose-json"}


# -- the description ----------------------------------------------------------------------
@dataclass(frozen=True)
class ModalityDescription:
    name: str
    column: str
    format: str
    rate: float | None
    channels: tuple[tuple[str, str], ...]
    kind: str
    options: dict = field(default_factory=dict)

    @property
    def fmt(self) -> Format:
        return FORMATS[self.format]


def _where(*keys: str) -> str:
    return ".".join(("data.manifest",) + keys)


def _mapping(value, where: str) -> dict:
    if not isinstance(value, Mapping):
        raise ConfigError(f"config key '{where}': expected a mapping, got {value!r}")
    return dict(value)


def _check_keys(value: Mapping, valid, where: str) -> None:
    for key in value:
        if key not in valid:
            raise ConfigError(unknown_key_message("config key", str(key), valid) + f" in '{where}'")


def _text(value, where: str) -> str:
    if not isinstance(value, str) or not value.strip():
        raise ConfigError(f"config key '{where}': expected a column name, got {value!r}")
    return value.strip()


def _positive(value, where: str) -> float:
    if isinstance(value, bool) or not isinstance(value, (int, float)) or not math.isfinite(value) or value <= 0:
        raise ConfigError(f"config key '{where}': expected a positive number, got {value!r}")
    return float(value)


def parse_modality(name: str, raw) -> ModalityDescription:
    """One ``data.manifest.modalities.NAME`` entry, validated (ConfigError naming the key)."""
    where = _where("modalities", name)
    raw = _mapping(raw, where)
    fmt_name = raw.get("format")
    if fmt_name is None or "column" not in raw:
        missing = "column" if "column" not in raw else "format"
        raise ConfigError(f"missing required config key '{where}.{missing}'")
    fmt_name = FORMAT_ALIASES.get(str(fmt_name).lower(), str(fmt_name).lower())
    if fmt_name not in FORMATS:
        raise ConfigError(f"config key '{where}.format': " + unknown_key_message("format", str(raw["format"]), FORMATS))
    fmt = FORMATS[fmt_name]
    common = ("column", "format", "rate", "unit", "channels", *(("kind",) if fmt.kind is None else ()))
    _check_keys(raw, (*common, *fmt.options), where)
    rate = None if raw.get("rate") is None else _positive(raw["rate"], f"{where}.rate")
    if fmt.timestamped and rate is None:
        raise ConfigError(f"config key '{where}.rate': format {fmt_name} is resampled on its time stamps: name the "
                          f"rate to resample to in Hz (e.g. rate: 50)")
    kind = fmt.kind or raw.get("kind", "inertial")
    if kind not in KINDS:
        raise ConfigError(f"config key '{where}.kind': " + unknown_key_message("kind", str(kind), KINDS))
    if fmt_name == "mat" and not raw.get("key"):
        raise ConfigError(f"missing required config key '{where}.key' (the .mat variable to read, e.g. key: d_iner)")
    return ModalityDescription(name, _text(raw["column"], f"{where}.column"), fmt_name, rate,
                               _channels(raw, kind, where), kind, {k: raw[k] for k in fmt.options if k in raw})


def _channels(raw: Mapping, kind: str, where: str) -> tuple[tuple[str, str], ...]:
    """``(name, unit)`` per column of an inertial modality from ``channels`` and ``unit``."""
    names, unit = raw.get("channels"), raw.get("unit")
    if kind != "inertial":
        if names is not None:
            raise ConfigError(f"config key '{where}.channels': only an inertial modality has channels ({kind} here)")
        return ()
    if names is None and unit is None:
        raise ConfigError(f"config key '{where}': name the unit (e.g. unit: m/s^2) or the channels (e.g. channels: "
                          "[acc_x, acc_y, acc_z]) of an inertial modality; export and the sensor option read them")
    if names is not None and (not isinstance(names, list) or not names
                              or not all(isinstance(n, str) and n for n in names) or len(set(names)) != len(names)):
        raise ConfigError(f"config key '{where}.channels': expected a list of distinct channel names, got {names!r}")
    if names is None:
        prefix = UNIT_SENSORS.get(str(unit).lower())
        if prefix is None:
            raise ConfigError(f"config key '{where}.channels': unit {unit!r} names no sensor "
                              f"({', '.join(UNIT_SENSORS)}): list the channel names, e.g. channels: [acc_x, acc_y, acc_z]")
        names = [f"{prefix}_{axis}" for axis in "xyz"]
    units = unit if isinstance(unit, list) else [unit if unit is not None else ""] * len(names)
    if len(units) != len(names) or not all(isinstance(u, str) for u in units):
        raise ConfigError(f"config key '{where}.unit': expected one unit or one per channel ({len(names)}), "
                          f"got {unit!r}")
    return tuple(zip(names, units))


@dataclass(frozen=True)
class Description:
    """A validated ``data.manifest``: the table's ``path``, the column of each role, classes, protocols, modalities."""

    path: str
    columns: dict[str, str]
    classes: tuple[str, ...] | None
    protocols: dict[str, dict[str, tuple[str, ...]]]
    modalities: dict[str, ModalityDescription]


DESCRIPTION_KEYS = ("path", *ROLES, "classes", "protocols", "modalities")


def parse_description(raw) -> Description:
    """``data.manifest`` (a mapping) validated; ConfigError naming the key."""
    raw = _mapping(raw, "data.manifest")
    _check_keys(raw, DESCRIPTION_KEYS, "data.manifest")
    for key in ("path", *REQUIRED_ROLES, "modalities"):
        if raw.get(key) is None:
            raise ConfigError(f"missing required config key '{_where(key)}'")
    if not isinstance(raw["path"], str) or not raw["path"].strip():
        raise ConfigError(f"config key '{_where('path')}': expected the table's file name, got {raw['path']!r}")
    columns = {role: _text(raw[role], _where(role)) for role in ROLES if raw.get(role) is not None}
    classes = raw.get("classes")
    if classes is not None:
        if (not isinstance(classes, list) or not classes or not all(isinstance(c, (str, int)) for c in classes)
                or len({str(c) for c in classes}) != len(classes)):
            raise ConfigError(f"config key '{_where('classes')}': expected a list of distinct class names, "
                              f"got {classes!r}")
        classes = tuple(str(c) for c in classes)
    protocols = {}
    for name, test in _mapping(raw.get("protocols") or {}, _where("protocols")).items():
        where = _where("protocols", str(name))
        if name == "split" or str(name).startswith(LOSO):
            raise ConfigError(f"config key '{where}': the protocol name {name!r} is reserved (split and "
                              f"{LOSO}:<subject> come from the columns)")
        test = _mapping(test, where)
        if not test:
            raise ConfigError(f"config key '{where}': name the test values of a column role, e.g. {{subject: [5, 6]}}")
        _check_keys(test, PROTOCOL_ROLES, where)
        selected = {}
        for role, values in test.items():
            if role not in columns:
                raise ConfigError(f"config key '{where}.{role}': the table has no {role} column (set {_where(role)})")
            values = values if isinstance(values, list) else [values]
            if not values or not all(isinstance(v, (str, int)) and not isinstance(v, bool) for v in values):
                raise ConfigError(f"config key '{where}.{role}': expected a list of {role} values, got {test[role]!r}")
            selected[role] = tuple(str(v) for v in values)
        protocols[str(name)] = selected
    modalities = _mapping(raw["modalities"], _where("modalities"))
    if not modalities:
        raise ConfigError(f"config key '{_where('modalities')}': name at least one modality and its file column")
    described = {str(m): parse_modality(str(m), v) for m, v in modalities.items()}
    taken = {}
    for m in described.values():
        if m.column in columns.values() or m.column in taken:
            other = taken.get(m.column) or next(r for r, c in columns.items() if c == m.column)
            raise ConfigError(f"config key '{_where('modalities', m.name, 'column')}': column '{m.column}' is "
                              f"already the {other} column")
        taken[m.column] = f"modality {m.name}"
    return Description(raw["path"].strip(), columns, classes, protocols, described)


# -- the table ----------------------------------------------------------------------------
@dataclass
class Table:
    """The rows of a manifest: ``columns`` and one ``{column: cell text}`` per row (row 1: the first under the header)."""

    path: Path
    columns: list[str]
    rows: list[dict[str, str]]

    def where(self, row: int, column: str) -> str:
        return f"row {row}, column '{column}'"


def _cell(value) -> str:
    if value is None or (isinstance(value, float) and math.isnan(value)):
        return ""
    if isinstance(value, float) and value.is_integer():
        return str(int(value))
    return str(value).strip()


def read_table(path: str | Path) -> Table:
    """A CSV/TSV (delimiter from the header row: tab, semicolon or comma) or Parquet table of cells as text."""
    path = Path(path)
    if path.suffix.lower() in (".parquet", ".pq"):
        columns, records = _read_parquet(path)
    else:
        try:
            text = read_file(path).decode("utf-8-sig")
        except UnicodeDecodeError as err:
            raise DataError(path, f"not a text table (cannot decode byte {err.start} as UTF-8)") from None
        first = next((line for line in text.splitlines() if line.strip()), "")
        delimiter = "\t" if "\t" in first else ";" if ";" in first and "," not in first else ","
        reader = csv.reader(io.StringIO(text), delimiter=delimiter)
        lines = [row for row in reader if any(cell.strip() for cell in row)]
        if not lines:
            raise DataError(path, "no header row")
        columns = [c.strip() for c in lines[0]]
        records = []
        for n, row in enumerate(lines[1:], 1):
            if len(row) > len(columns) and any(c.strip() for c in row[len(columns):]):
                raise DataError(path, f"row {n}: {len(row)} cells, but the header has {len(columns)} columns")
            records.append(row + [""] * (len(columns) - len(row)))
    dup = next((c for i, c in enumerate(columns) if c in columns[:i]), None)
    if dup is not None:
        raise DataError(path, f"the header names column '{dup}' twice")
    rows = [{c: _cell(v) for c, v in zip(columns, record)} for record in records]
    if not rows:
        raise DataError(path, "no rows under the header")
    return Table(path, columns, rows)


def _read_parquet(path: Path) -> tuple[list[str], list[list]]:
    read_file(path, 1)
    try:
        import pyarrow.parquet as pq
    except ImportError:
        pq = None
    try:
        if pq is not None:
            table = pq.read_table(path)
            return list(table.column_names), [list(r.values()) for r in table.to_pylist()]
        try:
            import pandas
        except ImportError:
            raise DataError(path, "reading a Parquet table needs pyarrow or pandas: pip install pyarrow (or save the "
                                  "table as CSV)") from None
        frame = pandas.read_parquet(path)
        return [str(c) for c in frame.columns], frame.astype(object).values.tolist()
    except DataError:
        raise
    except Exception as err:  # the Parquet libraries raise many types for damaged files
        detail = str(err).strip().splitlines()[0] if str(err).strip() else type(err).__name__
        raise DataError(path, f"not a readable Parquet file ({detail})") from None


def _is_int(text: str) -> bool:
    return bool(re.fullmatch(r"[+-]?\d+", text))


def _norm(value: str) -> str:
    """Cells and protocol values compared alike: ``"03"`` and ``3`` are one subject."""
    return str(int(value)) if _is_int(value) else value


# -- the dataset --------------------------------------------------------------------------
class ManifestDataset(DatasetSpec):
    """A dataset whose recordings are the rows of a table (see the module docstring)."""

    key_fields = ("key",)
    unknown_name = "not listed in the manifest"

    def __init__(self, name: str, description: Description | Mapping, root: str | Path | None = None):
        self.name = name
        self.folder = name
        self.description = description if isinstance(description, Description) else parse_description(description)
        self.root = Path(root) if root is not None else Path.cwd()
        self.modality_specs = tuple(self._modality_spec(m) for m in self.description.modalities.values())
        self._tables: dict = {}
        self._state: dict | None = None  # what the last scan read: class names, subjects, protocols

    # facts ------------------------------------------------------------------------------
    def _modality_spec(self, m: ModalityDescription) -> ModalitySpec:
        layout = keypoints.KEYPOINT_LAYOUTS.get(m.fmt.layout) if m.fmt.layout else None
        shape = (f"(T, {layout.num_joints}, 3) float32 {layout.name} keypoints (graph layout {layout.graph})"
                 if layout else f"{m.kind} array, time first, float32")
        options = (("sensor",) if m.kind == "inertial" else ()) + m.fmt.options
        return ModalitySpec(m.name, "", re.compile(r"(?!)"), f"column '{m.column}'", "", partial(self._read, m), shape,
                            options, cheap=m.kind in ("inertial", "skeleton"), transform=m.kind, rate=m.rate,
                            channels=m.channels, center=layout.center if layout else None)

    def cache_facts(self, modality: str) -> dict:
        m = self.description.modalities[modality]
        return {"manifest": {"format": m.format, "rate": m.rate, "channels": m.channels, "options": m.options}}

    @property
    def table_path(self) -> Path:
        return self.table_at(self.root)

    def table_at(self, root: Path) -> Path:
        return Path(root) / os.path.expanduser(self.description.path)

    def table(self, root: Path | None = None) -> Table:
        """The table under ``root`` (default: this dataset's root), read once per content change."""
        path = self.table_at(root if root is not None else self.root)
        try:
            stamp = path.stat()
            token = (str(path), stamp.st_mtime_ns, stamp.st_size)
        except OSError:
            token = (str(path), None, None)
        if token not in self._tables:
            self._tables = {token: read_table(path)}
        return self._tables[token]

    def _read_state(self, root: Path | None = None) -> dict:
        if self._state is None or root is not None:
            self._state = self._index_state(self.table(root))
        return self._state

    @property
    def class_names(self) -> tuple[str, ...]:  # type: ignore[override]
        if self.description.classes is not None:
            return self.description.classes
        return self._read_state()["classes"]

    @property
    def protocols(self) -> dict[str, Callable[[Recording], bool]]:  # type: ignore[override]
        return self._read_state()["protocols"]

    @property
    def subject_protocols(self) -> tuple[str, ...]:  # type: ignore[override]
        return self._read_state()["subject_protocols"]

    def subject_name(self, subject: int) -> str:
        names = {i: s for s, i in self._read_state()["subject_id"].items()}
        shown = names.get(subject, str(subject))
        return shown if shown == str(subject) else f"{subject} ({shown})"

    def given_validation(self, protocol: str) -> set[str] | None:
        """The keys of the ``val`` rows of the split column under protocol ``split`` (None: none given)."""
        if protocol != "split":
            return None
        return self._read_state()["val_keys"] or None

    # reading the table -------------------------------------------------------------------
    def _column(self, table: Table, role_or_modality: str, where: str) -> str:
        column = self.description.columns.get(role_or_modality) or self.description.modalities[role_or_modality].column
        if column not in table.columns:
            raise DataError(table.path, f"no column '{column}' ({where}){_did_you_mean(column, table.columns)} "
                                        f"(columns: {', '.join(table.columns)})")
        return column

    def _index_state(self, table: Table) -> dict:
        """Class names, subject numbers, labels and protocols of ``table`` (every table problem raised here)."""
        d = self.description
        cols = {role: self._column(table, role, _where(role)) for role in d.columns}
        for m in d.modalities:
            self._column(table, m, _where("modalities", m, "column"))
        keys: dict[str, int] = {}
        for n, row in enumerate(table.rows, 1):
            for role in REQUIRED_ROLES:
                if not row[cols[role]]:
                    raise DataError(table.path, f"{table.where(n, cols[role])}: empty {role}")
            key = row[cols["key"]]
            if key in keys:
                raise DataError(table.path, f"{table.where(n, cols['key'])}: duplicate key '{key}' "
                                            f"(first in row {keys[key]})")
            keys[key] = n
        labels = [row[cols["label"]] for row in table.rows]
        classes, label_of = self._labels(table, cols["label"], labels)
        subjects = [_norm(row[cols["subject"]]) for row in table.rows]
        numeric = all(_is_int(s) for s in subjects)
        ordered = sorted(set(subjects), key=lambda s: (int(s), s) if numeric else (0, s))
        subject_id = {s: int(s) if numeric else i for i, s in enumerate(ordered, 1)}
        splits = {}
        if "split" in cols:
            for n, row in enumerate(table.rows, 1):
                value = SPLIT_VALUES.get(row[cols["split"]].lower())
                if value is None:
                    raise DataError(table.path, f"{table.where(n, cols['split'])}: '{row[cols['split']]}' is not train, "
                                                "val or test")
                splits[row[cols["key"]]] = value
        protocols, by_subject = self._protocols(table, cols, ordered, splits)
        val_keys = {k for k, v in splits.items() if v == "val"}
        return {"classes": classes, "label_of": label_of, "subject_id": subject_id, "cols": cols,
                "protocols": protocols, "subject_protocols": by_subject, "val_keys": val_keys}

    def _labels(self, table: Table, column: str, labels: list[str]) -> tuple[tuple[str, ...], list[int]]:
        classes = self.description.classes
        if classes is None:
            numeric = all(_is_int(v) for v in labels)
            classes = tuple(sorted(set(map(_norm, labels)), key=int) if numeric else sorted(set(labels)))
            index = {c: i for i, c in enumerate(classes)}
            return classes, [index[_norm(v) if numeric else v] for v in labels]
        index = {c: i for i, c in enumerate(classes)}
        out = []
        for n, value in enumerate(labels, 1):
            if value in index:
                out.append(index[value])
            elif _is_int(value):
                if not 0 <= int(value) < len(classes):
                    raise DataError(table.path, f"{table.where(n, column)}: label index {value} is outside "
                                                f"data.manifest.classes (0..{len(classes) - 1})")
                out.append(int(value))
            else:
                raise DataError(table.path, f"{table.where(n, column)}: label '{value}' is not in data.manifest.classes"
                                            f"{_did_you_mean(value, classes)} (classes: {', '.join(classes)})")
        return classes, out

    def _protocols(self, table: Table, cols: dict, subjects: list[str], splits: dict):
        """name -> predicate (True: training side), and the names that split by subject."""
        values = {role: {_norm(row[cols[role]]) for row in table.rows} for role in PROTOCOL_ROLES if role in cols}
        protocols: dict[str, Callable[[Recording], bool]] = {}
        by_subject = []
        for name, test in self.description.protocols.items():
            for role, wanted in test.items():
                for value in wanted:
                    if _norm(value) not in values[role]:
                        shown = sorted(values[role], key=lambda v: (len(v), v))
                        raise DataError(table.path, f"{_where('protocols', name, role)}: {role} '{value}' is not in "
                                                    f"column '{cols[role]}' ({role}s: {', '.join(shown)})")
            chosen = {role: {_norm(v) for v in wanted} for role, wanted in test.items()}
            protocols[name] = partial(_trains, chosen)
            if set(test) == {"subject"}:
                by_subject.append(name)
        for subject in subjects:
            name = f"{LOSO}:{subject}"
            protocols[name] = partial(_trains, {"subject": {subject}})
            by_subject.append(name)
        if splits:
            protocols["split"] = lambda r, s=splits: s[r.key] != "test"
        return protocols, tuple(by_subject)

    # scanning ------------------------------------------------------------------------------
    def scan(self, root: str | Path | None = None, strict: bool = False, validate: bool = False) -> RecordingIndex:
        """One recording per row of the table under ``root`` (default this dataset's root), in table order.

        A table problem or a listed file that does not exist is a DataError naming the row and column;
        ``validate`` also loads every file (one that fails is left out of its recording and listed in
        ``index.skipped``; with ``strict`` it raises)."""
        root = Path(root) if root is not None else self.root
        table = self.table(root)
        state = self._read_state(root)
        cols = state["cols"]
        recordings, skipped = [], []
        for n, (row, label) in enumerate(zip(table.rows, state["label_of"]), 1):
            attrs = {role: row[c] for role, c in cols.items()}
            attrs["row"] = n
            files = {}
            for m in self.description.modalities.values():
                if row[m.column]:
                    files[m.name] = self._file(table, n, m.column, row[m.column])
            trial = attrs.get("trial")
            rec = Recording(key=attrs["key"], label=label, subject=state["subject_id"][_norm(attrs["subject"])],
                            trial=int(trial) if trial and _is_int(trial) else None, attrs=attrs, files=files)
            if validate:
                for m in list(files):
                    try:
                        self.load(rec, m)
                    except DataError as err:
                        if strict:
                            raise
                        skipped.append((err.path, err.problem))
                        del files[m]
            recordings.append(rec)
        return RecordingIndex(self.name, root, recordings, skipped)

    def _file(self, table: Table, row: int, column: str, cell: str):
        """The file a cell names (relative to the table's folder); a DataError naming the row and column if absent."""
        path = table.path.parent / os.path.expanduser(cell)
        if not path.exists():
            raise DataError(table.path, f"{table.where(row, column)}: file not found: {path}")
        return path

    # loading ---------------------------------------------------------------------------------
    def path_for(self, recording: Recording, modality: str, root: str | Path | None = None) -> Path:
        mod = self.modality(modality)
        path = recording.files.get(modality)
        if path is None:
            column = self.description.modalities[mod.name].column
            raise DataError(self.table_at(root or self.root),
                            f"row {recording.attrs.get('row', '?')}, column '{column}': recording {recording.key} "
                            f"has no {modality} file")
        return path

    def load(self, recording: Recording, modality: str, root: str | Path | None = None, **options) -> np.ndarray:
        """The array of ``modality`` of ``recording``; a file that fails names its row and column too."""
        try:
            return super().load(recording, modality, root, **options)
        except DataError as err:
            if "row" not in recording.attrs or err.problem.startswith("row "):
                raise
            column = self.description.modalities[modality].column
            raise DataError(err.path, f"{err.problem} ({Path(self.description.path).name} row "
                                      f"{recording.attrs['row']}, column '{column}')") from None

    def _read(self, m: ModalityDescription, path, sensor: str = "all", **options) -> np.ndarray:
        merged = {**m.options, **options}
        extra = {"rate": m.rate} if m.fmt.timestamped or m.fmt.layout else {}
        if m.fmt.timestamped or m.fmt.layout:
            extra["option"] = f"{_where('modalities', m.name, 'max_gap')}"
        ndim = {"inertial": (1, 2), "skeleton": (3,)}.get(m.kind, (1, 2, 3, 4))
        if m.fmt.read is formats.read_array:
            extra["ndim"] = ndim
        x = m.fmt.read(path, **merged, **extra)
        if m.kind == "skeleton" and x.shape[-1] == 2 and not m.fmt.layout:
            x = np.concatenate([x, np.zeros(x.shape[:-1] + (1,), np.float32)], axis=-1)
        if m.kind == "inertial":
            x = self._channels_of(m, Path(path), x, sensor)
        return x

    def _channels_of(self, m: ModalityDescription, path: Path, x: np.ndarray, sensor: str) -> np.ndarray:
        if m.channels and x.shape[1] != len(m.channels):
            names = ", ".join(n for n, _ in m.channels)
            raise DataError(path, f"has {x.shape[1]} value column{'s' if x.shape[1] != 1 else ''}, but "
                                  f"{_where('modalities', m.name)} names {len(m.channels)} channels ({names}); "
                                  "list one name per column in its channels")
        if sensor == "all":
            return x
        picked = self.channels(m.name, sensor)
        if picked is None:
            names = ", ".join(n for n, _ in m.channels) or f"{x.shape[1]} unnamed"
            raise ConfigError(f"sensor '{sensor}' selects no channel of {m.name} (channels: {names})")
        return np.ascontiguousarray(x[:, picked[2]])


def _did_you_mean(value: str, valid) -> str:
    close = difflib.get_close_matches(value, list(valid), n=1)
    return f"; did you mean '{close[0]}'?" if close else ""


def _trains(test: dict[str, set[str]], recording: Recording) -> bool:
    """True unless every listed role's value of ``recording`` is among the test values."""
    return not all(_norm(str(recording.attrs.get(role, ""))) in values for role, values in test.items())


# -- from a data config ---------------------------------------------------------------------
_SPECS: dict[tuple, ManifestDataset] = {}


def manifest_dataset(name: str, description: Mapping, root: str | Path) -> ManifestDataset:
    """The :class:`ManifestDataset` of ``description`` under ``name`` at ``root`` (one object per such
    triple in a process), registered under ``name`` (replacing an earlier manifest of that name)."""
    token = (name, json.dumps(description, sort_keys=True, default=str), str(root))
    spec = _SPECS.get(token)
    if spec is None:
        spec = _SPECS[token] = ManifestDataset(name, description, root)
    DATASETS.register(name, spec, overwrite=True)
    return spec


def dataset_of(data) -> DatasetSpec:
    """The dataset spec of a data config (``harkd.engine.config.DataConfig`` or alike): its manifest's,
    else the registered ``data.dataset``."""
    description = getattr(data, "manifest", None)
    if description is None:
        return get_dataset(data.dataset)
    return manifest_dataset(data.dataset, description, data.root)


def resolve_data_source(dataset: str, manifest, root: str | None) -> tuple[dict | None, str | None]:
    """A data config's ``(manifest, root)`` as the run records them: a description file read into its
    mapping, the description validated, the root made absolute (default: the description file's folder,
    else the current directory); the dataset registered under ``dataset``. A benchmark's pair is returned
    as it is; an in-memory dataset (:func:`harkd.data.arrays.from_arrays`) gets the current directory."""
    if manifest is None:
        if dataset.strip().lower() == "manifest":
            raise ConfigError("data.dataset manifest needs data.manifest, the table and its columns, e.g. {path: "
                              "labels.csv, key: recording_id, subject: subject, label: action, modalities: {acc: "
                              "{column: acc_file, format: csv, unit: m/s^2, rate: 50}}} (docs/data.md)")
        if not root and dataset in DATASETS and getattr(get_dataset(dataset), "in_memory", False):
            return None, os.getcwd()
        return None, root
    base = None
    if isinstance(manifest, str):
        base = Path(os.path.expanduser(manifest))
        manifest = _read_description(base)
    existing = DATASETS.get(dataset) if dataset in DATASETS else None
    if existing is not None and not isinstance(existing, ManifestDataset):
        raise ConfigError(f"data.dataset '{dataset}' is a registered dataset; a dataset described by data.manifest "
                          "needs a name of its own (e.g. data.dataset: manifest)")
    if root:
        root = os.path.abspath(os.path.expanduser(root))
    else:
        root = str(base.resolve().parent) if base is not None else os.getcwd()
    manifest = dict(_mapping(manifest, "data.manifest"))
    manifest_dataset(dataset, manifest, root)  # validates the description
    return manifest, root


def _read_description(path: Path) -> dict:
    import yaml

    if not path.is_file():
        raise DataError(path, "data.manifest: description file not found")
    try:
        data = yaml.safe_load(path.read_text())
    except Exception as err:  # yaml.YAMLError, UnicodeDecodeError
        raise DataError(path, f"not valid YAML ({str(err).splitlines()[0]})") from None
    if not isinstance(data, dict):
        raise DataError(path, "a manifest description must hold a mapping (path, key, subject, label, modalities)")
    return data
