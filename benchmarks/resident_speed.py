"""One training epoch of batches of the UTD-MHAD inertial training split: DataLoader path vs device-resident path.

The data of ``configs/utd_mhad/acc_cnn1d_patient.yaml`` (accelerometer, 128 samples, normalised, training
augmentation scale/rotate/shift/noise; cross-subject training split, batch size 32). For each device (the
CPU, and cuda when available) and each path it times, after one untimed epoch (the DataLoader path's
preprocessing cache is then warm in memory, as from a run's second epoch on):

- ``DataLoader``: the Trainer's loader (``EpochSampler``, per-sample ``prepared`` + numpy ``finish``,
  default collate, ``--workers`` workers), each batch then moved to the device;
- ``resident``: :func:`harkd.engine.resident.resident_loader` (the prepared tensors stacked on the device
  once, the augmentation batched there); ``build s`` is that stacking and transfer.

``epoch s`` is the median of ``--epochs`` epochs (a CUDA epoch ends with a synchronisation). ``--model``
adds the config's training step (forward, backward, AdamW) to every batch, so the epoch is what a run
pays. Prints a table and writes benchmarks/results/resident_speed.{md,json}.

    OMP_NUM_THREADS=1 HARKD_DATA_ROOT=../shared/data python benchmarks/resident_speed.py
"""

from __future__ import annotations

import argparse
import datetime
import json
import os
import statistics
import sys
import time
from pathlib import Path

import torch
from torch.utils.data import DataLoader

from harkd.engine.machine import machine_description
from harkd.engine.recipe import load_recipe_config, prepare_plan
from harkd.engine.resident import resident_loader
from harkd.engine.trainer import EpochSampler
from harkd.suites import command_line, record_header, run_script, use_data_root

HERE = Path(__file__).resolve().parent
CONFIG = HERE.parent / "configs" / "utd_mhad" / "acc_cnn1d_patient.yaml"
TITLE = ("Resident data path vs DataLoader: one epoch of the UTD-MHAD inertial training split "
         "(benchmarks/resident_speed.py)")


def _to_device(batch: dict, device: torch.device) -> dict:
    return {k: v.to(device, non_blocking=True) if torch.is_tensor(v) else v for k, v in batch.items()}


def _sync(device: torch.device) -> None:
    if device.type == "cuda":
        torch.cuda.synchronize(device)


def time_epochs(loader, sampler: EpochSampler, device: torch.device, epochs: int, step=None) -> list[float]:
    """Seconds of each of ``epochs`` epochs (after one untimed epoch) over ``loader``, batches moved to ``device``."""
    times = []
    for epoch in range(epochs + 1):
        sampler.set_epoch(epoch)
        _sync(device)
        start = time.perf_counter()
        for batch in loader:
            batch = _to_device(batch, device)
            if step is not None:
                step(batch)
        _sync(device)
        if epoch:
            times.append(time.perf_counter() - start)
    return times


def training_step(recipe, plan, prepared, device: torch.device):
    """The config's task on ``device`` and ``step(batch)``: forward, backward, AdamW step."""
    from harkd.engine.builders import build_optimizer

    task = recipe.build(plan, prepared).to(device).train()
    optimizer = build_optimizer(plan.cfg.optim, [p for p in task.parameters() if p.requires_grad])

    def step(batch: dict) -> None:
        loss = task(batch)["loss"]
        optimizer.zero_grad(set_to_none=True)
        loss.backward()
        optimizer.step()

    return step


def measure(recipe, plan, prepared, device: torch.device, epochs: int, workers: int, model: bool) -> list[dict]:
    train = prepared.datasets["train"]
    batch_size, seed = plan.cfg.train.batch_size, plan.cfg.seed
    rows = []
    for path in ("DataLoader", "resident"):
        sampler = EpochSampler(len(train), seed)
        start = time.perf_counter()
        if path == "DataLoader":
            loader = DataLoader(train, batch_size=batch_size, sampler=sampler, num_workers=workers,
                                drop_last=len(sampler) % batch_size == 1)
        else:
            loader, reason = resident_loader(train, batch_size=batch_size, sampler=sampler, device=device, seed=seed)
            if loader is None:
                raise SystemExit(f"the resident path refused the data: {reason}")
        _sync(device)
        build = time.perf_counter() - start
        step = training_step(recipe, plan, prepared, device) if model else None
        times = time_epochs(loader, sampler, device, epochs, step)
        rows.append({"path": path, "device": str(device), "workers": workers if path == "DataLoader" else 0,
                     "samples": len(sampler), "batches": len(loader), "build_s": build, "epoch_s": times,
                     "median_epoch_s": statistics.median(times), "model_step": model})
        print(f"  {path} on {device}: build {build:.3f} s, epoch {rows[-1]['median_epoch_s']:.4f} s "
              f"(median of {epochs})", flush=True)
    return rows


def format_table(rows: list[dict]) -> str:
    lines = ["| device | path | batches | build s | epoch s (median) | batches / s | speed-up |",
             "|---|---|---:|---:|---:|---:|---:|"]
    base = {r["device"]: r["median_epoch_s"] for r in rows if r["path"] == "DataLoader"}
    for r in rows:
        epoch = r["median_epoch_s"]
        path = r["path"] + (f" ({r['workers']} workers)" if r["workers"] else "")
        lines.append(f"| {r['device']} | {path} | {r['batches']} | {r['build_s']:.3f} | {epoch:.4f} | "
                     f"{r['batches'] / epoch:.0f} | {base[r['device']] / epoch:.1f}x |")
    return "\n".join(lines)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--root", help="data root holding UTD-MHAD/ (default: $HARKD_DATA_ROOT)")
    parser.add_argument("--epochs", type=int, default=10, help="timed epochs per row (after one untimed)")
    parser.add_argument("--workers", type=int, default=0, help="DataLoader workers (the config default: 0)")
    parser.add_argument("--devices", nargs="+", help="devices to measure (default: cpu, and cuda when available)")
    parser.add_argument("--model", action="store_true", help="include the config's training step in each batch")
    parser.add_argument("--no-write", action="store_true", help="do not write benchmarks/results/resident_speed.*")
    args = parser.parse_args(argv)
    if not use_data_root(args.root, "UTD-MHAD"):
        return 0
    devices = args.devices or ["cpu"] + (["cuda"] if torch.cuda.is_available() else [])
    recipe, cfg = load_recipe_config(CONFIG)
    plan = recipe.plan(cfg)
    prepared = prepare_plan(plan, check=("train",))
    train = prepared.datasets["train"]
    print(f"{len(train)} training recordings, batch size {cfg.train.batch_size}, inertial "
          f"{cfg.data.modalities['inertial']}", flush=True)
    rows, load = [], [os.getloadavg()[0]]
    for device in devices:
        rows += measure(recipe, plan, prepared, torch.device(device), args.epochs, args.workers, args.model)
    load.append(os.getloadavg()[0])
    table = format_table(rows)
    print(table)
    if args.no_write:
        return 0
    step = "the config's training step (forward, backward, AdamW) on every batch" if args.model else "no model step"
    notes = [f"data: {CONFIG.relative_to(HERE.parent)} ({len(train)} training recordings of the cross-subject split, "
             f"batch size {cfg.train.batch_size}, augmentation {cfg.data.modalities['inertial'].get('augment')}); "
             f"{step}",
             f"epoch s: median of {args.epochs} epochs after one untimed epoch (the DataLoader path's cache then warm "
             "in memory); each DataLoader batch moved to the device; build s: constructing the loader (the resident "
             "path stacks the prepared tensors and copies them to the device)",
             "the two paths draw different random augmentations (same distributions); the resident batches equal the "
             "DataLoader's without augmentation (tests/engine/test_resident.py)",
             f"machine load (1-minute load average on {os.cpu_count()} CPUs) before and after: "
             f"{load[0]:.1f}, {load[1]:.1f}"]
    header = record_header(TITLE, *notes)
    results = HERE / "results"
    results.mkdir(exist_ok=True)
    (results / "resident_speed.md").write_text(header + table + "\n")
    (results / "resident_speed.json").write_text(json.dumps({
        "date": datetime.datetime.now().isoformat(timespec="seconds"), "machine": machine_description(),
        "command": command_line(), "load_average": load, "config": str(CONFIG.relative_to(HERE.parent)),
        "rows": rows}, indent=1) + "\n")
    print(f"wrote {results / 'resident_speed.md'} and resident_speed.json")
    return 0


if __name__ == "__main__":
    sys.exit(run_script(main))
