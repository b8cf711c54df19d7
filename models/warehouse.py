"""The DuckDB warehouse: connections, schemas and DDL.

DuckDB allows one writing process at a time and Dagster runs steps in parallel processes, so
`Warehouse.connect()` waits (with backoff, saying for whom: `models.lock_wait`) for the file lock
instead of failing at once, and every write in ledgersync is one short transaction.
"""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import duckdb
import sqlalchemy as sa
from duckdb_engine import Dialect

from models.lock_wait import WaitListener, WarehouseBusyError, connect_when_free
from models.schema import CANONICAL, CANONICAL_TABLES, REJECTED_RECORDS

__all__ = ["BULK_MEMORY_LIMIT", "Warehouse", "WarehouseBusyError", "table_ddl"]

SCHEMAS = ("raw", CANONICAL, "reports", "sync")

_SYNC_DDL = (
    """
    CREATE TABLE IF NOT EXISTS sync.cursors (
        connection_id VARCHAR NOT NULL,
        stream VARCHAR NOT NULL,
        cursor TIMESTAMPTZ,
        batch_id VARCHAR NOT NULL,
        PRIMARY KEY (connection_id, stream)
    )""",
    """
    CREATE TABLE IF NOT EXISTS sync.batches (
        batch_id VARCHAR PRIMARY KEY,
        connection_id VARCHAR NOT NULL,
        stream VARCHAR NOT NULL,
        pages INTEGER NOT NULL,
        records INTEGER NOT NULL,
        inserted INTEGER NOT NULL,
        updated INTEGER NOT NULL,
        rejected INTEGER NOT NULL,
        vanished INTEGER NOT NULL,
        full_refresh BOOLEAN NOT NULL,
        loaded_at TIMESTAMPTZ NOT NULL
    )""",
    """
    CREATE TABLE IF NOT EXISTS sync.load_rejects (
        connection_id VARCHAR NOT NULL,
        stream VARCHAR NOT NULL,
        record_id VARCHAR NOT NULL,
        reason VARCHAR NOT NULL,
        payload JSON,
        first_seen_at TIMESTAMPTZ NOT NULL,
        last_seen_at TIMESTAMPTZ NOT NULL,
        PRIMARY KEY (connection_id, stream, record_id)
    )""",
)


# What loading and normalizing may hold in DuckDB's memory: a million-record batch stays
# within it by spilling (benchmarks/RESULTS.md has the figures).
BULK_MEMORY_LIMIT = "320MB"


class Warehouse:
    """The warehouse file. `lock_timeout_s` is how long a connection waits for another process
    to release it; `on_wait` hears about the wait while it lasts."""

    def __init__(
        self,
        path: Path | str,
        *,
        lock_timeout_s: float = 600.0,
        on_wait: WaitListener | None = None,
    ) -> None:
        self.path = Path(path)
        self.lock_timeout_s = lock_timeout_s
        self.on_wait = on_wait

    @contextmanager
    def connect(
        self, *, read_only: bool = False, memory_limit: str | None = None
    ) -> Iterator[duckdb.DuckDBPyConnection]:
        """A connection to the warehouse file, in UTC.

        `memory_limit` (DuckDB's setting, e.g. `BULK_MEMORY_LIMIT`) bounds DuckDB's memory while
        the connection is open; beyond it DuckDB spills to `<warehouse>.tmp`. Its default is 80%
        of the machine's memory, which a sync would fill with a large batch's payloads.
        """
        conn = self._connect_waiting_for_lock(read_only=read_only)
        try:
            conn.execute("SET TimeZone = 'UTC'")
            if memory_limit is not None:
                conn.execute(f"SET memory_limit = {_quote(memory_limit)}")
            yield conn
        finally:
            if memory_limit is not None:
                conn.execute("RESET memory_limit")  # it is the database's, not the connection's
            conn.close()

    def _connect_waiting_for_lock(self, *, read_only: bool) -> duckdb.DuckDBPyConnection:
        if not read_only:
            self.path.parent.mkdir(parents=True, exist_ok=True)
        return connect_when_free(
            lambda: duckdb.connect(str(self.path), read_only=read_only),
            path=self.path,
            limit_s=self.lock_timeout_s,
            on_wait=self.on_wait,
        )

    def ensure_schema(self) -> None:
        """Create what is missing; recreate canonical tables whose columns changed.

        Canonical tables are derived from raw, so a changed definition just means the next
        normalization rebuilds them: no re-extraction is ever needed for a schema change.
        """
        with self.connect() as conn:
            for schema in SCHEMAS:
                conn.execute(f"CREATE SCHEMA IF NOT EXISTS {schema}")
            for ddl in _SYNC_DDL:
                conn.execute(ddl)
            for table in (*CANONICAL_TABLES, REJECTED_RECORDS):
                _ensure_table(conn, table)


def _ensure_table(conn: duckdb.DuckDBPyConnection, table: sa.Table) -> None:
    existing = [
        row[0]
        for row in conn.execute(
            "SELECT column_name FROM information_schema.columns "
            "WHERE table_schema = ? AND table_name = ? ORDER BY ordinal_position",
            [table.schema, table.name],
        ).fetchall()
    ]
    wanted = [column.name for column in table.columns]
    if existing == wanted:
        return
    if existing:
        conn.execute(f"DROP TABLE {table.schema}.{table.name}")
    conn.execute(table_ddl(table))
    if table.comment:
        conn.execute(f"COMMENT ON TABLE {table.schema}.{table.name} IS {_quote(table.comment)}")
    for column in table.columns:
        if column.comment:
            conn.execute(
                f"COMMENT ON COLUMN {table.schema}.{table.name}.{column.name} "
                f"IS {_quote(column.comment)}"
            )


def table_ddl(table: sa.Table) -> str:
    """CREATE TABLE from the SQLAlchemy definition, without key constraints.

    Keys are enforced by construction (merge by key) and watched by asset checks; DuckDB's
    ART-index constraints would only slow bulk loads and make those checks unable to fail.
    """
    compiler = Dialect().type_compiler_instance
    columns = ",\n    ".join(
        f"{c.name} {compiler.process(c.type)}{'' if c.nullable else ' NOT NULL'}"
        for c in table.columns
    )
    return f"CREATE TABLE {table.schema}.{table.name} (\n    {columns}\n)"


def _quote(text: str) -> str:
    return "'" + text.replace("'", "''") + "'"
