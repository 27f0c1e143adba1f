"""``harkd stream MODEL --input FILE|-``: predictions over a continuous sensor stream."""

from __future__ import annotations

import argparse
import sys

EXAMPLES = """\
examples:
  harkd stream acc.onnx --input recording.csv                 # rows: timestamp,x,y,z[,gx,gy,gz]
  sensor_reader | harkd stream acc.onnx --input - --hop 0.5   # stdin, one line per 0.5 s
  harkd stream gaf.pt --input log.txt --rate 50 --window 3.5 --max-gap 0.5 --time-unit ms
  harkd stream acc.onnx --input watch.csv --columns ax,ay,az  # channels by header name (or number: 2,3,4)

Output: one line per hop, "timestamp,label,probability" (timestamp in seconds, of the newest sample
in the window). Timestamps may be on any clock (Unix time too): they are taken relative to the
first row, so the windows do not depend on where the clock starts. A first line that is not
numbers (a header such as timestamp,x,y,z) is skipped. Rows are resampled on their timestamps to
--rate (default: the model's rate); a gap longer than --max-gap seconds is reported on stderr and
resets the buffer; malformed rows are reported on stderr and skipped. A row with more values than
the model reads (other than the full timestamp,x,y,z,gx,gy,gz layout) is an error unless --columns
says which are the channels. A summary (rows, malformed, gaps, windows/s) ends stderr; when no
window could be made, the command fails with one line saying why (e.g. the longest gap-free
stretch against the window, or timestamps that step like another --time-unit).
"""

MAX_THREADS = 256  # more inference threads than any host has cores: thread start-up alone would take minutes
MAX_COLUMN = 10_000  # a row's value columns


def columns_option(text: str) -> list:
    """``--columns``: comma-separated field numbers (1 = the first value after the timestamp) or header names."""
    items = [part.strip() for part in text.split(",")]
    if not all(items):
        raise argparse.ArgumentTypeError(f"expected column numbers or header names separated by commas, got '{text}'")
    chosen = [int(item) if item.lstrip("-").isdigit() else item for item in items]
    for c in chosen:
        if isinstance(c, int) and not 1 <= c <= MAX_COLUMN:
            raise argparse.ArgumentTypeError(f"column numbers count the values after the timestamp from 1 to "
                                             f"{MAX_COLUMN}, got {c}" + (" (0 is the timestamp)" if c == 0 else ""))
    twice = sorted({str(c) for c in chosen if chosen.count(c) > 1})
    if twice:
        raise argparse.ArgumentTypeError(f"column {', '.join(twice)} given twice in '{text}'")
    return chosen


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
    parser.add_argument("--columns", type=columns_option, metavar="C,C,C",
                        help="the columns that are the model's channels, in its order: numbers (1 = the first value "
                             "after the timestamp) or header names (default: the model's, e.g. x,y,z for acc)")
    parser.add_argument("--threads", type=int_at_least(1, MAX_THREADS),
                        help=f"inference threads, 1-{MAX_THREADS} (default: the runtime's)")
    parser.set_defaults(func=run)


def run(args) -> int:
    from pathlib import Path

    from harkd.cli.main import stdin_or_error
    from harkd.errors import DataError, InputError
    from harkd.deploy.manifest import manifest_path
    from harkd.deploy.runtime import ExportedModel
    from harkd.deploy.stream import TIME_UNITS, StreamConfig, StreamPredictor, iter_lines

    path = None if args.input == "-" else Path(args.input)
    stdin = stdin_or_error("--input -") if path is None else None
    if path is not None and path.is_dir():
        raise DataError(path, "is a directory: pass a text file of rows, or - for stdin")
    model = ExportedModel(args.model, threads=args.threads)
    manifest = model.manifest
    if not manifest:
        raise DataError(manifest_path(args.model), "manifest not found: export the model with harkd export")
    rate = manifest["sampling_rate_hz"] if args.rate is None else args.rate
    window = manifest["window_seconds"] if args.window is None else args.window
    config = StreamConfig(rate=rate, window=window, hop=args.hop, max_gap=args.max_gap,
                          time_scale=TIME_UNITS[args.time_unit])
    predictor = StreamPredictor(model, manifest["class_names"], manifest["stream_columns"],
                                manifest["window_samples"], config, select=args.columns)
    if path is None:
        stats = predictor.run(iter_lines(getattr(stdin, "buffer", stdin)), sys.stdout, source="stdin")
    else:
        if not path.is_file():
            raise DataError(path, "input stream file not found")
        with open(path, "rb") as handle:
            stats = predictor.run(iter_lines(handle), sys.stdout, source=str(path))
    if stats.windows == 0:
        raise InputError(f"{predictor.source}: {predictor.no_window_reason()}")
    print(stats.summary(), file=sys.stderr)
    return 0
