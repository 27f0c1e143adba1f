"""``harkd stream MODEL --input FILE|-``: predictions over a continuous sensor stream."""

from __future__ import annotations

import argparse
import sys

EXAMPLES = """\
examples:
  harkd stream acc.onnx --input recording.csv                 # rows: timestamp,x,y,z[,gx,gy,gz]
  sensor_reader | harkd stream acc.onnx --input - --hop 0.5   # stdin, one line per 0.5 s
  harkd stream gaf.pt --input log.txt --rate 50 --window 3.5 --max-gap 0.5 --time-unit ms

Output: one line per hop, "timestamp,label,probability" (timestamp of the newest sample in the
window). Rows are resampled on their timestamps to --rate (default: the model's rate); a gap
longer than --max-gap seconds is reported on stderr and resets the buffer; malformed rows
are reported on stderr and skipped. A summary (rows, malformed, gaps, windows/s) ends stderr.
"""


def register(subparsers) -> None:
    parser = subparsers.add_parser(
        "stream", help="streaming inference with an exported model over a text sensor stream",
        description="Read rows 'timestamp,x,y,z[,gx,gy,gz]' (comma or whitespace separated, timestamps in seconds "
                    "unless --time-unit) from a file or stdin, keep a ring buffer and print one prediction per hop.",
        epilog=EXAMPLES, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("model", help="an exported .onnx or TorchScript file (its manifest MODEL.json next to it)")
    parser.add_argument("--input", required=True, help="a text file, or - for stdin")
    parser.add_argument("--rate", type=float, help="resampling rate in Hz (default: the model's sampling rate)")
    parser.add_argument("--window", type=float, help="window in seconds (default: the model's window)")
    parser.add_argument("--hop", type=float, default=0.5, help="seconds between predictions")
    parser.add_argument("--max-gap", type=float, default=0.2, help="a longer jump between rows resets the buffer (s)")
    parser.add_argument("--time-unit", default="s", choices=["s", "ms", "us"], help="unit of the timestamps")
    parser.add_argument("--threads", type=int, help="inference threads (default: the runtime's)")
    parser.set_defaults(func=run)


def run(args) -> int:
    from pathlib import Path

    from harkd.errors import DataError
    from harkd.export.exporter import ExportedModel, manifest_path
    from harkd.export.stream import StreamConfig, StreamPredictor, iter_lines

    model = ExportedModel(args.model, threads=args.threads)
    manifest = model.manifest
    if not manifest:
        raise DataError(manifest_path(args.model), "manifest not found: export the model with harkd export")
    rate = args.rate or manifest["sampling_rate_hz"]
    window = args.window or manifest["window_seconds"]
    config = StreamConfig(rate=rate, window=window, hop=args.hop, max_gap=args.max_gap,
                          time_scale={"s": 1.0, "ms": 1e-3, "us": 1e-6}[args.time_unit])
    predictor = StreamPredictor(model, manifest["class_names"], manifest["stream_columns"],
                                manifest["window_samples"], config)
    if args.input == "-":
        stats = predictor.run(iter_lines(sys.stdin), sys.stdout)
    else:
        path = Path(args.input)
        if not path.is_file():
            raise DataError(path, "input stream file not found")
        with open(path, encoding="utf-8", errors="replace") as handle:
            stats = predictor.run(iter_lines(handle), sys.stdout)
    print(stats.summary(), file=sys.stderr)
    return 0
