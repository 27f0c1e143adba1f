"""Model registry: ``register_model``, ``create_model``, ``list_models``."""

from __future__ import annotations

import inspect
from typing import Callable

from harkd.errors import InputError, unknown_key_message
from harkd.registry import Registry

__all__ = ["register_model", "create_model", "list_models", "MODELS"]

#: The built-in models' modules register themselves when the registry is first looked up.
MODELS: Registry[Callable] = Registry("model", builtins=(
    "harkd.models.resnet", "harkd.models.sakdn", "harkd.models.stgcn", "harkd.models.vgg", "harkd.models.video",
    "harkd.models.video3d"))


def register_model(name: str, *, overwrite: bool = False) -> Callable:
    """Decorator registering a builder ``fn(num_classes, in_chans=..., **options) -> ActionModel``
    (duplicate policy: :class:`harkd.registry.Registry`)."""
    return MODELS.decorator(name, overwrite=overwrite)


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
