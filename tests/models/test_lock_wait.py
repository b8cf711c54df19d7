"""Waiting for the warehouse's lock: who holds it is said while waiting and in the final error."""

from __future__ import annotations

import sys
from pathlib import Path

import duckdb
import pytest

from models.lock_wait import connect_when_free
from models.warehouse import Warehouse, WarehouseBusyError


def test_a_wait_names_the_holder_while_it_lasts_and_in_one_line_when_it_gives_up(
    tmp_path, hold_warehouse
):
    path = tmp_path / "warehouse.duckdb"
    heard: list[str] = []
    warehouse = Warehouse(path, lock_timeout_s=1.5, on_wait=heard.append)
    holder = hold_warehouse(path)

    with pytest.raises(WarehouseBusyError) as raised, warehouse.connect():
        pass

    # DuckDB names the holder by its /proc/<pid>/exe: the interpreter, a venv's symlink resolved
    holder_name = f"pid {holder.pid} ({Path(sys.executable).resolve()})"
    assert heard and heard[0].startswith(f"waiting for the warehouse: held by {holder_name}")
    assert str(raised.value) == (
        f"the warehouse {path} is held by {holder_name}; gave up after 1.5s. Close that "
        "process's connection to it (a DuckDB CLI or notebook, another sync), or raise "
        "warehouse_lock_wait_s in the connections file, and run again"
    )
    assert raised.value.__cause__ is None and raised.value.__suppress_context__


def test_a_wait_ends_as_soon_as_the_holder_lets_go(tmp_path, hold_warehouse):
    path = tmp_path / "warehouse.duckdb"
    heard: list[str] = []
    hold_warehouse(path, seconds=1.0)

    with Warehouse(path, lock_timeout_s=60, on_wait=heard.append).connect() as conn:
        assert conn.execute("SELECT 42").fetchall() == [(42,)]

    assert len(heard) >= 1


@pytest.mark.parametrize(
    "message",
    [
        'IO Error: Cannot open file "/data/ledgersync.duckdb": No space left on device (block 7)',
        "IO Error: Could not read from file: unlocked by the kernel",
    ],
)
def test_an_io_error_that_is_not_a_lock_conflict_fails_at_once(tmp_path, message):
    """Only DuckDB's lock-conflict message is waited out: other I/O errors that merely contain
    "lock" ("block", "unlocked") raise at once, unchanged."""
    attempts: list[int] = []

    def connect() -> None:
        attempts.append(1)
        raise duckdb.IOException(message)

    with pytest.raises(duckdb.IOException, match="read from file|No space"):
        connect_when_free(connect, path=tmp_path / "warehouse.duckdb", limit_s=1)

    assert len(attempts) == 1
