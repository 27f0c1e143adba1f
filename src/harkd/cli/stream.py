"""``harkd stream MODEL --input FILE|-``: predictions over a continuous sensor stream."""

from __future__ import annotations

import sys

EXAMPLES = """\
examples:
  harkd stream acc.onnx --input recording.csv                 # rows: timestamp,x,y,z[,gx,gy,gz]
  sensor_reader | harkd stream acc.onnx --input - --hop 0.5   # stdin, one line per 0.5 s
  harkd stream gaf.pt --input log.txt --rate 50 --window 3.5 --max-gap 0.5 --time-unit ms

Output: one line per hop, "timestamp,label,probability" (timestamp of the newest sample in the
window). Rows are resampled on their timestamps to --rate (default: the model's rate); a gap
longer than --max-gap seconds is reported on stderr and resets the buffer; malformed rows
are reported on stderr and skipped. A summary (rows, malformed, gaps, windows/s) ends stderr;
when no window was filled, a warning says why (the longest gap-free stretch, in samples at
--rate, against the window's samples).
"""


MAX_THREADS = 256  # more inference threads than any host has cores: thread start-up alone would take minutes


def register(subparsers) -> None:
    from harkd.cli.main import HelpFormatter, int_at_least, positive_float

    parser = subparsers.add_parser(
        "stream", help="streaming inference with an exported model over a text sensor stream",
        description="Read rows 'timestamp,x,y,z[,gx,gy,gz]' (comma or whitespace separated, timestamps in seconds "
                    "unless --time-unit) from a file or stdin, keep a ring buffer and print one prediction per hop.",
        epilog=EXAMPLES, formatter_class=HelpFormatter)
    parser.add_argument("model", help="an exported .onnx or TorchScript file (its manifest MODEL.json next to it)")
    parser.add_argument("--input", required=True, help="a text file, or - for stdin")
    parser.add_argument("--rate", type=positive_float, metavar="HZ",
                        help="resampling rate in Hz, > 0 (default: the model's sampling rate)")
    parser.add_argument("--window", type=positive_float, metavar="SECONDS",
                        help="window in seconds, > 0 (default: the model's window)")
    parser.add_argument("--hop", type=positive_float, default=0.5, metavar="SECONDS",
                        help="seconds between predictions")
    parser.add_argument("--max-gap", type=positive_float, default=0.2, metavar="SECONDS",
                        help="a longer jump between rows (seconds) resets the buffer")
    parser.add_argument("--time-unit", default="s", choices=["s", "ms", "us"], help="unit of the timestamps")
    parser.add_argument("--threads", type=int_at_least(1, MAX_THREADS),
                        help=f"inference threads, 1-{MAX_THREADS} (default: the runtime's)")
    parser.set_defaults(func=run)


def run(args) -> int:
    from pathlib import Path

    from harkd.errors import DataError, warn
    from harkd.export.exporter import ExportedModel, manifest_path
    from harkd.export.stream import StreamConfig, StreamPredictor, iter_lines

    model = ExportedModel(args.model, threads=args.threads)
    manifest = model.manifest
    if not manifest:
        raise DataError(manifest_path(args.model), "manifest not found: export the model with harkd export")
    rate = manifest["sampling_rate_hz"] if args.rate is None else args.rate
    window = manifest["window_seconds"] if args.window is None else args.window
    config = StreamConfig(rate=rate, window=window, hop=args.hop, max_gap=args.max_gap,
                          time_scale={"s": 1.0, "ms": 1e-3, "us": 1e-6}[args.time_unit])
    predictor = StreamPredictor(model, manifest["class_names"], manifest["stream_columns"],
                                manifest["window_samples"], config)
    if args.input == "-":
        stats = predictor.run(iter_lines(sys.stdin), sys.stdout)
    else:
        path = Path(args.input)
        if path.is_dir():
            raise DataError(path, "is a directory: pass a text file of rows, or - for stdin")
        if not path.is_file():
            raise DataError(path, "input stream file not found")
        with open(path, encoding="utf-8", errors="replace") as handle:
            stats = predictor.run(iter_lines(handle), sys.stdout)
    print(stats.summary(), file=sys.stderr)
    if stats.windows == 0:
        warn(predictor.no_window_reason())
    return 0
