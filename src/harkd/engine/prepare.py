"""From a data config to the paired datasets of a run: scan, split by protocol, preflight, normalise."""

from __future__ import annotations

import dataclasses
import functools
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Callable, Sequence

import harkd.encoding  # noqa: F401  (registers the inertial GAF encoding with the data layer)
from harkd.engine.config import DataConfig
from harkd.errors import ConfigError, DataError

__all__ = ["PreparedData", "prepare_data", "split_size", "check_fixed_shapes", "check_disjoint", "report_left_out", "SPLITS",
           "SHOWN", "TEACHER_MISSING"]


@dataclass
class PreparedData:
    spec: Any
    split: Any
    datasets: dict
    class_names: list[str]
    root: Path
    root_source: str = "config"  # where the root came from: config (data.root / HARKD_DATA_ROOT) or run.json
    #: the scans made (or reused) for these data, :func:`index_key` -> RecordingIndex: pass it as
    #: ``prepare_data(indexes=)`` so a run loaded next to this one (a teacher fold) does not scan again
    indexes: dict = field(default_factory=dict)
    plan: Any = None  # the run's Plan, set by harkd.engine.runs.load_run


SPLITS = ("train", "val", "test")
#: ``data.teacher_missing`` (distillation): what a recording without a teacher-only modality does
TEACHER_MISSING = ("student_only", "skip")
#: How many keys (or files) a report of left-out recordings names before "and N more".
SHOWN = 3


def prepare_data(data: DataConfig, inputs: list[str], normalization: dict | None = None,
                 split_keys: dict | None = None, *, check: tuple[str, ...] = SPLITS,
                 root: Path | None = None, indexes: dict | None = None,
                 progress: Callable[[str, int, int], None] | None = None,
                 teacher_only: Sequence[str] = ()) -> PreparedData:
    """Scan the dataset, split it by protocol (validation from training only), build paired datasets.

    ``inputs`` are the modalities some model reads (each must be in ``data.modalities``).
    ``normalization`` (per modality) supplies statistics; those of the other modalities are
    fitted on the training split. ``split_keys`` (a saved ``{"train": [...], "val": [...],
    "test": [...]}``) replaces the protocol split; its keys no longer found are left out.
    The ``check`` splits are preflighted (every file loaded once, through the cache;
    ``data.on_error`` stop/skip decides what a bad file does) and what each leaves out is
    reported with :func:`harkd.errors.warn`. ``root`` overrides ``data.resolved_root()``.
    ``indexes`` caches scans (:func:`index_key` -> index): a root scanned once is not scanned again.
    ``progress(split, done, total)`` follows the preflight, recording by recording.
    ``teacher_only``: the modalities only a distillation's teachers read. With ``data.teacher_missing:
    student_only`` (default) a recording lacking one stays in every split (its sample: zeros and
    ``present_<modality>`` False), so the student's splits are its own modality's; with ``skip`` it is
    left out. Either way one warning line counts those recordings per split.
    """
    from harkd.data import PairedDataset, Split, make_split
    from harkd.data.dataset import ON_ERROR
    from harkd.data.manifest import dataset_of

    spec = dataset_of(data)
    modalities = list(data.modalities)
    for name in inputs:
        if name not in modalities:
            raise ConfigError(f"config key 'model.input': '{name}' is not among data.modalities "
                              f"({', '.join(modalities)})")
    on_error = data.on_error  # checked again here: a DataConfig built in Python skips the schema
    if on_error not in ON_ERROR:
        raise ConfigError(f"config key 'data.on_error': {on_error!r} is not one of {', '.join(ON_ERROR)}")
    teacher_missing = getattr(data, "teacher_missing", TEACHER_MISSING[0])
    if teacher_missing not in TEACHER_MISSING:
        raise ConfigError(f"config key 'data.teacher_missing': {teacher_missing!r} is not one of "
                          f"{', '.join(TEACHER_MISSING)}")
    optional = tuple(teacher_only) if teacher_missing == "student_only" else ()
    root = root or data.resolved_root()
    indexes = {} if indexes is None else indexes
    index = scan_index(spec, root, data.strict, indexes)
    if split_keys is not None:
        split = Split(**{name: tuple(split_keys.get(name, ())) for name in SPLITS})
        origin = "the split saved in run.json"
    else:
        split = make_split(spec, index, data.protocol, val_fraction=data.val_fraction, seed=0,
                           val_subjects=data.val_subjects)
        origin = f"protocol {data.protocol} with validation {split.validation.how}"
    check_disjoint(split, origin)
    cache = True if data.cache else None
    datasets: dict = {}
    for name in SPLITS:
        keys = list(getattr(split, name))
        absent = [k for k in keys if k not in index]
        if absent and data.strict:
            raise DataError(root, f"recording {absent[0]} of the {name} split is not found (data.strict)")
        first = datasets.get("train")
        datasets[name] = PairedDataset(
            spec, index, [k for k in keys if k in index], modalities,
            data.modalities if first is None else first.transforms, train=name == "train",
            strict=data.strict, cache=cache if first is None else first.cache,
            paired_shift=data.paired_shift if name == "train" else 0.0, optional=optional,
            virtual=_virtual_options(data) if name == "train" else None)
        datasets[name].skipped[:0] = [(k, f"not found under {root}") for k in absent]
        if first is None:
            check_fixed_shapes(datasets[name].transforms)
        if name in check:
            datasets[name].check(on_error, None if progress is None else functools.partial(progress, name))
        if name == "train" and len(datasets[name]) == 0:
            raise DataError(root, f"no training recordings with modalities {modalities} under protocol {data.protocol}")
    train = datasets["train"]
    for modality in optional:
        if not train.keys_with([modality]):
            raise DataError(root, f"none of the {len(train)} training recordings has '{modality}', the teachers' "
                                  "modality: there is nothing to distil")
    if check:
        lacking = teacher_lacking(index, datasets, split, modalities, teacher_only)
        report_left_out(index, datasets, split, set().union(*lacking.values()) if not optional else ())
        report_teacher_missing(lacking, split, teacher_missing, teacher_only)
        report_virtual(train)
    supplied = dict(normalization or {})
    train.fit_normalization([m for m in modalities if m not in supplied])
    if supplied:
        train.load_normalization(supplied)
    return PreparedData(spec, split, datasets, list(spec.class_names), root, indexes=indexes)


def _virtual_options(data: DataConfig) -> dict | None:
    """``data.virtual_inertial`` as :class:`harkd.data.virtual.VirtualInertial` options (None: off)."""
    return None if data.virtual_inertial is None else dataclasses.asdict(data.virtual_inertial)


def index_key(dataset: str, root: Path, strict: bool) -> tuple:
    return dataset, str(Path(root).resolve()), bool(strict)


def scan_index(spec, root: Path, strict: bool, indexes: dict):
    """``spec.scan(root)``, or the scan ``indexes`` already holds for that dataset, root and strictness."""
    key = index_key(spec.name, root, strict)
    if key not in indexes:
        indexes[key] = spec.scan(root, strict=strict)
    return indexes[key]


_SHAPE_EXAMPLES = {"length": "128", "frames": "32", "size": "[112,112]"}


def check_fixed_shapes(transforms: dict) -> None:
    """A ConfigError naming the option when a modality's clips would differ in shape (no batch could be stacked)."""
    for modality, transform in transforms.items():
        unset = transform.unset_shape_options()
        if unset:
            raise ConfigError(
                f"config key 'data.modalities.{modality}': {' and '.join(repr(o) for o in unset)} not set, so its "
                f"clips differ in shape and cannot be batched; set {'them' if len(unset) > 1 else 'it'}, e.g. "
                f"--set data.modalities.{modality}.{unset[0]}={_SHAPE_EXAMPLES[unset[0]]}")


def check_disjoint(split, origin: str) -> None:
    """Validation recordings must be neither training nor test recordings (ConfigError naming them)."""
    val = set(split.val)
    for other in ("train", "test"):
        common = sorted(val & set(getattr(split, other)))
        if common:
            raise ConfigError(f"{len(common)} validation recording(s) are also {other} recordings "
                              f"({_first_keys(common)}) in {origin}: validation must be held out from "
                              "training and test")


def _first_keys(keys: list[str], shown: int = SHOWN) -> str:
    more = f" and {len(keys) - shown} more" if len(keys) > shown else ""
    return ", ".join(keys[:shown]) + more


def teacher_lacking(index, datasets: dict, split, modalities: list[str], teacher_only: Sequence[str]) -> dict:
    """Per split, the keys of the recordings that have every student modality but lack a ``teacher_only`` one."""
    student = [m for m in modalities if m not in teacher_only]
    out = {}
    for name in datasets:
        recs = [index[k] for k in getattr(split, name) if k in index]
        out[name] = [r.key for r in recs if all(r.has(m) for m in student)
                     and not all(r.has(m) for m in teacher_only)]
    return out


def report_teacher_missing(lacking: dict, split, mode: str, teacher_only: Sequence[str]) -> None:
    """One warning line: how many recordings of each split lack a teacher's modality, and what happened to them."""
    from harkd.errors import warn

    counts = ", ".join(f"{name} {len(keys)} of {len(getattr(split, name))}" for name, keys in lacking.items() if keys)
    if not counts:
        return
    first = next(keys[0] for keys in lacking.values() if keys)
    what = f"recordings without {' or '.join(teacher_only)} (read by the teachers only)"
    if mode == "skip":
        warn(f"{what} left the student's splits: {counts} (e.g. {first}; data.teacher_missing: skip; "
             "student_only keeps them for the student)")
    else:
        warn(f"{what} stay the student's, with cross-entropy only: {counts} (e.g. {first}; "
             "data.teacher_missing: student_only; skip leaves them out)")


def split_size(dataset) -> str:
    """How many samples a split holds: ``431``, or ``431 + 431 virtual`` with virtual accelerometer twins."""
    twins = getattr(dataset, "virtual_count", 0)
    return f"{len(dataset) - twins}" + (f" + {twins} virtual" if twins else "")


def report_virtual(train) -> None:
    """One warning line when training recordings got no virtual twin (no skeleton or sensor site, or it failed)."""
    from harkd.errors import warn

    if getattr(train, "virtual", None) is None:
        return
    failed = train.virtual_skipped
    missing = len(train.recordings) - train.virtual_count - len(failed)
    if not (failed or missing):
        return
    parts = [f"{missing} without {train.virtual.source} or a sensor site"] if missing else []
    if failed:
        parts.append(f"{len(failed)} failed: " + _first_keys([f"{key} ({problem})" for key, problem in failed]))
    warn(f"data.virtual_inertial: {train.virtual_count} of {len(train.recordings)} training recordings have a virtual "
         f"accelerometer twin; " + "; ".join(parts))


def report_left_out(index, datasets: dict, split, grouped=()) -> None:
    """Warn, once at the start, about the files the scan skipped and, per split, the recordings left out
    (except the ``grouped`` keys, which another line reports)."""
    from harkd.errors import warn

    if index.skipped:
        shown = "; ".join(f"{path} ({reason})" for path, reason in index.skipped[:SHOWN])
        more = f"; and {len(index.skipped) - SHOWN} more" if len(index.skipped) > SHOWN else ""
        warn(f"scanning {index.root} skipped {len(index.skipped)} file(s): {shown}{more} "
             f"(harkd data info --dataset {index.dataset} --root {index.root} lists them all)")
    for name, dataset in datasets.items():
        skipped = [(key, reason) for key, reason in dataset.skipped if key not in grouped]
        if skipped:
            warn(f"{name} split: {len(skipped)} of {len(getattr(split, name))} recordings left out: "
                 + _first_keys([f"{key} ({reason})" for key, reason in skipped])
                 + " (listed in run.json 'skipped')")

