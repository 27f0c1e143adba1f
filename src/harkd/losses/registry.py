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

A loss declares what it consumes in class attributes, so the distillation builder needs no list of
names: ``temperature_role`` (what its ``temperature`` means: ``soft_targets`` softens the class
distributions, ``contrastive`` scales similarities), ``ensemble`` (whether ``ensemble: true`` may
average its teachers into one), ``reads_teacher`` (False: the student's own term, such as ``ce``,
called as ``loss(student, labels)`` on every row of the batch), ``per_teacher_keys`` and
``context_args``: the :class:`LossContext` fields it takes as constructor defaults (a memory bank's
``num_samples``, a video model's segments). :meth:`DistillLoss.from_context` is the one way the
builder constructs a loss.

A loss that needs more than its inputs and the context (GSDM's ablation weights) overrides
the task hooks :meth:`DistillLoss.bind` (checked once, when the task is built) and
:meth:`DistillLoss.prepare` (per batch), and names the extra teacher features it reads in
``extra_teacher_keys``; the defaults do nothing, so the task calls them on every loss.
"""

from __future__ import annotations

from dataclasses import dataclass, fields, replace
from typing import Any, Callable, ClassVar

from torch import nn

from harkd.errors import ConfigError, InputError
from harkd.registry import Registry

__all__ = ["DistillLoss", "LossContext", "register_loss", "create_loss", "loss_class", "list_losses", "INPUT_KINDS",
           "TEMPERATURE_ROLES", "LOSSES"]

INPUT_KINDS = ("logits", "embedding", "feature_map", "feature_maps")
#: what a loss's ``temperature`` means: it softens class distributions, softmax(logits / T) (the teacher's
#: calibration is reported at it; an ensemble averages at it), or it scales similarities in a contrastive objective
TEMPERATURE_ROLES = ("soft_targets", "contrastive")
#: The built-in losses' modules register themselves when the registry is first looked up.
LOSSES: Registry[type] = Registry("loss", builtins=("harkd.losses.ce", "harkd.losses.methods", "harkd.losses.zoo"))


@dataclass(frozen=True)
class LossContext:
    """What the distillation offers a loss at construction, beside its own arguments."""

    student_shape: Any = None  #: ONE sample's student input (no batch dimension; a list for ``feature_maps``)
    teacher_shape: Any = None  #: the same for the (first) teacher; None for a loss that reads no teacher
    num_samples: int | None = None  #: training recordings (memory banks have one slot each)
    student_segments: int = 1  #: frames per sample of the student's video stages (they hold B * S rows)
    teacher_segments: int = 1  #: the same for the teacher
    label_smoothing: float = 0.0  #: ``train.label_smoothing``


CONTEXT_FIELDS = tuple(f.name for f in fields(LossContext) if f.name not in ("student_shape", "teacher_shape"))


class DistillLoss(nn.Module):
    """Base class: declares what the loss reads; subclasses implement ``forward``."""

    input_kind: ClassVar[str] = "logits"
    context_keys: ClassVar[tuple[str, ...]] = ()
    multi_teacher: ClassVar[bool] = False  # True: ``teacher`` is a list, one entry per teacher
    #: teacher features (beyond the inputs) that :meth:`prepare` reads from every source
    extra_teacher_keys: ClassVar[tuple[str, ...]] = ()
    #: context keys holding one value per teacher source: each source's call gets its own
    per_teacher_keys: ClassVar[tuple[str, ...]] = ()
    #: what ``temperature`` means (one of :data:`TEMPERATURE_ROLES`); None: the loss has no temperature
    temperature_role: ClassVar[str | None] = None
    #: ``ensemble: true`` may average the term's teachers' softmax(logits / T) into one teacher (T: ``temperature``
    #: for a ``soft_targets`` loss, else 1)
    ensemble: ClassVar[bool] = False
    #: False: the student's own term (no teacher), ``loss(student, labels)`` on every row of the batch
    reads_teacher: ClassVar[bool] = True
    #: :class:`LossContext` fields passed as constructor defaults (an argument the config gives wins)
    context_args: ClassVar[tuple[str, ...]] = ()
    #: the temperature's value (see ``temperature_role``); None: it has none
    temperature: float | None = None

    def __init__(self, *, student_shape=None, teacher_shape=None):
        super().__init__()
        self.student_shape = student_shape
        self.teacher_shape = teacher_shape

    @classmethod
    def from_context(cls, context: LossContext, **args) -> "DistillLoss":
        """The loss built with ``args`` (its hyper-parameters), the context's shapes and its ``context_args``."""
        defaults = {name: getattr(context, name) for name in cls.context_args}
        try:
            return cls(student_shape=context.student_shape, teacher_shape=context.teacher_shape, **{**defaults, **args})
        except TypeError as err:
            raise ConfigError(f"loss '{getattr(cls, 'registry_name', cls.__name__)}': {err}") from None

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
        if cls.temperature_role not in (None, *TEMPERATURE_ROLES):
            raise InputError(f"loss '{name}' must set temperature_role to None or one of {TEMPERATURE_ROLES}")
        unknown = [k for k in cls.context_args if k not in CONTEXT_FIELDS]
        if unknown:
            raise InputError(f"loss '{name}': context_args {unknown[0]!r} is no LossContext field "
                             f"(fields: {', '.join(CONTEXT_FIELDS)})")
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


def create_loss(name: str, context: LossContext | None = None, **kwargs) -> DistillLoss:
    """Build the loss registered as ``name`` (:func:`list_losses`) with its keyword arguments.

    ``kwargs`` are the loss's hyper-parameters (each loss class documents its own, e.g. ``kd``:
    ``temperature``; ``docs/python.md`` lists them all) and, for losses with learned parts, the
    ``student_shape`` / ``teacher_shape`` of ONE sample's input (no batch dimension; a list of shapes
    for a ``feature_maps`` loss); losses without learned parts accept and ignore them. ``context``: a
    :class:`LossContext` whose fields fill the arguments the loss declares in ``context_args`` (keywords
    win); the shapes come from ``kwargs`` when given, else from it. The result is
    an ``nn.Module`` called as ``loss(student, teacher, **context)`` with the tensors its ``input_kind``
    names; it returns a scalar. Example::

        kd = create_loss("kd", temperature=4)
        value = kd(student_logits, teacher_logits)            # (B, C) each
        fitnet = create_loss("fitnet", student_shape=(64, 32), teacher_shape=(128, 16))  # (C, L) maps

    An unknown name (with a "did you mean" hint) or argument, or a value out of range, is a ConfigError
    or InputError naming the loss and the argument.
    """
    context = context or LossContext()
    shapes = {k: kwargs.pop(k, getattr(context, k)) for k in ("student_shape", "teacher_shape")}
    return loss_class(name).from_context(replace(context, **shapes), **kwargs)
