"""Declarative mappings from raw payloads to canonical rows, run as SQL inside DuckDB.

A source's mapping is data: for each canonical column, a `Field` that says where the value is in
the payload and what a valid value looks like. `models.normalize` turns a `Mapping` into one
vectorized query that types every value and gathers, per record, every reason it cannot load.
Records with a reason go to quarantine; the rest load. Because it runs over the raw tables,
changing a mapping never needs another API call.

A field's value and checks are `models.expressions.Expr`: SQL over the relation's aliases (`p`
is the record's payload) whose JSON reads (`at`, `type_of`) stay structured, so normalizing can
read each path once per record. Paths are code constants, never user input.

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

from models.expressions import Expr, JsonPath, TextAt, TypeAt, expr, literal, template

__all__ = [
    "Check",
    "Field",
    "Mapping",
    "at",
    "check",
    "coalesce",
    "const",
    "currency",
    "date",
    "enum",
    "exact_money",
    "expr",
    "first_text",
    "integer",
    "is_number",
    "literal",
    "money",
    "rate",
    "rounded_money",
    "sql",
    "template",
    "text",
    "timestamp",
    "type_of",
    "with_checks",
]

_NUMBER_TYPES = "('UBIGINT', 'BIGINT', 'DOUBLE', 'HUGEINT')"
_CURRENCY_CODES = sorted(currency.alpha_3 for currency in pycountry.currencies)


@dataclass(frozen=True, slots=True)
class Check:
    failed: Expr  # true when the value is bad
    reason: Expr  # text saying why


@dataclass(frozen=True, slots=True)
class Field:
    value: Expr  # the typed value
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


def _sql(piece: str | Expr) -> Expr:
    return piece if isinstance(piece, Expr) else Expr((piece,))


def at(path: str, *, alias: str = "p") -> Expr:
    """The text of the JSON value at `path` (dotted keys) of `alias`."""
    return expr(TextAt(alias, JsonPath.parse(path)))


def type_of(path: str, *, alias: str = "p") -> Expr:
    """The JSON type of the value at `path` of `alias`."""
    return expr(TypeAt(alias, JsonPath.parse(path)))


def is_number(path: str, *, alias: str = "p") -> Expr:
    """True when the value at `path` is a JSON number."""
    return expr(type_of(path, alias=alias), f" IN {_NUMBER_TYPES}")


def check(failed: str | Expr, reason: str | Expr) -> Check:
    """A check from SQL: `failed` is true for a bad value, `reason` an SQL text expression."""
    return Check(_sql(failed), _sql(reason))


def _missing(path: str, alias: str) -> Check:
    return Check(expr(at(path, alias=alias), " IS NULL"), literal(f"{path} is missing"))


def _said(path: str, problem: str, alias: str) -> Expr:
    return expr(literal(f"{path} {problem}: "), " || left(", at(path, alias=alias), ", 60)")


def text(path: str, *, required: bool = False, alias: str = "p") -> Field:
    value = expr("nullif(trim(", at(path, alias=alias), "), '')")
    checks = [
        Check(
            expr(type_of(path, alias=alias), " IN ('OBJECT', 'ARRAY')"),
            literal(f"{path} is an object or list, expected text"),
        )
    ]
    if required:
        checks.insert(0, Check(expr(value, " IS NULL"), literal(f"{path} is missing")))
    return Field(value, tuple(checks))


def first_text(*paths: str, required: bool = False, alias: str = "p") -> Field:
    """The first of several paths that holds non-blank text."""
    texts = [expr("nullif(trim(", at(p, alias=alias), "), '')") for p in paths]
    value = expr("coalesce(", *_joined(texts, ", "), ")")
    checks = (Check(expr(value, " IS NULL"), literal(f"{' and '.join(paths)} are missing")),)
    return Field(value, checks if required else ())


def _joined(items: list[Expr], separator: str) -> list[str | Expr]:
    joined: list[str | Expr] = []
    for item in items:
        joined.extend((separator, item) if joined else (item,))
    return joined


def _decimal(
    path: str, *, scale: int, required: bool, non_negative: bool, default: str, alias: str
) -> Field:
    raw = at(path, alias=alias)
    exact = expr("TRY_CAST(", raw, f" AS DECIMAL(18,{scale}))")
    present = expr(raw, " IS NOT NULL")
    number = is_number(path, alias=alias)
    mantissa = expr("replace(regexp_replace(lower(", raw, "), '^-|e.*$', '', 'g'), '.', '')")
    significant_digits = expr("length(trim(", mantissa, ", '0'))")
    checks = [
        Check(expr(present, " AND NOT (", number, ")"), _said(path, "is not a number", alias)),
        Check(
            expr(present, " AND ", number, " AND ", significant_digits, " > 15"),
            _said(path, "has more than 15 significant digits and cannot be read exactly", alias),
        ),
        Check(
            expr(present, " AND ", number, " AND ", exact, " IS NULL"),
            _said(path, f"does not fit DECIMAL(18,{scale})", alias),
        ),
        Check(
            expr(
                present, " AND ", number, " AND ", exact, " IS NOT NULL AND TRY_CAST(", raw,
                " AS DECIMAL(38,12)) <> ", exact,
            ),
            _said(path, f"has more than {scale} decimal places", alias),
        ),
    ]  # fmt: skip
    if required:
        checks.insert(0, _missing(path, alias))
    if non_negative:
        checks.append(Check(expr(exact, " < 0"), _said(path, "is negative", alias)))
    value = (
        expr("coalesce(", exact, f", {default})") if not required and default != "NULL" else exact
    )
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


def rounded_money(path: str, *, alias: str = "p") -> Field:
    """A number the source computed (a division), rounded to 4 places instead of quarantined;
    one that does not fit DECIMAL(18,4) even so is quarantined."""
    raw = at(path, alias=alias)
    value = expr("TRY_CAST(round(TRY_CAST(", raw, " AS DECIMAL(38,12)), 4) AS DECIMAL(18,4))")
    return Field(
        value,
        (
            Check(
                expr(
                    raw, " IS NOT NULL AND ", type_of(path, alias=alias), f" NOT IN {_NUMBER_TYPES}"
                ),
                _said(path, "is not a number", alias),
            ),
            Check(
                expr(raw, " IS NOT NULL AND ", value, " IS NULL"),
                _said(path, "does not fit DECIMAL(18,4)", alias),
            ),
        ),
    )


def rate(path: str, *, alias: str = "p") -> Field:
    return _decimal(path, scale=8, required=False, non_negative=True, default="NULL", alias=alias)


def integer(path: str, *, alias: str = "p") -> Field:
    raw = at(path, alias=alias)
    value = expr("TRY_CAST(", raw, " AS INTEGER)")
    return Field(
        value,
        (
            Check(
                expr(raw, " IS NOT NULL AND ", value, " IS NULL"),
                _said(path, "is not a whole number", alias),
            ),
        ),
    )


def date(path: str, *, required: bool = True, alias: str = "p") -> Field:
    raw = at(path, alias=alias)
    value = expr("CAST(try_strptime(", raw, ", '%Y-%m-%d') AS DATE)")
    checks = [
        Check(
            expr(raw, " IS NOT NULL AND ", value, " IS NULL"),
            _said(path, "is not a date (YYYY-MM-DD)", alias),
        )
    ]
    if required:
        checks.insert(0, _missing(path, alias))
    return Field(value, tuple(checks))


def timestamp(
    path: str, *, formats: tuple[str, ...], required: bool = False, alias: str = "p"
) -> Field:
    raw = at(path, alias=alias)
    formats_sql = ", ".join(literal(f).render() for f in formats)
    value = expr("try_strptime(", raw, f", [{formats_sql}])::TIMESTAMPTZ")
    checks = [
        Check(
            expr(raw, " IS NOT NULL AND ", value, " IS NULL"),
            _said(path, "is not a timestamp", alias),
        )
    ]
    if required:
        checks.insert(0, _missing(path, alias))
    return Field(value, tuple(checks))


def currency(path: str, *, required: bool = True, alias: str = "p") -> Field:
    raw = at(path, alias=alias)
    codes = "[" + ", ".join(literal(code).render() for code in _CURRENCY_CODES) + "]"
    value = expr("upper(trim(", raw, "))")
    known = Check(
        expr(raw, f" IS NOT NULL AND NOT list_contains({codes}, ", value, ")"),
        _said(path, "is not an ISO 4217 currency code", alias),
    )
    return Field(value, (_missing(path, alias), known) if required else (known,))


def enum(path: str, values: MappingType[str, str], *, alias: str = "p") -> Field:
    """A source vocabulary mapped to the canonical one; an unknown word is quarantined."""
    raw = at(path, alias=alias)
    cases = " ".join(
        f"WHEN {literal(k).render()} THEN {literal(v).render()}" for k, v in values.items()
    )
    value = expr("(CASE lower(trim(", raw, f")) {cases} END)")
    return Field(
        value,
        (
            _missing(path, alias),
            Check(
                expr(raw, " IS NOT NULL AND ", value, " IS NULL"),
                _said(path, "is not known", alias),
            ),
        ),
    )


def exact_money(text_sql: str) -> str:
    """SQL: the JSON text as DECIMAL(18,4), or NULL when that would round or overflow it.

    For amounts a relation aggregates itself (credit memos, settlements): count the NULLs and
    quarantine, as `money` does for a single field.
    """
    exact = f"TRY_CAST({text_sql} AS DECIMAL(18,4))"
    return f"(CASE WHEN TRY_CAST({text_sql} AS DECIMAL(38,12)) = {exact} THEN {exact} END)"


def sql(expression: str | Expr, *checks: Check) -> Field:
    """Any SQL expression, for derivations no helper covers."""
    return Field(expr("(", _sql(expression), ")"), checks)


def coalesce(*fields: Field) -> Field:
    """The first of the fields' values that is not NULL; every field's checks."""
    values = [f.value for f in fields]
    return Field(
        expr("coalesce(", *_joined(values, ", "), ")"),
        tuple(c for f in fields for c in f.checks),
    )


def with_checks(field: Field, *checks: Check) -> Field:
    """`field` with more checks."""
    return Field(field.value, (*field.checks, *checks))


def const(value: str | None) -> Field:
    return Field(Expr(("NULL",)) if value is None else literal(value))
