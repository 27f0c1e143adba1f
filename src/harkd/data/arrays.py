"""In-memory arrays as a dataset: ``X`` per modality, labels ``y``, ``groups`` (subjects), as sktime/tsai hold them.

::

    import harkd
    from harkd.data import from_arrays

    data = from_arrays({"acc": X}, y, groups=subjects, units={"acc": "m/s^2"}, rates={"acc": 50},
                       test_groups=[5, 6])                  # X: (n, channels, time), as sktime and tsai
    run = harkd.train({"name": "acc", "data": {"dataset": data.name, "protocol": "cross_subject",
                                               "modalities": {"acc": {"length": 128}}},
                       "model": {"name": "imu_cnn1d", "input": "acc"}})

The dataset is registered under ``name`` (default ``arrays``) for this process: a config names it as
``data.dataset``, with no ``data.root`` (the arrays live in memory; the run records the current
directory). Recordings, classes and protocols follow the manifest rules (:mod:`harkd.data.manifest`):
class names are the sorted labels (or ``classes``), ``leave_one_subject_out:<group>`` for every group,
``cross_subject`` with ``test_groups``, ``split`` with a ``split`` array of train/val/test.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any, Mapping, Sequence

import numpy as np

from harkd.errors import DataError, InputError
from harkd.data.formats import check_array
from harkd.data.manifest import (LOSO, UNIT_SENSORS, Description, ManifestDataset, ModalityDescription, Table,
                                 _norm)
from harkd.data.registry import DATASETS, get_dataset

__all__ = ["from_arrays", "ArraysDataset", "LAYOUTS"]

#: how a stacked array (or each recording of a list) is laid out: sktime/tsai's (n, channels, time),
#: time first (n, time, channels), or keypoints (n, time, joints, coordinates)
LAYOUTS = {"NCT": "inertial", "NTC": "inertial", "NTVC": "skeleton"}


class ArraysDataset(ManifestDataset):
    """A :class:`~harkd.data.manifest.ManifestDataset` whose table and files are in memory (:func:`from_arrays`)."""

    in_memory = True

    def __init__(self, name: str, description: Description, table: Table, arrays: dict[str, list[np.ndarray]]):
        super().__init__(name, description, Path.cwd())
        self._memory_table = table
        self.arrays = arrays

    def table(self, root=None) -> Table:
        return self._memory_table

    def table_at(self, root) -> Path:
        return self._memory_table.path

    def _file(self, table: Table, row: int, column: str, cell: str):
        return _Item(column, int(cell))

    def _read(self, m: ModalityDescription, item, sensor: str = "all", **options) -> np.ndarray:
        x = self.arrays[m.name][item.index]
        return self._channels_of(m, self._memory_table.path, x, sensor) if m.kind == "inertial" else x

    def cache_facts(self, modality: str) -> dict:
        return {}


class _Item(str):
    """A recording's array of one modality: ``X[modality][index]`` (a str, so it shows in messages)."""

    def __new__(cls, modality: str, index: int):
        item = super().__new__(cls, f"X['{modality}'][{index}]")
        item.index = index
        return item


def _recordings(name: str, x, layout: str) -> list[np.ndarray]:
    """One time-first float32 array per recording of ``X[name]`` (a stacked array or a list)."""
    where = f"X['{name}']"
    items = list(x) if isinstance(x, (list, tuple)) else None
    if items is None:
        x = np.asarray(x)
        if x.ndim != len(layout):
            raise InputError(f"{where} has shape {x.shape}: layout {layout} needs {len(layout)} dimensions "
                             "(a list of per-recording arrays may differ in length)")
        items = list(x)
    out = []
    for i, item in enumerate(items):
        arr = np.asarray(item)
        time_axis = 1 if layout == "NCT" and arr.ndim == 2 else 0
        try:
            arr = check_array(Path(where), arr, f"{where}[{i}]", time_axis, ndim=(len(layout) - 1,))
        except DataError as err:
            raise InputError(err.problem) from None
        if layout == "NTVC" and arr.shape[-1] == 2:
            arr = np.concatenate([arr, np.zeros(arr.shape[:-1] + (1,), np.float32)], axis=-1)
        if layout == "NTVC" and arr.shape[-1] != 3:
            raise InputError(f"{where}[{i}] has {arr.shape[-1]} coordinates per joint, expected 2 or 3 (layout NTVC)")
        out.append(arr)
    if not out:
        raise InputError(f"{where} holds no recordings")
    widths = {a.shape[1:] for a in out}
    if len(widths) > 1:
        raise InputError(f"{where}: recordings differ in shape beyond time ({', '.join(map(str, sorted(widths)))})")
    return out


def _per_modality(value, name: str):
    return value.get(name) if isinstance(value, Mapping) else value


def from_arrays(X: Mapping[str, Any], y: Sequence, groups: Sequence | None = None, *, name: str = "arrays",
                classes: Sequence[str] | None = None, keys: Sequence[str] | None = None,
                split: Sequence[str] | None = None, test_groups: Sequence | None = None,
                protocols: Mapping[str, Mapping[str, Sequence]] | None = None,
                layout: str | Mapping[str, str] = "auto", rates: float | Mapping[str, float] | None = None,
                units: str | list | Mapping[str, Any] | None = None,
                channels: Mapping[str, Sequence[str]] | None = None) -> ArraysDataset:
    """Register the recordings in ``X`` (modality -> arrays) as dataset ``name`` and return it.

    ``X[m]``: one stacked array or a list of per-recording arrays (lengths may differ), laid out as
    ``layout`` says (per modality or for all): ``NCT`` (sktime/tsai: recordings, channels, time; the
    default for 3-D), ``NTC`` (time first) or ``NTVC`` (keypoints: time, joints, 2 or 3 coordinates; the
    default for 4-D). A list entry of None: that recording lacks the modality. ``y``: labels (names or
    indices into ``classes``); ``groups``: each recording's subject (default: one group). ``keys``: the
    recordings' keys (default ``r00001``, ...). ``rates`` (Hz), ``units`` and ``channels`` describe the
    inertial modalities as a manifest's ``rate``, ``unit`` and ``channels`` do (export reads them).
    Bad input is one :class:`~harkd.errors.InputError` naming the argument."""
    if not isinstance(X, Mapping) or not X:
        raise InputError("X must map each modality name to its arrays, e.g. {'acc': X_acc}")
    y = [str(v) for v in (y.tolist() if isinstance(y, np.ndarray) else list(y))]
    n = len(y)
    if name in DATASETS and not isinstance(get_dataset(name), ArraysDataset):
        raise InputError(f"name '{name}' is a registered dataset; pass from_arrays(..., name=...) another name")
    arrays, described = {}, {}
    for m, x in X.items():
        if isinstance(x, (list, tuple)):
            present = [i for i, v in enumerate(x) if v is not None]
            sample = np.asarray(x[present[0]]) if present else None
            ndim = None if sample is None else sample.ndim + 1
            items = _recordings(m, [x[i] for i in present], _layout(layout, m, ndim))
            full: list = [None] * len(x)
            for i, arr in zip(present, items):
                full[i] = arr
        else:
            full = _recordings(m, x, _layout(layout, m, np.ndim(x)))
        if len(full) != n:
            raise InputError(f"X['{m}'] holds {len(full)} recordings, y {n} labels")
        arrays[m] = full
        lay = _layout(layout, m, full[next(i for i, a in enumerate(full) if a is not None)].ndim + 1)
        kind = LAYOUTS[lay]
        width = next(a for a in full if a is not None).shape[1]
        described[m] = ModalityDescription(m, m, "npy", _rate(rates, m), _channel_list(m, kind, width, channels, units),
                                           kind)
    subjects = ["1"] * n if groups is None else [str(v) for v in (np.asarray(groups).tolist())]
    if len(subjects) != n:
        raise InputError(f"groups has {len(subjects)} entries, y {n} labels")
    keys = [f"r{i + 1:05d}" for i in range(n)] if keys is None else [str(k) for k in keys]
    if len(keys) != n or len(set(keys)) != n:
        raise InputError(f"keys must be {n} distinct names (one per label), got {len(keys)} with "
                         f"{len(keys) - len(set(keys))} repeated")
    columns = {"key": "key", "subject": "subject", "label": "label"}
    rows = [{"key": k, "subject": g, "label": v} for k, g, v in zip(keys, subjects, y)]
    if split is not None:
        split = [str(v) for v in split]
        if len(split) != n:
            raise InputError(f"split has {len(split)} entries, y {n} labels")
        columns["split"] = "split"
        for row, value in zip(rows, split):
            row["split"] = value
    for m in described:
        for i, (row, arr) in enumerate(zip(rows, arrays[m])):
            row[m] = "" if arr is None else str(i)
    wanted = {name: (f"protocols['{name}']", test) for name, test in (protocols or {}).items()}
    if test_groups is not None:
        wanted["cross_subject"] = ("test_groups", {"subject": list(test_groups)})
    known = sorted({_norm(g) for g in subjects}, key=lambda v: (len(v), v))
    tests = {}
    for pname, (argument, test) in wanted.items():
        if pname == "split" or pname.startswith(LOSO):
            raise InputError(f"protocols: the name {pname!r} is reserved (split and {LOSO}:<group> come with the data)")
        bad = [role for role in test if role != "subject"]
        if bad:
            raise InputError(f"{argument}: in-memory recordings have groups only; got {bad[0]!r}")
        values = tuple(_norm(str(v)) for v in test["subject"])
        unknown = [v for v in values if v not in known]
        if unknown:
            raise InputError(f"{argument}: group {unknown[0]} is not among the groups ({', '.join(known)})")
        tests[pname] = {"subject": values}
    description = Description("<memory>", columns, tuple(map(str, classes)) if classes is not None else None, tests,
                              described)
    table = Table(Path(f"<from_arrays {name}>"), list(columns.values()) + list(described), rows)
    dataset = ArraysDataset(name, description, table, arrays)
    try:
        dataset.scan()  # labels, groups, protocols and split checked now
    except DataError as err:
        raise InputError(_argument_message(err.problem)) from None
    DATASETS.register(name, dataset, overwrite=True)
    return dataset


def _argument_message(problem: str) -> str:
    """A table message (``row 3, column 'label': ...``) in terms of the Python arguments."""
    for column, argument in (("'label'", "y"), ("'subject'", "groups"), ("'split'", "split"), ("'key'", "keys")):
        problem = problem.replace(f"column {column}", f"argument {argument}")
    return problem.replace("data.manifest.classes", "classes").replace("data.manifest.protocols", "protocols")


def _layout(layout, modality: str, ndim: int | None) -> str:
    chosen = _per_modality(layout, modality) or "auto"
    if chosen == "auto":
        chosen = {3: "NCT", 4: "NTVC"}.get(ndim)
        if chosen is None:
            raise InputError(f"X['{modality}'] has {ndim} dimensions: pass layout='NCT' (recordings, channels, time), "
                             "'NTC' or 'NTVC' (keypoints)")
    if chosen not in LAYOUTS:
        raise InputError(f"layout for '{modality}' must be one of {', '.join(LAYOUTS)}, got {chosen!r}")
    return chosen


def _rate(rates, modality: str) -> float | None:
    rate = _per_modality(rates, modality)
    if rate is None:
        return None
    if isinstance(rate, bool) or not isinstance(rate, (int, float)) or not rate > 0:
        raise InputError(f"rates['{modality}'] must be a positive number of Hz, got {rate!r}")
    return float(rate)


def _channel_list(modality: str, kind: str, width: int, channels, units) -> tuple[tuple[str, str], ...]:
    if kind != "inertial":
        return ()
    names = _per_modality(channels, modality)
    unit = _per_modality(units, modality)
    if names is None:
        prefix = UNIT_SENSORS.get(str(unit).lower()) if isinstance(unit, str) else None
        names = [f"{prefix}_{a}" for a in "xyz"] if prefix and width == 3 else [f"{modality}_{i}" for i in range(width)]
    names = [str(v) for v in names]
    if len(names) != width:
        raise InputError(f"channels['{modality}'] names {len(names)} channels, the arrays have {width}")
    unit_list = unit if isinstance(unit, list) else [unit or ""] * width
    if len(unit_list) != width:
        raise InputError(f"units['{modality}'] gives {len(unit_list)} units for {width} channels")
    return tuple(zip(names, map(str, unit_list)))
