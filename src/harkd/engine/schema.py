"""Typed, validated configuration built from plain dicts (YAML) with ``--set`` overrides.

A schema is a tree of dataclasses. :func:`from_dict` checks every key against the
dataclass fields (an unknown key is an error naming its dotted path and the closest
valid key), coerces scalars to the annotated type, fills defaults, and checks the
ranges of fields declared with :func:`ranged` (a value out of range is an error naming its
dotted path, the value and the range). :func:`apply_overrides` applies ``a.b.c=value``
strings (values parsed as YAML).
"""

from __future__ import annotations

import copy
import dataclasses
import math
import re
import types
import typing
from typing import Any, Mapping

import yaml

from harkd.errors import ConfigError, unknown_key_message

__all__ = ["from_dict", "to_dict", "apply_overrides", "parse_override", "load_yaml", "ranged", "Range",
           "check_ranges", "check_value"]


class _YamlLoader(yaml.SafeLoader):
    """SafeLoader that also reads ``1e-4`` (no dot) as a float, as users expect, and refuses a key
    given twice in one mapping (plain YAML keeps the last one in silence)."""

    def construct_mapping(self, node: yaml.MappingNode, deep: bool = False) -> Any:
        seen = set()
        for key_node, _ in node.value:
            if key_node.tag == "tag:yaml.org,2002:merge":  # '<<: *anchor' keys may be overridden
                continue
            key = self.construct_object(key_node, deep=True)
            if isinstance(key, typing.Hashable):
                if key in seen:
                    raise yaml.constructor.ConstructorError(
                        None, None, f"key {key!r} is given twice (line {key_node.start_mark.line + 1})", None)
                seen.add(key)
        return super().construct_mapping(node, deep=deep)


_YamlLoader.add_implicit_resolver(
    "tag:yaml.org,2002:float",
    re.compile(r"^[-+]?(?:\d+\.?\d*|\.\d+)[eE][-+]?\d+$"),
    list("-+0123456789."),
)


def load_yaml(text: str) -> Any:
    """Parse YAML text with the float-friendly loader."""
    return yaml.load(text, Loader=_YamlLoader)


@dataclasses.dataclass(frozen=True)
class Range:
    """Bounds of a number (``None``: unbounded); ``closed_low`` / ``closed_high`` include the bound."""

    low: float | None = None
    high: float | None = None
    closed_low: bool = True
    closed_high: bool = True

    def contains(self, value: float) -> bool:
        if not math.isfinite(value):
            return False
        if self.low is not None and (value < self.low or (value == self.low and not self.closed_low)):
            return False
        return not (self.high is not None and (value > self.high or (value == self.high and not self.closed_high)))

    def __str__(self) -> str:
        low, high = _number(self.low), _number(self.high)
        if self.high is None:
            return f"{'>=' if self.closed_low else '>'} {low}"
        if self.low is None:
            return f"{'<=' if self.closed_high else '<'} {high}"
        return f"in {'[' if self.closed_low else '('}{low}, {high}{']' if self.closed_high else ')'}"


def _number(value: float | None) -> str:
    """A bound as written: integers in full (4294967295, not 4.29497e+09), other numbers as ``%g``."""
    return str(value) if value is None or isinstance(value, int) else f"{value:g}"


def ranged(default: Any = dataclasses.MISSING, *, default_factory: Any = dataclasses.MISSING,
           low: float | None = None, high: float | None = None, closed_low: bool = True,
           closed_high: bool = True, omit_default: bool = False) -> Any:
    """A dataclass field whose number (or every number of its list) must lie in the range.

    ``None`` (an optional field left unset) is always accepted; ``omit_default``: the resolved config leaves
    the field out while it holds its default (:data:`OMIT_DEFAULT`)."""
    return dataclasses.field(default=default, default_factory=default_factory,
                             metadata={"range": Range(low, high, closed_low, closed_high),
                                       **(OMIT_DEFAULT if omit_default else {})})


def check_value(value: Any, bounds: Range, path: str) -> None:
    """A ConfigError naming ``path`` when the number ``value`` (or a number of the list) is out of ``bounds``."""
    items = value if isinstance(value, (list, tuple)) else [value]
    for i, item in enumerate(items):
        if item is None or isinstance(item, bool) or not isinstance(item, (int, float)):
            continue
        if not bounds.contains(item):
            where = f"{path}[{i}]" if isinstance(value, (list, tuple)) else path
            raise ConfigError(f"{_describe(where)}: must be {bounds}, got {item!r}")


def check_ranges(obj: Any, path: str = "") -> None:
    """Check every :func:`ranged` field of a config tree (e.g. one built in Python, not by :func:`from_dict`)."""
    if not dataclasses.is_dataclass(obj):
        return
    for f in dataclasses.fields(obj):
        sub = f"{path}.{f.name}" if path else f.name
        value = getattr(obj, f.name)
        if "range" in f.metadata:
            check_value(value, f.metadata["range"], sub)
        if isinstance(value, (list, tuple)):
            for i, child in enumerate(value):
                check_ranges(child, f"{sub}[{i}]")
        else:
            check_ranges(value, sub)


def _describe(path: str) -> str:
    return f"config key '{path}'" if path else "config"


def _coerce(value: Any, annotation: Any, path: str) -> Any:
    """Convert ``value`` to ``annotation`` or raise a ConfigError naming ``path``."""
    origin = typing.get_origin(annotation)
    if annotation is Any:
        return value
    if origin in (typing.Union, types.UnionType):
        options = typing.get_args(annotation)
        if value is None and type(None) in options:
            return None
        errors = []
        for option in options:
            if option is type(None):
                continue
            try:
                return _coerce(value, option, path)
            except ConfigError as err:
                errors.append(str(err))
        raise ConfigError(errors[-1] if errors else f"{_describe(path)}: invalid value {value!r}")
    if origin is typing.Literal:
        allowed = typing.get_args(annotation)
        if value not in allowed:
            raise ConfigError(
                f"{_describe(path)}: {value!r} is not one of {', '.join(map(repr, allowed))}"
            )
        return value
    if dataclasses.is_dataclass(annotation):
        return from_dict(annotation, value, path)
    if origin in (list, tuple):
        if isinstance(value, (str, bytes)) or not isinstance(value, (list, tuple)):
            raise ConfigError(f"{_describe(path)}: expected a list, got {value!r}")
        args = typing.get_args(annotation)
        item_type = args[0] if args else Any
        items = [_coerce(v, item_type, f"{path}[{i}]") for i, v in enumerate(value)]
        return items if origin is list else tuple(items)
    if origin is dict or annotation is dict:
        if not isinstance(value, Mapping):
            raise ConfigError(f"{_describe(path)}: expected a mapping, got {value!r}")
        args = typing.get_args(annotation)
        value_type = args[1] if len(args) == 2 else Any
        return {k: _coerce(v, value_type, f"{path}.{k}") for k, v in value.items()}
    if annotation is bool:
        if isinstance(value, bool):
            return value
        raise ConfigError(f"{_describe(path)}: expected true or false, got {value!r}")
    if annotation is int:
        if isinstance(value, bool) or not isinstance(value, int):
            if isinstance(value, float) and value.is_integer():
                return int(value)
            raise ConfigError(f"{_describe(path)}: expected an integer, got {value!r}")
        return value
    if annotation is float:
        if isinstance(value, bool) or not isinstance(value, (int, float)):
            raise ConfigError(f"{_describe(path)}: expected a number, got {value!r}")
        return float(value)
    if annotation is str:
        if not isinstance(value, str):
            raise ConfigError(f"{_describe(path)}: expected a string, got {value!r}")
        return value
    return value


def from_dict(cls: type, data: Mapping[str, Any] | None, path: str = "") -> Any:
    """Build dataclass ``cls`` from ``data``, validating keys and types."""
    if data is None:
        data = {}
    if not isinstance(data, Mapping):
        raise ConfigError(f"{_describe(path)}: expected a mapping, got {data!r}")
    hints = typing.get_type_hints(cls)
    fields = {f.name: f for f in dataclasses.fields(cls)}
    for key in data:
        if key not in fields:
            where = f" in '{path}'" if path else ""
            raise ConfigError(unknown_key_message("config key", str(key), fields) + where)
    kwargs = {}
    for name, field in fields.items():
        sub = f"{path}.{name}" if path else name
        if name in data:
            kwargs[name] = _coerce(data[name], hints[name], sub)
            if "range" in field.metadata:
                check_value(kwargs[name], field.metadata["range"], sub)
        elif field.default is dataclasses.MISSING and field.default_factory is dataclasses.MISSING:
            raise ConfigError(f"missing required config key '{sub}'")
    try:
        return cls(**kwargs)
    except (ValueError, TypeError) as err:  # __post_init__ validation
        raise ConfigError(f"{_describe(path)}: {err}") from None


#: field metadata: leave the key out of :func:`to_dict` while it holds its default (a key added later, so
#: config.yaml of runs that do not use it reads as before)
OMIT_DEFAULT = {"omit_default": True}


def _at_default(obj: Any, f: dataclasses.Field) -> bool:
    if not f.metadata.get("omit_default"):
        return False
    default = f.default if f.default is not dataclasses.MISSING else f.default_factory()
    return getattr(obj, f.name) == default


def to_dict(obj: Any) -> Any:
    """Plain-data (YAML/JSON-serialisable) form of a config tree."""
    if dataclasses.is_dataclass(obj):
        return {f.name: to_dict(getattr(obj, f.name)) for f in dataclasses.fields(obj) if not _at_default(obj, f)}
    if isinstance(obj, (list, tuple)):
        return [to_dict(v) for v in obj]
    if isinstance(obj, Mapping):
        return {k: to_dict(v) for k, v in obj.items()}
    return obj


def parse_override(text: str) -> tuple[list[str], Any]:
    """Split ``"a.b=value"`` into (["a", "b"], parsed YAML value)."""
    key, sep, raw = text.partition("=")
    if not sep or not key.strip():
        raise ConfigError(f"override '{text}' must look like key.path=value")
    try:
        value = load_yaml(raw) if raw.strip() else ""
    except yaml.YAMLError:
        value = raw
    return [part for part in key.strip().split(".")], value


def apply_overrides(data: Mapping[str, Any], overrides: list[str]) -> dict[str, Any]:
    """Return a deep copy of ``data`` with each ``key.path=value`` override set.

    A numeric path part indexes a list (``losses.1.weight=0.5``)."""
    result = copy.deepcopy(dict(data))
    for text in overrides:
        keys, value = parse_override(text)
        node: Any = result
        for depth, key in enumerate(keys):
            where = ".".join(keys[: depth + 1])
            last = depth == len(keys) - 1
            if isinstance(node, list):
                if not key.isdigit() or int(key) >= len(node):
                    raise ConfigError(f"override '{text}': '{where}' is not an index of a {len(node)}-item list")
                key = int(key)
            elif not isinstance(node, dict):
                raise ConfigError(f"override '{text}': '{'.'.join(keys[:depth])}' is not a section")
            if last:
                node[key] = value
            else:
                if isinstance(node, dict) and node.get(key) is None:
                    node[key] = {}
                node = node[key]
    return result
