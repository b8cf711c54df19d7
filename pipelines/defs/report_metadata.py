"""What each report asset shows in the Dagster UI: totals per currency, counts by kind, a preview of
the largest balances, the aging chart, and the table's documented columns."""

from __future__ import annotations

from collections.abc import Callable, Sequence
from decimal import Decimal

import dagster as dg
import duckdb

from models.reports import Aging
from pipelines.defs.aging_chart import aging_chart_markdown

__all__ = ["METADATA", "aging_totals", "column_schema", "markdown_table"]

Metadata = dict[str, object]
_PREVIEW_ROWS = 10
_AGING_COLUMNS = ("current", "period_1", "period_2", "period_3", "period_4", "older")


def markdown_table(header: Sequence[str], rows: Sequence[Sequence[object]]) -> str:
    if not rows:
        return "none"
    lines = ["| " + " | ".join(header) + " |", "|" + "---|" * len(header)]
    lines += ["| " + " | ".join(_cell(value) for value in row) + " |" for row in rows]
    return "\n".join(lines)


def _cell(value: object) -> str:
    if isinstance(value, Decimal):
        return f"{value:,.2f}"
    return "" if value is None else str(value).replace("|", "\\|")


def column_schema(conn: duckdb.DuckDBPyConnection, table: str) -> dg.TableSchema:
    columns = conn.execute(
        "SELECT column_name, data_type, comment FROM duckdb_columns() "
        "WHERE schema_name = 'reports' AND table_name = ? ORDER BY column_index",
        [table],
    ).fetchall()
    return dg.TableSchema(
        columns=[dg.TableColumn(name, kind, description=doc) for name, kind, doc in columns]
    )


def aging_totals(
    conn: duckdb.DuckDBPyConnection, table: str, where: str = "TRUE", params: object = None
) -> dict[str, list[Decimal]]:
    """Open receivables per currency by bucket, from `reports.ar_aging` or `ar_aging_daily`."""
    sums = ", ".join(f"sum({column})" for column in _AGING_COLUMNS)
    rows = conn.execute(
        f"SELECT currency_code, {sums} FROM reports.{table} WHERE {where} "
        "GROUP BY 1 ORDER BY sum(total) DESC",
        params,
    ).fetchall()
    return {row[0]: list(row[1:]) for row in rows}


def _invoice_balances(conn: duckdb.DuckDBPyConnection, aging: Aging) -> Metadata:
    totals = conn.execute(
        """
        SELECT currency_code, count(*), count(*) FILTER (WHERE open_balance <> 0),
               sum(total_amount), sum(applied_amount), sum(open_balance),
               sum(open_balance) FILTER (WHERE days_past_due > 0),
               count(*) FILTER (WHERE balance_delta <> 0)
        FROM reports.invoice_balances GROUP BY 1 ORDER BY 1
        """
    ).fetchall()
    statuses = conn.execute(
        "SELECT derived_status, count(*) FROM reports.invoice_balances GROUP BY 1 ORDER BY 1"
    ).fetchall()
    largest = conn.execute(
        f"""
        SELECT connection_id, invoice_number, customer_name, currency_code, open_balance,
               days_past_due, aging_bucket
        FROM reports.invoice_balances WHERE open_balance > 0
        ORDER BY coalesce(open_balance_base, open_balance) DESC, invoice_id
        LIMIT {_PREVIEW_ROWS}
        """
    ).fetchall()
    return {
        "totals_by_currency": dg.MetadataValue.md(
            markdown_table(
                [
                    "currency",
                    "invoices",
                    "open invoices",
                    "invoiced",
                    "applied",
                    "open balance",
                    "overdue",
                    "source disagrees",
                ],
                totals,
            )
        ),
        "invoices_by_status": dg.MetadataValue.json(dict(statuses)),
        "largest_open_balances": dg.MetadataValue.md(
            markdown_table(
                ["connection", "invoice", "customer", "currency", "open", "days past due", "age"],
                largest,
            )
        ),
        "aging": f"{'/'.join(aging.labels)} by {aging.basis}",
    }


def _customer_balances(conn: duckdb.DuckDBPyConnection, aging: Aging) -> Metadata:
    totals = conn.execute(
        """
        SELECT currency_code, count(DISTINCT (connection_id, customer_id)), sum(open_balance),
               sum(unapplied_cash), sum(net_balance), sum(overdue),
               count(*) FILTER (WHERE customer_balance_delta <> 0)
        FROM reports.customer_balances GROUP BY 1 ORDER BY 1
        """
    ).fetchall()
    largest = conn.execute(
        f"""
        SELECT connection_id, coalesce(customer_name, customer_id), currency_code, open_balance,
               unapplied_cash, net_balance, overdue
        FROM reports.customer_balances
        ORDER BY coalesce(net_balance_base, net_balance) DESC, connection_id, customer_id
        LIMIT {_PREVIEW_ROWS}
        """
    ).fetchall()
    return {
        "totals_by_currency": dg.MetadataValue.md(
            markdown_table(
                [
                    "currency",
                    "customers",
                    "open",
                    "unapplied cash",
                    "net",
                    "overdue",
                    "source disagrees",
                ],
                totals,
            )
        ),
        "largest_balances": dg.MetadataValue.md(
            markdown_table(
                ["connection", "customer", "currency", "open", "unapplied", "net", "overdue"],
                largest,
            )
        ),
    }


def _ar_aging(conn: duckdb.DuckDBPyConnection, aging: Aging) -> Metadata:
    totals = aging_totals(conn, "ar_aging")
    return {
        "aging_by_currency": dg.MetadataValue.md(
            markdown_table(
                ["currency", *aging.labels, "total"],
                [(code, *amounts, sum(amounts)) for code, amounts in totals.items()],
            )
        ),
        "aging_chart": dg.MetadataValue.md(aging_chart_markdown(aging.labels, totals)),
        "aging": f"{'/'.join(aging.labels)} by {aging.basis}",
    }


def _unapplied_payments(conn: duckdb.DuckDBPyConnection, aging: Aging) -> Metadata:
    totals = conn.execute(
        """
        SELECT currency_code, count(*), sum(unapplied_amount) FILTER (WHERE unapplied_amount > 0),
               count(*) FILTER (WHERE kind = 'over_applied')
        FROM reports.unapplied_payments GROUP BY 1 ORDER BY 1
        """
    ).fetchall()
    kinds = conn.execute(
        "SELECT kind, count(*) FROM reports.unapplied_payments GROUP BY 1 ORDER BY 1"
    ).fetchall()
    largest = conn.execute(
        f"""
        SELECT connection_id, payment_number, coalesce(customer_name, customer_id), currency_code,
               amount, unapplied_amount, days_since_payment
        FROM reports.unapplied_payments
        ORDER BY coalesce(unapplied_amount_base, unapplied_amount) DESC, payment_id
        LIMIT {_PREVIEW_ROWS}
        """
    ).fetchall()
    return {
        "totals_by_currency": dg.MetadataValue.md(
            markdown_table(["currency", "payments", "unapplied cash", "over-applied"], totals)
        ),
        "payments_by_kind": dg.MetadataValue.json(dict(kinds)),
        "largest_unapplied": dg.MetadataValue.md(
            markdown_table(
                ["connection", "payment", "customer", "currency", "amount", "unapplied", "days"],
                largest,
            )
        ),
    }


def _reconciliation_exceptions(conn: duckdb.DuckDBPyConnection, aging: Aging) -> Metadata:
    by_kind = conn.execute(
        "SELECT kind, count(*) FROM reports.reconciliation_exceptions GROUP BY 1 ORDER BY 1"
    ).fetchall()
    by_connection = conn.execute(
        "SELECT connection_id, kind, count(*) FROM reports.reconciliation_exceptions "
        "GROUP BY ALL ORDER BY ALL"
    ).fetchall()
    largest = conn.execute(
        f"""
        SELECT kind, connection_id, coalesce(invoice_id, payment_id, customer_id), currency_code,
               difference, detail
        FROM reports.reconciliation_exceptions
        ORDER BY abs(difference) DESC NULLS LAST, kind, invoice_id, payment_id
        LIMIT {_PREVIEW_ROWS}
        """
    ).fetchall()
    return {
        "exceptions_by_kind": dg.MetadataValue.json(dict(by_kind)),
        "exceptions_by_connection": dg.MetadataValue.md(
            markdown_table(["connection", "kind", "findings"], by_connection)
        ),
        "largest_findings": dg.MetadataValue.md(
            markdown_table(
                ["kind", "connection", "record", "currency", "difference", "detail"], largest
            )
        ),
    }


METADATA: dict[str, Callable[[duckdb.DuckDBPyConnection, Aging], Metadata]] = {
    "invoice_balances": _invoice_balances,
    "customer_balances": _customer_balances,
    "ar_aging": _ar_aging,
    "unapplied_payments": _unapplied_payments,
    "reconciliation_exceptions": _reconciliation_exceptions,
}
