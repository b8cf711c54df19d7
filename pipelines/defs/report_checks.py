"""Asset checks on the reports: the accounting invariants, and how many findings need a person."""

# No `from __future__ import annotations` here: Dagster reads these signatures at runtime.
import dagster as dg

from models.reports import EXCEPTION_KINDS
from pipelines.defs.report_metadata import markdown_table
from pipelines.defs.reports import report_asset_key
from pipelines.defs.resources import LedgersyncResource

__all__ = ["report_checks"]

_EXAMPLES = 10


@dg.asset_check(
    asset=report_asset_key("invoice_balances"),
    name="open_balances_not_negative",
    description=(
        "No computed open balance is negative except on an invoice derived as overpaid, and draft "
        "and void invoices carry none."
    ),
)
def open_balances_not_negative(ledgersync: LedgersyncResource) -> dg.AssetCheckResult:
    with ledgersync.warehouse().connect(read_only=True) as conn:
        wrong = conn.execute(
            f"""
            SELECT connection_id, invoice_id, derived_status, open_balance
            FROM reports.invoice_balances
            WHERE (open_balance < 0 AND derived_status <> 'overpaid')
               OR (NOT receivable AND open_balance <> 0)
            ORDER BY ALL LIMIT {_EXAMPLES}
            """
        ).fetchall()
        (overpaid,) = conn.execute(
            "SELECT count(*) FROM reports.invoice_balances WHERE derived_status = 'overpaid'"
        ).fetchone()
    return dg.AssetCheckResult(
        passed=not wrong,
        metadata={
            "overpaid_invoices": overpaid,
            "violations": dg.MetadataValue.md(
                markdown_table(["connection", "invoice", "status", "open"], wrong)
            ),
        },
    )


@dg.asset_check(
    asset=report_asset_key("unapplied_payments"),
    name="payments_not_over_applied",
    description="For every payment, the applications by the as-of date sum to at most its amount.",
)
def payments_not_over_applied(ledgersync: LedgersyncResource) -> dg.AssetCheckResult:
    with ledgersync.warehouse().connect(read_only=True) as conn:
        (count,) = conn.execute(
            "SELECT count(*) FROM reports.unapplied_payments WHERE unapplied_amount < 0"
        ).fetchone()
        examples = conn.execute(
            f"""
            SELECT connection_id, payment_id, currency_code, amount, applied_amount
            FROM reports.unapplied_payments WHERE unapplied_amount < 0
            ORDER BY unapplied_amount, connection_id, payment_id LIMIT {_EXAMPLES}
            """
        ).fetchall()
    return dg.AssetCheckResult(
        passed=count == 0,
        metadata={
            "over_applied_payments": count,
            "examples": dg.MetadataValue.md(
                markdown_table(["connection", "payment", "currency", "amount", "applied"], examples)
            ),
        },
    )


@dg.asset_check(
    asset=report_asset_key("customer_balances"),
    name="customer_balances_add_up",
    description=(
        "Per connection and currency, customers' net balances sum to the invoices' open balances "
        "less unapplied cash, at the report's as-of date."
    ),
)
def customer_balances_add_up(ledgersync: LedgersyncResource) -> dg.AssetCheckResult:
    with ledgersync.warehouse().connect(read_only=True) as conn:
        (as_of,) = conn.execute("SELECT any_value(as_of) FROM reports.customer_balances").fetchone()
        differences = conn.execute(
            """
            WITH customers AS (
                SELECT connection_id, currency_code, sum(net_balance) AS net
                FROM reports.customer_balances GROUP BY ALL
            ),
            invoices AS (
                SELECT connection_id, currency_code, sum(open_balance) AS open
                FROM reports.invoice_balances_at($as_of::DATE) WHERE receivable GROUP BY ALL
            ),
            payments AS (
                SELECT connection_id, currency_code, sum(unapplied_amount) AS unapplied
                FROM reports.payment_ledger_at($as_of::DATE) GROUP BY ALL
            )
            SELECT connection_id, currency_code, coalesce(c.net, 0) AS customers_net,
                   coalesce(i.open, 0) - coalesce(p.unapplied, 0) AS open_less_unapplied
            FROM customers c
            FULL JOIN invoices i USING (connection_id, currency_code)
            FULL JOIN payments p USING (connection_id, currency_code)
            WHERE customers_net <> open_less_unapplied
            ORDER BY ALL
            """,
            {"as_of": as_of},
        ).fetchall()
    return dg.AssetCheckResult(
        passed=not differences,
        metadata={
            "as_of": str(as_of),
            "differences": dg.MetadataValue.md(
                markdown_table(
                    ["connection", "currency", "customers' net", "open less unapplied"],
                    differences,
                )
            ),
        },
    )


@dg.asset_check(
    asset=report_asset_key("reconciliation_exceptions"),
    name="exceptions_within_threshold",
    description=(
        "Warns when reconciliation finds more exceptions of a kind than `exception_thresholds` "
        "in the connections file allows (a kind not listed there: none)."
    ),
)
def exceptions_within_threshold(ledgersync: LedgersyncResource) -> dg.AssetCheckResult:
    thresholds = ledgersync.config().exception_thresholds
    with ledgersync.warehouse().connect(read_only=True) as conn:
        found = dict(
            conn.execute(
                "SELECT kind, count(*) FROM reports.reconciliation_exceptions GROUP BY 1"
            ).fetchall()
        )
    rows = [(kind, found.get(kind, 0), thresholds.get(kind, 0)) for kind in EXCEPTION_KINDS]
    over = [kind for kind, count, allowed in rows if count > allowed]
    return dg.AssetCheckResult(
        passed=not over,
        severity=dg.AssetCheckSeverity.WARN,
        description=f"More than allowed: {', '.join(over)}" if over else None,
        metadata={
            "exceptions": sum(found.values()),
            "kinds_over_threshold": dg.MetadataValue.json(over),
            "by_kind": dg.MetadataValue.md(
                markdown_table(["kind", "found", "threshold"], [r for r in rows if any(r[1:])])
            ),
        },
    )


def report_checks() -> list[dg.AssetChecksDefinition]:
    return [
        open_balances_not_negative,
        payments_not_over_applied,
        customer_balances_add_up,
        exceptions_within_threshold,
    ]


@dg.definitions
def defs() -> dg.Definitions:
    return dg.Definitions(asset_checks=report_checks())
