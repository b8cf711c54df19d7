"""Load the Dagster code location: the defs folder, built from one connections file.

Every file in `pipelines/defs/` registers its own definitions (an `@dg.definitions` function, or
module-level assets as `dg scaffold defs` writes them), and the folder is loaded as dg loads it
(`dg list defs`, `dg dev`). The files that depend on the connections file read it through
`config_path()`, the file this load was asked for.

The folder is given as the imported `pipelines.defs` package rather than found from
pyproject.toml's `[tool.dg]` (what `dg.load_from_defs_folder` does, with the same component
tree): an installed wheel has no pyproject.toml beside its packages.
"""

from __future__ import annotations

import warnings
from contextvars import ContextVar
from pathlib import Path

import dagster as dg

import pipelines.defs
from pipelines.config import default_config_path

__all__ = ["build_definitions", "config_path"]

_PROJECT_ROOT = Path(pipelines.defs.__file__).parents[2]  # the folder holding `pipelines/`
_LOADING: ContextVar[Path | None] = ContextVar("ledgersync_config_path", default=None)


def config_path() -> Path:
    """The connections file the definitions being loaded are built from: the one
    `build_definitions` was given, else `$LEDGERSYNC_CONFIG` (default ./connections.yaml)."""
    return _LOADING.get() or default_config_path()


def build_definitions(connections_file: Path) -> dg.Definitions:
    """Every asset, check, job, schedule and sensor in `pipelines/defs/`, for this file."""
    token = _LOADING.set(connections_file)
    try:
        with warnings.catch_warnings():
            # Dagster's folder loader calls its own preview-marked function on every file that
            # has no `@dg.definitions` (the helpers here, a scaffolded asset): not ours to heed.
            warnings.filterwarnings(
                "ignore",
                message="Function `load_definitions_from_module",
                category=dg.PreviewWarning,
            )
            return dg.ComponentTree.from_module(
                defs_module=pipelines.defs, project_root=_PROJECT_ROOT
            ).build_defs()
    finally:
        _LOADING.reset(token)
