"""Ingest assets: one multi-asset per source, one asset per stream, partitioned by connection.

A partition is a configured account (a dynamic partition: `pipelines.connection_partitions`), so
re-syncing one account from scratch is a backfill of its partition in the UI (a backfill run
re-extracts everything; scheduled runs are incremental).
"""

# No `from __future__ import annotations` here: Dagster reads these signatures at runtime.
from collections.abc import Iterator, Sequence

import dagster as dg

from connectors.errors import RateLimitedError, ServerError, TransportError
from connectors.source import SourceSpec
from models.landing import ConnectionBusyError
from models.warehouse import WarehouseBusyError
from pipelines import progress
from pipelines.connection_partitions import partitions_of
from pipelines.defs.resources import LedgersyncResource
from pipelines.steps import sync_one
from pipelines.sync import StreamOutcome
from pipelines.sync_errors import BatchSetAsideError

__all__ = [
    "INGEST_RETRY",
    "NO_RETRY_TAG",
    "OWNER",
    "SyncConfig",
    "build_ingest_assets",
]

OWNER = "team:receivables"
BACKFILL_TAG = "dagster/backfill"
# A sync that failed for a passing reason (the source down or throttling past the requests' own
# retries, another process holding the connection or the warehouse) is tried again minutes
# later: 2, 4 and 8 minutes, give or take a fifth. Any other failure (bad settings or
# credentials, bad data, a deadline) would fail the same way again, so it is not retried.
INGEST_RETRY = dg.RetryPolicy(
    max_retries=3, delay=120, backoff=dg.Backoff.EXPONENTIAL, jitter=dg.Jitter.PLUS_MINUS
)
TRANSIENT = (RateLimitedError, ServerError, TransportError, ConnectionBusyError, WarehouseBusyError)
# The command line runs a job in its own process and reports a failure at once (the user runs
# it again): its runs carry this tag, and are not retried.
NO_RETRY_TAG = "ledgersync/no_retry"


class SyncConfig(dg.Config):
    full_refresh: bool = False
    """Re-extract every record instead of only those changed since the last sync."""


def build_ingest_assets(spec: SourceSpec) -> dg.AssetsDefinition:

    @dg.multi_asset(
        name=f"{spec.name}_sync",
        specs=[
            dg.AssetSpec(
                key=[spec.name, stream.name],
                description=f"{spec.title} `{stream.name}` records as received, one row per "
                f"record in `raw.{spec.name}__{stream.name}`.",
                group_name="ingest",
                kinds={"duckdb", "python"},
                owners=[OWNER],
                tags={"source": spec.name},
            )
            for stream in spec.streams
        ],
        partitions_def=partitions_of(spec.name),
        can_subset=False,
        retry_policy=INGEST_RETRY,
    )
    def _sync(
        context: dg.AssetExecutionContext, config: SyncConfig, ledgersync: LedgersyncResource
    ) -> Iterator[dg.MaterializeResult]:
        try:
            yield from _synced(context, config, ledgersync, spec)
        except TRANSIENT as error:
            if NO_RETRY_TAG in context.run.tags:
                raise dg.Failure(str(error), allow_retries=False) from error
            raise
        except Exception as error:
            raise dg.Failure(str(error), allow_retries=False) from error

    return _sync


def _synced(
    context: dg.AssetExecutionContext,
    config: SyncConfig,
    ledgersync: LedgersyncResource,
    spec: SourceSpec,
) -> Iterator[dg.MaterializeResult]:
    connection_id = context.partition_key
    full_refresh = config.full_refresh or BACKFILL_TAG in context.run.tags
    connections_file = ledgersync.config()
    try:
        outcomes = sync_one(
            connections_file.connection(connection_id),
            warehouse=ledgersync.warehouse(context.log),
            landing=ledgersync.landing(),
            full_refresh=full_refresh,
            holder=f"Dagster run {context.run.run_id}",
            rate_budget=connections_file.budget_store(),
            tokens=connections_file.token_store(),
            progress=lambda stream, pages, records: progress.report(
                connection_id, stream, pages, records
            ),
        )
    except BatchSetAsideError as set_aside:
        # The streams synced are materialized, with the set-aside batches counted; the run
        # still fails, naming them.
        yield from _results(context, spec, set_aside.outcomes, full_refresh)
        raise
    yield from _results(context, spec, outcomes, full_refresh)


def _results(
    context: dg.AssetExecutionContext,
    spec: SourceSpec,
    outcomes: Sequence[StreamOutcome],
    full_refresh: bool,
) -> Iterator[dg.MaterializeResult]:
    for outcome in outcomes:
        for warning in outcome.warnings:
            context.log.warning(warning)
        yield dg.MaterializeResult(
            asset_key=[spec.name, outcome.stream], metadata=_metadata(outcome, full_refresh)
        )


def _metadata(outcome: StreamOutcome, full_refresh: bool) -> dict[str, object]:
    return {
        "records_fetched": outcome.records,
        "records_derived": outcome.derived,
        "inserted": outcome.inserted,
        "updated": outcome.updated,
        "quarantined": outcome.rejected,
        "vanished": outcome.vanished,
        "reread_after_shift": outcome.reread,
        "repaired_from_listing": outcome.repaired,
        "pages": outcome.pages,
        "api_requests": outcome.requests,
        "duration_s": round(outcome.seconds, 3),
        "cursor": outcome.cursor.isoformat() if outcome.cursor else "none",
        "full_refresh": full_refresh,
        "complete_listing": outcome.complete,
        "set_aside_batches": len(outcome.set_aside),
    }
