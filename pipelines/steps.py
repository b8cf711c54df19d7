"""The two steps every way of running ledgersync takes: sync one connection, and rebuild the
canonical rows from raw.

The Dagster ingest and canonical assets (which the command line runs) and
`python -m pipelines.run_once` call these, so the connection's settings reach the sync the same
way whichever runs it.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable
from datetime import timedelta

from connectors.ratelimit import BudgetStore
from connectors.token_store import TokenStore
from models.landing import LandingZone
from models.normalize import NormalizeResult
from models.warehouse import Warehouse
from pipelines.config import ConnectionConfig
from pipelines.registry import SOURCES
from pipelines.sources import connected
from pipelines.sync import (
    PhaseCallback,
    ProgressCallback,
    StreamOutcome,
    normalize,
    sync_connection,
)

__all__ = ["rebuild_canonical", "sync_one"]


def sync_one(
    connection: ConnectionConfig,
    *,
    warehouse: Warehouse,
    landing: LandingZone,
    full_refresh: bool,
    holder: str,
    rate_budget: BudgetStore | None,
    tokens: TokenStore | None = None,
    progress: ProgressCallback | None = None,
    on_phase: PhaseCallback | None = None,
) -> list[StreamOutcome]:
    """Sync every stream of the connection into its raw tables (`pipelines.sync`), with the
    lookback, reconciliation interval and limits its entry in the connections file sets; its
    rate budget kept in `rate_budget` (`LedgersyncConfig.budget_store()`), or in this process;
    a refresh token the source rotates, in `tokens` (`LedgersyncConfig.token_store()`)."""
    with connected(connection, rate_budget, tokens) as connector:
        return sync_connection(
            connector,
            warehouse=warehouse,
            landing=landing,
            full_refresh=full_refresh,
            lookback=timedelta(minutes=connection.lookback_minutes),
            reconcile_every=timedelta(hours=connection.full_key_reconciliation_hours),
            max_record_bytes=connection.max_record_bytes,
            stream_deadline=timedelta(seconds=connection.stream_deadline_s),
            streams_side_by_side=connection.streams_side_by_side,
            holder=holder,
            progress=progress,
            on_phase=on_phase,
        )


def rebuild_canonical(
    warehouse: Warehouse,
    connections: Iterable[ConnectionConfig],
    *,
    before: Callable[[str], None] | None = None,
) -> dict[str, list[NormalizeResult]]:
    """Every connection's canonical rows rebuilt from its raw tables (no API calls), by
    connection id; `before` is told each connection's id as its rebuild starts."""
    warehouse.ensure_schema()
    results = {}
    for connection in connections:
        if before is not None:
            before(connection.id)
        spec = SOURCES[connection.source]
        results[connection.id] = normalize(
            warehouse,
            connection_id=connection.id,
            source=spec.name,
            streams=spec.streams,
            mappings=spec.mappings,
        )
    return results
