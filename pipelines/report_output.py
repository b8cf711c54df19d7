"""The reports in the terminal and as files: what `ledgersync report` and the demo show."""

from __future__ import annotations

from datetime import date
from decimal import Decimal
from enum import StrEnum
from pathlib import Path

import duckdb
from rich.console import Console
from rich.table import Table

from models.cash_application import REPORT as CASH_APPLICATION
from models.entities.balances import ENTITY_REPORTS
from models.reports import REPORTS, Aging
from models.warehouse import Warehouse

__all__ = [
    "ReportFormat",
    "print_balance_summary",
    "print_cash_application",
    "print_customer_balances",
    "print_entity_balances",
    "write_reports",
]

_LARGEST_CUSTOMERS = 25
_LARGEST_PER_CURRENCY = 5
_TOP_SUGGESTIONS = 15


class ReportFormat(StrEnum):
    table = "table"
    csv = "csv"
    parquet = "parquet"


def print_balance_summary(console: Console, warehouse: Warehouse, as_of: date) -> None:
    """Per connection and currency: balances, aging, and what reconciliation found."""
    with warehouse.connect(read_only=True) as conn:
        balances = conn.execute(
            """
            SELECT connection_id, currency_code, count(DISTINCT customer_id), sum(invoiced),
                   sum(open_balance), sum(unapplied_cash), sum(net_balance), sum(overdue)
            FROM reports.customer_balances GROUP BY ALL ORDER BY ALL
            """
        ).fetchall()
        aging = conn.execute(
            """
            SELECT connection_id, currency_code, sum(current), sum(period_1), sum(period_2),
                   sum(period_3), sum(period_4), sum(older), sum(total)
            FROM reports.ar_aging GROUP BY ALL ORDER BY ALL
            """
        ).fetchall()
        (edges,) = conn.execute("SELECT any_value(bucket_edges) FROM reports.ar_aging").fetchone()
        unapplied = conn.execute(
            "SELECT kind, count(*) FROM reports.unapplied_payments GROUP BY 1 ORDER BY 1"
        ).fetchall()
        exceptions = conn.execute(
            "SELECT kind, count(*) FROM reports.reconciliation_exceptions GROUP BY 1 ORDER BY 1"
        ).fetchall()
    when = as_of.isoformat()
    console.print(
        _table(
            f"Customer balances as of {when}",
            ["connection", "currency", "customers", "invoiced", "open", "unapplied cash", "net"]
            + ["overdue"],
            balances,
        )
    )
    labels = Aging(tuple(edges)).labels if edges else Aging().labels  # type: ignore[arg-type]
    console.print(
        _table(
            f"Receivables aging as of {when}", ["connection", "currency", *labels, "total"], aging
        )
    )
    console.print(f"Unapplied payments: {_counts(unapplied)}", highlight=False)
    console.print(f"Reconciliation exceptions: {_counts(exceptions)}", highlight=False)


def print_entity_balances(console: Console, warehouse: Warehouse) -> None:
    """The largest balances by customer entity (one real customer across every connection),
    in the reporting currency; blank where a rate is missing (the table's missing_rates)."""
    with warehouse.connect(read_only=True) as conn:
        rows = conn.execute(
            f"""
            SELECT any_value(entity_name),
                   list_sort(list_distinct(flatten(list(connections))))::VARCHAR[],
                   string_agg(DISTINCT currency_code, ', ' ORDER BY currency_code),
                   {_all_or_none("open_balance_reporting")},
                   {_all_or_none("unapplied_cash_reporting")},
                   {_all_or_none("net_balance_reporting")},
                   {_all_or_none("overdue_reporting")},
                   max(oldest_overdue_days)
            FROM reports.entity_balances
            GROUP BY entity_id
            ORDER BY len(list_distinct(flatten(list(connections)))) DESC,
                     {_all_or_none("net_balance_reporting")} DESC NULLS LAST, entity_id
            LIMIT {_LARGEST_CUSTOMERS}
            """
        ).fetchall()
        (currency, entities, several, unconverted) = conn.execute(
            "SELECT any_value(currency), count(*), count(*) FILTER (WHERE connections > 1), "
            "sum(unconverted) FROM (SELECT any_value(reporting_currency) AS currency, "
            "len(list_distinct(flatten(list(connections)))) AS connections, "
            "count(missing_rates) AS unconverted FROM reports.entity_balances GROUP BY entity_id)"
        ).fetchone() or (None, 0, 0, 0)
    header = ["entity", "connections", "currencies", "open", "unapplied", "net", "overdue"]
    table = _table(
        f"Balances by customer entity, in {currency}",
        [*header, "oldest overdue (days)"],
        [(name, ", ".join(conns), *rest) for name, conns, *rest in rows],
    )
    console.print(table)
    console.print(
        f"{entities} entities with a balance, {several} of them in several connections; "
        f"{unconverted} amounts without a rate to {currency} (reports.entity_balances "
        "missing_rates).",
        highlight=False,
    )


def _all_or_none(column: str) -> str:
    return f"CASE WHEN bool_and({column} IS NOT NULL) THEN sum({column}) END"


def print_customer_balances(console: Console, warehouse: Warehouse) -> None:
    """The largest net balances, ranked only against amounts in the same currency: the
    connection's base currency (each document at its own rate to it) where the source gives
    rates, else the document's currency. Every row is in the csv and parquet output."""
    with warehouse.connect(read_only=True) as conn:
        (total,) = conn.execute("SELECT count(*) FROM reports.customer_balances").fetchone()
        rows = conn.execute(
            f"""
            WITH ranked AS (
                SELECT *,
                       base_currency IS NOT NULL AND net_balance_base IS NOT NULL AS in_base,
                       if(in_base, base_currency, currency_code) AS ranked_in,
                       if(in_base, net_balance_base, net_balance) AS ranked_net,
                       if(currency_code = ranked_in, '1', 'each document''s') AS rate
                FROM reports.customer_balances
            )
            SELECT ranked_in, connection_id, coalesce(customer_name, customer_id),
                   currency_code, net_balance, overdue, customer_balance_delta, ranked_net, rate
            FROM ranked
            QUALIFY row_number() OVER (
                PARTITION BY ranked_in ORDER BY ranked_net DESC, connection_id, customer_id
            ) <= {_LARGEST_PER_CURRENCY}
            ORDER BY ranked_in, ranked_net DESC, connection_id, customer_id
            """
        ).fetchall()
    table = Table(
        "ranked in",
        "connection",
        "customer",
        "currency",
        "net",
        "overdue",
        "source disagrees by",
        "net in ranked currency ▼",
        "rate used",
        title="Largest customer balances in each currency",
    )
    for number, row in enumerate(rows):
        last = number + 1 == len(rows) or rows[number + 1][0] != row[0]
        table.add_row(*(_cell(value) for value in row), end_section=last)
    console.print(table)
    console.print(
        "Ranked by net balance in one currency at a time: the connection's base currency where "
        "the source gives exchange rates (converted at each document's own rate), else the "
        "document's currency.",
        highlight=False,
    )
    if total > len(rows):
        console.print(f"… and {total - len(rows)} more: --format csv writes every row.")


def print_cash_application(console: Console, warehouse: Warehouse) -> None:
    """The most confident cash application suggestions; every candidate is in csv and parquet."""
    with warehouse.connect(read_only=True) as conn:
        if not _has_table(conn, CASH_APPLICATION):
            return
        bands = conn.execute(
            f"SELECT band, count(*) FROM reports.{CASH_APPLICATION} WHERE rank = 1 "
            "GROUP BY band ORDER BY band"
        ).fetchall()
        rows = conn.execute(
            f"""
            SELECT connection_id, payment_number, currency_code, unapplied_amount,
                   array_to_string(invoice_numbers, ', '), confidence::VARCHAR, band, evidence
            FROM reports.{CASH_APPLICATION} WHERE rank = 1
            ORDER BY confidence DESC, unapplied_amount DESC, connection_id, payment_id
            LIMIT {_TOP_SUGGESTIONS}
            """
        ).fetchall()
    header = ["connection", "payment", "currency", "unapplied", "invoices", "confidence", "band"]
    console.print(_table("Cash application: top suggestions", [*header, "evidence"], rows))
    console.print(f"Payments by band of their top suggestion: {_counts(bands)}", highlight=False)


def write_reports(warehouse: Warehouse, directory: Path, fmt: ReportFormat) -> list[Path]:
    """Every report table as `<name>-<as of>.<fmt>` in directory."""
    directory.mkdir(parents=True, exist_ok=True)
    written = []
    with warehouse.connect(read_only=True) as conn:
        optional = (*ENTITY_REPORTS, CASH_APPLICATION)
        names = [*REPORTS, *(name for name in optional if _has_table(conn, name))]
        for name in names:
            [(as_of,)] = conn.execute(f"SELECT any_value(as_of) FROM reports.{name}").fetchall()
            path = directory / f"{name}-{as_of or 'empty'}.{fmt.value}"
            relation = conn.sql(f"SELECT * FROM reports.{name} ORDER BY ALL")
            if fmt is ReportFormat.parquet:
                relation.write_parquet(str(path))
            else:
                relation.write_csv(str(path), header=True)
            written.append(path)
    return written


def _has_table(conn: duckdb.DuckDBPyConnection, name: str) -> bool:
    found = conn.execute(
        "SELECT count(*) FROM duckdb_tables() WHERE schema_name = 'reports' AND table_name = ?",
        [name],
    ).fetchone()
    return bool(found and found[0])


def _table(title: str, header: list[str], rows: list[tuple[object, ...]]) -> Table:
    table = Table(*header, title=title)
    for row in rows:
        table.add_row(*(_cell(value) for value in row))
    return table


def _cell(value: object) -> str:
    if isinstance(value, Decimal):
        return f"{value:,.2f}"
    return "" if value is None else str(value)


def _counts(rows: list[tuple[object, ...]]) -> str:
    return ", ".join(f"{kind} {count}" for kind, count in rows) or "none"
