"""``harkd compare RUN... --baseline RUN...``: is a method better than its baseline, seed by seed?"""

from __future__ import annotations

import argparse
import json

EXAMPLES = """\
examples:
  harkd compare runs/kd_s{0..4} --baseline runs/nokd_s{0..4}             # test accuracy, best checkpoints
  harkd compare runs/kd_s* --baseline runs/nokd_s* --checkpoint last --json
  harkd compare runs/kd_s* --baseline runs/nokd_s* --plot kd_gain.png     # per-seed pairs and the differences
"""


def register(subparsers) -> None:
    parser = subparsers.add_parser(
        "compare", help="paired comparison of runs against baseline runs (same seeds): mean +- std, p-values",
        description="Pair each run with the baseline run of the same seed (run.json), evaluate both on one split "
                    "and report mean +- std, the paired difference, a two-sided paired t-test and an exact "
                    "sign-flip test. A difference is called a gain only with >= 5 seeds and t-test p < 0.05. Runs "
                    "evaluated on different recordings (run.json's split less its skipped ones) are refused. For "
                    "distillation runs the unit is the (teacher seed, student seed) pair: the teachers' seeds "
                    "are listed, and a gain holds 'with teacher variance' only with >= 5 distinct teacher seeds.",
        epilog=EXAMPLES, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("runs", nargs="+", help="run directories of the method (one per seed)")
    parser.add_argument("--baseline", nargs="+", required=True, help="run directories of the baseline (same seeds)")
    parser.add_argument("--split", default="test", choices=["val", "test"], help="split to compare on (default: test)")
    parser.add_argument("--checkpoint", default="best", choices=["best", "last"],
                        help="checkpoint of every run (default: best, i.e. validation-selected)")
    parser.add_argument("--json", action="store_true", help="print the result as JSON")
    parser.add_argument("--plot", metavar="FILE", help="write a figure (PNG): per-seed values, baseline to method, "
                                                       "and the paired differences with their mean and 95%% CI")
    parser.set_defaults(func=run)


def _read_meta(run_dir: str) -> dict:
    from pathlib import Path

    from harkd.errors import DataError

    meta_path = Path(run_dir) / "run.json"
    if not meta_path.is_file():
        raise DataError(meta_path, "not found: is this a harkd run directory?")
    try:
        meta = json.loads(meta_path.read_text())
        meta["seed"]
    except (ValueError, KeyError, TypeError):
        raise DataError(meta_path, "cannot read the run's seed") from None
    return meta


def _by_seed(run_dirs: list[str], what: str) -> dict[int, str]:
    from harkd.errors import InputError

    out: dict[int, str] = {}
    for run_dir in run_dirs:
        seed = _read_meta(run_dir)["seed"]
        if seed in out:
            raise InputError(f"{what} runs {out[seed]} and {run_dir} share seed {seed}: give one run per seed")
        out[seed] = run_dir
    return out


def evaluated_keys(run_dir: str, split: str) -> list[str]:
    """The recordings ``run_dir`` is evaluated on: run.json's ``split`` keys less those it skipped."""
    meta = _read_meta(run_dir)
    skipped = {entry[0] for entry in (meta.get("skipped") or {}).get(split, [])}
    return [k for k in (meta.get("split") or {}).get(split, []) if k not in skipped]


def check_same_recordings(run_dirs: list[str], split: str) -> None:
    """An InputError naming the first differing keys when two runs are evaluated on different ``split`` recordings."""
    from harkd.engine.prepare import SHOWN
    from harkd.errors import InputError

    first = run_dirs[0]
    reference = evaluated_keys(first, split)
    for other in run_dirs[1:]:
        keys = evaluated_keys(other, split)
        if set(keys) == set(reference):
            continue
        parts = []
        for where, mine, theirs in ((first, reference, keys), (other, keys, reference)):
            only = [k for k in mine if k not in set(theirs)]
            if only:
                more = f" and {len(only) - SHOWN} more" if len(only) > SHOWN else ""
                parts.append(f"{len(only)} only in {where} ({', '.join(only[:SHOWN])}{more})")
        raise InputError(f"{first} and {other} are evaluated on different {split} recordings (run.json's split less "
                         f"its skipped ones): {'; '.join(parts)}; a paired comparison needs the same recordings "
                         "(a distillation run keeps the student's splits with data.teacher_missing: student_only)")


def teachers_of(run_dir: str, checkpoint: str = "best") -> list[dict]:
    """The teachers of a distillation run (empty for another kind): each one's run directory, seed (its
    config's ``seed``; None for a module teacher or cross-fitted folds) and test accuracy when recorded
    (``teachers.json``'s ``test_accuracy``, else the teacher run's ``eval_test_<checkpoint>.json``)."""
    from pathlib import Path

    import yaml

    if _read_meta(run_dir).get("kind") != "distill":
        return []
    config = yaml.safe_load((Path(run_dir) / "config.yaml").read_text()) or {}
    report_path = Path(run_dir) / "teachers.json"
    reported = json.loads(report_path.read_text()).get("teachers", []) if report_path.is_file() else []
    out = []
    for i, entry in enumerate(config.get("teachers") or []):
        row = {"run": entry.get("run"), "seed": None, "test_accuracy": None}
        if i < len(reported) and reported[i].get("test_accuracy") is not None:
            row["test_accuracy"] = reported[i]["test_accuracy"]
        if entry.get("run"):
            teacher = Path(entry["run"])  # as config.yaml names it (relative: to where the run was started)
            if (teacher / "config.yaml").is_file():
                row["seed"] = (yaml.safe_load((teacher / "config.yaml").read_text()) or {}).get("seed")
            recorded = teacher / f"eval_test_{entry.get('checkpoint') or checkpoint}.json"
            if row["test_accuracy"] is None and recorded.is_file():
                row["test_accuracy"] = json.loads(recorded.read_text()).get("accuracy")
        out.append(row)
    return out


def _teacher_seed(teachers: list[dict]):
    """One pair's teacher seed: the seed of its one teacher, the list of several teachers' seeds, None without."""
    seeds = [t["seed"] for t in teachers]
    if not seeds:
        return None
    return seeds[0] if len(seeds) == 1 else seeds


def teacher_claim(verdict: str, teacher_seeds: list) -> str:
    """The verdict with what it says about teachers: a gain (or loss) holds 'with teacher variance' only when
    its pairs were taught by >= MIN_SEEDS distinct teacher runs (seeds)."""
    from harkd.engine.stats import MIN_SEEDS

    known = [json.dumps(s) for s in teacher_seeds if s is not None]
    if not known:
        return verdict
    distinct = len(set(known))
    if verdict == "no significant gain":
        return f"{verdict} ({distinct} distinct teacher seed{'s' if distinct > 1 else ''})"
    if distinct >= MIN_SEEDS:
        return f"{verdict}, with teacher variance ({distinct} distinct teacher seeds)"
    if distinct == 1:
        return f"{verdict}, for one teacher run (seed {known[0]}): no teacher variance"
    return f"{verdict}, {distinct} distinct teacher seeds (< {MIN_SEEDS}: no claim with teacher variance)"


def compare_runs(runs: list[str], baseline: list[str], split: str = "test", checkpoint: str = "best") -> dict:
    """Accuracy per seed of ``runs`` and ``baseline`` on ``split``, and their paired test.

    The unit is the (teacher seed, student seed) pair: ``teacher_seeds`` lists, per student seed, the seed of
    the method's teacher run (the baseline's when the method has none; None for a run without teachers)."""
    import harkd.recipes  # noqa: F401  (a run of any built-in kind)
    from harkd.engine.evaluate import evaluate_run
    from harkd.engine.lifecycle import selected_on_test
    from harkd.engine.stats import confidence_interval, paired_test, summarize
    from harkd.errors import InputError

    method, base = _by_seed(runs, "method"), _by_seed(baseline, "baseline")
    if set(method) != set(base):
        raise InputError(f"the method's seeds {sorted(method)} differ from the baseline's {sorted(base)}: "
                         "a paired comparison needs the same seeds on both sides")
    seeds = sorted(method)
    check_same_recordings([base[s] for s in seeds] + [method[s] for s in seeds], split)
    teachers = {side: [teachers_of(dirs[s], checkpoint) for s in seeds] for side, dirs in (("method", method),
                                                                                           ("baseline", base))}
    taught = "method" if any(teachers["method"]) else "baseline"
    teacher_seeds = [_teacher_seed(t) for t in teachers[taught]]
    results = {side: [evaluate_run(dirs[s], split, checkpoint) for s in seeds]
               for side, dirs in (("method", method), ("baseline", base))}
    acc = {side: [100 * r["accuracy"] for r in rs] for side, rs in results.items()}
    on_test = {side: any(selected_on_test(r) for r in rs) for side, rs in results.items()}
    difference = paired_test(acc["method"], acc["baseline"])
    difference["ci95"] = confidence_interval([m - b for m, b in zip(acc["method"], acc["baseline"])])
    sides = {side: {"runs": [dirs[s] for s in seeds], "values": acc[side], **summarize(acc[side]),
                    "selected_on_test": on_test[side], "teachers": teachers[side]}
             for side, dirs in (("method", method), ("baseline", base))}
    return {"split": split, "checkpoint": checkpoint, "metric": "accuracy (%)", "seeds": seeds,
            "teacher_seeds": teacher_seeds, "pairs": [[t, s] for t, s in zip(teacher_seeds, seeds)],
            **sides, "difference": difference, "p_value": difference["p_value"],
            "claim": teacher_claim(difference["verdict"], teacher_seeds)}


def run(args) -> int:
    result = compare_runs(args.runs, args.baseline, args.split, args.checkpoint)
    if args.plot:
        from harkd.engine.figures import plot_comparison

        result["figure"] = str(plot_comparison(result, args.plot))
    if args.json:
        print(json.dumps(result, indent=1))
        return 0
    from harkd.engine.lifecycle import AS_PUBLISHED

    m, b, d = result["method"], result["baseline"], result["difference"]
    mark = {side: f" {AS_PUBLISHED}" if result[side]["selected_on_test"] else "" for side in ("method", "baseline")}
    print(f"{args.split} accuracy ({args.checkpoint} checkpoints), seeds {' '.join(map(str, result['seeds']))}")
    side = "method" if any(m["teachers"]) else "baseline"
    if any(result[side]["teachers"]):
        rows = []
        for seed, teachers in zip(result["seeds"], result[side]["teachers"]):
            for t in teachers:
                acc = "" if t["test_accuracy"] is None else f", test {100 * t['test_accuracy']:.1f} %"
                rows.append(f"{t['seed']} -> {seed} ({t['run']}{acc})")
        print(f"  {side} teachers (teacher seed -> student seed): {'; '.join(rows)}")
    print(f"  method   {m['mean']:.1f} +- {m['std']:.1f} %{mark['method']}")
    print(f"  baseline {b['mean']:.1f} +- {b['std']:.1f} %{mark['baseline']}")
    print(f"  paired difference {d['mean']:+.2f} +- {d['std']:.2f} points, t-test p = {d['p_value']:.3g}, "
          f"sign-flip p = {d['p_sign_flip']:.3g}, n = {d['n']}: {result['claim']}")
    if args.plot:
        print(f"wrote {result['figure']}")
    return 0
