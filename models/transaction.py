"""One DuckDB transaction: committed when the block ends, rolled back when it raises."""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager

import duckdb

__all__ = ["transaction"]


@contextmanager
def transaction(conn: duckdb.DuckDBPyConnection) -> Iterator[duckdb.DuckDBPyConnection]:
    """`BEGIN`, then `COMMIT` when the block ends or `ROLLBACK` if it (or the commit) raises.

    A commit that loses to another writer ends the transaction, so the rollback then raises in
    turn; the original error stays its `__context__` (`models.ducklake.is_write_conflict`).
    """
    conn.execute("BEGIN TRANSACTION")
    try:
        yield conn
        conn.execute("COMMIT")
    except BaseException:
        conn.execute("ROLLBACK")
        raise
