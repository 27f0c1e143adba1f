"""``harkd bench RUN_DIR_OR_FILE``: parameters, size, MACs, latency per runtime."""

from __future__ import annotations

import json

EXAMPLES = """\
examples:
  harkd bench runs/utd_acc_cnn1d              # eager, TorchScript, ONNX Runtime; 1 thread and all threads
  harkd bench acc.onnx --runs 500             # an exported file (its manifest gives the window)
  harkd bench acc.onnx --runs 2000 --repeats 5   # 5 blocks of 2000 calls, and the best block's median
  harkd bench runs/utd_acc_cnn1d --json > bench.json
"""


def register(subparsers) -> None:
    from harkd.cli.main import MAX_WINDOW_SAMPLES, HelpFormatter, int_at_least

    parser = subparsers.add_parser(
        "bench", help="size, MACs and latency (eager / TorchScript / ONNX Runtime) of a run or exported model",
        description="Benchmark a deployable model at batch 1: parameters, file size, MACs per window (Conv/Linear/"
                    "matmul), and latency per window (median and p95 over --runs calls after --warmup calls) "
                    "with 1 thread and with all threads.",
        epilog=EXAMPLES, formatter_class=HelpFormatter)
    parser.add_argument("target", help="a run directory, or an exported .onnx / TorchScript file with its manifest")
    parser.add_argument("--runs", type=int_at_least(1), default=200, metavar="N",
                        help="timed calls per runtime and thread setting, >= 1")
    parser.add_argument("--repeats", type=int_at_least(1), default=1, metavar="K",
                        help="time K blocks of --runs calls and also report the lowest block median (on a busy "
                             "machine the slow blocks are the neighbours' load), >= 1")
    parser.add_argument("--warmup", type=int_at_least(0), default=20, metavar="N",
                        help="untimed calls before timing, >= 0")
    parser.add_argument("--checkpoint", default="best", choices=["best", "last"],
                        help="for a run directory: best (selected on validation) or last")
    parser.add_argument("--window-samples", type=int_at_least(2, MAX_WINDOW_SAMPLES), metavar="W",
                        help="W for a run directory, 2-100000 (default: median training clip)")
    parser.add_argument("--json", action="store_true", help="print the result as JSON")
    parser.set_defaults(func=run)


def run(args) -> int:
    from harkd.deploy.bench import bench, format_table

    result = bench(args.target, runs=args.runs, warmup=args.warmup, repeats=args.repeats, checkpoint=args.checkpoint,
                   window_samples=args.window_samples)
    print(json.dumps(result, indent=1) if args.json else format_table(result))
    return 0
