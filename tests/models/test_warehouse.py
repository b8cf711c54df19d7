"""The warehouse connection: UTC, and a memory limit and threads that last as long as the
connection."""

from __future__ import annotations

from pathlib import Path

from models.warehouse import Warehouse


def _setting(conn, name: str) -> str:
    (value,) = conn.execute("SELECT current_setting(?)", [name]).fetchone()
    return str(value)


def _buffer_pool_limit(conn) -> str:
    """The limit DuckDB's buffer pool enforces (a setting's text can say otherwise)."""
    (value,) = conn.execute("SELECT memory_limit FROM pragma_database_size()").fetchone()
    return str(value)


def test_a_memory_limit_and_threads_hold_while_their_connection_is_open(tmp_path: Path):
    warehouse = Warehouse(tmp_path / "warehouse.duckdb")
    # A second connection keeps the database open, so the settings outlive the first one's
    # close unless it resets them.
    with warehouse.connect() as keeper:
        default = (
            _setting(keeper, "memory_limit"),
            _setting(keeper, "threads"),
            _buffer_pool_limit(keeper),
        )
        assert _setting(keeper, "TimeZone") == "UTC"
        assert default[1] != "1"
        with warehouse.connect(memory_limit="64MB", threads=1) as conn:
            assert _setting(conn, "memory_limit") == "61.0 MiB"  # DuckDB shows 64 MB in MiB
            assert _buffer_pool_limit(conn) == "61.0 MiB"
            assert _setting(conn, "threads") == "1"
        after = (
            _setting(keeper, "memory_limit"),
            _setting(keeper, "threads"),
            _buffer_pool_limit(keeper),
        )
        assert after == default
