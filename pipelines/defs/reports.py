"""Report assets: reconciliation SQL materialized for an explicit as-of date."""

# No `from __future__ import annotations` here: Dagster reads these signatures at runtime.
from datetime import UTC, date, datetime

import dagster as dg

from models.reports import materialize_report
from pipelines.defs.canonical import canonical_key
from pipelines.defs.ingest import OWNER
from pipelines.defs.resources import LedgersyncResource

__all__ = ["ReportConfig", "invoice_balances"]


class ReportConfig(dg.Config):
    as_of: str | None = None
    """The as-of date (YYYY-MM-DD); today in UTC when empty. Recorded in the metadata."""

    def as_of_date(self) -> date:
        return date.fromisoformat(self.as_of) if self.as_of else datetime.now(UTC).date()


@dg.asset(
    key=["reports", "invoice_balances"],
    description=(
        "One row per invoice as of a date: total, applied, credits and write-offs, the computed "
        "open balance, the source's own balance and the difference, derived status and aging. "
        "Any date: `SELECT * FROM reports.invoice_balances_at(DATE '2026-06-30')`."
    ),
    deps=[
        canonical_key("invoices"),
        canonical_key("payments"),
        canonical_key("payment_applications"),
    ],
    group_name="reports",
    kinds={"duckdb", "sql"},
    owners=[OWNER],
    automation_condition=dg.AutomationCondition.eager(),
)
def invoice_balances(config: ReportConfig, ledgersync: LedgersyncResource) -> dg.MaterializeResult:
    as_of = config.as_of_date()
    warehouse = ledgersync.warehouse()
    with warehouse.connect() as conn:
        rows = materialize_report(conn, "invoice_balances", as_of)
        totals = conn.execute(
            """
            SELECT currency_code, count(*) FILTER (WHERE open_balance <> 0) AS open_invoices,
                   sum(total_amount) AS invoiced, sum(open_balance) AS open_balance,
                   count(*) FILTER (WHERE balance_delta <> 0) AS mismatches
            FROM reports.invoice_balances GROUP BY 1 ORDER BY 1
            """
        ).fetchall()
        largest = conn.execute(
            """
            SELECT connection_id, invoice_number, customer_id, currency_code, open_balance,
                   days_past_due FROM reports.invoice_balances
            ORDER BY open_balance * coalesce(exchange_rate, 1) DESC LIMIT 10
            """
        ).fetchall()
    return dg.MaterializeResult(
        metadata={
            "as_of": as_of.isoformat(),
            "dagster/row_count": rows,
            "totals_by_currency": dg.MetadataValue.md(
                _markdown(
                    ["currency", "open invoices", "invoiced", "open balance", "balance mismatches"],
                    totals,
                )
            ),
            "largest_open_balances": dg.MetadataValue.md(
                _markdown(
                    ["connection", "invoice", "customer", "currency", "open", "days past due"],
                    largest,
                )
            ),
        }
    )


def _markdown(header: list[str], rows: list[tuple[object, ...]]) -> str:
    lines = ["| " + " | ".join(header) + " |", "|" + "---|" * len(header)]
    lines += ["| " + " | ".join(str(value) for value in row) + " |" for row in rows]
    return "\n".join(lines)
