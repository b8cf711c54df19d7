"""SQL expressions that know which JSON values they read.

A mapping field's SQL is an `Expr`: SQL text with `TextAt` and `TypeAt` references (the text,
or the JSON type, of the value at a path of a payload alias) kept as objects, not as text. So
`models.normalize` can read each referenced path once per record and substitute the result,
without parsing SQL back out of text; `render()` with no argument gives the plain SQL.

Paths and aliases are code constants; they are validated anyway, so a mistake fails when the
mapping is defined, not as broken SQL later.
"""

from __future__ import annotations

import re
import string
from collections.abc import Callable
from dataclasses import dataclass

__all__ = [
    "Expr",
    "JsonPath",
    "Part",
    "Ref",
    "TextAt",
    "TypeAt",
    "expr",
    "literal",
    "render_ref",
    "template",
]

_IDENTIFIER = re.compile(r"[A-Za-z_][A-Za-z0-9_]*\Z")
_PATH_PART = re.compile(r"[^'\"\\.\[\]]+\Z")  # no quote, dot or bracket: nothing to escape


@dataclass(frozen=True, slots=True)
class JsonPath:
    """A path of object keys, like `Total.IncTax`, rendered as DuckDB's `$.Total.IncTax`."""

    keys: tuple[str, ...]

    @classmethod
    def parse(cls, dotted: str) -> JsonPath:
        keys = tuple(dotted.split("."))
        for key in keys:
            if not _PATH_PART.match(key):
                raise ValueError(f"JSON path {dotted!r}: key {key!r} is empty or needs escaping")
        return cls(keys)

    def __str__(self) -> str:
        return ".".join(self.keys)

    def render(self) -> str:
        return "$." + ".".join(key if key.isidentifier() else f'"{key}"' for key in self.keys)


def _checked_alias(alias: str) -> str:
    if not _IDENTIFIER.match(alias):
        raise ValueError(f"payload alias {alias!r} is not an SQL identifier")
    return alias


@dataclass(frozen=True, slots=True)
class TextAt:
    """The JSON value at `path` of `alias`, as text (`->>`): NULL when absent or null."""

    alias: str
    path: JsonPath

    def __post_init__(self) -> None:
        _checked_alias(self.alias)


@dataclass(frozen=True, slots=True)
class TypeAt:
    """The JSON type of the value at `path` of `alias` (`json_type`): NULL when absent."""

    alias: str
    path: JsonPath

    def __post_init__(self) -> None:
        _checked_alias(self.alias)


Ref = TextAt | TypeAt
Part = str | Ref  # SQL text, or a reference to a JSON value


def render_ref(ref: Ref) -> str:
    """A reference as plain SQL over its alias."""
    path = ref.path.render()
    if isinstance(ref, TextAt):
        return f"({ref.alias} ->> '{path}')"
    return f"json_type({ref.alias}, '{path}')"


@dataclass(frozen=True, slots=True)
class Expr:
    """SQL text interleaved with JSON references."""

    parts: tuple[Part, ...]

    def render(self, ref: Callable[[Ref], str] = render_ref) -> str:
        """The SQL, each reference written by `ref` (by default, read from its alias)."""
        return "".join(part if isinstance(part, str) else ref(part) for part in self.parts)


def expr(*pieces: str | Ref | Expr) -> Expr:
    """One expression of SQL text, references and other expressions, in order."""
    parts: list[Part] = []
    for piece in pieces:
        parts.extend(piece.parts if isinstance(piece, Expr) else (piece,))
    return Expr(tuple(parts))


def literal(text: str) -> Expr:
    """An SQL string literal of `text`."""
    return Expr(("'" + text.replace("'", "''") + "'",))


def template(text: str, /, **values: Expr) -> Expr:
    """SQL text with `{name}` placeholders filled by the named expressions (`{{` for a brace).

    Every placeholder must be given and every given value used, so a typo fails at once.
    """
    pieces: list[str | Expr] = []
    used = set()
    for plain, name, spec, conversion in string.Formatter().parse(text):
        pieces.append(plain)
        if name is None:
            continue
        if spec or conversion or name not in values:
            raise ValueError(f"SQL template {text!r}: no value for {{{name}}}")
        pieces.append(values[name])
        used.add(name)
    if unused := set(values) - used:
        raise ValueError(f"SQL template {text!r}: {sorted(unused)} given but not used")
    return expr(*(piece for piece in pieces if piece != ""))
