"""Jobs and schedules: a sync job per source (the `connection_syncs` sensor runs each connection
at its own cron), a daily report job, and an hourly connection-health job."""

from __future__ import annotations

import dagster as dg

__all__ = [
    "CONNECTION_TAG",
    "HEALTH_JOB",
    "REPORTS_JOB",
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
    """Every run of the job carries the `connection` tag (the `connection_syncs` sensor, job
    backfills, the command line), so run queues can allow one run per connection; asset
    backfills launched from the asset graph carry only `dagster/partition`, which names the
    connection too.

    The job is one step, so it runs in the run's own process (`in_process_executor`): the
    default executor would start a second Python process per run for that one step, doubling
    each run's start-up time and memory (benchmarks/RESULTS.md, "Many connections")."""
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
        executor_def=dg.in_process_executor,
    )


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


@dg.definitions
def defs() -> dg.Definitions:
    refresh = reports_job()
    return dg.Definitions(jobs=[refresh], schedules=[reports_schedule(refresh)])
