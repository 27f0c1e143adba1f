"""Preprocessing-cache speed-up on the real UTD-MHAD data.

Times one pass over all recordings per modality: cold (reads and decodes the
.mat files, writes the cache), warm from disk (a fresh cache object on the same
directory, as in a second run) and warm from memory (second epoch, same process).
Prints a table and replaces the ``<!-- cache-speed -->`` section of
benchmarks/RESULTS.md.

    python benchmarks/cache_speed.py [--root .../UTD-MHAD] [--no-write]
"""

from __future__ import annotations

import argparse
import datetime
import os
import platform
import re
import sys
import tempfile
import time
from pathlib import Path

from harkd.data import PairedDataset, PreprocessCache, get_dataset
from harkd.engine.machine import machine_description
from harkd.suites import run_script

CONFIG = {"inertial": {"length": 128}, "skeleton": {"frames": 32}, "depth": {"frames": 8, "size": [112, 112]}}
RESULTS = Path(__file__).with_name("RESULTS.md")
BEGIN, END = "<!-- cache-speed -->", "<!-- /cache-speed -->"


def one_pass(ds: PairedDataset) -> float:
    start = time.perf_counter()
    for i in range(len(ds)):
        ds[i]
    return time.perf_counter() - start


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--root", help="UTD-MHAD folder (default: $HARKD_DATA_ROOT/UTD-MHAD)")
    parser.add_argument("--no-write", action="store_true", help="do not update RESULTS.md")
    args = parser.parse_args(argv)
    root = Path(args.root) if args.root else (
        Path(os.environ["HARKD_DATA_ROOT"]) / "UTD-MHAD" if os.environ.get("HARKD_DATA_ROOT") else None)
    if root is None or not root.is_dir():
        print(f"cache benchmark skipped: no UTD-MHAD data (pass --root or set HARKD_DATA_ROOT; got {root})")
        return 0
    spec = get_dataset("utd-mhad")
    index = spec.scan(root, strict=True)
    rows = []
    with tempfile.TemporaryDirectory(prefix="harkd-cache-bench-") as tmp:
        for modality in ("inertial", "skeleton", "depth"):
            cfg = {modality: CONFIG[modality]}
            cold_ds = PairedDataset(spec, index, modalities=(modality,), transforms=cfg, cache=PreprocessCache(tmp))
            cold = one_pass(cold_ds)
            warm_ds = PairedDataset(spec, index, modalities=(modality,), transforms=cfg,
                                    cache=PreprocessCache(tmp, memory_bytes=2**31))
            disk = one_pass(warm_ds)
            memory = one_pass(warm_ds)
            assert warm_ds.cache.stats["misses"] == 0
            rows.append((modality, len(cold_ds), str(CONFIG[modality]), cold, disk, memory))
            print(f"  {modality}: cold {cold:.2f}s, warm disk {disk:.2f}s, warm memory {memory:.3f}s", flush=True)
    head = "| modality | recordings | config | cold (.mat) s | warm disk s | warm memory s | speed-up disk | speed-up memory |"
    table = [head, "|" + "---|" * 8]
    table += [f"| {m} | {n} | `{c}` | {a:.2f} | {b:.2f} | {d:.3f} | {a / b:.1f}x | {a / d:.0f}x |"
              for m, n, c, a, b, d in rows]
    machine = machine_description()
    section = "\n".join([
        BEGIN, "## Preprocessing cache speed-up (UTD-MHAD, real data)", "",
        f"- date: {datetime.datetime.now().isoformat(timespec='seconds')}",
        f"- machine: {machine}; Python {platform.python_version()}",
        f"- command: `python benchmarks/cache_speed.py --root {root}`",
        "- one pass over all recordings, single process; cold = read + decode .mat + prepare + write cache; "
        "warm disk = fresh cache object on the same directory (a second run); warm memory = second epoch.", "",
        *table, END])
    print("\n".join(table))
    if not args.no_write:
        text = RESULTS.read_text() if RESULTS.exists() else "# Benchmark results\n"
        pattern = re.compile(re.escape(BEGIN) + ".*?" + re.escape(END), re.S)
        text = pattern.sub(lambda _: section, text) if pattern.search(text) else text.rstrip() + "\n\n" + section + "\n"
        RESULTS.write_text(text)
        print(f"updated {RESULTS}")
    return 0


if __name__ == "__main__":
    sys.exit(run_script(main))
