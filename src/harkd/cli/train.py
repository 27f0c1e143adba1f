"""``harkd train CONFIG``: train one experiment, resumable."""

from __future__ import annotations

import argparse
import json


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
                    "An existing run directory is resumed from last.pt.",
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
                        help="after training, evaluate the best (validation-selected) and last checkpoints on this split")


def run(args, kind: str = "train") -> int:
    from harkd.engine import distributed
    from harkd.engine.evaluate import evaluate_run
    from harkd.engine.experiment import get_recipe, train_experiment

    recipe = get_recipe(kind)
    overrides = list(args.overrides) + (["train.deterministic=true"] if args.deterministic else [])
    cfg = recipe.load(args.config, overrides)
    run_dir = train_experiment(cfg, args.run_dir, resume=not args.no_resume, recipe=recipe)
    if distributed.rank() == 0 and args.evaluate != "none":
        for checkpoint in ("best", "last"):
            result = evaluate_run(run_dir, args.evaluate, checkpoint)
            summary = {k: result[k] for k in ("split", "checkpoint", "accuracy", "macro_f1")}
            (run_dir / f"eval_{args.evaluate}_{checkpoint}.json").write_text(json.dumps(summary, indent=1))
            print(f"{checkpoint}: {args.evaluate} accuracy {result['accuracy']:.4f}, macro-F1 {result['macro_f1']:.4f}")
    print(f"run directory: {run_dir}")
    distributed.shutdown()
    return 0
