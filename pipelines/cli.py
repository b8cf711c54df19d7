"""The `ledgersync` command line.

Exit codes: 0 success; 1 a sync, check or report failed (the others still ran); 2 the
command or the connections file is wrong (`pipelines.cli_errors`).
"""

from __future__ import annotations

import os
import threading
from collections.abc import Callable, Iterator
from contextlib import ExitStack, contextmanager
from datetime import UTC, date, datetime
from functools import partial
from pathlib import Path
from typing import Annotated

import dagster as dg
import typer
from rich.console import Console
from rich.markup import escape
from rich.progress import Progress, SpinnerColumn, TaskID, TextColumn, TimeElapsedColumn
from rich.table import Table

from connectors.errors import ConnectorError
from pipelines import progress, sandboxes
from pipelines.cli_errors import Failed, UsageError, errors, run_command
from pipelines.config import ConfigError, default_config_path
from pipelines.connection_sensors import SYNCS_SENSOR
from pipelines.instance import LOCAL_HOME, open_instance
from pipelines.location import build_definitions
from pipelines.open_hint import open_hint
from pipelines.project import (
    Project,
    check_writable,
    ensure_synced,
    open_project,
    require_connections,
    writable_directory,
    write_starter,
)
from pipelines.registry import SANDBOXES, SOURCES
from pipelines.report_output import (
    ReportFormat,
    print_balance_summary,
    print_cash_application,
    print_customer_balances,
    print_entity_balances,
    write_reports,
)
from pipelines.runner import RunOutcome, run_reports, run_syncs
from pipelines.sources import connected


def _listed(names: list[str]) -> str:
    return names[0] if len(names) == 1 else f"{', '.join(names[:-1])} and {names[-1]}"


app = typer.Typer(
    help=(
        f"Sync receivables from {_listed([spec.title for spec in SOURCES.values()])} into "
        "DuckDB, and reconcile payments against invoices."
    ),
    no_args_is_help=True,
    pretty_exceptions_enable=False,
)
# Wide enough for the summary tables when output goes to a file or a CI log.
console = Console(width=None if Console().is_terminal else 160)

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


def _load(config_path: Path | None) -> Project:
    return open_project(config_path or default_config_path())


def _say(message: str) -> None:
    """A notice while a command runs (e.g. a wait for the warehouse), on stderr."""
    errors.print(escape(message), highlight=False, soft_wrap=True)


def _as_of(text: str | None) -> date:
    try:
        return date.fromisoformat(text) if text else datetime.now(UTC).date()
    except ValueError:
        raise UsageError(f"--as-of must be a date like 2026-06-30, not {text!r}") from None


def _run(debug: bool, body: Callable[[], None]) -> None:
    """Run a command body with the exit-code contract and tracebacks only under --debug."""
    global _LOG_LEVEL
    _LOG_LEVEL = "DEBUG" if debug else "CRITICAL"
    run_command(debug, body)


@contextmanager
def _recording(project: Project) -> Iterator[dg.DagsterInstance]:
    """The Dagster instance the command's runs go to: $DAGSTER_HOME's, else the project's own."""
    with ExitStack() as stack:
        try:
            instance = stack.enter_context(open_instance(project.directory))
        except OSError as error:
            raise ConfigError(
                f"cannot record runs in {project.directory / LOCAL_HOME} ({error.strerror}). "
                "Fix: set DAGSTER_HOME to a directory you can write"
            ) from None
        yield instance


@app.command()
def demo(as_of: AsOfOption = None, config: ConfigOption = None, debug: DebugOption = False) -> None:
    """Sync the embedded sandboxes end to end and print the balance summary."""

    def body() -> None:
        path = config or default_config_path()
        if config is None and not path.exists():
            write_starter(path)
            console.print(
                f"No connections file here: wrote the built-in sandbox configuration to {path} "
                "(edit it to add your accounts).\n",
                highlight=False,
            )
        project = open_project(path)
        require_connections(project)
        check_writable(project)
        report_date = _as_of(as_of)
        with _recording(project) as instance:
            _sync_all(project, instance, connection_ids=None, full_refresh=False)
            _reports(project, instance, report_date)
        warehouse = project.config.open_warehouse(_say)
        print_balance_summary(console, warehouse, report_date)
        print_cash_application(console, warehouse)
        print_entity_balances(console, warehouse)
        database = project.config.warehouse
        console.print(
            f"\nWarehouse: [bold]{escape(str(database))}[/bold]  "
            f"(try: {escape(open_hint(database))})",
            highlight=False,
        )
        console.print(f"Runs: {_home(project)}  (the UI shows them: dg dev)", highlight=False)

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
        project = _load(config)
        require_connections(project)
        for connection_id in connection or []:
            project.config.connection(connection_id)
        check_writable(project)
        with _recording(project) as instance:
            _sync_all(project, instance, connection_ids=connection, full_refresh=full_refresh)
            _reports(project, instance, _as_of(None))

    _run(debug, body)


@app.command()
def check(config: ConfigOption = None, debug: DebugOption = False) -> None:
    """Test every connection's credentials and account without syncing."""

    def body() -> None:
        project = _load(config)
        require_connections(project)
        table = Table("connection", "source", "result")
        failed = False
        for connection in project.config.connections:
            try:
                with connected(
                    connection, project.config.budget_store(), project.config.token_store()
                ) as connector:
                    result = f"[green]ok[/green]: {connector.check()}"
            except ConnectorError as error:
                failed = True
                result = f"[red]failed[/red]: {escape(str(error))}"
            table.add_row(connection.id, connection.source, result)
        console.print(table)
        if failed:
            raise Failed

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
        project = _load(config)
        report_date = _as_of(as_of)
        ensure_synced(project)
        if output_format is not ReportFormat.table:
            try:
                writable_directory(output)
            except OSError as error:
                raise UsageError(
                    f"--output {output}: cannot write there ({error.strerror}: "
                    f"{error.filename or output}). Fix: pass --output a directory you can write"
                ) from None
        with _recording(project) as instance:
            _reports(project, instance, report_date)
        warehouse = project.config.open_warehouse(_say)
        print_balance_summary(console, warehouse, report_date)
        if output_format is ReportFormat.table:
            print_customer_balances(console, warehouse)
            print_cash_application(console, warehouse)
            print_entity_balances(console, warehouse)
            return
        for written in write_reports(warehouse, output, output_format):
            console.print(f"Wrote {written}", highlight=False)

    _run(debug, body)


@app.command()
def init(config: ConfigOption = None, debug: DebugOption = False) -> None:
    """Write a starter connections file (the embedded sandboxes) to edit."""

    def body() -> None:
        path = config or default_config_path()
        write_starter(path)
        console.print(
            f"Wrote {path}: five connections to the embedded sandboxes, ready for "
            "`ledgersync demo`. Add your accounts as README.md's 'Connecting real accounts' "
            "shows, then `ledgersync check`.",
            highlight=False,
        )

    _run(debug, body)


@app.command()
def schedules(config: ConfigOption = None, debug: DebugOption = False) -> None:
    """List the Dagster schedules by the names `dagster schedule start` takes, and each
    connection's sync cron."""

    def body() -> None:
        project = _load(config)
        table = Table("schedule", "cron", "timezone", "job", "what")
        repository = build_definitions(project.path).get_repository_def()
        for schedule in sorted(repository.schedule_defs, key=lambda s: s.name):
            table.add_row(
                schedule.name,
                str(schedule.cron_schedule),
                schedule.execution_timezone or "UTC",
                schedule.job_name,
                schedule.description or "",
            )
        for connection in project.config.connections:
            table.add_row(
                connection.id,
                connection.sync_cron,
                connection.timezone,
                f"sync_{connection.source}",
                f"Incremental sync of this connection, requested by the {SYNCS_SENSOR} sensor.",
            )
        console.print(table)
        console.print(
            "Schedules and the connection syncs start stopped: `dagster schedule start "
            f"--location ledgersync <schedule>` and `dagster sensor start --location ledgersync "
            f"{SYNCS_SENSOR}` (with the daemon running), or Automation in the UI.",
            highlight=False,
        )

    _run(debug, body)


sandbox_app = typer.Typer(help="The local sandboxes that speak each source's API.")
app.add_typer(sandbox_app, name="sandbox")
_FIRST_PORT = min(sandbox.port for sandbox in SANDBOXES.values())


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
    port: Annotated[
        int,
        typer.Option(
            "--port",
            min=1,
            max=65535 - len(SANDBOXES) + 1,
            help="The first sandbox's port; the others take the ports after it.",
        ),
    ] = _FIRST_PORT,
    debug: DebugOption = False,
) -> None:
    """Run every source's sandbox on fixed ports, for exploring with curl. Ctrl-C stops."""

    def body() -> None:
        if ledger is not None:
            replay = sandboxes.ledger_file(ledger)
            sandbox = SANDBOXES[replay.source]
            source_port = port + sandbox.port - _FIRST_PORT
            plan = [
                (
                    replay.source,
                    (replay.account,),
                    source_port,
                    partial(sandbox.serve, (replay.account,), source_port, replay),
                )
            ]
        else:
            accounts = tuple(account or ["demo-books"])
            plan = [
                (
                    source,
                    accounts,
                    port + sandbox.port - _FIRST_PORT,
                    partial(sandbox.serve, accounts, port + sandbox.port - _FIRST_PORT, None),
                )
                for source, sandbox in SANDBOXES.items()
            ]
        with ExitStack() as running:
            for source, served, source_port, start in plan:
                try:
                    server, guide = start()
                except OSError as error:
                    raise UsageError(
                        f"the {source} sandbox cannot listen on port {source_port} "
                        f"({error.strerror}). Fix: stop what uses it, or pass --port N to "
                        f"serve on ports N to N+{len(SANDBOXES) - 1}"
                    ) from None
                running.callback(server.stop)
                console.print(
                    f"[bold]{source}[/bold] on {server.url}  accounts: {', '.join(served)}"
                )
                console.print(guide, highlight=False, markup=False, soft_wrap=True)
                console.print()
            console.print("Serving until Ctrl-C.")
            try:
                threading.Event().wait()
            except KeyboardInterrupt:
                pass

    _run(debug, body)


def _home(project: Project) -> str:
    return os.environ.get("DAGSTER_HOME") or str(project.directory / LOCAL_HOME)


def _sync_all(
    project: Project,
    instance: dg.DagsterInstance,
    *,
    connection_ids: list[str] | None,
    full_refresh: bool,
) -> None:
    with _notices(), _progress_bars():
        outcomes = run_syncs(
            project.config,
            project.path,
            connection_ids=connection_ids,
            full_refresh=full_refresh,
            log_level=_LOG_LEVEL,
            instance=instance,
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


def _reports(project: Project, instance: dg.DagsterInstance, as_of: date) -> None:
    with _notices():
        outcome = run_reports(project.path, as_of=as_of, log_level=_LOG_LEVEL, instance=instance)
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
        raise Failed
