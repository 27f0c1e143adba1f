"""Where tasks and batches live, and in what precision: the one place that decides.

- :func:`resolve_device` turns ``train.device`` (``auto``, ``cpu``, ``cuda``, ``cuda:1``, ``mps``) into a
  :class:`torch.device`: ``auto`` is CUDA when a GPU is visible, else MPS where present, else the CPU;
  under ``torchrun`` a bare ``cuda`` is the rank's own GPU (``LOCAL_RANK``).
- :func:`evaluation_device` is the same for reading a saved run, falling back to the CPU (with a warning)
  when the run's device is absent on this machine.
- :func:`place` moves a module there; :func:`to_device` moves a batch. Checkpoints are always read onto the
  CPU (:func:`~harkd.engine.checkpoint.load_checkpoint`) and copied into modules already placed, so a
  checkpoint written on one device loads on any other.
- :func:`resolve_precision`, :func:`autocast` and :func:`grad_scaler` implement ``train.precision``
  (``fp32``: strict float32, TF32 off; ``tf32``: float32 weights with TF32 matmuls and convolutions on a
  CUDA GPU; ``bf16``/``fp16``: autocast, with a gradient scaler for ``fp16``; ``auto``: ``tf32`` on a CUDA
  GPU, ``fp32`` elsewhere).
- :func:`configure_kernels` implements ``train.deterministic`` (deterministic algorithms and cuDNN) and
  otherwise lets cuDNN pick the fastest kernels.
"""

from __future__ import annotations

import contextlib
import os
from typing import Mapping

import torch
from torch import nn

from harkd.errors import ConfigError, warn

__all__ = ["DEVICES", "PRECISIONS", "resolve_device", "evaluation_device", "check_device", "place", "to_device",
           "module_device", "resolve_precision", "autocast", "grad_scaler", "configure_kernels", "describe_device"]

#: What ``train.device`` may say besides a torch device string.
DEVICES = ("auto", "cpu", "cuda", "mps")
PRECISIONS = ("auto", "fp32", "tf32", "bf16", "fp16")


def _mps_available() -> bool:
    mps = getattr(torch.backends, "mps", None)
    return bool(mps is not None and mps.is_available())


def check_device(device: str) -> None:
    """A ConfigError saying what to set when ``device`` is not usable with this torch build and machine."""
    if device == "auto":
        return
    kind = torch.device(device)
    if kind.type == "cuda":
        if not torch.backends.cuda.is_built():
            raise ConfigError(f"config key 'train.device': '{device}', but this torch build ({torch.__version__}) has "
                              "no CUDA support: use --set train.device=cpu (or auto), or install a CUDA build of torch")
        count = torch.cuda.device_count() if torch.cuda.is_available() else 0
        if count == 0:
            raise ConfigError(f"config key 'train.device': '{device}', but no CUDA GPU is visible "
                              "(torch.cuda.is_available() is False): use --set train.device=cpu (or auto)")
        if kind.index is not None and kind.index >= count:
            raise ConfigError(f"config key 'train.device': '{device}', but only {count} CUDA GPU(s) are visible "
                              f"(cuda:0..cuda:{count - 1})")
    elif kind.type == "mps" and not _mps_available():
        raise ConfigError(f"config key 'train.device': '{device}', but MPS is not available on this machine: "
                          "set --set train.device=cpu (or auto)")


def resolve_device(device: str = "auto") -> torch.device:
    """The :class:`torch.device` that ``train.device`` names on this machine (checked: a clear error when absent)."""
    device = str(device)
    if device == "auto":
        if torch.cuda.is_available():
            device = "cuda"
        elif _mps_available():
            device = "mps"
        else:
            return torch.device("cpu")
    check_device(device)
    kind = torch.device(device)
    if kind.type == "cuda" and kind.index is None:
        rank_gpu = os.environ.get("LOCAL_RANK") if int(os.environ.get("WORLD_SIZE", "1")) > 1 else None
        index = int(rank_gpu) % torch.cuda.device_count() if rank_gpu is not None else torch.cuda.current_device()
        kind = torch.device("cuda", index)
    return kind


def evaluation_device(device: str = "auto") -> torch.device:
    """Where to evaluate a run trained on ``device``: that device when this machine has it, else the CPU
    with a warning (a GPU-trained run read on a CPU machine)."""
    try:
        return resolve_device(device)
    except ConfigError as err:
        warn(f"evaluating on the CPU: the run was trained on '{device}', which is not usable here ({err})")
        return torch.device("cpu")


def describe_device(device: torch.device) -> str:
    """``cpu``, ``cuda:0 (NVIDIA H200)``: what run.json records as the device actually used."""
    if device.type == "cuda":
        return f"{device} ({torch.cuda.get_device_name(device)})"
    return str(device)


def module_device(module: nn.Module) -> torch.device:
    """The device of ``module``'s first parameter or buffer (the CPU for a module without any)."""
    for tensor in module.parameters():
        return tensor.device
    for tensor in module.buffers():
        return tensor.device
    return torch.device("cpu")


def place(module: nn.Module, device: torch.device | str) -> nn.Module:
    """``module`` with every parameter and buffer (and a distillation task's frozen teachers) on ``device``."""
    return module.to(torch.device(device))


def to_device(batch: Mapping, device: torch.device | str) -> dict:
    """``batch`` with every tensor on ``device`` (other entries, e.g. recording keys, as they are)."""
    device = torch.device(device)
    return {k: v.to(device, non_blocking=True) if torch.is_tensor(v) else v for k, v in batch.items()}


def resolve_precision(precision: str, device: torch.device) -> str:
    """``train.precision`` on ``device``: ``auto`` is ``tf32`` on a CUDA GPU and ``fp32`` elsewhere; ``tf32`` only
    changes CUDA kernels; ``bf16``/``fp16`` need a device whose autocast supports them."""
    if precision not in PRECISIONS:
        raise ConfigError(f"config key 'train.precision': {precision!r} is not one of {', '.join(PRECISIONS)}")
    if precision == "auto":
        return "tf32" if device.type == "cuda" else "fp32"
    if precision == "bf16" and device.type == "cuda" and not torch.cuda.is_bf16_supported():
        raise ConfigError(f"config key 'train.precision': bf16, but {describe_device(device)} does not support "
                          "bfloat16: use fp16 or fp32")
    if precision in ("bf16", "fp16") and device.type not in ("cpu", "cuda", "mps"):
        raise ConfigError(f"config key 'train.precision': {precision} autocast is not available on {device}: "
                          "use fp32")
    return precision


def _allow_tf32(allowed: bool) -> None:
    torch.backends.cuda.matmul.allow_tf32 = allowed
    torch.backends.cudnn.allow_tf32 = allowed


def autocast(precision: str, device: torch.device):
    """A context manager running the forward pass in ``precision`` (resolved) on ``device``."""
    device = torch.device(device)
    if device.type == "cuda":
        _allow_tf32(precision != "fp32")
    if precision in ("bf16", "fp16"):
        dtype = torch.bfloat16 if precision == "bf16" else torch.float16
        return torch.autocast(device_type=device.type, dtype=dtype)
    return contextlib.nullcontext()


def grad_scaler(precision: str, device: torch.device):
    """A gradient scaler for ``fp16`` (None otherwise: bf16 and float32 need none)."""
    if precision != "fp16":
        return None
    device = torch.device(device)
    amp = getattr(torch, "amp", None)
    if amp is not None and hasattr(amp, "GradScaler"):
        return amp.GradScaler(device.type)
    return torch.cuda.amp.GradScaler(enabled=device.type == "cuda")  # torch < 2.3


def configure_kernels(deterministic: bool) -> None:
    """``train.deterministic``: deterministic algorithms (CUDA's cuBLAS workspace, cuDNN deterministic and not
    benchmarking), so a re-run gives the same metrics; otherwise cuDNN benchmarks for the fastest kernels."""
    if deterministic:
        os.environ.setdefault("CUBLAS_WORKSPACE_CONFIG", ":4096:8")
        torch.use_deterministic_algorithms(True)
    elif torch.are_deterministic_algorithms_enabled():
        torch.use_deterministic_algorithms(False)
    torch.backends.cudnn.deterministic = deterministic
    torch.backends.cudnn.benchmark = not deterministic and torch.cuda.is_available()
