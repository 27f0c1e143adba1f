"""Model registry: ``register_model``, ``create_model``, ``list_models``."""

from __future__ import annotations

import inspect
from typing import Callable

from harkd.errors import ConfigError, InputError, unknown_key_message

__all__ = ["register_model", "create_model", "list_models"]

_MODELS: dict[str, Callable] = {}


def register_model(name: str, *, overwrite: bool = False) -> Callable:
    """Decorator registering a builder ``fn(num_classes, in_chans=..., **options) -> ActionModel``."""

    def decorator(fn: Callable) -> Callable:
        if name in _MODELS and not overwrite:
            raise InputError(f"model '{name}' is already registered (pass overwrite=True to replace it)")
        _MODELS[name] = fn
        return fn

    return decorator


def list_models() -> list[str]:
    """Sorted names of all registered models."""
    return sorted(_MODELS)


def create_model(name: str, num_classes: int, in_chans: int | None = None, **kwargs):
    """Build the registered model ``name``.

    ``in_chans=None`` keeps the model's default. An unknown ``name`` raises
    :class:`ConfigError`; an unknown or invalid argument raises :class:`InputError`
    whose message starts with ``model 'NAME':``.
    """
    if name not in _MODELS:
        raise ConfigError(unknown_key_message("model", name, list_models()))
    builder = _MODELS[name]
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
