"""Typed command lines: one ``--flag`` per field of an ``Args`` dataclass (CleanRL's pattern, without tyro)."""

from __future__ import annotations

import argparse
import ast
import inspect
import textwrap
import types
from dataclasses import fields
from typing import Any, Union, get_args, get_origin, get_type_hints


def field_docs(cls: type) -> dict[str, str]:
    """The docstring written under each field of the dataclass ``cls``."""
    body = ast.parse(textwrap.dedent(inspect.getsource(cls))).body[0].body
    return {
        node.target.id: str(after.value.value)
        for node, after in zip(body, body[1:], strict=False)
        if isinstance(node, ast.AnnAssign) and isinstance(after, ast.Expr) and isinstance(after.value, ast.Constant)
    }


def _one_of(choices: tuple[str, ...], advice: str) -> Any:
    """An argparse ``type`` that takes a value among ``choices`` and refuses any other with the choices and
    ``advice``."""

    def check(value: str) -> str:
        if value not in choices:
            raise argparse.ArgumentTypeError(f"invalid choice: {value!r}; valid: {', '.join(choices)} ({advice})")
        return value

    return check


def dataclass_parser(cls: type, prog: str, description: str) -> argparse.ArgumentParser:
    """A parser with one option per field of ``cls``: type from the annotation, default from the field, help from
    ``field(metadata={"help": ...})`` or the field's docstring, ``choices`` from the metadata (a tuple, or a function
    called now that gives one: names registered at run time, such as doctrines). Booleans become ``--flag/--no-flag``;
    a ``tuple`` field is a repeatable option. A field with ``cli=False`` in its metadata gets no option (its caller
    adds its own); one with ``unknown="..."`` adds that advice to the error of a value outside its choices (how to
    register a name of one's own)."""
    parser = argparse.ArgumentParser(
        prog=prog, description=description, formatter_class=argparse.ArgumentDefaultsHelpFormatter
    )
    hints = get_type_hints(cls)
    docs = field_docs(cls)
    for f in fields(cls):
        if f.metadata.get("cli") is False:
            continue
        kind = hints[f.name]
        options: dict[str, Any] = {"help": f.metadata.get("help", docs.get(f.name, "")), "default": f.default}
        options["dest"] = f.name
        if "choices" in f.metadata:
            choices = f.metadata["choices"]
            options["choices"] = choices() if callable(choices) else choices
        if kind is bool:
            options["action"] = argparse.BooleanOptionalAction
        elif get_origin(kind) is tuple:
            options.update(action="append", metavar="FIELD=VALUE", default=None)
        else:
            if get_origin(kind) in (Union, types.UnionType):
                kind = next(a for a in get_args(kind) if a is not type(None))
            options["type"] = kind
            if "unknown" in f.metadata:
                options["type"] = _one_of(options["choices"], f.metadata["unknown"])
            options["metavar"] = f.name.upper() if "choices" not in f.metadata else None
        parser.add_argument("--" + f.name.replace("_", "-"), **options)
    return parser
