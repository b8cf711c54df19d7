"""Customer entities across every connection, and the receivables consolidated by entity."""

# No `from __future__ import annotations` here: Dagster reads these signatures at runtime.
from collections.abc import Iterator
from datetime import UTC, date, datetime

import dagster as dg
import duckdb

from models.entities.balances import (
    ENTITY_REPORTS,
    materialize_entity_reports,
    replace_exchange_rates,
)
from models.entities.resolve import (
    resolve_customer_entities,
    same_connection_without_strong_evidence,
)
from models.reports import Aging
from pipelines.defs.canonical import WAREHOUSE_POOL, canonical_key
from pipelines.defs.ingest import OWNER
from pipelines.defs.reports import report_asset_key
from pipelines.defs.resources import LedgersyncResource
from pipelines.entity_config import load_rates, overrides_for

__all__ = ["customer_entities", "entity_reports", "no_weak_same_connection_merges"]

ENTITIES = canonical_key("customer_entities")


@dg.asset(
    key=ENTITIES,
    description=(
        "Every customer of every connection mapped to an entity (one real customer), with the "
        "match probability and evidence; customer_links.yaml overrides win. "
        "Pairs considered: canonical.customer_entity_links."
    ),
    deps=[canonical_key("customers")],
    group_name="canonical",
    kinds={"duckdb", "splink"},
    owners=[OWNER],
    pool=WAREHOUSE_POOL,
)
def customer_entities(ledgersync: LedgersyncResource) -> dg.MaterializeResult:
    config = ledgersync.config()
    overrides = overrides_for(config)
    with ledgersync.warehouse().connect() as conn:
        resolution = resolve_customer_entities(conn, overrides)
    return dg.MaterializeResult(
        metadata={
            "dagster/row_count": resolution.customers,
            "entities": resolution.entities,
            "multi_source_entities": resolution.multi_source_entities,
            "links_by_evidence": dg.MetadataValue.json(resolution.links_by_evidence),
        }
    )


@dg.asset_check(
    asset=ENTITIES,
    name="no_weak_same_connection_merges",
    description=(
        "No entity holds two customers of one connection without strong evidence between them "
        "(the same tax id or e-mail, the same phone and name, or a 'same' override)."
    ),
    blocking=True,
)
def no_weak_same_connection_merges(ledgersync: LedgersyncResource) -> dg.AssetCheckResult:
    with ledgersync.warehouse().connect(read_only=True) as conn:
        weak = same_connection_without_strong_evidence(conn)
    return dg.AssetCheckResult(
        passed=not weak,
        metadata={
            "pairs": len(weak),
            "examples": dg.MetadataValue.json([list(w) for w in weak[:10]]),
        },
    )


@dg.multi_asset(
    name="entity_reports",
    specs=[
        dg.AssetSpec(
            key=report_asset_key(name),
            description=(
                "Receivables by entity across every connection, per document currency and in the "
                "reporting currency (connections.yaml `reporting:`); a conversion without a rate "
                "is NULL and named in missing_rates."
            ),
            deps=[ENTITIES, *(report_asset_key(r) for r in ("customer_balances", "ar_aging"))],
            group_name="reports",
            kinds={"duckdb", "sql"},
            owners=[OWNER],
        )
        for name in ENTITY_REPORTS
    ],
    pool=WAREHOUSE_POOL,
)
def entity_reports(ledgersync: LedgersyncResource) -> Iterator[dg.MaterializeResult]:
    """As of the date, and with the aging, of the reports this run wrote (the `reports` step's
    config), so the consolidated figures always agree with the per-connection ones."""
    reporting = ledgersync.config().reporting
    with ledgersync.warehouse().connect() as conn:
        as_of, aging = _reports_as_of(conn)
        if reporting.rates is not None:
            replace_exchange_rates(conn, load_rates(reporting.rates))
        rows = materialize_entity_reports(conn, as_of, reporting.currency, aging)
        (multi,) = conn.execute(
            "SELECT count(*) FROM (SELECT entity_id FROM reports.entity_balances GROUP BY 1 "
            "HAVING len(list_distinct(flatten(list(connections)))) > 1)"
        ).fetchone() or (0,)
        (unconverted,) = conn.execute(
            "SELECT count(*) FROM reports.entity_balances WHERE missing_rates IS NOT NULL"
        ).fetchone() or (0,)
    for name in ENTITY_REPORTS:
        yield dg.MaterializeResult(
            asset_key=report_asset_key(name),
            metadata={
                "as_of": as_of.isoformat(),
                "reporting_currency": reporting.currency,
                "dagster/row_count": rows[name],
                "entities_in_several_connections": multi,
                "rows_without_a_rate": unconverted,
            },
        )


def _reports_as_of(conn: duckdb.DuckDBPyConnection) -> tuple[date, Aging]:
    (as_of,) = conn.execute(
        "SELECT any_value(as_of) FROM reports.customer_balances"
    ).fetchone() or (None,)
    (edges, basis) = conn.execute(
        "SELECT any_value(bucket_edges), any_value(aging_basis) FROM reports.ar_aging"
    ).fetchone() or (None, None)
    aging = Aging(tuple(edges), basis) if edges else Aging()
    return as_of or datetime.now(UTC).date(), aging


@dg.definitions
def defs() -> dg.Definitions:
    return dg.Definitions(
        assets=[customer_entities, entity_reports],
        asset_checks=[no_weak_same_connection_merges],
    )
