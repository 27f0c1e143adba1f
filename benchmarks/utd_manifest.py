"""UTD-MHAD's inertial and skeleton files re-expressed as a manifest (one table, no code).

Writes ``OUT/utd_manifest.csv`` (one row per recording of the release, in the built-in loader's
order: ``key,subject,action,trial,inertial_file,skeleton_file``; the files are referenced where they
are, by absolute path, never copied) and ``OUT/utd_manifest.yaml``, the ``data.manifest``
description (the 27 classes in the dataset's order, ``cross_subject`` with test subjects 2, 4, 6, 8,
the ``.mat`` variables and units). ``tests/data/test_real_utd_manifest.py`` shows that
``configs/utd_mhad/acc_cnn1d.yaml`` through it gives the built-in loader's split keys and, for a
fixed seed, its metrics::

    python benchmarks/utd_manifest.py --root ../shared/data/UTD-MHAD --out /tmp/utd-manifest
    harkd data info --config /tmp/utd-manifest/acc_cnn1d.yaml --check
    harkd train /tmp/utd-manifest/acc_cnn1d.yaml

``OUT/acc_cnn1d.yaml`` is ``configs/utd_mhad/acc_cnn1d.yaml`` with ``data`` pointing at the manifest
and ``data.val_subjects`` set to the subject the built-in ``auto`` rule holds out (the rule hashes the
dataset's name, so a manifest of another name would otherwise hold out another subject).
"""

from __future__ import annotations

import argparse
import csv
import sys
from pathlib import Path

import yaml

HERE = Path(__file__).resolve().parent
TABLE, DESCRIPTION, CONFIG = "utd_manifest.csv", "utd_manifest.yaml", "acc_cnn1d.yaml"


def description() -> dict:
    """The ``data.manifest`` mapping of the table :func:`write_manifest` writes."""
    from harkd.data.utd_mhad import CLASS_NAMES, INERTIAL_CHANNELS, INERTIAL_RATE

    return {
        "path": TABLE, "key": "key", "subject": "subject", "label": "action", "trial": "trial",
        "classes": list(CLASS_NAMES),
        "protocols": {"cross_subject": {"subject": [2, 4, 6, 8]}, "subject_specific": {"trial": [3, 4]}},
        "modalities": {
            "inertial": {"column": "inertial_file", "format": "mat", "key": "d_iner", "rate": INERTIAL_RATE,
                         "channels": [n for n, _ in INERTIAL_CHANNELS], "unit": [u for _, u in INERTIAL_CHANNELS]},
            "skeleton": {"column": "skeleton_file", "format": "mat", "key": "d_skel", "time_axis": -1,
                         "kind": "skeleton"},
        },
    }


def write_manifest(root: str | Path, out: str | Path, name: str = "utd-mhad-manifest") -> Path:
    """Write the table, its description and the acc_cnn1d config under ``out``; returns the config's path."""
    from harkd.data import get_dataset, make_split
    from harkd.data.utd_mhad import CLASS_NAMES

    spec = get_dataset("utd-mhad")
    index = spec.scan(root, strict=True)
    out = Path(out)
    out.mkdir(parents=True, exist_ok=True)
    with open(out / TABLE, "w", newline="") as fh:
        rows = csv.writer(fh)
        rows.writerow(["key", "subject", "action", "trial", "inertial_file", "skeleton_file"])
        for rec in index:
            files = [str(Path(rec.files[m]).resolve()) if m in rec.files else "" for m in ("inertial", "skeleton")]
            rows.writerow([rec.key, rec.subject, CLASS_NAMES[rec.label], rec.trial, *files])
    (out / DESCRIPTION).write_text(yaml.safe_dump(description(), sort_keys=False))
    config = yaml.safe_load((HERE.parent / "configs" / "utd_mhad" / CONFIG).read_text())
    held_out = make_split(spec, index, config["data"]["protocol"]).validation.subjects
    config["name"] = "utd_manifest_acc_cnn1d"
    config["data"].update({"dataset": name, "root": str(out.resolve()), "manifest": str((out / DESCRIPTION).resolve()),
                           "val_subjects": list(held_out)})
    (out / CONFIG).write_text(yaml.safe_dump(config, sort_keys=False))
    return out / CONFIG


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--root", required=True, help="the UTD-MHAD release folder (holding Inertial/, Skeleton/)")
    parser.add_argument("--out", required=True, help="folder for the table, its description and the config")
    args = parser.parse_args(argv)
    config = write_manifest(args.root, args.out)
    print(f"wrote {config.parent / TABLE}, {config.parent / DESCRIPTION} and {config}")
    return 0


if __name__ == "__main__":
    from harkd.suites import run_script

    sys.exit(run_script(main))
