"""Gramian Angular Field: pyts parity, properties, options, errors, module forms."""

from __future__ import annotations

import io
import re
import warnings

import numpy as np
import pytest
import torch

from harkd.encoding import GramianAngularField, gramian_angular_field, paa, paa_edges, paa_matrix
from harkd.errors import InputError

RNG = np.random.default_rng(7)
SIZES = [(180, None), (180, 64), (107, 32), (30, 22), (256, 128), (50, 49)]


def pyts_gaf(x: np.ndarray, size: int | None, method: str) -> np.ndarray:
    pyts_image = pytest.importorskip("pyts.image")
    flat = x.reshape(-1, x.shape[-1]).astype(np.float64)
    images = pyts_image.GramianAngularField(image_size=size or x.shape[-1], method=method).transform(flat)
    return images.reshape(*x.shape[:-1], *images.shape[-2:])


# ------------------------------------------------------------------ pyts parity
@pytest.mark.parametrize("method", ["summation", "difference"])
@pytest.mark.parametrize("length,size", SIZES)
def test_matches_pyts_on_random_series(method, length, size):
    x = RNG.standard_normal((3, 4, length)) * 5 + 2
    ref = pyts_gaf(x, size, method)
    np.testing.assert_allclose(gramian_angular_field(x, image_size=size, method=method), ref, rtol=0, atol=1e-6)
    x32 = x.astype(np.float32)  # float32 output of float32 input, against pyts on the same values
    out32 = gramian_angular_field(x32, image_size=size, method=method)
    np.testing.assert_allclose(out32, pyts_gaf(x32, size, method), rtol=0, atol=1e-6)


@pytest.mark.realdata
@pytest.mark.parametrize("method", ["summation", "difference"])
def test_matches_pyts_on_real_series(real_data_root, method):
    loadmat = pytest.importorskip("scipy.io").loadmat
    folder = real_data_root / "UTD-MHAD" / "Inertial"
    files = sorted(folder.glob("*_inertial.mat"))[:4]
    if not files:
        pytest.skip(f"real-data test skipped: no *_inertial.mat under {folder}")
    for path in files:
        x = np.asarray(loadmat(path)["d_iner"], dtype=np.float64).T  # (6, T)
        for size in (None, 64, 32):
            ref = pyts_gaf(x, size, method)
            out = gramian_angular_field(x, image_size=size, method=method)
            np.testing.assert_allclose(out, ref, rtol=0, atol=1e-6, err_msg=f"{path.name} N={size}")


def test_paa_windows_match_pyts():
    approximation = pytest.importorskip("pyts.approximation")
    for length, size in [(180, 64), (107, 32), (30, 22), (15, 11), (10, 4), (7, 7), (9, 1)]:
        ref = approximation.PiecewiseAggregateApproximation(
            window_size=None, output_size=size, overlapping=False).transform(np.eye(length))
        np.testing.assert_allclose(paa_matrix(length, size).numpy(), ref, rtol=0, atol=1e-15)


def test_paa_edges_and_means():
    assert paa_edges(10, 4).tolist() == [0, 2, 5, 7, 10]
    # 30 / 22 * 11 rounds to 14.999999999999998 in float64, as in pyts: edge 14, not 15
    assert paa_edges(30, 22).tolist()[10:13] == [13, 14, 16]
    x = torch.arange(10, dtype=torch.float64)
    assert paa(x, 4).tolist() == [0.5, 3.0, 5.5, 8.0]
    assert paa(x, 10) is x


# ------------------------------------------------------------------ properties
def test_numpy_and_torch_agree_and_keep_their_kind():
    x = RNG.standard_normal((2, 3, 90))
    a = gramian_angular_field(x, image_size=30)
    b = gramian_angular_field(torch.from_numpy(x), image_size=30)
    assert isinstance(a, np.ndarray) and isinstance(b, torch.Tensor)
    assert a.shape == b.shape == (2, 3, 30, 30)
    np.testing.assert_array_equal(a, b.numpy())


@pytest.mark.parametrize("dtype_in,dtype_out", [
    (np.float64, np.float64), (np.float32, np.float32), (np.int64, np.float32), (np.float16, np.float32)])
def test_dtypes(dtype_in, dtype_out):
    x = (RNG.standard_normal((2, 40)) * 10).astype(dtype_in)
    assert gramian_angular_field(x).dtype == dtype_out
    assert gramian_angular_field(torch.from_numpy(x)).dtype == getattr(torch, np.dtype(dtype_out).name)
    assert gramian_angular_field(x, dtype="float64").dtype == np.float64
    assert gramian_angular_field(torch.from_numpy(x), dtype=torch.float32).dtype == torch.float32


def test_one_dimensional_input():
    x = RNG.standard_normal(50)
    out = gramian_angular_field(x, image_size=10)
    assert out.shape == (10, 10)
    np.testing.assert_allclose(out, gramian_angular_field(x[None, None], image_size=10)[0, 0])


def test_gasf_symmetric_gadf_antisymmetric_zero_diagonal():
    x = RNG.standard_normal((5, 3, 64))
    gasf = gramian_angular_field(x, method="summation")
    gadf = gramian_angular_field(x, method="difference")
    np.testing.assert_allclose(gasf, np.swapaxes(gasf, -1, -2), atol=1e-15)
    np.testing.assert_allclose(gadf, -np.swapaxes(gadf, -1, -2), atol=1e-15)
    np.testing.assert_allclose(np.diagonal(gadf, axis1=-2, axis2=-1), 0, atol=1e-15)
    assert gasf.min() >= -1 and gasf.max() <= 1 + 1e-15


def test_matches_angle_definition():
    x = RNG.standard_normal(20)
    scaled = (2 * x - x.max() - x.min()) / (x.max() - x.min())
    phi = np.arccos(scaled)
    np.testing.assert_allclose(gramian_angular_field(x), np.cos(phi[:, None] + phi[None, :]), atol=1e-12)
    np.testing.assert_allclose(gramian_angular_field(x, method="difference"),
                               np.sin(phi[:, None] - phi[None, :]), atol=1e-12)


def test_matlab_convention():
    x = RNG.standard_normal((4, 60))
    standard = gramian_angular_field(x, method="difference")
    np.testing.assert_array_equal(gramian_angular_field(x, method="difference", convention="matlab"), -standard)
    np.testing.assert_array_equal(gramian_angular_field(x, convention="matlab"), gramian_angular_field(x))


def test_constant_series_is_documented_value():
    x = np.stack([np.full(30, 3.5), RNG.standard_normal(30)])
    gasf = gramian_angular_field(x, image_size=10)
    gadf = gramian_angular_field(x, image_size=10, method="difference")
    np.testing.assert_array_equal(gasf[0], -1.0)  # x~ = 0 everywhere
    np.testing.assert_array_equal(gadf[0], 0.0)
    np.testing.assert_allclose(gasf[1], gramian_angular_field(x[1], image_size=10))
    # fitted min == max behaves the same; image_size=1 is a constant series too
    np.testing.assert_array_equal(gramian_angular_field(x, scaling=(2.0, 2.0)), -1.0)
    np.testing.assert_array_equal(gramian_angular_field(x[1], image_size=1), [[-1.0]])
    # window means of a constant may differ from it in the last bit: still constant
    for value in (0.1, -7.3e5, 1e-9):
        for size in (None, 32, 10):
            np.testing.assert_array_equal(gramian_angular_field(np.full((2, 107), value), image_size=size), -1.0)


# ------------------------------------------------------------------ fitted scaling
def test_fitted_scaling_scalars_equal_per_sample_when_range_matches():
    x = RNG.standard_normal(40)
    fitted = gramian_angular_field(x, scaling=(x.min(), x.max()))
    np.testing.assert_allclose(fitted, gramian_angular_field(x), atol=1e-12)


def test_fitted_scaling_clips_outside_range():
    x = np.array([-10.0, -1.0, 0.0, 1.0, 10.0])
    out = gramian_angular_field(x, scaling=(-1.0, 1.0))
    clipped = gramian_angular_field(np.array([-1.0, -1.0, 0.0, 1.0, 1.0]), scaling=(-1.0, 1.0))
    np.testing.assert_array_equal(out, clipped)
    np.testing.assert_allclose(np.diagonal(out), 2 * np.clip(x, -1, 1) ** 2 - 1, atol=1e-15)


def test_fitted_scaling_per_channel():
    x = RNG.standard_normal((8, 3, 50)) * np.array([1.0, 10.0, 100.0])[:, None]
    lo, hi = x.min(axis=(0, 2))[:, None], x.max(axis=(0, 2))[:, None]  # (3, 1), as from a train split
    out = gramian_angular_field(x, image_size=25, scaling=(lo, hi))
    for c in range(3):
        np.testing.assert_allclose(out[:, c], gramian_angular_field(x[:, c], image_size=25,
                                                                    scaling=(lo[c, 0], hi[c, 0])), atol=1e-12)
    torch_out = gramian_angular_field(torch.from_numpy(x), image_size=25,
                                      scaling=(torch.from_numpy(lo), torch.from_numpy(hi)))
    np.testing.assert_allclose(torch_out.numpy(), out, atol=1e-12)


# ------------------------------------------------------------------ errors
def test_nan_and_inf_rejected_with_count_and_first_index():
    x = RNG.standard_normal((2, 30))
    x[0, 3] = np.nan
    x[1, :2] = np.inf
    msg = ("gramian_angular_field: input contains 3 NaN or inf value(s), the first (NaN) at index (0, 3); "
           "clean or interpolate the series first")
    with pytest.raises(InputError, match=f"^{re.escape(msg)}$"):
        gramian_angular_field(x)
    with pytest.raises(ValueError, match=f"^{re.escape(msg)}$"):
        gramian_angular_field(torch.from_numpy(x))
    series = np.arange(10.0)
    series[7] = -np.inf
    with pytest.raises(InputError, match=re.escape("input contains 1 NaN or inf value(s), the first (-inf) at "
                                                   "index 7; clean")):
        gramian_angular_field(series)


@pytest.mark.parametrize("shape", [(0, 30), (0, 3, 30), (4, 0, 30)])
def test_empty_batch_rejected(shape):
    msg = (f"gramian_angular_field: x of shape {shape} holds no series (an empty batch); "
           "pass at least one series")
    with pytest.raises(InputError, match=f"^{re.escape(msg)}$"):
        gramian_angular_field(np.zeros(shape))
    with pytest.raises(InputError, match=f"^{re.escape(msg)}$"):
        gramian_angular_field(torch.zeros(shape), image_size=8)


@pytest.mark.parametrize("kwargs,shape,msg", [
    ({}, (3, 1), "gramian_angular_field: series length T must be at least 2, got T=1"),
    ({}, (), "gramian_angular_field: series length T must be at least 2, got T=0"),
    ({"image_size": 31}, (2, 30),
     "gramian_angular_field: image_size=31 exceeds the series length T=30; GAF images cannot be upsampled"),
    ({"image_size": 0}, (2, 30), "gramian_angular_field: image_size must be >= 1, got 0"),
    ({"image_size": 2.5}, (2, 30), "gramian_angular_field: image_size must be an int or None, got 2.5"),
    ({"method": "sumation"}, (2, 30),
     "gramian_angular_field: unknown method 'sumation'; did you mean 'summation'? (valid: difference, summation)"),
    ({"convention": "matlib"}, (2, 30),
     "gramian_angular_field: unknown convention 'matlib'; did you mean 'matlab'? (valid: matlab, standard)"),
    ({"scaling": "per-sample"}, (2, 30),
     "gramian_angular_field: unknown scaling 'per-sample'; did you mean 'per_sample'? "
     "(valid: 'per_sample' or a fitted (min, max) pair)"),
    ({"scaling": (0.0, 1.0, 2.0)}, (2, 30),
     "gramian_angular_field: scaling must be 'per_sample' or a fitted (min, max) pair, got tuple"),
    ({"scaling": (1.0, 0.0)}, (2, 30),
     "gramian_angular_field: fitted scaling needs min <= max, got min > max for 1 value(s)"),
    ({"scaling": (0.0, np.inf)}, (2, 30), "gramian_angular_field: fitted min and max must be finite"),
    ({"scaling": (np.zeros(3), np.ones(3))}, (2, 3, 30),
     "gramian_angular_field: fitted min/max must broadcast to x[..., :1] (last axis of size 1, "
     "e.g. shape (C, 1) per channel), got shape (3,)"),
    ({"scaling": (np.zeros((4, 1)), np.ones((4, 1)))}, (2, 3, 30),
     "gramian_angular_field: fitted min/max of shape (4, 1) do not broadcast to x[..., :1] of shape (2, 3, 1)"),
    ({"dtype": np.int32}, (2, 30), "gramian_angular_field: dtype must be float32 or float64, got int32"),
])
def test_errors_have_exact_messages(kwargs, shape, msg):
    with pytest.raises(InputError, match=re.escape(msg)):
        gramian_angular_field(np.ones(shape), **kwargs)


def test_module_option_errors():
    msg = "GramianAngularField: unknown method 'diff' (valid: difference, summation)"
    with pytest.raises(ValueError, match=re.escape(msg)):
        GramianAngularField(method="diff")
    with pytest.raises(ValueError, match=re.escape("GramianAngularField: image_size must be >= 1, got -3")):
        GramianAngularField(image_size=-3)
    msg = "GramianAngularField: image_size=64 exceeds the series length T=50; GAF images cannot be upsampled"
    with pytest.raises(ValueError, match=re.escape(msg)):
        GramianAngularField(64)(torch.zeros(2, 50))


# ------------------------------------------------------------------ module, grads, export
MODULE_CASES = [
    dict(image_size=32, method="summation"),
    dict(image_size=32, method="difference", convention="matlab"),
    dict(image_size=None, method="difference"),
    dict(image_size=20, method="summation", scaling=(torch.full((6, 1), -2.0), torch.full((6, 1), 2.0))),
]


@pytest.mark.parametrize("options", MODULE_CASES)
def test_module_matches_functional(options):
    x = torch.randn(3, 6, 107)
    module = GramianAngularField(**options)
    torch.testing.assert_close(module(x), gramian_angular_field(x, **options), rtol=0, atol=1e-6)
    x64 = x.double()
    assert module(x64).dtype == torch.float64
    torch.testing.assert_close(module(x64), gramian_angular_field(x64, **options), rtol=0, atol=1e-12)


@pytest.mark.parametrize("method", ["summation", "difference"])
def test_gradients_flow_and_are_finite(method):
    x = torch.randn(4, 6, 107, dtype=torch.float64)
    x[0, 0] = 1.25  # constant series
    x[1, 1, :10] = 50.0  # clipped by the fitted range below
    for scaling in ["per_sample", (-3.0, 3.0)]:
        for model in (GramianAngularField(32, method, scaling),
                      lambda t: gramian_angular_field(t, image_size=32, method=method, scaling=scaling)):
            leaf = x.clone().requires_grad_(True)
            out = model(leaf)
            (out * torch.randn_like(out)).sum().backward()
            assert torch.isfinite(leaf.grad).all()
            assert leaf.grad.abs().sum() > 0


@pytest.mark.parametrize("method", ["summation", "difference"])
def test_gradcheck(method):
    # a fitted range strictly around the data: per-sample extremes sit on the kink
    # of sqrt(1 - x~^2) at x~ = +-1, where finite differences are meaningless
    x = torch.randn(2, 2, 12, dtype=torch.float64).clamp(-3, 3).requires_grad_(True)
    assert torch.autograd.gradcheck(GramianAngularField(5, method, scaling=(-4.0, 4.0)), (x,))


def test_module_rejects_nan_in_eager_mode_only():
    """Eager: InputError naming the first NaN. Scripted/traced/ONNX graphs do not check values: NaN images."""
    x = torch.randn(2, 3, 16)
    x[1, 2, 5] = float("nan")
    module = GramianAngularField(8)
    msg = ("GramianAngularField: input contains 1 NaN or inf value(s), the first (NaN) at index (1, 2, 5); "
           "clean or interpolate the series first")
    with pytest.raises(InputError, match=f"^{re.escape(msg)}$"):
        module(x)
    from harkd.encoding import GAFChannels

    with pytest.raises(InputError, match=f"^{re.escape(msg)}$"):
        GAFChannels(8, method="both")(x)
    scripted = torch.jit.script(module)(x)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")  # the tracer's shape-check warnings
        traced = torch.jit.trace(module, (torch.randn(2, 3, 16),))
    assert "isfinite" not in str(traced.graph)
    for out in (scripted, traced(x)):
        assert out.shape == (2, 3, 8, 8)
        assert torch.isnan(out[1, 2]).all() and torch.isfinite(out[:1]).all() and torch.isfinite(out[1, :2]).all()
    assert module(torch.zeros(0, 3, 16)).shape == (0, 3, 8, 8)  # an empty batch: an empty output


@pytest.mark.parametrize("scaling", ["per_sample", (2.0, 2.0)])
def test_module_constant_window_is_defined(scaling):
    """A flat window (a sensor at rest) gives GASF -1 and GADF 0, eager and scripted, never NaN."""
    x = torch.full((1, 3, 40), 2.0)
    x[0, 1] = -0.25
    for method, value in (("summation", -1.0), ("difference", 0.0)):
        module = GramianAngularField(10, method, scaling)
        for out in (module(x), torch.jit.script(module)(x)):
            torch.testing.assert_close(out, torch.full((1, 3, 10, 10), value), rtol=0, atol=0)


@pytest.mark.parametrize("options", MODULE_CASES[:3])
def test_torchscript(options):
    module = GramianAngularField(**options)
    scripted = torch.jit.script(module)
    x = torch.randn(2, 6, 107)
    torch.testing.assert_close(scripted(x), module(x), rtol=0, atol=0)
    buffer = io.BytesIO()
    torch.jit.save(scripted, buffer)
    buffer.seek(0)
    torch.testing.assert_close(torch.jit.load(buffer)(x), module(x), rtol=0, atol=0)


@pytest.mark.parametrize("options", MODULE_CASES)
def test_onnx_export_parity(options):
    ort = pytest.importorskip("onnxruntime")
    pytest.importorskip("onnx")
    module = GramianAngularField(**options).eval()
    buffer = io.BytesIO()
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")  # legacy-exporter deprecation and tracer warnings
        torch.onnx.export(module, (torch.randn(2, 6, 107),), buffer, opset_version=17, dynamo=False,
                          input_names=["x"], output_names=["gaf"],
                          dynamic_axes={"x": {0: "batch"}, "gaf": {0: "batch"}})
    session = ort.InferenceSession(buffer.getvalue(), providers=["CPUExecutionProvider"])
    for batch in (1, 5):
        x = torch.randn(batch, 6, 107)
        (out,) = session.run(None, {"x": x.numpy()})
        np.testing.assert_allclose(out, module(x).numpy(), rtol=0, atol=1e-5)


def test_gaf_channels_stack_gasf_then_gadf_and_export():
    from harkd.encoding import GAFChannels, gaf_channels

    x = np.random.default_rng(0).normal(size=(2, 3, 40))
    both = gaf_channels(x, image_size=16, method="both")
    assert both.shape == (2, 6, 16, 16)
    np.testing.assert_allclose(both[:, :3], gramian_angular_field(x, image_size=16, method="summation"))
    np.testing.assert_allclose(both[:, 3:], gramian_angular_field(x, image_size=16, method="difference"))
    np.testing.assert_array_equal(gaf_channels(x, method="difference"), gramian_angular_field(x, method="difference"))
    layer = GAFChannels(image_size=16, method="both")
    t = torch.from_numpy(x)
    torch.testing.assert_close(layer(t), torch.from_numpy(both))
    torch.testing.assert_close(torch.jit.script(layer)(t), torch.from_numpy(both))
    with pytest.raises(InputError, match=r"^GAFChannels: unknown method 'bothh'; did you mean 'both'\? "
                                         r"\(valid: both, difference, summation\)$"):
        GAFChannels(method="bothh")
