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
import hashlib
import io
import json
import math
import numbers
import os
import uuid
import warnings
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Callable

import numpy as np
import torch

from harkd._version import __version__
from harkd.errors import (DataError, HarkdError, InputError, MissingDependencyError, ParityError, file_in_the_way,
                          unknown_key_message)
from harkd.deploy.macs import count_macs, count_parameters
from harkd.deploy.pipeline import DeployablePipeline, PipelineSpec, build_pipeline, pipeline_spec

__all__ = ["FORMATS", "PARITY_TOLERANCE", "ExportedModel", "LoadedRun", "load_for_export", "export_pipeline",
           "export_run", "load_exported", "manifest_path", "read_manifest", "sha256_file", "parity_windows",
           "eager_probabilities", "ParityError"]

FORMATS = ("onnx", "torchscript")
PARITY_TOLERANCE = 1e-5
ONNX_OPSET = 17
INPUT_NAME, OUTPUT_NAME = "window", "probabilities"
INPUT_SHAPE_FILE = "harkd_input_shape.json"  # [channels, window] inside a TorchScript file (its graph accepts any W)
MAX_PARITY_WINDOWS = 48


def manifest_path(model_file: str | Path) -> Path:
    """The manifest of ``model.onnx`` is ``model.onnx.json``."""
    model_file = Path(model_file)
    return model_file.with_name(model_file.name + ".json")


def _is_number(v) -> bool:
    return isinstance(v, numbers.Real) and not isinstance(v, bool) and math.isfinite(v) and v > 0


def _is_int(v, minimum: int) -> bool:
    return isinstance(v, int) and not isinstance(v, bool) and v >= minimum


def _is_names(v) -> bool:
    return isinstance(v, list) and len(v) > 0 and all(isinstance(x, str) for x in v)


#: manifest key -> (check, what it must be); the keys harkd stream / bench read
MANIFEST_KEYS: dict[str, tuple[Callable[[Any], bool], str]] = {
    "format": (lambda v: v in FORMATS, "'onnx' or 'torchscript'"),
    "class_names": (_is_names, "a non-empty list of strings"),
    "sampling_rate_hz": (_is_number, "a number > 0"),
    "window_samples": (lambda v: _is_int(v, 2), "an integer >= 2"),
    "window_seconds": (_is_number, "a number > 0"),
    "channels": (_is_names, "a non-empty list of strings"),
    "stream_columns": (lambda v: isinstance(v, list) and len(v) > 0 and all(_is_int(c, 0) for c in v),
                       "a non-empty list of integers >= 0"),
    "model": (lambda v: isinstance(v, dict) and isinstance(v.get("name"), str), "an object with a 'name'"),
}
_REEXPORT = "re-export the model with harkd export"


def read_manifest(model_file: str | Path) -> dict | None:
    """The validated manifest next to ``model_file``; None when there is none.

    DataError naming the manifest for a file that is not JSON, not an object, lacks a
    key harkd reads or has a value of the wrong type (see ``MANIFEST_KEYS``).
    """
    path = manifest_path(model_file)
    if not path.is_file():
        return None
    try:
        manifest = json.loads(path.read_text(encoding="utf-8"))
    except json.JSONDecodeError as err:
        raise DataError(path, f"corrupt manifest, not valid JSON ({err.msg} at line {err.lineno} column "
                              f"{err.colno}); {_REEXPORT}") from None
    except UnicodeDecodeError:
        raise DataError(path, f"corrupt manifest, not UTF-8 text; {_REEXPORT}") from None
    if not isinstance(manifest, dict):
        raise DataError(path, f"corrupt manifest: expected a JSON object, got {type(manifest).__name__}; {_REEXPORT}")
    missing = [key for key in MANIFEST_KEYS if key not in manifest]
    if missing:
        raise DataError(path, f"manifest lacks {', '.join(repr(k) for k in missing)}; {_REEXPORT}")
    for key, (check, expected) in MANIFEST_KEYS.items():
        if not check(manifest[key]):
            raise DataError(path, f"manifest key '{key}' must be {expected}, got {json.dumps(manifest[key])[:60]}; "
                                  f"{_REEXPORT}")
    if len(manifest["stream_columns"]) != len(manifest["channels"]):
        raise DataError(path, f"manifest lists {len(manifest['channels'])} channels but "
                              f"{len(manifest['stream_columns'])} stream_columns; {_REEXPORT}")
    seconds, rate, samples = manifest["window_seconds"], manifest["sampling_rate_hz"], manifest["window_samples"]
    if abs(seconds * rate - samples) > 0.5:
        raise DataError(path, f"manifest window_seconds {seconds:g} at sampling_rate_hz {rate:g} is "
                              f"{seconds * rate:.6g} samples, but window_samples is {samples}; {_REEXPORT}")
    return manifest


def sha256_file(path: str | Path) -> str:
    digest = hashlib.sha256()
    with open(path, "rb") as handle:
        for block in iter(lambda: handle.read(1 << 20), b""):
            digest.update(block)
    return digest.hexdigest()


def _check_format(fmt: str) -> str:
    if fmt not in FORMATS:
        raise InputError(unknown_key_message("export format", str(fmt), FORMATS))
    return fmt


def infer_format(out: str | Path) -> str:
    suffix = Path(out).suffix.lower()
    if suffix == ".onnx":
        return "onnx"
    if suffix in (".pt", ".ts", ".torchscript"):
        return "torchscript"
    raise InputError(f"cannot tell the export format from '{out}': pass --format onnx|torchscript")


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
    if rate is not None and not _is_number(rate):
        raise InputError(f"rate must be a sampling rate in Hz > 0, got {rate!r}")
    if window_samples is not None and not _is_int(window_samples, 2):
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
def _onnxruntime():
    try:
        import onnxruntime
    except ImportError:
        raise MissingDependencyError("onnxruntime", "export", "ONNX export") from None
    return onnxruntime


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


class ExportedModel:
    """An exported file behind one call: ``(n, C, W)`` float32 -> ``(n, classes)`` probabilities."""

    def __init__(self, path: str | Path, manifest: dict | None = None, threads: int | None = None):
        self.path = Path(path)
        if not self.path.is_file():
            raise DataError(self.path, "model file not found")
        if manifest is None:
            manifest = read_manifest(self.path)
        self.manifest = manifest
        self.format = (manifest or {}).get("format") or infer_format(self.path)
        if self.format == "onnx":
            ort = _onnxruntime()
            options = ort.SessionOptions()
            if threads is not None:
                options.intra_op_num_threads = threads
                options.inter_op_num_threads = 1
            try:
                self.session = ort.InferenceSession(str(self.path), options, providers=["CPUExecutionProvider"])
            except Exception as err:  # onnxruntime raises its own exception types
                raise DataError(self.path, f"cannot load ONNX model ({type(err).__name__}: {err})") from None
            self.input_name = self.session.get_inputs()[0].name
        else:
            extra = {INPUT_SHAPE_FILE: ""}
            try:
                self.module = torch.jit.load(str(self.path), map_location="cpu", _extra_files=extra).eval()
                self.input_shape = json.loads(extra[INPUT_SHAPE_FILE]) if extra[INPUT_SHAPE_FILE] else None
            except Exception as err:
                raise DataError(self.path, f"cannot load TorchScript model ({type(err).__name__}: {err})") from None
        if manifest and all(key in manifest for key in ("channels", "window_samples", "class_names")):
            self._check_shapes(manifest)

    def _check_shapes(self, manifest: dict) -> None:
        """DataError naming the manifest when its window, channels or classes are not the model file's."""
        expected_in = [len(manifest["channels"]), manifest["window_samples"]]
        if self.format == "onnx":  # the graph's static dimensions (the batch is dynamic)
            got_in = list(self.session.get_inputs()[0].shape)[1:]
            got_out = (list(self.session.get_outputs()[0].shape) + [None])[1]
        else:  # the [channels, window] harkd stores in the file (older files: the manifest's), and one call on it
            got_in = self.input_shape or expected_in
            try:
                with torch.no_grad():
                    got_out = tuple(self.module(torch.zeros(1, *got_in)).shape)[-1]
            except Exception as err:
                reason = (str(err).strip().splitlines() or [type(err).__name__])[-1][:200]
                raise DataError(manifest_path(self.path), f"manifest does not match {self.path.name}: it fails on a "
                                f"window of {got_in[0]} channels x {got_in[1]} samples ({reason}); {_REEXPORT}") from None
        wrong = [f"{what} {want} but the model file takes {have}" for what, want, have in
                 zip(("channels", "window_samples"), expected_in, got_in) if isinstance(have, int) and have != want]
        if isinstance(got_out, int) and got_out != len(manifest["class_names"]):
            wrong.append(f"{len(manifest['class_names'])} class_names but the model file gives {got_out} probabilities")
        if wrong:
            raise DataError(manifest_path(self.path), f"manifest does not match {self.path.name}: it says "
                                                      f"{'; '.join(wrong)}; {_REEXPORT}")

    @property
    def runtime(self) -> str:
        return "onnxruntime" if self.format == "onnx" else "torchscript"

    def __call__(self, windows: np.ndarray) -> np.ndarray:
        windows = np.ascontiguousarray(windows, dtype=np.float32)
        if self.format == "onnx":
            return self.session.run(None, {self.input_name: windows})[0]
        with torch.no_grad():
            return self.module(torch.from_numpy(windows)).numpy()


def load_exported(path: str | Path, threads: int | None = None) -> ExportedModel:
    return ExportedModel(path, threads=threads)


def _run_exported(path: Path, fmt: str, windows: np.ndarray) -> np.ndarray:
    return ExportedModel(path, {"format": fmt})(windows)


def export_run(run_dir: str | Path, fmt: str, out: str | Path, *, checkpoint: str = "best",
               window_samples: int | None = None, rate: float | None = None,
               tolerance: float = PARITY_TOLERANCE, quantize: str | None = None,
               log: Callable[[str], None] = print, **int8_bounds) -> dict:
    """Export a run's model with its input pipeline; check parity; write the manifest. Returns the manifest.

    ``quantize="int8"`` writes the static int8 (QDQ) model instead (:mod:`harkd.deploy.quantize`);
    ``int8_bounds`` (``min_agreement``, ``max_accuracy_drop``) override its check's bounds."""
    _check_format(fmt)
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
    _check_format(fmt)
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
