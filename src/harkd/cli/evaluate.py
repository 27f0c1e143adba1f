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
    parser.add_argument("--split", default="test", choices=["train", "val", "test"])
    parser.add_argument("--checkpoint", default="best", choices=["best", "last"])
    parser.add_argument("--json", action="store_true", help="print the result as JSON")
    parser.add_argument("--no-plots", action="store_true", help="skip the PNG figures")
    parser.set_defaults(func=run)


def run(args) -> int:
    from pathlib import Path

    from harkd.engine.evaluate import evaluate_run, plot_confusion, plot_learning_curves, read_metrics

    result = evaluate_run(args.run_dir, args.split, args.checkpoint)
    run_dir = Path(args.run_dir)
    if not args.no_plots:
        result["figures"] = [str(plot_confusion(result, run_dir / f"confusion_{args.split}.png"))]
        records = read_metrics(run_dir)
        if records:
            result["figures"].append(str(plot_learning_curves(records, run_dir / "learning_curves.png")))
    if args.json:
        print(json.dumps(result, indent=1))
        return 0
    from rich.console import Console
    from rich.table import Table

    table = Table(title=f"{run_dir} - {args.split} ({args.checkpoint} checkpoint)")
    table.add_column("class")
    table.add_column("accuracy", justify="right")
    for name, acc in zip(result["class_names"], result["per_class_accuracy"]):
        table.add_row(name, "-" if acc != acc else f"{acc:.3f}")
    console = Console()
    console.print(table)
    console.print(f"top-1 accuracy {result['accuracy']:.4f}   macro-F1 {result['macro_f1']:.4f}   "
                  f"samples {result['num_samples']}")
    for fig in result.get("figures", []):
        console.print(f"wrote {fig}")
    return 0
