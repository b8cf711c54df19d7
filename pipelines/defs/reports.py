"""Report assets: reconciliation SQL materialized for an explicit as-of date, and a daily aging
history that an analyst backfills from the UI."""

# No `from __future__ import annotations` here: Dagster reads these signatures at runtime.
from collections.abc import Iterator
from datetime import UTC, date, datetime

import dagster as dg
from pydantic import Field, field_validator

from models.report_docs import TABLE_COMMENTS
from models.reports import (
    AGING_HISTORY,
    REPORTS,
    Aging,
    AgingBasis,
    install_report_macros,
    materialize_reports,
    snapshot_aging,
)
from pipelines.defs.aging_chart import aging_chart_markdown
from pipelines.defs.canonical import WAREHOUSE_POOL, canonical_key
from pipelines.defs.ingest import OWNER
from pipelines.defs.report_metadata import METADATA, aging_totals, column_schema, markdown_table
from pipelines.defs.resources import LedgersyncResource

__all__ = [
    "AGING_HISTORY_JOB",
    "REPORTS_OP",
    "AgingOptions",
    "ReportConfig",
    "aging_history_job",
    "aging_history_schedule",
    "ar_aging_daily",
    "report_asset_key",
    "report_assets",
]

AGING_HISTORY_JOB = "ar_aging_history"
REPORTS_OP = "reports"  # the step that writes the reports; its config sets the as-of date
HISTORY_START = "2025-01-01"
_DEPS = [canonical_key(t) for t in ("customers", "invoices", "payments", "payment_applications")]
_EXAMPLES = {
    "invoice_balances": "reports.invoice_balances_at(DATE '2026-06-30')",
    "customer_balances": "reports.customer_balances_at(DATE '2026-06-30')",
    "ar_aging": (
        "reports.ar_aging_at(DATE '2026-06-30', edges := [30, 60, 90, 120], basis := 'due_date')"
    ),
    "unapplied_payments": "reports.unapplied_payments_at(DATE '2026-06-30')",
    "reconciliation_exceptions": "reports.reconciliation_exceptions_at(DATE '2026-06-30')",
}


def report_asset_key(name: str) -> dg.AssetKey:
    return dg.AssetKey(["reports", name])


class AgingOptions(dg.Config):
    aging_edges: list[int] = Field(
        default=[30, 60, 90, 120],
        description=(
            "Where the aging periods end, in days: four increasing numbers "
            "(invoice_balances, ar_aging)."
        ),
    )
    aging_basis: AgingBasis = Field(
        default="due_date",
        description="Age invoices from their due date or their issue date (same reports).",
    )

    @field_validator("aging_edges")
    @classmethod
    def _four_increasing(cls, edges: list[int]) -> list[int]:
        Aging(tuple(edges))  # type: ignore[arg-type]
        return edges

    def aging(self) -> Aging:
        return Aging(tuple(self.aging_edges), self.aging_basis)  # type: ignore[arg-type]


class ReportConfig(AgingOptions):
    as_of: str | None = Field(
        default=None,
        description="The as-of date (YYYY-MM-DD); today in UTC when empty.",
    )

    def as_of_date(self) -> date:
        return date.fromisoformat(self.as_of) if self.as_of else datetime.now(UTC).date()


def report_assets() -> dg.AssetsDefinition:
    """The five reports, written together for one as-of date (one transaction, one shared
    computation of the ledgers they read); a subset can be selected."""

    @dg.multi_asset(
        name=REPORTS_OP,
        specs=[
            dg.AssetSpec(
                key=report_asset_key(name),
                description=(
                    f"{TABLE_COMMENTS[name]}\n\nFor example: `SELECT * FROM {_EXAMPLES[name]}`."
                ),
                deps=_DEPS,
                group_name="reports",
                kinds={"duckdb", "sql"},
                owners=[OWNER],
                skippable=True,
            )
            for name in REPORTS
        ],
        can_subset=True,
        pool=WAREHOUSE_POOL,
    )
    def _reports(
        context: dg.AssetExecutionContext, config: ReportConfig, ledgersync: LedgersyncResource
    ) -> Iterator[dg.MaterializeResult]:
        as_of, aging = config.as_of_date(), config.aging()
        names = [n for n in REPORTS if report_asset_key(n) in context.selected_asset_keys]
        with ledgersync.warehouse(context.log).connect() as conn:
            rows = materialize_reports(conn, as_of, aging, names)
            for name in names:
                yield dg.MaterializeResult(
                    asset_key=report_asset_key(name),
                    metadata={
                        "as_of": as_of.isoformat(),
                        "dagster/row_count": rows[name],
                        "dagster/column_schema": column_schema(conn, name),
                        **METADATA[name](conn, aging),
                    },
                )

    return _reports


DAILY = dg.DailyPartitionsDefinition(start_date=HISTORY_START, end_offset=0)


# A year's backfill is then one run writing day after day, not 365 runs queueing for the
# warehouse's single writer. Dagster 1.13 still calls a backfill policy beta, and `@asset` warns
# so at import for every user of this module; `@multi_asset` takes the same policy silently.
@dg.multi_asset(
    name="reports__" + AGING_HISTORY,
    specs=[
        dg.AssetSpec(
            key=report_asset_key(AGING_HISTORY),
            description=(
                f"{TABLE_COMMENTS[AGING_HISTORY]} Each partition replaces its day's rows, so "
                "running a day again gives the same numbers while the canonical tables are "
                "unchanged. Backfill a date range from the UI to chart history."
            ),
            deps=_DEPS,
            group_name="report_history",
            kinds={"duckdb", "sql"},
            owners=[OWNER],
        )
    ],
    partitions_def=DAILY,
    backfill_policy=dg.BackfillPolicy.single_run(),
)
def ar_aging_daily(
    context: dg.AssetExecutionContext, config: AgingOptions, ledgersync: LedgersyncResource
) -> dg.MaterializeResult:
    aging = config.aging()
    days = [date.fromisoformat(key) for key in context.partition_keys]
    warehouse = ledgersync.warehouse(context.log)
    rows = 0
    with warehouse.connect() as conn:
        install_report_macros(conn)
    for day in days:  # a connection per day lets syncs write in between
        with warehouse.connect() as conn:
            rows += snapshot_aging(conn, day, aging, install=False)
    last = max(days)
    with warehouse.connect(read_only=True) as conn:
        totals = aging_totals(conn, AGING_HISTORY, "as_of = $as_of", {"as_of": last})
        schema = column_schema(conn, AGING_HISTORY)
    return dg.MaterializeResult(
        metadata={
            "days": len(days),
            "dagster/row_count": rows,
            "dagster/column_schema": schema,
            "aging": f"{'/'.join(aging.labels)} by {aging.basis}",
            f"aging_on_{last.isoformat()}": dg.MetadataValue.md(
                markdown_table(
                    ["currency", *aging.labels, "total"],
                    [(code, *amounts, sum(amounts)) for code, amounts in totals.items()],
                )
            ),
            "aging_chart": dg.MetadataValue.md(aging_chart_markdown(aging.labels, totals)),
        }
    )


aging_history_job = dg.define_asset_job(
    AGING_HISTORY_JOB,
    selection=dg.AssetSelection.assets(ar_aging_daily),
    description="Snapshot receivables aging for a day (backfill a range for history).",
)

# Every morning, the day that just ended.
aging_history_schedule = dg.build_schedule_from_partitioned_job(
    aging_history_job, hour_of_day=6, minute_of_hour=45, name="daily_aging_history"
)


@dg.definitions
def defs() -> dg.Definitions:
    return dg.Definitions(
        assets=[report_assets(), ar_aging_daily],
        jobs=[aging_history_job],
        schedules=[aging_history_schedule],
    )
