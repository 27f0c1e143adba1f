"""The distillation-loss interface and its registry.

A loss is a small ``nn.Module``. Its ``forward(student, teacher, **context)`` takes the
student's and the teacher's inputs of the kind named by its class attribute
``input_kind`` and returns a scalar tensor:

- ``"logits"``: (B, C) class scores;
- ``"embedding"``: (B, D) vectors (penultimate or semantic layer);
- ``"feature_map"``: (B, C, H, W) or (B, C, L) one layer's activations;
- ``"feature_maps"``: lists of such tensors, one per matched layer (in order).

The caller (a distillation task) passes the teacher's tensors already detached and
any context a loss declares in ``context_keys`` (e.g. ``labels``, ``index`` - the
dataset indices of the batch, for memory banks). A ``multi_teacher`` loss (ACS) gets a
list with every teacher's tensors instead of one teacher's. Losses with learned parts
(regressors, adapters, memory banks) build them in ``__init__`` from the
``student_shape`` / ``teacher_shape`` keywords: the shape of ONE sample's input (no
batch dim), or a list of shapes for ``feature_maps``; losses without learned parts
accept and ignore them, so every loss is built the same way by :func:`create_loss`.

A loss that needs more than its inputs and the context (GSDM's ablation weights) overrides
the task hooks :meth:`DistillLoss.bind` (checked once, when the task is built) and
:meth:`DistillLoss.prepare` (per batch), and names the extra teacher features it reads in
``extra_teacher_keys``; the defaults do nothing, so the task calls them on every loss.
"""

from __future__ import annotations

from typing import Callable, ClassVar

from torch import nn

from harkd.errors import ConfigError, InputError
from harkd.registry import Registry

__all__ = ["DistillLoss", "register_loss", "create_loss", "loss_class", "list_losses", "INPUT_KINDS", "LOSSES"]

INPUT_KINDS = ("logits", "embedding", "feature_map", "feature_maps")
#: The built-in losses' modules register themselves when the registry is first looked up.
LOSSES: Registry[type] = Registry("loss", builtins=("harkd.losses.methods", "harkd.losses.zoo"))


class DistillLoss(nn.Module):
    """Base class: declares what the loss reads; subclasses implement ``forward``."""

    input_kind: ClassVar[str] = "logits"
    context_keys: ClassVar[tuple[str, ...]] = ()
    multi_teacher: ClassVar[bool] = False  # True: ``teacher`` is a list, one entry per teacher
    #: teacher features (beyond the inputs) that :meth:`prepare` reads from every source
    extra_teacher_keys: ClassVar[tuple[str, ...]] = ()
    #: context keys holding one value per teacher source: each source's call gets its own
    per_teacher_keys: ClassVar[tuple[str, ...]] = ()
    #: the softmax temperature of a soft-target loss (kd, acs, crd); None: it has none
    temperature: float | None = None

    def __init__(self, *, student_shape=None, teacher_shape=None):
        super().__init__()
        self.student_shape = student_shape
        self.teacher_shape = teacher_shape

    def bind(self, setup) -> None:
        """Check, once, that the distillation task (``setup``: its sources, which teachers are only
        stored outputs, the class-name embeddings) can serve this loss; raise ConfigError if not."""

    def prepare(self, ctx, sources) -> dict:
        """Context values this loss computes itself for one batch from the task's hooks ``ctx``."""
        return {}


def register_loss(name: str, *, overwrite: bool = False) -> Callable[[type], type]:
    """Class decorator adding a :class:`DistillLoss` subclass under ``name`` (duplicate policy:
    :class:`harkd.registry.Registry`)."""

    def decorator(cls: type) -> type:
        if not (isinstance(cls, type) and issubclass(cls, DistillLoss)):
            raise InputError(f"loss '{name}' must be a subclass of harkd.losses.DistillLoss")
        if cls.input_kind not in INPUT_KINDS:
            raise InputError(f"loss '{name}' must set input_kind to one of {INPUT_KINDS}")
        LOSSES.register(name, cls, overwrite=overwrite)
        cls.registry_name = name
        return cls

    return decorator


def list_losses() -> list[str]:
    """Sorted names of all registered losses (the built-ins included)."""
    return LOSSES.names()


def loss_class(name: str) -> type:
    """The class registered as ``name``; an unknown name is a ConfigError with a suggestion."""
    return LOSSES.get(name)


def create_loss(name: str, **kwargs) -> DistillLoss:
    """Build the loss registered as ``name`` (:func:`list_losses`) with its keyword arguments.

    ``kwargs`` are the loss's hyper-parameters (each loss class documents its own, e.g. ``kd``:
    ``temperature``; ``docs/python.md`` lists them all) and, for losses with learned parts, the
    ``student_shape`` / ``teacher_shape`` of ONE sample's input (no batch dimension; a list of shapes
    for a ``feature_maps`` loss); losses without learned parts accept and ignore them. The result is
    an ``nn.Module`` called as ``loss(student, teacher, **context)`` with the tensors its ``input_kind``
    names; it returns a scalar. Example::

        kd = create_loss("kd", temperature=4)
        value = kd(student_logits, teacher_logits)            # (B, C) each
        fitnet = create_loss("fitnet", student_shape=(64, 32), teacher_shape=(128, 16))  # (C, L) maps

    An unknown name (with a "did you mean" hint) or argument, or a value out of range, is a ConfigError
    or InputError naming the loss and the argument.
    """
    cls = loss_class(name)
    try:
        return cls(**kwargs)
    except TypeError as err:
        raise ConfigError(f"loss '{name}': {err}") from None
