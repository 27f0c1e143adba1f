"""Tune a config on the VALIDATION split only: variants x seeds, a table of validation accuracy.

Each variant is a group of ``--set`` overrides (``;``-separated) applied to one config; every
run selects and reports on the validation split carved from the training subjects, and the
test split is never evaluated here, so choosing the best row is honest model selection.
Measure the chosen variant on the test split with ``utd_benchmark.py``.

The default validation carve (15 % of each class) shares its subjects with the training
side and saturates near 100 % on UTD-MHAD cross-subject, so it cannot rank variants; hold out
a whole training subject instead (``--set data.val_subjects=[7]``), which mirrors the
cross-subject test protocol.

    python benchmarks/sweep.py configs/utd_mhad/acc_cnn1d.yaml --root ../shared/data \\
        --set "data.val_subjects=[7]" \\
        --variant base= --variant "aug=data.modalities.inertial.augment={scale: 0.1, rotate: 15}"

``--folds 1 3 5 7`` holds out each of those training subjects in turn (``data.val_subjects=[S]``,
one run per fold and seed): leave-one-training-subject-out validation, four times the cost and
far less noisy than one held-out subject of ~108 recordings. ``--jobs N`` trains N runs at once
(one thread each); a killed sweep resumes, its finished runs read back from ``<out>/.suite/``.

The table (mean +- std over seeds and folds of the best and the last-epoch validation accuracy,
and the per-fold last-epoch means) is printed and, with ``--write NAME``, stored in
benchmarks/SWEEPS.md under that name.
"""

from __future__ import annotations

import argparse
import statistics
import sys
from pathlib import Path

from harkd.suites import (RunSpec, mean_std, record_header, replace_section, run_script, run_suite, train_run,
                          use_data_root)

HERE = Path(__file__).resolve().parent


def parse_variant(text: str) -> tuple[str, list[str]]:
    """``"label=a.b=1;c=2"`` -> ("label", ["a.b=1", "c=2"]); ``"label="`` is the config as is."""
    label, _, rest = text.partition("=")
    return label.strip(), [o.strip() for o in rest.split(";") if o.strip()]


def run_variant(spec: RunSpec) -> dict:
    """A suite job: train (or resume) one variant run; its best and last validation accuracy and epoch time."""
    from harkd.engine.evaluate import read_metrics

    train_run(spec)
    records = read_metrics(Path(spec.run_dir))
    val = [r["val_accuracy"] for r in records]
    return {"val_best": max(val), "val_last": val[-1], "s_per_epoch": statistics.median(r["seconds"] for r in records)}


def sweep_runs(config: Path, kind: str, variants: list[str], common: list[str], folds: list, seeds: list[int],
               out: Path) -> list[tuple[str, object, RunSpec]]:
    """One declared run per (variant, held-out subject, seed): ``(variant label, fold, run)``."""
    runs = []
    for text in variants:
        label, overrides = parse_variant(text)
        for fold in folds:
            held_out = [f"data.val_subjects=[{fold}]"] if fold is not None else []
            for seed in seeds:
                name = f"{label}_s{seed}" if fold is None else f"{label}_v{fold}_s{seed}"
                runs.append((label, fold, RunSpec(name, kind, str(config), str(out / config.stem / name),
                                                  (f"seed={seed}", *common, *overrides, *held_out))))
    return runs


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("config")
    ap.add_argument("--kind", choices=("train", "distill"), default="train")
    ap.add_argument("--variant", action="append", required=True, metavar="LABEL=OVERRIDES")
    ap.add_argument("--seeds", nargs="+", type=int, default=[0, 1, 2])
    ap.add_argument("--root", help="data root (default: $HARKD_DATA_ROOT)")
    ap.add_argument("--out", default="runs/sweep")
    ap.add_argument("--dataset-folder", default="UTD-MHAD", help="folder the config reads under the data root")
    ap.add_argument("--set", dest="common", action="append", default=[], help="override for every variant")
    ap.add_argument("--folds", nargs="+", type=int, metavar="SUBJECT",
                    help="leave-one-subject-out: hold out each of these training subjects in turn")
    ap.add_argument("--jobs", type=int, default=1, help="runs trained at once, one thread each (resumable: "
                    "finished runs are read back from <out>/.suite/)")
    ap.add_argument("--write", metavar="NAME", help="store the table in benchmarks/SWEEPS.md under NAME")
    args = ap.parse_args()
    if not use_data_root(args.root, args.dataset_folder):
        return 0
    config = Path(args.config)
    folds = args.folds or [None]
    rows = ["| variant | overrides | val acc. best (%) | val acc. last epoch (%) | s / epoch |", "|---|---|---:|---:|---:|"]
    if args.folds:
        rows[0] += " last epoch per held-out subject (%) |"
        rows[1] += "---|"
    runs = sweep_runs(config, args.kind, args.variant, args.common, folds, args.seeds, Path(args.out))
    done = run_suite([run for _, _, run in runs], run_variant, jobs=args.jobs, threads=1,
                     state_dir=Path(args.out) / ".suite" / config.stem)
    for text in args.variant:
        label, overrides = parse_variant(text)
        results, per_fold = [], {}
        for fold, run in ((f, r) for lab, f, r in runs if lab == label):
            results.append(done[run.name])
            per_fold.setdefault(fold, []).append(results[-1]["val_last"])
        shown = "; ".join([*args.common, *overrides]) or "(config as is)"
        rows.append(f"| {label} | `{shown}` | {mean_std([r['val_best'] for r in results])} | "
                    f"{mean_std([r['val_last'] for r in results])} | "
                    f"{statistics.median(r['s_per_epoch'] for r in results):.2f} |")
        if args.folds:
            rows[-1] += " " + ", ".join(f"{f}: {100 * statistics.mean(v):.1f}" for f, v in per_fold.items()) + " |"
    table = "\n".join(rows)
    print(table)
    if args.write:
        body = record_header(f"{args.write}: `{args.config}` ({args.kind}), validation split only",
                             f"seeds {' '.join(map(str, args.seeds))}"
                             + (f"; held out in turn: training subjects {' '.join(map(str, args.folds))}"
                                if args.folds else "") + "; the test split is not evaluated") + table + "\n"
        replace_section(HERE / "SWEEPS.md", f"sweep-{args.write}", body)
    return 0


if __name__ == "__main__":
    sys.exit(run_script(main))
