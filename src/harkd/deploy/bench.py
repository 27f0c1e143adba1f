"""Size and latency of a deployable model: ``harkd bench RUN_DIR_OR_FILE``.

For a run directory the pipeline is built in memory and exported to a temporary
TorchScript and ONNX file, so PyTorch eager, TorchScript and ONNX Runtime are timed on
the same graph. For an exported file (with its manifest) only that runtime is timed.
Latency is per window at batch 1: ``warmup`` untimed calls, then ``runs`` timed calls
(``time.perf_counter``), median and 95th percentile in milliseconds, with 1 thread and
with all threads (``os.cpu_count()``). With ``repeats`` > 1 the timed calls run in that many
blocks of ``runs``, and each row also gives every block's median and the lowest of them
(``best_median_ms``): on a shared or throttled machine the slow blocks are the neighbours'
load, and the best block is the closest to what the model costs on a quiet core (timeit's
"best of" rule). The median and p95 stay over every timed call.
"""

from __future__ import annotations

import datetime
import os
import tempfile
import time
from pathlib import Path
from typing import Callable

import numpy as np
import torch

from harkd._version import __version__
from harkd.engine.machine import machine_description
from harkd.errors import DataError, InputError

__all__ = ["time_calls", "bench", "machine_description"]


#: count -> (minimum, maximum); a million timed calls of a 1 ms model already take 17 minutes per runtime
COUNT_LIMITS = {"runs": (1, 1_000_000), "warmup": (0, 1_000_000), "repeats": (1, 1000)}


def _check_counts(runs, warmup, repeats=1) -> None:
    for name, value in (("runs", runs), ("warmup", warmup), ("repeats", repeats)):
        minimum, maximum = COUNT_LIMITS[name]
        if isinstance(value, bool) or not isinstance(value, int) or value < minimum:
            raise InputError(f"{name} must be an integer >= {minimum}, got {value!r}")
        if value > maximum:
            raise InputError(f"{name} must be at most {maximum}, got {value}")


def time_calls(fn: Callable[[], object], runs: int = 200, warmup: int = 20, repeats: int = 1) -> dict:
    """Median and p95 latency (ms) of ``fn`` over ``repeats`` blocks of ``runs`` calls after ``warmup``
    calls, with each block's median and the lowest of them."""
    _check_counts(runs, warmup, repeats)
    for _ in range(warmup):
        fn()
    times = np.empty((repeats, runs))
    for block in times:
        for i in range(runs):
            start = time.perf_counter()
            fn()
            block[i] = time.perf_counter() - start
    times *= 1e3
    medians = np.median(times, axis=1)
    return {"median_ms": float(np.median(times)), "p95_ms": float(np.percentile(times, 95)),
            "mean_ms": float(times.mean()), "best_median_ms": float(medians.min()),
            "repeat_medians_ms": [float(m) for m in medians], "runs": runs, "warmup": warmup, "repeats": repeats}


def _thread_settings() -> list[tuple[str, int]]:
    return [("1", 1), ("all", os.cpu_count() or 1)]


def _time_torch(module, x: torch.Tensor, runs: int, warmup: int, repeats: int, threads: int) -> dict:
    before = torch.get_num_threads()
    torch.set_num_threads(threads)
    try:
        with torch.no_grad():
            return time_calls(lambda: module(x), runs, warmup, repeats)
    finally:
        torch.set_num_threads(before)


def _time_onnx(path: Path, x: np.ndarray, runs: int, warmup: int, repeats: int, threads: int) -> dict:
    from harkd.deploy.runtime import ExportedModel

    model = ExportedModel(path, {"format": "onnx"}, threads=threads)
    session, name = model.session, model.input_name
    return time_calls(lambda: session.run(None, {name: x}), runs, warmup, repeats)


def bench(target: str | Path, *, runs: int = 200, warmup: int = 20, repeats: int = 1, checkpoint: str = "best",
          window_samples: int | None = None, runtimes=("eager", "torchscript", "onnx", "onnx-int8")) -> dict:
    """Parameters, file size, MACs per window and latency table of a run directory or exported file.

    For a run directory, ``onnx-int8`` is the static int8 model of :mod:`harkd.deploy.quantize`
    (calibrated on the training windows), timed next to its fp32 ONNX model."""
    from harkd.deploy.exporter import export_pipeline, load_for_export
    from harkd.deploy.runtime import ExportedModel
    from harkd.deploy.macs import count_macs, count_parameters

    _check_counts(runs, warmup, repeats)
    target = Path(target)
    if not target.exists():
        raise DataError(target, "not found: pass a run directory or an exported .onnx / TorchScript file")
    rows = []
    result: dict = {"target": str(target), "date": datetime.datetime.now().isoformat(timespec="seconds"),
                    "machine": machine_description(), "harkd_version": __version__, "batch": 1}
    if target.is_dir():
        loaded = load_for_export(target, checkpoint, window_samples)
        spec = loaded.spec
        pipeline = loaded.pipeline
        channels = len(spec.channels)
        x = torch.randn(1, channels, spec.window_samples)
        result.update({"model": spec.model_name, "model_args": spec.model_args,
                       "parameters": count_parameters(loaded.model),
                       "macs_per_window": count_macs(pipeline, x), "window_samples": spec.window_samples,
                       "window_seconds": spec.window_seconds, "channels": channels, "gaf": spec.gaf is not None})
        with tempfile.TemporaryDirectory() as tmp:
            files = {"torchscript": Path(tmp) / "model.pt", "onnx": Path(tmp) / "model.onnx"}
            for fmt in ("torchscript", "onnx"):
                export_pipeline(pipeline, fmt, files[fmt], channels)
            if "onnx-int8" in runtimes:
                from harkd.deploy.manifest import INPUT_NAME
                from harkd.deploy.quantize import calibration_windows, quantize_onnx

                files["onnx_int8"] = Path(tmp) / "model_int8.onnx"
                quantize_onnx(files["onnx"], files["onnx_int8"], calibration_windows(loaded), INPUT_NAME)
            result["size_bytes"] = {"state_dict_float32": 4 * result["parameters"],
                                    **{fmt: p.stat().st_size for fmt, p in files.items()}}
            for runtime in runtimes:
                for label, threads in _thread_settings():
                    if runtime == "eager":
                        timing = _time_torch(pipeline, x, runs, warmup, repeats, threads)
                    elif runtime == "torchscript":
                        timing = _time_torch(torch.jit.load(str(files["torchscript"])).eval(), x, runs, warmup, repeats,
                                             threads)
                    else:
                        timing = _time_onnx(files[runtime.replace("-", "_")], x.numpy(), runs, warmup, repeats, threads)
                    rows.append({"runtime": {"eager": "pytorch-eager"}.get(runtime, runtime), "threads": label,
                                 "num_threads": threads, **timing})
    else:
        model = ExportedModel(target)
        manifest = model.manifest or {}
        if "window_samples" not in manifest:
            raise DataError(target, "has no manifest (expected next to it as "
                                    f"{target.name}.json): cannot tell the input window")
        channels, window = len(manifest["channels"]), manifest["window_samples"]
        x = np.random.default_rng(0).standard_normal((1, channels, window)).astype(np.float32)
        result.update({"model": manifest["model"]["name"], "model_args": manifest["model"].get("args"),
                       "parameters": manifest["model"].get("parameters"),
                       "macs_per_window": manifest["model"].get("macs_per_window"), "window_samples": window,
                       "window_seconds": manifest["window_seconds"], "channels": channels,
                       "gaf": manifest.get("gaf") is not None,
                       "size_bytes": {model.format: target.stat().st_size}})
        quantization = manifest.get("quantization")
        if quantization:  # the int8 file and the fp32 model it was made from
            result["size_bytes"] = {"onnx_int8": target.stat().st_size, "onnx": quantization["fp32_size_bytes"]}
        for label, threads in _thread_settings():
            if model.format == "onnx":
                timing = _time_onnx(target, x, runs, warmup, repeats, threads)
            else:
                timing = _time_torch(model.module, torch.from_numpy(x), runs, warmup, repeats, threads)
            runtime = model.runtime + ("-int8" if quantization else "")
            rows.append({"runtime": runtime, "threads": label, "num_threads": threads, **timing})
    result["latency"] = rows
    return result


def format_table(result: dict) -> str:
    """A Markdown table of one bench result (one row per runtime)."""
    size = result["size_bytes"]
    lines = [f"{result['target']}: {result['model']}, {result['parameters']:,} parameters, "
             f"{result['macs_per_window'] / 1e6:.2f} M MACs per window ({result['window_samples']} samples, "
             f"{result['window_seconds']:.2f} s), sizes " + ", ".join(f"{k} {v / 1024:.0f} KiB" for k, v in size.items()),
             ""]
    repeats = result["latency"][0].get("repeats", 1) if result["latency"] else 1
    best = f" best of {repeats} block medians ms |" if repeats > 1 else ""
    lines += [f"| runtime | threads | median ms | p95 ms |{best}", "|---|---|---:|---:|" + "---:|" * bool(best)]
    for row in result["latency"]:
        cell = f" {row['best_median_ms']:.3f} |" if best else ""
        lines.append(f"| {row['runtime']} | {row['threads']} ({row['num_threads']}) | {row['median_ms']:.3f} | "
                     f"{row['p95_ms']:.3f} |{cell}")
    return "\n".join(lines)
