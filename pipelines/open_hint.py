"""How to open the warehouse with the DuckDB CLI that came with this install."""

from __future__ import annotations

import shlex
import sys
from pathlib import Path

from models.ducklake import ALIAS, attach_sql
from models.warehouse import DuckLake

__all__ = ["duckdb_cli", "open_hint"]


def duckdb_cli() -> Path:
    """The `duckdb` executable the duckdb-cli wheel put beside this Python."""
    return Path(sys.executable).parent / "duckdb"


def open_hint(location: Path | DuckLake) -> str:
    """A command that opens the warehouse read-only, as typed in the current directory."""
    cli = _relative(duckdb_cli())
    if isinstance(location, DuckLake):
        statements = f"{attach_sql(location, read_only=True)}; USE {ALIAS};"
        return f"{shlex.quote(cli)} -cmd {shlex.quote(statements)}"
    return f"{shlex.quote(cli)} -readonly {shlex.quote(_relative(location))}"


def _relative(path: Path) -> str:
    """`path` relative to the current directory when it lies below it, else absolute."""
    absolute = path.absolute()
    try:
        return str(absolute.relative_to(Path.cwd()))
    except ValueError:
        return str(absolute)
