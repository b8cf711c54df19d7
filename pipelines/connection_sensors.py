"""The two sensors that follow the connections file while the code location stays loaded.

- `connection_partitions` makes each source's partition keys the file's connection ids.
- `connection_syncs` requests each connection's incremental sync at its own `sync_cron`, in its
  own `timezone`: what a schedule per connection did, without a definition per connection.

Both read the file on every tick, so an edited file takes effect within a minute.
"""

from __future__ import annotations

from collections.abc import Iterator, Mapping
from datetime import UTC, datetime
from pathlib import Path
from zoneinfo import ZoneInfo

import dagster as dg
from croniter import croniter

from pipelines.config import ConnectionConfig, LedgersyncConfig, load_config
from pipelines.connection_partitions import partition_requests, partitions_name
from pipelines.defs.jobs import CONNECTION_TAG

__all__ = ["PARTITIONS_SENSOR", "SYNCS_SENSOR", "due_syncs", "partitions_sensor", "syncs_sensor"]

PARTITIONS_SENSOR = "connection_partitions"
SYNCS_SENSOR = "connection_syncs"


def partitions_sensor(connections_file: Path) -> dg.SensorDefinition:
    @dg.sensor(
        name=PARTITIONS_SENSOR,
        minimum_interval_seconds=30,
        default_status=dg.DefaultSensorStatus.RUNNING,
        description=(
            f"Adds and removes each source's connection partitions to match {connections_file}: "
            "a connection added there can be synced and backfilled without a reload."
        ),
    )
    def _partitions(context: dg.SensorEvaluationContext) -> dg.SensorResult | dg.SkipReason:
        requests = partition_requests(context.instance, load_config(connections_file))
        if not requests:
            return dg.SkipReason("every source's partitions match the connections file")
        return dg.SensorResult(dynamic_partitions_requests=requests)

    return _partitions


def due_syncs(
    config: LedgersyncConfig, since: datetime, until: datetime
) -> Iterator[tuple[ConnectionConfig, datetime]]:
    """The connections whose cron ticked at or after `since` and before `until`, each with its
    latest tick (ticks missed while the sensor was off are not made up, as with a schedule)."""
    for connection in config.connections:
        local = until.astimezone(ZoneInfo(connection.timezone))
        tick: datetime = croniter(connection.sync_cron, local).get_prev(datetime)
        if tick >= since:
            yield connection, tick


def syncs_sensor(
    connections_file: Path, jobs: Mapping[str, dg.UnresolvedAssetJobDefinition]
) -> dg.SensorDefinition:
    """`jobs`: the sync job of each source the code location has assets for."""

    @dg.sensor(
        name=SYNCS_SENSOR,
        jobs=list(jobs.values()),
        minimum_interval_seconds=60,
        default_status=dg.DefaultSensorStatus.STOPPED,
        description=(
            "Requests each connection's incremental sync at its own sync_cron and timezone "
            f"(from {connections_file}). Starts stopped, as schedules do: syncs spend the "
            "sources' API quotas (Zoho's free plan allows 1,000 calls a day), so an operator "
            "turns it on once the file names the accounts to sync."
        ),
    )
    def _syncs(context: dg.SensorEvaluationContext) -> dg.SensorResult:
        now = datetime.now(UTC)
        if context.cursor is None:
            return dg.SensorResult(
                skip_reason="started: syncs from the next cron ticks on", cursor=now.isoformat()
            )
        since = datetime.fromisoformat(context.cursor)
        registered = {
            source: set(context.instance.get_dynamic_partitions(partitions_name(source)))
            for source in jobs
        }
        requests = []
        for connection, tick in due_syncs(load_config(connections_file), since, now):
            request = _sync_request(context, jobs, registered, connection, tick)
            if request is not None:
                requests.append(request)
        return dg.SensorResult(run_requests=requests, cursor=now.isoformat())

    return _syncs


def _sync_request(
    context: dg.SensorEvaluationContext,
    jobs: Mapping[str, dg.UnresolvedAssetJobDefinition],
    registered: Mapping[str, set[str]],
    connection: ConnectionConfig,
    tick: datetime,
) -> dg.RunRequest | None:
    job = jobs.get(connection.source)
    if job is None:
        context.log.warning(
            f"connection {connection.id}: no {connection.source} connection was in the file "
            "when the code location loaded; reload it (Deployment, Reload) to sync this source"
        )
        return None
    if connection.id not in registered[connection.source]:
        context.log.warning(
            f"connection {connection.id}: not a partition yet; the {PARTITIONS_SENSOR} sensor "
            "adds it (is it running?), and its next cron tick syncs it"
        )
        return None
    return dg.RunRequest(
        job_name=job.name,
        partition_key=connection.id,
        run_key=f"{connection.id}@{tick.isoformat()}",
        tags={CONNECTION_TAG: connection.id},
    )
