"""Helpers for the end-to-end tests: run a project's jobs, read what they wrote, and what the
generator's truth says they should have written.

Warehouse rows are keyed by connection id, so a project may hold several connections. Each
source names ledger records its own way: an `IdMap` turns a ledger record (its kind and ledger
id) into the id the warehouse holds for it.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from datetime import UTC, date, datetime, timedelta
from decimal import Decimal

from pipelines.registry import SOURCES
from pipelines.runner import run_reports, run_syncs
from sandbox.generator import record_payment
from sandbox.ledger import Ledger, Payment
from sandbox.truth import expected_exceptions as truth_exceptions
from sandbox.truth import invoice_truth
from tests.project import Project

IdMap = Callable[[str, int], str]  # (kind, ledger id) → warehouse id

# The invoice-balances report's columns, and the truth attribute each must equal.
TRUTH_OF = {
    "total_amount": "total_amount",
    "applied_amount": "applied",
    "credits_applied": "credits_applied",
    "write_off_amount": "write_off_amount",
    "open_balance": "open_balance",
    "derived_status": "status",
    "days_past_due": "days_past_due",
    "aging_bucket": "aging_bucket",
    "balance_delta": "balance_delta",
}
# What every source's balances are compared on; a source that keeps credits and write-offs
# apart from payments compares on every column.
BALANCES = (
    "total_amount",
    "applied_amount",
    "open_balance",
    "derived_status",
    "days_past_due",
    "aging_bucket",
    "balance_delta",
)
EVERY_BALANCE = tuple(TRUTH_OF)


def new_payment(ledger: Ledger, at: datetime | None = None) -> tuple[Ledger, Payment]:
    """A payment received between two syncs (a few seconds ago unless `at`): 12.50, of which
    10.00 applies to the ledger's first open invoice and 2.50 stays unapplied."""
    open_invoice = next(i for i in ledger.invoices if i.status == "open")
    return record_payment(
        ledger,
        customer_id=open_invoice.customer_id,
        applications=[(open_invoice.invoice_id, Decimal("10.00"))],
        payment_date=ledger.as_of,
        at=at or datetime.now(UTC) - timedelta(seconds=5),
        unapplied=Decimal("2.50"),
        reference="incremental-test",
    )


def sync(project: Project) -> dict[str, dict[str, int]]:
    """Sync every connection, each without error; the records fetched, by connection and stream."""
    outcomes = run_syncs(project.config, project.config_path)
    assert [o.error for o in outcomes] == [None] * len(project.config.connections)
    return {
        o.name: {key.split("/")[1]: m["records_fetched"] for key, m in o.metadata.items()}
        for o in outcomes
    }


def report(project: Project, as_of: date) -> None:
    outcome = run_reports(project.config_path, as_of=as_of)
    assert outcome.success, outcome.error


def expected_balances(
    ledgers: Mapping[str, Ledger],
    ids: IdMap,
    as_of: date | None = None,
    columns: tuple[str, ...] = BALANCES,
) -> dict[tuple[str, str], tuple]:
    """The invoice balances the truth gives, by connection and invoice (as of each ledger's
    as-of date unless given)."""
    return {
        (connection_id, ids("invoice", invoice_id)): tuple(
            getattr(truth, TRUTH_OF[column]) for column in columns
        )
        for connection_id, ledger in ledgers.items()
        for invoice_id, truth in invoice_truth(ledger, as_of or ledger.as_of).items()
    }


def actual_balances(
    project: Project, columns: tuple[str, ...] = BALANCES
) -> dict[tuple[str, str], tuple]:
    rows = project.query(
        f"SELECT connection_id, invoice_id, {', '.join(columns)} FROM reports.invoice_balances"
    )
    return {(row[0], row[1]): tuple(row[2:]) for row in rows}


def expected_exceptions(ledgers: Mapping[str, Ledger], ids: IdMap) -> set[tuple[str, str, str]]:
    """The reconciliation exceptions the truth gives: (connection, kind, invoice or payment)."""
    return {
        (connection_id, kind, ids("invoice" if kind == "balance_mismatch" else "payment", entity))
        for connection_id, ledger in ledgers.items()
        for kind, entity in truth_exceptions(ledger)
    }


def actual_exceptions(project: Project) -> set[tuple[str, str, str]]:
    rows = project.query(
        "SELECT connection_id, kind, CASE WHEN entity = 'invoice' THEN invoice_id "
        "ELSE payment_id END FROM reports.reconciliation_exceptions"
    )
    return set(rows)


def snapshot(project: Project) -> dict[str, list[tuple]]:
    """Everything but the bookkeeping columns that record when a row was last fetched: the
    canonical tables, the cursors, the balances report, and every raw stream of the project's
    sources."""
    tables = {
        "canonical.customers": "*",
        "canonical.invoices": "*",
        "canonical.payments": "*",
        "canonical.payment_applications": "*",
        "canonical.rejected_records": "connection_id, stream, record_id, reason",
        "sync.cursors": "connection_id, stream, cursor",
        "reports.invoice_balances": "*",
    }
    for source in sorted({connection.source for connection in project.config.connections}):
        for stream in SOURCES[source].streams:
            tables[f"raw.{source}__{stream.name}"] = (
                "connection_id, record_id, payload_md5, changed_at, vanished_at"
            )
    return {t: project.query(f"SELECT {cols} FROM {t} ORDER BY ALL") for t, cols in tables.items()}
