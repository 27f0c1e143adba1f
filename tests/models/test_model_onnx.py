"""ONNX export + onnxruntime parity for the deployable sensor students."""

import io
import warnings

import numpy as np
import pytest
import torch

ort = pytest.importorskip("onnxruntime")
pytest.importorskip("onnx")


@pytest.mark.parametrize("name, dynamic", [("gaf_resnet18", {0: "batch"}), ("dmm_resnet", {0: "batch"}),
                                           ("imu_cnn1d", {0: "batch", 2: "time"})])
def test_onnx_matches_torch(name, dynamic, tiny_model, tiny_input):
    model = tiny_model(name, head=dict(semantic_dim=6)).eval()
    buf = io.BytesIO()
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", DeprecationWarning)  # the TorchScript-based exporter (no onnxscript needed)
        torch.onnx.export(model, (tiny_input(name),), buf, dynamo=False, opset_version=17, input_names=["x"],
                          output_names=["logits"], dynamic_axes={"x": dynamic, "logits": {0: "batch"}})
    session = ort.InferenceSession(buf.getvalue(), providers=["CPUExecutionProvider"])
    x = tiny_input(name, batch=3, seed=4)
    if name == "imu_cnn1d":
        x = torch.cat([x, x[..., :7]], dim=-1)  # a different series length
    (got,) = session.run(None, {"x": x.numpy()})
    with torch.no_grad():
        expected = model(x).numpy()
    np.testing.assert_allclose(got, expected, rtol=1e-4, atol=1e-4)


@pytest.mark.parametrize("in_chans", [1, 3])  # depth and RGB clips
def test_r2plus1d_onnx_matches_torch(in_chans, tiny_model):
    model = tiny_model("r2plus1d", in_chans=in_chans, head=dict(semantic_dim=6)).eval()
    gen = torch.Generator().manual_seed(0)
    for bn in (m for m in model.modules() if isinstance(m, torch.nn.BatchNorm3d)):  # every path non-trivial
        for t in (bn.weight.data, bn.bias.data, bn.running_mean):
            t.copy_(torch.randn(t.shape, generator=gen))
        bn.running_var.uniform_(0.5, 2.0, generator=gen)
    clip = lambda batch, seed: torch.randn(batch, 4, in_chans, 12, 12, generator=torch.Generator().manual_seed(seed))
    buf = io.BytesIO()
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", DeprecationWarning)
        torch.onnx.export(model, (clip(2, 1),), buf, dynamo=False, opset_version=17, input_names=["x"],
                          output_names=["logits"], dynamic_axes={"x": {0: "batch"}, "logits": {0: "batch"}})
    session = ort.InferenceSession(buf.getvalue(), providers=["CPUExecutionProvider"])
    x = clip(3, 4)
    (got,) = session.run(None, {"x": x.numpy()})
    with torch.no_grad():
        expected = model(x).numpy()
    assert got.shape == (3, 5)
    np.testing.assert_allclose(got, expected, rtol=1e-4, atol=1e-4)
