"""Ingest assets: one multi-asset per source, one asset per stream, partitioned by connection.

A partition is a configured account, so re-syncing one account from scratch is a backfill of its
partition in the UI (a backfill run re-extracts everything; scheduled runs are incremental).
"""

# No `from __future__ import annotations` here: Dagster reads these signatures at runtime.
from collections.abc import Iterator, Sequence
from datetime import timedelta

import dagster as dg

from pipelines import progress
from pipelines.config import ConnectionConfig
from pipelines.defs.resources import LedgersyncResource, SourceResource
from pipelines.sources import SourceSpec
from pipelines.sync import StreamOutcome, sync_connection
from pipelines.sync_errors import BatchSetAsideError

__all__ = ["OWNER", "SyncConfig", "build_ingest_assets", "ingest_partitions"]

OWNER = "team:receivables"
BACKFILL_TAG = "dagster/backfill"


class SyncConfig(dg.Config):
    full_refresh: bool = False
    """Re-extract every record instead of only those changed since the last sync."""


def ingest_partitions(connections: list[ConnectionConfig]) -> dg.StaticPartitionsDefinition:
    return dg.StaticPartitionsDefinition([c.id for c in connections])


def build_ingest_assets(
    spec: SourceSpec, connections: list[ConnectionConfig]
) -> dg.AssetsDefinition:

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
        partitions_def=ingest_partitions(connections),
        required_resource_keys={"ledgersync", spec.name},
        can_subset=False,
    )
    def _sync(
        context: dg.AssetExecutionContext, config: SyncConfig
    ) -> Iterator[dg.MaterializeResult]:
        connection_id = context.partition_key
        ledgersync: LedgersyncResource = context.resources.ledgersync
        source: SourceResource = getattr(context.resources, spec.name)
        full_refresh = config.full_refresh or BACKFILL_TAG in context.run.tags
        # Read per run, like the connector's settings: an edited file takes effect at once.
        settings = ledgersync.config().connection(connection_id)
        with source.connector(connection_id) as connector:
            try:
                outcomes = sync_connection(
                    connector,
                    warehouse=ledgersync.warehouse(context.log),
                    landing=ledgersync.landing(),
                    full_refresh=full_refresh,
                    lookback=timedelta(minutes=settings.lookback_minutes),
                    reconcile_every=timedelta(hours=settings.full_key_reconciliation_hours),
                    max_record_bytes=settings.max_record_bytes,
                    stream_deadline=timedelta(seconds=settings.stream_deadline_s),
                    holder=f"Dagster run {context.run.run_id}",
                    progress=lambda stream, pages, records: progress.report(
                        connection_id, stream, pages, records
                    ),
                )
            except BatchSetAsideError as set_aside:
                # The streams synced are materialized, with the set-aside batches counted;
                # the run still fails, naming them.
                yield from _results(context, spec, set_aside.outcomes, full_refresh)
                raise
        yield from _results(context, spec, outcomes, full_refresh)

    return _sync


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
