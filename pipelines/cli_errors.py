"""How the command line fails: one message on stderr naming what, where and the fix, and the
documented exit code. Tracebacks only with --debug.

Exit codes: 1 a sync, check or report failed (the others still ran); 2 the command line or the
connections file is wrong.
"""

from __future__ import annotations

from collections.abc import Callable

import typer
from rich.console import Console
from rich.markup import escape

from connectors.errors import ConnectorError
from models.warehouse import WarehouseBusyError
from pipelines.config import ConfigError
from pipelines.sync_errors import SyncError

__all__ = ["CommandError", "Failed", "UsageError", "errors", "run_command"]

errors = Console(stderr=True, width=None if Console().is_terminal else 160)


class Failed(Exception):
    """A run failed; its details were printed."""


class CommandError(Exception):
    """The command cannot do what was asked (exit 1); the message says why and what to do."""


class UsageError(Exception):
    """An option of the command line is wrong (exit 2); the message names it and the fix."""


def run_command(debug: bool, body: Callable[[], None]) -> None:
    """Run a command's body with the exit-code contract."""
    try:
        body()
    except Failed:
        raise typer.Exit(1) from None
    except (
        ConfigError,
        UsageError,
        CommandError,
        ConnectorError,
        WarehouseBusyError,
        SyncError,
    ) as error:
        if debug:
            raise
        errors.print(f"[red]error:[/red] {escape(str(error))}", highlight=False, soft_wrap=True)
        raise typer.Exit(2 if isinstance(error, ConfigError | UsageError) else 1) from None
