"""Small typed helpers for DuckDB queries whose shape the caller knows."""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any

import duckdb


def scalar(conn: duckdb.DuckDBPyConnection, sql: str, params: object | None = None) -> Any:  # noqa: ANN401 - the value's type is the query's
    """The single value of a query that returns exactly one row (an aggregate, `INSERT … RETURNING
    count`): raises if it returned none, rather than leaving the caller to unpack `None`."""
    row = conn.execute(sql, params).fetchone()
    if row is None:
        raise LookupError(f"expected one row from: {sql[:200]}")
    return row[0]


def table_exists(conn: duckdb.DuckDBPyConnection, schema: str, table: str) -> bool:
    """Whether `schema.table` is a table (not a view) of the connection's current database."""
    return bool(
        scalar(
            conn,
            "SELECT count(*) FROM duckdb_tables() WHERE database_name = current_database() "
            "AND schema_name = ? AND table_name = ?",
            [schema, table],
        )
    )


@contextmanager
def settings(conn: duckdb.DuckDBPyConnection, **values: object) -> Iterator[None]:
    """DuckDB settings for the block, then their values from before. Most (`memory_limit`,
    `threads`, `preserve_insertion_order`) are the database's, not the connection's."""
    before = {name: _setting(conn, name) for name in values}
    try:
        for name, value in values.items():
            conn.execute(f"SET {name} = {_quote(value)}")
        yield
    finally:
        for name, value in before.items():
            # A default comes back exactly by a reset (the text of `18.8 GiB` is rounded).
            conn.execute(f"RESET {name}")
            if _setting(conn, name) != value:
                conn.execute(f"SET {name} = {_quote(value)}")


def _setting(conn: duckdb.DuckDBPyConnection, name: str) -> object:
    return scalar(conn, f"SELECT current_setting('{name}')")


def _quote(value: object) -> str:
    return "'" + str(value).replace("'", "''") + "'"
