"""A small multiply-accumulate counter: forward hooks on Conv/Linear modules plus a
torch-function mode that sees every ``matmul``/``bmm``/``mm`` (the in-graph resampling,
PAA and GAF products). Element-wise work (activations, normalisation, BatchNorm in eval,
pooling, softmax) is not counted: MACs here are the dense multiply-adds only.
"""

from __future__ import annotations

import math

import torch
from torch import nn
from torch.overrides import TorchFunctionMode

__all__ = ["count_macs", "count_parameters"]

_MATMULS = {torch.matmul, torch.Tensor.matmul, torch.Tensor.__matmul__, torch.Tensor.__rmatmul__, torch.bmm,
            torch.mm, torch.Tensor.bmm, torch.Tensor.mm}


class _MatmulCounter(TorchFunctionMode):
    def __init__(self):
        super().__init__()
        self.macs = 0

    def __torch_function__(self, func, types, args=(), kwargs=None):
        out = func(*args, **(kwargs or {}))
        if func in _MATMULS and isinstance(out, torch.Tensor):
            a = args[1] if func is torch.Tensor.__rmatmul__ else args[0]
            inner = a.shape[-1] if a.ndim else 1
            self.macs += out.numel() * inner
        return out


def _module_macs(module: nn.Module, out: torch.Tensor) -> int:
    if isinstance(module, (nn.Conv1d, nn.Conv2d, nn.Conv3d)):
        return out.numel() * (module.in_channels // module.groups) * math.prod(module.kernel_size)
    if isinstance(module, nn.Linear):
        return out.numel() * module.in_features
    return 0


@torch.no_grad()
def count_macs(model: nn.Module, example: torch.Tensor) -> int:
    """Multiply-accumulates of one forward pass of ``model`` on ``example`` (use batch 1 for per-window)."""
    total = [0]

    def hook(module, inputs, out):
        total[0] += _module_macs(module, out)

    handles = [m.register_forward_hook(hook) for m in model.modules()
               if isinstance(m, (nn.Conv1d, nn.Conv2d, nn.Conv3d, nn.Linear))]
    was_training = model.training
    model.eval()
    try:
        with _MatmulCounter() as counter:
            model(example)
    finally:
        for h in handles:
            h.remove()
        model.train(was_training)
    return int(total[0] + counter.macs)


def count_parameters(model: nn.Module) -> int:
    return int(sum(p.numel() for p in model.parameters()))
