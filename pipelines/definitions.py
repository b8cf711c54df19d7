"""The Dagster code location: every asset, check, job and schedule, built from the connections file.

`LEDGERSYNC_CONFIG` names the connections file (default: ./connections.yaml).
"""

from __future__ import annotations

import dagster as dg

from pipelines.config import LedgersyncConfig, default_config_path, load_config
from pipelines.defs.canonical import build_canonical_assets
from pipelines.defs.cash_application import cash_application_checks, cash_application_suggestions
from pipelines.defs.checks import build_canonical_checks
from pipelines.defs.entities import (
    customer_entities,
    entity_reports,
    no_weak_same_connection_merges,
)
from pipelines.defs.health import build_health_checks
from pipelines.defs.ingest import build_ingest_assets
from pipelines.defs.jobs import (
    connection_schedule,
    health_job,
    health_schedule,
    reports_job,
    reports_schedule,
    sync_job,
)
from pipelines.defs.report_checks import report_checks
from pipelines.defs.reports import (
    aging_history_job,
    aging_history_schedule,
    ar_aging_daily,
    report_assets,
)
from pipelines.defs.resources import LedgersyncResource
from pipelines.registry import SOURCES

__all__ = ["build_definitions", "defs"]


def build_definitions(config: LedgersyncConfig, config_path: str) -> dg.Definitions:
    active = [spec for spec in SOURCES.values() if config.of_source(spec.name)]
    assets: list[dg.AssetsDefinition] = []
    jobs: list[dg.UnresolvedAssetJobDefinition] = []
    schedules: list[dg.ScheduleDefinition] = []
    health: list[dg.AssetChecksDefinition] = []
    for spec in active:
        connections = config.of_source(spec.name)
        ingest = build_ingest_assets(spec, connections)
        job = sync_job(spec.name, ingest)
        assets.append(ingest)
        jobs.append(job)
        schedules += [connection_schedule(connection, job) for connection in connections]
        health += build_health_checks(spec, connections)
    refresh = reports_job()
    checking = health_job(health)
    return dg.Definitions(
        assets=[
            *assets,
            build_canonical_assets(active),
            report_assets(),
            cash_application_suggestions,
            ar_aging_daily,
            customer_entities,
            entity_reports,
        ],
        asset_checks=[
            *build_canonical_checks(),
            *health,
            *report_checks(),
            *cash_application_checks(),
            no_weak_same_connection_merges,
        ],
        jobs=[*jobs, refresh, checking, aging_history_job],
        schedules=[
            *schedules,
            reports_schedule(refresh),
            health_schedule(checking),
            aging_history_schedule,
        ],
        resources={"ledgersync": LedgersyncResource(config_path=config_path)},
    )


@dg.definitions
def defs() -> dg.Definitions:
    path = default_config_path()
    return build_definitions(load_config(path), str(path))
