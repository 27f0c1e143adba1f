"""Model registry: ``register_model``, ``create_model``, ``list_models``.

A model declares its facts at registration, the way timm attaches a ``default_cfg`` to each entrypoint:
how its size arguments are read off one prepared sample (``sample_layout``, one of :data:`SAMPLE_LAYOUTS`;
``"modalities"`` for a model that reads several inputs) and its default head spec (``head``: the options
:class:`~harkd.models.base.ClassifierHead` takes, :data:`~harkd.models.base.HEAD_OPTIONS`). The engine keeps
no table of model names and threads no head option by hand."""

from __future__ import annotations

import inspect
from typing import Callable, Mapping

from harkd.errors import ConfigError, InputError, unknown_key_message
from harkd.models.base import HEAD_OPTIONS
from harkd.registry import Registry

__all__ = ["register_model", "create_model", "list_models", "model_facts", "sample_arguments", "MODELS",
           "SAMPLE_LAYOUTS"]

#: The built-in models' modules register themselves when the registry is first looked up.
MODELS: Registry[Callable] = Registry("model", builtins=(
    "harkd.models.fusion", "harkd.models.resnet", "harkd.models.sakdn", "harkd.models.stgcn", "harkd.models.vgg",
    "harkd.models.video", "harkd.models.video3d"))

#: sample layout -> the size arguments read off one prepared sample's shape
SAMPLE_LAYOUTS: dict[str, Callable[[tuple], dict]] = {
    "channels_first": lambda shape: {"in_chans": shape[0]},  # (C, ...)
    "segments": lambda shape: {"in_chans": shape[1], "num_segments": shape[0]},  # (S, C, H, W): a frame per segment
    "modalities": None,  # several inputs: the builder gets ``input_shapes`` {modality: shape} and sizes its parts
}


def register_model(name: str, *, sample_layout: str = "channels_first", head: dict | None = None,
                   overwrite: bool = False) -> Callable:
    """Decorator registering a builder ``fn(num_classes, in_chans=..., head=..., **options) -> ActionModel``
    (duplicate policy: :class:`harkd.registry.Registry`).

    - ``sample_layout``: how a prepared sample gives the size arguments (``channels_first``: (C, ...) gives
      ``in_chans``; ``segments``: (S, C, H, W) gives ``in_chans`` and ``num_segments``; ``modalities``: the
      model reads several modalities and gets ``input_shapes``, {modality: shape}).
    - ``head``: the model's default head spec; :func:`create_model` hands the builder this spec updated by
      the caller's ``head``, as ``head=``. A builder without a ``head`` parameter takes no head options."""
    if sample_layout not in SAMPLE_LAYOUTS:
        raise InputError(f"model '{name}': {unknown_key_message('sample_layout', sample_layout, SAMPLE_LAYOUTS)}")
    default_head = _head_spec(name, head)

    def decorator(builder: Callable) -> Callable:
        MODELS.register(name, builder, overwrite=overwrite)
        builder.sample_layout = sample_layout  # the builder carries its facts, like timm's default_cfg
        builder.default_head = default_head
        return builder

    return decorator


def _head_spec(name: str, head) -> dict:
    """``head`` (a mapping of :data:`HEAD_OPTIONS`, or None) as a plain dict, or an InputError naming the model."""
    if head is None:
        return {}
    if not isinstance(head, Mapping):
        raise InputError(f"model '{name}': head must be a mapping of head options, got {head!r}")
    for key in head:
        if key not in HEAD_OPTIONS:
            raise InputError(f"model '{name}': {unknown_key_message('head option', str(key), HEAD_OPTIONS)}")
    return dict(head)


def model_facts(name: str) -> tuple[str, dict]:
    """Model ``name``'s declared (sample layout, default head spec)."""
    builder = MODELS.get(name)  # an unknown name: ConfigError with a suggestion
    return getattr(builder, "sample_layout", "channels_first"), dict(getattr(builder, "default_head", {}))


def sample_arguments(name: str, shapes: Mapping[str, tuple], inputs) -> dict:
    """The size arguments of model ``name`` read off the prepared input ``shapes`` ({modality: shape}) of
    the modality (a name) or modalities (a list) it reads, as its ``sample_layout`` declares."""
    layout, _ = model_facts(name)
    if layout == "modalities":
        modalities = [inputs] if isinstance(inputs, str) else list(inputs)
        return {"input_shapes": {m: tuple(shapes[m]) for m in modalities}}
    if not isinstance(inputs, str):
        raise ConfigError(f"config key 'model.input': model '{name}' reads one modality; use late_fusion for several")
    return SAMPLE_LAYOUTS[layout](tuple(shapes[inputs]))


def list_models() -> list[str]:
    """Sorted names of all registered models."""
    return MODELS.names()


def create_model(name: str, num_classes: int, in_chans: int | None = None, head: Mapping | None = None, **kwargs):
    """Build the registered model ``name``.

    ``in_chans=None`` keeps the model's default; ``head`` updates the model's default head spec
    (e.g. ``head={"semantic_dim": 300, "drop_rate": 0.5}``; keys: :data:`~harkd.models.base.HEAD_OPTIONS`).
    An unknown ``name`` raises :class:`ConfigError`; an unknown or invalid argument raises
    :class:`InputError` whose message starts with ``model 'NAME':``.
    """
    builder = MODELS.get(name)
    if in_chans is not None:
        kwargs["in_chans"] = in_chans
    spec = {**getattr(builder, "default_head", {}), **_head_spec(name, head)}
    params = inspect.signature(builder).parameters
    valid = [p for p, v in params.items() if v.kind in (v.POSITIONAL_OR_KEYWORD, v.KEYWORD_ONLY)]
    if not any(v.kind is v.VAR_KEYWORD for v in params.values()):
        for key in kwargs:
            if key not in valid and key in HEAD_OPTIONS:
                raise InputError(f"model '{name}': '{key}' is a head option: pass it in head, e.g. "
                                 f"head={{'{key}': {kwargs[key]!r}}}")
            if key not in valid:
                raise InputError(f"model '{name}': {unknown_key_message('argument', key, valid)}")
    if "head" in params:
        kwargs["head"] = spec
    elif spec:
        raise InputError(f"model '{name}': takes no head options, got head={spec!r}")
    try:
        return builder(num_classes=num_classes, **kwargs)
    except InputError as err:
        raise InputError(f"model '{name}': {err}") from None
