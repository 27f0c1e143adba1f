"""Static int8 quantization of an exported ONNX pipeline, checked against its fp32 model.

``harkd export RUN --format onnx --quantize int8`` exports the fp32 pipeline (checked
against PyTorch as usual), then quantizes it with ONNX Runtime's static quantizer in QDQ
form (QuantizeLinear / DequantizeLinear pairs that ONNX Runtime fuses into int8 kernels):

- **what is int8**: the weights of the model's convolutions and fully connected layers
  (int8, symmetric, per output channel) and the activations between them (uint8,
  per tensor, ranges from calibration), the ReLUs and the residual sums included, so that
  ONNX Runtime runs the model from its first convolution to its global pooling in int8
  kernels with no float round trip between layers;
- **what stays float**: the input pipeline (resampling, normalisation with the
  training statistics, the GAF encoding, whose cosines and outer products int8 would
  break), the global average pool, the classifier's output (its int8 kernel writes float
  logits, so no requantization step sits before the softmax) and the final softmax. Only
  nodes of the model (ONNX names under ``/model/``) are quantized;
- **calibration**: raw windows of the *training* split (the centred window of every
  training recording plus up to ``CALIBRATION_SHIFTS`` shifted ones, seeded), min-max
  ranges. The validation and test splits are not read for calibration;
- **check**: the int8 and fp32 ONNX models run on windows of the validation split (at
  ``CHECK_OFFSETS`` of every recording; the training split when the run has no validation
  split, with a warning). The top-1 agreement and both accuracies are reported in the
  manifest; an agreement below ``MIN_AGREEMENT`` or an accuracy drop above
  ``MAX_ACCURACY_DROP`` points is a :class:`~harkd.errors.ParityError` and nothing
  is written. On a small split each bound allows at least one window (one window of 18 is
  already 5.6 points), so the check flags a broken model, not one unlucky window.
"""

from __future__ import annotations

import contextlib
import io
import logging
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from harkd.errors import HarkdError, InputError, MissingDependencyError, ParityError, warn

__all__ = ["QUANTIZE_MODES", "MIN_AGREEMENT", "MAX_ACCURACY_DROP", "QuantizationCheck", "calibration_windows",
           "split_windows", "quantize_onnx", "compact_names", "check_int8"]

QUANTIZE_MODES = ("int8",)
MIN_AGREEMENT = 0.90  # top-1 agreement of int8 with fp32 on the validation windows
MAX_ACCURACY_DROP = 2.0  # percentage points of validation accuracy int8 may lose against fp32
CALIBRATION_SHIFTS = 2  # shifted windows per training recording, beside its centred one
CHECK_OFFSETS = (0.25, 0.5, 0.75)  # where the check's windows start, as a fraction of each clip's free range
MAX_CALIBRATION_WINDOWS = 512
QUANTIZED_OPS = ("Conv", "Gemm", "MatMul", "Relu", "Add")
FLOAT_OUTPUT_OPS = ("Gemm",)  # int8 inputs, float output: the logits are not requantized
MODEL_SCOPE = "/model/"  # ONNX node names of the pipeline's model (the input pipeline is outside it)


def check_mode(mode: str | None) -> str | None:
    if mode is not None and mode not in QUANTIZE_MODES:
        raise InputError(f"unknown quantization '{mode}' (supported: {', '.join(QUANTIZE_MODES)})")
    return mode


def _window(clip: np.ndarray, w: int, offset: float) -> np.ndarray:
    """The ``w``-sample window of ``clip`` starting at ``offset`` (0..1) of its free range; a short clip stretched."""
    from harkd.data.transforms import resample_time

    t = clip.shape[0]
    if t < w:
        return np.ascontiguousarray(resample_time(clip, w).T, dtype=np.float32)
    start = int(round(offset * (t - w)))
    return np.ascontiguousarray(clip[start:start + w].T, dtype=np.float32)


def _clips(loaded, split: str):
    dataset = loaded.prepared.datasets[split]
    options = loaded.transform.load_options()
    for rec in dataset.recordings:
        yield rec, dataset.spec.load(rec, loaded.spec.modality, root=dataset.index.root, **options)


def calibration_windows(loaded, seed: int = 0, limit: int = MAX_CALIBRATION_WINDOWS) -> np.ndarray:
    """``(n, C, W)`` raw training windows: each recording's centred window and shifted ones."""
    rng = np.random.default_rng(seed)
    windows = []
    for _, clip in _clips(loaded, "train"):
        offsets = [0.5, *rng.uniform(0, 1, CALIBRATION_SHIFTS)] if clip.shape[0] > loaded.spec.window_samples else [0.5]
        windows += [_window(clip, loaded.spec.window_samples, o) for o in offsets]
    if not windows:
        raise InputError("no training recordings to calibrate the int8 model on")
    order = rng.permutation(len(windows))[:limit]
    return np.stack([windows[i] for i in sorted(order)])


def split_windows(loaded, split: str = "val") -> tuple[np.ndarray, np.ndarray, str]:
    """Raw windows (at :data:`CHECK_OFFSETS`; one for a clip no longer than the window) and labels of
    ``split`` (``train`` when that split is empty, with a warning)."""
    if not len(loaded.prepared.datasets[split]):
        warn(f"{loaded.run_dir} has no {split} recordings: the int8 check compares on the training recordings")
        split = "train"
    w = loaded.spec.window_samples
    pairs = [(_window(clip, w, offset), rec.label) for rec, clip in _clips(loaded, split)
             for offset in (CHECK_OFFSETS if clip.shape[0] > w else (0.5,))]
    return np.stack([window for window, _ in pairs]), np.array([label for _, label in pairs]), split


def _quantization_module():
    try:
        from onnxruntime import quantization
    except ImportError:
        raise MissingDependencyError("onnxruntime", "export", "int8 quantization") from None
    return quantization


def quantize_onnx(fp32_path: Path, out_path: Path, calibration: np.ndarray, input_name: str) -> dict:
    """Write the static QDQ int8 model of ``fp32_path`` to ``out_path``; returns what was quantized."""
    import onnx

    q = _quantization_module()
    graph = onnx.load(str(fp32_path)).graph
    nodes = [n.name for n in graph.node if n.name.startswith(MODEL_SCOPE) and n.op_type in QUANTIZED_OPS]
    if not nodes:
        raise InputError(f"{fp32_path}: the model has no convolution or linear layer to quantize")

    class Reader(q.CalibrationDataReader):
        def __init__(self):
            self.batches = iter(calibration[i:i + 1] for i in range(len(calibration)))

        def get_next(self):
            batch = next(self.batches, None)
            return None if batch is None else {input_name: batch}

    quiet = logging.getLogger()  # the quantizer logs advice on the root logger and prints progress
    level = quiet.level
    quiet.setLevel(logging.ERROR)
    try:
        with contextlib.redirect_stdout(io.StringIO()):
            q.quantize_static(str(fp32_path), str(out_path), Reader(), quant_format=q.QuantFormat.QDQ,
                              per_channel=True, weight_type=q.QuantType.QInt8,
                              activation_type=q.QuantType.QUInt8, calibrate_method=q.CalibrationMethod.MinMax,
                              nodes_to_quantize=nodes, use_external_data_format=False,
                              extra_options={"OpTypesToExcludeOutputQuantization": list(FLOAT_OUTPUT_OPS)},
                              calibration_providers=["CPUExecutionProvider"])
    finally:
        quiet.setLevel(level)
    compact = compact_names(onnx.load(str(out_path)))
    onnx.save(compact, str(out_path))
    counts: dict[str, int] = {}
    for node in graph.node:
        if node.name in nodes:
            counts[node.op_type] = counts.get(node.op_type, 0) + 1
    return {"quantized_ops": counts, "quantized_nodes": len(nodes)}


def compact_names(model):
    """``model`` with short internal tensor names, no node names, shape annotations or doc strings.

    A QDQ graph names every tensor after its producer's path ("/model/stages.0/.../Conv_output_0_
    QuantizeLinear_Output"): for a model of ~30k int8 weights those names are about as large as the
    weights. The graph's input and output keep their names; the computation is unchanged."""
    graph = model.graph
    keep = {v.name for v in graph.input} | {v.name for v in graph.output}
    names: dict[str, str] = {}

    def short(name: str) -> str:
        if not name or name in keep:
            return name
        return names.setdefault(name, f"t{len(names)}")

    for init in graph.initializer:
        init.name = short(init.name)
        init.doc_string = ""
    for node in graph.node:
        node.name, node.doc_string = "", ""
        node.input[:] = [short(n) for n in node.input]
        node.output[:] = [short(n) for n in node.output]
    del graph.value_info[:]
    graph.doc_string = model.doc_string = ""
    return model


@dataclass
class QuantizationCheck:
    """int8 against fp32 on the same windows."""

    split: str
    windows: int
    agreement: float
    accuracy_fp32: float
    accuracy_int8: float
    max_abs_diff: float
    min_agreement: float = MIN_AGREEMENT
    max_accuracy_drop: float = MAX_ACCURACY_DROP

    @property
    def accuracy_drop(self) -> float:
        """Points of accuracy lost (negative: int8 is better on these windows)."""
        return 100 * (self.accuracy_fp32 - self.accuracy_int8)

    def _allowed(self, fraction: float) -> float:
        """A bound as a fraction of the windows, at least one window."""
        return max(fraction, 1 / self.windows) + 1e-9

    @property
    def passed(self) -> bool:
        return (1 - self.agreement <= self._allowed(1 - self.min_agreement)
                and self.accuracy_drop / 100 <= self._allowed(self.max_accuracy_drop / 100))

    def to_dict(self) -> dict:
        return {"split": self.split, "windows": self.windows, "top1_agreement": self.agreement,
                "accuracy_fp32": self.accuracy_fp32, "accuracy_int8": self.accuracy_int8,
                "accuracy_drop_points": self.accuracy_drop, "max_abs_diff": self.max_abs_diff,
                "bounds": {"min_top1_agreement": self.min_agreement,
                           "max_accuracy_drop_points": self.max_accuracy_drop},
                "passed": self.passed}

    def failure(self, out: Path) -> HarkdError:
        return ParityError(
            f"int8 check failed on {self.windows} {self.split} windows: top-1 agreement with fp32 "
            f"{100 * self.agreement:.1f} % (bound >= {100 * self.min_agreement:.0f} %), accuracy "
            f"{100 * self.accuracy_fp32:.1f} % -> {100 * self.accuracy_int8:.1f} % (drop {self.accuracy_drop:.1f} "
            f"points, bound <= {self.max_accuracy_drop:g}; each bound allows at least one window); the calibration does not fit this model: nothing was "
            f"written to {out}")


def check_int8(fp32_probs: np.ndarray, int8_probs: np.ndarray, labels: np.ndarray, split: str,
               min_agreement: float = MIN_AGREEMENT, max_accuracy_drop: float = MAX_ACCURACY_DROP) -> QuantizationCheck:
    """Compare int8 and fp32 probabilities of the same windows."""
    a, b = fp32_probs.argmax(1), int8_probs.argmax(1)
    return QuantizationCheck(split, int(len(labels)), float(np.mean(a == b)), float(np.mean(a == labels)),
                             float(np.mean(b == labels)), float(np.max(np.abs(fp32_probs - int8_probs))),
                             min_agreement, max_accuracy_drop)
