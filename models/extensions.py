"""DuckDB extensions from the project's own install: nothing is downloaded at run time.

The `duckdb-extension-<name>` wheels pinned beside `duckdb` carry each extension's binary for
this DuckDB version. The first connection on a machine installs it from that file into DuckDB's
extension directory (where the DuckDB CLI of the same version finds it too); later connections
just load it. Automatic installation is switched off, so a missing wheel is an error naming the
fix, never a download.
"""

from __future__ import annotations

import importlib
from pathlib import Path

import duckdb

__all__ = ["EXTENSION_WHEELS", "MissingExtensionError", "extension_file", "load_extensions"]

EXTENSION_WHEELS = {
    "ducklake": "duckdb_extension_ducklake",
    "postgres": "duckdb_extension_postgres",
}


class MissingExtensionError(RuntimeError):
    """An extension's wheel is not installed, or is for another DuckDB version."""


def extension_file(name: str) -> Path:
    """The extension's binary inside its wheel, for the DuckDB version that is running."""
    fix = (
        f"install the wheel pinned in pyproject.toml: pip install "
        f"duckdb-extension-{name}=={duckdb.__version__}"
    )
    try:
        module = importlib.import_module(EXTENSION_WHEELS[name])
    except ModuleNotFoundError:
        raise MissingExtensionError(f"DuckDB extension {name!r} is not installed: {fix}") from None
    package = Path(module.__file__ or "").parent
    path = package / "extensions" / f"v{duckdb.__version__}" / f"{name}.duckdb_extension"
    if not path.is_file():
        raise MissingExtensionError(
            f"DuckDB extension {name!r} has no binary for DuckDB {duckdb.__version__} in "
            f"{package}: {fix}"
        )
    return path


def load_extensions(conn: duckdb.DuckDBPyConnection, *names: str) -> None:
    """Load the named extensions, installing each from its wheel the first time."""
    conn.execute("SET autoinstall_known_extensions = false")
    for name in names:
        try:
            conn.execute(f"LOAD {name}")
        except duckdb.IOException:  # not installed on this machine yet
            path = str(extension_file(name)).replace("'", "''")
            conn.execute(f"INSTALL '{path}'")
            conn.execute(f"LOAD {name}")
