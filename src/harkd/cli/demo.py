"""``harkd demo``: the whole pipeline on an embedded synthetic dataset, no download.

1. writes a synthetic UTD-MHAD-format dataset (one kinematic body model drives the
   skeleton and the wrist/thigh inertial sensor) of the actions that come in groups a
   wrist (or thigh) accelerometer sees alike and a skeleton tells apart (``ACTION_GROUPS``):
   the situation cross-modal distillation is for;
2. scans it, splits it cross-subject, with a whole training subject held out for validation
   (with a single training subject there is none to hold out: every model keeps its last
   epoch, since selection never uses recordings of the training subjects);
3. encodes every accelerometer window as GAF images and times it;
4. trains a skeleton teacher, then an accelerometer student without distillation and the
   same student distilled from the teacher's last epoch (cross-entropy + KD on paired
   batches), both over ``--seeds`` training seeds, several runs at once in worker processes,
   printing each run's start and end, the time left, and a line at least every 30 s; then
   reports test accuracy (mean +- std) at the last epoch and at the epoch chosen on
   validation (never on test), and harkd's paired test of KD against no KD over the seeds.

Why KD hurt in the demo of harkd <= 0.9 (all 27 actions, 4 trials, students of 25 epochs; measured
on seed 0): the students did not fit their training split (92 % without KD, 86 % with it: KD's
softer targets slow the fit, and 25 epochs were too few), and the teacher's validation-selected
epoch, an early one, got 4 % of the training recordings wrong, in fine right-hand shapes
(circles, triangle, push) that the synthetic skeleton, resampled to 32 frames, sees worse than
the wrist. The KD student learned those errors (circle counter-clockwise 56 % -> 0 % of test
recordings) and the skeleton's similarities (tennis serve 88 % -> 19 %, taken for an arm
throw), while it gained where the skeleton tells apart what the wrist confuses (pick up and
throw 69 % -> 94 %). Trained to fit (80 epochs of batches of 16) on two trials per subject and
taught by the teacher's last epoch, the students gain from KD on all 27 actions as well
(``--all-actions``: +5.6 points at the last epoch, p = 0.005 over 5 seeds, with a teacher that
scores below them); by default the demo keeps to the groups where the skeleton is the better
modality, which takes half the time.

The demo is a small synthetic illustration, not a benchmark: real-data tables are in
benchmarks/RESULTS.md.
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import tempfile
import time
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path

EXAMPLES = """\
examples:
  harkd demo                       # synthetic data in a temporary folder, about 2 minutes on 2 cores
  harkd demo --out demo-run        # keep the dataset, the run directories and demo.json
  harkd demo --all-actions         # all 27 actions: the skeleton also meets fine hand motion it sees worse
  harkd demo --epochs 5 --subjects 4 --seeds 2   # quicker
"""

#: The demo's actions (UTD-MHAD ids) in the groups the synthetic generator makes alike for the
#: accelerometer and distinct for the skeleton: the same arc in opposite directions (swipes), one clip
#: and its time reversal (sit to stand / stand to sit), the same throw with or without a bend to the
#: floor first, over-arm throws, under- and over-arm two-handed shots, horizontal swings with a trunk
#: twist, and leg actions read by a sensor on one thigh (actions 22-27 carry it there).
ACTION_GROUPS = (("right arm swipe to the left", "right arm swipe to the right"),
                 ("right arm throw", "right hand pick up and throw", "tennis serve"),
                 ("basketball shoot", "bowling right hand"),
                 ("baseball swing from right", "tennis right hand forehand swing"),
                 ("walking in place", "forward lunge left foot forward"),
                 ("sit to stand", "stand to sit", "squat two arms stretch out"))

#: Skeleton teacher, trained as the benchmark teachers are (configs/utd_mhad/skeleton_stgcn.yaml:
#: AdamW 2e-3, weight decay 1e-2, label smoothing 0.1). It teaches from its last epoch, which labels
#: every training recording of the demo's groups right (tests/cli/test_demo_teacher.py); the
#: validation-selected epoch can be an early one that still gets some wrong, and the student learns them.
TEACHER = {
    "modalities": {"skeleton": {"frames": 32, "center": True, "normalize": True}},
    "model": {"name": "stgcn", "input": "skeleton", "args": {"widths": [32, 64, 64], "strides": [1, 2, 1]}},
    "optim": {"name": "adamw", "lr": 2e-3, "weight_decay": 1e-2},
    "label_smoothing": 0.1,
    "batch_size": 32,
}
#: Accelerometer student, the same for the no-KD and the KD row (label smoothing 0 for both,
#: so the rows compare KD alone).
STUDENT = {
    "modalities": {"inertial": {"sensor": "acc", "length": 128, "normalize": True}},
    "model": {"name": "imu_cnn1d", "input": "inertial", "args": {"widths": [32, 64, 128]}},
    "optim": {"name": "adam", "lr": 3e-3, "weight_decay": 1e-4},
    "label_smoothing": 0.0,
    "batch_size": 16,
}
DEFAULT_EPOCHS = 80  # per student
DEFAULT_TEACHER_EPOCHS = 100
KD_LOSSES = [{"name": "ce", "weight": 1.0}, {"name": "kd", "weight": 1.0, "args": {"temperature": 4}}]
TEACHER_CHECKPOINT = "last"
ROWS = (("teacher", "teacher: skeleton GCN"),
        ("no_kd", "student: accel., no KD"),
        ("kd", "student: accel., KD"))
#: Seconds of one epoch of each kind of run relative to a no-KD student's epoch, measured on the demo's
#: data (one thread): the first estimate of the time left, before any run has finished.
EPOCH_COST = {"teacher": 4.4, "no_kd": 1.0, "kd": 1.1}
PROGRESS_EVERY = 30.0  # seconds between progress lines when the output is not a terminal


def register(subparsers) -> None:
    parser = subparsers.add_parser(
        "demo", help="run the pipeline end to end on a synthetic dataset (no download)",
        description=__doc__, epilog=EXAMPLES, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--out", help="folder for the dataset, the runs and demo.json (default: a temporary folder)")
    parser.add_argument("--subjects", type=int, default=8, help="synthetic subjects, 2-8 (default: %(default)s)")
    parser.add_argument("--trials", type=int, default=2,
                        help="trials per subject and action, 1-4 (default: %(default)s)")
    parser.add_argument("--all-actions", action="store_true",
                        help="all 27 UTD-MHAD actions instead of the demo's groups (slower; the skeleton then also "
                             "meets fine hand motion that it sees worse than the wrist)")
    parser.add_argument("--epochs", type=int, default=DEFAULT_EPOCHS,
                        help="training epochs per student (default: %(default)s)")
    parser.add_argument("--teacher-epochs", type=int, default=DEFAULT_TEACHER_EPOCHS,
                        help="teacher training epochs (default: %(default)s)")
    parser.add_argument("--seeds", type=int, default=5,
                        help="training seeds per student row, reported as mean +- std and compared pairwise; "
                             "harkd calls a difference a gain from 5 seeds (default: %(default)s)")
    parser.add_argument("--seed", type=int, default=0,
                        help="seed of the dataset and the teacher; student seeds start here (default: %(default)s)")
    parser.add_argument("--jobs", type=int, default=None,
                        help="runs trained at once, each in its own process with one thread (default: the usable "
                             "CPUs, at most 4; 1 trains in this process)")
    parser.set_defaults(func=run)


@contextmanager
def _cache_folder(folder: str | None):
    """harkd's preprocessing cache in ``folder`` while the block runs (none: the cache is off)."""
    from harkd.data.cache import CACHE_DIR_ENV

    saved = os.environ.get(CACHE_DIR_ENV)
    if folder is not None:
        os.environ[CACHE_DIR_ENV] = str(folder)
    try:
        yield
    finally:
        if saved is None:
            os.environ.pop(CACHE_DIR_ENV, None)
        else:
            os.environ[CACHE_DIR_ENV] = saved


def train_model(name: str, root: Path, out: Path, spec: dict, epochs: int, seed: int,
                distill: dict | None = None, validation: dict | None = None, cache: str | None = None) -> dict:
    """Train one model of the demo (``spec``: TEACHER or STUDENT; with ``distill``, distil it) and test it.

    Returns test accuracy and macro-F1 of the validation-selected (``best``) and the ``last``
    checkpoint, the training split's accuracy of the last one, the seconds it took and the run
    directory. ``validation``: the ``data`` keys of the validation rule (default: the engine's, a
    held-out training subject). ``cache``: a folder for the prepared recordings (default: none, each
    epoch reads the files again).
    """
    from harkd.engine.evaluate import evaluate_run
    from harkd.recipes import run_config

    config = {
        "name": name, "seed": seed, "output_dir": str(out),
        "data": {"dataset": "utd-mhad", "root": str(root), "protocol": "cross_subject",
                 "modalities": spec["modalities"], "cache": cache is not None, **(validation or {})},
        **({"student": spec["model"], **distill} if distill else {"model": spec["model"]}),
        "optim": spec["optim"],
        "schedule": {"name": "cosine", "warmup_epochs": min(3, epochs // 10)},
        "train": {"epochs": epochs, "batch_size": spec["batch_size"], "label_smoothing": spec["label_smoothing"]},
    }
    with _cache_folder(cache):
        start = time.perf_counter()
        run_dir = run_config(config, kind="distill" if distill else "train", resume=False, log=lambda msg: None,
                             progress=False)
        result = {"seconds": time.perf_counter() - start, "run_dir": str(run_dir)}
        for checkpoint in ("best", "last"):
            report = evaluate_run(run_dir, "test", checkpoint)
            result[checkpoint] = {"accuracy": report["accuracy"], "macro_f1": report["macro_f1"]}
        result["train_accuracy_last"] = evaluate_run(run_dir, "train", "last")["accuracy"]
    return result


def _train_in_worker(kwargs: dict) -> dict:
    """:func:`train_model` in a worker process, with one thread (the workers share the CPUs)."""
    from harkd.suites.runner import set_thread_budget

    set_thread_budget(1)
    return train_model(**kwargs)


@dataclass
class Job:
    """One run of the demo: its row, label, :func:`train_model` arguments and estimated cost (epoch units)."""

    row: str
    label: str
    kwargs: dict
    cost: float
    needs_teacher: bool = False
    started: float | None = None
    result: dict | None = field(default=None, repr=False)


def _duration(seconds: float) -> str:
    seconds = max(0, round(seconds))
    if seconds < 60:
        return f"{seconds} s"
    minutes, rest = divmod(seconds, 60)
    return f"{minutes} min {rest:02d} s"


class Schedule:
    """Trains the demo's jobs, ``workers`` at a time (KD students after the teacher), printing a line when each
    starts and ends with an estimate of the time left, and while they train a line every ``every`` seconds."""

    def __init__(self, console, jobs: list[Job], workers: int, every: float = PROGRESS_EVERY,
                 clock=time.monotonic, train=None):
        self.console, self.jobs, self.workers, self.every, self.clock = console, jobs, workers, every, clock
        self.train = train  # None: train_model, in worker processes when workers > 1
        self.start = clock()
        self.done: list[Job] = []

    def time_left(self) -> float | None:
        """Seconds until the last job ends: the remaining cost at the pace measured so far, spread over the
        workers (None before a job has finished)."""
        if not self.done:
            return None
        pace = sum(j.result["seconds"] for j in self.done) / sum(j.cost for j in self.done)
        now = self.clock()
        remaining = sum(max(0.0, j.cost * pace - (now - j.started if j.started is not None else 0.0))
                        for j in self.jobs if j.result is None)
        return max(0.0, remaining) / min(self.workers, max(1, sum(j.result is None for j in self.jobs)))

    def _say(self, text: str) -> None:
        self.console.print(text, highlight=False)
        self.last_line = self.clock()

    def _elapsed(self) -> str:
        return _duration(self.clock() - self.start)

    def run(self) -> None:
        """Train every job; each job's ``result`` is :func:`train_model`'s."""
        from concurrent.futures import FIRST_COMPLETED, ProcessPoolExecutor, ThreadPoolExecutor, wait

        if self.train is None and self.workers > 1:
            import multiprocessing

            pool = ProcessPoolExecutor(self.workers, mp_context=multiprocessing.get_context("spawn"))
            target = _train_in_worker
        else:
            train = self.train or train_model
            pool, target = ThreadPoolExecutor(self.workers), lambda kwargs: train(**kwargs)
        total, running = len(self.jobs), {}
        self.last_line = self.clock()
        with pool:
            while len(self.done) < total:
                teacher = next((j for j in self.done if j.row == "teacher"), None)
                for job in self.jobs:
                    if len(running) >= self.workers:
                        break
                    if job.started is None and (teacher or not job.needs_teacher):
                        if job.needs_teacher:
                            job.kwargs["distill"]["teachers"][0]["run"] = teacher.result["run_dir"]
                        job.started = self.clock()
                        running[pool.submit(target, job.kwargs)] = job
                        self._say(f"   [{self.jobs.index(job) + 1}/{total}] {job.label}: started "
                                  f"({self._elapsed()} elapsed)")
                finished, _ = wait(running, timeout=max(0.1, self.every - (self.clock() - self.last_line)),
                                   return_when=FIRST_COMPLETED)
                for future in finished:
                    job = running.pop(future)
                    job.result = future.result()
                    self.done.append(job)
                    left = self.time_left()
                    when = "all runs done" if len(self.done) == total else f"about {_duration(left)} left"
                    self._say(f"   [{self.jobs.index(job) + 1}/{total}] {job.label}: done in "
                              f"{_duration(job.result['seconds'])}, test accuracy {job.result['last']['accuracy']:.3f}"
                              f" ({self._elapsed()} elapsed, {when})")
                if not finished and self.clock() - self.last_line >= self.every - 0.05:
                    left = self.time_left()
                    names = ", ".join(j.label for j in running.values())
                    estimate = "" if left is None else f", about {_duration(left)} left"
                    self._say(f"   ... still training: {names} ({self._elapsed()} elapsed{estimate})")


def summarise(runs: list[dict]) -> dict:
    """Mean and (sample) standard deviation over seeds of each checkpoint's test accuracy and macro-F1."""
    out: dict = {"seeds": len(runs), "seconds": sum(r["seconds"] for r in runs), "runs": runs}
    for checkpoint in ("best", "last"):
        for metric in ("accuracy", "macro_f1"):
            values = [r[checkpoint][metric] for r in runs]
            out[f"{checkpoint}_{metric}"] = statistics.fmean(values)
            out[f"{checkpoint}_{metric}_std"] = statistics.stdev(values) if len(values) > 1 else None
    return out


def _count(n: int, word: str) -> str:
    return f"{n} {word}{'' if n == 1 else 's'}"


def _cell(summary: dict, key: str) -> str:
    std = summary[f"{key}_std"]
    return f"{summary[key]:.3f}" if std is None else f"{summary[key]:.3f} +- {std:.3f}"


#: The verdict compares the students' last epochs: a fixed schedule, nothing selected. The validation subject
#: holds two recordings per action by default, too few to pick one of 80 epochs on without adding noise (measured:
#: the validation-selected accuracies spread twice as much over seeds); that column is reported beside it.
def paired(no_kd: dict, kd: dict, checkpoint: str = "last") -> dict | None:
    """harkd's paired test of the KD row against the no-KD row (``checkpoint``'s test accuracy, seed by seed);
    None for one seed."""
    from harkd.engine.stats import paired_test

    if no_kd["seeds"] < 2:
        return None
    return paired_test([r[checkpoint]["accuracy"] for r in kd["runs"]],
                       [r[checkpoint]["accuracy"] for r in no_kd["runs"]])


def _p(test: dict) -> str:
    return "no spread to test" if test["p_value"] != test["p_value"] else f"paired t-test p = {test['p_value']:.2g}"


def verdict(no_kd: dict, kd: dict, test: dict | None, selected: dict | None = None) -> str:
    """What the KD row against the no-KD row shows, in words that claim no more than the numbers: ``test`` is
    :func:`paired` on the last epochs, ``selected`` on the validation-selected ones (None: not reported)."""
    from harkd.engine.stats import ALPHA, MIN_SEEDS

    diff = 100 * (kd["last_accuracy"] - no_kd["last_accuracy"])
    seeds = no_kd["seeds"]
    if test is None:
        return (f"KD changed the student's test accuracy at the last epoch by {diff:+.1f} points on one seed; one "
                f"seed shows no spread and allows no test: run --seeds {MIN_SEEDS} before reading anything into it. "
                "This demo is not a benchmark.")
    effect = "helped" if round(diff, 1) > 0 else "hurt" if round(diff, 1) < 0 else "did not change"
    per_seed = [100 * (k["last"]["accuracy"] - n["last"]["accuracy"]) for k, n in zip(kd["runs"], no_kd["runs"])]
    spread = max(no_kd["last_accuracy_std"], kd["last_accuracy_std"])
    if seeds < MIN_SEEDS:
        call = f"{seeds} seeds are too few for harkd to call it a gain (it asks {MIN_SEEDS} or more)"
    else:
        call = {"gain": f"a significant gain by harkd's rule ({MIN_SEEDS}+ seeds, p < {ALPHA})",
                "loss": f"a significant loss by harkd's rule ({MIN_SEEDS}+ seeds, p < {ALPHA})",
                "no significant gain": f"no significant difference by harkd's rule (p < {ALPHA} needed)"}[test["verdict"]]
    text = (f"KD {effect} the student: {diff:+.1f} points of test accuracy at the last epoch (mean of {seeds} seeds, "
            f"{min(per_seed):+.1f} to {max(per_seed):+.1f} seed by seed; seed-to-seed standard deviation up to "
            f"{100 * spread:.1f} points; {_p(test)}): {call}.")
    if selected is not None:
        text += f" At the epoch chosen on validation: {100 * selected['mean']:+.1f} points ({_p(selected)})."
    return text + " One small synthetic set: this demo is not a benchmark."


def _workers(requested: int | None) -> int:
    if requested is not None:
        return requested
    try:
        cpus = len(os.sched_getaffinity(0))
    except AttributeError:  # not on Linux
        cpus = os.cpu_count() or 1
    return max(1, min(4, cpus))


def run(args) -> int:
    import numpy as np
    from rich import box
    from rich.console import Console
    from rich.table import Table

    from harkd.data import get_dataset, make_split
    from harkd.data.synth import write_utd_mhad
    from harkd.data.utd_mhad import CLASS_NAMES
    from harkd.encoding import gramian_angular_field
    from harkd.errors import InputError

    if not (2 <= args.subjects <= 8 and 1 <= args.trials <= 4) or min(args.epochs, args.teacher_epochs, args.seeds) < 1 \
            or args.seed < 0 or (args.jobs is not None and args.jobs < 1):
        raise InputError("demo needs --subjects 2-8, --trials 1-4, --epochs >= 1, --teacher-epochs >= 1, "
                         "--seeds >= 1, --seed >= 0 and --jobs >= 1")
    console = Console(soft_wrap=True)  # long lines are not cut into pieces in a log file
    started = time.perf_counter()
    actions = list(range(1, 28)) if args.all_actions else \
        sorted(CLASS_NAMES.index(name) + 1 for group in ACTION_GROUPS for name in group)
    with tempfile.TemporaryDirectory(prefix="harkd-demo-") as tmp:
        out = Path(args.out) if args.out else Path(tmp) / "demo"
        root = out / "synthetic-UTD-MHAD"
        if (root / "Inertial").is_dir():
            raise InputError(f"{root} already holds a dataset; choose another --out")
        with console.status("writing a synthetic UTD-MHAD dataset"):
            summary = write_utd_mhad(root, subjects=args.subjects, trials=args.trials, actions=actions, seed=args.seed,
                                     modalities=("inertial", "skeleton"))
        console.print(f"[bold]1. synthetic dataset[/bold]: {summary.recordings} recordings ({len(actions)} actions x "
                      f"{_count(args.subjects, 'subject')} x {_count(args.trials, 'trial')}; skeleton and wrist/thigh "
                      f"accelerometer) in {summary.seconds:.1f} s -> {root}")
        if not args.all_actions:
            groups = "; ".join(" / ".join(group) for group in ACTION_GROUPS)
            console.print(f"   actions in groups a wrist (or thigh) accelerometer sees alike and a skeleton tells "
                          f"apart: {groups}")

        spec = get_dataset("utd-mhad")
        index = spec.scan(root, strict=True)
        is_train = spec.protocol("cross_subject")
        train_subjects = sorted({r.subject for r in index if is_train(r)})
        # model selection holds out whole training subjects, never recordings of the training subjects
        validation = {"val_subjects": "auto"} if len(train_subjects) >= 2 else {"val_fraction": 0, "val_subjects": None}
        split = make_split(spec, index, "cross_subject", **validation)
        counts = split.counts()
        held_out = split.validation.subjects
        how = (f"training subject{'s' if len(held_out) > 1 else ''} {', '.join(map(str, held_out))} held out"
               if held_out else f"training subject {train_subjects[0]} is the only one: none to hold out")
        console.print(f"[bold]2. cross-subject split[/bold]: train {counts['train']}, validation {counts['val']} "
                      f"({how}), test {counts['test']}")
        if counts["val"]:
            selection = "best = the epoch with the best validation accuracy, never chosen on test"
        else:
            selection = "best = last: there are no validation recordings to choose an epoch on"
            console.print("   no validation subject: every model keeps its last epoch (selection uses whole "
                          "held-out training subjects, never recordings of the training subjects); use --subjects 4 "
                          "or more to select on one")

        acc = np.stack([spec.load(index[k], "inertial", root=root, sensor="acc")[:107].T for k in index.keys])
        start = time.perf_counter()
        images = gramian_angular_field(acc, image_size=64)
        seconds = time.perf_counter() - start
        console.print(f"[bold]3. GAF[/bold]: {acc.shape} accelerometer windows -> {images.shape} {images.dtype} "
                      f"in {seconds * 1000:.0f} ms")

        seeds = [args.seed + i for i in range(args.seeds)]
        seed_text = f"seed {seeds[0]}" if len(seeds) == 1 else f"seeds {seeds[0]}-{seeds[-1]}"
        workers = _workers(args.jobs)
        runs = out / "runs"
        common = {"root": root, "out": runs, "validation": validation, "cache": str(Path(tmp) / "cache")}
        jobs = [Job("teacher", f"teacher (skeleton ST-GCN, seed {args.seed})",
                    {"name": "teacher_skeleton", "spec": TEACHER, "epochs": args.teacher_epochs, "seed": args.seed,
                     **common}, EPOCH_COST["teacher"] * args.teacher_epochs)]
        for s in seeds:
            jobs.append(Job("no_kd", f"student without KD (seed {s})",
                            {"name": f"student_acc_seed{s}", "spec": STUDENT, "epochs": args.epochs, "seed": s,
                             **common}, EPOCH_COST["no_kd"] * args.epochs))
        for s in seeds:
            jobs.append(Job("kd", f"student with KD (seed {s})",
                            {"name": f"student_acc_kd_seed{s}", "spec": STUDENT, "epochs": args.epochs, "seed": s,
                             "distill": {"teachers": [{"run": None, "checkpoint": TEACHER_CHECKPOINT}],
                                         "losses": KD_LOSSES}, **common},
                            EPOCH_COST["kd"] * args.epochs, needs_teacher=True))
        console.print(f"[bold]4. training[/bold] {_count(len(jobs), 'run')}, {workers} at a time: a skeleton ST-GCN "
                      f"teacher ({_count(args.teacher_epochs, 'epoch')}, seed {args.seed}), then the accelerometer 1D "
                      f"CNN student without and with KD from the teacher's last epoch ({_count(args.epochs, 'epoch')}"
                      f", {seed_text}); test accuracy on the {counts['test']} test-subject recordings at the last "
                      f"epoch (compared seed by seed) and at the best one; {selection}")
        Schedule(console, jobs, workers).run()
        results = {row: summarise([j.result for j in jobs if j.row == row]) for row, _ in ROWS}

        table = Table(title="harkd demo: accuracy on the synthetic cross-subject test split",
                      caption="last: the last epoch; "
                              f"{'best: the epoch chosen on validation' if counts['val'] else 'best = last'} (mean +- "
                              "std over the seeds); train: the last epoch on the training split; macro-F1, seconds and "
                              "every run: demo.json",
                      box=box.SIMPLE_HEAD, padding=(0, 1))
        for col in ("model", "seeds", "test last", "test best", "train"):
            table.add_column(col, justify="left" if col == "model" else "right", no_wrap=True)
        for key, label in ROWS:
            r = results[key]
            train_acc = statistics.fmean(run["train_accuracy_last"] for run in r["runs"])
            table.add_row(label, str(r["seeds"]), _cell(r, "last_accuracy"), _cell(r, "best_accuracy"),
                          f"{train_acc:.3f}")
        console.print(table)
        tests = {checkpoint: paired(results["no_kd"], results["kd"], checkpoint) for checkpoint in ("last", "best")}
        message = verdict(results["no_kd"], results["kd"], tests["last"], tests["best"] if counts["val"] else None)
        console.print(message)
        console.print(f"demo finished in {_duration(time.perf_counter() - started)}. Real-data tables (UTD-MHAD, "
                      "Berkeley-MHAD; the headline over 5 seeds with paired tests): benchmarks/RESULTS.md")
        (out / "demo.json").write_text(json.dumps({"verdict": message, "validation": counts["val"], "actions": actions,
                                                   "paired_tests": tests, **results}, indent=2) + "\n")
        if args.out:
            console.print(f"runs and demo.json kept under {out}; try: harkd evaluate {jobs[0].result['run_dir']}")
    return 0
