"""The training augmentation and ``finish`` of the inertial and skeleton transforms, for a whole batch on its device.

The per-sample pipeline (:meth:`PairedDataset.__getitem__`) augments each clip with numpy in the
DataLoader (:func:`~harkd.data.transforms.augment_inertial`, :func:`~harkd.data.transforms.augment_skeleton`),
then normalises it and lays it out channels-first. Here the same work runs in torch on a batch of
``prepare`` outputs stacked time-first, (B, T, C) inertial or (B, T, V, 3) skeleton, wherever the batch
lives (a GPU), drawing one independent view per sample from a ``torch.Generator`` on that device:

- ``rotate``: one rotation per sample, U(-rotate, rotate) degrees about a random axis (a normalised
  standard normal vector), applied to every 3-axis group of the sample (each inertial sensor; each joint);
  an inertial clip whose channels are no multiple of 3 is not rotated;
- ``scale``: the sample times U(1 - scale, 1 + scale);
- ``shift``: a window dropping U(0, shift) of the clip at each end (in samples: U(0, shift * (T - 1))),
  linearly resampled back to T samples;
- ``noise`` (inertial): Gaussian noise of std ``noise`` times each channel's std over the (shifted) clip.

The distributions are those of the per-sample functions, in the same order (rotate, scale, shift,
noise); the random streams differ (another generator, and a batch draws each op for all its samples
at once), so a batched run does not reproduce a per-sample run sample by sample. Without augmentation
:class:`BatchedFinish` equals ``transform.finish`` (float32, up to rounding). Other transforms (depth,
RGB, GAF images, untransformed modalities) have no batched version: :func:`batched_unsupported` says why.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Callable

import torch

from harkd.data.transforms import InertialTransform, ModalityTransform, SkeletonTransform
from harkd.errors import InputError

__all__ = ["AugmentDraw", "BatchedFinish", "apply_augment", "augment_inertial_batch", "augment_skeleton_batch",
           "batched_unsupported", "draw_augment", "rotation_matrices", "window_resample"]

_EPS = 1e-6
ONLY = "only inertial without gaf and skeleton transforms have one"


@dataclass
class AugmentDraw:
    """One random training view per sample of a batch; a field is None when its op is off."""

    rotation: torch.Tensor | None = None  #: (B, 3, 3); every 3-vector v becomes R v
    scale: torch.Tensor | None = None  #: (B,) amplitude factors
    window: torch.Tensor | None = None  #: (B, 2) samples (fractional) dropped at the start and at the end
    noise: torch.Tensor | None = None  #: the batch's shape: noise in units of each channel's std over the clip


def rotation_matrices(axis: torch.Tensor, angle: torch.Tensor) -> torch.Tensor:
    """(B, 3, 3) rotations by ``angle`` (B,) radians about ``axis`` (B, 3) (Rodrigues)."""
    k = axis / axis.norm(dim=1, keepdim=True).clamp_min(_EPS)
    zero = torch.zeros_like(k[:, 0])
    cross = torch.stack([zero, -k[:, 2], k[:, 1], k[:, 2], zero, -k[:, 0], -k[:, 1], k[:, 0], zero],
                        dim=1).view(-1, 3, 3)
    eye = torch.eye(3, dtype=k.dtype, device=k.device)
    sin, cos = angle.sin().view(-1, 1, 1), angle.cos().view(-1, 1, 1)
    return eye + sin * cross + (1 - cos) * cross @ cross


def draw_augment(shape: tuple[int, ...] | torch.Size, generator: torch.Generator, *, rotate: float = 0.0,
                 scale: float = 0.0, shift: float = 0.0, noise: float = 0.0) -> AugmentDraw:
    """The random views of a time-first batch of ``shape`` (B, T, ...) on ``generator``'s device."""
    b, t = shape[0], shape[1]
    device = generator.device

    def uniform(*size: int) -> torch.Tensor:
        return torch.rand(size, generator=generator, device=device)

    draw = AugmentDraw()
    if rotate > 0 and math.prod(shape[2:]) % 3 == 0:
        angle = math.radians(rotate) * (2 * uniform(b) - 1)
        draw.rotation = rotation_matrices(torch.randn(b, 3, generator=generator, device=device), angle)
    if scale > 0:
        draw.scale = 1 + scale * (2 * uniform(b) - 1)
    if shift > 0 and t >= 2:
        draw.window = uniform(b, 2) * (shift * (t - 1))
    if noise > 0:
        draw.noise = noise * torch.randn(tuple(shape), generator=generator, device=device)
    return draw


def window_resample(x: torch.Tensor, window: torch.Tensor) -> torch.Tensor:
    """Each sample of ``x`` (B, T, ...) cut to positions ``start .. T - 1 - end`` (``window`` (B, 2) in samples)
    and linearly resampled back to T samples (float32)."""
    b, t = x.shape[:2]
    flat = x.reshape(b, t, -1)
    steps = torch.linspace(0, 1, t, device=x.device)
    span = (t - 1) - window.sum(dim=1, keepdim=True)
    pos = (window[:, :1] + span * steps).clamp(0, t - 1)  # (B, T)
    lo = pos.floor().long().clamp(max=t - 2)
    w = (pos - lo).unsqueeze(-1)
    index = lo.unsqueeze(-1).expand(-1, -1, flat.shape[2])
    left, right = flat.gather(1, index), flat.gather(1, index + 1)
    return ((1 - w) * left + w * right).reshape(x.shape)


def apply_augment(x: torch.Tensor, draw: AugmentDraw) -> torch.Tensor:
    """``x`` (B, T, ...) time-first, trailing values grouped in 3-vectors when rotated, seen as ``draw`` says."""
    b, t = x.shape[:2]
    if draw.rotation is not None:
        x = (x.reshape(b, -1, 3) @ draw.rotation.transpose(1, 2)).reshape(x.shape)
    if draw.scale is not None:
        x = x * draw.scale.view(b, *[1] * (x.dim() - 1))
    if draw.window is not None:
        x = window_resample(x, draw.window)
    if draw.noise is not None:
        x = x + x.std(dim=1, unbiased=False, keepdim=True) * draw.noise
    return x


def augment_inertial_batch(x: torch.Tensor, generator: torch.Generator, *, scale: float = 0.0, rotate: float = 0.0,
                           shift: float = 0.0, noise: float = 0.0) -> torch.Tensor:
    """:func:`~harkd.data.transforms.augment_inertial` for a (B, T, C) batch, one view per sample."""
    return apply_augment(x, draw_augment(x.shape, generator, rotate=rotate, scale=scale, shift=shift, noise=noise))


def augment_skeleton_batch(x: torch.Tensor, generator: torch.Generator, *, rotate: float = 0.0, scale: float = 0.0,
                           shift: float = 0.0) -> torch.Tensor:
    """:func:`~harkd.data.transforms.augment_skeleton` for a (B, T, V, 3) batch, one view per sample."""
    return apply_augment(x, draw_augment(x.shape, generator, rotate=rotate, scale=scale, shift=shift))


#: transform class -> (batched augmentation, the channels-first permutation of a time-first batch)
_BATCHED: dict[type, tuple[Callable, tuple[int, ...]]] = {
    InertialTransform: (augment_inertial_batch, (0, 2, 1)),  # (B, T, C) -> (B, C, T)
    SkeletonTransform: (augment_skeleton_batch, (0, 3, 1, 2)),  # (B, T, V, 3) -> (B, 3, T, V)
}


def batched_unsupported(transform: ModalityTransform) -> str | None:
    """Why ``transform`` has no batched ``finish`` (one line naming the modality), or None when it has one."""
    name = getattr(transform, "modality", "?")
    if type(transform) not in _BATCHED:
        return f"modality '{name}' ({type(transform).__name__}) has no batched finish: {ONLY}"
    if getattr(transform, "gaf", None) is not None:
        return f"modality '{name}' is encoded as gaf images, which have no batched finish: {ONLY}"
    return None


class BatchedFinish:
    """``transform.finish`` for a batch of its ``prepare`` outputs stacked time-first on ``device``.

    The normalisation statistics are read (fitted) when this is built. ``__call__(x, train, generator)``:
    with ``train`` and a stochastic transform, the augmentation drawn from ``generator`` (on ``x``'s
    device), then the normalisation and the channels-first layout; float32, contiguous.
    """

    def __init__(self, transform: ModalityTransform, device: torch.device | str = "cpu"):
        reason = batched_unsupported(transform)
        if reason:
            raise InputError(reason)
        self.modality = transform.modality
        self.augment_fn, self.layout = _BATCHED[type(transform)]
        self.augment = {k: float(v) for k, v in transform.augment.items() if v > 0}
        stats = transform.normalization_stats()
        self.mean, self.std = (None, None) if stats is None else (
            torch.as_tensor(s, dtype=torch.float32, device=device) for s in stats)

    @property
    def stochastic(self) -> bool:
        return bool(self.augment)

    def __call__(self, x: torch.Tensor, train: bool = False, generator: torch.Generator | None = None) -> torch.Tensor:
        x = x.to(torch.float32)
        if train and self.augment:
            if generator is None:
                raise InputError(f"modality '{self.modality}': batched augmentation needs a torch.Generator")
            x = self.augment_fn(x, generator, **self.augment)
        if self.mean is not None:
            x = (x - self.mean) / self.std
        return x.permute(self.layout).contiguous()
