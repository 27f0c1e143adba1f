"""Throughput of harkd's Gramian Angular Field against pyts and the memory-bound floor.

For each case (random normal data, fixed seed) it times, best of ``--repeats`` runs:

* harkd: ``gramian_angular_field(x, image_size=N)`` on the (B, C, T) array;
* pyts:  ``GramianAngularField(image_size=N).transform`` on the same data reshaped
  to (B*C, T) (pyts is univariate and always returns float64);
* floor: ``np.empty(out_shape, dtype).fill(0)``, i.e. writing harkd's output once.

Each side (and the floor) is run once untimed on the case's input before the timed
runs: right after pyts' numba compilation, the first large allocations of the process
are erratic on this machine, so the script also waits SETTLE_S seconds after the
imports and warm-ups.  Outputs are compared (max abs difference) on the full arrays.
The table is printed and written to the GAF section of benchmarks/RESULTS.md.

    python benchmarks/gaf_speed.py               # the four cases, writes RESULTS.md
    python benchmarks/gaf_speed.py --quick --no-write
"""

from __future__ import annotations

import argparse
import datetime
import gc
import os
import platform
import re
import sys
import time
from pathlib import Path

import numpy as np
import torch

from harkd.encoding import gramian_angular_field
from harkd.engine.machine import cpu_model
from harkd.suites import run_script

CASES = [((861, 6, 180), 64), ((8192, 6, 256), 128)]
QUICK_CASES = [((64, 6, 180), 64), ((128, 6, 256), 128)]
RESULTS = Path(__file__).with_name("RESULTS.md")
SETTLE_S = 10.0
HEADING = "## Gramian Angular Field (benchmarks/gaf_speed.py)"


def best_time(fn, repeats: int):
    """Best wall time of ``repeats`` calls after one untimed call; the last result."""
    best, result = float("inf"), fn()
    for _ in range(repeats):
        result = None
        gc.collect()
        start = time.perf_counter()
        result = fn()
        best = min(best, time.perf_counter() - start)
    return best, result


def floor_time(shape, dtype, repeats: int) -> float:
    def write_once():
        out = np.empty(shape, dtype)
        out.fill(0)
        return out

    return best_time(write_once, repeats)[0]


def max_abs_diff(a, b, block: int = 4096) -> float:
    """max |a - b| in row blocks (the full temporaries would not fit in memory)."""
    return max((float(np.abs(a[i:i + block] - b[i:i + block]).max()) for i in range(0, len(a), block)),
               default=0.0)


def run_case(shape, size, dtype, repeats: int, pyts_gaf) -> dict:
    x = np.random.default_rng(0).standard_normal(shape).astype(dtype)
    row = {"case": f"{shape} -> {size}x{size} {np.dtype(dtype).name}"}
    if pyts_gaf is not None:
        flat = x.reshape(-1, shape[-1])
        row["pyts"], ref = best_time(lambda: pyts_gaf(image_size=size).transform(flat), repeats)
    row["harkd"], out = best_time(lambda: gramian_angular_field(x, image_size=size), repeats)
    if pyts_gaf is not None:
        row["diff"] = max_abs_diff(out.reshape(ref.shape), ref)
        del ref
    del out
    gc.collect()
    row["floor"] = floor_time((*shape[:-1], size, size), dtype, repeats)
    return row


def format_table(rows) -> str:
    lines = ["| case | harkd s | pyts s | speed-up | floor s | harkd/floor | max abs diff |",
             "|---|---:|---:|---:|---:|---:|---:|"]
    for r in rows:
        pyts = r.get("pyts")
        lines.append(
            f"| {r['case']} | {r['harkd']:.3f} | {pyts:.3f} | {pyts / r['harkd']:.1f}x | "
            f"{r['floor']:.3f} | {r['harkd'] / r['floor']:.2f} | {r['diff']:.1e} |"
            if pyts is not None else
            f"| {r['case']} | {r['harkd']:.3f} | - | - | {r['floor']:.3f} | "
            f"{r['harkd'] / r['floor']:.2f} | - |")
    return "\n".join(lines)


def write_results(section: str) -> None:
    text = RESULTS.read_text() if RESULTS.exists() else "# harkd benchmark results\n"
    pattern = re.compile(rf"^{re.escape(HEADING)}\n.*?(?=^## |\Z)", re.S | re.M)
    if pattern.search(text):
        text = pattern.sub(lambda _: section, text)
    else:
        text = text.rstrip("\n") + "\n\n" + section
    RESULTS.write_text(text)


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--repeats", type=int, default=3, help="best of this many runs per side")
    parser.add_argument("--quick", action="store_true", help="small inputs (smoke test)")
    parser.add_argument("--no-write", action="store_true", help="do not update RESULTS.md")
    args = parser.parse_args(argv)

    try:
        import pyts
        from pyts.image import GramianAngularField as pyts_gaf
        pyts_version = pyts.__version__
        pyts_gaf(image_size=4).transform(np.random.default_rng(1).standard_normal((4, 8)))
    except ImportError:
        pyts_gaf, pyts_version = None, "not installed"
    gramian_angular_field(np.random.default_rng(1).standard_normal((4, 8)), image_size=4)
    time.sleep(SETTLE_S)  # numba's JIT compilation (pyts import) leaves the machine erratic for a while

    rows = []
    for shape, size in QUICK_CASES if args.quick else CASES:
        for dtype in (np.float32, np.float64):
            rows.append(run_case(shape, size, dtype, args.repeats, pyts_gaf))
            print(format_table(rows[-1:]).splitlines()[-1], flush=True)

    table = format_table(rows)
    command = "python " + " ".join([os.path.relpath(__file__, Path.cwd()), *(argv or sys.argv[1:])])
    section = (
        f"{HEADING}\n\n"
        f"- date: {datetime.date.today().isoformat()}\n"
        f"- machine: {platform.platform()}, {cpu_model()}, {os.cpu_count()} cores "
        f"(torch threads: {torch.get_num_threads()})\n"
        f"- versions: python {platform.python_version()}, torch {torch.__version__}, "
        f"numpy {np.__version__}, pyts {pyts_version}\n"
        f"- command: `{command}`\n"
        f"- timings: best of {args.repeats} runs per side, after one untimed run on the same input; random normal "
        "input, seed 0; pyts gets the (B*C, T) reshape and always returns float64; floor = "
        "`np.empty(out_shape, dtype).fill(0)` (writing harkd's output once); max abs diff "
        "over the full outputs; the (861, 6, 180) cases take 10-20 ms and vary by up to 3-5x "
        "between runs on this shared 2-core VM (other runs: 0.013-0.11 s float32, 0.017-0.15 s float64)\n\n"
        f"{table}\n"
    )
    print()
    print(table)
    if not args.no_write and not args.quick:
        write_results(section)
        print(f"\nwrote {RESULTS}")
    return 0


if __name__ == "__main__":
    sys.exit(run_script(main))
