"""The demo's hint opens the warehouse with the DuckDB CLI of the project's own install, and
what SQLAlchemy (duckdb-engine) can and cannot do with the file (docs/analyst-guide.md)."""

from __future__ import annotations

import shlex
import subprocess
from pathlib import Path

import pytest
import sqlalchemy as sa

from models.warehouse import Warehouse
from pipelines.open_hint import duckdb_cli, open_hint


@pytest.fixture
def warehouse_file(tmp_path: Path) -> Path:
    path = tmp_path / "data" / "ledgersync.duckdb"
    Warehouse(path).ensure_schema()
    with Warehouse(path).connect() as conn:
        conn.execute(
            "INSERT INTO canonical.rejected_records (connection_id, source, stream, "
            "record_id, reason, first_seen_at, last_seen_at) VALUES "
            "('c', 'zoho_books', 'invoices', '1', 'why', now(), now())"
        )
    return path


def test_the_printed_command_opens_the_file_read_only(warehouse_file: Path):
    hint = open_hint(Path("data/ledgersync.duckdb"))
    assert hint == f"{duckdb_cli()} -readonly data/ledgersync.duckdb"
    result = subprocess.run(
        [*shlex.split(hint), "-csv", "-c", "SELECT reason FROM canonical.rejected_records"],
        capture_output=True,
        text=True,
        check=True,
        timeout=60,
    )
    assert result.stdout.split() == ["reason", "why"]


def test_sqlalchemy_queries_and_lists_tables(warehouse_file: Path):
    engine = sa.create_engine(f"duckdb:///{warehouse_file}", connect_args={"read_only": True})
    assert "rejected_records" in sa.inspect(engine).get_table_names(schema="canonical")
    table = sa.table("rejected_records", sa.column("reason"), schema="canonical")
    with engine.connect() as conn:
        assert conn.execute(sa.select(table.c.reason)).scalars().all() == ["why"]


@pytest.mark.xfail(
    strict=True,
    reason="SQLAlchemy 2.1's column reflection asks for pg_catalog.pg_collation, which DuckDB "
    "1.5 lacks (duckdb-engine 0.17); when this passes, update the analyst guide",
)
def test_sqlalchemy_reflects_columns(warehouse_file: Path):
    engine = sa.create_engine(f"duckdb:///{warehouse_file}", connect_args={"read_only": True})
    sa.inspect(engine).get_columns("rejected_records", schema="canonical")
