"""Preprocessing and epoch cost of each depth model (issue 12), UTD-MHAD cross-subject, real data.

For every depth config: ``harkd train CONFIG --set train.epochs=E`` twice in a fresh process, first
with an empty preprocessing cache (cold: every depth .mat read, decoded and prepared), then on the
cache it wrote (warm). Reported per config: the wall time of each whole run, the preprocessing
share of the cold run (cold minus warm wall time), the median seconds per training epoch of the
warm run (metrics.jsonl), the cache size on disk and the peak resident memory of each process.
Every run uses ``--threads`` torch threads; other work on the machine changes the times, so
compare rows measured together.

Writes the ``depth-cost`` section of benchmarks/RESULTS.md and benchmarks/results/depth-cost.json.

    HARKD_DATA_ROOT=../shared/data python benchmarks/depth_cost.py
"""

from __future__ import annotations

import argparse
import datetime
import json
import os
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

from harkd.suites import command_line, record_header, replace_section, run_script, use_data_root

HERE = Path(__file__).resolve().parent
CONFIGS = HERE.parent / "configs" / "utd_mhad"
ROWS = [  # (label, config)
    ("depth motion maps -> ResNet (dmm_resnet)", "depth_dmm.yaml"),
    ("body-cropped clip, 16 frames -> (2+1)D CNN (r2plus1d)", "depth_r2plus1d.yaml"),
    ("8 frames -> TRN (trn)", "depth_trn.yaml"),
]


_PEAK = "harkd-peak-rss-kb:"
#: the child process: the harkd CLI, then its own peak resident memory (ru_maxrss: KB on Linux) on stderr
_CHILD = ("import resource, sys\nfrom harkd.cli.main import main\nrc = main(sys.argv[1:])\n"
          f"print({_PEAK!r}, resource.getrusage(resource.RUSAGE_SELF).ru_maxrss, file=sys.stderr)\nsys.exit(rc)")


def _directory_bytes(path: Path) -> int:
    return sum(f.stat().st_size for f in path.rglob("*") if f.is_file())


def timed_run(config: Path, run_dir: Path, cache: Path, epochs: int, threads: int) -> dict:
    """One ``harkd train`` process: wall seconds, peak RSS (MB), median epoch seconds."""
    env = {**os.environ, "HARKD_CACHE_DIR": str(cache), "OMP_NUM_THREADS": str(threads),
           "MKL_NUM_THREADS": str(threads)}
    command = [sys.executable, "-c", _CHILD, "train", str(config), "--run-dir", str(run_dir),
               "--set", f"train.epochs={epochs}", "--set", "data.val_subjects=null", "--set", "data.val_fraction=0"]
    start = time.perf_counter()
    done = subprocess.run(command, env=env, capture_output=True, text=True)
    wall = time.perf_counter() - start
    if done.returncode:
        raise SystemExit(f"harkd train {config} failed (exit {done.returncode}):\n{done.stderr[-2000:]}")
    peak_kb = int(done.stderr.rsplit(_PEAK, 1)[1].split()[0])
    epochs_s = [json.loads(line)["seconds"] for line in (run_dir / "metrics.jsonl").read_text().splitlines()
                if line.strip()]
    return {"wall_s": wall, "peak_rss_mb": peak_kb / 1024, "seconds_per_epoch": statistics.median(epochs_s)}


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--root", help="data root holding UTD-MHAD/ (default: $HARKD_DATA_ROOT)")
    ap.add_argument("--epochs", type=int, default=3, help="training epochs per timed run")
    ap.add_argument("--threads", type=int, default=1)
    ap.add_argument("--rows", nargs="*", help="only these configs (file names)")
    ap.add_argument("--no-write", action="store_true")
    args = ap.parse_args()
    if not use_data_root(args.root, "UTD-MHAD"):
        return 0
    rows, load = [], [os.getloadavg()[0]]
    for label, config in ROWS:
        if args.rows and config not in args.rows:
            continue
        with tempfile.TemporaryDirectory(prefix="harkd-depth-cost-") as tmp:
            tmp = Path(tmp)
            cold = timed_run(CONFIGS / config, tmp / "cold", tmp / "cache", args.epochs, args.threads)
            cache_mb = _directory_bytes(tmp / "cache") / 1e6
            warm = timed_run(CONFIGS / config, tmp / "warm", tmp / "cache", args.epochs, args.threads)
        row = {"row": label, "config": f"configs/utd_mhad/{config}", "cold": cold, "warm": warm,
               "preprocessing_s": cold["wall_s"] - warm["wall_s"], "cache_mb": cache_mb}
        print(json.dumps(row), flush=True)
        rows.append(row)
        load.append(os.getloadavg()[0])
    lines = ["| depth model | config | cold run s (preprocessing s) | warm run s | s / epoch (warm) | cache MB | "
             "peak RSS MB cold / warm |", "|---|---|---:|---:|---:|---:|---:|"]
    for r in rows:
        peaks = f"{r['cold']['peak_rss_mb']:.0f} / {r['warm']['peak_rss_mb']:.0f}"
        lines.append(f"| {r['row']} | `{r['config']}` | {r['cold']['wall_s']:.0f} ({r['preprocessing_s']:.0f}) | "
                     f"{r['warm']['wall_s']:.0f} | {r['warm']['seconds_per_epoch']:.2f} | {r['cache_mb']:.1f} | "
                     f"{peaks} |")
    table = "\n".join(lines)
    print(table)
    if args.no_write:
        return 0
    header = record_header(
        "Depth models: preprocessing and epoch cost, UTD-MHAD cross-subject (benchmarks/depth_cost.py)",
        f"each row: `harkd train CONFIG --set train.epochs={args.epochs}` on all 431 training-subject recordings, "
        f"{args.threads} thread(s), first with an empty preprocessing cache (cold: every depth .mat read, decoded "
        "and prepared), then again on that cache (warm); preprocessing = cold minus warm wall time; s / epoch = "
        "median epoch of the warm run; peak RSS: each training process's maximum resident memory",
        f"machine load (1-minute load average on the {os.cpu_count()} CPUs) at the start and after each row: "
        + ", ".join(f"{x:.1f}" for x in load) + " (above the thread count, other work was sharing the CPUs and "
        "inflated the times)",
        date=datetime.date.today().isoformat())
    replace_section(HERE / "RESULTS.md", "depth-cost", header + table + "\n")
    results = HERE / "results"
    results.mkdir(exist_ok=True)
    (results / "depth-cost.json").write_text(json.dumps(
        {"section": "depth-cost", "date": datetime.datetime.now().isoformat(timespec="seconds"),
         "command": command_line(), "header": header, "rows": rows},
        indent=1) + "\n")
    return 0


if __name__ == "__main__":
    sys.exit(run_script(main))
