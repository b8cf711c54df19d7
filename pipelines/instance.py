"""The Dagster instance the command line records its runs in.

`$DAGSTER_HOME` when it is set; else the project's own `dagster_home/` beside its connections
file, the directory the project's `dagster.yaml` points `dg dev` at, so the UI opened after a
demo or a sync shows its runs, materializations and checks. Every instance is closed on exit.
"""

from __future__ import annotations

import os
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import dagster as dg

__all__ = ["LOCAL_HOME", "open_instance"]

LOCAL_HOME = "dagster_home"


@contextmanager
def open_instance(project_dir: Path | None = None) -> Iterator[dg.DagsterInstance]:
    """`$DAGSTER_HOME`'s instance, else `project_dir/dagster_home`, else an ephemeral one."""
    if os.environ.get("DAGSTER_HOME"):
        instance = dg.DagsterInstance.get()
    elif project_dir is not None:
        home = project_dir / LOCAL_HOME
        home.mkdir(parents=True, exist_ok=True)
        instance = dg.DagsterInstance.from_config(str(home.resolve()))
    else:
        instance = dg.DagsterInstance.ephemeral()
    with instance:
        yield instance
