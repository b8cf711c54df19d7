"""The warehouse connection: UTC, and a memory limit that lasts as long as the connection."""

from __future__ import annotations

from pathlib import Path

from models.warehouse import Warehouse


def _setting(conn, name: str) -> str:
    (value,) = conn.execute("SELECT current_setting(?)", [name]).fetchone()
    return str(value)


def test_a_memory_limit_holds_while_its_connection_is_open(tmp_path: Path):
    warehouse = Warehouse(tmp_path / "warehouse.duckdb")
    with warehouse.connect() as conn:
        default = _setting(conn, "memory_limit")
        assert _setting(conn, "TimeZone") == "UTC"
    with warehouse.connect(memory_limit="64MB") as conn:
        assert _setting(conn, "memory_limit") == "61.0 MiB"  # DuckDB shows 64 MB in MiB
    with warehouse.connect() as conn:
        assert _setting(conn, "memory_limit") == default
