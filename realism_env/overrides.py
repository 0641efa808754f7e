"""``FIELD=VALUE`` overrides of an :class:`~realism_env.config.EnvConfig`: the one syntax of every ``--set``.

Each value is parsed to the type of its field: ``--set offense_defense_balance=2``, ``--set reveal_doctrines=true``,
``--set capability_shares=0.3,0.3,0.1,0.1,0.1,0.1`` (or ``[0.3, 0.3, ...]``), ``--set map_kind=islands``. A bad
field or value raises ``ValueError`` naming it and what is valid.
"""

from __future__ import annotations

import math
import types
import typing
from collections.abc import Iterable
from typing import Any

from realism_env.config import EnvConfig

_CONFIG_TYPES: dict[str, Any] = typing.get_type_hints(EnvConfig)
_TRUE = ("true", "yes", "on", "1")
_FALSE = ("false", "no", "off", "0")


def _choices(options: Any) -> str:
    return ", ".join(sorted(options))


def parse_value(field: str, text: str) -> Any:
    """``text`` parsed to the type of ``EnvConfig.<field>``. Raises ``ValueError`` naming the field."""
    if field not in _CONFIG_TYPES:
        raise ValueError(f"unknown config field {field!r}; valid: {_choices(_CONFIG_TYPES)}")
    hint = _CONFIG_TYPES[field]
    options = typing.get_args(hint) if typing.get_origin(hint) in (typing.Union, types.UnionType) else (hint,)
    text = text.strip()
    if type(None) in options and text.lower() in ("none", "null", ""):
        return None
    errors = []
    for option in (o for o in options if o is not type(None)):
        try:
            return _parse_as(option, text)
        except ValueError as error:
            errors.append(str(error))
    raise ValueError(f"config field {field}={text!r} is invalid; expected {' or '.join(errors)}")


def _parse_as(kind: Any, text: str) -> Any:
    if kind is bool:
        if text.lower() in _TRUE:
            return True
        if text.lower() in _FALSE:
            return False
        raise ValueError(f"a boolean ({'/'.join(_TRUE)} or {'/'.join(_FALSE)})")
    if kind is int:
        try:
            return int(text)
        except ValueError:
            raise ValueError("an integer") from None
    if kind is float:
        try:
            value = float(text)
        except ValueError:
            raise ValueError("a number") from None
        if not math.isfinite(value):
            raise ValueError("a finite number")
        return value
    if kind is str:
        if "," in text or not text:
            raise ValueError("a single name")
        return text
    if typing.get_origin(kind) is tuple:
        (item,) = {a for a in typing.get_args(kind) if a is not Ellipsis}
        inside = text.strip("()[] ")
        items = [t.strip() for t in inside.split(",")] if inside else []
        if "" in items:  # "0.1,,0.2": a value left out, not a shorter list
            raise ValueError("a comma-separated list with no empty item")
        try:
            return tuple(_parse_as(item, t) for t in items)
        except ValueError as error:
            raise ValueError(f"a comma-separated list, each {error}") from None
    raise ValueError(f"a value of type {kind}")  # pragma: no cover - every EnvConfig field type is handled above


def parse_override(text: str) -> tuple[str, Any]:
    """``"field=value"`` (the ``--set`` syntax) -> ``(field, typed value)``."""
    field, sep, value = text.partition("=")
    field = field.strip()
    if not sep or not field:
        raise ValueError(f"--set {text!r} is invalid; valid: FIELD=VALUE with FIELD one of {_choices(_CONFIG_TYPES)}")
    return field, parse_value(field, value)


def parse_overrides(texts: Iterable[str]) -> dict[str, Any]:
    """Every ``--set`` of a command line -> ``{field: typed value}``; a field set twice raises ``ValueError`` naming
    it and both values (the last would win in silence, and a typo in one of them would go unnoticed)."""
    overrides: dict[str, Any] = {}
    given: dict[str, str] = {}
    for text in texts:
        field, value = parse_override(text)
        if field in overrides:
            raise ValueError(
                f"--set {text!r}: {field} is already set by --set {given[field]!r}; valid: each field once"
            )
        overrides[field], given[field] = value, text
    return overrides


def format_value(value: Any) -> str:
    """The ``--set`` text of a config value (the inverse of :func:`parse_value`)."""
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, (list, tuple)):
        return ",".join(format_value(v) for v in value)
    return str(value)
