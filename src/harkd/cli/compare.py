"""``harkd compare RUN... --baseline RUN...``: is a method better than its baseline, seed by seed?"""

from __future__ import annotations

import argparse
import json

EXAMPLES = """\
examples:
  harkd compare runs/kd_s{0..4} --baseline runs/nokd_s{0..4}             # test accuracy, best checkpoints
  harkd compare runs/kd_s* --baseline runs/nokd_s* --checkpoint last --json
"""


def register(subparsers) -> None:
    parser = subparsers.add_parser(
        "compare", help="paired comparison of runs against baseline runs (same seeds): mean +- std, p-values",
        description="Pair each run with the baseline run of the same seed (run.json), evaluate both on one split "
                    "and report mean +- std, the paired difference, a two-sided paired t-test and an exact "
                    "sign-flip test. A difference is called a gain only with >= 5 seeds and t-test p < 0.05.",
        epilog=EXAMPLES, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("runs", nargs="+", help="run directories of the method (one per seed)")
    parser.add_argument("--baseline", nargs="+", required=True, help="run directories of the baseline (same seeds)")
    parser.add_argument("--split", default="test", choices=["val", "test"], help="split to compare on (default: test)")
    parser.add_argument("--checkpoint", default="best", choices=["best", "last"],
                        help="checkpoint of every run (default: best, i.e. validation-selected)")
    parser.add_argument("--json", action="store_true", help="print the result as JSON")
    parser.set_defaults(func=run)


def _by_seed(run_dirs: list[str], what: str) -> dict[int, str]:
    from pathlib import Path

    from harkd.errors import DataError, InputError

    out: dict[int, str] = {}
    for run_dir in run_dirs:
        meta_path = Path(run_dir) / "run.json"
        if not meta_path.is_file():
            raise DataError(meta_path, "not found: is this a harkd run directory?")
        try:
            seed = json.loads(meta_path.read_text())["seed"]
        except (ValueError, KeyError, TypeError):
            raise DataError(meta_path, "cannot read the run's seed") from None
        if seed in out:
            raise InputError(f"{what} runs {out[seed]} and {run_dir} share seed {seed}: give one run per seed")
        out[seed] = run_dir
    return out


def compare_runs(runs: list[str], baseline: list[str], split: str = "test", checkpoint: str = "best") -> dict:
    """Accuracy per seed of ``runs`` and ``baseline`` on ``split``, and their paired test."""
    import harkd.recipes  # noqa: F401  (a run of any built-in kind)
    from harkd.engine.evaluate import evaluate_run
    from harkd.engine.stats import paired_test, summarize
    from harkd.errors import InputError

    method, base = _by_seed(runs, "method"), _by_seed(baseline, "baseline")
    if set(method) != set(base):
        raise InputError(f"the method's seeds {sorted(method)} differ from the baseline's {sorted(base)}: "
                         "a paired comparison needs the same seeds on both sides")
    from harkd.engine.lifecycle import selected_on_test

    seeds = sorted(method)
    results = {side: [evaluate_run(dirs[s], split, checkpoint) for s in seeds]
               for side, dirs in (("method", method), ("baseline", base))}
    acc = {side: [100 * r["accuracy"] for r in rs] for side, rs in results.items()}
    on_test = {side: any(selected_on_test(r) for r in rs) for side, rs in results.items()}
    return {"split": split, "checkpoint": checkpoint, "metric": "accuracy (%)", "seeds": seeds,
            "method": {"runs": [method[s] for s in seeds], "values": acc["method"], **summarize(acc["method"]),
                       "selected_on_test": on_test["method"]},
            "baseline": {"runs": [base[s] for s in seeds], "values": acc["baseline"], **summarize(acc["baseline"]),
                         "selected_on_test": on_test["baseline"]},
            "difference": paired_test(acc["method"], acc["baseline"])}


def run(args) -> int:
    result = compare_runs(args.runs, args.baseline, args.split, args.checkpoint)
    if args.json:
        print(json.dumps(result, indent=1))
        return 0
    from harkd.engine.lifecycle import AS_PUBLISHED

    m, b, d = result["method"], result["baseline"], result["difference"]
    mark = {side: f" {AS_PUBLISHED}" if result[side]["selected_on_test"] else "" for side in ("method", "baseline")}
    print(f"{args.split} accuracy ({args.checkpoint} checkpoints), seeds {' '.join(map(str, result['seeds']))}")
    print(f"  method   {m['mean']:.1f} +- {m['std']:.1f} %{mark['method']}")
    print(f"  baseline {b['mean']:.1f} +- {b['std']:.1f} %{mark['baseline']}")
    print(f"  paired difference {d['mean']:+.2f} +- {d['std']:.2f} points, t-test p = {d['p_value']:.3g}, "
          f"sign-flip p = {d['p_sign_flip']:.3g}, n = {d['n']}: {d['verdict']}")
    return 0
