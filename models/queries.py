"""Small typed helpers for DuckDB queries whose shape the caller knows."""

from __future__ import annotations

import re
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
    `threads`, `preserve_insertion_order`) are the database's, not the connection's.

    They are put back with SET, not RESET: in DuckDB 1.5.5 a reset of `memory_limit` shows the
    default again but leaves the buffer pool at the limit it had."""
    before = {name: _setting(conn, name) for name in values}
    try:
        for name, value in values.items():
            conn.execute(f"SET {name} = {quote(str(value))}")
        yield
    finally:
        for name, value in before.items():
            conn.execute(f"SET {name} = {quote(str(_as_shown(value)))}")


def memory_bytes(shown: str) -> float:
    """A memory size as DuckDB shows it (`18.8 GiB`, `256.0 MiB`) in bytes. DuckDB cuts a size
    to one decimal, so this is the middle of the sizes the text stands for: setting it shows
    the same text again (setting `18.8 GiB` itself would show `18.7 GiB`)."""
    found = _SHOWN_SIZE.fullmatch(shown.strip())
    if found is None:
        raise ValueError(f"not a memory size as DuckDB shows one: {shown!r}")
    number, unit = found.groups()
    return (float(number) + (0.05 if "." in number else 0.5)) * _UNITS[unit]


def _as_shown(value: object) -> object:
    """A setting's value as read, to be set again: a memory size as its bytes (`memory_bytes`)."""
    if isinstance(value, str) and _SHOWN_SIZE.fullmatch(value.strip()):
        return f"{int(memory_bytes(value))}B"
    return value


_UNITS = {"bytes": 1, "KiB": 2**10, "MiB": 2**20, "GiB": 2**30, "TiB": 2**40, "PiB": 2**50}
_SHOWN_SIZE = re.compile(r"(\d+(?:\.\d+)?) ?(bytes|KiB|MiB|GiB|TiB|PiB)")


def _setting(conn: duckdb.DuckDBPyConnection, name: str) -> object:
    return scalar(conn, f"SELECT current_setting('{name}')")


def quote(text: str) -> str:
    """`text` as a SQL string literal."""
    return "'" + text.replace("'", "''") + "'"
