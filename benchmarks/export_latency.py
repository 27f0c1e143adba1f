"""Deployment table of the trained accelerometer students (issue 5): size, MACs, latency, accuracy.

For every configuration with trained runs (``runs/bench/<cfg>_s*`` from utd_benchmark.py,
``runs/export/acc_cnn1d_tiny_s*`` from configs/utd_mhad/acc_cnn1d_tiny.yaml) it benchmarks
seed 0 with ``harkd bench`` (batch 1, median/p95 over --runs calls after warm-up, 1 thread and
all threads, PyTorch eager / TorchScript / ONNX Runtime), reads the test accuracy of every
seed (eval_test_best.json, else ``harkd evaluate``), measures streaming throughput of the
exported ONNX model over concatenated test recordings, writes benchmarks/pareto.png and
the ``export`` section of benchmarks/RESULTS.md.

    HARKD_DATA_ROOT=../shared/data python -m benchmarks.export_latency   # from the repository root
"""

from __future__ import annotations

import argparse
import datetime
import io
import json
import re
import statistics
import sys
import tempfile
from pathlib import Path

from harkd.suites import run_script

HERE = Path(__file__).resolve().parent
REPO = HERE.parent
CONFIGS = [  # (label, run-dir glob prefix)
    ("ResNet-18 GAF (acc)", "runs/bench/acc_gaf_resnet18_s"),
    ("ResNet-18 GAF, dataset scaling (acc)", "runs/bench/acc_gafds_resnet18_s"),
    ("1D CNN 64/128/256 (acc)", "runs/bench/acc_cnn1d_s"),
    ("1D CNN 64/128/256 (acc+gyro)", "runs/bench/accgyro_cnn1d_s"),
    ("tiny 1D CNN 24/48/96 (acc)", "runs/export/acc_cnn1d_tiny_s"),
]


def accuracy(run_dir: Path) -> float | None:
    """Test accuracy of the best checkpoint; run directories are only read (never written)."""
    path = run_dir / "eval_test_best.json"
    if path.is_file():
        return json.loads(path.read_text())["accuracy"]
    if not (run_dir / "best.pt").is_file():
        return None
    from harkd.engine.evaluate import evaluate_run

    return evaluate_run(run_dir, "test", "best")["accuracy"]


def finished(run_dir: Path) -> bool:
    import yaml

    metrics = run_dir / "metrics.jsonl"
    if not (metrics.is_file() and (run_dir / "best.pt").is_file()):
        return False
    epochs = yaml.safe_load((run_dir / "config.yaml").read_text())["train"]["epochs"]
    lines = metrics.read_text().strip().splitlines()
    return bool(lines) and json.loads(lines[-1])["epoch"] >= epochs


def stream_throughput(run_dir: Path, onnx: Path) -> dict:
    """Stream 20 concatenated test recordings (50 Hz text rows) through harkd stream's predictor."""
    from benchmarks.streamdata import parse_predictions, per_recording_labels, write_stream

    from harkd.deploy.exporter import load_for_export
    from harkd.deploy.runtime import ExportedModel
    from harkd.deploy.stream import StreamConfig, StreamPredictor

    loaded = load_for_export(run_dir)
    test = loaded.prepared.datasets["test"]
    recs = test.recordings[::21][:20]
    clips = [(r.key, test.spec.class_names[r.label], test.spec.load(r, "inertial", root=test.index.root, sensor="all"))
             for r in recs]
    text, segments = write_stream(clips, malformed=False)
    model = ExportedModel(onnx, threads=1)
    m = model.manifest
    predictor = StreamPredictor(model, m["class_names"], m["stream_columns"], m["window_samples"],
                                StreamConfig(rate=50.0, window=m["window_seconds"], hop=0.1), report=lambda s: None)
    out = io.StringIO()
    stats = predictor.run(text.splitlines(), out)
    labels = per_recording_labels(parse_predictions(out.getvalue()), segments, m["window_seconds"])
    hits = sum(a == b for a, (_, b, _, _) in zip(labels, segments))
    return {"rows": stats.rows, "windows": stats.windows, "seconds": stats.seconds,
            "windows_per_s": stats.windows_per_second, "inference_s": stats.inference_seconds,
            "recordings": len(segments), "recordings_correct": hits}


def main() -> int:
    ap = argparse.ArgumentParser()
    ap.add_argument("--runs", type=int, default=200)
    ap.add_argument("--no-write", action="store_true")
    args = ap.parse_args()
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    from harkd.deploy.bench import bench, machine_description
    from harkd.deploy.exporter import export_run

    rows, tables = [], []
    for label, prefix in CONFIGS:
        runs = sorted(p for p in REPO.glob(prefix + "*") if p.is_dir() and finished(p))
        if not runs:
            print(f"skip {label}: no finished runs {prefix}*", file=sys.stderr)
            continue
        accs = [a for a in (accuracy(r) for r in runs) if a is not None]
        first = runs[0]
        print(f"bench {first}", file=sys.stderr)
        result = bench(first, runs=args.runs)
        lat = {(r["runtime"], r["threads"]): r for r in result["latency"]}
        with tempfile.TemporaryDirectory() as tmp:
            onnx = Path(tmp) / "model.onnx"
            manifest = export_run(first, "onnx", onnx, log=lambda m: None)
            stream = stream_throughput(first, onnx) if "acc" in label else None
        rows.append({"label": label, "runs": [str(r.relative_to(REPO)) for r in runs], "accuracies": accs,
                     "bench": result, "parity": manifest["parity"]["max_abs_diff"], "stream": stream, "lat": lat})
        tables.append(result)
    date = datetime.datetime.now().isoformat(timespec="seconds")
    lines = ["<!-- export -->", "## Deployment: size, MACs and latency of the accelerometer students (issue 5)", "",
             f"- date: {date}", f"- machine: {machine_description()}",
             f"- command: `HARKD_DATA_ROOT=../shared/data python -m benchmarks.export_latency` "
             f"(per model: `harkd bench RUN_DIR --runs {args.runs}`)",
             "- the deployed graph = raw window (batch 1, channels, W samples at 50 Hz; W = 175 = 3.5 s, the median "
             "training clip) -> in-graph resampling to 128 -> normalisation -> GAF (when used) -> model -> softmax. "
             "MACs count Conv/Linear/matmul (resampling, PAA and GAF products included). Latency: median and p95 ms "
             f"over {args.runs} calls after 20 warm-up calls. Accuracy: UTD-MHAD cross-subject test, "
             "validation-selected checkpoint, mean +- std over the seeds listed.",
             "- caveat: timed on a shared 2-core VM, so absolute latencies (especially 'all threads') vary "
             "between runs; compare rows measured together.", "",
             "| student | seeds | test acc. | params | ONNX KiB | MACs/window | eager 1t | eager all | TorchScript 1t | "
             "TorchScript all | ORT 1t (p95) | ORT all | parity |",
             "|---|---|---|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|"]
    for row in rows:
        b, lat, accs = row["bench"], row["lat"], row["accuracies"]
        acc = f"{100 * statistics.mean(accs):.1f} +- {100 * statistics.stdev(accs):.1f}" if len(accs) > 1 else \
            (f"{100 * accs[0]:.1f}" if accs else "-")
        cell = lambda rt, th: f"{lat[(rt, th)]['median_ms']:.3f}"
        lines.append(f"| {row['label']} | {len(accs)} | {acc} | {b['parameters']:,} | {b['size_bytes']['onnx'] / 1024:.0f} | "
                     f"{b['macs_per_window'] / 1e6:.2f} M | {cell('pytorch-eager', '1')} | {cell('pytorch-eager', 'all')} | "
                     f"{cell('torchscript', '1')} | {cell('torchscript', 'all')} | {cell('onnx', '1')} "
                     f"({lat[('onnx', '1')]['p95_ms']:.3f}) | {cell('onnx', 'all')} | {row['parity']:.1e} |")
    lines += ["", "Streaming (`harkd stream` predictor, ONNX Runtime 1 thread, hop 0.1 s, 20 concatenated test "
              "recordings written as 50 Hz text rows): windows/s including parsing and resampling; recordings "
              "whose most-overlapping window has the true label.", "",
              "| student | rows | windows | windows/s | inference share | recordings correct |", "|---|---:|---:|---:|---:|---:|"]
    for row in rows:
        s = row["stream"]
        if s:
            lines.append(f"| {row['label']} | {s['rows']} | {s['windows']} | {s['windows_per_s']:.0f} | "
                         f"{100 * s['inference_s'] / s['seconds']:.0f} % | {s['recordings_correct']}/{s['recordings']} |")
    lines += ["", "Accuracy / latency trade-off: `benchmarks/pareto.png` (ONNX Runtime, 1 thread, batch 1).",
              "<!-- /export -->"]
    section = "\n".join(lines)
    print(section)
    (HERE / "export_latency.json").write_text(json.dumps([{k: v for k, v in r.items() if k != "lat"} for r in rows],
                                                         indent=1, default=str))
    fig, ax = plt.subplots(figsize=(7, 4.5))
    for row in rows:
        if not row["accuracies"]:
            continue
        x = row["lat"][("onnx", "1")]["median_ms"]
        y = 100 * statistics.mean(row["accuracies"])
        err = 100 * statistics.stdev(row["accuracies"]) if len(row["accuracies"]) > 1 else 0
        size = row["bench"]["size_bytes"]["onnx"] / 1024
        ax.errorbar(x, y, yerr=err, fmt="o", capsize=3)
        ax.annotate(f"{row['label']}\n{size:.0f} KiB", (x, y), textcoords="offset points", xytext=(6, 4), fontsize=7)
    ax.axvline(2.0, color="grey", ls="--", lw=0.8)
    ax.text(2.0, ax.get_ylim()[0], " 2 ms target", fontsize=7, color="grey", va="bottom")
    ax.set_xscale("log")
    ax.set_xlabel("latency per 3.5 s window, ONNX Runtime, 1 thread, batch 1 (ms, log)")
    ax.set_ylabel("UTD-MHAD cross-subject test accuracy (%)")
    ax.set_title("Accelerometer students: accuracy vs latency")
    ax.grid(alpha=0.3)
    fig.tight_layout()
    fig.savefig(HERE / "pareto.png", dpi=130)
    if not args.no_write:
        path = HERE / "RESULTS.md"
        text = path.read_text()
        pattern = re.compile(r"<!-- export -->.*?<!-- /export -->", re.S)
        text = pattern.sub(lambda m: section, text) if pattern.search(text) else text.rstrip() + "\n\n" + section + "\n"
        path.write_text(text)
    return 0


if __name__ == "__main__":
    sys.exit(run_script(main))
