"""A Zoho Books connection's warehouse rows against its sandbox ledger's ground truth.

Compares the live canonical customers, invoices, payments and applications, and the invoice
balances report as of the ledger's date (`sandbox.truth`), to the cent; a quarantined record
is a difference too.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Iterable
from pathlib import Path

import duckdb

from sandbox.ledger import Ledger
from sandbox.truth import invoice_truth
from sandbox.zoho_books.ids import zoho_id

__all__ = ["truth_differences"]

_LIVE = {
    "customers": "SELECT customer_id FROM canonical.customers",
    "invoices": "SELECT invoice_id, status, total_amount FROM canonical.invoices",
    "payments": "SELECT payment_id, amount FROM canonical.payments",
}
_APPLICATIONS = """
    SELECT a.payment_id, a.invoice_id, a.amount_applied FROM canonical.payment_applications a
    JOIN canonical.payments p USING (connection_id, payment_id)
    WHERE a.connection_id = ? AND p.deleted_at IS NULL
"""
_BALANCES = """
    SELECT invoice_id, total_amount, applied_amount, open_balance, derived_status,
           days_past_due, aging_bucket
    FROM reports.invoice_balances WHERE connection_id = ?
"""
_QUARANTINE = "SELECT stream, record_id, reason FROM canonical.rejected_records "
_QUARANTINE += "WHERE connection_id = ?"


def truth_differences(
    warehouse: Path, ledger: Ledger, *, org_id: str, connection_id: str
) -> tuple[list[str], int]:
    """What differs from the truth (empty when nothing does), and how many rows were compared."""
    posted = {p.payment_id for p in ledger.payments if p.status == "posted"}
    expected: dict[str, Iterable[tuple[object, ...]]] = {
        "customers": ((zoho_id(org_id, "contact", c.customer_id),) for c in ledger.customers),
        "invoices": (
            (zoho_id(org_id, "invoice", i.invoice_id), i.status, i.total_amount)
            for i in ledger.invoices
        ),
        "payments": (
            (zoho_id(org_id, "payment", p.payment_id), p.amount)
            for p in ledger.payments
            if p.payment_id in posted
        ),
        "payment_applications": (
            (
                zoho_id(org_id, "payment", a.payment_id),
                zoho_id(org_id, "invoice", a.invoice_id),
                a.amount_applied,
            )
            for a in ledger.applications
            if a.payment_id in posted
        ),
        "invoice_balances": (
            (
                zoho_id(org_id, "invoice", invoice_id),
                t.total_amount,
                t.applied,
                t.open_balance,
                t.status,
                t.days_past_due,
                t.aging_bucket,
            )
            for invoice_id, t in invoice_truth(ledger, ledger.as_of).items()
        ),
        "rejected_records": (),
    }
    queries = {
        **{t: f"{sql} WHERE connection_id = ? AND deleted_at IS NULL" for t, sql in _LIVE.items()},
        "payment_applications": _APPLICATIONS,
        "invoice_balances": _BALANCES,
        "rejected_records": _QUARANTINE,
    }
    conn = duckdb.connect(str(warehouse), read_only=True)
    try:
        actual = {t: conn.execute(sql, [connection_id]).fetchall() for t, sql in queries.items()}
    finally:
        conn.close()
    problems = []
    for table, rows in actual.items():
        want, got = Counter(expected[table]), Counter(rows)
        if want != got:
            missing, extra = list((want - got).elements()), list((got - want).elements())
            problems.append(f"{table}: missing {missing[:5]}, unexpected {extra[:5]}")
    return problems, sum(len(rows) for rows in actual.values())
