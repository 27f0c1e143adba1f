"""``harkd demo``: the whole pipeline on an embedded synthetic dataset, no download.

1. writes a synthetic UTD-MHAD-format dataset (one kinematic body model drives the
   skeleton, the wrist/thigh inertial sensor and the depth frames);
2. scans it, splits it cross-subject, with a whole training subject held out for validation
   (with a single training subject there is none to hold out: every model keeps its last
   epoch, since selection never uses recordings of the training subjects);
3. encodes every accelerometer window as GAF images and times it;
4. trains a skeleton teacher (the benchmark teachers' recipe: AdamW, label smoothing
   0.1, twice the students' epochs), then an accelerometer student without distillation
   and the same student distilled from the teacher (cross-entropy + KD on paired
   batches), both over ``--seeds`` training seeds, and reports test accuracy (mean +- std)
   of the checkpoint chosen on validation (never on test) and of the last epoch.

The demo is a smoke test of the pipeline on a small synthetic set, not a benchmark:
real-data tables are in benchmarks/RESULTS.md.
"""

from __future__ import annotations

import argparse
import json
import statistics
import tempfile
import time
from pathlib import Path

EXAMPLES = """\
examples:
  harkd demo                       # synthetic data in a temporary folder, about 5 minutes on 2 cores
  harkd demo --out demo-run        # keep the dataset, the run directories and demo.json
  harkd demo --epochs 3 --subjects 4 --seeds 1   # quicker
"""

#: Skeleton teacher, trained as the benchmark teachers are (configs/utd_mhad/skeleton_stgcn.yaml:
#: AdamW 2e-3, weight decay 1e-2, label smoothing 0.1), at twice the students' epochs by default.
#: Without smoothing and at the students' budget it is under-trained at first and then
#: over-confident, and its soft targets made the KD student worse than the no-KD one.
TEACHER = {
    "modalities": {"skeleton": {"frames": 32, "center": True, "normalize": True}},
    "model": {"name": "stgcn", "input": "skeleton", "args": {"widths": [32, 64, 64], "strides": [1, 2, 1]}},
    "optim": {"name": "adamw", "lr": 2e-3, "weight_decay": 1e-2},
    "label_smoothing": 0.1,
}
#: Accelerometer student, the same for the no-KD and the KD row (label smoothing 0 for both,
#: so the rows compare KD alone; the measured default is in the README).
STUDENT = {
    "modalities": {"inertial": {"sensor": "acc", "length": 128, "normalize": True}},
    "model": {"name": "imu_cnn1d", "input": "inertial", "args": {"widths": [32, 64, 128]}},
    "optim": {"name": "adam", "lr": 3e-3, "weight_decay": 1e-4},
    "label_smoothing": 0.0,
}
DEFAULT_EPOCHS = 25  # per student; the teacher gets TEACHER_EPOCH_FACTOR times as many
TEACHER_EPOCH_FACTOR = 2
KD_LOSSES = [{"name": "ce", "weight": 1.0}, {"name": "kd", "weight": 1.0, "args": {"temperature": 4}}]
ROWS = (("teacher", "teacher: skeleton ST-GCN"),
        ("no_kd", "student: accel. CNN, no KD"),
        ("kd", "student: accel. CNN, KD"))


def register(subparsers) -> None:
    parser = subparsers.add_parser(
        "demo", help="run the pipeline end to end on a synthetic dataset (no download)",
        description=__doc__, epilog=EXAMPLES, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--out", help="folder for the dataset, the runs and demo.json (default: a temporary folder)")
    parser.add_argument("--subjects", type=int, default=8, help="synthetic subjects, 2-8 (default: %(default)s)")
    parser.add_argument("--trials", type=int, default=4,
                        help="trials per subject and action, 1-4 (default: %(default)s)")
    parser.add_argument("--epochs", type=int, default=DEFAULT_EPOCHS,
                        help="training epochs per student (default: %(default)s)")
    parser.add_argument("--teacher-epochs", type=int, default=None,
                        help="teacher training epochs (default: twice --epochs)")
    parser.add_argument("--seeds", type=int, default=3,
                        help="training seeds per student row, reported as mean +- std (default: %(default)s)")
    parser.add_argument("--seed", type=int, default=0,
                        help="seed of the dataset and the teacher; student seeds start here (default: %(default)s)")
    parser.set_defaults(func=run)


def train_model(name: str, root: Path, out: Path, spec: dict, epochs: int, seed: int,
                distill: dict | None = None, validation: dict | None = None) -> dict:
    """Train one model of the demo (``spec``: TEACHER or STUDENT; with ``distill``, distil it) and test it.

    Returns test accuracy and macro-F1 of the validation-selected (``best``) and the ``last``
    checkpoint, the seconds it took and the run directory. ``validation``: the ``data`` keys of the
    validation rule (default: the engine's, a held-out training subject).
    """
    from harkd.engine.evaluate import evaluate_run
    from harkd.recipes import run_config

    config = {
        "name": name, "seed": seed, "output_dir": str(out),
        "data": {"dataset": "utd-mhad", "root": str(root), "protocol": "cross_subject",
                 "modalities": spec["modalities"], "cache": False, **(validation or {})},
        **({"student": spec["model"], **distill} if distill else {"model": spec["model"]}),
        "optim": spec["optim"],
        "schedule": {"name": "cosine", "warmup_epochs": min(3, epochs // 10)},
        "train": {"epochs": epochs, "batch_size": 32, "label_smoothing": spec["label_smoothing"]},
    }
    start = time.perf_counter()
    run_dir = run_config(config, kind="distill" if distill else "train", resume=False,
                         log=lambda msg: None)  # a bar on a terminal
    seconds = time.perf_counter() - start
    result = {"seconds": seconds, "run_dir": str(run_dir)}
    for checkpoint in ("best", "last"):
        report = evaluate_run(run_dir, "test", checkpoint)
        result[checkpoint] = {"accuracy": report["accuracy"], "macro_f1": report["macro_f1"]}
    return result


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


def verdict(no_kd: dict, kd: dict) -> str:
    """What the KD row against the no-KD row shows, in words that claim no more than the numbers."""
    diff = 100 * (kd["best_accuracy"] - no_kd["best_accuracy"])
    seeds = no_kd["seeds"]
    if seeds == 1:
        what = f"KD changed the student's test accuracy by {diff:+.1f} points on one seed"
        caveat = "one seed shows no spread; run --seeds 3 or more before reading anything into it"
    else:
        spread = max(no_kd["best_accuracy_std"], kd["best_accuracy_std"])
        effect = "helped" if round(diff, 1) > 0 else "hurt" if round(diff, 1) < 0 else "did not change"
        what = (f"KD {effect} the student: {diff:+.1f} points of test accuracy "
                f"(mean of {seeds} seeds; seed-to-seed standard deviation up to {100 * spread:.1f} points)")
        caveat = f"{seeds} seeds on one small synthetic set are too few to call this significant"
    return f"{what}; {caveat}. This demo is not a benchmark."


def run(args) -> int:
    import numpy as np
    from rich import box
    from rich.console import Console
    from rich.table import Table

    from harkd.data import get_dataset, make_split
    from harkd.data.synth import write_utd_mhad
    from harkd.encoding import gramian_angular_field
    from harkd.errors import InputError

    teacher_epochs = TEACHER_EPOCH_FACTOR * args.epochs if args.teacher_epochs is None else args.teacher_epochs
    if not (2 <= args.subjects <= 8 and 1 <= args.trials <= 4) or min(args.epochs, teacher_epochs, args.seeds) < 1 \
            or args.seed < 0:
        raise InputError("demo needs --subjects 2-8, --trials 1-4, --epochs >= 1, --teacher-epochs >= 1, "
                         "--seeds >= 1 and --seed >= 0")
    console = Console()
    with tempfile.TemporaryDirectory(prefix="harkd-demo-") as tmp:
        out = Path(args.out) if args.out else Path(tmp)
        root = out / "synthetic-UTD-MHAD"
        if (root / "Inertial").is_dir():
            raise InputError(f"{root} already holds a dataset; choose another --out")
        with console.status("writing a synthetic UTD-MHAD dataset"):
            summary = write_utd_mhad(root, subjects=args.subjects, trials=args.trials, seed=args.seed,
                                     depth_size=(60, 80))
        console.print(f"[bold]1. synthetic dataset[/bold]: {summary.recordings} recordings (27 actions x "
                      f"{_count(args.subjects, 'subject')} x {_count(args.trials, 'trial')}) in {summary.seconds:.1f} s "
                      f"-> {root}")

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
        console.print(f"[bold]4. training[/bold]: a skeleton ST-GCN teacher ({_count(teacher_epochs, 'epoch')}, "
                      f"seed {args.seed}), then the accelerometer 1D CNN student without and with KD from it "
                      f"({_count(args.epochs, 'epoch')}, {seed_text}); test accuracy on the {counts['test']} "
                      f"test-subject recordings; {selection}")
        runs = out / "runs"
        teacher = train_model("teacher_skeleton", root, runs, TEACHER, teacher_epochs, args.seed,
                              validation=validation)
        kd = {"teachers": [{"run": teacher["run_dir"]}], "losses": KD_LOSSES}
        results = {
            "teacher": summarise([teacher]),
            "no_kd": summarise([train_model(f"student_acc_seed{s}", root, runs, STUDENT, args.epochs, s,
                                            validation=validation) for s in seeds]),
            "kd": summarise([train_model(f"student_acc_kd_seed{s}", root, runs, STUDENT, args.epochs, s, distill=kd,
                                         validation=validation) for s in seeds]),
        }
        table = Table(title="harkd demo: test accuracy on the synthetic cross-subject test split",
                      caption="mean +- std over the seeds; macro-F1 and every run: demo.json", box=box.SIMPLE_HEAD)
        for col in ("model", "seeds", "test acc. best", "test acc. last", "s"):
            table.add_column(col, justify="left" if col == "model" else "right", no_wrap=True)
        for key, label in ROWS:
            r = results[key]
            table.add_row(label, str(r["seeds"]), _cell(r, "best_accuracy"), _cell(r, "last_accuracy"),
                          f"{r['seconds']:.0f}")
        console.print(table)
        message = verdict(results["no_kd"], results["kd"])
        console.print(message)
        console.print("Real-data tables (UTD-MHAD, Berkeley-MHAD; the headline over 5 seeds with paired tests): "
                      "benchmarks/RESULTS.md")
        (out / "demo.json").write_text(json.dumps({"verdict": message, "validation": counts["val"], **results},
                                                  indent=2) + "\n")
        if args.out:
            console.print(f"runs and demo.json kept under {out}; try: harkd evaluate {teacher['run_dir']}")
    return 0
