"""Simpro list queries over rendered rows: columns, orderby, field filters and paging.

Parameters (SOURCES.md §4.2): `page` (1-based), `pageSize` (at most the build's maximum),
`limit` (caps the result), `columns` (top-level columns to return), `orderby` (`-Col` is
descending; ID breaks ties), `search=all|any` (how several filters combine), and every other
parameter filters the column it names: `Col=value` (text may use `%` wildcards; `null`),
`lt(v)`, `le(v)`, `gt(v)`, `ge(v)`, `ne(v)`, `between(a,b)` (inclusive), `in(a,...)`,
`!in(a,...)`. Values compare as the column's type: number, boolean, date, timestamp (an
instant; a bare date against a timestamp per `SimproConfig.modified_filter`) or text. Anything
unknown or unreadable is a `QueryError`, answered 422 with Simpro's `errors` body.
"""

from __future__ import annotations

import bisect
import re
from collections.abc import Callable, Collection, Mapping, Sequence
from dataclasses import dataclass
from datetime import date, datetime, time
from decimal import Decimal, InvalidOperation
from typing import Any, Literal
from zoneinfo import ZoneInfo

from sandbox.simpro.config import ModifiedFilter

Row = dict[str, Any]
Kind = Literal["number", "bool", "date", "timestamp", "text", "object"]

RESERVED = frozenset({"page", "pageSize", "limit", "columns", "orderby", "search"})
_OPERATION = re.compile(r"^(!in|in|lt|le|gt|ge|ne|between)\((.*)\)$", re.DOTALL)
_DATE = re.compile(r"^\d{4}-\d{2}-\d{2}$")
_TIMESTAMP = re.compile(r"^\d{4}-\d{2}-\d{2}[T ]\d{2}:\d{2}(:\d{2})?.*$")


class QueryError(Exception):
    """The query is invalid; `errors` is the body's `errors` list."""

    def __init__(self, path: str, message: str, value: object = None) -> None:
        super().__init__(f"{path}: {message}")
        self.errors: list[Row] = [{"path": path, "message": message, "value": value}]

    def also(self, path: str, message: str, value: object = None) -> None:
        self.errors.append({"path": path, "message": message, "value": value})


@dataclass(frozen=True, slots=True)
class Filter:
    column: str
    operation: str  # eq, ne, lt, le, gt, ge, between, in or !in
    operands: tuple[str, ...]


@dataclass(frozen=True, slots=True)
class ListQuery:
    page: int
    page_size: int
    limit: int | None
    columns: tuple[str, ...] | None  # None: the collection's default (thin) columns
    orderby: tuple[tuple[str, bool], ...]  # (column, descending)
    filters: tuple[Filter, ...]
    match_any: bool

    @property
    def selection(self) -> tuple[object, ...]:
        """What decides the rows (not the page or the columns): a cache key."""
        return (self.orderby, self.filters, self.match_any, self.limit)


def parse(
    query: Mapping[str, list[str]],
    known: Collection[str],
    *,
    default_page_size: int,
    max_page_size: int,
) -> ListQuery:
    page = _positive(query, "page", 1)
    page_size = _positive(query, "pageSize", default_page_size)
    if page_size > max_page_size:
        raise QueryError("pageSize", f"pageSize must be at most {max_page_size}", page_size)
    limit = _positive(query, "limit", None)
    columns = names(query.get("columns"))
    unknown = [c for c in columns if c not in known]
    if unknown:
        error = QueryError("columns", "Invalid columns found", unknown[0])
        for column in unknown[1:]:
            error.also("columns", "Invalid columns found", column)
        raise error
    orderby = []
    for name in names(query.get("orderby")):
        column, descending = name.removeprefix("-"), name.startswith("-")
        if column not in known:
            raise QueryError("orderby", "Invalid orderby column", column)
        orderby.append((column, descending))
    filters = []
    for column, values in query.items():
        if column in RESERVED:
            continue
        if column not in known:
            raise QueryError(column, "Invalid filter: no such column", column)
        for value in values:
            found = _OPERATION.match(value)
            if found is None:
                filters.append(Filter(column, "eq", (value,)))
                continue
            operation, inner = found.groups()
            operands = tuple(part.strip() for part in inner.split(","))
            if operation == "between" and len(operands) != 2:
                raise QueryError(column, "between needs two values", value)
            filters.append(Filter(column, operation, operands))
    search = (query.get("search") or ["all"])[0]
    if search not in ("all", "any"):
        raise QueryError("search", "search must be all or any", search)
    return ListQuery(
        page=page,
        page_size=page_size,
        limit=limit,
        columns=tuple(columns) or None,
        orderby=tuple(orderby),
        filters=tuple(filters),
        match_any=search == "any",
    )


def select(
    rows: Sequence[Row], query: ListQuery, *, zone: ZoneInfo, modified_filter: ModifiedFilter
) -> list[Row]:
    """The rows the query selects, in its order (rows come in ID order)."""
    kinds = _kinds(rows, {f.column for f in query.filters} | {c for c, _ in query.orderby})
    tests = [_test(f, kinds[f.column], zone, modified_filter) for f in query.filters]
    if not query.match_any and kinds.get("ID") == "number":
        rows = _within_id_range(rows, query.filters)
    if len(tests) == 1:
        [test] = tests
        selected = [r for r in rows if test(r)]
    elif tests:
        combine = any if query.match_any else all
        selected = [r for r in rows if combine(test(r) for test in tests)]
    else:
        selected = list(rows)
    for column, descending in reversed(query.orderby):
        if kinds[column] == "object":
            raise QueryError("orderby", "Column cannot be ordered by", column)
        to_key = _key_function(kinds[column])
        selected.sort(
            key=lambda r, c=column, k=to_key: (0,) if r.get(c) is None else (1, k(r[c])),
            reverse=descending,
        )
    return selected[: query.limit] if query.limit is not None else selected


def _within_id_range(rows: Sequence[Row], filters: Sequence[Filter]) -> Sequence[Row]:
    """The rows that an ID range all filters require can hold: rows come in ID order, so a
    connector reading the gap between two pages by ID (`ID=between(a,b)`, or `ID=in(…)`) costs
    two bisections, not a pass over the listing. The filters are still applied to what is left."""
    low, high = 0, len(rows)
    for f in filters:
        bounds = _ID_BOUNDS.get(f.operation) if f.column == "ID" else None
        if bounds is None:
            continue
        try:
            operands = [Decimal(operand) for operand in f.operands]
        except InvalidOperation:
            continue  # the filter's own test says what is wrong with it
        if not all(operand.is_finite() for operand in operands):
            continue
        first, last = bounds(operands)
        if first is not None:
            low = max(low, bisect.bisect_left(rows, first, key=_row_id))
        if last is not None:
            high = min(high, bisect.bisect_right(rows, last, key=_row_id))
    return rows[low:high] if (low, high) != (0, len(rows)) else rows


def _row_id(row: Row) -> Any:
    """A row's ID as the filters compare it."""
    return _NUMBER_KEY(row["ID"])


# The least and greatest ID each operation admits, of its operands.
_ID_BOUNDS: dict[str, Callable[[list[Decimal]], tuple[Decimal | None, Decimal | None]]] = {
    "eq": lambda o: (o[0], o[0]),
    "between": lambda o: (o[0], o[1]),
    "in": lambda o: (min(o), max(o)),
    "ge": lambda o: (o[0], None),
    "gt": lambda o: (o[0], None),
    "le": lambda o: (None, o[0]),
    "lt": lambda o: (None, o[0]),
}


def project(row: Row, columns: Sequence[str]) -> Row:
    return {column: row.get(column) for column in columns}


def names(values: list[str] | None) -> list[str]:
    """The names of a comma-list parameter, which may also be repeated."""
    return [name.strip() for value in values or () for name in value.split(",") if name.strip()]


# -- helpers ---------------------------------------------------------------------------------


def _positive(query: Mapping[str, list[str]], name: str, default: int | None) -> Any:
    values = query.get(name)
    if not values:
        return default
    text = values[0].strip()
    if not text.isdigit() or int(text) < 1:
        raise QueryError(name, f"{name} must be a positive whole number", values[0])
    return int(text)


def _kinds(rows: Sequence[Row], columns: set[str]) -> dict[str, Kind]:
    kinds: dict[str, Kind] = {}
    for column in columns:
        sample = next((r[column] for r in rows if r.get(column) is not None), None)
        kinds[column] = _kind_of(sample)
    return kinds


def _kind_of(value: object) -> Kind:
    if isinstance(value, bool):
        return "bool"
    if isinstance(value, int | float | Decimal):
        return "number"
    if isinstance(value, dict | list):
        return "object"
    if isinstance(value, str) and _DATE.match(value):
        return "date"
    if isinstance(value, str) and _TIMESTAMP.match(value):
        return "timestamp"
    return "text"


def _key_function(kind: Kind) -> Callable[[Any], Any]:
    if kind == "number":
        # An int compares exactly with a Decimal as it is; a float goes by its shortest text.
        return lambda v: v if type(v) is int else Decimal(str(v))
    if kind == "date":
        return date.fromisoformat
    if kind == "timestamp":
        return datetime.fromisoformat
    if kind == "text":
        return lambda v: str(v).lower()
    return lambda v: v


_NUMBER_KEY = _key_function("number")


def _test(
    f: Filter, kind: Kind, zone: ZoneInfo, modified_filter: ModifiedFilter
) -> Callable[[Row], bool]:
    if kind == "object":
        raise QueryError(f.column, "Column cannot be filtered", f.column)
    if f.operation in ("eq", "ne") and f.operands[0].lower() == "null":
        wants_null = f.operation == "eq"
        return lambda r: (r.get(f.column) is None) == wants_null
    key = _key_function(kind)
    if kind == "timestamp" and all(_DATE.match(o) for o in f.operands):
        if modified_filter == "date":
            key = _local_day
            operands = [date.fromisoformat(o) for o in f.operands]
        else:
            operands = [datetime.combine(date.fromisoformat(o), time(0), zone) for o in f.operands]
    elif kind == "timestamp":
        if modified_filter == "date":
            raise QueryError(f.column, "Invalid date, expected YYYY-MM-DD", f.operands[0])
        operands = [_instant(o, f.column, zone) for o in f.operands]
    elif kind == "text" and f.operation == "eq" and "%" in f.operands[0]:
        pattern = re.compile(
            ".*".join(re.escape(part) for part in f.operands[0].split("%")), re.IGNORECASE
        )
        return lambda r: r.get(f.column) is not None and bool(pattern.fullmatch(r[f.column]))
    else:
        operands = [_operand(o, kind, f.column) for o in f.operands]
    compare, column = _COMPARISONS[f.operation], f.column

    def test(r: Row) -> bool:
        value = r.get(column)
        return value is not None and compare(key(value), operands)

    return test


def _local_day(value: str) -> date:
    """A row timestamp's day in the build's time zone (rows carry the build's offset)."""
    return datetime.fromisoformat(value).date()


def _operand(text: str, kind: Kind, column: str) -> Any:
    try:
        if kind == "number":
            return Decimal(text)
        if kind == "date":
            return date.fromisoformat(text)
        if kind == "bool":
            return {"true": True, "1": True, "false": False, "0": False}[text.lower()]
    except (InvalidOperation, ValueError, KeyError):
        raise QueryError(column, f"Invalid {kind} value", text) from None
    return text.lower()


def _instant(text: str, column: str, zone: ZoneInfo) -> datetime:
    try:
        moment = datetime.fromisoformat(text)
    except ValueError:
        raise QueryError(column, "Invalid date-time value", text) from None
    return moment if moment.tzinfo is not None else moment.replace(tzinfo=zone)


_COMPARISONS: dict[str, Callable[[Any, list[Any]], bool]] = {
    "eq": lambda v, o: v == o[0],
    "ne": lambda v, o: v != o[0],
    "lt": lambda v, o: v < o[0],
    "le": lambda v, o: v <= o[0],
    "gt": lambda v, o: v > o[0],
    "ge": lambda v, o: v >= o[0],
    "between": lambda v, o: o[0] <= v <= o[1],
    "in": lambda v, o: v in o,
    "!in": lambda v, o: v not in o,
}
