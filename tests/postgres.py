"""The test PostgreSQL server (127.0.0.1:5432, database `test`, trust auth): scratch schemas
that tests create under unique names and drop afterwards, or a skip saying why there is none."""

from __future__ import annotations

import uuid
from collections.abc import Iterator
from contextlib import contextmanager

import psycopg2
import pytest

PG = {"host": "127.0.0.1", "port": "5432", "dbname": "test", "user": "postgres"}
PG_URI = f"postgresql://{PG['user']}@{PG['host']}:{PG['port']}/{PG['dbname']}"


def require_postgres(what: str) -> None:
    """Skip the test, naming `what` needs the server, when it is not reachable."""
    try:
        psycopg2.connect(connect_timeout=3, **PG).close()
    except psycopg2.OperationalError:
        pytest.skip(
            f"PostgreSQL is not reachable on {PG['host']}:{PG['port']} (database `test`, trust "
            f"auth): {what} needs it (CI has it)"
        )


@contextmanager
def scratch_schema(prefix: str) -> Iterator[str]:
    """A new, uniquely named schema in the test database, dropped with everything in it."""
    name = f"{prefix}_{uuid.uuid4().hex[:12]}"
    with _autocommit() as cursor:
        cursor.execute(f"CREATE SCHEMA {name}")
    try:
        yield name
    finally:
        with _autocommit() as cursor:
            cursor.execute(f"DROP SCHEMA {name} CASCADE")


@contextmanager
def _autocommit() -> Iterator[psycopg2.extensions.cursor]:
    conn = psycopg2.connect(connect_timeout=3, **PG)
    conn.autocommit = True
    try:
        with conn.cursor() as cursor:
            yield cursor
    finally:
        conn.close()
