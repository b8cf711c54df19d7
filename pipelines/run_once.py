"""One sync of every connection, then the canonical tables and the reports, without Dagster.

    python -m pipelines.run_once --config connections.yaml --as-of 2026-10-31

It calls the functions the Dagster assets call (`pipelines.steps.sync_one`,
`pipelines.steps.rebuild_canonical`, `models.reports.materialize_reports`) in this one process,
which starts in half a second: the crash tests kill it at random points many times over (see
`benchmarks.kill_anywhere`), and it is a quick way to debug a connection without an instance.

Before each phase it writes one line to stderr and flushes it: `phase extract <connection>
<stream>` (waiting on the API), `phase land …` (writing pages to disk), `phase load …` (the
warehouse transaction), `phase normalize <connection>`, `phase report all`, and `done` at
the end. The last line a killed process wrote names the phase it was killed in. A connection
that fails is reported and the others still sync; the exit code is then 1.
"""

from __future__ import annotations

import argparse
import sys
from collections.abc import Callable, Sequence
from datetime import date
from pathlib import Path

from connectors.errors import ConnectorError
from models.landing import ConnectionBusyError, LandingZone
from models.reports import materialize_reports
from models.warehouse import WarehouseBusyError
from pipelines.config import ConfigError, LedgersyncConfig, load_config
from pipelines.steps import rebuild_canonical, sync_one
from pipelines.sync_errors import SyncError

__all__ = ["main", "rebuild", "run_once", "sync_connections"]

PhaseListener = Callable[[str, str], None]  # phase, what (connection and stream, or report)
HOLDER = "python -m pipelines.run_once"


def _ignore(phase: str, what: str) -> None:
    return None


def run_once(
    config: LedgersyncConfig,
    *,
    as_of: date,
    connection_ids: Sequence[str] = (),
    full_refresh: bool = False,
    on_phase: PhaseListener = _ignore,
) -> list[str]:
    """Sync, normalize and report; the failed connections' errors (the rest still ran)."""
    failures = sync_connections(
        config, connection_ids=connection_ids, full_refresh=full_refresh, on_phase=on_phase
    )
    rebuild(config, as_of=as_of, on_phase=on_phase)
    return failures


def sync_connections(
    config: LedgersyncConfig,
    *,
    connection_ids: Sequence[str] = (),
    full_refresh: bool = False,
    on_phase: PhaseListener = _ignore,
) -> list[str]:
    """What each sync job does for its connection; the failed connections' errors."""
    warehouse = config.open_warehouse(_say)
    landing = LandingZone(config.landing)
    failures = []
    for connection in config.connections:
        if connection_ids and connection.id not in connection_ids:
            continue
        try:
            sync_one(
                connection,
                warehouse=warehouse,
                landing=landing,
                full_refresh=full_refresh,
                holder=HOLDER,
                rate_budget=config.budget_store(),
                tokens=config.token_store(),
                on_phase=_for_connection(on_phase, connection.id),
            )
        except (ConnectorError, ConnectionBusyError, WarehouseBusyError, SyncError) as error:
            failures.append(str(error))
    return failures


def rebuild(config: LedgersyncConfig, *, as_of: date, on_phase: PhaseListener = _ignore) -> None:
    """What the report job does: every connection's canonical rows, then every report."""
    warehouse = config.open_warehouse(_say)
    rebuild_canonical(
        warehouse,
        config.connections,
        before=lambda connection_id: on_phase("normalize", connection_id),
    )
    on_phase("report", "all")
    warehouse.write(lambda conn: materialize_reports(conn, as_of))


def _say(message: str) -> None:
    print(message, file=sys.stderr, flush=True)


def _for_connection(on_phase: PhaseListener, connection_id: str) -> PhaseListener:
    return lambda phase, stream: on_phase(phase, f"{connection_id} {stream}")


def _print_phase(phase: str, what: str) -> None:
    print(f"phase {phase} {what}", file=sys.stderr, flush=True)


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m pipelines.run_once", description=__doc__)
    parser.add_argument(
        "--config",
        "-c",
        type=Path,
        default=None,
        help="default: $LEDGERSYNC_CONFIG, else ./connections.yaml",
    )
    parser.add_argument("--as-of", type=date.fromisoformat, required=True)
    parser.add_argument("--connection", action="append", default=[])
    parser.add_argument("--full-refresh", action="store_true")
    args = parser.parse_args(argv)
    try:
        config = load_config(args.config)
    except ConfigError as error:
        print(f"error: {error}", file=sys.stderr)
        return 2
    failures = run_once(
        config,
        as_of=args.as_of,
        connection_ids=args.connection,
        full_refresh=args.full_refresh,
        on_phase=_print_phase,
    )
    for failure in failures:
        print(f"failed: {failure}", file=sys.stderr, flush=True)
    print("done", file=sys.stderr, flush=True)
    return 1 if failures else 0


if __name__ == "__main__":
    sys.exit(main())
