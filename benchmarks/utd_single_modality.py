"""Single-modality baselines on real UTD-MHAD (cross-subject): configs x seeds.

For every config it trains one run per seed (``harkd train`` semantics: the
checkpoint is selected on the validation split carved from the training subjects),
then evaluates on the test subjects both the validation-selected (``best``) and the
last-epoch checkpoint. It prints a table of mean +- std test accuracy and seconds per
epoch and writes it to the ``single-modality`` section of benchmarks/RESULTS.md.

    HARKD_DATA_ROOT=../shared/data python benchmarks/utd_single_modality.py
    python benchmarks/utd_single_modality.py --root ../shared/data --configs acc_cnn1d --seeds 0
"""

from __future__ import annotations

import argparse
import datetime
import json
import os
import platform
import statistics
import sys
import time
from pathlib import Path

HERE = Path(__file__).resolve().parent
CONFIGS = ["acc_gaf_resnet18", "accgyro_gaf_resnet18", "acc_cnn1d", "accgyro_cnn1d", "skeleton_stgcn",
           "depth_tsn", "depth_trn"]
MARK = "single-modality"


def machine() -> str:
    cpu = "unknown CPU"
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                cpu = line.split(":", 1)[1].strip()
                break
    except OSError:
        pass
    import torch

    return f"{platform.machine()}, {cpu}, {os.cpu_count()} cores, torch {torch.__version__} ({torch.get_num_threads()} threads)"


def replace_section(path: Path, mark: str, body: str) -> None:
    """Write ``body`` between ``<!-- mark -->`` markers, replacing an older section."""
    start, end = f"<!-- {mark} -->", f"<!-- /{mark} -->"
    text = path.read_text() if path.exists() else "# Benchmark results\n"
    block = f"{start}\n{body.rstrip()}\n{end}"
    if start in text and end in text:
        text = text[: text.index(start)] + block + text[text.index(end) + len(end):]
    else:
        text = text.rstrip() + "\n\n" + block + "\n"
    path.write_text(text)


def run_one(config: str, seed: int, out: Path, overrides: list[str]) -> dict:
    from harkd.engine.config import load_config
    from harkd.engine.evaluate import evaluate_run, read_metrics
    from harkd.engine.experiment import train_experiment

    cfg = load_config(HERE.parent / "configs" / "utd_mhad" / f"{config}.yaml", [f"seed={seed}", *overrides])
    run_dir = out / f"{config}_s{seed}"
    start = time.perf_counter()
    train_experiment(cfg, run_dir, log=lambda m: None)
    wall = time.perf_counter() - start
    records = read_metrics(run_dir)
    result = {"config": config, "seed": seed, "run_dir": str(run_dir), "wall_s": wall, "epochs": len(records),
              "s_per_epoch": statistics.median(r["seconds"] for r in records)}
    for checkpoint in ("best", "last"):
        res = evaluate_run(run_dir, "test", checkpoint)
        result[f"test_{checkpoint}"] = res["accuracy"]
        result[f"f1_{checkpoint}"] = res["macro_f1"]
    result["val_best"] = max(r.get("val_accuracy", 0) for r in records)
    print(json.dumps(result), flush=True)
    return result


def mean_std(values: list[float]) -> str:
    if len(values) == 1:
        return f"{100 * values[0]:.1f}"
    return f"{100 * statistics.mean(values):.1f} +- {100 * statistics.stdev(values):.1f}"


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--root", help="data root holding UTD-MHAD/ (default: $HARKD_DATA_ROOT)")
    ap.add_argument("--configs", nargs="+", default=CONFIGS)
    ap.add_argument("--seeds", nargs="+", type=int, default=[0, 1, 2])
    ap.add_argument("--out", default="runs/bench", help="run directories (resumed if present)")
    ap.add_argument("--set", dest="overrides", action="append", default=[])
    ap.add_argument("--no-write", action="store_true")
    args = ap.parse_args()
    if args.root:
        os.environ["HARKD_DATA_ROOT"] = str(Path(args.root).resolve())
    if not os.environ.get("HARKD_DATA_ROOT") or not (Path(os.environ["HARKD_DATA_ROOT"]) / "UTD-MHAD").is_dir():
        print("skipped: no UTD-MHAD under --root / HARKD_DATA_ROOT (e.g. ../shared/data)")
        return 0
    results = [run_one(c, s, Path(args.out), args.overrides) for c in args.configs for s in args.seeds]
    rows = ["| config | model | test acc. best-on-val (%) | test acc. last epoch (%) | macro-F1 best (%) | s / epoch | epochs | command |",
            "|---|---|---:|---:|---:|---:|---:|---|"]
    from harkd.engine.config import load_config

    for config in args.configs:
        rs = [r for r in results if r["config"] == config]
        cfg = load_config(HERE.parent / "configs" / "utd_mhad" / f"{config}.yaml")
        seeds = " ".join(str(r["seed"]) for r in rs)
        rows.append(f"| {config} | {cfg.model.name} | {mean_std([r['test_best'] for r in rs])} | "
                    f"{mean_std([r['test_last'] for r in rs])} | {mean_std([r['f1_best'] for r in rs])} | "
                    f"{statistics.mean(r['s_per_epoch'] for r in rs):.2f} | {rs[0]['epochs']} | "
                    f"`harkd train configs/utd_mhad/{config}.yaml --set seed=S` (S in {seeds}) |")
    table = "\n".join(rows)
    print(table)
    if not args.no_write:
        body = (f"## Single-modality baselines, UTD-MHAD cross-subject (benchmarks/utd_single_modality.py)\n\n"
                f"- date: {datetime.date.today().isoformat()}\n- machine: {machine()}\n"
                f"- command: `{' '.join([Path(sys.executable).name, *sys.argv])}`\n"
                f"- protocol: train subjects 1,3,5,7 (validation: 15 % per class carved from them), "
                f"test subjects 2,4,6,8 (430 recordings), never used for selection; mean +- std over seeds "
                f"{' '.join(map(str, args.seeds))}\n\n{table}\n")
        replace_section(HERE / "RESULTS.md", MARK, body)
    return 0


if __name__ == "__main__":
    sys.exit(main())
