"""A ledger written straight into the canonical tables, as a source's mapping would write it.

For tests and benchmarks of what is computed from the canonical tables (reports, cash
application) that need no source in between. Ids are the ledger's, as text; columns go in as
text and DuckDB casts them to the tables' types, so amounts stay exact and a million rows load
in seconds.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Sequence
from typing import Any

import duckdb
import pandas as pd

from sandbox.ledger import Ledger

__all__ = ["load_canonical"]


def load_canonical(conn: duckdb.DuckDBPyConnection, ledger: Ledger, connection_id: str) -> None:
    """Append the ledger's customers, invoices, payments and applications under connection_id."""
    _append(
        conn,
        "customers",
        ledger.customers,
        {
            "customer_id": lambda c: c.customer_id,
            "customer_number": lambda c: c.number,
            "name": lambda c: c.name,
            "kind": lambda c: c.kind,
            "email": lambda c: c.email,
            "currency_code": lambda c: c.currency_code,
            "payment_terms_days": lambda c: c.payment_terms_days,
            "status": lambda c: c.status,
        },
        connection_id,
    )
    _append(
        conn,
        "invoices",
        ledger.invoices,
        {
            "invoice_id": lambda i: i.invoice_id,
            "invoice_number": lambda i: i.invoice_number,
            "customer_id": lambda i: i.customer_id,
            "status": lambda i: i.status,
            "issue_date": lambda i: i.issue_date,
            "due_date": lambda i: i.due_date,
            "currency_code": lambda i: i.currency_code,
            "exchange_rate": lambda i: i.exchange_rate,
            "subtotal": lambda i: i.subtotal,
            "tax_amount": lambda i: i.tax_amount,
            "total_amount": lambda i: i.total_amount,
            "credits_applied": lambda i: i.credits_applied,
            "write_off_amount": lambda i: i.write_off_amount,
            "source_balance": lambda i: i.source_balance,
        },
        connection_id,
    )
    _append(
        conn,
        "payments",
        ledger.payments,
        {
            "payment_id": lambda p: p.payment_id,
            "payment_number": lambda p: p.payment_number,
            "customer_id": lambda p: p.customer_id,
            "payment_date": lambda p: p.payment_date,
            "currency_code": lambda p: p.currency_code,
            "exchange_rate": lambda p: p.exchange_rate,
            "amount": lambda p: p.amount,
            "bank_charges": lambda p: p.bank_charges,
            "method": lambda p: p.method,
            "reference": lambda p: p.reference,
            "status": lambda p: p.status,
        },
        connection_id,
    )
    _append(
        conn,
        "payment_applications",
        ledger.applications,
        {
            "application_id": lambda a: a.application_id,
            "payment_id": lambda a: a.payment_id,
            "invoice_id": lambda a: a.invoice_id,
            "amount_applied": lambda a: a.amount_applied,
            "applied_date": lambda a: a.applied_date,
        },
        connection_id,
    )


def _append(
    conn: duckdb.DuckDBPyConnection,
    table: str,
    records: Sequence[Any],
    columns: dict[str, Callable[[Any], object]],
    connection_id: str,
) -> None:
    if not records:
        return
    frame = pd.DataFrame({name: _text(map(get, records)) for name, get in columns.items()})
    frame.insert(0, "source", "ledger")
    frame.insert(0, "connection_id", connection_id)
    conn.register("ledger_rows", frame)
    try:
        conn.execute(f"INSERT INTO canonical.{table} BY NAME SELECT * FROM ledger_rows")
    finally:
        conn.unregister("ledger_rows")


def _text(values: Iterable[object]) -> list[str | None]:
    return [None if v is None else str(v) for v in values]
