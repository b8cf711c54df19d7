"""Jobs and schedules: a sync job per source with a schedule per connection, a daily report job,
and an hourly connection-health job."""

from __future__ import annotations

import dagster as dg

from pipelines.config import ConnectionConfig

__all__ = [
    "CONNECTION_TAG",
    "HEALTH_JOB",
    "REPORTS_JOB",
    "connection_schedule",
    "health_job",
    "health_schedule",
    "reports_job",
    "reports_schedule",
    "sync_job",
]

REPORTS_JOB = "refresh_reports"
HEALTH_JOB = "connection_health"
CONNECTION_TAG = "connection"  # on every sync run: one run per connection at a time


def sync_job(source: str, ingest: dg.AssetsDefinition) -> dg.UnresolvedAssetJobDefinition:
    """Every run of the job carries the `connection` tag (schedules, job backfills, the command
    line), so run queues can allow one run per connection; asset backfills launched from the
    asset graph carry only `dagster/partition`, which names the connection too."""
    partitions = ingest.partitions_def
    assert partitions is not None
    return dg.define_asset_job(
        f"sync_{source}",
        selection=dg.AssetSelection.assets(ingest),
        config=dg.PartitionedConfig(
            partitions_def=partitions,
            run_config_for_partition_key_fn=lambda _: {},
            tags_for_partition_key_fn=lambda connection_id: {CONNECTION_TAG: connection_id},
        ),
        description=f"Sync one {source} connection (the partition) into its raw tables.",
        tags={"source": source},
    )


def connection_schedule(
    connection: ConnectionConfig, job: dg.UnresolvedAssetJobDefinition
) -> dg.ScheduleDefinition:
    """Each connection syncs on its own cron, in its own time zone."""

    @dg.schedule(
        name=f"sync_{connection.id.replace('-', '_')}",
        cron_schedule=connection.sync_cron,
        execution_timezone=connection.timezone,
        job=job,
        description=f"Incremental sync of {connection.source} connection {connection.id}.",
    )
    def _schedule() -> dg.RunRequest:
        return dg.RunRequest(
            partition_key=connection.id,
            tags={CONNECTION_TAG: connection.id},
        )

    return _schedule


def reports_job() -> dg.UnresolvedAssetJobDefinition:
    return dg.define_asset_job(
        REPORTS_JOB,
        selection=dg.AssetSelection.groups("canonical", "reports"),
        description="Rebuild canonical tables from raw and refresh every report.",
    )


def reports_schedule(job: dg.UnresolvedAssetJobDefinition) -> dg.ScheduleDefinition:
    return dg.ScheduleDefinition(
        name="daily_reports",
        job=job,
        cron_schedule="30 6 * * *",
        execution_timezone="UTC",
        description="Canonical tables and reports, every morning.",
    )


def health_job(checks: list[dg.AssetChecksDefinition]) -> dg.UnresolvedAssetJobDefinition:
    return dg.define_asset_job(
        HEALTH_JOB,
        selection=dg.AssetSelection.checks(*checks),
        description="Freshness and failing-run checks of every connection.",
    )


def health_schedule(job: dg.UnresolvedAssetJobDefinition) -> dg.ScheduleDefinition:
    return dg.ScheduleDefinition(
        name="hourly_connection_health",
        job=job,
        cron_schedule="15 * * * *",
        description="Flag connections that are stale or keep failing.",
    )
