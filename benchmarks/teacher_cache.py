"""Distillation epoch time with and without the teacher-output cache (real UTD-MHAD).

A frozen teacher whose input has no training-time randomness gives the same outputs for a
recording every epoch, so ``teacher_cache: true`` computes them once (epoch 1) and reuses
them. This times ``--epochs`` epochs of a distillation config both ways (same seed, fresh
run directories, preprocessing cache warm for both) and reports epoch 1 and the median of
the later epochs.

    python benchmarks/teacher_cache.py --root ../shared/data \\
        --config configs/utd_mhad/distill/depth2acc_kd.yaml --teacher runs/bench/depth_trn_s0
"""

from __future__ import annotations

import argparse
import datetime
import shutil
import statistics
import sys
import tempfile
from pathlib import Path

from harkd.suites import RunSpec, record_header, replace_section, run_script, train_run, use_data_root

HERE = Path(__file__).resolve().parent


def time_epochs(config: Path, teacher: str, cache: bool, epochs: int, out: Path) -> list[float]:
    from harkd.engine.evaluate import read_metrics

    shutil.rmtree(out, ignore_errors=True)
    train_run(RunSpec(out.name, "distill", str(config), str(out),
                      (f"teachers.0.run={teacher}", f"train.epochs={epochs}", f"teacher_cache={cache}")))
    return [r["seconds"] for r in read_metrics(out)]


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--root", help="data root (default: $HARKD_DATA_ROOT)")
    ap.add_argument("--config", default=str(HERE.parent / "configs/utd_mhad/distill/depth2acc_kd.yaml"))
    ap.add_argument("--teacher", required=True, help="the teacher's harkd train run directory")
    ap.add_argument("--epochs", type=int, default=4)
    ap.add_argument("--no-write", action="store_true")
    args = ap.parse_args()
    if not use_data_root(args.root, "UTD-MHAD"):
        return 0
    rows = ["| teacher cache | epoch 1 s | later epochs s (median) | speed-up, later epochs |", "|---|---:|---:|---:|"]
    with tempfile.TemporaryDirectory() as tmp:
        # one untimed epoch fills the preprocessing cache for both timed runs
        time_epochs(Path(args.config), args.teacher, False, 1, Path(tmp) / "warm")
        times = {cache: time_epochs(Path(args.config), args.teacher, cache, args.epochs, Path(tmp) / str(cache))
                 for cache in (False, True)}
    later = {cache: statistics.median(t[1:]) for cache, t in times.items()}
    for cache in (False, True):
        rows.append(f"| {'on' if cache else 'off'} | {times[cache][0]:.2f} | {later[cache]:.2f} | "
                    f"{later[False] / later[cache]:.1f}x |")
    table = "\n".join(rows)
    print(table)
    if not args.no_write:
        body = record_header(
            "Teacher-output cache: distillation epoch time (benchmarks/teacher_cache.py)",
            f"config: `{Path(args.config).name}` (teacher `{args.teacher}`), {args.epochs} epochs per run, same seed; "
            "the preprocessing cache is warm for both runs; epoch 1 with the cache on also fills it",
            date=datetime.datetime.now().isoformat(timespec="seconds")) + table + "\n"
        replace_section(HERE / "RESULTS.md", "teacher-cache", body)
    return 0


if __name__ == "__main__":
    sys.exit(run_script(main))
