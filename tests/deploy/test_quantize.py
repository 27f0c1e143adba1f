"""Static int8 export: QDQ graph run by ONNX Runtime, float input pipeline, a check that can fail."""

import json
import re

import numpy as np
import onnx
import pytest

import harkd.deploy.quantize as quantize
from harkd.cli.main import main
from harkd.deploy import ExportedModel, export_run, manifest_path
from harkd.deploy.bench import bench
from harkd.deploy.exporter import load_for_export
from harkd.errors import ParityError


@pytest.fixture(scope="module")
def int8_model(trained_raw_run, tmp_path_factory):
    out = tmp_path_factory.mktemp("int8") / "acc_int8.onnx"
    manifest = export_run(trained_raw_run, "onnx", out, quantize="int8", log=lambda m: None)
    return out, manifest


def test_int8_export_runs_in_onnxruntime_and_records_the_quantization(int8_model, trained_raw_run):
    out, manifest = int8_model
    q = manifest["quantization"]
    assert q["mode"] == "int8" and q["format"].startswith("QDQ")
    # imu_cnn1d [8, 16]: every conv, ReLU and residual sum, and the head
    assert q["quantized_ops"] == {"Conv": 6, "Relu": 5, "Add": 2, "Gemm": 1}
    assert q["calibration"]["split"] == "train" and q["calibration"]["windows"] > 0
    assert q["float"] == ("input pipeline (resampling, normalisation, GAF), global average pool, the classifier's "
                          "output (float logits) and softmax")
    check = q["check"]
    one_window = 1 / check["windows"]  # the synthetic validation split is small: bounds allow one window
    assert check["split"] == "val" and check["passed"] and check["windows"] >= 12
    assert 1 - check["top1_agreement"] <= max(1 - quantize.MIN_AGREEMENT, one_window) + 1e-9
    assert check["accuracy_drop_points"] <= 100 * max(quantize.MAX_ACCURACY_DROP / 100, one_window) + 1e-6
    assert manifest["size_bytes"] == out.stat().st_size
    assert json.loads(manifest_path(out).read_text())["quantization"] == q
    windows, labels, _ = quantize.split_windows(load_for_export(trained_raw_run))
    probs = ExportedModel(out)(windows)
    assert probs.shape == (len(windows), len(manifest["class_names"]))
    np.testing.assert_allclose(probs.sum(1), 1, atol=1e-5)


def test_the_input_pipeline_stays_float(int8_model):
    graph = onnx.load(str(int8_model[0])).graph
    ops = [n.op_type for n in graph.node]
    assert ops.count("QuantizeLinear") >= 7 and "DequantizeLinear" in ops
    weights = {i.name for i in graph.initializer}
    activations = [n for n in graph.node if n.op_type != "Constant"
                   and not (n.op_type == "DequantizeLinear" and n.input[0] in weights)]
    first_q = next(i for i, n in enumerate(activations) if n.op_type == "QuantizeLinear")
    # the raw window goes through the float resampling and normalisation before anything is quantized
    assert [n.op_type for n in activations[:first_q]] == ["Resize", "BatchNormalization"]
    assert graph.input[0].name == "window" and graph.output[0].name == "probabilities"
    assert graph.node[-1].op_type == "Softmax"
    assert all(not n.name for n in graph.node)  # compact: no node names, short tensor names


def test_the_model_runs_int8_from_its_first_convolution_to_its_pooling(int8_model):
    """ONNX Runtime fuses the QDQ graph into int8 kernels: no float round trip between the model's layers
    (each would cost a DequantizeLinear + QuantizeLinear pair, and at batch 1 about as much as a layer),
    and the classifier's int8 kernel writes the float logits the softmax reads."""
    import onnxruntime as ort

    options = ort.SessionOptions()
    options.optimized_model_filepath = str(int8_model[0].with_name("optimized.onnx"))
    ort.InferenceSession(str(int8_model[0]), options, providers=["CPUExecutionProvider"])
    ops = [n.op_type for n in onnx.load(options.optimized_model_filepath).graph.node if n.op_type != "Transpose"]
    first, pool = ops.index("QuantizeLinear"), ops.index("ReduceMean")
    assert ops[:first] == ["Resize", "BatchNormalization"]
    inner = ops[first + 1:pool]
    assert inner and set(inner) <= {"QLinearConv", "QLinearAdd", "DequantizeLinear"}
    assert inner.count("DequantizeLinear") == 1 and inner[-1] == "DequantizeLinear"
    assert ops[pool:] == ["ReduceMean", "QuantizeLinear", "QGemm", "Softmax"]


def test_a_broken_calibration_fails_the_check_and_writes_nothing(trained_raw_run, tmp_path, monkeypatch):
    real = quantize.calibration_windows
    # windows at 100 times their scale: ranges so wide that the int8 steps swamp the signal
    monkeypatch.setattr(quantize, "calibration_windows", lambda loaded, **kw: 100 * real(loaded, **kw))
    out = tmp_path / "broken.onnx"
    with pytest.raises(ParityError, match=re.escape("int8 check failed on ")) as err:
        export_run(trained_raw_run, "onnx", out, quantize="int8", log=lambda m: None)
    assert str(err.value).endswith(f"the calibration does not fit this model: nothing was written to {out}")
    assert "bound >= 90 %" in str(err.value)
    assert not out.exists() and not manifest_path(out).exists() and list(tmp_path.iterdir()) == []


def test_int8_needs_onnx_and_valid_bounds(trained_raw_run, tmp_path, capsys):
    assert main(["export", str(trained_raw_run), "--out", str(tmp_path / "m.pt"), "--quantize", "int8"]) == 2
    assert capsys.readouterr().err.strip() == ("harkd: error: --quantize int8 needs --format onnx (ONNX Runtime "
                                               "runs the quantized model), got --format torchscript")
    with pytest.raises(SystemExit):
        main(["export", str(trained_raw_run), "--out", str(tmp_path / "m.onnx"), "--quantize", "int8",
              "--min-agreement", "1.5"])
    assert "argument --min-agreement: expected a finite number between 0 and 1, got 1.5" in capsys.readouterr().err
    assert list(tmp_path.iterdir()) == []


def test_cli_reports_int8_and_fp32_sizes(trained_raw_run, tmp_path, capsys):
    out = tmp_path / "m.onnx"
    assert main(["export", str(trained_raw_run), "--out", str(out), "--quantize", "int8"]) == 0
    text = capsys.readouterr().out
    assert re.search(r"wrote .*m\.onnx \(\d+\.\d KiB int8, fp32 \d+\.\d KiB, sha256", text)


def test_bench_reports_int8_next_to_fp32(int8_model, trained_raw_run):
    result = bench(int8_model[0], runs=3, warmup=1)
    assert set(result["size_bytes"]) == {"onnx_int8", "onnx"}
    assert {r["runtime"] for r in result["latency"]} == {"onnxruntime-int8"}
    result = bench(trained_raw_run, runs=2, warmup=0)
    assert {"onnx", "onnx_int8"} <= set(result["size_bytes"])
    assert {r["runtime"] for r in result["latency"]} == {"pytorch-eager", "torchscript", "onnx", "onnx-int8"}
    assert {r["threads"] for r in result["latency"]} == {"1", "all"}


@pytest.mark.parametrize("n, disagree, lost, passed", [
    (100, 10, 0, True), (100, 11, 0, False),  # agreement bound 90 %
    (100, 0, 2, True), (100, 0, 3, False),  # accuracy drop bound 2 points
    (10, 1, 1, True), (10, 2, 0, False),  # a small split: one window is allowed, two are not
])
def test_check_bounds_on_known_counts(n, disagree, lost, passed):
    labels = np.zeros(n, dtype=int)
    fp32 = np.tile([[0.9, 0.1]], (n, 1))
    int8 = fp32.copy()
    int8[:max(disagree, lost)] = [0.1, 0.9]  # the first windows flip (and so lose their correct answer)
    if lost < disagree:  # flips that cost nothing: fp32 was wrong on them too
        fp32[lost:disagree], labels[lost:disagree] = [0.9, 0.1], 1
    check = quantize.check_int8(fp32, int8, labels, "val")
    assert check.passed is passed, check.to_dict()


def test_export_help_states_the_int8_bounds(capsys):
    with pytest.raises(SystemExit):
        main(["export", "--help"])
    text = " ".join(capsys.readouterr().out.split())
    assert f"(default: {quantize.MIN_AGREEMENT:g})" in text and f"(default: {quantize.MAX_ACCURACY_DROP:g})" in text
