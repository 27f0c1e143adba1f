"""Distillation losses registered by name (see :mod:`harkd.losses.registry` for the interface)."""

from harkd.losses.registry import INPUT_KINDS, DistillLoss, create_loss, list_losses, register_loss

__all__ = ["INPUT_KINDS", "DistillLoss", "create_loss", "list_losses", "register_loss"]
