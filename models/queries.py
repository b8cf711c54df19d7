"""Small typed helpers for DuckDB queries whose shape the caller knows."""

from __future__ import annotations

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
