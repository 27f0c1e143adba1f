"""``harkd evaluate RUN_DIR``: metrics and report figures of a trained run."""

from __future__ import annotations

import argparse
import json

EXAMPLES = """\
examples:
  harkd evaluate runs/utd_acc_cnn1d                       # test split, best (validation-selected) checkpoint
  harkd evaluate runs/utd_acc_cnn1d --split val --checkpoint last
  harkd evaluate runs/utd_acc_cnn1d --json > result.json  # accuracy, macro_f1, split, checkpoint, ...
"""


def register(subparsers) -> None:
    parser = subparsers.add_parser(
        "evaluate", help="evaluate a run: accuracy, macro-F1, per-class accuracy, confusion matrix",
        description="Evaluate a run directory on one split. Writes confusion_<split>.png (row-normalised, class "
                    "names) and learning_curves.png into the run directory unless --no-plots.",
        epilog=EXAMPLES, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("run_dir", help="a directory written by harkd train")
    parser.add_argument("--split", default="test", choices=["train", "val", "test"],
                        help="the split to evaluate (default: %(default)s)")
    parser.add_argument("--checkpoint", default="best", choices=["best", "last"],
                        help="best: chosen on validation; last: the final epoch (default: %(default)s)")
    parser.add_argument("--json", action="store_true", help="print the result as JSON")
    parser.add_argument("--no-plots", action="store_true", help="skip the PNG figures")
    parser.set_defaults(func=run)


def run(args) -> int:
    import sys
    from pathlib import Path

    import harkd.recipes  # noqa: F401  (a run of any built-in kind)
    from harkd.engine.evaluate import evaluate_run, write_figures
    from harkd.errors import warn

    result = evaluate_run(args.run_dir, args.split, args.checkpoint)
    run_dir = Path(args.run_dir)
    if result["data_root_from"] == "run.json":
        print(f"data root from run.json: {result['data_root']}", file=sys.stderr)
    failed = []
    if not args.no_plots:
        result["figures"], failed = write_figures(result, run_dir)
    if args.json:
        print(json.dumps(result, indent=1), flush=True)
    else:
        _print_table(result, run_dir, args)
    for line in failed:  # after the results: a read-only run directory loses only the figures
        warn(line)
    return 0


def _print_table(result: dict, run_dir, args) -> None:
    from rich.console import Console
    from rich.table import Table

    from harkd.engine.lifecycle import AS_PUBLISHED, selected_on_test

    from rich.markup import escape

    marker = escape(f" {AS_PUBLISHED}") if selected_on_test(result) else ""
    table = Table(title=f"{run_dir} - {args.split} ({args.checkpoint} checkpoint){marker}")
    table.add_column("class")
    table.add_column("accuracy", justify="right")
    for name, acc in zip(result["class_names"], result["per_class_accuracy"]):
        table.add_row(name, "-" if acc != acc else f"{acc:.3f}")
    console = Console()
    console.print(table)
    missing = result.get("missing_keys", 0)
    gone = f" ({missing} of run.json's {missing + result['num_samples']} missing now)" if missing else ""
    console.print(f"top-1 accuracy {result['accuracy']:.4f}   macro-F1 {result['macro_f1']:.4f}   "
                  f"samples {result['num_samples']}{gone}{marker}")
    for fig in result.get("figures", []):
        console.print(f"wrote {fig}")
