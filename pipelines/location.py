"""Load the Dagster code location: the defs folder, built from one connections file.

Every file in `pipelines/defs/` registers its own definitions (an `@dg.definitions` function, or
module-level assets as `dg scaffold defs` writes them); `dg.load_from_defs_folder` finds them
all. The files that depend on the connections file read it through `config_path()`, the file
this load was asked for.
"""

from __future__ import annotations

from contextvars import ContextVar
from pathlib import Path

import dagster as dg

from pipelines.config import default_config_path

__all__ = ["build_definitions", "config_path"]

_LOADING: ContextVar[Path | None] = ContextVar("ledgersync_config_path", default=None)


def config_path() -> Path:
    """The connections file the definitions being loaded are built from: the one
    `build_definitions` was given, else `$LEDGERSYNC_CONFIG` (default ./connections.yaml)."""
    return _LOADING.get() or default_config_path()


def build_definitions(connections_file: Path) -> dg.Definitions:
    """Every asset, check, job, schedule and sensor in `pipelines/defs/`, for this file."""
    token = _LOADING.set(connections_file)
    try:
        return dg.load_from_defs_folder(path_within_project=Path(__file__).parent)
    finally:
        _LOADING.reset(token)
