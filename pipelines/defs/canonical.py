"""Canonical assets: every connection's raw records mapped into the one schema.

Rebuilt from the raw tables on every materialization (no API calls), so a changed mapping takes
effect on the next run without re-extracting anything.
"""

from collections.abc import Iterator

import dagster as dg

from connectors.source import SourceSpec
from models.schema import CANONICAL_TABLES, REJECTED_RECORDS
from pipelines.defs.ingest import OWNER
from pipelines.defs.resources import LedgersyncResource
from pipelines.steps import rebuild_canonical

__all__ = ["WAREHOUSE_POOL", "build_canonical_assets", "canonical_key"]

# Steps that rewrite whole warehouse tables share this pool; production gives it one slot.
WAREHOUSE_POOL = "warehouse"


def canonical_key(table: str) -> dg.AssetKey:
    return dg.AssetKey(["canonical", table])


def _upstream(specs: list[SourceSpec]) -> dict[str, set[dg.AssetKey]]:
    """Which raw stream assets each canonical table is built from."""
    upstream: dict[str, set[dg.AssetKey]] = {t.name: set() for t in CANONICAL_TABLES}
    upstream[REJECTED_RECORDS.name] = set()
    for spec in specs:
        for mapping in spec.mappings:
            keys = {dg.AssetKey([spec.name, s]) for s in spec.streams_read_by(mapping)}
            upstream[mapping.table.name] |= keys
            upstream[REJECTED_RECORDS.name] |= keys
    return upstream


def build_canonical_assets(specs: list[SourceSpec]) -> dg.AssetsDefinition:
    upstream = _upstream(specs)
    tables = {t.name: t for t in (*CANONICAL_TABLES, REJECTED_RECORDS)}

    @dg.multi_asset(
        name="canonical",
        specs=[
            dg.AssetSpec(
                key=canonical_key(name),
                description=tables[name].comment,
                deps=sorted(upstream[name], key=lambda k: k.to_user_string()),
                group_name="canonical",
                kinds={"duckdb", "sql"},
                owners=[OWNER],
            )
            for name in tables
        ],
        pool=WAREHOUSE_POOL,
    )
    def _canonical(
        context: dg.AssetExecutionContext, ledgersync: LedgersyncResource
    ) -> Iterator[dg.MaterializeResult]:
        warehouse = ledgersync.warehouse(context.log)
        rebuilt = rebuild_canonical(warehouse, ledgersync.config().connections)
        for connection_id, results in rebuilt.items():
            for result in results:
                context.log.info(
                    f"{connection_id}: {result.table} {result.loaded} rows, "
                    f"{result.rejected} quarantined"
                )
        with warehouse.connect(read_only=True) as conn:
            for name in tables:
                rows = conn.execute(
                    f"SELECT connection_id, count(*) FROM canonical.{name} GROUP BY 1 ORDER BY 1"
                ).fetchall()
                yield dg.MaterializeResult(
                    asset_key=canonical_key(name),
                    metadata={
                        "dagster/row_count": sum(count for _, count in rows),
                        "rows_by_connection": dg.MetadataValue.json(dict(rows)),
                    },
                )

    return _canonical
