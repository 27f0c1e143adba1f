"""On-device accelerometer students (issue 15): fp32 and int8, distilled and not, UTD-MHAD cross-subject.

Rows: the 1D CNN students at four sizes (64/128/256 ~707k, tiny 24/48/96 ~102k, mini 16/32/64
~46k, micro 12/24/48 ~26k parameters), each trained without a teacher (``harkd train``) and distilled
from the augmented skeleton ST-GCN teacher (``harkd distill``, KD T = 4 beside the labels), over --seeds;
the mini and micro students also on the patient 150-epoch schedule (rows mini150, micro150), the mini
one distilled from a skeleton + full-size student ensemble too, and both mini rows again on 300 and 600
epochs (rows mini300, mini600). The full-size rows (full: 60 epochs, full150) are the runs of section
utd-kd-patient (benchmarks/kd_table.py, :data:`REUSED`: the same experiments), exported and measured
here. ``device_int8_best`` reports one row named before its runs (:data:`HEADLINE`), not the
best row of the table, which would select on the test split.

Protocol (no checkpoint selection at all, so no selection can touch the test split): every run,
the teacher's too, trains on all 431 recordings of the training subjects 1, 3, 5, 7
(``data.val_fraction=0 data.val_subjects=null``) with a fixed cosine schedule (the config's 60 epochs, or 150), and its final
epoch is the model. The students use inertial training augmentation (the utd-skel2acc-aug
recipe), the same in every row. Test subjects 2, 4, 6, 8 (430 recordings) are read only to
report.

Per run: test accuracy of the PyTorch model (whole clip), then the fp32 ONNX export and its
static int8 export (``harkd export --quantize int8``), both run by ONNX Runtime on every test
clip stretched to the deployed window (W samples, so the in-graph resampling sees the whole
clip like training did); ONNX sizes on disk. Then latency of every row's seed-0 files
(:func:`measure_latency`: ``harkd bench`` at batch 1, --runs calls, 1 thread and all threads,
in --rounds round-robin passes over the table). Each KD row is paired with its no-KD row over
the same seeds (paired t-test, harkd.engine.stats).

Teachers and seeds (issue 24, :mod:`harkd.suites.design`): by default student seed S learns from the
teacher trained with seed S, and an ensemble row from that teacher and the full-size 150-epoch KD
student of seed S (``--teacher-design per-seed``); ``single`` uses seed 0's for every student seed, as
before. Each row records its seeds, the teacher seed of each pair and its teachers' test accuracy.
``--headline`` trains the :data:`HEADLINE` row and its no-KD twin on the fresh seeds 10-14 (named before
the runs) into section ``device-headline``; ``device_int8_best`` then reports that, with its seeds,
teacher seeds and the paired gain's p-value.

Writes the ``device`` section of benchmarks/RESULTS.md, benchmarks/results/device.json, the
``device_int8_best`` key of benchmarks/results/summary.json and benchmarks/device_pareto.png.

    HARKD_DATA_ROOT=../shared/data python benchmarks/device_table.py --seeds 0 1 2 3 4
    HARKD_DATA_ROOT=../shared/data python benchmarks/device_table.py --headline
"""

from __future__ import annotations

import argparse
import datetime
import json
import statistics
import sys
from pathlib import Path

import numpy as np

from harkd.suites import (CHOOSING_SEEDS, HEADLINE_SEEDS, TEACHER_DESIGNS, RunSpec, accuracy_on_test, command_line,
                          design_note, record_header, replace_section, run_name, run_script, section_id, seed_record,
                          teacher_run_dir, teacher_seeds, train_run, use_data_root)

HERE = Path(__file__).resolve().parent

CONFIGS = HERE.parent / "configs" / "utd_mhad"
TEACHER = "skeleton_stgcn_aug.yaml"
COMMON = ["data.val_fraction=0", "data.val_subjects=null"]  # train on every training-subject recording; the last epoch is the model
STUDENT_AUGMENT = ["data.modalities.inertial.augment={scale: 0.1, rotate: 15, shift: 0.1, noise: 0.02}"]
PATIENT = 150  # epochs of the patient rows (the utd-kd-patient recipe's schedule length)
LONGER = 300  # longer schedules of the last rows (patience paid most in the smallest students: micro 60 -> 150)
LONGEST = 600
ROWS = [  # (label, size, kind, config, epochs: None = the config's 60)
    ("1D CNN 64/128/256, no KD", "full", "train", "acc_cnn1d.yaml", None),
    ("1D CNN 64/128/256, KD", "full", "distill", "distill/skel2acc_kd.yaml", None),
    (f"1D CNN 64/128/256, no KD, {PATIENT} epochs", f"full{PATIENT}", "train", "acc_cnn1d.yaml", PATIENT),
    (f"1D CNN 64/128/256, KD, {PATIENT} epochs", f"full{PATIENT}", "distill", "distill/skel2acc_kd.yaml", PATIENT),
    ("tiny 1D CNN 24/48/96, no KD", "tiny", "train", "acc_cnn1d_tiny.yaml", None),
    ("tiny 1D CNN 24/48/96, KD", "tiny", "distill", "distill/skel2acc_kd_tiny.yaml", None),
    ("micro 1D CNN 12/24/48, no KD", "micro", "train", "acc_cnn1d_micro.yaml", None),
    ("micro 1D CNN 12/24/48, KD", "micro", "distill", "distill/skel2acc_kd_micro.yaml", None),
    (f"mini 1D CNN 16/32/64, no KD, {PATIENT} epochs", f"mini{PATIENT}", "train", "acc_cnn1d_mini.yaml", PATIENT),
    (f"mini 1D CNN 16/32/64, KD, {PATIENT} epochs", f"mini{PATIENT}", "distill", "distill/skel2acc_kd_mini.yaml",
     PATIENT),
    (f"micro 1D CNN 12/24/48, no KD, {PATIENT} epochs", f"micro{PATIENT}", "train", "acc_cnn1d_micro.yaml", PATIENT),
    (f"micro 1D CNN 12/24/48, KD, {PATIENT} epochs", f"micro{PATIENT}", "distill", "distill/skel2acc_kd_micro.yaml",
     PATIENT),
    (f"mini 1D CNN 16/32/64, KD from skeleton + full-size student ensemble, {PATIENT} epochs", f"mini{PATIENT}",
     "distill", "distill/ensemble2acc_kd_mini.yaml", PATIENT),
    *[row for e in (LONGER, LONGEST) for row in (
        (f"mini 1D CNN 16/32/64, no KD, {e} epochs", f"mini{e}", "train", "acc_cnn1d_mini.yaml", e),
        (f"mini 1D CNN 16/32/64, KD from skeleton + full-size student ensemble, {e} epochs", f"mini{e}", "distill",
         "distill/ensemble2acc_kd_mini.yaml", e))],
]
#: (size, kind) -> the row of section utd-kd-patient (benchmarks/kd_table.py) whose runs a full-size row reuses: the
#: same config, overrides, teacher and seeds (tests/benchmarks/test_device_table.py checks it), so the table exports
#: and measures those runs instead of training them again (18 s an epoch on this VM, 3 CPU-hours for the four rows)
REUSED = {("full", "train"): "no KD, 60 epochs", ("full", "distill"): "KD, fixed teacher view (cached), 60 epochs",
          (f"full{PATIENT}", "train"): f"no KD, {PATIENT} epochs",
          (f"full{PATIENT}", "distill"): f"KD, fixed teacher view (cached), {PATIENT} epochs"}
KD_TABLE_SECTION = "utd-kd-patient"
#: the row ``device_int8_best`` reports, named before its runs were trained (the table's other rows are not
#: candidates for it: picking the best row by its test accuracy would select on the test split). It was the
#: 300-epoch ensemble row until leave-one-training-subject-out validation preferred 600 epochs to 300
#: (SWEEPS.md, device_mini_epochs: 88.2 vs 86.3 %), before any 600-epoch run had been tested.
HEADLINE = ROWS[-1][0]
HEADLINE_SIZE = ROWS[-1][1]  # --headline: this size's rows, the headline and its no-KD twin
#: teachers.1 of the ensemble rows: the best full-size accelerometer student, the 150-epoch cached-KD student of
#: kd_table.py --suites utd-kd-patient (same protocol: all training subjects, fixed schedule, final epoch) whose
#: seed is the pair's teacher seed, taught by that teacher (single design: seed 0's, as before issue 24)
FULL_STUDENT = REUSED[(f"full{PATIENT}", "distill")]
TEACHER_RUN = "skeleton_stgcn_aug_all"  # the teachers' run directories: <out>/skeleton_stgcn_aug_all_s<seed>
#: issue 15's targets, drawn on the Pareto plot: int8 file size (KB) and latency per window (ms, 1 thread)
TARGET_SIZE_KB, TARGET_LATENCY_MS = 64.0, 0.05
TARGET_GAP_POINTS = 2.0  # accuracy within this many points of the best full-size student (summary.json utd_acc_best)


def spec(name: str, kind: str, config: str, run_dir: Path, overrides: list[str],
         needs: tuple[str, ...] = (), given: bool = False) -> RunSpec:
    """A declared run; ``given``: trained elsewhere (``--teacher-run``), read but never trained here."""
    return RunSpec(name, kind, str(CONFIGS / config), str(run_dir), tuple(overrides), needs,
                   options=(("given", True),) if given else ())


def _train(run: RunSpec) -> str:
    """A suite job: train (or resume) one run; measured afterwards, in this process."""
    return str(train_run(run))


def onnx_accuracy(model_file: Path, loaded, split: str = "test") -> float:
    """Accuracy of an exported model on every clip of ``split``, each stretched to the deployed window."""
    from harkd.data.transforms import resample_time
    from harkd.deploy import ExportedModel

    dataset = loaded.prepared.datasets[split]
    options = loaded.transform.load_options()
    w = loaded.spec.window_samples
    windows = np.stack([resample_time(dataset.spec.load(r, loaded.spec.modality, root=dataset.index.root,
                                                        **options), w).T for r in dataset.recordings])
    labels = np.array([r.label for r in dataset.recordings])
    probs = ExportedModel(model_file)(windows.astype(np.float32))
    return float(np.mean(probs.argmax(1) == labels))


def measure(run_dir: Path, out: Path) -> dict:
    """Test accuracies (PyTorch, ONNX fp32, ONNX int8) and sizes of a run, with the paths of its two ONNX files."""
    from harkd.engine.evaluate import evaluate_run
    from harkd.deploy.exporter import export_loaded, load_for_export

    result = {"run_dir": str(run_dir), "test_torch": evaluate_run(run_dir, "test", "last")["accuracy"]}
    loaded = load_for_export(run_dir, "last")
    for precision, quantize in (("fp32", None), ("int8", "int8")):
        model_file = out / f"{run_dir.name}_{precision}.onnx"
        manifest = export_loaded(loaded, "onnx", model_file, quantize=quantize, log=lambda m: None)
        result[f"test_{precision}"] = onnx_accuracy(model_file, loaded)
        result[f"size_bytes_{precision}"] = manifest["size_bytes"]
        result[f"model_{precision}"] = str(model_file)
        result["parameters"], result["macs_per_window"] = manifest["model"]["parameters"], manifest["model"]["macs_per_window"]
        if quantize:
            result["int8_check"] = manifest["quantization"]["check"]
    print(json.dumps({k: v for k, v in result.items() if not isinstance(v, dict)}), flush=True)
    return result


def measure_latency(rows: list[dict], runs: int, rounds: int) -> None:
    """Attach ``latency_fp32`` / ``latency_int8`` to every row: its first seed's ONNX files timed by ``harkd bench``
    (``runs`` calls, 1 thread and all threads) in ``rounds`` round-robin passes over every file of the table, so
    each file is sampled at ``rounds`` moments spread over the whole measurement and every row sees the same
    machine. Per file: the lowest and the median of its round medians, and the median of its round p95s."""
    from harkd.deploy.bench import bench

    files = [(row, precision) for row in rows for precision in ("fp32", "int8")]
    samples: list[dict] = [{} for _ in files]  # per file: thread setting -> its timing in every pass
    for _ in range(rounds):
        for (row, precision), timings in zip(files, samples):
            for timing in bench(row[f"model_{precision}"], runs=runs, warmup=50)["latency"]:
                timings.setdefault(timing["threads"], []).append(timing)
    for (row, precision), timings in zip(files, samples):
        row[f"latency_{precision}"] = {
            threads: {"best_median_ms": min(t["median_ms"] for t in passes),
                      "median_ms": statistics.median(t["median_ms"] for t in passes),
                      "p95_ms": statistics.median(t["p95_ms"] for t in passes),
                      "num_threads": passes[0]["num_threads"], "rounds": rounds, "runs": runs}
            for threads, passes in timings.items()}


def pct(values: list[float]) -> str:
    mean = 100 * statistics.mean(values)
    return f"{mean:.1f}" if len(values) == 1 else f"{mean:.1f} +- {100 * statistics.stdev(values):.1f}"


def row_summary(label: str, size: str, kind: str, config: str, runs: list[dict], seeds: list[int]) -> dict:
    from harkd.engine.stats import summarize

    first = runs[0]
    return {"row": label, "size": size, "kind": kind, "config": f"configs/utd_mhad/{config}", "seeds": seeds,
            "parameters": first["parameters"], "macs_per_window": first["macs_per_window"],
            **{f"test_{p}": {"values": [100 * r[f"test_{p}"] for r in runs],
                             **summarize([100 * r[f"test_{p}"] for r in runs])} for p in ("torch", "fp32", "int8")},
            "int8_drop_points": summarize([100 * (r["test_fp32"] - r["test_int8"]) for r in runs]),
            "size_kb_fp32": first["size_bytes_fp32"] / 1000, "size_kb_int8": first["size_bytes_int8"] / 1000,
            "model_fp32": first["model_fp32"], "model_int8": first["model_int8"],
            "runs": [r["run_dir"] for r in runs]}


def paired_rows(rows: list[dict]) -> None:
    """Attach to each KD row (single teacher or ensemble) its paired difference against the no-KD row of the same
    size."""
    from harkd.engine.stats import paired_test

    base = {r["size"]: r for r in rows if r["kind"] == "train"}
    for row in rows:
        if row["kind"] == "distill" and row["size"] in base:
            row["kd_gain"] = {p: paired_test(row[f"test_{p}"]["values"], base[row["size"]][f"test_{p}"]["values"])
                              for p in ("torch", "fp32", "int8")}


def pareto_plot(rows: list[dict], path: Path, full_student_acc: float | None = None) -> None:
    """Accuracy against size and latency, with issue 15's targets as dashed lines (the accuracy target only when
    the full-size student's accuracy is known)."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    fig, axes = plt.subplots(1, 2, figsize=(11, 4.2))
    for row in rows:
        for precision, marker in (("fp32", "o"), ("int8", "s")):
            acc = row[f"test_{precision}"]["mean"]
            color = "tab:blue" if row["kind"] == "train" else "tab:orange"
            axes[0].scatter(row[f"size_kb_{precision}"], acc, marker=marker, color=color)
            latency = (row.get(f"latency_{precision}") or {}).get("1", {}).get("best_median_ms")
            if latency:
                axes[1].scatter(latency, acc, marker=marker, color=color)
            for ax, x in ((axes[0], row[f"size_kb_{precision}"]), (axes[1], latency)):
                if x:
                    ax.annotate(f"{row['size']} {precision}", (x, acc), fontsize=7, xytext=(3, 3),
                                textcoords="offset points")
    axes[0].set_xscale("log")
    axes[0].set_xlabel("ONNX file size (KB, log scale)")
    axes[1].set_xlabel("ONNX Runtime latency, 1 thread, batch 1 (ms, best pass)")
    for ax, target in ((axes[0], TARGET_SIZE_KB), (axes[1], TARGET_LATENCY_MS)):
        ax.axvline(target, color="grey", linestyle="--", linewidth=1)
        if full_student_acc is not None:
            ax.axhline(full_student_acc - TARGET_GAP_POINTS, color="grey", linestyle="--", linewidth=1)
    for ax in axes:
        ax.set_ylabel("test accuracy, deployed window (%)")
        ax.grid(alpha=0.3)
    handles = [plt.Line2D([], [], marker=m, color=c, linestyle="", label=lab) for m, c, lab in (
        ("o", "tab:blue", "no KD, fp32"), ("s", "tab:blue", "no KD, int8"),
        ("o", "tab:orange", "KD, fp32"), ("s", "tab:orange", "KD, int8"))]
    axes[0].legend(handles=handles, fontsize=8)
    fig.suptitle("UTD-MHAD cross-subject accelerometer students (benchmarks/device_table.py); dashed: issue 15's "
                 "targets")
    fig.tight_layout()
    fig.savefig(path, dpi=110)
    plt.close(fig)


def latency_cell(row: dict, precision: str) -> str:
    lat = row.get(f"latency_{precision}") or {}
    if not lat:
        return "-"
    one, every = lat["1"], lat["all"]
    return f"{one['best_median_ms']:.3f} ({one['median_ms']:.3f}) / {every['best_median_ms']:.3f}"


def gain_cell(row: dict, precision: str) -> str:
    gain = (row.get("kd_gain") or {}).get(precision)
    if not gain:
        return "-"
    return f"{gain['mean']:+.1f} (p = {gain['p_value']:.3g}, {gain['verdict']})"


def teachers_cell(row: dict) -> str:
    """Each teacher's test accuracy over the row's pairs (``-`` for a row without teachers)."""
    parts = []
    for key, taught in (row.get("teachers") or {}).items():
        values = list(dict(zip(taught["run_dirs"], taught["test_last"])).values())
        parts.append(f"{key} {pct([v / 100 for v in values])} ({len(values)} run{'s' if len(values) > 1 else ''})")
    return "; ".join(parts) or "-"


def write_summary(path: Path, rows: list[dict]) -> dict | None:
    """The ``device_int8_best`` key: the int8 model of the :data:`HEADLINE` row, with its seeds, the teacher seed
    of each pair and the paired int8 gain over its no-KD twin. None when that row was not run, or when the key
    holds the headline's fresh-seed measurement and these rows are of the choosing seeds (it is kept)."""
    best = next((r for r in rows if r["row"] == HEADLINE), None)
    if best is None:
        return None
    summary = json.loads(path.read_text()) if path.is_file() else {}
    if (summary.get("device_int8_best") or {}).get("seed_role") == "reporting" and best.get("seed_role") != "reporting":
        return None
    one_thread = (best.get("latency_int8") or {}).get("1") or {}
    entry = {"mean": best["test_int8"]["mean"], "std": best["test_int8"]["std"], "n": best["test_int8"]["n"],
             "section": best.get("section", "device"), "row": best["row"] + ", int8", "size_kb": best["size_kb_int8"],
             "latency_ms": one_thread.get("best_median_ms"), "latency_median_ms": one_thread.get("median_ms")}
    entry.update({k: best[k] for k in ("seeds", "teacher_seeds", "teacher_design", "seed_role") if k in best})
    gain = (best.get("kd_gain") or {}).get("int8")
    if gain:
        entry.update(gain=gain["mean"], p_value=gain["p_value"], verdict=gain["verdict"])
    summary["device_int8_best"] = entry
    path.write_text(json.dumps(summary, indent=1) + "\n")
    return entry


def student_overrides(seed: int, kind: str, config: str, epochs: int | None, teacher: Path | None,
                      full_student: Path | None, extra: list[str]) -> list[str]:
    """A student run's overrides: the common protocol, its seed and schedule, then its teachers."""
    overrides = COMMON + STUDENT_AUGMENT + [f"seed={seed}", *extra]
    if epochs:
        overrides.insert(0, f"train.epochs={epochs}")  # before --set, which may shorten it for a smoke run
    if kind == "distill":
        overrides.append(f"teachers.0.run={teacher}")
    if "ensemble" in config:
        overrides.append(f"teachers.1.run={full_student}")
    return overrides


def row_run_dir(size: str, kind: str, config: str, epochs: int | None, seed: int, teacher_seed: int, out: Path,
                kd_runs: Path) -> Path:
    """A student's run directory: kd_table.py's run for a full-size row (:data:`REUSED`), else one under ``out``;
    a KD student of a teacher seed other than 0 is named after it too (``_t<seed>``, as kd_table.py does)."""
    taught = teacher_seed if kind == "distill" else None
    reused = REUSED.get((size, kind))
    if reused:
        return kd_runs / KD_TABLE_SECTION / run_name(reused, seed, taught)
    return out / run_name(f"{Path(config).stem}{f'_e{epochs}' if epochs else ''}", seed, taught)


def declared_runs(args, seeds: list[int], out: Path) -> tuple[list[RunSpec], dict]:
    """The runs of the selected rows: one teacher per teacher seed of ``args.teacher_design``, the full-size
    students the ensemble rows read (kd_table.py's 150-epoch KD run of that teacher seed, unless
    ``--full-student`` names them), then every (row, seed) student needing them. Also ``(size, kind, seed)`` ->
    (run name, teacher run name or None, full-size student run directory or None)."""
    pairs = list(zip(seeds, teacher_seeds(args.teacher_design, seeds)))
    selected = [r for r in ROWS if args.rows is None or r[1] in args.rows]
    kd_runs, runs, students = Path(args.kd_runs), {}, {}
    given_teacher = getattr(args, "teacher_run", None)
    for t_seed in dict.fromkeys(t for _, t in pairs):
        if any(kind == "distill" for _, _, kind, _, _ in selected):
            teacher_dir = (Path(teacher_run_dir(given_teacher, t_seed, args.teacher_design)) if given_teacher
                           else out / run_name(TEACHER_RUN, t_seed))
            runs[f"teacher:s{t_seed}"] = spec(f"teacher:s{t_seed}", "train", TEACHER, teacher_dir,
                                              COMMON + [f"seed={t_seed}", *args.overrides],
                                              given=bool(given_teacher))
        if any("ensemble" in config for _, _, _, config, _ in selected) and not args.full_student:
            _, size, kind, config, epochs = next(r for r in ROWS if REUSED.get((r[1], r[2])) == FULL_STUDENT)
            teacher = runs[f"teacher:s{t_seed}"]
            runs[f"full-size student:s{t_seed}"] = spec(
                f"full-size student:s{t_seed}", kind, config, row_run_dir(size, kind, config, epochs, t_seed, t_seed,
                                                                          out, kd_runs),
                student_overrides(t_seed, kind, config, epochs, Path(teacher.run_dir), None, args.overrides),
                (teacher.name,))
    for label, size, kind, config, epochs in selected:
        for seed, t_seed in pairs:
            teacher = runs.get(f"teacher:s{t_seed}") if kind == "distill" else None
            full = None
            if "ensemble" in config:
                given = args.full_student and teacher_run_dir(args.full_student, t_seed, args.teacher_design)
                full = Path(given or runs[f"full-size student:s{t_seed}"].run_dir)
            needs = tuple(r.name for r in (teacher, runs.get(f"full-size student:s{t_seed}") if full else None) if r)
            run_dir = row_run_dir(size, kind, config, epochs, seed, t_seed, out, kd_runs)
            same = next((r.name for r in runs.values() if r.run_dir == str(run_dir)), None)  # a full-size student
            name = same or f"{size} {kind}:s{seed}"
            if not same:
                runs[name] = spec(name, kind, config, run_dir, student_overrides(
                    seed, kind, config, epochs, teacher and Path(teacher.run_dir), full, args.overrides), needs)
            students[size, kind, seed] = (name, teacher and teacher.name, full)
    return list(runs.values()), students


def train_rows(args, seeds: list[int], out: Path, models: Path) -> list[dict]:
    """Train (or resume) the declared runs (:func:`declared_runs`), ``--jobs`` at a time (packed over ``--gpus``),
    then measure every selected row's students (:func:`measure`) with their pairs and teachers' test accuracy."""
    from harkd.suites import run_suite

    runs, students = declared_runs(args, seeds, out)
    given = {r.name: r.run_dir for r in runs if r.option("given")}
    gpus = [g for g in args.gpus.split(",") if g.strip()]
    done = run_suite([r for r in runs if r.name not in given], _train, jobs=args.jobs, threads=args.threads,
                     gpus=gpus, external=list(given),
                     state_dir=out / ".suite" / section_id("device", args.teacher_design, args.headline))
    done.update(given)
    pairs = list(zip(seeds, teacher_seeds(args.teacher_design, seeds)))
    accuracy = {}  # teacher run directory -> its test accuracy (last epoch)
    rows = []
    for label, size, kind, config, epochs in (r for r in ROWS if args.rows is None or r[1] in args.rows):
        measured, taught = [], {}
        for seed, _ in pairs:
            name, teacher, full = students[size, kind, seed]
            measured.append(measure(Path(done[name]), models))
            for key, run_dir in (("skeleton", teacher and done[teacher]), ("full-size student", full)):
                if run_dir:
                    if str(run_dir) not in accuracy:
                        accuracy[str(run_dir)] = accuracy_on_test(run_dir)
                    entry = taught.setdefault(key, {"run_dirs": [], "test_last": []})
                    entry["run_dirs"].append(str(run_dir))
                    entry["test_last"].append(accuracy[str(run_dir)])
        row = row_summary(label, size, kind, config, measured, seeds)
        row.update(teacher_design=args.teacher_design, seed_role="reporting" if args.headline else "choosing",
                   teacher_seeds=[t for _, t in pairs] if kind == "distill" else None, teachers=taught)
        rows.append(row)
    return rows


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--root", help="data root holding UTD-MHAD/ (default: $HARKD_DATA_ROOT)")
    ap.add_argument("--seeds", nargs="+", type=int,
                    help=f"student seeds (default: {' '.join(map(str, CHOOSING_SEEDS))}, the seeds that chose the "
                         "recipes)")
    ap.add_argument("--headline", action="store_true",
                    help=f"the {HEADLINE_SIZE} rows (the headline and its no-KD twin) on the fresh seeds "
                         f"{' '.join(map(str, HEADLINE_SEEDS))}, named before the runs; section device-headline")
    ap.add_argument("--teacher-design", choices=TEACHER_DESIGNS, default="per-seed",
                    help="per-seed (default): student seed S learns from the teacher (and, in the ensemble rows, "
                         "the full-size student) of seed S; single: from those of seed 0 (before issue 24)")
    ap.add_argument("--out", default="runs/device", help="run directories and exported models (resumed if present)")
    ap.add_argument("--runs", type=int, default=2000, help="timed calls per latency measurement (first seed)")
    ap.add_argument("--rounds", type=int, default=5, help="round-robin latency passes over every model file")
    ap.add_argument("--rows", nargs="*", default=None, metavar="SIZE",
                    help="only these sizes (full, full150, tiny, micro, mini150, micro150, mini300, mini600)")
    ap.add_argument("--kd-runs", default="runs/kd", help="kd_table.py's --out: the full-size rows reuse its "
                    f"{KD_TABLE_SECTION} runs (trained there if absent)")
    ap.add_argument("--teacher-run", default=None, metavar="RUN_DIR",
                    help="the skeleton teachers' run directories, trained elsewhere by the same rule, {seed} standing "
                         "for the teacher seed (e.g. kd_table.py's runs/kd/teacher_utd_mhad_skeleton_stgcn_aug_xsub_"
                         "s{seed}, so both tables share one teacher per seed); default: trained under --out")
    ap.add_argument("--full-student", default=None,
                    help="run directory of the full-size accelerometer student in the ensemble rows' teachers, "
                         "{seed} standing for the pair's teacher seed (default: kd_table.py's 150-epoch cached-KD "
                         "student of that seed under --kd-runs)")
    ap.add_argument("--set", dest="overrides", action="append", default=[], metavar="KEY=VALUE",
                    help="extra config override for every run, teacher included (e.g. a quick train.epochs=2)")
    ap.add_argument("--jobs", type=int, default=1, help="runs trained at once (each on --threads threads)")
    ap.add_argument("--threads", type=int, default=1, help="thread budget of each run (default 1)")
    ap.add_argument("--gpus", default="", help="pack the --jobs runs over these GPUs (e.g. 0 or 0,1)")
    ap.add_argument("--no-write", action="store_true")
    args = ap.parse_args()
    if args.headline and (args.seeds or args.rows is not None):
        ap.error(f"--headline reports the {HEADLINE_SIZE} rows on the seeds named before the runs "
                 f"({' '.join(map(str, HEADLINE_SEEDS))}): drop --seeds and --rows")
    seeds = list(HEADLINE_SEEDS if args.headline else args.seeds or CHOOSING_SEEDS)
    if args.headline:
        args.rows = [HEADLINE_SIZE]
    if not use_data_root(args.root, "UTD-MHAD"):
        return 0
    out = Path(args.out)
    models = out / "models"
    models.mkdir(parents=True, exist_ok=True)
    section = section_id("device", args.teacher_design, args.headline)
    rows = train_rows(args, seeds, out, models)
    for row in rows:
        row["section"] = section
    paired_rows(rows)
    measure_latency(rows, args.runs, args.rounds)
    lines = ["| student | params | MACs/window | test acc. PyTorch (%) | ONNX fp32 (%) | ONNX int8 (%) | int8 drop "
             "(points) | fp32 KB | int8 KB | fp32 ms 1t best (median) / all | int8 ms 1t best (median) / all | KD gain fp32 | "
             "KD gain int8 | teachers' test acc. (%) |",
             "|---|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|---|---|---|"]
    for r in rows:
        drop = r["int8_drop_points"]
        lines.append(f"| {r['row']} | {r['parameters']:,} | {r['macs_per_window'] / 1e6:.2f} M | "
                     f"{pct([v / 100 for v in r['test_torch']['values']])} | "
                     f"{pct([v / 100 for v in r['test_fp32']['values']])} | "
                     f"{pct([v / 100 for v in r['test_int8']['values']])} | {drop['mean']:+.2f} | "
                     f"{r['size_kb_fp32']:.1f} | {r['size_kb_int8']:.1f} | {latency_cell(r, 'fp32')} | "
                     f"{latency_cell(r, 'int8')} | {gain_cell(r, 'fp32')} | {gain_cell(r, 'int8')} | "
                     f"{teachers_cell(r)} |")
    table = "\n".join(lines)
    print(table)
    if args.no_write:
        return 0
    results = HERE / "results"
    results.mkdir(exist_ok=True)
    header = record_header(
        "On-device accelerometer students: fp32 and int8, distilled and not, UTD-MHAD cross-subject "
        "(benchmarks/device_table.py)",
        f"protocol: every run (teacher too) trains on all 431 training-subject recordings (subjects 1, 3, 5, 7; "
        f"`--set data.val_fraction=0 --set data.val_subjects=null`) for a fixed cosine schedule (the config's 60 epochs; "
        f"{PATIENT}, {LONGER} or {LONGEST} in the rows that say so; {PATIENT} is the patient schedule of section utd-kd-patient) and "
        "keeps its last epoch: no "
        f"checkpoint selection, so nothing is chosen on any held-out data; test subjects 2, 4, 6, 8 (430) "
        f"only report. Mean +- std over seeds {' '.join(map(str, seeds))}"
        + (f"; extra overrides: {', '.join(args.overrides)}" if args.overrides else ""),
        f"students: inertial augmentation `{STUDENT_AUGMENT[0].split('=', 1)[1]}` in every row; KD rows: "
        f"CE (label smoothing 0.1) + KD (T = 4) from the augmented skeleton ST-GCN (`{TEACHER}`, same protocol); "
        "the ensemble rows' teacher is the mean of softmax(z / 4) of that ST-GCN and the best full-size "
        f"accelerometer student (`{args.full_student or f'{args.kd_runs}/{KD_TABLE_SECTION}/<150-epoch KD run>'}`: "
        f"section {KD_TABLE_SECTION}'s 150-epoch cached-KD student of the pair's teacher seed, same protocol)",
        design_note(args.teacher_design, seeds, args.headline),
        f"full-size rows (64/128/256): the runs of section {KD_TABLE_SECTION} (`kd_table.py`, the same configs, "
        "overrides, teacher and seeds), exported and measured here, not trained again",
        "accuracy: PyTorch = whole clip through the training pipeline; ONNX fp32 / int8 = the exported graphs in "
        "ONNX Runtime on every test clip stretched to the deployed window (W samples at 50 Hz)",
        "int8: `harkd export --quantize int8` (static QDQ: conv/linear weights int8 per channel, activations "
        "uint8 calibrated on training windows, ReLUs and residual sums int8 too, so ONNX Runtime runs the model in "
        "int8 kernels from its first convolution to its pooling, the classifier writing float logits; resampling "
        "(one Resize node), normalisation (one BatchNormalization node), pooling and softmax float); drop = fp32 - "
        "int8 on the same clips, mean over seeds",
        f"size: ONNX file on disk (KB = 1000 bytes); latency: the first seed's files, `harkd bench MODEL.onnx --runs "
        f"{args.runs}` (ms per window at batch 1, 1 thread / all threads) in {args.rounds} round-robin passes over "
        "every file of the table: best = the lowest of its pass medians, (median) = the median of them; shared "
        "2-core VM whose speed drifts up to 2x within an hour, so the best pass is the closest to a quiet core, "
        "and rows are compared within one table",
        "KD gain: paired difference against the no-KD row of the same size (same seeds), two-sided paired "
        "t-test; a gain is called one only with >= 5 seeds and p < 0.05",
        f"`device_int8_best` in summary.json: the int8 model of the row named before its runs were trained "
        f"(\"{HEADLINE}\"), not the best row of this table, which would pick on the test split",
        date=datetime.date.today().isoformat())
    plot = section == "device"  # the Pareto plot is of the whole table
    replace_section(HERE / "RESULTS.md", section, header + table + (
        "\n\nAccuracy against size and latency: `benchmarks/device_pareto.png`.\n" if plot else "\n"))
    record = {"section": section, "date": datetime.datetime.now().isoformat(timespec="seconds"),
              "command": command_line(), "header": header, **seed_record(args.teacher_design, seeds, args.headline),
              "rows": rows}
    (results / f"{section}.json").write_text(json.dumps(record, indent=1) + "\n")
    summary = results / "summary.json"
    full = (json.loads(summary.read_text()) if summary.is_file() else {}).get("utd_acc_best", {}).get("mean")
    entry = write_summary(summary, rows)
    print("device_int8_best:", json.dumps(entry) if entry else f"not written (its row '{HEADLINE}' was not run, or "
          "summary.json holds its fresh-seed headline, which rows of the choosing seeds do not replace)")
    if plot:
        pareto_plot(rows, HERE / "device_pareto.png", full)
    return 0


if __name__ == "__main__":
    sys.exit(run_script(main))
