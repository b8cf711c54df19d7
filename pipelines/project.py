"""A project on disk for the command line: its connections file (or the starter one shipped in
this package), and the directories it writes, checked before any run starts."""

from __future__ import annotations

import tempfile
from dataclasses import dataclass
from importlib import resources
from pathlib import Path

from pipelines.cli_errors import CommandError, UsageError
from pipelines.config import ConfigError, LedgersyncConfig, load_config

__all__ = [
    "Project",
    "STARTER",
    "check_writable",
    "ensure_synced",
    "open_project",
    "require_connections",
    "starter_text",
    "write_starter",
]

# The sandbox connections `ledgersync init` writes and `ledgersync demo` runs on.
STARTER = "connections.starter.yaml"
_REAL_ACCOUNTS = "README.md, 'Connecting real accounts'"


@dataclass(frozen=True, slots=True)
class Project:
    config: LedgersyncConfig
    path: Path  # the connections file; relative paths in it are relative to its directory

    @property
    def directory(self) -> Path:
        return self.path.parent


def open_project(path: Path) -> Project:
    return Project(load_config(path), path)


def starter_text() -> str:
    return resources.files("pipelines").joinpath(STARTER).read_text()


def write_starter(path: Path) -> None:
    """The starter connections file at path; never over an existing file."""
    try:
        with path.open("x") as file:
            file.write(starter_text())
    except FileExistsError:
        raise UsageError(
            f"{path} already exists. Fix: edit it, or pass --config with another path"
        ) from None
    except OSError as error:
        raise UsageError(
            f"{path}: cannot write the connections file here ({error.strerror}). Fix: run in a "
            "directory you can write, or pass --config with a path in one"
        ) from None


def require_connections(project: Project) -> None:
    if not project.config.connections:
        raise ConfigError(
            f"{project.path}: no connections: `connections:` lists none. Fix: add one for "
            f"each account ({_REAL_ACCOUNTS}, has one for every source)"
        )


def check_writable(project: Project) -> None:
    """Create the warehouse's directory and the landing zone, or name the setting to fix."""
    places = [("landing", project.config.landing, project.config.landing)]
    if isinstance(project.config.warehouse, Path):  # not a DuckLake
        places.append(("warehouse", project.config.warehouse, project.config.warehouse.parent))
    for key, path, directory in places:
        try:
            writable_directory(directory)
        except OSError as error:
            raise ConfigError(
                f"{project.path}: {key}: cannot write {path} ({error.strerror}: "
                f"{error.filename or directory}). Fix: set `{key}:` to a path in a directory "
                "you can write"
            ) from None


def writable_directory(directory: Path) -> None:
    """Create the directory if need be and prove a file can be written in it (OSError if not)."""
    directory.mkdir(parents=True, exist_ok=True)
    with tempfile.TemporaryFile(dir=directory):
        pass


def ensure_synced(project: Project) -> None:
    """A report needs something synced: say so, rather than print empty tables."""
    warehouse = project.config.warehouse
    synced = False
    if not isinstance(warehouse, Path) or warehouse.exists():
        with project.config.open_warehouse().connect(read_only=True) as conn:
            row = conn.execute(
                "SELECT count(*) FROM duckdb_tables() "
                "WHERE schema_name = 'sync' AND table_name = 'batches'"
            ).fetchone()
            if row is not None and row[0]:
                (batches,) = conn.execute("SELECT count(*) FROM sync.batches").fetchone() or (0,)
                synced = batches > 0
    if not synced:
        raise CommandError(
            f"the warehouse {warehouse} has never been synced: there is nothing to report. "
            "Fix: run `ledgersync sync` (or `ledgersync demo` for the sandboxes) first"
        )
