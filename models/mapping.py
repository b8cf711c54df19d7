"""Declarative mappings from raw payloads to canonical rows, run as SQL inside DuckDB.

A source's mapping is data: for each canonical column, a `Field` that says where the value is in
the payload and what a valid value looks like. `models.normalize` turns a `Mapping` into one
vectorized query that types every value and gathers, per record, every reason it cannot load.
Records with a reason go to quarantine; the rest load. Because it runs over the raw tables,
changing a mapping never needs another API call.

Expressions are SQL over the relation's aliases (`p` is the record's payload). Paths are code
constants, never user input.

Exactness: DuckDB reads JSON numbers as IEEE doubles and prints them back in their shortest
round-trip form, which reproduces the source's text for any value of up to 15 significant
digits — every DECIMAL(18,4) amount below 100 billion. A longer number cannot be read exactly
(its shortest form then has 16 or 17 digits), so it is quarantined, like any value that does not
fit DECIMAL(18,4) exactly: money is never rounded.
"""

from __future__ import annotations

from collections.abc import Mapping as MappingType
from dataclasses import dataclass, field

import pycountry
import sqlalchemy as sa

__all__ = [
    "Check",
    "Field",
    "Mapping",
    "const",
    "currency",
    "date",
    "enum",
    "exact_money",
    "first_text",
    "integer",
    "money",
    "rate",
    "sql",
    "text",
    "timestamp",
]

_NUMBER_TYPES = "('UBIGINT', 'BIGINT', 'DOUBLE', 'HUGEINT')"
_CURRENCY_CODES = sorted(currency.alpha_3 for currency in pycountry.currencies)


@dataclass(frozen=True, slots=True)
class Check:
    failed: str  # SQL condition, true when the value is bad
    reason: str  # SQL text expression saying why


@dataclass(frozen=True, slots=True)
class Field:
    value: str  # SQL expression of the typed value
    checks: tuple[Check, ...] = ()


@dataclass(frozen=True, slots=True)
class Mapping:
    """How one canonical table is built from one source's raw tables.

    `relation` is a SQL query yielding `connection_id`, `record_id` and `p` (plus any aliases
    the fields use); `{stream}` placeholders name that source's raw tables. `stream` names the
    records in quarantine.
    """

    table: sa.Table
    stream: str
    relation: str
    fields: MappingType[str, Field] = field(default_factory=dict)


def _path(path: str) -> str:
    parts = path.split(".")
    return "$." + ".".join(f'"{part}"' if not part.isidentifier() else part for part in parts)


def _text_at(path: str, alias: str) -> str:
    return f"({alias} ->> '{_path(path)}')"


def _type_at(path: str, alias: str) -> str:
    return f"json_type({alias}, '{_path(path)}')"


def _lit(text_value: str) -> str:
    return "'" + text_value.replace("'", "''") + "'"


def _missing(path: str, alias: str) -> Check:
    return Check(f"{_text_at(path, alias)} IS NULL", _lit(f"{path} is missing"))


def _said(path: str, problem: str, alias: str) -> str:
    return f"{_lit(f'{path} {problem}: ')} || left({_text_at(path, alias)}, 60)"


def text(path: str, *, required: bool = False, alias: str = "p") -> Field:
    value = f"nullif(trim({_text_at(path, alias)}), '')"
    checks = [
        Check(
            f"{_type_at(path, alias)} IN ('OBJECT', 'ARRAY')",
            _lit(f"{path} is an object or list, expected text"),
        )
    ]
    if required:
        checks.insert(0, Check(f"{value} IS NULL", _lit(f"{path} is missing")))
    return Field(value, tuple(checks))


def first_text(*paths: str, required: bool = False, alias: str = "p") -> Field:
    """The first of several paths that holds non-blank text."""
    value = "coalesce(" + ", ".join(f"nullif(trim({_text_at(p, alias)}), '')" for p in paths) + ")"
    checks = (Check(f"{value} IS NULL", _lit(f"{' and '.join(paths)} are missing")),)
    return Field(value, checks if required else ())


def _decimal(
    path: str, *, scale: int, required: bool, non_negative: bool, default: str, alias: str
) -> Field:
    raw = _text_at(path, alias)
    exact = f"TRY_CAST({raw} AS DECIMAL(18,{scale}))"
    present = f"{raw} IS NOT NULL"
    is_number = f"{_type_at(path, alias)} IN {_NUMBER_TYPES}"
    mantissa = f"replace(regexp_replace(lower({raw}), '^-|e.*$', '', 'g'), '.', '')"
    significant_digits = f"length(trim({mantissa}, '0'))"
    checks = [
        Check(f"{present} AND NOT ({is_number})", _said(path, "is not a number", alias)),
        Check(
            f"{present} AND {is_number} AND {significant_digits} > 15",
            _said(path, "has more than 15 significant digits and cannot be read exactly", alias),
        ),
        Check(
            f"{present} AND {is_number} AND {exact} IS NULL",
            _said(path, f"does not fit DECIMAL(18,{scale})", alias),
        ),
        Check(
            f"{present} AND {is_number} AND {exact} IS NOT NULL "
            f"AND TRY_CAST({raw} AS DECIMAL(38,12)) <> {exact}",
            _said(path, f"has more than {scale} decimal places", alias),
        ),
    ]
    if required:
        checks.insert(0, _missing(path, alias))
    if non_negative:
        checks.append(Check(f"{exact} < 0", _said(path, "is negative", alias)))
    value = f"coalesce({exact}, {default})" if not required and default != "NULL" else exact
    return Field(value, tuple(checks))


def money(
    path: str,
    *,
    required: bool = True,
    non_negative: bool = False,
    default_zero: bool = False,
    alias: str = "p",
) -> Field:
    default = "0::DECIMAL(18,4)" if default_zero else "NULL"
    return _decimal(
        path, scale=4, required=required, non_negative=non_negative, default=default, alias=alias
    )


def rate(path: str, *, alias: str = "p") -> Field:
    return _decimal(path, scale=8, required=False, non_negative=True, default="NULL", alias=alias)


def integer(path: str, *, alias: str = "p") -> Field:
    raw = _text_at(path, alias)
    return Field(
        f"TRY_CAST({raw} AS INTEGER)",
        (
            Check(
                f"{raw} IS NOT NULL AND TRY_CAST({raw} AS INTEGER) IS NULL",
                _said(path, "is not a whole number", alias),
            ),
        ),
    )


def date(path: str, *, required: bool = True, alias: str = "p") -> Field:
    raw = _text_at(path, alias)
    value = f"CAST(try_strptime({raw}, '%Y-%m-%d') AS DATE)"
    checks = [
        Check(
            f"{raw} IS NOT NULL AND {value} IS NULL",
            _said(path, "is not a date (YYYY-MM-DD)", alias),
        )
    ]
    if required:
        checks.insert(0, _missing(path, alias))
    return Field(value, tuple(checks))


def timestamp(
    path: str, *, formats: tuple[str, ...], required: bool = False, alias: str = "p"
) -> Field:
    raw = _text_at(path, alias)
    value = f"try_strptime({raw}, [{', '.join(_lit(f) for f in formats)}])::TIMESTAMPTZ"
    checks = [
        Check(f"{raw} IS NOT NULL AND {value} IS NULL", _said(path, "is not a timestamp", alias))
    ]
    if required:
        checks.insert(0, _missing(path, alias))
    return Field(value, tuple(checks))


def currency(path: str, *, required: bool = True, alias: str = "p") -> Field:
    raw = _text_at(path, alias)
    codes = "[" + ", ".join(_lit(code) for code in _CURRENCY_CODES) + "]"
    value = f"upper(trim({raw}))"
    known = Check(
        f"{raw} IS NOT NULL AND NOT list_contains({codes}, {value})",
        _said(path, "is not an ISO 4217 currency code", alias),
    )
    return Field(value, (_missing(path, alias), known) if required else (known,))


def enum(path: str, values: MappingType[str, str], *, alias: str = "p") -> Field:
    """A source vocabulary mapped to the canonical one; an unknown word is quarantined."""
    raw = _text_at(path, alias)
    cases = " ".join(f"WHEN {_lit(k)} THEN {_lit(v)}" for k, v in values.items())
    value = f"(CASE lower(trim({raw})) {cases} END)"
    return Field(
        value,
        (
            _missing(path, alias),
            Check(f"{raw} IS NOT NULL AND {value} IS NULL", _said(path, "is not known", alias)),
        ),
    )


def exact_money(text_sql: str) -> str:
    """SQL: the JSON text as DECIMAL(18,4), or NULL when that would round or overflow it.

    For amounts a relation aggregates itself (credit memos, settlements): count the NULLs and
    quarantine, as `money` does for a single field.
    """
    exact = f"TRY_CAST({text_sql} AS DECIMAL(18,4))"
    return f"(CASE WHEN TRY_CAST({text_sql} AS DECIMAL(38,12)) = {exact} THEN {exact} END)"


def sql(expression: str, *checks: Check) -> Field:
    """Any SQL expression, for derivations no helper covers."""
    return Field(f"({expression})", checks)


def const(value: str | None) -> Field:
    return Field("NULL" if value is None else _lit(value))
