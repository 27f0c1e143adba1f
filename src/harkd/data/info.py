"""Summary of a dataset root: counts, splits, gaps, skipped files, clip lengths."""

from __future__ import annotations

import warnings
from typing import Any

import numpy as np

from harkd.errors import DataError, DataWarning, HarkdError
from harkd.data.protocols import AUTO, DEFAULT_VAL_FRACTION, ValSubjects, make_split
from harkd.data.recording import RecordingIndex
from harkd.data.registry import DatasetSpec


def summarize(spec: DatasetSpec, index: RecordingIndex, protocol: str | None = None, check: bool = False,
              val_fraction: float = DEFAULT_VAL_FRACTION, seed: int = 0,
              val_subjects: ValSubjects = AUTO) -> dict[str, Any]:
    """A JSON-serialisable summary of ``index``.

    Frame counts are measured for the cheap modalities (inertial, skeleton); with
    ``check=True`` every file of every modality is loaded and validated, and load
    failures are listed under ``"errors"`` (also any met while measuring lengths), and
    what the readers repaired (e.g. interpolated accelerometer gaps) under ``"warnings"``.
    """
    counts = index.modality_counts()
    expected = spec.expected_keys()
    out: dict[str, Any] = {
        "dataset": spec.name,
        "root": str(index.root),
        "recordings": len(index),
        "modalities": {m: counts.get(m, 0) for m in spec.modalities},
        "missing": {
            "incomplete": index.missing(counts),
            "absent": sorted(set(expected) - set(index.keys), key=expected.index) if expected else [],
        },
        "skipped": [{"path": str(p), "reason": r} for p, r in index.skipped],
    }
    if protocol:
        split = make_split(spec, index, protocol, val_fraction, seed, val_subjects)
        out["split"] = {"protocol": protocol, **split.counts(), "validation": split.validation.to_dict()}
    lengths: dict[str, Any] = {}
    errors: list[dict[str, str]] = []
    repaired: list[str] = []
    for mod in spec.modality_specs:
        if not counts.get(mod.name) or not (check or mod.cheap):
            continue
        frames = []
        for rec in index.with_modalities([mod.name]):
            try:
                with warnings.catch_warnings(record=True) as caught:
                    warnings.simplefilter("always", DataWarning)
                    frames.append(len(spec.load(rec, mod.name)))
                for w in caught:
                    if not issubclass(w.category, DataWarning):
                        warnings.warn_explicit(w.message, w.category, w.filename, w.lineno)
                    elif str(w.message) not in repaired:
                        repaired.append(str(w.message))
            except HarkdError as err:
                path = err.path if isinstance(err, DataError) else rec.files[mod.name]
                entry = {"path": str(path), "reason": getattr(err, "problem", str(err))}
                if entry not in errors:  # modalities sharing files (multi-file groups) report a problem once
                    errors.append(entry)
        if frames:
            lengths[mod.name] = {"min": int(np.min(frames)), "median": float(np.median(frames)),
                                 "max": int(np.max(frames)), "n": len(frames)}
    out["lengths"] = lengths
    out["checked"] = check
    out["errors"] = errors
    out["warnings"] = repaired
    return out
