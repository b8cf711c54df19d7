"""Connection health, as asset checks on each source's ingest assets.

- `connections_fresh` warns when a connection has not synced within its `max_staleness_hours`.
- `connections_not_failing` fails when a connection's last `FAILING_RUNS` sync runs all failed.

They run after every sync of the source and hourly from the `connection_health` job.
"""

from datetime import UTC, datetime, timedelta

import dagster as dg

from connectors.source import SourceSpec
from pipelines.defs.resources import LedgersyncResource

__all__ = ["FAILING_RUNS", "build_health_checks", "last_written_asset"]

FAILING_RUNS = 3


def last_written_asset(spec: SourceSpec) -> dg.AssetKey:
    """The asset a sync materializes last (it syncs the streams in order): a check on it runs
    once the whole sync is in, whichever stream a source lists first."""
    return dg.AssetKey([spec.name, spec.streams[-1].name])


def build_health_checks(spec: SourceSpec) -> list[dg.AssetChecksDefinition]:
    """The checks read the connections file when they run, so they cover connections added
    since the code location loaded."""
    asset = last_written_asset(spec)

    @dg.asset_check(
        asset=asset,
        name="connections_fresh",
        description=f"Every {spec.title} connection synced within its max_staleness_hours.",
    )
    def connections_fresh(ledgersync: LedgersyncResource) -> dg.AssetCheckResult:
        limits = {
            c.id: timedelta(hours=c.max_staleness_hours)
            for c in ledgersync.config().of_source(spec.name)
        }
        with ledgersync.warehouse().connect(read_only=True) as conn:
            last = dict(
                conn.execute(
                    "SELECT connection_id, max(loaded_at) FROM sync.batches GROUP BY 1"
                ).fetchall()
            )
        now = datetime.now(UTC)
        stale = {
            connection_id: (last[connection_id].isoformat() if connection_id in last else "never")
            for connection_id, limit in limits.items()
            if connection_id not in last or now - last[connection_id] > limit
        }
        return dg.AssetCheckResult(
            passed=not stale,
            severity=dg.AssetCheckSeverity.WARN,
            metadata={"stale_connections": dg.MetadataValue.json(stale)},
        )

    @dg.asset_check(
        asset=asset,
        name="connections_not_failing",
        description=f"No {spec.title} connection's last {FAILING_RUNS} sync runs all failed.",
    )
    def connections_not_failing(
        context: dg.AssetCheckExecutionContext, ledgersync: LedgersyncResource
    ) -> dg.AssetCheckResult:
        failing = {}
        for connection_id in (c.id for c in ledgersync.config().of_source(spec.name)):
            records = context.instance.get_run_records(
                dg.RunsFilter(
                    job_name=f"sync_{spec.name}", tags={"dagster/partition": connection_id}
                ),
                limit=FAILING_RUNS,
            )
            finished = [r for r in records if r.dagster_run.is_finished]
            if len(finished) == FAILING_RUNS and all(r.dagster_run.is_failure for r in finished):
                failing[connection_id] = [r.dagster_run.run_id for r in finished]
        return dg.AssetCheckResult(
            passed=not failing,
            metadata={"failing_connections": dg.MetadataValue.json(failing)},
        )

    return [connections_fresh, connections_not_failing]
