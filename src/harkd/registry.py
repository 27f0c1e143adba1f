"""One name -> object registry for datasets, models, graph layouts, losses, transforms and recipes.

A :class:`Registry` holds the objects of one kind under their names and is the only place
that decides what a duplicate, an unknown name and the built-ins mean:

- **Duplicates**: registering the very same object again under its name is a no-op (a
  module imported twice registers nothing new); a *different* object under a taken name
  raises :class:`~harkd.errors.InputError` ``"KIND 'NAME' is already registered (pass
  overwrite=True to replace it)"`` unless ``overwrite=True``.
- **Lazy built-ins**: the modules named in ``builtins`` are imported (they register their
  objects) the first time the registry is looked up, so ``names()`` is complete without
  importing every built-in up front.
- **Unknown names**: :class:`~harkd.errors.ConfigError` ``"unknown KIND 'NAME'; did you
  mean 'X'? (valid: ...)"``, the hint only when a name is close (:mod:`difflib`).

Bottom floor: imports nothing from harkd but :mod:`harkd.errors`.
"""

from __future__ import annotations

import importlib
from typing import Callable, Generic, Iterator, Sequence, TypeVar

from harkd.errors import ConfigError, InputError, unknown_key_message

__all__ = ["Registry"]

T = TypeVar("T")


class Registry(Generic[T]):
    """Objects of one ``kind`` (the word in messages: ``"model"``) by name.

    ``builtins``: modules imported on the first lookup; ``normalise``: maps a name to its
    registry key (e.g. case- and ``-``/``_``-insensitive dataset names; default: unchanged).
    """

    def __init__(self, kind: str, builtins: Sequence[str] = (), normalise: Callable[[str], str] | None = None):
        self.kind = kind
        self.builtins = tuple(builtins)
        self._normalise = normalise or (lambda name: name)
        self._items: dict[str, T] = {}
        self._loaded = not self.builtins

    # -- registering ---------------------------------------------------------------
    def register(self, name: str, obj: T, *, overwrite: bool = False) -> T:
        """Add ``obj`` under ``name`` (see the module's duplicate policy); returns ``obj``."""
        key = self._normalise(name)
        if key in self._items and self._items[key] is not obj and not overwrite:
            raise InputError(f"{self.kind} '{name}' is already registered (pass overwrite=True to replace it)")
        self._items[key] = obj
        return obj

    def decorator(self, name: str, *, overwrite: bool = False) -> Callable[[T], T]:
        """``@registry.decorator("name")``: register the decorated object under ``name``."""
        return lambda obj: self.register(name, obj, overwrite=overwrite)

    # -- looking up ----------------------------------------------------------------
    def load_builtins(self) -> None:
        """Import the built-in modules once (each registers its objects)."""
        if self._loaded:
            return
        self._loaded = True  # before importing: a built-in module may look the registry up
        try:
            for module in self.builtins:
                importlib.import_module(module)
        except BaseException:
            self._loaded = False
            raise

    def get(self, name: str) -> T:
        """The object registered as ``name``; ConfigError naming the close match and the valid names."""
        self.load_builtins()
        try:
            return self._items[self._normalise(name)]
        except (KeyError, AttributeError, TypeError):
            raise ConfigError(unknown_key_message(self.kind, str(name), self._items)) from None

    def names(self) -> list[str]:
        """The registered names, sorted."""
        self.load_builtins()
        return sorted(self._items)

    def items(self) -> list[tuple[str, T]]:
        """``(name, object)`` pairs in registration order (the built-ins in the order of ``builtins``)."""
        self.load_builtins()
        return list(self._items.items())

    def __contains__(self, name: object) -> bool:
        self.load_builtins()
        try:
            return self._normalise(name) in self._items  # type: ignore[arg-type]
        except (AttributeError, TypeError):
            return False

    def __iter__(self) -> Iterator[str]:
        return iter(self.names())

    def __len__(self) -> int:
        return len(self.names())

    def copy(self) -> "Registry[T]":
        """An independent registry with the same entries (tests register into a copy)."""
        self.load_builtins()
        other = Registry(self.kind, self.builtins, self._normalise)
        other._items = dict(self._items)
        other._loaded = True
        return other

    def __repr__(self) -> str:
        return f"<Registry of {self.kind}s: {', '.join(self.names())}>"
