"""``harkd bench RUN_DIR_OR_FILE``: parameters, size, MACs, latency per runtime."""

from __future__ import annotations

import argparse
import json

EXAMPLES = """\
examples:
  harkd bench runs/utd_acc_cnn1d              # eager, TorchScript, ONNX Runtime; 1 thread and all threads
  harkd bench acc.onnx --runs 500             # an exported file (its manifest gives the window)
  harkd bench runs/utd_acc_cnn1d --json > bench.json
"""


def register(subparsers) -> None:
    parser = subparsers.add_parser(
        "bench", help="size, MACs and latency (eager / TorchScript / ONNX Runtime) of a run or exported model",
        description="Benchmark a deployable model at batch 1: parameters, file size, MACs per window (Conv/Linear/"
                    "matmul), and latency per window (median and p95 over --runs calls after --warmup calls) "
                    "with 1 thread and with all threads.",
        epilog=EXAMPLES, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("target", help="a run directory, or an exported .onnx / TorchScript file with its manifest")
    parser.add_argument("--runs", type=int, default=200, help="timed calls per runtime and thread setting")
    parser.add_argument("--warmup", type=int, default=20, help="untimed calls before timing")
    parser.add_argument("--checkpoint", default="best", choices=["best", "last"])
    parser.add_argument("--window-samples", type=int, help="W for a run directory (default: median training clip)")
    parser.add_argument("--json", action="store_true", help="print the result as JSON")
    parser.set_defaults(func=run)


def run(args) -> int:
    from harkd.export.bench import bench, format_table

    result = bench(args.target, runs=args.runs, warmup=args.warmup, checkpoint=args.checkpoint,
                   window_samples=args.window_samples)
    print(json.dumps(result, indent=1) if args.json else format_table(result))
    return 0
