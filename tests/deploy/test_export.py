"""Export with the input pipeline inside: parity, manifest, dynamic batch, errors, publish."""

from __future__ import annotations

import json
import re

import numpy as np
import pytest
import torch

pytest.importorskip("onnxruntime")
pytest.importorskip("onnx")

from harkd.cli.main import main  # noqa: E402
from harkd.errors import InputError  # noqa: E402
from harkd.data.transforms import resample_time  # noqa: E402
from harkd.deploy import ExportedModel, count_macs, export_run, interpolation_matrix, manifest_path, sha256_file  # noqa: E402
from harkd.deploy.exporter import eager_probabilities, load_for_export, parity_windows  # noqa: E402


@pytest.mark.parametrize("window, length", [(175, 128), (50, 128), (128, 128), (300, 64), (2, 5)])
def test_interpolation_matrix_is_resample_time(window, length):
    x = np.random.default_rng(0).standard_normal((window, 3)).astype(np.float32) * 3
    expected = resample_time(x, length)
    got = (torch.from_numpy(x.T.copy()) @ torch.from_numpy(interpolation_matrix(window, length))).numpy().T
    np.testing.assert_allclose(got, expected, rtol=0, atol=2e-6)


@pytest.mark.parametrize("window, length", [(175, 128), (50, 128), (128, 128), (300, 64), (2, 5), (3, 2)])
def test_the_pipeline_resamples_like_training(window, length):
    from harkd.deploy.pipeline import DeployablePipeline

    seen = []
    pipeline = DeployablePipeline(lambda x: seen.append(x) or x[..., 0], window, length)
    x = np.random.default_rng(1).standard_normal((2, 3, window)).astype(np.float32) * 3
    pipeline(torch.from_numpy(x))
    expected = np.stack([resample_time(clip.T, length).T for clip in x])
    # Resize computes the source positions j (W - 1) / (L - 1) in float32; training in float64
    np.testing.assert_allclose(seen[0].numpy(), expected, rtol=0, atol=3e-4)


def test_the_pipeline_normalises_like_training_in_one_onnx_node(tmp_path):
    from harkd.deploy.exporter import export_pipeline
    from harkd.deploy.pipeline import DeployablePipeline

    mean, std = np.array([-0.6, 0.2, 9.8]), np.array([0.7, 0.05, 3.0])
    seen = []
    pipeline = DeployablePipeline(lambda x: seen.append(x) or x[..., 0], 175, None, mean, std)
    x = np.random.default_rng(2).standard_normal((2, 3, 175)).astype(np.float32) * 3
    pipeline(torch.from_numpy(x))
    np.testing.assert_allclose(seen[0].numpy(), (x - mean[:, None]) / std[:, None], rtol=1e-6, atol=1e-6)

    model = torch.nn.Sequential(torch.nn.Conv1d(3, 4, 3), torch.nn.Flatten(), torch.nn.LazyLinear(5))
    pipeline = DeployablePipeline(model, 175, 128, mean, std).eval()
    pipeline(torch.from_numpy(x))
    export_pipeline(pipeline, "onnx", tmp_path / "m.onnx", 3)
    import onnx

    ops = [n.op_type for n in onnx.load(str(tmp_path / "m.onnx")).graph.node if n.op_type != "Constant"]
    assert ops[:3] == ["Resize", "BatchNormalization", "Conv"]


def test_a_window_of_one_sample_cannot_be_resampled():
    from harkd.deploy.pipeline import DeployablePipeline

    with pytest.raises(InputError, match=re.escape("the window must hold at least 2 samples, got 1")):
        DeployablePipeline(torch.nn.Identity(), 1, 128)


@pytest.mark.parametrize("kind", ["raw", "centered", "gaf", "gafds"])
@pytest.mark.parametrize("fmt", ["onnx", "torchscript"])
def test_export_parity_manifest_and_dynamic_batch(kind, fmt, tiny_runs, tmp_path):
    run_dir = tiny_runs(kind)
    out = tmp_path / ("model.onnx" if fmt == "onnx" else "model.pt")
    logs = []
    manifest = export_run(run_dir, fmt, out, log=logs.append)
    assert re.fullmatch(r"parity \((onnxruntime|torch\.jit\.load) vs PyTorch eager, \d+ windows\): max abs diff on "
                        r"probabilities \S+ \(tolerance 1e-05\)", logs[0])
    saved = json.loads(manifest_path(out).read_text())
    assert saved == json.loads(json.dumps(manifest))
    assert saved["sha256"] == sha256_file(out) and saved["size_bytes"] == out.stat().st_size
    assert saved["format"] == fmt and saved["file"] == out.name
    assert saved["parity"]["passed"] and saved["parity"]["max_abs_diff"] <= 1e-5 and saved["parity"]["windows"] > 0
    assert len(saved["class_names"]) == 27 and saved["class_names"][0] == "right arm swipe to the left"
    assert saved["sampling_rate_hz"] == 50.0
    assert saved["window_seconds"] == pytest.approx(saved["window_samples"] / 50.0)
    sensor_channels = {"raw": 3, "centered": 3, "gaf": 3, "gafds": 6}[kind]
    assert saved["remove_mean"] is (kind == "centered")
    assert len(saved["channels"]) == len(saved["units"]) == sensor_channels
    assert saved["units"][:3] == ["g"] * 3 and (kind != "gafds" or saved["units"][3:] == ["deg/s"] * 3)
    assert saved["harkd_version"] and saved["exported_at"] and saved["model"]["name"]
    assert saved["model"]["parameters"] > 0 and saved["model"]["macs_per_window"] > 0
    if kind in ("raw", "centered"):
        assert saved["gaf"] is None and len(saved["normalization"]["mean"]) == 3
    elif kind == "gaf":
        assert saved["gaf"]["image_size"] == 16 and saved["gaf"]["method"] == "both" and saved["gaf"]["scaling"] == "per_sample" and saved["normalization"] is None
    else:
        assert saved["gaf"]["scaling"] == "dataset" and np.shape(saved["gaf"]["range"]) == (2, 6)
    assert saved["resample"]["from_samples"] == saved["window_samples"]

    # dynamic batch: batches of 1 and 5 through the exported file equal the eager pipeline
    loaded = load_for_export(run_dir)
    windows, _ = parity_windows(loaded, limit=5)
    model = ExportedModel(out)
    for batch in (windows[:1], windows):
        got = model(batch)
        assert got.shape == (len(batch), 27)
        np.testing.assert_allclose(got, eager_probabilities(loaded, batch), rtol=0, atol=1e-5)
        np.testing.assert_allclose(got.sum(1), 1, atol=1e-5)


def test_export_cli_and_window_option(raw_run, tmp_path, capsys):
    out = tmp_path / "m.onnx"
    assert main(["export", str(raw_run), "--out", str(out), "--window-samples", "150", "--checkpoint", "last"]) == 0
    text = capsys.readouterr().out
    assert "parity (onnxruntime vs PyTorch eager" in text and f"wrote {out}" in text
    assert "input (batch, 3, 150) = 3.00 s at 50 Hz, channels acc_x [g], acc_y [g], acc_z [g]" in text
    manifest = json.loads(manifest_path(out).read_text())
    assert manifest["window_samples"] == 150 and manifest["run"]["checkpoint"] == "last"


def test_export_errors_are_one_line(raw_run, tmp_path, capsys):
    missing = tmp_path / "no_such_run"
    assert main(["export", str(missing), "--out", str(tmp_path / "m.onnx")]) == 2
    assert capsys.readouterr().err.strip() == f"harkd: error: {missing}: run directory not found"
    assert main(["export", str(raw_run), "--format", "tflite", "--out", str(tmp_path / "m.tflite")]) == 2
    assert capsys.readouterr().err.strip() == "harkd: error: unknown export format 'tflite' (valid: onnx, torchscript)"
    assert main(["export", str(raw_run), "--format", "onxx", "--out", str(tmp_path / "m.onnx")]) == 2
    assert capsys.readouterr().err.strip() == ("harkd: error: unknown export format 'onxx'; did you mean 'onnx'? "
                                              "(valid: onnx, torchscript)")
    assert main(["export", str(raw_run), "--out", str(tmp_path / "m.bin")]) == 2
    assert capsys.readouterr().err.strip() == (f"harkd: error: cannot tell the export format from '{tmp_path / 'm.bin'}': "
                                              "pass --format onnx|torchscript")
    assert main(["export", str(raw_run)]) == 2
    assert capsys.readouterr().err.strip() == ("harkd: error: --out FILE is required (or --publish OUT_DIR for a "
                                              "distillation run)")
    empty = tmp_path / "empty"
    empty.mkdir()
    assert main(["export", str(empty), "--out", str(tmp_path / "m.onnx")]) == 2
    assert capsys.readouterr().err.strip() == f"harkd: error: {empty / 'config.yaml'}: not found: is this a harkd run directory?"


@pytest.mark.parametrize("fmt", ["onnx", "torchscript"])
def test_parity_failure_is_an_error(fmt, raw_run, tmp_path, capsys, monkeypatch):
    import harkd.deploy.exporter as exporter

    real = exporter._run_exported
    monkeypatch.setattr(exporter, "_run_exported", lambda *a: real(*a) + np.float32(1e-3))
    out = tmp_path / ("m.onnx" if fmt == "onnx" else "m.pt")
    assert main(["export", str(raw_run), "--out", str(out)]) == 2
    captured = capsys.readouterr()
    runtime = "onnxruntime" if fmt == "onnx" else "torch.jit.load"
    assert re.search(rf"parity \({re.escape(runtime)} vs PyTorch eager, \d+ windows\): max abs diff on probabilities "
                     r"0\.001 \(tolerance 1e-05\)", captured.out)
    assert re.fullmatch(rf"harkd: error: parity check failed: {re.escape(runtime)} differs from the PyTorch eager "
                        rf"pipeline by 0\.001 on probabilities \(tolerance 1e-05, \d+ windows from .+\); "
                        rf"nothing was written to {re.escape(str(out))}", captured.err.strip())
    assert list(tmp_path.iterdir()) == []  # no model, no manifest, no temporary file


def test_publish_strips_teachers_and_is_exportable(distill_run, tmp_path, capsys):
    pub = tmp_path / "published"
    out = tmp_path / "student.onnx"
    assert main(["export", str(distill_run), "--publish", str(pub), "--out", str(out)]) == 0
    assert f"published the student of {distill_run} to {pub}" in capsys.readouterr().out
    ckpt = torch.load(pub / "best.pt", map_location="cpu", weights_only=False)
    assert set(ckpt) == {"task", "epoch", "published_from"}  # no optimiser, scheduler or RNG state
    assert ckpt["task"] and all(k.startswith("model.") for k in ckpt["task"])
    source = torch.load(distill_run / "best.pt", map_location="cpu", weights_only=False)
    assert any(k.startswith("losses.fitnet") for k in source["task"])  # the adapter that was stripped
    student = {k[len("student."):]: v for k, v in source["task"].items() if k.startswith("student.")}
    assert {k[len("model."):] for k in ckpt["task"]} == set(student)
    for k, v in student.items():
        assert torch.equal(ckpt["task"][f"model.{k}"], v)
    import yaml

    cfg = yaml.safe_load((pub / "config.yaml").read_text())
    assert cfg["model"]["name"] == "imu_cnn1d" and "teachers" not in cfg and "losses" not in cfg
    assert list(cfg["data"]["modalities"]) == ["inertial"]
    meta = json.loads((pub / "run.json").read_text())
    assert meta["kind"] == "train" and list(meta["normalization"]) == ["inertial"]
    assert meta["published_from"]["run_dir"] == str(distill_run.resolve())
    assert not (pub / "last.pt").exists()
    # harkd evaluate accepts it, with the same predictions as the distillation run's student
    assert main(["evaluate", str(pub), "--json", "--no-plots"]) == 0
    published = json.loads(capsys.readouterr().out)
    assert main(["evaluate", str(distill_run), "--json", "--no-plots"]) == 0
    original = json.loads(capsys.readouterr().out)
    assert published["predictions"] == original["predictions"]
    manifest = json.loads(manifest_path(out).read_text())
    assert manifest["parity"]["passed"] and manifest["run"]["kind"] == "train"
    # publishing twice into the same directory, or a train run, is refused
    assert main(["export", str(distill_run), "--publish", str(pub)]) == 2
    assert capsys.readouterr().err.strip() == (f"harkd: error: {pub}: already exists and is not empty; choose "
                                              "another publish directory")


def test_publish_refuses_a_train_run(raw_run, tmp_path, capsys):
    assert main(["export", str(raw_run), "--publish", str(tmp_path / "p")]) == 2
    assert capsys.readouterr().err.strip() == (f"harkd: error: {raw_run} is a 'train' run: only distillation runs "
                                              "are published (a train run already holds one model; export it directly)")


def test_exporting_a_distill_run_directly(distill_run, tmp_path):
    manifest = export_run(distill_run, "torchscript", tmp_path / "s.pt", log=lambda m: None)
    assert manifest["run"]["kind"] == "distill" and manifest["parity"]["passed"]


def test_mac_counter_counts_conv_linear_and_matmul():
    class Net(torch.nn.Module):
        def __init__(self):
            super().__init__()
            self.register_buffer("m", torch.ones(10, 4))
            self.conv = torch.nn.Conv1d(3, 8, 5)  # (1, 3, 4) -> matmul first
            self.fc = torch.nn.Linear(8, 4)

        def forward(self, x):
            x = x @ self.m  # (1, 3, 10) @ (10, 4): 3 * 4 * 10 = 120
            x = torch.nn.functional.pad(x, (2, 2))  # length 8
            x = self.conv(x)  # out (1, 8, 4): 8 * 4 * 3 * 5 = 480
            return self.fc(x.mean(-1))  # 4 * 8 = 32

    assert count_macs(Net(), torch.zeros(1, 3, 10)) == 120 + 480 + 32
    depthwise = torch.nn.Conv2d(4, 4, 3, groups=4, padding=1)
    assert count_macs(depthwise, torch.zeros(1, 4, 5, 5)) == 4 * 25 * 9


def test_parity_uses_real_windows_when_available(raw_run, utd_root, tmp_path):
    """With HARKD_DATA_ROOT set, the parity windows are real UTD-MHAD recordings."""
    manifest = export_run(raw_run, "onnx", tmp_path / "m.onnx", log=lambda m: None)
    assert manifest["parity"]["source"].startswith(f"real recordings {utd_root}")
    assert manifest["parity"]["windows"] == 48 and manifest["parity"]["max_abs_diff"] <= 1e-5
