"""The `ledgersync` command line.

Exit codes: 0 success; 1 a sync, check or report failed (the others still ran); 2 the
command or the connections file is wrong.
"""

from __future__ import annotations

import threading
from collections.abc import Iterator
from contextlib import contextmanager
from datetime import UTC, date, datetime
from pathlib import Path
from typing import Annotated

import typer
from rich.console import Console
from rich.markup import escape
from rich.progress import Progress, SpinnerColumn, TaskID, TextColumn, TimeElapsedColumn
from rich.table import Table

from connectors.errors import ConnectorError
from models.warehouse import WarehouseBusyError
from pipelines import progress, sandboxes
from pipelines.config import ConfigError, LedgersyncConfig, default_config_path, load_config
from pipelines.open_hint import open_hint
from pipelines.report_output import (
    ReportFormat,
    print_balance_summary,
    print_cash_application,
    print_customer_balances,
    print_entity_balances,
    write_reports,
)
from pipelines.runner import RunOutcome, run_reports, run_syncs
from pipelines.sources import open_connector

app = typer.Typer(
    help=(
        "Sync receivables from Zoho Books, Business Central, Simpro and Carbon into DuckDB, and "
        "reconcile payments against invoices."
    ),
    no_args_is_help=True,
    pretty_exceptions_enable=False,
)
# Wide enough for the summary tables when output goes to a file or a CI log.
console = Console(width=None if Console().is_terminal else 160)
errors = Console(stderr=True, width=None if Console().is_terminal else 160)

ConfigOption = Annotated[
    Path | None,
    typer.Option(
        "--config",
        "-c",
        help="The connections file (default: $LEDGERSYNC_CONFIG, else ./connections.yaml).",
    ),
]
AsOfOption = Annotated[
    str | None, typer.Option("--as-of", help="Report date, YYYY-MM-DD (default: today, UTC).")
]
DebugOption = Annotated[bool, typer.Option("--debug", help="Show tracebacks and Dagster's logs.")]


# Dagster's own console log only with --debug: without it, failures are told in one line each
# by the command (and waits by `_say`), not under Dagster's tracebacks.
_LOG_LEVEL = "CRITICAL"


class _Failed(Exception):
    """A run failed; the details were printed."""


def _load(config_path: Path | None) -> tuple[LedgersyncConfig, Path]:
    path = config_path or default_config_path()
    return load_config(path), path


def _say(message: str) -> None:
    """A notice while a command runs (e.g. a wait for the warehouse), on stderr."""
    errors.print(escape(message), highlight=False, soft_wrap=True)


def _as_of(text: str | None) -> date:
    try:
        return date.fromisoformat(text) if text else datetime.now(UTC).date()
    except ValueError:
        raise ConfigError(f"--as-of must be a date like 2026-06-30, not {text!r}") from None


def _run(debug: bool, action: object) -> None:
    """Run a command body with the exit-code contract and tracebacks only under --debug."""
    global _LOG_LEVEL
    _LOG_LEVEL = "DEBUG" if debug else "CRITICAL"
    try:
        action()  # type: ignore[operator]
    except (ConfigError, ConnectorError, WarehouseBusyError) as error:
        if debug:
            raise
        errors.print(f"[red]error:[/red] {escape(str(error))}", highlight=False, soft_wrap=True)
        raise typer.Exit(2 if isinstance(error, ConfigError) else 1) from None
    except _Failed:
        raise typer.Exit(1) from None


@app.command()
def demo(as_of: AsOfOption = None, config: ConfigOption = None, debug: DebugOption = False) -> None:
    """Sync the embedded sandboxes end to end and print the balance summary."""

    def body() -> None:
        project, path = _load(config)
        report_date = _as_of(as_of)
        _sync_all(project, path, connection_ids=None, full_refresh=False)
        _reports(project, path, report_date)
        warehouse = project.open_warehouse(_say)
        print_balance_summary(console, warehouse, report_date)
        print_cash_application(console, warehouse)
        print_entity_balances(console, warehouse)
        console.print(
            f"\nWarehouse: [bold]{escape(str(project.warehouse))}[/bold]  "
            f"(try: {escape(open_hint(project.warehouse))})",
            highlight=False,
        )

    _run(debug, body)


@app.command()
def sync(
    connection: Annotated[
        list[str] | None, typer.Option("--connection", help="Only this connection (repeatable).")
    ] = None,
    full_refresh: Annotated[
        bool, typer.Option("--full-refresh", help="Re-extract everything, not just changes.")
    ] = False,
    config: ConfigOption = None,
    debug: DebugOption = False,
) -> None:
    """Sync connections into the warehouse, then rebuild canonical tables and reports."""

    def body() -> None:
        project, path = _load(config)
        for connection_id in connection or []:
            project.connection(connection_id)
        _sync_all(project, path, connection_ids=connection, full_refresh=full_refresh)
        _reports(project, path, _as_of(None))

    _run(debug, body)


@app.command()
def check(config: ConfigOption = None, debug: DebugOption = False) -> None:
    """Test every connection's credentials and account without syncing."""

    def body() -> None:
        project, _ = _load(config)
        table = Table("connection", "source", "result")
        failed = False
        for connection in project.connections:
            try:
                connector = open_connector(connection)
                try:
                    table.add_row(
                        connection.id, connection.source, f"[green]ok[/green]: {connector.check()}"
                    )
                finally:
                    connector.close()
            except ConnectorError as error:
                failed = True
                table.add_row(
                    connection.id, connection.source, f"[red]failed[/red]: {escape(str(error))}"
                )
        console.print(table)
        if failed:
            raise _Failed

    _run(debug, body)


@app.command()
def report(
    as_of: AsOfOption = None,
    output_format: Annotated[
        ReportFormat,
        typer.Option("--format", help="Print tables, or write every report as csv or parquet."),
    ] = ReportFormat.table,
    output: Annotated[
        Path, typer.Option("--output", help="Where csv and parquet files go.")
    ] = Path("reports"),
    config: ConfigOption = None,
    debug: DebugOption = False,
) -> None:
    """Rebuild the reports for an as-of date; print balances and aging, or write the reports."""

    def body() -> None:
        project, path = _load(config)
        report_date = _as_of(as_of)
        _reports(project, path, report_date)
        warehouse = project.open_warehouse(_say)
        print_balance_summary(console, warehouse, report_date)
        if output_format is ReportFormat.table:
            print_customer_balances(console, warehouse)
            print_cash_application(console, warehouse)
            print_entity_balances(console, warehouse)
            return
        for written in write_reports(warehouse, output, output_format):
            console.print(f"Wrote {written}", highlight=False)

    _run(debug, body)


sandbox_app = typer.Typer(help="The local sandboxes that speak each source's API.")
app.add_typer(sandbox_app, name="sandbox")


@sandbox_app.command("serve")
def sandbox_serve(
    account: Annotated[
        list[str] | None,
        typer.Option("--account", help="An account (organization/company) to serve; repeatable."),
    ] = None,
    ledger: Annotated[
        Path | None,
        typer.Option(
            "--ledger",
            help="Serve this ledger file (docs/ledger-files.md) on its source's sandbox alone.",
        ),
    ] = None,
    debug: DebugOption = False,
) -> None:
    """Run every source's sandbox on its fixed port, for exploring with curl. Ctrl-C stops."""

    def body() -> None:
        if ledger is not None:
            replay = sandboxes.ledger_file(ledger)
            started = [(replay.source, (replay.account,), *sandboxes.serve_ledger(replay))]
        else:
            accounts = tuple(account or ["demo-books"])
            started = [
                (source, accounts, *serve(accounts, port))
                for source, (port, serve) in sandboxes.SERVE.items()
            ]
        running = []
        for source, accounts, server, guide in started:
            running.append(server)
            console.print(f"[bold]{source}[/bold] on {server.url}  accounts: {', '.join(accounts)}")
            console.print(guide, highlight=False, markup=False, soft_wrap=True)
            console.print()
        console.print("Serving until Ctrl-C.")
        try:
            threading.Event().wait()
        except KeyboardInterrupt:
            pass
        finally:
            for server in running:
                server.stop()

    _run(debug, body)


def _sync_all(
    project: LedgersyncConfig, path: Path, *, connection_ids: list[str] | None, full_refresh: bool
) -> None:
    with _notices(), _progress_bars():
        outcomes = run_syncs(
            project,
            path,
            connection_ids=connection_ids,
            full_refresh=full_refresh,
            log_level=_LOG_LEVEL,
        )
    table = Table(
        "connection",
        "stream",
        "fetched",
        "inserted",
        "updated",
        "quarantined",
        "requests",
        "seconds",
    )
    for outcome in outcomes:
        if not outcome.success:
            table.add_row(outcome.name, "[red]failed[/red]", "", "", "", "", "", "")
            continue
        for key, values in sorted(outcome.metadata.items()):
            table.add_row(
                outcome.name,
                key,
                *(
                    str(values.get(k, ""))
                    for k in (
                        "records_fetched",
                        "inserted",
                        "updated",
                        "quarantined",
                        "api_requests",
                        "duration_s",
                    )
                ),
            )
    console.print(table)
    _report_failures(outcomes)


@contextmanager
def _notices() -> Iterator[None]:
    """What a run says while it waits (for the warehouse's lock), on stderr as it happens."""
    with progress.hearing(_say):
        yield


@contextmanager
def _progress_bars() -> Iterator[None]:
    """Pages and records per stream while syncs run, on a terminal."""
    if not console.is_terminal:
        yield
        return
    columns = (
        SpinnerColumn(),
        TextColumn("{task.description}"),
        TextColumn("{task.fields[pages]:>6,} pages"),
        TextColumn("{task.completed:>10,.0f} records"),
        TimeElapsedColumn(),
    )
    with Progress(*columns, console=console) as bars:
        tasks: dict[tuple[str, str], TaskID] = {}

        def update(connection_id: str, stream: str, pages: int, records: int) -> None:
            key = (connection_id, stream)
            if key not in tasks:
                tasks[key] = bars.add_task(f"{connection_id} {stream}", total=None, pages=0)
            bars.update(tasks[key], completed=records, pages=pages)

        with progress.watching(update):
            yield


def _reports(project: LedgersyncConfig, path: Path, as_of: date) -> None:
    with _notices():
        outcome = run_reports(project, path, as_of=as_of, log_level=_LOG_LEVEL)
    _report_failures([outcome])


def _report_failures(outcomes: list[RunOutcome]) -> None:
    failed = [o for o in outcomes if not o.success]
    for outcome in failed:
        errors.print(
            f"[red]{outcome.name} failed:[/red] {escape(outcome.error or '')}",
            highlight=False,
            soft_wrap=True,  # one line, whole, however long: it is copied into searches
        )
    if failed:
        raise _Failed
