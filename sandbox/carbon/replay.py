"""A ledger file's rows as Carbon tables, served with all of PostgREST's semantics.

A file's list is named after the table or view (`customer`, `salesInvoices`, `payment`, ...)
and holds rows as PostgREST returns them; each value is read as its column's type (a row's
keys outside the table's columns are not served), so filters, `order`, `select`, counts and
ranges work on them as on generated rows. A verbatim page N replaces the body of the response
whose range starts at row (N - 1) x its size (page 1: the first), whatever else the request
names (it is what the source answered); its headers stay computed.
"""

from __future__ import annotations

import threading
from collections.abc import Mapping
from decimal import Decimal
from typing import Any

from sandbox.carbon.postgrest import PgType, Row, Table
from sandbox.carbon.schema import TABLES
from sandbox.replay import Replay
from sandbox.routing import Request, Response


class ReplayTables:
    """The typed tables of one ledger file, built on first use."""

    def __init__(self, replay: Replay) -> None:
        self.replay = replay
        self._tables: dict[str, Table] = {}
        self._lock = threading.Lock()

    def table(self, name: str) -> Table:
        with self._lock:
            found = self._tables.get(name)
            if found is None:
                columns = TABLES[name]
                rows = tuple(_typed(row, columns) for row in self.replay.rows(name))
                found = self._tables[name] = Table(name, columns, rows)
            return found

    def verbatim(self, name: str, request: Request, response: Response) -> Response:
        """`response` with the body of the file's verbatim page it stands for, if any."""
        if response.status >= 300:
            return response
        page = _page_number(_first_row(request), response.headers.get("Content-Range", ""))
        body = self.replay.pages.get((name, page)) if page is not None else None
        return response if body is None else Response(response.status, body, response.headers)


def _typed(row: Mapping[str, Any], columns: Mapping[str, PgType]) -> Row:
    return {name: _value(row[name], pg) for name, pg in columns.items() if name in row}


def _value(value: Any, pg: PgType) -> Any:
    if isinstance(value, str):
        return pg.literal(value)
    if isinstance(value, int | float) and not isinstance(value, bool) and pg.name == "numeric":
        return Decimal(str(value))
    return value


def _first_row(request: Request) -> int:
    """Where the requested range starts: the `Range` header's, else `offset`, else 0."""
    text = (request.header("range") or "").partition("-")[0] or request.arg("offset") or "0"
    return int(text) if text.strip().isdigit() else 0


def _page_number(first: int, content_range: str) -> int | None:
    """The page of its own size a range starting at `first` is; an empty one is page 1 only
    at the start."""
    span = content_range.partition("/")[0]
    lower, _, upper = span.partition("-")
    if lower.isdigit() and upper.isdigit():
        return first // (int(upper) - int(lower) + 1) + 1
    return 1 if first == 0 else None
