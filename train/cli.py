"""Typed command lines: one ``--flag`` per field of an ``Args`` dataclass (CleanRL's pattern, without tyro)."""

from __future__ import annotations

import argparse
import ast
import inspect
import math
import textwrap
import types
from collections.abc import Callable, Mapping
from dataclasses import fields
from typing import Any, Union, get_args, get_origin, get_type_hints

import realism_env


def field_docs(cls: type) -> dict[str, str]:
    """The docstring written under each field of the dataclass ``cls``."""
    body = ast.parse(textwrap.dedent(inspect.getsource(cls))).body[0].body
    return {
        node.target.id: str(after.value.value)
        for node, after in zip(body, body[1:], strict=False)
        if isinstance(node, ast.AnnAssign) and isinstance(after, ast.Expr) and isinstance(after.value, ast.Constant)
    }


#: The largest seed a run takes: stable-baselines3 seeds numpy's legacy generator, which takes 0 .. 2**32 - 1 (torch's
#: takes less than 2**64); a larger one failed with a traceback after the run had started.
MAX_SEED = 2**32 - 1


def check_numbers(
    args: Any,
    *,
    seed: str | None = "seed",
    unit: tuple[str, ...] = (),
    positive: tuple[str, ...] = (),
    non_negative: tuple[str, ...] = (),
) -> None:
    """Raise ``ValueError`` naming the ``--flag`` of the first field of ``args`` out of its range: ``seed`` 0 ..
    :data:`MAX_SEED`; ``unit`` fields (a discount, a GAE lambda) in (0, 1]; ``positive`` fields finite and > 0;
    ``non_negative`` ones finite and >= 0 (NaN and infinity are refused everywhere: they train nothing)."""

    def flag(name: str) -> str:
        return "--" + name.replace("_", "-")

    if seed is not None and not 0 <= getattr(args, seed) <= MAX_SEED:
        raise ValueError(f"{flag(seed)}={getattr(args, seed)} is invalid; valid: an integer from 0 to {MAX_SEED}")
    for name in unit:
        if not 0.0 < getattr(args, name) <= 1.0:
            raise ValueError(f"{flag(name)}={getattr(args, name)} is invalid; valid: in (0.0, 1.0]")
    for names, strictly in ((positive, True), (non_negative, False)):
        for name in names:
            value = getattr(args, name)
            if not math.isfinite(value) or value < 0 or (strictly and value == 0):
                valid = "a finite number > 0" if strictly else "a finite number >= 0"
                raise ValueError(f"{flag(name)}={value} is invalid; valid: {valid}")


def check_population(flag: str, population: str) -> None:
    """``ValueError`` naming ``flag`` unless ``population`` names the doctrines of a world's nations
    (:func:`realism_env.doctrine_cycle`: a registered doctrine, ``mixed``, or registered doctrines joined by ``+``),
    with the valid choices and what is wrong."""
    try:
        realism_env.doctrine_cycle(population)
    except ValueError as error:
        valid = ", ".join([*realism_env.doctrine_names(), realism_env.MIXED])
        raise ValueError(
            f"{flag} {population!r} is invalid; valid: {valid}, or doctrines joined by + ({error})"
        ) from None


def scenarios_of(n_nations: int, overrides: Mapping[str, Any] | None = None) -> list[str]:
    """The registered scenarios whose worlds have ``n_nations`` nations with ``overrides`` on top (but for a nation
    count of theirs, which would give every scenario that count): what an error refusing a world of another count
    lists as valid. A scenario the overrides do not fit is left out."""
    fields = {k: v for k, v in (overrides or {}).items() if k != "n_nations"}
    found = []
    for name in sorted(realism_env.SCENARIOS):
        try:
            count = realism_env.EnvConfig.from_scenario(name, **fields).n_nations
        except ValueError:
            continue
        if count == n_nations:
            found.append(name)
    return found


def _one_of(choices: tuple[str, ...], advice: str, other: Callable[[str], str] | None = None) -> Any:
    """An argparse ``type`` that takes a value among ``choices`` and refuses any other with the choices and
    ``advice``; with ``other``, a value outside the choices is what ``other`` returns for it, or refused with the
    ``ValueError`` it raises (``None``: not a value ``other`` reads, refused as above)."""

    def check(value: str) -> str:
        if value in choices:
            return value
        if other is not None:
            try:
                read = other(value)
            except ValueError as error:
                raise argparse.ArgumentTypeError(str(error)) from None
            if read is not None:
                return read
        said = f" ({advice})" if advice else ""
        raise argparse.ArgumentTypeError(f"invalid choice: {value!r}; valid: {', '.join(choices)}{said}")

    return check


def dataclass_parser(cls: type, prog: str, description: str) -> argparse.ArgumentParser:
    """A parser with one option per field of ``cls``: type from the annotation, default from the field, help from
    ``field(metadata={"help": ...})`` or the field's docstring, ``choices`` from the metadata (a tuple, or a function
    called now that gives one: names registered at run time, such as doctrines). Booleans become ``--flag/--no-flag``;
    a ``tuple`` field is a repeatable option. A field with ``cli=False`` in its metadata gets no option (its caller
    adds its own); one with ``unknown="..."`` adds that advice to the error of a value outside its choices (how to
    register a name of one's own), and with ``other=f`` too takes a value outside the choices that ``f`` reads (it
    returns the value, ``None`` for one it does not read, or raises ``ValueError`` saying what is wrong)."""
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
            if "unknown" in f.metadata or "other" in f.metadata:
                advice = f.metadata.get("unknown", "")
                options["type"] = _one_of(options["choices"], advice, f.metadata.get("other"))
            options["metavar"] = f.name.upper() if "choices" not in f.metadata else None
            if "other" in f.metadata:  # argparse's own check of the choices would refuse the values beyond them
                options["metavar"] = "{" + ",".join(options.pop("choices")) + ",...}"
        parser.add_argument("--" + f.name.replace("_", "-"), **options)
    return parser
