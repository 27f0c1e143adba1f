"""An exported model file behind one call (onnxruntime or TorchScript), checked against its manifest."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import torch

from harkd.deploy.manifest import INPUT_SHAPE_FILE, REEXPORT, infer_format, manifest_path, read_manifest
from harkd.errors import DataError, MissingDependencyError

__all__ = ["ExportedModel", "load_exported"]


def _onnxruntime():
    try:
        import onnxruntime
    except ImportError:
        raise MissingDependencyError("onnxruntime", "export", "ONNX export") from None
    return onnxruntime


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
                                f"window of {got_in[0]} channels x {got_in[1]} samples ({reason}); {REEXPORT}") from None
        wrong = [f"{what} {want} but the model file takes {have}" for what, want, have in
                 zip(("channels", "window_samples"), expected_in, got_in) if isinstance(have, int) and have != want]
        if isinstance(got_out, int) and got_out != len(manifest["class_names"]):
            wrong.append(f"{len(manifest['class_names'])} class_names but the model file gives {got_out} probabilities")
        if wrong:
            raise DataError(manifest_path(self.path), f"manifest does not match {self.path.name}: it says "
                                                      f"{'; '.join(wrong)}; {REEXPORT}")

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
