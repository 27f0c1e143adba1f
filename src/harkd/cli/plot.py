"""``harkd plot RUN... --keys KEY,...``: several runs' metrics.jsonl curves overlaid, one panel per key."""

from __future__ import annotations

DEFAULT_OUT = "curves.png"

EXAMPLES = """\
examples:
  harkd plot runs/kd_s0 runs/nokd_s0                        # train_loss, val_loss, val_accuracy -> curves.png
  harkd plot runs/kd_s* runs/nokd_s* --keys val_accuracy,train_loss --out kd_vs_nokd.png
  harkd plot runs/skel2acc_kd --keys train_ce,train_kd,val_accuracy --out figures/

Each line is one run, labelled by its directory name and seed (run.json); a ring marks the
epoch its best.pt holds. --out is an image file whose extension gives the format (png, svg,
pdf, ...), or a directory, which gets curves.png.
"""


def register(subparsers) -> None:
    from harkd.cli.main import HelpFormatter

    description = ("Draw the per-epoch values of the given metrics.jsonl keys of every run, one panel per key and "
                   "one line per run, into one image.")
    parser = subparsers.add_parser("plot", description=description, epilog=EXAMPLES, formatter_class=HelpFormatter,
                                   help="overlay several runs' learning curves (metrics.jsonl), one panel per key")
    parser.add_argument("runs", nargs="+", metavar="RUN", help="run directories written by harkd train or distill")
    parser.add_argument("--keys", metavar="KEY,...",
                        help="comma-separated metrics.jsonl keys, e.g. val_accuracy,train_loss,train_kd "
                             "(default: those of train_loss, val_loss, val_accuracy the runs log)")
    parser.add_argument("--out", default=DEFAULT_OUT, metavar="IMAGE|DIR/",
                        help="output image (format from its extension) or directory")
    parser.set_defaults(func=run)


def run(args) -> int:
    from harkd.cli.gaf import output_path, save_image
    from harkd.engine.figures import check_keys, image_formats, run_curves, runs_figure

    out = output_path(args.out, DEFAULT_OUT, image_formats())
    keys = None if args.keys is None else [k.strip() for k in args.keys.split(",") if k.strip()]
    curves = run_curves(args.runs)
    keys = check_keys(keys, curves)
    save_image(runs_figure(curves, keys), out)
    print(f"wrote {out} ({len(curves)} run{'s' * (len(curves) != 1)}: {', '.join(keys)})")
    return 0

