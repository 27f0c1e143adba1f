"""Thin helpers over torch.distributed, all no-ops in a single process.

``harkd train`` initialises a process group when launched by ``torchrun`` (the
``WORLD_SIZE`` environment variable is set): gloo on CPU, nccl on GPU.
"""

from __future__ import annotations

import os

import torch
import torch.distributed as dist
from torch import nn

__all__ = ["init_from_env", "rank", "world_size", "barrier", "wrap", "all_reduce_sums", "shutdown"]


def init_from_env(device: str = "cpu") -> bool:
    """Join the process group torchrun describes (nccl when ``device``, a ``train.device`` value such as ``auto``,
    is a CUDA GPU here, else gloo); False when not launched by torchrun."""
    if int(os.environ.get("WORLD_SIZE", "1")) <= 1 or dist.is_initialized():
        return dist.is_initialized()
    from harkd.engine.devices import resolve_device

    placed = resolve_device(device)
    backend = "nccl" if placed.type == "cuda" else "gloo"
    if backend == "nccl":
        torch.cuda.set_device(placed)
    dist.init_process_group(backend=backend)
    return True


def rank() -> int:
    return dist.get_rank() if dist.is_initialized() else 0


def world_size() -> int:
    return dist.get_world_size() if dist.is_initialized() else 1


def barrier() -> None:
    if dist.is_initialized():
        dist.barrier()


def wrap(module: nn.Module, device: torch.device) -> nn.Module:
    """DistributedDataParallel around ``module`` when a group is initialised."""
    if not dist.is_initialized() or not any(p.requires_grad for p in module.parameters()):
        return module
    ids = [device.index] if device.type == "cuda" else None
    unused = getattr(module, "find_unused_parameters", False)  # tasks whose terms skip parameters set it
    return nn.parallel.DistributedDataParallel(module, device_ids=ids, find_unused_parameters=unused)


def all_reduce_sums(values: dict[str, float]) -> dict[str, float]:
    """Sum each value over all ranks (identity in one process)."""
    if not dist.is_initialized():
        return values
    keys = sorted(values)
    tensor = torch.tensor([values[k] for k in keys], dtype=torch.float64)
    dist.all_reduce(tensor)
    return dict(zip(keys, tensor.tolist()))


def shutdown() -> None:
    """Leave the group once every rank is done (a rank tearing down early can abort its peers)."""
    if dist.is_initialized():
        dist.barrier()
        dist.destroy_process_group()
