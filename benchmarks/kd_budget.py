"""Which regime does distillation pay in? KD gain against the student's training budget (issue 24, item 5).

For every cell (student schedule in ``--epochs``, number of training subjects in ``--subjects``) the
raw-acc 1D CNN of section utd-kd-patient is trained without a teacher (``acc_cnn1d.yaml``) and with KD
from the augmented skeleton ST-GCN (``distill/skel2acc_kd.yaml``: CE + KD at T = 4, the teacher's fixed
view cached), inertial augmentation in both, over ``--seeds``; the cell's gain is the paired difference
(two-sided paired t-test, harkd.engine.stats: a gain needs >= 5 pairs and p < 0.05).

Teachers: one per (student seed, subjects) - seed S of a cell learns from the teacher trained with seed S
on the same subjects (the skeleton was recorded with the accelerometer, so a student with fewer subjects
has a teacher with fewer too), for the teacher config's fixed 60 epochs (``--teacher-epochs``), last
epoch. The gain's spread over the (teacher, student) pairs therefore holds the teacher's. Each teacher's
test accuracy is recorded; it only reports.

With ``--kd-runs`` (kd_table.py's ``--out``), the cells of all four training subjects at kd_table.py's
patient schedules (60 and 150 epochs) and their teachers are the runs of its section utd-kd-patient, which are
the same experiments (:func:`reused_runs`; a test checks that their configs resolve alike): read back, not trained
again. With ``--seeds 10 11 12 13 14`` these are the ``--headline`` runs.

Subjects, chosen before any run by a rule (:func:`subjects_for`): seed S's k training subjects are the
first k of UTD-MHAD's training subjects 1, 3, 5, 7 rotated by S (S mod 4), so a cell averages over which
subjects as well; the training subjects left out are held out (``data.val_subjects``) and only give a
test-free accuracy beside the test one (no run selects anything: fixed cosine schedule, final epoch).
Test subjects 2, 4, 6, 8 only report.

Writes the ``kd-budget`` section of ``RESULTS.md``, ``results/kd-budget.json`` (date, machine, command) and
``kd_budget.png`` (gain with its pair spread against epochs, one line per subject count; accuracies beside)
under ``--results`` (default: benchmarks/; with ``--synthetic``, the ``--out`` folder).

    HARKD_DATA_ROOT=../shared/data python benchmarks/kd_budget.py --jobs 2
    HARKD_DATA_ROOT=../shared/data python benchmarks/kd_budget.py --jobs 8 --gpus 0      # one GPU, 8 runs at once
    python -m benchmarks.kd_budget --root ../shared/data --seeds 10 11 12 13 14 --subjects 1 2 4 \
        --kd-runs runs/kd --jobs 2       # the 4-subject, 60/150-epoch cells: kd_table.py --headline's runs, read back
    python benchmarks/kd_budget.py --synthetic --epochs 1 2 --subjects 1 2 --seeds 0 1 --teacher-epochs 1 \\
        --out /tmp/kd-budget                                                               # the smoke run
"""

from __future__ import annotations

import argparse
import dataclasses
import datetime
import json
import os
import statistics
import sys
from pathlib import Path
from unittest import mock

from harkd.errors import ConfigError
from harkd.suites import (CHOOSING_SEEDS, RunSpec, accuracy_on_test, command_line, record_header, replace_section,
                          run_name, run_script, run_suite, seed_record, train_run, use_data_root)

HERE = Path(__file__).resolve().parent
CONFIGS = HERE.parent / "configs" / "utd_mhad"
TEACHER = CONFIGS / "skeleton_stgcn_aug.yaml"
NO_KD = CONFIGS / "acc_cnn1d.yaml"
KD = CONFIGS / "distill" / "skel2acc_kd.yaml"
AUGMENT = "data.modalities.inertial.augment={scale: 0.1, rotate: 15, shift: 0.1, noise: 0.02}"
TRAIN_SUBJECTS = (1, 3, 5, 7)  # UTD-MHAD cross-subject training subjects; 2, 4, 6, 8 test
SECTION = "kd-budget"


def subjects_for(count: int, seed: int) -> tuple[int, ...]:
    """The ``count`` training subjects of seed ``seed``: the first ``count`` of :data:`TRAIN_SUBJECTS` rotated
    by ``seed`` (mod 4), fixed before any run."""
    shift = seed % len(TRAIN_SUBJECTS)
    order = TRAIN_SUBJECTS[shift:] + TRAIN_SUBJECTS[:shift]
    return tuple(sorted(order[:count]))


def subject_overrides(count: int, seed: int) -> list[str]:
    """Train on :func:`subjects_for` only: the other training subjects held out (never a selection), none
    when all four train."""
    held_out = sorted(set(TRAIN_SUBJECTS) - set(subjects_for(count, seed)))
    return [f"data.val_subjects=[{', '.join(map(str, held_out))}]" if held_out else "data.val_subjects=null",
            "data.val_fraction=0"]


def teacher_name(count: int, seed: int) -> str:
    return f"teacher:{count}subjects:s{seed}"


def cell_label(kind: str, epochs: int, count: int) -> str:
    return f"{'KD' if kind == 'distill' else 'no KD'}, {epochs} epochs, {count} subject{'s' if count > 1 else ''}"


def reused_runs(kd_runs: Path, epochs: list[int], seeds: list[int]) -> dict[str, RunSpec]:
    """This script's all-four-subject runs that kd_table.py's section utd-kd-patient already declares, as that
    script declares them (same config, overrides, teacher, seed and run directory under ``kd_runs``): the
    teachers, and the no-KD and cached-KD students of its schedules among ``epochs``. Keyed by this script's
    run names; tests/benchmarks/test_kd_budget.py checks that each is the experiment this script would run."""
    try:
        from benchmarks import kd_table
    except ModuleNotFoundError:
        raise ConfigError("--kd-runs reads kd_table.py's runs: run this script as a module from the repository root "
                          "(python -m benchmarks.kd_budget ...)") from None
    schedules = [e for e in epochs if e in kd_table.PATIENT_EPOCHS]
    suite = kd_table.suites(schedules or list(kd_table.PATIENT_EPOCHS))["utd-kd-patient"]
    suite.rows = [r for r in suite.rows if r.label in {
        label for e in schedules for label in (f"no KD, {e} epochs", f"{kd_table.HEADLINE_RECIPE}, {e} epochs")}]
    by_name = {r.name: r for r in kd_table.suite_runs(suite, seeds, kd_runs, [])[0]}
    reused = {teacher_name(4, seed): by_name[kd_table.teacher_name("skeleton", seed)] for seed in seeds}
    for e in schedules:
        for seed in seeds:
            reused[run_name(cell_label("train", e, 4), seed)] = by_name[run_name(f"no KD, {e} epochs", seed)]
            reused[run_name(cell_label("distill", e, 4), seed, seed)] = by_name[
                run_name(f"{kd_table.HEADLINE_RECIPE}, {e} epochs", seed, seed)]
    return reused


def budget_runs(epochs: list[int], counts: list[int], seeds: list[int], out: Path, extra: list[str],
                teacher_epochs: int | None = None, kd_runs: Path | None = None) -> list[RunSpec]:
    """The declared runs: a teacher per (subject count, seed), then every cell's no-KD and KD student per seed
    (the KD one needing its seed's teacher of that subject count). With ``kd_runs``, the four-subject runs that
    kd_table.py's utd-kd-patient section holds there (:func:`reused_runs`) are its runs, under this script's
    names: read back (a finished run resumes at its last epoch), not trained again."""
    reused = reused_runs(kd_runs, epochs, seeds) if kd_runs is not None and 4 in counts else {}

    def declared(spec: RunSpec) -> RunSpec:
        theirs = reused.get(spec.name)
        return spec if theirs is None else dataclasses.replace(theirs, name=spec.name, needs=spec.needs)

    runs = []
    for count in counts:
        for seed in seeds:
            schedule = [f"train.epochs={teacher_epochs}"] if teacher_epochs else []
            runs.append(declared(RunSpec(teacher_name(count, seed), "train", str(TEACHER),
                                         str(out / "teachers" / run_name(f"skeleton, {count} subjects", seed)),
                                         (*subject_overrides(count, seed), *schedule, f"seed={seed}", *extra),
                                         measure=False)))
    for e in epochs:
        for count in counts:
            for seed in seeds:
                common = (*subject_overrides(count, seed), AUGMENT, f"train.epochs={e}", f"seed={seed}", *extra)
                teacher = next(r for r in runs if r.name == teacher_name(count, seed))
                runs.append(declared(RunSpec(run_name(cell_label("train", e, count), seed), "train", str(NO_KD),
                                             str(out / run_name(cell_label("train", e, count), seed)), common)))
                name = run_name(cell_label("distill", e, count), seed, seed)
                runs.append(declared(RunSpec(name, "distill", str(KD), str(out / name),
                                             (*common, f"teachers.0.run={teacher.run_dir}",
                                              "teachers.0.checkpoint=last"), (teacher.name,))))
    return runs


def _job(spec: RunSpec) -> dict:
    """Train (or resume) one run; its last epoch's test accuracy and, when it held subjects out, theirs."""
    from harkd.engine.trainer import read_metrics_file

    run_dir = train_run(spec)
    metrics = read_metrics_file(run_dir / "metrics.jsonl")
    held_out = metrics[-1].get("val_accuracy") if metrics else None
    return {"run_dir": str(run_dir), "test_last": accuracy_on_test(run_dir),
            "held_out_last": None if held_out is None else 100 * held_out,
            "seconds_per_epoch": statistics.median(m["seconds"] for m in metrics) if metrics else None}


def cells(results: dict, epochs: list[int], counts: list[int], seeds: list[int]) -> list[dict]:
    """One entry per (epochs, subjects) cell: both rows over the seeds, the paired gains, the teachers."""
    from harkd.engine.stats import paired_test, summarize

    out = []
    for e in epochs:
        for count in counts:
            no_kd = [results[run_name(cell_label("train", e, count), s)] for s in seeds]
            kd = [results[run_name(cell_label("distill", e, count), s, s)] for s in seeds]
            teachers = [results[teacher_name(count, s)] for s in seeds]
            cell = {"epochs": e, "subjects": count, "seeds": seeds, "teacher_seeds": seeds,
                    "training_subjects": [list(subjects_for(count, s)) for s in seeds],
                    "teachers": {"run_dirs": [t["run_dir"] for t in teachers],
                                 "test_last": [t["test_last"] for t in teachers]},
                    "no_kd": {"runs": no_kd, **summarize([r["test_last"] for r in no_kd])},
                    "kd": {"runs": kd, **summarize([r["test_last"] for r in kd])},
                    "gain": paired_test([r["test_last"] for r in kd], [r["test_last"] for r in no_kd])}
            if all(r["held_out_last"] is not None for r in no_kd + kd):
                cell["held_out_gain"] = paired_test([r["held_out_last"] for r in kd],
                                                    [r["held_out_last"] for r in no_kd])
            out.append(cell)
    return out


def _stat(stat: dict) -> str:
    return f"{stat['mean']:.1f}" if stat["n"] == 1 else f"{stat['mean']:.1f} +- {stat['std']:.1f}"


def _gain(test: dict | None) -> str:
    if not test:
        return "-"
    p = "-" if test["p_value"] != test["p_value"] else f"{test['p_value']:.2g}"
    return f"{test['mean']:+.1f} +- {test['std']:.1f} (p = {p}, {test['verdict']})"


def table(rows: list[dict]) -> str:
    from harkd.engine.stats import summarize

    lines = ["| student epochs | training subjects | no KD, test (%) | KD, test (%) | KD gain, test (points) | "
             "KD gain on the held-out training subjects | teachers' test acc. (%) |",
             "|---:|---:|---:|---:|---|---|---:|"]
    for c in rows:
        lines.append(f"| {c['epochs']} | {c['subjects']} | {_stat(c['no_kd'])} | {_stat(c['kd'])} | "
                     f"{_gain(c['gain'])} | {_gain(c.get('held_out_gain'))} | "
                     f"{_stat(summarize(c['teachers']['test_last']))} |")
    return "\n".join(lines)


def plot(rows: list[dict], path: Path) -> None:
    """Gain (mean +- std over the (teacher, student) pairs) against epochs, one line per subject count; filled
    markers where the paired test calls it a gain; the accuracies of both rows beside."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    counts = sorted({c["subjects"] for c in rows})
    colors = plt.get_cmap("viridis")([i / max(1, len(counts) - 1) * 0.85 for i in range(len(counts))])
    fig, (left, right) = plt.subplots(1, 2, figsize=(11, 4.3))
    for i, (count, color) in enumerate(zip(counts, colors)):
        mine = sorted((c for c in rows if c["subjects"] == count), key=lambda c: c["epochs"])
        dodge = 1 + 0.03 * (i - (len(counts) - 1) / 2)  # side by side, so the error bars do not hide each other
        x = [c["epochs"] * dodge for c in mine]
        name = f"{count} training subject{'s' if count > 1 else ''}"
        left.errorbar(x, [c["gain"]["mean"] for c in mine], yerr=[c["gain"]["std"] for c in mine], color=color,
                      marker="o", capsize=4, label=name, markerfacecolor="white")
        called = [c for c in mine if c["gain"]["verdict"] == "gain"]
        left.scatter([c["epochs"] * dodge for c in called], [c["gain"]["mean"] for c in called], color=color, zorder=3)
        right.plot(x, [c["no_kd"]["mean"] for c in mine], color=color, linestyle="--", marker="s",
                   markerfacecolor="white")
        right.plot(x, [c["kd"]["mean"] for c in mine], color=color, marker="o", label=name)
    left.axhline(0, color="grey", linewidth=1)
    n = rows[0]["gain"]["n"] if rows else 0
    left.set_title(f"KD gain (test), mean +- std over {n} (teacher, student) pairs\n"
                   "filled: paired t-test p < 0.05 with >= 5 pairs", fontsize=9)
    left.set_ylabel("KD - no KD (points)")
    right.set_title("test accuracy: KD (solid) and no KD (dashed)", fontsize=9)
    right.set_ylabel("test accuracy (%)")
    for ax in (left, right):
        ax.set_xscale("log")
        ax.set_xlabel("student epochs (log scale)")
        ax.set_xticks(sorted({c["epochs"] for c in rows}), [str(e) for e in sorted({c["epochs"] for c in rows})])
        ax.minorticks_off()
        ax.grid(alpha=0.3)
        ax.legend(fontsize=8)
    fig.suptitle("UTD-MHAD cross-subject: skeleton -> accelerometer KD against the student's budget "
                 "(benchmarks/kd_budget.py)", fontsize=10)
    fig.tight_layout()
    fig.savefig(path, dpi=110)
    plt.close(fig)


def synthetic_root(folder: Path) -> Path:
    """A small generated UTD-MHAD (all 8 subjects, 6 actions, 2 trials; inertial + skeleton) under ``folder``."""
    from harkd.data.synth import write_utd_mhad

    if not (folder / "UTD-MHAD").is_dir():
        write_utd_mhad(folder / "UTD-MHAD", subjects=8, trials=2, actions=(1, 2, 3, 10, 22, 24), seed=0,
                       modalities=("inertial", "skeleton"))
    return folder


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--root", help="data root holding UTD-MHAD/ (default: $HARKD_DATA_ROOT)")
    ap.add_argument("--synthetic", action="store_true", help="train on a generated UTD-MHAD (a smoke run)")
    ap.add_argument("--epochs", nargs="+", type=int, default=[20, 60, 150], help="student schedules")
    ap.add_argument("--subjects", nargs="+", type=int, default=[1, 2, 3, 4], help="numbers of training subjects (1-4)")
    ap.add_argument("--seeds", nargs="+", type=int, default=[0, 1, 2, 3, 4],
                    help="student seeds; seed S's teacher is trained with seed S")
    ap.add_argument("--teacher-epochs", type=int, help="teacher schedule (default: the config's 60)")
    ap.add_argument("--out", default="runs/kd-budget", help="run directories (resumed if present)")
    ap.add_argument("--kd-runs", help="kd_table.py's --out: the all-four-subject teachers and the 60- and 150-epoch "
                    "students are the runs of its section utd-kd-patient there (the same experiments, read back, not "
                    "trained again; needs the same seeds' teachers, e.g. --headline's 10-14; run as python -m benchmarks.kd_budget)")
    ap.add_argument("--results", help="folder for RESULTS.md, results/kd-budget.json and kd_budget.png "
                    "(default: benchmarks/; with --synthetic, --out)")
    ap.add_argument("--jobs", type=int, default=1, help="runs trained at once (each on --threads threads)")
    ap.add_argument("--threads", type=int, default=1, help="thread budget of each run (default 1)")
    ap.add_argument("--gpus", default="", help="pack the --jobs runs over these GPUs (e.g. 0 or 0,1)")
    ap.add_argument("--set", dest="overrides", action="append", default=[], metavar="KEY=VALUE",
                    help="extra override for every run, teachers included (e.g. a quick train.epochs=2)")
    ap.add_argument("--no-write", action="store_true")
    args = ap.parse_args(argv)
    for flag, values in (("--epochs", args.epochs), ("--seeds", args.seeds)):
        if len(set(values)) != len(values) or min(values) < (1 if flag == "--epochs" else 0):
            ap.error(f"{flag} must list distinct {'positive' if flag == '--epochs' else 'non-negative'} integers")
    if len(set(args.subjects)) != len(args.subjects) or not set(args.subjects) <= {1, 2, 3, 4}:
        ap.error(f"--subjects must list distinct numbers of training subjects among 1 2 3 4, got "
                 f"{' '.join(map(str, args.subjects))}")
    if args.teacher_epochs is not None and args.teacher_epochs < 1:
        ap.error("--teacher-epochs must be >= 1")
    if args.kd_runs and (args.overrides or args.teacher_epochs or args.synthetic):
        ap.error("--kd-runs reads kd_table.py's runs, which are not the experiments of --set, --teacher-epochs or "
                 "--synthetic: drop one")
    with mock.patch.dict(os.environ):  # --root and --synthetic point HARKD_DATA_ROOT elsewhere for these runs only
        return measure_budget(args)


def measure_budget(args) -> int:
    """Train (or resume) the declared runs, then write the table, the JSON and the plot."""
    out = Path(args.out)
    if args.synthetic:
        os.environ["HARKD_DATA_ROOT"] = str(synthetic_root(out / "data"))
    elif not use_data_root(args.root, "UTD-MHAD"):
        return 0
    runs = budget_runs(args.epochs, args.subjects, args.seeds, out, args.overrides, args.teacher_epochs,
                       Path(args.kd_runs) if args.kd_runs else None)
    gpus = [g for g in args.gpus.split(",") if g.strip()]
    results = run_suite(runs, _job, jobs=args.jobs, threads=args.threads, state_dir=out / ".suite", gpus=gpus)
    rows = cells(results, args.epochs, args.subjects, args.seeds)
    text = table(rows)
    print(text)
    if args.no_write:
        return 0
    folder = Path(args.results) if args.results else (out if args.synthetic else HERE)
    (folder / "results").mkdir(parents=True, exist_ok=True)
    notes = [
        f"data: {'a generated UTD-MHAD (harkd.data.synth: a smoke run, no evidence)' if args.synthetic else 'UTD-MHAD'}"
        ", cross-subject: test subjects 2, 4, 6, 8 only report",
        "cell: the raw-acc 1D CNN (`configs/utd_mhad/acc_cnn1d.yaml`) without a teacher and with KD "
        "(`distill/skel2acc_kd.yaml`: CE + KD T = 4, cached teacher view), inertial augmentation "
        f"`{AUGMENT.split('=', 1)[1]}`, fixed cosine schedule of the stated epochs, final epoch; nothing selected",
        "training subjects: seed S's k subjects are the first k of 1, 3, 5, 7 rotated by S mod 4 (fixed before the "
        "runs); the other training subjects are held out and give the test-free gain column",
        "teachers: the augmented skeleton ST-GCN (`skeleton_stgcn_aug.yaml`) trained on the student's subjects for "
        f"{args.teacher_epochs or 'its 60'} epochs, last epoch: **one per student seed and subject count** (teacher "
        "seed = student seed), so the gain's spread holds the teacher's; its test accuracy only reports",
        f"seeds {' '.join(map(str, args.seeds))}"
        + (f" (the KD recipe was chosen on seeds {' '.join(map(str, CHOOSING_SEEDS))})"
           if set(args.seeds) & set(CHOOSING_SEEDS) else ""),
        f"gain: KD - no KD on the same seed, mean +- std over {len(args.seeds)} (teacher, student) pairs (the std is "
        "the spread of the pairs, teachers included), two-sided paired t-test; called a gain only with >= 5 pairs "
        "and p < 0.05" + ("; **fewer than 5 pairs: no cell can be called a gain, this is a look at the regime, "
                          "not a claim**" if len(args.seeds) < 5 else ""),
        *([f"extra overrides: {', '.join(args.overrides)}"] if args.overrides else []),
        *([f"all four subjects: the teachers and the {' and '.join(map(str, sorted(set(args.epochs) & {60, 150})))}"
           f"-epoch students are the runs of section utd-kd-patient (`kd_table.py --out {args.kd_runs}`, the same "
           "experiments), read back here"] if args.kd_runs and 4 in args.subjects else [])]
    header = record_header("KD gain against the student's budget: epochs and training subjects, UTD-MHAD "
                           "cross-subject (benchmarks/kd_budget.py)", *notes,
                           date=datetime.date.today().isoformat())
    figure = "benchmarks/kd_budget.png" if folder == HERE else str(folder / "kd_budget.png")
    replace_section(folder / "RESULTS.md", SECTION, header + text + f"\n\nGain against the budget: `{figure}`.\n")
    record = {"section": SECTION, "date": datetime.datetime.now().isoformat(timespec="seconds"),
              "machine": header.split("- machine: ", 1)[1].split("\n", 1)[0], "command": command_line(),
              "header": header, "data": "synthetic" if args.synthetic else os.environ["HARKD_DATA_ROOT"],
              **seed_record("per-seed", args.seeds, False), "epochs": args.epochs, "subjects": args.subjects,
              "teacher_epochs": args.teacher_epochs, "cells": rows}
    (folder / "results" / f"{SECTION}.json").write_text(json.dumps(record, indent=1) + "\n")
    plot(rows, folder / "kd_budget.png")
    print(f"wrote {folder / 'RESULTS.md'} (section {SECTION}), {folder / 'results' / f'{SECTION}.json'} and "
          f"{folder / 'kd_budget.png'}")
    return 0


if __name__ == "__main__":
    os.environ.setdefault("OMP_NUM_THREADS", "1")
    sys.exit(run_script(main))
