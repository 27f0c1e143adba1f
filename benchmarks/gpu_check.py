"""GPU check: harkd's whole path on one accelerator, timed against one CPU thread.

On UTD-MHAD (cross-subject; inertial + skeleton) it trains the skeleton teacher
(``configs/utd_mhad/skeleton_stgcn_aug_all.yaml``), distils the patient KD student
(``distill/skel2acc_patient.yaml``) from it, trains the student's no-KD twin
(``acc_cnn1d_patient.yaml``) in fp32 and in bf16, evaluates each on the test split (last epoch, as
the recipes prescribe), computes the teacher's KD targets on the device and on the CPU from the same
weights (they must agree to float tolerance), exports the KD student to ONNX with its parity check, trains
``--pack`` KD students and their ``--pack`` no-KD twins at once on the device (the suite runner's GPU
packing; seeds 100..., device checks only) and reports the paired KD gain at this schedule on this device,
times one CPU thread on the same teacher and student for ``--cpu-epochs`` epochs, and runs ``torchrun`` for
2 epochs.
It prints a table and writes ``gpu_check.md`` / ``gpu_check.json`` (date, machine, command) to
``--out``. Every step's command and outcome is recorded; a failing step is reported, not hidden.

    python benchmarks/gpu_check.py                      # the device's check: under 5 minutes on one H200
    python benchmarks/gpu_check.py --device cpu --teacher-epochs 1 --student-epochs 1 --pack 2 \\
        --cpu-epochs 1 --out /tmp/gpu-check             # the same path on the CPU (CI's smoke run)

``--synthetic`` trains on a small generated UTD-MHAD (no data root needed; timings only).
"""

from __future__ import annotations

import argparse
import datetime
import json
import os
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

CONFIGS = Path(__file__).resolve().parents[1] / "configs" / "utd_mhad"
TEACHER = CONFIGS / "skeleton_stgcn_aug_all.yaml"
STUDENT = CONFIGS / "distill" / "skel2acc_patient.yaml"
TWIN = CONFIGS / "acc_cnn1d_patient.yaml"
RESULTS = Path(__file__).resolve().parent / "results"
PACK_SEED = 100  # the packed students' first seed: device checks only, never a recipe's choosing or reporting seed
KD_TEMPERATURE = 4.0  # skel2acc_patient.yaml's KD temperature


def epoch_seconds(run_dir: Path) -> float:
    """Median seconds per epoch of a run (metrics.jsonl), the first epoch left out when there are more."""
    records = [json.loads(line) for line in (run_dir / "metrics.jsonl").read_text().splitlines() if line.strip()]
    seconds = [r["seconds"] for r in records]
    return statistics.median(seconds[1:] if len(seconds) > 1 else seconds)


def train(config: Path, run_dir: Path, kind: str, overrides: list[str]) -> dict:
    """Train one run in this process; its wall time, seconds per epoch and last-epoch test accuracy."""
    from harkd.engine.evaluate import evaluate_run
    from harkd.recipes import run_config

    start = time.perf_counter()
    run_config(config, run_dir, kind=kind, overrides=overrides, log=lambda m: None, progress=False)
    wall = time.perf_counter() - start
    result = evaluate_run(run_dir, "test", "last")
    meta = json.loads((run_dir / "run.json").read_text())
    return {"run_dir": str(run_dir), "wall_s": round(wall, 2), "epoch_s": round(epoch_seconds(run_dir), 4),
            "test_accuracy": result["accuracy"], "device": meta.get("device"), "precision": meta.get("precision")}


def packed_students(args, teacher: Path, work: Path) -> dict:
    """``--pack`` KD students and their no-KD twins (same seeds) trained at once on the device (fresh worker
    processes, one GPU slot each): epoch times, each row's last-epoch test accuracy and the paired KD gain, so
    one call says whether KD still pays at this schedule on this device."""
    from harkd.engine.evaluate import evaluate_run
    from harkd.engine.stats import paired_test, summarize
    from harkd.suites import RunSpec, run_suite

    seeds = [PACK_SEED + i for i in range(args.pack)]
    kd = [RunSpec(f"packed_kd_s{s}", "distill", str(STUDENT), str(work / f"packed_kd_s{s}"),
                  tuple(student_overrides(args, teacher, seed=s))) for s in seeds]
    twins = [RunSpec(f"packed_nokd_s{s}", "train", str(TWIN), str(work / f"packed_nokd_s{s}"),
                     (f"train.epochs={args.student_epochs}", f"seed={s}", f"train.device={args.device}",
                      "schedule.warmup_epochs=0")) for s in seeds]
    gpus = [0] if args.device_type == "cuda" else ()
    start = time.perf_counter()
    run_suite([*kd, *twins], jobs=args.pack, threads=1, gpus=gpus, log=lambda m: None)
    wall = time.perf_counter() - start
    per_epoch = [epoch_seconds(Path(r.run_dir)) for r in kd]
    accuracy = {r.name: 100 * evaluate_run(r.run_dir, "test", "last")["accuracy"] for r in (*kd, *twins)}
    with_kd, without = [accuracy[r.name] for r in kd], [accuracy[r.name] for r in twins]
    return {"runs": args.pack, "seeds": seeds, "wall_s": round(wall, 2),
            "epoch_s_mean": round(statistics.mean(per_epoch), 4), "epoch_s_max": round(max(per_epoch), 4),
            "kd": {"values": with_kd, **summarize(with_kd)}, "no_kd": {"values": without, **summarize(without)},
            "gain": paired_test(with_kd, without)}


def teacher_targets(run_dir: Path, device: str, temperature: float):
    """``(softmax(z / T), keys)``: the teacher's softened outputs on every training recording, its last epoch,
    computed on ``device`` through its evaluation view (no augmentation), as a cached teacher gives them."""
    import torch
    from torch.utils.data import DataLoader

    from harkd.engine.runs import load_run
    from harkd.engine.trainer import predict

    _, _, task, prepared = load_run(run_dir, "last", device=device)
    train = prepared.datasets["train"]
    train.train = False
    logits, _, keys = predict(task, DataLoader(train, batch_size=64), device)
    return torch.softmax(torch.from_numpy(logits) / temperature, dim=1).numpy(), keys


def targets_agreement(run_dir: Path, device: str, temperature: float = KD_TEMPERATURE) -> dict:
    """The same teacher weights' targets on ``device`` and on the CPU: largest absolute difference of a target
    probability and the share of recordings whose top class agrees (issue 24: CPU and GPU must agree)."""
    here, keys = teacher_targets(run_dir, device, temperature)
    cpu, cpu_keys = teacher_targets(run_dir, "cpu", temperature)
    if keys != cpu_keys:
        raise RuntimeError(f"the teacher's training recordings differ between {device} and the CPU")
    return {"recordings": len(keys), "temperature": temperature, "device": device,
            "max_abs_diff": float(abs(here - cpu).max()),
            "argmax_agreement": float((here.argmax(1) == cpu.argmax(1)).mean())}


def student_overrides(args, teacher: Path, seed: int = 0, device: str | None = None) -> list[str]:
    return [f"teachers.0.run={teacher}", f"train.epochs={args.student_epochs}", f"seed={seed}",
            f"train.device={device or args.device}", "schedule.warmup_epochs=0"]


def run_torchrun(args, root: Path, work: Path) -> dict:
    """``torchrun --nproc_per_node 1 -m harkd train acc_cnn1d.yaml`` for 2 epochs: exit code, wall time, last lines."""
    command = [sys.executable, "-m", "torch.distributed.run", "--nproc_per_node", "1", "-m", "harkd", "train",
               str(CONFIGS / "acc_cnn1d.yaml"), "--set", "train.epochs=2", "--set", f"train.device={args.device}",
               "--set", "schedule.warmup_epochs=0", "--run-dir", str(work / "torchrun")]
    env = {**os.environ, "HARKD_DATA_ROOT": str(root), "OMP_NUM_THREADS": "1"}
    start = time.perf_counter()
    proc = subprocess.run(command, capture_output=True, text=True, env=env, timeout=600)
    tail = (proc.stdout + proc.stderr).strip().splitlines()[-3:]
    return {"command": " ".join(["torchrun", *command[3:]]), "exit_code": proc.returncode,
            "wall_s": round(time.perf_counter() - start, 2), "last_lines": tail}


def export_student(run_dir: Path, work: Path) -> dict:
    from harkd.deploy.exporter import export_run

    manifest = export_run(run_dir, "onnx", work / "student.onnx", checkpoint="last", log=lambda m: None)
    parity = manifest.get("parity") or {}
    return {"file": str(work / "student.onnx"), "parity_passed": parity.get("passed"),
            "parity_max_abs_diff": parity.get("max_abs_diff"), "parity_windows": parity.get("windows")}


def synthetic_root(folder: Path) -> Path:
    from harkd.data.synth import write_utd_mhad

    write_utd_mhad(folder / "UTD-MHAD", subjects=(1, 2, 3, 4), trials=(1, 2), seed=0,
                   modalities=("inertial", "skeleton"))
    return folder


def table(report: dict) -> str:
    dev = report["device"]
    rows = ["| step | where | s / epoch | test acc. | note |", "|---|---|---:|---:|---|"]
    for label, key in (("teacher (ST-GCN)", "teacher"), ("KD student (1D CNN)", "student_kd"),
                       ("no-KD student, fp32", "student_fp32"), ("no-KD student, bf16", "student_bf16")):
        r = report[key]
        rows.append(f"| {label} | {r['device']} ({r['precision']}) | {r['epoch_s']:.3f} | "
                    f"{100 * r['test_accuracy']:.1f} | {r['wall_s']:.0f} s in all |")
    for label, key, twin in (("teacher", "cpu_teacher", "teacher"), ("KD student", "cpu_student", "student_kd")):
        r = report[key]
        ratio = r["epoch_s"] / max(report[twin]["epoch_s"], 1e-9)
        rows.append(f"| {label}, 1 CPU thread | cpu ({r['precision']}) | {r['epoch_s']:.3f} | - | "
                    f"{report['cpu_epochs']} epoch(s); {ratio:.1f}x the {dev} time |")
    p = report["packed"]
    rows.append(f"| {p['runs']} KD students packed | {dev} | {p['epoch_s_mean']:.3f} (max {p['epoch_s_max']:.3f}) "
                f"| {p['kd']['mean']:.1f} +- {p['kd']['std']:.1f} | seeds {p['seeds'][0]}-{p['seeds'][-1]}, packed "
                f"with their no-KD twins ({p['no_kd']['mean']:.1f} +- {p['no_kd']['std']:.1f}): KD gain "
                f"{p['gain']['mean']:+.1f} (p = {p['gain']['p_value']:.2g}, {p['gain']['verdict']}); "
                f"{p['wall_s']:.0f} s for all |")
    t = report["targets"]
    rows.append(f"| teacher targets softmax(z / {t['temperature']:g}), {t['recordings']} training recordings | "
                f"{t['device']} vs cpu | - | - | max abs diff {t['max_abs_diff']:.1e}, top class agrees on "
                f"{100 * t['argmax_agreement']:.1f} % |")
    t = report["torchrun"]
    rows.append(f"| torchrun, 1 process, 2 epochs | {dev} | - | - | exit {t['exit_code']}, {t['wall_s']:.0f} s |")
    e = report["export"]
    rows.append(f"| ONNX export of the KD student | cpu | - | - | parity {'passed' if e['parity_passed'] else 'FAILED'} "
                f"on {e['parity_windows']} windows, max abs diff {e['parity_max_abs_diff']:.1e} |")
    return "\n".join(rows)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--root", help="data root holding UTD-MHAD/ (default: $HARKD_DATA_ROOT)")
    parser.add_argument("--synthetic", action="store_true", help="train on a generated UTD-MHAD (timings only)")
    parser.add_argument("--device", default="auto", help="train.device of the runs (default: auto)")
    parser.add_argument("--teacher-epochs", type=int, default=60)
    parser.add_argument("--student-epochs", type=int, default=150)
    parser.add_argument("--pack", type=int, default=6, help="KD students (and as many no-KD twins) trained at once on the device")
    parser.add_argument("--cpu-epochs", type=int, default=2, help="epochs of the 1-thread CPU timing")
    parser.add_argument("--work", help="run directories (default: a temporary folder)")
    parser.add_argument("--out", default=str(RESULTS), help="folder for gpu_check.md and gpu_check.json")
    args = parser.parse_args(argv)
    for flag in ("teacher_epochs", "student_epochs", "pack", "cpu_epochs"):
        if getattr(args, flag) < 1:
            parser.error(f"--{flag.replace('_', '-')} must be >= 1")

    from harkd.engine.devices import resolve_device

    device = resolve_device(args.device)
    args.device_type = device.type
    saved_root = os.environ.get("HARKD_DATA_ROOT")
    try:
        return check(args, device)
    finally:  # --synthetic and --root point HARKD_DATA_ROOT elsewhere for the runs only
        if saved_root is None:
            os.environ.pop("HARKD_DATA_ROOT", None)
        else:
            os.environ["HARKD_DATA_ROOT"] = saved_root


def check(args, device) -> int:
    """The check's steps on ``device``; the table and the JSON written to ``args.out``."""
    import torch

    from harkd.engine.devices import describe_device
    from harkd.engine.machine import machine_description
    from harkd.suites import command_line, use_data_root

    with tempfile.TemporaryDirectory(prefix="harkd-gpu-check-") as tmp:
        work = Path(args.work) if args.work else Path(tmp)
        if args.synthetic:
            root = synthetic_root(work / "data")
            os.environ["HARKD_DATA_ROOT"] = str(root)
        elif not use_data_root(args.root, "UTD-MHAD"):
            return 0
        root = Path(os.environ["HARKD_DATA_ROOT"])
        if device.type == "cuda":
            torch.cuda.reset_peak_memory_stats(device)
        started = time.perf_counter()
        print(f"gpu check on {describe_device(device)}: teacher ({args.teacher_epochs} epochs)", flush=True)
        report = {"device": describe_device(device), "cpu_epochs": args.cpu_epochs}
        on = [f"train.device={args.device}"]
        report["teacher"] = train(TEACHER, work / "teacher", "train",
                                  on + [f"train.epochs={args.teacher_epochs}", "schedule.warmup_epochs=0"])
        teacher = work / "teacher"
        report["targets"] = targets_agreement(teacher, str(device))
        print(f"  KD student, no-KD twin fp32 and bf16 ({args.student_epochs} epochs)", flush=True)
        report["student_kd"] = train(STUDENT, work / "student_kd", "distill", student_overrides(args, teacher))
        twin = on + [f"train.epochs={args.student_epochs}", "schedule.warmup_epochs=0"]
        report["student_fp32"] = train(TWIN, work / "student_fp32", "train", twin + ["train.precision=fp32"])
        report["student_bf16"] = train(TWIN, work / "student_bf16", "train", twin + ["train.precision=bf16"])
        report["peak_memory_mb"] = (round(torch.cuda.max_memory_allocated(device) / 2**20, 1)
                                    if device.type == "cuda" else None)
        print(f"  {args.pack} KD students and their no-KD twins packed on the device", flush=True)
        report["packed"] = packed_students(args, teacher, work)
        print(f"  one CPU thread ({args.cpu_epochs} epochs each)", flush=True)
        threads = torch.get_num_threads()
        torch.set_num_threads(1)
        try:
            report["cpu_teacher"] = train(TEACHER, work / "cpu_teacher", "train",
                                          ["train.device=cpu", f"train.epochs={args.cpu_epochs}",
                                           "schedule.warmup_epochs=0"])
            cpu_student = student_overrides(args, teacher, device="cpu")
            cpu_student[1] = f"train.epochs={args.cpu_epochs}"
            report["cpu_student"] = train(STUDENT, work / "cpu_student", "distill", cpu_student)
        finally:
            torch.set_num_threads(threads)
        print("  export and torchrun", flush=True)
        report["export"] = export_student(work / "student_kd", work)
        report["torchrun"] = run_torchrun(args, root, work)
        report["total_s"] = round(time.perf_counter() - started, 1)
    report.update({"date": datetime.datetime.now().isoformat(timespec="seconds"), "machine": machine_description(),
                   "command": command_line(), "data": "synthetic UTD-MHAD" if args.synthetic else str(root),
                   "torch": torch.__version__})
    text = table(report)
    memory = f"{report['peak_memory_mb']} MB" if report["peak_memory_mb"] is not None else "n/a (not a CUDA device)"
    header = "\n".join([f"# GPU check ({report['device']})", "", f"- date: {report['date']}",
                        f"- machine: {report['machine']}", f"- command: `{report['command']}`",
                        f"- data: {report['data']}; teacher {args.teacher_epochs} epochs, students "
                        f"{args.student_epochs} epochs; test accuracy of the last epoch (no selection)",
                        f"- peak GPU memory (teacher and the three students, in this process): {memory}",
                        f"- total: {report['total_s']} s", ""])
    print(text)
    out = Path(args.out)
    out.mkdir(parents=True, exist_ok=True)
    (out / "gpu_check.md").write_text(header + text + "\n")
    (out / "gpu_check.json").write_text(json.dumps(report, indent=1, default=str) + "\n")
    print(f"wrote {out / 'gpu_check.md'} and {out / 'gpu_check.json'}")
    return 0 if report["torchrun"]["exit_code"] == 0 else 1


if __name__ == "__main__":
    from harkd.suites import run_script

    sys.exit(run_script(main))
