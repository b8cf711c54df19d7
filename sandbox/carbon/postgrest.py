"""PostgREST read semantics over in-memory rows: what a client of Carbon's Data API relies on.

`select_response(table, request, max_rows=...)` answers a GET on one table or view the way
PostgREST 12 does (SOURCES.md §1.3):

* ``select=a,alias:b`` (``*`` by default); an embedded resource is refused like a missing
  relationship (PGRST200);
* ``order=a.desc.nullslast,b`` with PostgreSQL's defaults (nulls last ascending, first descending);
* filters ``col=[not.]op.value`` with ``eq neq gt gte lt lte like ilike in is``, and logic trees
  ``or=(…)``, ``and=(…)``, ``not.or=(…)`` nesting ``and(…)``/``or(…)``; values may be double-quoted;
  SQL's three-valued logic (a comparison with NULL is neither true nor false, also under ``not.``);
* ``limit``/``offset`` intersected with a ``Range: 0-24`` header, then the ``max_rows`` cap, which
  truncates silently;
* ``Prefer: count=exact`` (``planned``/``estimated`` are answered exactly): ``Content-Range:
  0-24/3573``, 206 for a strict subset, 416 (PGRST103) for an offset past the total;
* ``Accept: application/vnd.pgrst.object+json`` for exactly one row (else 406, PGRST116);
* errors as ``{code, message, details, hint}``: unknown column 400 ``42703``, unknown table 404
  ``PGRST205``, unparsable parameters 400 ``PGRST100``, a literal of the wrong type 400 ``22P02``
  or ``22007``, an operator the column's type lacks 404 ``42883`` (PostgREST's status map).

Filter literals are cast to the column's type before any row is read, so a bad literal fails
even on an empty table, as in PostgreSQL. Results of a filter and order are cached per table
object (keyed by the query without select/limit/offset), so paging a large table costs O(page)
per request after the first.
"""

from __future__ import annotations

import difflib
import re
import threading
from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import UTC, date, datetime
from decimal import Decimal, InvalidOperation
from typing import Any

from sandbox.routing import Request, Response

JSON_TYPE = "application/json; charset=utf-8"
OBJECT_TYPE = "application/vnd.pgrst.object+json"
SCHEMA = "public"

Row = Mapping[str, Any]
Truth = bool | None  # SQL's three-valued logic


class PostgrestError(Exception):
    """An error response in PostgREST's shape."""

    def __init__(
        self,
        status: int,
        code: str,
        message: str,
        details: str | None = None,
        hint: str | None = None,
        headers: Mapping[str, str] | None = None,
    ) -> None:
        super().__init__(message)
        self.status = status
        self.code = code
        self.message = message
        self.details = details
        self.hint = hint
        self.headers = dict(headers or {})

    def response(self) -> Response:
        body = {"code": self.code, "details": self.details, "hint": self.hint}
        body["message"] = self.message
        headers = {"Content-Type": JSON_TYPE, "Proxy-Status": f"PostgREST; error={self.code}"}
        return Response.json(body, status=self.status, headers={**headers, **self.headers})


# -- column types -----------------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class PgType:
    """A column type: how PostgreSQL names it and reads a literal of it."""

    name: str
    read: Callable[[str], Any]  # raises ValueError for a bad literal
    sqlstate: str = "22P02"
    labels: tuple[str, ...] = ()  # an enum's labels, in order
    textual: bool = False  # LIKE applies
    scalar: bool = True  # comparison operators apply

    def literal(self, text: str) -> Any:
        try:
            return self.read(text)
        except (ValueError, InvalidOperation):
            if self.labels:
                message = f'invalid input value for enum "{self.name}": "{text}"'
            else:
                message = f'invalid input syntax for type {self.name}: "{text}"'
            raise PostgrestError(400, self.sqlstate, message) from None


def _numeric(text: str) -> Decimal:
    value = Decimal(text.strip())
    if not value.is_finite():
        raise ValueError(text)
    return value


def _integer(text: str) -> int:
    if not re.fullmatch(r"\s*[+-]?\d+\s*", text):
        raise ValueError(text)
    return int(text)


_TRUE = frozenset({"t", "true", "y", "yes", "on", "1"})
_FALSE = frozenset({"f", "false", "n", "no", "off", "0"})


def _boolean(text: str) -> bool:
    word = text.strip().lower()
    if word in _TRUE:
        return True
    if word in _FALSE:
        return False
    raise ValueError(text)


def _timestamptz(text: str) -> datetime:
    moment = datetime.fromisoformat(text.strip())
    return moment.replace(tzinfo=UTC) if moment.tzinfo is None else moment


def _jsonb(text: str) -> Any:
    raise ValueError(text)


TEXT = PgType("text", str, textual=True)
NUMERIC = PgType("numeric", _numeric)
INTEGER = PgType("integer", _integer)
BOOLEAN = PgType("boolean", _boolean)
DATE = PgType("date", lambda text: date.fromisoformat(text.strip()), sqlstate="22007")
TIMESTAMPTZ = PgType("timestamp with time zone", _timestamptz, sqlstate="22007")
JSONB = PgType("jsonb", _jsonb, scalar=False)
TEXT_ARRAY = PgType("text[]", _jsonb, scalar=False)


def enum(name: str, *labels: str) -> PgType:
    def read(text: str) -> str:
        if text not in labels:
            raise ValueError(text)
        return text

    return PgType(name, read, labels=labels)


@dataclass
class Table:
    """A table or view: its columns (in order) and its rows (typed Python values)."""

    name: str
    columns: Mapping[str, PgType]
    rows: Sequence[Row]
    _cache: dict[tuple[object, ...], list[Row]] = field(default_factory=dict, repr=False)
    _lock: threading.Lock = field(default_factory=threading.Lock, repr=False)

    def column(self, name: str) -> PgType:
        found = self.columns.get(name)
        if found is None:
            raise _no_column(self, name)
        return found

    def matching(self, query: Query) -> list[Row]:
        """The rows that pass the filters, in the requested order (cached)."""
        key = query.cache_key
        with self._lock:
            cached = self._cache.get(key)
        if cached is None:
            cached = [row for row in self.rows if query.where(row) is True]
            for term in reversed(query.order):
                cached.sort(key=term.key, reverse=term.descending)
            with self._lock:
                if len(self._cache) >= 32:
                    self._cache.clear()
                self._cache[key] = cached
        return cached


def _no_column(table: Table, name: str) -> PostgrestError:
    close = difflib.get_close_matches(name, list(table.columns), n=1, cutoff=0.6)
    hint = (
        f'Perhaps you meant to reference the column "{table.name}.{close[0]}".' if close else None
    )
    return PostgrestError(400, "42703", f"column {table.name}.{name} does not exist", hint=hint)


# -- the parsed query -------------------------------------------------------------------------

Condition = Callable[[Row], Truth]


@dataclass(frozen=True, slots=True)
class OrderTerm:
    column: str
    descending: bool
    nulls_first: bool

    def key(self, row: Row) -> tuple[Any, ...]:
        value = row.get(self.column)
        # In ascending key order nulls lead when they should lead the final (maybe reversed) order.
        null_rank = 0 if self.nulls_first != self.descending else 2
        return (null_rank,) if value is None else (1, value)


@dataclass(frozen=True, slots=True)
class Query:
    select: tuple[tuple[str, str], ...]  # (output name, column)
    where: Condition
    order: tuple[OrderTerm, ...]
    offset: int
    limit: int | None
    cache_key: tuple[object, ...]


_RESERVED = frozenset({"select", "order", "limit", "offset", "columns", "on_conflict"})
_LOGIC_KEYS = {
    "or": ("or", False),
    "and": ("and", False),
    "not.or": ("or", True),
    "not.and": ("and", True),
}


def parse_query(table: Table, params: Mapping[str, Sequence[str]]) -> Query:
    conditions: list[Condition] = []
    filter_key: list[tuple[str, str]] = []
    for name, values in sorted(params.items()):
        if name in _RESERVED:
            continue
        for value in values:
            filter_key.append((name, value))
            if name in _LOGIC_KEYS:
                kind, negated = _LOGIC_KEYS[name]
                conditions.append(_LogicParser(table, value).tree(kind, negated))
            else:
                conditions.append(_column_filter(table, name, value))
    order_text = _last(params, "order")
    return Query(
        select=_select(table, _last(params, "select") or "*"),
        where=lambda row: _all(c(row) for c in conditions),
        order=_order(table, order_text) if order_text else (),
        offset=_count_param(params, "offset", default=0) or 0,
        limit=_count_param(params, "limit", default=None),
        cache_key=(tuple(filter_key), order_text),
    )


def _last(params: Mapping[str, Sequence[str]], name: str) -> str | None:
    values = params.get(name)
    return values[-1] if values else None


def _count_param(
    params: Mapping[str, Sequence[str]], name: str, *, default: int | None
) -> int | None:
    text = _last(params, name)
    if text is None:
        return default
    if re.fullmatch(r"-\d+", text):
        raise PostgrestError(
            416,
            "PGRST103",
            "Requested range not satisfiable",
            "Limit should be greater than or equal to zero.",
        )
    if not text.isdigit():
        raise _parse_error(f"{name} parameter", text, 0, "expecting digit")
    return int(text)


def _select(table: Table, text: str) -> tuple[tuple[str, str], ...]:
    items: list[tuple[str, str]] = []
    for raw in text.split(","):
        item = raw.strip()
        if item == "*":
            items.extend((name, name) for name in table.columns)
            continue
        if "(" in item:
            relation = item.split("(", 1)[0].split(":")[-1].split("!", 1)[0]
            raise PostgrestError(
                400,
                "PGRST200",
                f"Could not find a relationship between '{table.name}' and '{relation}' in the "
                "schema cache",
                f"Searched for a foreign key relationship between '{table.name}' and "
                f"'{relation}' in the schema '{SCHEMA}', but no matches were found.",
            )
        alias, _, column = item.split("::", 1)[0].rpartition(":")
        if not column:
            raise _parse_error("select parameter", text, len(text), "expecting field name")
        table.column(column)
        items.append((alias or column, column))
    return tuple(items)


def _order(table: Table, text: str) -> tuple[OrderTerm, ...]:
    terms = []
    for item in text.split(","):
        column, *modifiers = item.strip().split(".")
        table.column(column)
        descending, nulls_first = False, None
        for modifier in modifiers:
            if modifier in ("asc", "desc"):
                descending = modifier == "desc"
            elif modifier in ("nullsfirst", "nullslast"):
                nulls_first = modifier == "nullsfirst"
            else:
                raise _parse_error(
                    "order",
                    text,
                    text.find(modifier),
                    'expecting "asc", "desc", "nullsfirst" or "nullslast"',
                )
        terms.append(
            OrderTerm(column, descending, descending if nulls_first is None else nulls_first)
        )
    return tuple(terms)


def _parse_error(what: str, text: str, position: int, expecting: str) -> PostgrestError:
    near = text[position : position + 1]
    unexpected = f'unexpected "{near}"' if near else "unexpected end of input"
    return PostgrestError(
        400,
        "PGRST100",
        f'"failed to parse {what} ({text})" (line 1, column {position + 1})',
        f"{unexpected} {expecting}",
    )


# -- filters ----------------------------------------------------------------------------------

_OPERATORS = ("eq", "neq", "gt", "gte", "lt", "lte", "like", "ilike", "in", "is")
_SYMBOLS = {
    "eq": "=",
    "neq": "<>",
    "gt": ">",
    "gte": ">=",
    "lt": "<",
    "lte": "<=",
    "like": "~~",
    "ilike": "~~*",
}
_COMPARE: dict[str, Callable[[Any, Any], bool]] = {
    "eq": lambda a, b: a == b,
    "neq": lambda a, b: a != b,
    "gt": lambda a, b: a > b,
    "gte": lambda a, b: a >= b,
    "lt": lambda a, b: a < b,
    "lte": lambda a, b: a <= b,
}
_IS_VALUES = ("null", "not_null", "true", "false", "unknown")


def _column_filter(table: Table, column: str, expression: str) -> Condition:
    """A top-level filter `column=[not.]op.value`: the value is the rest of the text."""
    negated = expression.startswith("not.")
    body = expression[4:] if negated else expression
    operator, dot, value = body.partition(".")
    if not dot or operator not in _OPERATORS:
        raise _parse_error("filter", expression, len(expression) - len(body), _OPERATOR_HINT)
    if operator == "in":
        parser = _LogicParser(table, value)
        values = parser.in_list()
        if not parser.at_end():
            raise _parse_error("filter", expression, len(expression), "expecting end of input")
        return _leaf(table, column, "in", values, negated, expression)
    return _leaf(table, column, operator, value, negated, expression)


_OPERATOR_HINT = 'expecting "not" or operator (eq, gt, ...)'


def _leaf(
    table: Table, column: str, operator: str, value: str | list[str], negated: bool, text: str
) -> Condition:
    test = _value_test(table.column(column), operator, value, text)

    def condition(row: Row) -> Truth:
        result = test(row.get(column))
        return _not(result) if negated else result

    return condition


def _value_test(
    pg_type: PgType, operator: str, value: str | list[str], text: str
) -> Callable[[Any], Truth]:
    """The operator applied to one column value; literals are cast to the column's type now."""
    if operator == "is":
        return _is_test(pg_type, str(value), text)
    if operator in ("like", "ilike"):
        if not pg_type.textual:
            raise _no_operator(pg_type, operator)
        pattern = _like_pattern(str(value), operator == "ilike")
        return lambda v: None if v is None else pattern.fullmatch(v) is not None
    if not pg_type.scalar:
        raise _no_operator(pg_type, operator)
    if operator == "in":
        options = [pg_type.literal(v) for v in value]
        return lambda v: None if v is None else v in options
    literal, compare = pg_type.literal(str(value)), _COMPARE[operator]
    return lambda v: None if v is None else compare(v, literal)


def _is_test(pg_type: PgType, word: str, text: str) -> Callable[[Any], Truth]:
    word = word.lower()
    if word not in _IS_VALUES:
        raise _parse_error(
            "filter",
            text,
            len(text) - len(word),
            'expecting "null", "not_null", "true", "false" or "unknown"',
        )
    if word in ("true", "false", "unknown") and pg_type is not BOOLEAN:
        raise PostgrestError(
            400,
            "42804",
            f"argument of IS {word.upper()} must be type boolean, not type {pg_type.name}",
        )
    if word == "null" or word == "unknown":
        return lambda value: value is None
    if word == "not_null":
        return lambda value: value is not None
    return lambda value: value is (word == "true")


def _no_operator(pg_type: PgType, operator: str) -> PostgrestError:
    return PostgrestError(
        404,
        "42883",
        f"operator does not exist: {pg_type.name} {_SYMBOLS.get(operator, operator)} unknown",
        hint="No operator matches the given name and argument types. You might need to add "
        "explicit type casts.",
    )


def _like_pattern(value: str, insensitive: bool) -> re.Pattern[str]:
    parts = []
    escaped = False
    for char in value.replace("*", "%"):
        if escaped:
            parts.append(re.escape(char))
            escaped = False
        elif char == "\\":
            escaped = True
        elif char == "%":
            parts.append(".*")
        elif char == "_":
            parts.append(".")
        else:
            parts.append(re.escape(char))
    return re.compile("".join(parts), re.DOTALL | (re.IGNORECASE if insensitive else 0))


def _not(value: Truth) -> Truth:
    return None if value is None else not value


def _all(values: Iterable[Truth]) -> Truth:
    result: Truth = True
    for value in values:
        if value is False:
            return False
        if value is None:
            result = None
    return result


def _any(values: Iterable[Truth]) -> Truth:
    result: Truth = False
    for value in values:
        if value is True:
            return True
        if value is None:
            result = None
    return result


class _LogicParser:
    """Recursive descent over a logic tree: ``(a.eq.1,not.and(b.is.null,c.in.(1,"x,y")))``."""

    def __init__(self, table: Table, text: str) -> None:
        self.table = table
        self.text = text
        self.pos = 0

    def at_end(self) -> bool:
        return self.pos == len(self.text)

    def tree(self, kind: str, negated: bool) -> Condition:
        condition = self._group(kind, negated)
        if not self.at_end():
            raise self._error("expecting end of input")
        return condition

    def _group(self, kind: str, negated: bool) -> Condition:
        self._expect("(")
        children = [self._item()]
        while self._peek() == ",":
            self.pos += 1
            children.append(self._item())
        self._expect(")")
        combine = _any if kind == "or" else _all

        def condition(row: Row) -> Truth:
            value = combine(child(row) for child in children)
            return _not(value) if negated else value

        return condition

    def _item(self) -> Condition:
        negated = self._consume("not.")
        for kind in ("or", "and"):
            if self.text.startswith(kind + "(", self.pos):
                self.pos += len(kind)
                return self._group(kind, negated)
        if negated:
            raise self._error('expecting "and" or "or"')
        start = self.pos
        column = self._until(".")
        self._expect(".")
        negated = self._consume("not.")
        operator = self._until(".")
        if operator not in _OPERATORS:
            self.pos -= len(operator)
            raise self._error(_OPERATOR_HINT)
        self._expect(".")
        value: str | list[str] = self.in_list() if operator == "in" else self._value()
        return _leaf(self.table, column, operator, value, negated, self.text[start : self.pos])

    def in_list(self) -> list[str]:
        self._expect("(")
        values: list[str] = []
        if self._peek() == ")":
            self.pos += 1
            return values
        values.append(self._value())
        while self._peek() == ",":
            self.pos += 1
            values.append(self._value())
        self._expect(")")
        return values

    def _value(self) -> str:
        if self._peek() == '"':
            return self._quoted()
        return self._until(",)")

    def _quoted(self) -> str:
        self.pos += 1
        chars = []
        while self.pos < len(self.text):
            char = self.text[self.pos]
            self.pos += 1
            if char == "\\" and self.pos < len(self.text):
                chars.append(self.text[self.pos])
                self.pos += 1
            elif char == '"':
                return "".join(chars)
            else:
                chars.append(char)
        raise self._error('expecting closing quote "\\""')

    def _until(self, stops: str) -> str:
        start = self.pos
        while self.pos < len(self.text) and self.text[self.pos] not in stops:
            self.pos += 1
        return self.text[start : self.pos]

    def _peek(self) -> str:
        return self.text[self.pos : self.pos + 1]

    def _consume(self, word: str) -> bool:
        if self.text.startswith(word, self.pos):
            self.pos += len(word)
            return True
        return False

    def _expect(self, char: str) -> None:
        if self._peek() != char:
            raise self._error(f'expecting "{char}"')
        self.pos += 1

    def _error(self, expecting: str) -> PostgrestError:
        return _parse_error("logic tree", self.text, self.pos, expecting)


# -- the response -----------------------------------------------------------------------------


def select_response(table: Table, request: Request, *, max_rows: int | None) -> Response:
    """PostgREST's answer to GET /<table>; errors come back as error responses."""
    try:
        return _select_response(table, request, max_rows)
    except PostgrestError as error:
        return error.response()


def _select_response(table: Table, request: Request, max_rows: int | None) -> Response:
    profile = request.header("accept-profile")
    if profile is not None and profile != SCHEMA:
        raise PostgrestError(
            406,
            "PGRST106",
            f"Invalid schema: {profile}",
            hint=f"Only the following schemas are exposed: {SCHEMA}",
        )
    single = _wants_single_object(request.header("accept"))
    query = parse_query(table, request.query)
    lower, upper = _range(query, request.header("range"), max_rows)
    rows = table.matching(query)
    total = len(rows) if _count_requested(request.header("prefer")) else None
    if total is not None and lower > total:
        raise _out_of_bounds(lower, total)
    page = rows[lower : upper + 1] if upper is not None else rows[lower:]
    served = [{name: _json(row.get(column)) for name, column in query.select} for row in page]
    if request.faults.duplicate_rows and page and lower > 0:
        previous = rows[lower - 1]
        served.insert(0, {name: _json(previous.get(column)) for name, column in query.select})
        request.applied_faults.append("duplicate_rows")
    content_range = (
        f"{lower}-{lower + len(served) - 1}/{'*' if total is None else total}"
        if served and total != 0
        else f"*/{'*' if total is None else total}"
    )
    headers = {"Content-Type": JSON_TYPE, "Content-Range": content_range, "Range-Unit": "items"}
    status = 206 if total is not None and len(served) < total else 200
    if single:
        if len(served) != 1:
            raise PostgrestError(
                406,
                "PGRST116",
                "Cannot coerce the result to a single JSON object",
                f"The result contains {len(served)} rows",
            )
        return Response.json(
            served[0], status=200, headers={**headers, "Content-Type": OBJECT_TYPE}
        )
    return Response.json(served, status=status, headers=headers)


def _out_of_bounds(lower: int, total: int) -> PostgrestError:
    return PostgrestError(
        416,
        "PGRST103",
        "Requested range not satisfiable",
        f"An offset of {lower} was requested, but there are only {total} rows.",
        headers={"Content-Range": f"*/{total}"},
    )


def _range(query: Query, header: str | None, max_rows: int | None) -> tuple[int, int | None]:
    """[lower, upper] of the rows to serve: limit/offset ∩ Range header, capped by max_rows."""
    lower = query.offset
    upper = None if query.limit is None else query.offset + query.limit - 1
    found = re.fullmatch(r"\s*(\d+)-(\d*)\s*", header or "")
    if found:
        head_lower, head_upper = int(found.group(1)), found.group(2)
        if head_upper and int(head_upper) < head_lower:
            raise PostgrestError(
                416,
                "PGRST103",
                "Requested range not satisfiable",
                "The lower boundary must be lower than or equal to the upper boundary in the "
                "Range header.",
            )
        lower = max(lower, head_lower)
        if head_upper:
            upper = int(head_upper) if upper is None else min(upper, int(head_upper))
    if max_rows is not None:
        cap = lower + max_rows - 1
        upper = cap if upper is None else min(upper, cap)
    return lower, upper


def _count_requested(prefer: str | None) -> bool:
    preferences = {part.strip() for part in (prefer or "").split(",")}
    return bool(preferences & {"count=exact", "count=planned", "count=estimated"})


def _wants_single_object(accept: str | None) -> bool:
    if accept is None:
        return False
    types = [part.split(";")[0].strip() for part in accept.split(",")]
    if OBJECT_TYPE in types:
        return True
    if any(t in ("*/*", "application/*", "application/json") for t in types):
        return False
    raise PostgrestError(
        406, "PGRST107", f"None of these media types are available: {', '.join(types)}"
    )


def _json(value: Any) -> Any:
    if isinstance(value, datetime):
        return pg_timestamp(value)
    if isinstance(value, date):
        return value.isoformat()
    return value


def pg_timestamp(moment: datetime) -> str:
    """A timestamptz as PostgreSQL's JSON shows it: UTC offset, fraction without trailing
    zeros (`2024-05-01T12:34:56.5+00:00`)."""
    text = moment.astimezone(UTC).isoformat()
    if "." not in text:
        return text
    head, rest = text.split(".", 1)
    fraction = rest[:6].rstrip("0")
    return head + ("." + fraction if fraction else "") + rest[6:]
