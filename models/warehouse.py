"""The warehouse: connections, schemas and DDL, over one of two backends.

- A DuckDB file (the default). DuckDB allows one writing process at a time and Dagster runs steps
  in parallel processes, so `Warehouse.connect()` waits (with backoff, saying for whom:
  `models.lock_wait`) for the file lock instead of failing at once, and every write in
  ledgersync is one short transaction.
- A DuckLake (`models.ducklake`): the catalog in PostgreSQL, the data files on shared storage,
  written by many processes on many machines at once. Its transactions are optimistic: one whose
  commit conflicts with another writer's fails, and `Warehouse.write` runs it again.

Both are used the same way: `connect()` for reading (or a single statement), `write(work)` for a
transaction, which must be safe to run again (every write in ledgersync is: a batch load is
recorded by its id, a rebuild replaces what it rebuilds).
"""

from __future__ import annotations

import random
import threading
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import TypeVar

import duckdb
import sqlalchemy as sa
from duckdb_engine import Dialect

from models.ducklake import DuckLake, attach_ducklake, is_write_conflict
from models.lock_wait import WaitListener, WarehouseBusyError, connect_when_free
from models.queries import quote, settings
from models.schema import CANONICAL, CANONICAL_TABLES, REJECTED_RECORDS
from models.transaction import transaction

__all__ = [
    "BULK_MEMORY_LIMIT",
    "LOAD_MEMORY_LIMIT",
    "LOAD_THREADS",
    "NORMALIZE_MEMORY_LIMIT",
    "DuckLake",
    "Warehouse",
    "WarehouseBusyError",
    "table_ddl",
]

T = TypeVar("T")

SCHEMAS = ("raw", CANONICAL, "reports", "sync")

# (table, columns, key): the key is declared where the backend supports keys (DuckLake does
# not); the loader keeps it either way, by merging on it.
_SYNC_TABLES = (
    (
        "sync.cursors",
        """
        connection_id VARCHAR NOT NULL,
        stream VARCHAR NOT NULL,
        cursor TIMESTAMPTZ,
        batch_id VARCHAR NOT NULL""",
        "connection_id, stream",
    ),
    (
        "sync.batches",
        """
        batch_id VARCHAR NOT NULL,
        connection_id VARCHAR NOT NULL,
        stream VARCHAR NOT NULL,
        pages INTEGER NOT NULL,
        records INTEGER NOT NULL,
        inserted INTEGER NOT NULL,
        updated INTEGER NOT NULL,
        rejected INTEGER NOT NULL,
        vanished INTEGER NOT NULL,
        full_refresh BOOLEAN NOT NULL,
        loaded_at TIMESTAMPTZ NOT NULL""",
        "batch_id",
    ),
    (
        "sync.load_rejects",
        """
        connection_id VARCHAR NOT NULL,
        stream VARCHAR NOT NULL,
        record_id VARCHAR NOT NULL,
        reason VARCHAR NOT NULL,
        payload JSON,
        first_seen_at TIMESTAMPTZ NOT NULL,
        last_seen_at TIMESTAMPTZ NOT NULL""",
        "connection_id, stream, record_id",
    ),
    (
        # Ids a complete listing of ids found at the source but not (live) in the warehouse:
        # fetched by id in the same sync, and kept here until they are, so a sync killed in
        # between fetches them when run again. Also ids quarantined for copies that differed
        # in one sync, asked for again by the next one.
        "sync.unfetched",
        """
        connection_id VARCHAR NOT NULL,
        stream VARCHAR NOT NULL,
        record_id VARCHAR NOT NULL,
        listed_at TIMESTAMPTZ NOT NULL""",
        "connection_id, stream, record_id",
    ),
    # A connection whose derived records disagreed with the fetched ones: the stream fetches
    # every record from then on (models.derivation).
    (
        "sync.derivations_off",
        """
        connection_id VARCHAR NOT NULL,
        stream VARCHAR NOT NULL,
        turned_off_at TIMESTAMPTZ NOT NULL,
        reason VARCHAR NOT NULL""",
        "connection_id, stream",
    ),
)


# What a sync's joins over a connection's records (its pending children, their derivation) may
# hold in DuckDB's memory: a million records stay within it by spilling.
BULK_MEMORY_LIMIT = "320MB"
# Normalizing a million documents under 320 MB spills: 38 s (578 MiB peak); under 400 MB it does
# not: 25 s (661 MiB, below the sync's own peak).
NORMALIZE_MEMORY_LIMIT = "400MB"
# A load streams a batch's records into its raw table: on one DuckDB thread, which holds one
# row group in memory where each thread would hold its own, it takes about 120 MiB less (a
# million records: 53 s at 1,040 MiB on two threads, 56 s at 800 MiB on one), and needs less
# headroom under the limit.
LOAD_MEMORY_LIMIT = "240MB"
LOAD_THREADS = 1


class Warehouse:
    """The warehouse at `location`: a DuckDB file's path, or a `DuckLake`. `lock_timeout_s` is
    how long a connection waits for another process to release the file (or a write retries
    after conflicts on a DuckLake); `on_wait` hears about a wait for the file while it lasts."""

    def __init__(
        self,
        location: Path | str | DuckLake,
        *,
        lock_timeout_s: float = 600.0,
        on_wait: WaitListener | None = None,
    ) -> None:
        self.location = location if isinstance(location, DuckLake) else Path(location)
        self.lock_timeout_s = lock_timeout_s
        self.on_wait = on_wait
        # One writer: the threads of a sync (streams side by side) write one at a time.
        self._writing = threading.RLock()

    @property
    def path(self) -> Path:
        """The DuckDB file; a DuckLake has none."""
        if isinstance(self.location, DuckLake):
            raise TypeError(f"the warehouse is a {self.location}, not a DuckDB file")
        return self.location

    @contextmanager
    def connect(
        self,
        *,
        read_only: bool = False,
        memory_limit: str | None = None,
        threads: int | None = None,
    ) -> Iterator[duckdb.DuckDBPyConnection]:
        """A connection to the warehouse, in UTC.

        `memory_limit` (DuckDB's setting, e.g. `BULK_MEMORY_LIMIT`) bounds DuckDB's memory while
        the connection is open; beyond it DuckDB spills to disk. Its default is 80% of the
        machine's memory, which a sync would fill with a large batch's payloads. `threads`
        bounds DuckDB's threads the same way (`LOAD_THREADS`).
        """
        if isinstance(self.location, DuckLake):
            conn = attach_ducklake(self.location, read_only=read_only)
        else:
            conn = self._connect_waiting_for_lock(self.location, read_only=read_only)
        # Both are the database's settings, not the connection's: put back when it closes.
        bounds = {"memory_limit": memory_limit, "threads": threads}
        try:
            conn.execute("SET TimeZone = 'UTC'")
            with settings(conn, **{name: v for name, v in bounds.items() if v is not None}):
                yield conn
        finally:
            conn.close()

    def write(
        self,
        work: Callable[[duckdb.DuckDBPyConnection], T],
        *,
        memory_limit: str | None = None,
        threads: int | None = None,
    ) -> T:
        """`work(conn)` on a new connection, after any write of another thread through this
        warehouse ends; run again while another writer's commit conflicts with it (DuckLake), for
        up to `lock_timeout_s`. `work` must be safe to run again."""
        deadline = time.monotonic() + self.lock_timeout_s
        delay = 0.05
        while True:
            try:
                with (
                    self._writing,
                    self.connect(memory_limit=memory_limit, threads=threads) as conn,
                ):
                    return work(conn)
            except duckdb.Error as error:
                if not is_write_conflict(error):
                    raise
                if time.monotonic() >= deadline:
                    raise WarehouseBusyError(
                        f"The warehouse {self.location} kept refusing this write for "
                        f"{self.lock_timeout_s:.0f}s because other writers' commits conflicted "
                        f"with it ({error}). Run again when fewer syncs write at once."
                    ) from error
                time.sleep(delay * (1 + random.random()))
                delay = min(delay * 2, 2.0)

    def _connect_waiting_for_lock(
        self, path: Path, *, read_only: bool
    ) -> duckdb.DuckDBPyConnection:
        if not read_only:
            path.parent.mkdir(parents=True, exist_ok=True)
        return connect_when_free(
            lambda: duckdb.connect(str(path), read_only=read_only),
            path=path,
            limit_s=self.lock_timeout_s,
            on_wait=self.on_wait,
        )

    def ensure_schema(self) -> None:
        """Create what is missing; recreate canonical tables whose columns (or whether they may
        be NULL) changed.

        Canonical tables are derived from raw, so a changed definition just means the next
        normalization rebuilds them: no re-extraction is ever needed for a schema change.
        """
        keys = not isinstance(self.location, DuckLake)

        def create(conn: duckdb.DuckDBPyConnection) -> None:
            with transaction(conn):
                for schema in SCHEMAS:
                    conn.execute(f"CREATE SCHEMA IF NOT EXISTS {schema}")
                for table, columns, key in _SYNC_TABLES:
                    primary_key = f",\n        PRIMARY KEY ({key})" if keys else ""
                    conn.execute(f"CREATE TABLE IF NOT EXISTS {table} ({columns}{primary_key}\n)")
                for canonical in (*CANONICAL_TABLES, REJECTED_RECORDS):
                    _ensure_table(conn, canonical)

        self.write(create)


def _ensure_table(conn: duckdb.DuckDBPyConnection, table: sa.Table) -> None:
    existing = [
        (row[0], row[1] == "YES")
        for row in conn.execute(
            "SELECT column_name, is_nullable FROM information_schema.columns WHERE table_catalog "
            "= current_database() AND table_schema = ? AND table_name = ? "
            "ORDER BY ordinal_position",
            [table.schema, table.name],
        ).fetchall()
    ]
    wanted = [(column.name, bool(column.nullable)) for column in table.columns]
    if existing == wanted:
        return
    if existing:
        conn.execute(f"DROP TABLE {table.schema}.{table.name}")
    conn.execute(table_ddl(table))
    if table.comment:
        conn.execute(f"COMMENT ON TABLE {table.schema}.{table.name} IS {quote(table.comment)}")
    for column in table.columns:
        if column.comment:
            conn.execute(
                f"COMMENT ON COLUMN {table.schema}.{table.name}.{column.name} "
                f"IS {quote(column.comment)}"
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
