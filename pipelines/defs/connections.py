"""Everything whose shape follows the connections file, built from the source registry.

Each source with a connection in the file gets its ingest assets (partitioned by connection),
its sync job and its health checks; the canonical assets read every such source. The
connections themselves are partition keys in the Dagster instance, kept by the sensors, so the
definitions are the same for five connections or a thousand.
"""

from __future__ import annotations

from pathlib import Path

import dagster as dg

from pipelines.config import LedgersyncConfig, load_config
from pipelines.connection_sensors import partitions_sensor, syncs_sensor
from pipelines.defs.canonical import build_canonical_assets
from pipelines.defs.health import build_health_checks
from pipelines.defs.ingest import build_ingest_assets
from pipelines.defs.jobs import health_job, health_schedule, sync_job
from pipelines.location import config_path
from pipelines.registry import SOURCES

__all__ = ["connection_definitions", "defs"]


def connection_definitions(config: LedgersyncConfig, connections_file: Path) -> dg.Definitions:
    active = [spec for spec in SOURCES.values() if config.of_source(spec.name)]
    ingest = {spec.name: build_ingest_assets(spec) for spec in active}
    jobs = {source: sync_job(source, assets) for source, assets in ingest.items()}
    health = [check for spec in active for check in build_health_checks(spec)]
    checking = health_job(health)
    return dg.Definitions(
        assets=[*ingest.values(), build_canonical_assets(active)],
        asset_checks=health,
        jobs=[*jobs.values(), checking],
        schedules=[health_schedule(checking)],
        sensors=[partitions_sensor(connections_file), syncs_sensor(connections_file, jobs)],
    )


@dg.definitions
def defs() -> dg.Definitions:
    path = config_path()
    return connection_definitions(load_config(path), path)
