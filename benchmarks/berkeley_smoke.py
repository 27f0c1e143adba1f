"""Berkeley-MHAD pipeline smoke test on the subject-1 sample (55 recordings): NOT a protocol result.

Trains the six-accelerometer 1D CNN, the D-Mocap skeleton ST-GCN and the skeleton ->
accelerometer KD student (configs/berkeley_mhad/) on subject 1 alone with the
``subject_specific`` protocol (train repetitions 1-3, validation carved from them, test
repetitions 4-5: 22 / 11 / 22 recordings), one seed, fresh run directories. It checks that
the loaders, transforms, models, distillation and evaluation run end to end on real files;
the numbers are far too noisy to compare methods. The table (test accuracy of the
validation-selected and the last-epoch checkpoint, seconds per epoch, the command per row)
is printed and written to the ``berkeley-smoke`` section of benchmarks/RESULTS.md.

    OMP_NUM_THREADS=1 python benchmarks/berkeley_smoke.py --root ../shared/data
    HARKD_DATA_ROOT=../shared/data python benchmarks/berkeley_smoke.py --epochs 10 --no-write
"""

from __future__ import annotations

import argparse
import datetime
import json
import os
import shutil
import statistics
import sys
import time
from pathlib import Path

from harkd.suites import RunSpec, mean_std, replace_section, run_script, train_run

HERE = Path(__file__).resolve().parent

from harkd.engine.machine import machine_description  # noqa: E402

FOLDER = "Berkeley-MHAD-s01"
# (label, config under configs/berkeley_mhad, kind, teacher run of an earlier row or None)
RUNS = [
    ("accelerometers (6 Shimmers), 1D CNN", "acc_cnn1d.yaml", "train", None),
    ("D-Mocap skeleton, ST-GCN", "skeleton_stgcn.yaml", "train", None),
    ("skeleton -> accelerometers, CE + KD (T = 4)", "distill/skel2acc_kd.yaml", "distill", "skeleton_stgcn"),
]


def overrides(root: str, epochs: int, seed: int, teacher: str | None, runs: str) -> list[str]:
    """The ``--set`` overrides of one row (subject 1, within-subject protocol)."""
    extra = [f"seed={seed}", f"data.root={root}", "data.protocol=subject_specific", f"train.epochs={epochs}"]
    return extra + ([f"teachers.0.run={runs}/{teacher}"] if teacher else [])


def run(config: str, kind: str, sets: list[str], run_dir: Path) -> dict:
    """Train ``config`` from scratch into ``run_dir`` and test its best and last checkpoints."""
    from harkd.engine.evaluate import evaluate_run, read_metrics

    if (run_dir / "run.json").is_file():
        shutil.rmtree(run_dir)  # an earlier smoke run: start fresh
    start = time.perf_counter()
    train_run(RunSpec(run_dir.name, kind, str(HERE.parent / "configs" / "berkeley_mhad" / config), str(run_dir),
                      tuple(sets)))
    wall = time.perf_counter() - start
    records = read_metrics(run_dir)
    split = json.loads((run_dir / "run.json").read_text())["split"]
    result = {"config": config, "run_dir": str(run_dir), "wall_s": wall, "epochs": len(records),
              "s_per_epoch": statistics.median(r["seconds"] for r in records),
              "split": {k: len(v) for k, v in split.items()}}
    for checkpoint in ("best", "last"):
        result[f"test_{checkpoint}"] = evaluate_run(run_dir, "test", checkpoint)["accuracy"]
    print(json.dumps(result), flush=True)
    return result


def command_line() -> str:
    """This invocation, with its OMP_NUM_THREADS (the thread count the timings depend on)."""
    threads = os.environ.get("OMP_NUM_THREADS")
    return " ".join([*([f"OMP_NUM_THREADS={threads}"] if threads else []), Path(sys.executable).name, *sys.argv])


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--root", help=f"data root holding {FOLDER}/ (default: $HARKD_DATA_ROOT)")
    ap.add_argument("--epochs", type=int, default=60, help="epochs per run (default 60, the configs' budget)")
    ap.add_argument("--seed", type=int, default=0)
    ap.add_argument("--out", default="runs/berkeley_smoke", help="run directories (replaced on every call)")
    ap.add_argument("--no-write", action="store_true")
    args = ap.parse_args()
    base = args.root or os.environ.get("HARKD_DATA_ROOT")
    if not base or not (Path(base) / FOLDER).is_dir():
        print(f"skipped: no {FOLDER} under --root / HARKD_DATA_ROOT (e.g. ../shared/data)")
        return 0
    root = str((Path(base) / FOLDER).resolve())
    rows = ["| run | config | test acc. best-on-val (%) | test acc. last epoch (%) | s / epoch | epochs | wall s | command |",
            "|---|---|---:|---:|---:|---:|---:|---|"]
    results = []
    for label, config, kind, teacher in RUNS:
        r = run(config, kind, overrides(root, args.epochs, args.seed, teacher, args.out),
                Path(args.out) / Path(config).stem)
        results.append(r)
        sets = " ".join(f"--set {o}" for o in overrides(f"ROOT/{FOLDER}", args.epochs, args.seed, teacher, "RUNS"))
        command = f"harkd {kind} configs/berkeley_mhad/{config} {sets} --run-dir RUNS/{Path(config).stem}"
        rows.append(f"| {label} | `{Path(config).stem}` | {mean_std([r['test_best']])} | {mean_std([r['test_last']])} | "
                    f"{r['s_per_epoch']:.2f} | {r['epochs']} | {r['wall_s']:.0f} | `{command}` |")
    table = "\n".join(rows)
    print(table)
    if not args.no_write:
        split = results[0]["split"]
        body = (f"## Berkeley-MHAD subject 1: pipeline smoke test, NOT a protocol result "
                f"(benchmarks/berkeley_smoke.py)\n\n"
                f"- date: {datetime.date.today().isoformat()}\n"
                f"- machine: {machine_description()}\n"
                f"- command: `{command_line()}`\n"
                f"- data: the subject-1 sample only (55 recordings), protocol `subject_specific` (train "
                f"repetitions 1-3 with validation carved from them, test repetitions 4-5): {split['train']} train / "
                f"{split['val']} val / {split['test']} test recordings, seed {args.seed}. This checks that the "
                f"loaders, transforms, models, distillation and evaluation run end to end on real files; "
                f"{split['test']} test recordings from one subject cannot rank methods. The published protocol "
                f"is `cross_subject` (subjects 1-7 / 8-12) on the full release (README, Datasets).\n"
                f"- best-on-val: the checkpoint with the best validation accuracy; last epoch: the final weights; "
                f"wall s: training time of the run (all three: {sum(r['wall_s'] for r in results):.0f} s); "
                f"timings are indicative (other work may share the machine)\n\n"
                f"{table}\n")
        replace_section(HERE / "RESULTS.md", "berkeley-smoke", body)
    return 0


if __name__ == "__main__":
    sys.exit(run_script(main))
