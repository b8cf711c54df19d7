"""The DuckLake backend: a catalog in PostgreSQL, data files on shared storage.

Every connection is a fresh in-memory DuckDB (its temporary tables and spills stay local to the
process) with the lake attached as `lake` and made the default database, so the warehouse's SQL
runs unchanged. Many processes on many machines may write at once: DuckLake commits a
transaction only if no other commit since it began touched what it touched (an insert into a
table another transaction deleted from, two creates of one name); otherwise the commit fails
(`is_write_conflict`) and the caller runs the transaction again (`Warehouse.write`).

The catalog string is a libpq connection string or `postgresql://` URI without a password:
libpq reads it from `PGPASSWORD` or `~/.pgpass`, so no secret is ever in the connections file.
"""

from __future__ import annotations

import os
import random
import time
from dataclasses import dataclass

import duckdb

from models.extensions import load_extensions
from models.queries import quote

__all__ = ["ALIAS", "DuckLake", "attach_ducklake", "attach_sql", "in_ducklake", "is_write_conflict"]

ALIAS = "lake"
# Two processes attaching a new catalog at once race to create its tables; the loser retries.
_ATTACH_ATTEMPTS = 5


@dataclass(frozen=True, slots=True)
class DuckLake:
    """Where a DuckLake warehouse lives."""

    catalog: str  # "postgresql://user@host:5432/db" or "host=… dbname=…", no password
    data_path: str  # a folder every writer sees (a shared volume), or object storage
    metadata_schema: str | None = None  # PostgreSQL schema of the catalog tables (default: public)

    def __str__(self) -> str:
        return f"DuckLake {self.catalog} ({self.data_path})"


def attach_sql(lake: DuckLake, *, read_only: bool = False, alias: str = ALIAS) -> str:
    """The ATTACH statement for the lake, as an analyst would type it in any DuckDB."""
    options = [f"DATA_PATH {quote(lake.data_path)}"]
    if lake.metadata_schema:
        options.append(f"METADATA_SCHEMA {quote(lake.metadata_schema)}")
    if read_only:
        options.append("READ_ONLY")
    return f"ATTACH {quote('ducklake:postgres:' + lake.catalog)} AS {alias} ({', '.join(options)})"


def attach_ducklake(lake: DuckLake, *, read_only: bool = False) -> duckdb.DuckDBPyConnection:
    """A new connection with the lake attached as the default database.

    Loading the extensions and attaching the catalog cost about a second, so each process
    does it once per lake, in an in-memory database whose connections (cursors) each have
    their own transactions and temporary tables. `read_only` is accepted for the interface's
    sake: these connections only write when the caller writes.
    """
    key = (os.getpid(), lake)
    database = _databases.get(key)
    if database is None:
        database = _databases[key] = _attached(lake)
    conn = database.cursor()
    conn.execute(f"USE {ALIAS}")
    return conn


_databases: dict[tuple[int, DuckLake], duckdb.DuckDBPyConnection] = {}


def _attached(lake: DuckLake) -> duckdb.DuckDBPyConnection:
    conn = duckdb.connect()
    try:
        load_extensions(conn, "ducklake", "postgres")
        for attempt in range(1, _ATTACH_ATTEMPTS + 1):
            try:
                conn.execute(attach_sql(lake))
                break
            except duckdb.Error as error:
                if "Failed to initialize DuckLake" not in str(error) or attempt == _ATTACH_ATTEMPTS:
                    raise _described(lake, error) from None
                time.sleep(0.1 * attempt * (1 + random.random()))
    except BaseException:
        conn.close()
        raise
    return conn


def in_ducklake(conn: duckdb.DuckDBPyConnection) -> bool:
    """Whether the connection's default database is a DuckLake."""
    row = conn.execute(
        "SELECT type FROM duckdb_databases() WHERE database_name = current_database()"
    ).fetchone()
    return row is not None and row[0] == "ducklake"


def is_write_conflict(error: BaseException) -> bool:
    """Whether a failed write lost to another writer's commit (and may succeed if run again).

    The failed COMMIT ends the transaction, so the caller's ROLLBACK fails in turn: the
    conflict is then the context of the error that surfaced. Two writers race for the next
    snapshot id; DuckLake retries the loser itself, and when its own retries run out (under
    load) the race surfaces as the catalog's primary key on snapshots, which is a lost race
    too, not a logical conflict.
    """
    cause: BaseException | None = error
    while cause is not None:
        message = str(cause).lower()
        if isinstance(cause, duckdb.TransactionException) and "conflict" in message:
            return True
        if isinstance(cause, duckdb.Error) and "ducklake_snapshot_pkey" in message:
            return True
        cause = cause.__context__
    return False


def _described(lake: DuckLake, error: duckdb.Error) -> Exception:
    return RuntimeError(
        f"cannot attach the DuckLake warehouse (catalog {lake.catalog}, data {lake.data_path}): "
        f"{error}. Check that PostgreSQL is reachable, that the catalog names an existing "
        "database the user may create tables in, and that PGPASSWORD (or ~/.pgpass) holds the "
        "password."
    )
