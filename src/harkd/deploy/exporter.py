"""``harkd export``: a run directory -> a deployable ONNX / TorchScript file + JSON manifest.

The exported graph is :class:`~harkd.deploy.pipeline.DeployablePipeline`: it takes a raw
sensor window ``(batch, channels, window_samples)`` in the sensor's units at the recording
rate and returns class probabilities. After writing the file, a parity check runs the
exported file (onnxruntime / ``torch.jit.load``) and the PyTorch eager pipeline (the
data layer's own transforms, then the model, then softmax) on the same windows; the
largest absolute difference on probabilities must be <= ``tolerance`` (1e-5).

The model and its manifest are written under temporary names beside ``out`` and
renamed into place only once the parity check has passed, so a failed export (bad
argument, parity failure, full disk, Ctrl-C) leaves neither a model without its manifest
nor a truncated file, and never touches an earlier export at ``out``.
"""

from __future__ import annotations

import contextlib
import datetime
import io
import json
import os
import uuid
import warnings
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Callable

import numpy as np
import torch

from harkd._version import __version__
from harkd.checks import is_int, is_number
from harkd.deploy.macs import count_macs, count_parameters
from harkd.deploy.manifest import INPUT_NAME, INPUT_SHAPE_FILE, OUTPUT_NAME, check_format, manifest_path, sha256_file
from harkd.deploy.pipeline import DeployablePipeline, PipelineSpec, build_pipeline, pipeline_spec
from harkd.deploy.runtime import ExportedModel
from harkd.errors import DataError, HarkdError, InputError, MissingDependencyError, ParityError, file_in_the_way

__all__ = ["PARITY_TOLERANCE", "LoadedRun", "load_for_export", "export_pipeline", "export_run", "check_output",
           "export_loaded", "parity_windows", "eager_probabilities"]

PARITY_TOLERANCE = 1e-5
ONNX_OPSET = 17
MAX_PARITY_WINDOWS = 48


# ----------------------------------------------------------------------------- loading
@dataclass
class LoadedRun:
    run_dir: Path
    cfg: Any
    meta: dict
    kind: str
    model: torch.nn.Module
    transform: Any  # the run's fitted InertialTransform (the eager reference)
    prepared: Any
    spec: PipelineSpec
    checkpoint: str

    @property
    def pipeline(self) -> DeployablePipeline:
        return build_pipeline(self.model, self.spec)


def default_window(prepared, modality: str) -> int:
    """Median raw length (samples) of the training split's clips."""
    train = prepared.datasets["train"]
    t = train.transforms[modality]
    lengths = [train.spec.load(r, modality, root=train.index.root, **t.load_options()).shape[0]
               for r in train.recordings]
    return int(round(float(np.median(lengths))))


def load_for_export(run_dir: str | Path, checkpoint: str = "best", window_samples: int | None = None,
                    rate: float | None = None) -> LoadedRun:
    """Load a train or distill run and describe its deployable pipeline."""
    from harkd.recipes import load_run

    run_dir = Path(run_dir)
    if checkpoint not in ("best", "last"):
        raise InputError(f"checkpoint must be 'best' or 'last', got {checkpoint!r}")
    if rate is not None and not is_number(rate, positive=True):
        raise InputError(f"rate must be a sampling rate in Hz > 0, got {rate!r}")
    if window_samples is not None and not is_int(window_samples, 2):
        raise InputError(f"window_samples must be an integer >= 2, got {window_samples!r}")
    if not run_dir.is_dir():
        raise DataError(run_dir, "run directory not found")
    cfg, meta, task, prepared = load_run(run_dir, checkpoint, device="cpu")  # export traces on the CPU
    kind = meta.get("kind", "train")
    plan = prepared.plan
    model = plan.deployable(task)
    modality = plan.model_cfg.input
    if window_samples is None and isinstance(modality, str) and modality in prepared.datasets["train"].transforms:
        window_samples = default_window(prepared, modality)
    spec = pipeline_spec(cfg, meta, plan.model_cfg, window_samples or 0, rate)
    transform = prepared.datasets["train"].transforms[spec.modality]
    return LoadedRun(run_dir, cfg, meta, kind, model.eval(), transform, prepared, spec, checkpoint)


# ------------------------------------------------------------------------------ parity
def parity_windows(loaded: LoadedRun, limit: int = MAX_PARITY_WINDOWS) -> tuple[np.ndarray, str]:
    """``(n, C, W)`` float32 raw windows and a description of where they come from.

    Real UTD-MHAD recordings under ``$HARKD_DATA_ROOT`` when available, else the run's
    own dataset; test-split recordings first. A clip of T >= W samples gives its centred
    W-sample window; a shorter clip is stretched to W samples (linear interpolation).
    """
    from harkd.data.transforms import resample_time
    from harkd.data.registry import DATA_ROOT_ENV, dataset_folder

    train = loaded.prepared.datasets["train"]
    spec_ds, index = train.spec, train.index
    source = f"run dataset {index.root}"
    env = os.environ.get(DATA_ROOT_ENV)
    if env:
        real = Path(env) / dataset_folder(spec_ds.name)
        if real.is_dir() and real.resolve() != Path(index.root).resolve():
            try:
                index = spec_ds.scan(real)
                source = f"real recordings {real}"
            except HarkdError:
                pass
        elif real.is_dir():
            source = f"real recordings {real}"
    split = loaded.meta.get("split") or {}
    keys = [k for name in ("test", "val", "train") for k in split.get(name, []) if k in index]
    keys += [k for k in index.keys if k not in set(keys)]
    options = loaded.transform.load_options()
    w = loaded.spec.window_samples
    windows, used = [], []
    for rec in index.subset(keys):
        if not rec.has(loaded.spec.modality):
            continue
        clip = spec_ds.load(rec, loaded.spec.modality, root=index.root, **options)
        t = clip.shape[0]
        window = clip[(t - w) // 2:(t - w) // 2 + w] if t >= w else resample_time(clip, w)
        windows.append(np.ascontiguousarray(window.T, dtype=np.float32))
        used.append(rec.key)
        if len(windows) >= limit:
            break
    if not windows:
        raise DataError(index.root, f"no {loaded.spec.modality} recordings for the parity check")
    return np.stack(windows), f"{source} ({len(windows)} windows of {w} samples, e.g. {', '.join(used[:3])})"


@torch.no_grad()
def eager_probabilities(loaded: LoadedRun, windows: np.ndarray) -> np.ndarray:
    """The reference: the data layer's transform (prepare + finish) per window, the model, softmax."""
    t = loaded.transform
    batch = torch.stack([t.finish(t.prepare(np.ascontiguousarray(w.T))) for w in windows])
    return torch.softmax(loaded.model(batch), dim=-1).numpy()


# ------------------------------------------------------------------------------ export
def export_pipeline(pipeline: DeployablePipeline, fmt: str, out: str | Path, channels: int) -> Path:
    """Write ``pipeline`` as ONNX (opset 17, dynamic batch) or traced TorchScript."""
    out = Path(out)
    out.parent.mkdir(parents=True, exist_ok=True)
    example = torch.randn(2, channels, pipeline.window)
    pipeline.eval()
    if fmt == "onnx":
        try:
            import onnx  # noqa: F401  (the TorchScript-based exporter needs it)
        except ImportError:
            raise MissingDependencyError("onnx", "export", "ONNX export") from None
        buf = io.BytesIO()
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")  # the TorchScript-based exporter's deprecation and tracer warnings
            torch.onnx.export(pipeline, (example,), buf, dynamo=False, opset_version=ONNX_OPSET,
                              input_names=[INPUT_NAME], output_names=[OUTPUT_NAME],
                              dynamic_axes={INPUT_NAME: {0: "batch"}, OUTPUT_NAME: {0: "batch"}})
        out.write_bytes(buf.getvalue())
    else:
        with warnings.catch_warnings(), torch.no_grad():
            warnings.simplefilter("ignore", torch.jit.TracerWarning)
            traced = torch.jit.trace(pipeline, (example,), check_trace=False)
        torch.jit.save(traced, str(out), _extra_files={INPUT_SHAPE_FILE: json.dumps([channels, pipeline.window])})
    return out


def _run_exported(path: Path, fmt: str, windows: np.ndarray) -> np.ndarray:
    return ExportedModel(path, {"format": fmt})(windows)


def export_run(run_dir: str | Path, fmt: str, out: str | Path, *, checkpoint: str = "best",
               window_samples: int | None = None, rate: float | None = None,
               tolerance: float = PARITY_TOLERANCE, quantize: str | None = None,
               log: Callable[[str], None] = print, **int8_bounds) -> dict:
    """Export a run's model with its input pipeline; check parity; write the manifest. Returns the manifest.

    ``quantize="int8"`` writes the static int8 (QDQ) model instead (:mod:`harkd.deploy.quantize`);
    ``int8_bounds`` (``min_agreement``, ``max_accuracy_drop``) override its check's bounds."""
    check_format(fmt)
    _check_quantize(quantize, fmt)
    check_output(out, fmt)
    loaded = load_for_export(run_dir, checkpoint, window_samples, rate)
    return export_loaded(loaded, fmt, out, tolerance=tolerance, quantize=quantize, log=log, **int8_bounds)


def _check_quantize(quantize: str | None, fmt: str) -> None:
    from harkd.deploy.quantize import check_mode

    if check_mode(quantize) and fmt != "onnx":
        raise InputError(f"--quantize {quantize} needs --format onnx (ONNX Runtime runs the quantized model), "
                         f"got --format {fmt}")


def check_output(out: str | Path, fmt: str) -> Path:
    """``out`` as a Path; InputError when it is a directory or lies under a file."""
    out = Path(out)
    if out.is_dir():
        example = out / ("model.onnx" if fmt == "onnx" else "model.pt")
        raise InputError(f"export output {out} is a directory: name the model file, e.g. {example}")
    blocking = file_in_the_way(out)
    if blocking is not None:
        raise InputError(f"export output {out}: {blocking} is a file, not a directory")
    return out


def export_loaded(loaded: LoadedRun, fmt: str, out: str | Path, *, tolerance: float = PARITY_TOLERANCE,
                  quantize: str | None = None, log: Callable[[str], None] = print, **int8_bounds) -> dict:
    """Export, check parity (and quantize) and write the manifest; nothing appears at ``out`` unless all succeed."""
    check_format(fmt)
    _check_quantize(quantize, fmt)
    out = check_output(out, fmt)
    out.parent.mkdir(parents=True, exist_ok=True)
    stamp = f"{os.getpid()}.{uuid.uuid4().hex[:8]}.tmp"
    tmp_model, tmp_manifest = out.with_name(f".{out.name}.{stamp}"), out.with_name(f".{out.name}.json.{stamp}")
    try:
        manifest = _export_checked(loaded, fmt, out, tmp_model, tolerance, log)
        if quantize:
            manifest = _quantized(loaded, out, tmp_model, manifest, log, **int8_bounds)
        tmp_manifest.write_text(json.dumps(manifest, indent=1))
        os.replace(tmp_model, out)
        try:
            os.replace(tmp_manifest, manifest_path(out))
        except BaseException:  # no model without its manifest, no stale manifest beside another model
            for path in (out, manifest_path(out)):
                with contextlib.suppress(OSError):
                    path.unlink(missing_ok=True)
            raise
    finally:
        tmp_model.unlink(missing_ok=True)
        tmp_manifest.unlink(missing_ok=True)
    return manifest


def _quantized(loaded: LoadedRun, out: Path, tmp: Path, manifest: dict, log: Callable[[str], None],
               **bounds) -> dict:
    """Replace the checked fp32 model at ``tmp`` by its int8 model once that passes its check; its manifest."""
    from harkd.deploy import quantize as q

    tmp_int8 = tmp.with_name(tmp.name + ".int8")
    try:
        calibration = q.calibration_windows(loaded)
        what = q.quantize_onnx(tmp, tmp_int8, calibration, INPUT_NAME)
        windows, labels, split = q.split_windows(loaded)
        check = q.check_int8(_run_exported(tmp, "onnx", windows), _run_exported(tmp_int8, "onnx", windows),
                             labels, split, **bounds)
        log(f"int8 check ({len(windows)} {check.split} windows): top-1 agreement with fp32 "
            f"{100 * check.agreement:.1f} %, accuracy {100 * check.accuracy_fp32:.1f} % -> "
            f"{100 * check.accuracy_int8:.1f} %")
        if not check.passed:
            raise check.failure(out)
        fp32_bytes = tmp.stat().st_size
        os.replace(tmp_int8, tmp)
    finally:
        tmp_int8.unlink(missing_ok=True)
    return {**manifest, "sha256": sha256_file(tmp), "size_bytes": tmp.stat().st_size, "quantization": {
        "mode": "int8", "format": "QDQ (ONNX Runtime static quantization)",
        "weights": "int8, symmetric, per output channel", "activations": "uint8, per tensor, min-max calibration",
        **what,
        "float": "input pipeline (resampling, normalisation, GAF), global average pool, the classifier's output "
                 "(float logits) and softmax",
        "calibration": {"split": "train", "windows": int(len(calibration)),
                        "windows_per_recording": f"centred + up to {q.CALIBRATION_SHIFTS} shifted"},
        "check": check.to_dict(), "fp32_size_bytes": fp32_bytes}}


def _export_checked(loaded: LoadedRun, fmt: str, out: Path, tmp: Path, tolerance: float,
                    log: Callable[[str], None]) -> dict:
    """Write the model to ``tmp``, check its parity; the manifest of the model as ``out``."""
    spec = loaded.spec
    pipeline = loaded.pipeline
    channels = len(spec.channels)
    export_pipeline(pipeline, fmt, tmp, channels)
    windows, source = parity_windows(loaded)
    expected = eager_probabilities(loaded, windows)
    got = _run_exported(tmp, fmt, windows)
    diff = float(np.max(np.abs(got - expected))) if got.shape == expected.shape else float("inf")
    runtime = "onnxruntime" if fmt == "onnx" else "torch.jit.load"
    log(f"parity ({runtime} vs PyTorch eager, {len(windows)} windows): max abs diff on probabilities "
        f"{diff:.3g} (tolerance {tolerance:g})")
    if not diff <= tolerance:
        raise ParityError(f"parity check failed: {runtime} differs from the PyTorch eager pipeline by {diff:.3g} "
                          f"on probabilities (tolerance {tolerance:g}, {len(windows)} windows from {source}); "
                          f"nothing was written to {out}")
    params = count_parameters(loaded.model)
    macs = count_macs(pipeline, torch.zeros(1, channels, spec.window_samples))
    return {
        "format": fmt,
        "file": out.name,
        "sha256": sha256_file(tmp),
        "size_bytes": tmp.stat().st_size,
        "class_names": spec.class_names,
        "sampling_rate_hz": spec.sampling_rate_hz,
        "window_samples": spec.window_samples,
        "window_seconds": round(spec.window_seconds, 6),
        "input": {"name": INPUT_NAME, "shape": ["batch", channels, spec.window_samples], "dtype": "float32",
                  "layout": "(batch, channels, samples): raw sensor values, oldest sample first"},
        "output": {"name": OUTPUT_NAME, "shape": ["batch", len(spec.class_names)],
                   "meaning": "class probabilities (softmax), in class_names order"},
        "sensor": spec.sensor,
        "channels": spec.channels,
        "units": spec.units,
        "stream_columns": spec.columns,
        "resample": None if spec.length is None else {
            "method": "linear interpolation at linspace(0, W-1, length): one Resize node (linear, align_corners)",
            "from_samples": spec.window_samples, "to_samples": spec.length},
        "remove_mean": spec.remove_mean,
        "normalization": spec.normalization,
        "gaf": spec.gaf,
        "model": {"name": spec.model_name, "args": spec.model_args, "parameters": params, "macs_per_window": macs},
        "run": {"dir": str(loaded.run_dir), "kind": loaded.kind, "checkpoint": loaded.checkpoint,
                "seed": loaded.meta.get("seed"), "git": loaded.meta.get("git")},
        "harkd_version": __version__,
        "torch_version": torch.__version__,
        "onnx_opset": ONNX_OPSET if fmt == "onnx" else None,
        "exported_at": datetime.datetime.now(datetime.timezone.utc).isoformat(timespec="seconds"),
        "parity": {"runtime": runtime, "reference": "PyTorch eager: data-layer transforms + model + softmax",
                   "windows": int(len(windows)), "source": source, "max_abs_diff": diff, "tolerance": tolerance,
                   "passed": True},
        "quantization": None,
    }
