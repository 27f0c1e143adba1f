"""``harkd train CONFIG``: train one experiment, resumable."""

from __future__ import annotations

import argparse
import json
from pathlib import Path


EXAMPLES = """\
examples:
  harkd train configs/utd_mhad/acc_cnn1d.yaml
  harkd train configs/utd_mhad/acc_cnn1d.yaml --set seed=1 --set train.epochs=5
  harkd train configs/utd_mhad/acc_cnn1d.yaml --run-dir runs/acc_s1    # resumes if it holds a run
  torchrun --nproc_per_node 2 -m harkd train configs/utd_mhad/acc_cnn1d.yaml   # data-parallel
"""

def register(subparsers) -> None:
    parser = subparsers.add_parser(
        "train", help="train a single-modality model from a YAML experiment",
        description="Train one experiment (one YAML file). The resolved config, seed, harkd version and git "
                    "hash go to the run directory, with last.pt every epoch and best.pt by validation metric. "
                    "An existing run directory is resumed from last.pt (its checksums verified); a larger "
                    "train.epochs continues a constant or step schedule (recorded in config.yaml) and is refused "
                    "for a cosine one, which is laid out over the epochs.",
        epilog=EXAMPLES, formatter_class=argparse.RawDescriptionHelpFormatter)
    add_run_arguments(parser)
    parser.set_defaults(func=run)


def add_run_arguments(parser) -> None:
    """The options ``harkd train`` and ``harkd distill`` share."""
    parser.add_argument("config", help="experiment YAML file")
    parser.add_argument("--set", dest="overrides", action="append", default=[], metavar="KEY=VALUE",
                        help="override a config key (dotted path, YAML value); repeatable")
    parser.add_argument("--run-dir", help="run directory (default: OUTPUT_DIR/NAME from the config)")
    parser.add_argument("--no-resume", action="store_true", help="fail instead of resuming an existing run")
    parser.add_argument("--deterministic", action="store_true", help="deterministic kernels (same metrics on a re-run)")
    parser.add_argument("--evaluate", choices=["test", "val", "none"], default="test",
                        help="after training, report the accuracy of best.pt and last.pt on this split "
                             "(default: %(default)s). best.pt is selected on the validation split only; the "
                             "test split is used for neither training nor selection")
    parser.add_argument("--select-on-test", action="store_true",
                        help="AS PUBLISHED, NOT AN UNBIASED ESTIMATE: choose best.pt on the TEST split every epoch "
                             "(the released SAKDN/VSKD code's practice), to compare with published numbers; marked "
                             "in run.json, every result line and the default run directory (NAME_select-on-test)")


def run(args, kind: str = "train") -> int:
    from harkd.engine import distributed
    from harkd.engine.evaluate import evaluate_run
    from harkd.recipes import run_config

    overrides = list(args.overrides) + (["train.deterministic=true"] if args.deterministic else [])
    evaluate = None if args.evaluate == "none" else args.evaluate
    select_on = "test" if args.select_on_test else "val"
    run_dir = run_config(args.config, args.run_dir, kind=kind, overrides=overrides, stage=getattr(args, "stage", None),
                         resume=not args.no_resume, evaluate=evaluate, select_on=select_on)
    if distributed.rank() == 0 and evaluate:
        labels = checkpoint_labels(run_dir)
        for checkpoint in ("best", "last"):
            result = evaluate_run(run_dir, evaluate, checkpoint)
            summary = {k: result[k] for k in ("split", "checkpoint", "accuracy", "macro_f1")}
            (run_dir / f"eval_{evaluate}_{checkpoint}.json").write_text(json.dumps(summary, indent=1))
            print(f"{labels[checkpoint]}: {evaluate} accuracy {result['accuracy']:.4f}, "
                  f"macro-F1 {result['macro_f1']:.4f}")
        if args.select_on_test:
            print("(as published: best.pt was chosen on the test split, so its test accuracy is not an unbiased "
                  "estimate)")
        elif evaluate == "test":
            print("(the test split was used for neither training nor checkpoint selection)")
    if distributed.rank() == 0:
        print_refit(run_dir)
    print(f"run directory: {run_dir}")
    distributed.shutdown()
    return 0


def print_refit(run_dir: Path) -> None:
    """The refit's final-epoch test result beside the held-out-selected one, when run.json has a ``refit``."""
    from harkd.engine.rundir import read_run_meta

    refit = read_run_meta(run_dir).get("refit")
    if refit:
        test = refit["test"]
        result = (f"test accuracy {test['accuracy']:.4f}, macro-F1 {test['macro_f1']:.4f}" if test
                  else "no test recordings to evaluate")
        print(f"refit ({refit['dir']}/last.pt: every training-side recording, {refit['epochs']} epochs, final "
              f"epoch): {result}")


def checkpoint_labels(run_dir: Path) -> dict[str, str]:
    """``best.pt (epoch 5, best on validation)`` and ``last.pt (epoch 6)``, read off metrics.jsonl
    (``best on TEST`` and the as-published marker for a ``--select-on-test`` run)."""
    from harkd.engine.lifecycle import AS_PUBLISHED, selected_on_test
    from harkd.engine.rundir import read_run_meta
    from harkd.engine.trainer import read_metrics_file

    lines = read_metrics_file(run_dir / "metrics.jsonl")
    last = lines[-1]["epoch"] if lines else "?"
    best = lines[-1].get("best_epoch", -1) if lines else -1
    on_test = selected_on_test(read_run_meta(run_dir))
    chosen = (f"epoch {best}, best on TEST {AS_PUBLISHED}" if on_test and best and best > 0
              else f"epoch {best}, best on validation" if best and best > 0
              else f"epoch {last}: no validation split, so the last epoch")
    return {"best": f"best.pt ({chosen})", "last": f"last.pt (epoch {last})" + (f" {AS_PUBLISHED}" if on_test else "")}
