"""A connection's warehouse rows against its sandbox ledger's ground truth, on any source.

Compares, to the cent: the live canonical customers, invoices (id, total) and payments (id,
amount; not void), the applications of those payments, the invoice balances report as of a
date (`sandbox.truth`), and the reconciliation exceptions the truth derives from the data
alone; a quarantined record is a difference too. `ids` turns a ledger record into the id the
warehouse holds for it (each source names records its own way).
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Callable, Iterable
from contextlib import AbstractContextManager, closing
from datetime import date
from pathlib import Path

import duckdb

from models.warehouse import Warehouse
from sandbox.ledger import Ledger
from sandbox.truth import expected_exceptions, invoice_truth

__all__ = ["IdMap", "truth_differences"]

IdMap = Callable[[str, int], str]  # (kind, ledger id) → the id the warehouse holds

_QUERIES = {
    "customers": "SELECT customer_id FROM canonical.customers "
    "WHERE connection_id = ? AND deleted_at IS NULL",
    "invoices": "SELECT invoice_id, total_amount FROM canonical.invoices "
    "WHERE connection_id = ? AND deleted_at IS NULL",
    "payments": "SELECT payment_id, amount FROM canonical.payments "
    "WHERE connection_id = ? AND deleted_at IS NULL AND status <> 'void'",
    "payment_applications": """
        SELECT a.payment_id, a.invoice_id, a.amount_applied FROM canonical.payment_applications a
        JOIN canonical.payments p USING (connection_id, payment_id)
        WHERE a.connection_id = ? AND p.deleted_at IS NULL AND p.status <> 'void'
    """,
    "invoice_balances": """
        SELECT invoice_id, total_amount, applied_amount, open_balance, derived_status,
               days_past_due, aging_bucket, balance_delta
        FROM reports.invoice_balances WHERE connection_id = ?
    """,
    "reconciliation_exceptions": """
        SELECT kind, CASE WHEN entity = 'invoice' THEN invoice_id ELSE payment_id END
        FROM reports.reconciliation_exceptions
        WHERE connection_id = ? AND kind IN ('balance_mismatch', 'orphan_application',
                                             'duplicate_payment')
    """,
    "rejected_records": "SELECT stream, record_id, reason FROM canonical.rejected_records "
    "WHERE connection_id = ?",
}


def truth_differences(
    warehouse: Path | Warehouse,
    ledger: Ledger,
    *,
    ids: IdMap,
    connection_id: str,
    as_of: date | None = None,
) -> tuple[list[str], int]:
    """What differs from the truth (empty when nothing does), and how many rows were compared.
    `warehouse`: a DuckDB file, or a `Warehouse` (either backend). The balances are the truth's
    as of `as_of` (default: the ledger's as_of), the date the reports were built for."""
    expected = _expected(ledger, ids, as_of or ledger.as_of)
    with _connect(warehouse) as conn:
        actual = {t: conn.execute(sql, [connection_id]).fetchall() for t, sql in _QUERIES.items()}
    problems = []
    for table, rows in actual.items():
        want, got = Counter(expected[table]), Counter(rows)
        if want != got:
            missing, extra = list((want - got).elements()), list((got - want).elements())
            problems.append(f"{table}: missing {missing[:5]}, unexpected {extra[:5]}")
    return problems, sum(len(rows) for rows in actual.values())


def _connect(warehouse: Path | Warehouse) -> AbstractContextManager[duckdb.DuckDBPyConnection]:
    if isinstance(warehouse, Warehouse):
        return warehouse.connect(read_only=True)
    return closing(duckdb.connect(str(warehouse), read_only=True))


def _expected(ledger: Ledger, ids: IdMap, as_of: date) -> dict[str, Iterable[tuple[object, ...]]]:
    posted = {p.payment_id for p in ledger.payments if p.status == "posted"}
    return {
        "customers": ((ids("customer", c.customer_id),) for c in ledger.customers),
        "invoices": ((ids("invoice", i.invoice_id), i.total_amount) for i in ledger.invoices),
        "payments": (
            (ids("payment", p.payment_id), p.amount)
            for p in ledger.payments
            if p.payment_id in posted
        ),
        "payment_applications": (
            (ids("payment", a.payment_id), ids("invoice", a.invoice_id), a.amount_applied)
            for a in ledger.applications
            if a.payment_id in posted
        ),
        "invoice_balances": (
            (
                ids("invoice", invoice_id),
                t.total_amount,
                t.applied,
                t.open_balance,
                t.status,
                t.days_past_due,
                t.aging_bucket,
                t.balance_delta,
            )
            for invoice_id, t in invoice_truth(ledger, as_of).items()
        ),
        "reconciliation_exceptions": (
            (kind, ids("invoice" if kind == "balance_mismatch" else "payment", entity))
            for kind, entity in expected_exceptions(ledger)
        ),
        "rejected_records": (),
    }
