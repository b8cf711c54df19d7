"""`transaction()`: what the block wrote is committed when it ends, rolled back when it raises."""

from __future__ import annotations

import duckdb
import pytest

from models.transaction import transaction


@pytest.fixture
def conn():
    with duckdb.connect() as conn:
        conn.execute("CREATE TABLE t (n INTEGER)")
        yield conn


def _seen_by_another_connection(conn: duckdb.DuckDBPyConnection) -> list[tuple[int]]:
    with conn.cursor() as other:
        return other.execute("SELECT n FROM t ORDER BY n").fetchall()


def test_the_block_is_committed_when_it_ends(conn):
    with transaction(conn):
        conn.execute("INSERT INTO t (n) VALUES (1)")
        assert _seen_by_another_connection(conn) == []
    assert _seen_by_another_connection(conn) == [(1,)]


def test_the_block_is_rolled_back_when_it_raises(conn):
    with pytest.raises(KeyError), transaction(conn):
        conn.execute("INSERT INTO t (n) VALUES (1)")
        raise KeyError("stop")
    assert conn.execute("SELECT count(*) FROM t").fetchone() == (0,)
    with transaction(conn):  # no transaction was left open
        conn.execute("INSERT INTO t (n) VALUES (2)")
    assert _seen_by_another_connection(conn) == [(2,)]
