"""Gramian Angular Field (GAF) images of time series.

Each series (the last axis, length ``T``) is reduced to ``N`` points by PAA when
``N < T`` (:mod:`harkd.encoding.paa`), min-max scaled to ``x~`` in ``[-1, 1]``
(``x~ = (2x - max - min) / (max - min)``, clipped) and, with ``s = sqrt(1 - x~**2)``,
turned into an ``N x N`` image:

* summation (GASF):  ``G[i, j] = x~_i x~_j - s_i s_j``  (``cos(phi_i + phi_j)``)
* difference (GADF): ``G[i, j] = s_i x~_j - x~_i s_j``  (``sin(phi_i - phi_j)``)

``convention="matlab"`` negates the GADF (``sin(phi_j - phi_i)``); the GASF is
symmetric, so it is the same under both conventions.  ``"standard"`` matches pyts.

A constant series (``max == min`` up to a relative 1e-12, or a fitted
``min == max``) is scaled to ``x~ = 0`` everywhere, so its GASF is ``-1`` everywhere and its GADF is ``0``: no
division by zero, no NaN.

NaN/inf cannot be encoded: :func:`gramian_angular_field` and an eager
:class:`GramianAngularField` raise :class:`~harkd.errors.InputError` naming the count
and the index of the first such value; scripted, traced and exported (ONNX) graphs do
not check values (data-independent graphs), so there a NaN/inf input gives NaN images.

The image is the rank-2 product ``U @ V^T`` of ``(N, 2)`` factors (for the GASF
``U = [x~, s]``, ``V = [x~, -s]``), so one batched matmul writes the output exactly
once, with no ``arccos``/``cos``.  The ``O(N)`` factors are computed in float64
whatever the output dtype, which keeps float32 images accurate where ``s`` is
ill-conditioned (``|x~|`` close to 1).
"""

import math
import numbers
from typing import List, Optional, Tuple

import numpy as np
import torch
from torch import Tensor, nn

from harkd.data.transforms import register_inertial_encoding
from harkd.encoding.paa import paa_matrix
from harkd.errors import InputError, unknown_key_message

__all__ = ["METHODS", "CONVENTIONS", "CHANNEL_METHODS", "gramian_angular_field", "GramianAngularField",
           "gaf_channels", "GAFChannels"]

METHODS = ("summation", "difference")
#: image-channel option -> the GAF methods whose images are stacked as channels
CHANNEL_METHODS = {"summation": ("summation",), "difference": ("difference",), "both": ("summation", "difference")}
CONVENTIONS = ("standard", "matlab")
_FUNC = "gramian_angular_field"
_MODULE = "GramianAngularField"
_BLOCK_BYTES = 1 << 22  # float64 bytes of input rows per block on the CPU fast path


# --------------------------------------------------------------------------- core
def _gaf_factors(x: Tensor, size: int, lo: Tensor, hi: Tensor, per_sample: bool,
                 summation: bool, sign: float) -> Tuple[Tensor, Tensor]:
    """Factors ``U, V`` of shape ``(..., size, 2)`` with ``U @ V^T`` the GAF of ``x``.

    The minimum and maximum map exactly to -1 and 1, and gradients are finite
    everywhere: flat series take a ``where`` branch with a safe divisor, and ``s`` is
    ``sqrt(max(1 - x~**2, 1e-30))`` (within 1e-15 of the exact value, derivative 0
    where ``|x~| = 1``).
    """
    length = x.shape[-1]
    if size < length:
        x = x @ paa_matrix(length, size, x.dtype, x.device)
    if per_sample:
        lo = x.amin(-1, keepdim=True)
        hi = x.amax(-1, keepdim=True)
    else:
        lo = lo.to(x.dtype)
        hi = hi.to(x.dtype)
    span = hi - lo
    # flat: constant up to float64 rounding (a PAA of a constant series may differ
    # from it in the last bit); such series get x~ = 0, without dividing by ~0
    flat = span <= 1e-12 * torch.maximum(lo.abs(), hi.abs())
    scaled = ((x - lo) / torch.where(flat, torch.ones_like(span), span) * 2.0 - 1.0).clamp(-1.0, 1.0)
    scaled = torch.where(flat, torch.zeros_like(scaled), scaled)
    one = torch.ones((1,), dtype=x.dtype, device=x.device)
    root = torch.addcmul(one, scaled, scaled, value=-1.0).clamp_min(1e-30).sqrt()
    base = torch.stack([scaled, root], -1)
    v = base * torch.tensor([sign, -sign], dtype=x.dtype, device=x.device)
    u = base if summation else base.flip(-1)
    return u, v


def _nonfinite_message(who: str, x: Tensor) -> str:
    """``who: ...`` naming how many values of ``x`` are NaN/inf and where the first is ('' if none)."""
    bad = ~torch.isfinite(x)
    count = int(bad.sum())
    if count == 0:
        return ""
    index = tuple(int(i) for i in torch.nonzero(bad.reshape(x.shape))[0])
    value = float(x[index])
    kind = "NaN" if math.isnan(value) else ("inf" if value > 0 else "-inf")
    where = index if len(index) != 1 else index[0]
    return (f"{who}: input contains {count} NaN or inf value(s), the first ({kind}) at index {where}; "
            "clean or interpolate the series first")


@torch.jit.unused
def _check_finite_eager(x: Tensor) -> None:
    """The eager-mode value check of :class:`GramianAngularField` (never compiled or traced)."""
    message = _nonfinite_message(_MODULE, x.detach())
    if message:
        raise InputError(message)


def _length_message(who: str, length: int) -> str:
    return "{}: series length T must be at least 2, got T={}".format(who, length)


def _size_message(who: str, size: int, length: int) -> str:
    return ("{}: image_size={} exceeds the series length T={}; "
            "GAF images cannot be upsampled".format(who, size, length))


# ----------------------------------------------------------------------- options
def _parse_options(method, convention, who: str) -> Tuple[bool, float]:
    """Return ``(summation, sign)`` for valid options, else raise InputError."""
    if method not in METHODS:
        raise InputError(f"{who}: {unknown_key_message('method', str(method), METHODS)}")
    if convention not in CONVENTIONS:
        raise InputError(f"{who}: {unknown_key_message('convention', str(convention), CONVENTIONS)}")
    summation = method == "summation"
    return summation, (-1.0 if convention == "matlab" and not summation else 1.0)


def _parse_image_size(image_size, who: str) -> Optional[int]:
    if image_size is None:
        return None
    if isinstance(image_size, bool) or not isinstance(image_size, numbers.Integral):
        raise InputError(f"{who}: image_size must be an int or None, got {image_size!r}")
    if image_size < 1:
        raise InputError(f"{who}: image_size must be >= 1, got {image_size}")
    return int(image_size)


def _parse_scaling(scaling, who: str) -> Tuple[bool, Optional[Tensor], Optional[Tensor]]:
    """Return ``(per_sample, lo, hi)``; fitted bounds as float64 tensors."""
    if isinstance(scaling, str):
        if scaling == "per_sample":
            return True, None, None
        hint = "; did you mean 'per_sample'?" if scaling.replace("-", "_").lower() == "per_sample" else ""
        raise InputError(f"{who}: unknown scaling '{scaling}'{hint} "
                         "(valid: 'per_sample' or a fitted (min, max) pair)")
    if not isinstance(scaling, (tuple, list)) or len(scaling) != 2:
        raise InputError(f"{who}: scaling must be 'per_sample' or a fitted (min, max) pair, "
                         f"got {type(scaling).__name__}")
    lo, hi = (torch.as_tensor(np.asarray(v) if not isinstance(v, Tensor) else v,
                              dtype=torch.float64).detach() for v in scaling)
    try:
        shape = torch.broadcast_shapes(lo.shape, hi.shape)
    except RuntimeError:
        raise InputError(f"{who}: fitted min of shape {tuple(lo.shape)} and max of shape "
                         f"{tuple(hi.shape)} do not broadcast together") from None
    if len(shape) and shape[-1] != 1:
        raise InputError(f"{who}: fitted min/max must broadcast to x[..., :1] (last axis of "
                         f"size 1, e.g. shape (C, 1) per channel), got shape {tuple(shape)}")
    if not (torch.isfinite(lo).all() and torch.isfinite(hi).all()):
        raise InputError(f"{who}: fitted min and max must be finite")
    if (lo > hi).any():
        raise InputError(f"{who}: fitted scaling needs min <= max, got min > max "
                         f"for {int((lo > hi).sum())} value(s)")
    return False, lo, hi


def _output_dtype(dtype, input_dtype: torch.dtype) -> torch.dtype:
    if dtype is None:
        return torch.float64 if input_dtype == torch.float64 else torch.float32
    if isinstance(dtype, torch.dtype):
        name = str(dtype).removeprefix("torch.")
    else:
        try:
            name = np.dtype(dtype).name
        except TypeError:
            name = str(dtype)
    if name not in ("float32", "float64"):
        raise InputError(f"{_FUNC}: dtype must be float32 or float64, got {name}")
    return getattr(torch, name)


# -------------------------------------------------------------------- functional
def gramian_angular_field(x, *, image_size=None, method="summation", scaling="per_sample",
                          convention="standard", dtype=None):
    """Gramian Angular Field images of the series along the last axis of ``x``.

    Args:
        x: array or tensor of shape ``(..., T)``, ``T >= 2``, finite values.  All
            leading axes (samples, channels, ...) are encoded together, vectorised
            (no per-series Python loop; on the CPU it runs in row blocks).
        image_size: ``N``; ``None`` means ``T``.  ``N < T`` first reduces each series
            by PAA (mean over ``N`` near-equal windows, the same windows as pyts).
        method: ``"summation"`` (GASF) or ``"difference"`` (GADF).
        scaling: ``"per_sample"`` (each series' own min and max) or a fitted
            ``(min, max)`` pair of scalars or arrays broadcastable to ``x[..., :1]``
            (e.g. per-channel ``(C, 1)`` arrays from a training split); values
            outside the fitted range are clipped.
        convention: ``"standard"`` (pyts) or ``"matlab"`` (GADF negated; GASF equal).
        dtype: output dtype, float32 or float64; by default float64 for float64
            input and float32 for anything else.

    Returns:
        The same kind as ``x`` (numpy array, or tensor on ``x``'s device) of shape
        ``(..., N, N)``.  A constant series gives ``-1`` (GASF) or ``0`` (GADF)
        everywhere.  Tensors that require grad get a differentiable result.

    Raises:
        InputError: NaN/inf in ``x`` (the message gives their count and the index
            of the first), ``T < 2``, an empty batch (``x`` of shape ``(0, ..., T)``),
            ``image_size`` not in ``[1, T]``, an unknown option, or fitted bounds
            that do not fit ``x``.
    """
    summation, sign = _parse_options(method, convention, _FUNC)
    per_sample, lo, hi = _parse_scaling(scaling, _FUNC)
    size = _parse_image_size(image_size, _FUNC)

    is_tensor = isinstance(x, Tensor)
    if is_tensor:
        t = x
    else:
        array = np.asarray(x)
        if array.dtype.kind not in "biuf":
            raise InputError(f"{_FUNC}: x must be a real numeric array, got dtype {array.dtype}")
        t = torch.from_numpy(np.ascontiguousarray(array)).reshape(array.shape)
    if t.is_complex():
        raise InputError(f"{_FUNC}: x must be real, got dtype {t.dtype}")
    length = t.shape[-1] if t.ndim else 0
    if length < 2:
        raise InputError(_length_message(_FUNC, length))
    size = length if size is None else size
    if size > length:
        raise InputError(_size_message(_FUNC, size, length))
    if t.numel() == 0:
        raise InputError(f"{_FUNC}: x of shape {tuple(t.shape)} holds no series (an empty batch); "
                         "pass at least one series")
    out_dtype = _output_dtype(dtype, t.dtype)
    if not bool(torch.isfinite(t).all()):
        raise InputError(_nonfinite_message(_FUNC, t))
    target = (*t.shape[:-1], 1)
    if per_sample:
        lo = hi = t.new_zeros((), dtype=torch.float64)
    else:
        try:
            fits = torch.broadcast_shapes(lo.shape, hi.shape, target) == target
        except RuntimeError:
            fits = False
        if not fits:
            raise InputError(f"{_FUNC}: fitted min/max of shape {tuple(torch.broadcast_shapes(lo.shape, hi.shape))} "
                             f"do not broadcast to x[..., :1] of shape {target}")
        lo, hi = (b.to(t.device).expand(target).reshape(-1, 1) for b in (lo, hi))

    rows = t.reshape(-1, length)
    options = (per_sample, summation, sign, out_dtype)
    if t.requires_grad or t.device.type != "cpu":
        out = _encode(rows, size, lo, hi, *options)
    else:
        # Row blocks keep the O(N) factors in cache; numpy's allocator asks for
        # transparent huge pages on big arrays, which makes the single write of the
        # image much cheaper than into torch.empty memory.
        out = torch.from_numpy(np.empty((rows.shape[0], size, size), dtype=str(out_dtype)[6:]))
        step = max(1, _BLOCK_BYTES // (8 * length))
        for start in range(0, rows.shape[0], step):
            block = slice(start, start + step)
            _encode(rows[block], size, lo if per_sample else lo[block], hi if per_sample else hi[block],
                    *options, out=out[block])
    out = out.reshape(*t.shape[:-1], size, size)
    return out if is_tensor else out.numpy()


def _encode(rows: Tensor, size: int, lo: Tensor, hi: Tensor, per_sample: bool, summation: bool,
            sign: float, dtype: torch.dtype, out: Optional[Tensor] = None) -> Tensor:
    """GAF images ``(R, size, size)`` of ``(R, T)`` rows, computed in ``dtype``."""
    u, v = _gaf_factors(rows.to(torch.float64), size, lo, hi, per_sample, summation, sign)
    return torch.matmul(u.to(dtype), v.to(dtype).transpose(-1, -2), out=out)


# ------------------------------------------------------------------------ module
class GramianAngularField(nn.Module):
    """GAF layer: float tensor ``(..., T)`` (e.g. ``(B, C, T)``) -> ``(..., N, N)``.

    Same options and maths as :func:`gramian_angular_field` (output dtype = input
    dtype), differentiable with finite gradients (also for clipped values and
    constant series), ``torch.jit.script``-able and ONNX-exportable (opset 17,
    dynamic batch; PAA is a fixed averaging-matrix matmul).

    ``forward`` checks shapes (``T >= 2``, ``image_size <= T``, ValueError). In eager
    mode it also rejects NaN/inf with :class:`~harkd.errors.InputError` (a ValueError)
    naming the first such index. Scripted, traced and exported (ONNX) graphs skip
    that value check so that they stay data-independent: there NaN/inf propagate into
    NaN images; check inputs before such a graph (``harkd stream`` skips non-finite
    rows). An empty batch gives an empty output.
    """

    image_size: Optional[int]

    def __init__(self, image_size: Optional[int] = None, method: str = "summation",
                 scaling="per_sample", convention: str = "standard"):
        super().__init__()
        self.summation, self.sign = _parse_options(method, convention, _MODULE)
        self.per_sample, lo, hi = _parse_scaling(scaling, _MODULE)
        self.image_size = _parse_image_size(image_size, _MODULE)
        self.method, self.convention = method, convention
        zero = torch.zeros((), dtype=torch.float64)
        self.register_buffer("lo", zero if lo is None else lo)
        self.register_buffer("hi", zero.clone() if hi is None else hi)

    def forward(self, x: Tensor) -> Tensor:
        length = x.shape[-1]
        size = self.image_size
        n = length if size is None else size
        if length < 2:
            raise ValueError(_length_message("GramianAngularField", length))
        if n > length:
            raise ValueError(_size_message("GramianAngularField", n, length))
        if not torch.jit.is_scripting() and not torch.jit.is_tracing():
            _check_finite_eager(x)
        u, v = _gaf_factors(x.to(torch.float64), n, self.lo, self.hi, self.per_sample,
                            self.summation, self.sign)
        return torch.matmul(u.to(x.dtype), v.to(x.dtype).transpose(-1, -2))

    def extra_repr(self) -> str:
        scaling = "per_sample" if self.per_sample else "fitted"
        return (f"image_size={self.image_size}, method={self.method!r}, "
                f"scaling={scaling!r}, convention={self.convention!r}")


# ------------------------------------------------------------- stacked channels
def _channel_methods(method, who: str) -> Tuple[str, ...]:
    if method not in CHANNEL_METHODS:
        raise InputError(f"{who}: {unknown_key_message('method', str(method), CHANNEL_METHODS)}")
    return CHANNEL_METHODS[method]


def gaf_channels(x, *, method="summation", **options):
    """Channel images of ``x`` ``(..., C, T)``: ``(..., C * k, N, N)``.

    ``method="both"`` stacks the GASF of every channel, then the GADF of every channel
    (``k = 2``): the GASF alone is symmetric and blind to the time direction, the GADF
    keeps it. ``"summation"``/``"difference"`` give :func:`gramian_angular_field`'s images.
    Other ``options`` are :func:`gramian_angular_field`'s.
    """
    images = [gramian_angular_field(x, method=m, **options) for m in _channel_methods(method, "gaf_channels")]
    if len(images) == 1:
        return images[0]
    return torch.cat(images, dim=-3) if isinstance(images[0], Tensor) else np.concatenate(images, axis=-3)


class GAFChannels(nn.Module):
    """:func:`gaf_channels` as a layer: ``(..., C, T)`` -> ``(..., C * k, N, N)`` (exportable)."""

    def __init__(self, image_size: Optional[int] = None, method: str = "summation", scaling="per_sample",
                 convention: str = "standard"):
        super().__init__()
        self.encoders = nn.ModuleList(GramianAngularField(image_size, m, scaling, convention)
                                      for m in _channel_methods(method, "GAFChannels"))

    def forward(self, x: Tensor) -> Tensor:
        images: List[Tensor] = []
        for encoder in self.encoders:
            images.append(encoder(x))
        return torch.cat(images, dim=-3)


register_inertial_encoding("gaf", gaf_channels)  # the data layer's inertial ``gaf`` option
