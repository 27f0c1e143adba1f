"""Model registry: ``register_model``, ``create_model``, ``list_models``.

A model declares at registration how its size arguments are read off one prepared sample
(``sample_layout``, one of :data:`SAMPLE_LAYOUTS`), so the engine keeps no table of model names."""

from __future__ import annotations

import inspect
from typing import Callable

from harkd.errors import InputError, unknown_key_message
from harkd.registry import Registry

__all__ = ["register_model", "create_model", "list_models", "sample_arguments", "MODELS", "SAMPLE_LAYOUTS"]

#: The built-in models' modules register themselves when the registry is first looked up.
MODELS: Registry[Callable] = Registry("model", builtins=(
    "harkd.models.resnet", "harkd.models.sakdn", "harkd.models.stgcn", "harkd.models.vgg", "harkd.models.video",
    "harkd.models.video3d"))

#: sample layout -> the size arguments read off one prepared sample's shape
SAMPLE_LAYOUTS: dict[str, Callable[[tuple], dict]] = {
    "channels_first": lambda shape: {"in_chans": shape[0]},  # (C, ...)
    "segments": lambda shape: {"in_chans": shape[1], "num_segments": shape[0]},  # (S, C, H, W): a frame per segment
}


def register_model(name: str, *, sample_layout: str = "channels_first", overwrite: bool = False) -> Callable:
    """Decorator registering a builder ``fn(num_classes, in_chans=..., **options) -> ActionModel``
    (duplicate policy: :class:`harkd.registry.Registry`). ``sample_layout``: how a prepared sample's
    shape gives its size arguments (``channels_first``: ``in_chans``; ``segments``: (S, C, H, W) gives
    ``in_chans`` and ``num_segments``)."""
    if sample_layout not in SAMPLE_LAYOUTS:
        raise InputError(f"model '{name}': {unknown_key_message('sample_layout', sample_layout, SAMPLE_LAYOUTS)}")

    def decorator(builder: Callable) -> Callable:
        MODELS.register(name, builder, overwrite=overwrite)
        builder.sample_layout = sample_layout  # the builder carries its facts, like timm's default_cfg
        return builder

    return decorator


def sample_arguments(name: str, shape: tuple) -> dict:
    """The size arguments of model ``name`` read off one prepared sample of ``shape`` (its declared layout)."""
    builder = MODELS.get(name)  # an unknown name: ConfigError with a suggestion
    return SAMPLE_LAYOUTS[getattr(builder, "sample_layout", "channels_first")](tuple(shape))


def list_models() -> list[str]:
    """Sorted names of all registered models."""
    return MODELS.names()


def create_model(name: str, num_classes: int, in_chans: int | None = None, **kwargs):
    """Build the registered model ``name``.

    ``in_chans=None`` keeps the model's default. An unknown ``name`` raises
    :class:`ConfigError`; an unknown or invalid argument raises :class:`InputError`
    whose message starts with ``model 'NAME':``.
    """
    builder = MODELS.get(name)
    if in_chans is not None:
        kwargs["in_chans"] = in_chans
    params = inspect.signature(builder).parameters
    valid = [p for p, v in params.items() if v.kind in (v.POSITIONAL_OR_KEYWORD, v.KEYWORD_ONLY)]
    if not any(v.kind is v.VAR_KEYWORD for v in params.values()):
        for key in kwargs:
            if key not in valid:
                raise InputError(f"model '{name}': {unknown_key_message('argument', key, valid)}")
    try:
        return builder(num_classes=num_classes, **kwargs)
    except InputError as err:
        raise InputError(f"model '{name}': {err}") from None
