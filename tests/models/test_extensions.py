"""DuckDB extensions come from the project's wheels: installed from the file, never downloaded."""

from __future__ import annotations

from pathlib import Path

import duckdb

from models.extensions import EXTENSION_WHEELS, extension_file, load_extensions


def test_every_pinned_extension_has_a_binary_for_this_duckdb():
    for name in EXTENSION_WHEELS:
        path = extension_file(name)
        assert path.is_file() and f"v{duckdb.__version__}" in path.parts


def test_extensions_install_from_their_wheels_into_an_empty_directory(tmp_path: Path):
    directory = tmp_path / "extensions"
    conn = duckdb.connect(config={"extension_directory": str(directory)})
    load_extensions(conn, *EXTENSION_WHEELS)
    loaded = conn.execute(
        "SELECT extension_name, install_mode FROM duckdb_extensions() WHERE loaded "
        "AND extension_name IN ('ducklake', 'postgres_scanner') ORDER BY 1"
    ).fetchall()
    assert loaded == [("ducklake", "CUSTOM_PATH"), ("postgres_scanner", "CUSTOM_PATH")]
    assert conn.execute("SELECT current_setting('autoinstall_known_extensions')").fetchone() == (
        False,
    )
    assert sorted(p.name for p in directory.rglob("*.duckdb_extension")) == [
        "ducklake.duckdb_extension",
        "postgres_scanner.duckdb_extension",
    ]
