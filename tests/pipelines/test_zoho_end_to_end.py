"""The Dagster jobs against a running Zoho Books sandbox, checked against the generator's truth.

Covers the whole chain: token grant, paging, payment details, landing, raw load, mapping,
the invoice-balances report; then an incremental run that asks only for what changed, and a
run with no changes that leaves the warehouse exactly as it was.
"""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from decimal import Decimal

from pipelines.runner import run_reports, run_syncs
from sandbox.generator import record_payment
from sandbox.ledger import Ledger
from sandbox.truth import invoice_truth
from sandbox.zoho_books.ids import zoho_id
from tests.conftest import zoho_connection

ORG = "acme-books"
SIZE = {"customers": 30, "invoices": 250, "payments": 220}


def _sync(project, *, full_refresh: bool = False) -> None:
    outcomes = run_syncs(project.config, project.config_path, full_refresh=full_refresh)
    assert [o.error for o in outcomes] == [None]


def _report(project, ledger: Ledger) -> None:
    outcome = run_reports(project.config, project.config_path, as_of=ledger.as_of)
    assert outcome.success, outcome.error


def _expected_balances(ledger: Ledger, org_id: str) -> dict[str, tuple]:
    return {
        zoho_id(org_id, "invoice", invoice_id): (
            truth.total_amount,
            truth.applied,
            truth.open_balance,
            truth.status,
            truth.days_past_due,
            truth.aging_bucket,
        )
        for invoice_id, truth in invoice_truth(ledger, ledger.as_of).items()
    }


def _actual_balances(project) -> dict[str, tuple]:
    rows = project.query(
        "SELECT invoice_id, total_amount, applied_amount, open_balance, derived_status, "
        "days_past_due, aging_bucket FROM reports.invoice_balances"
    )
    return {row[0]: tuple(row[1:]) for row in rows}


def _snapshot(project) -> dict[str, list[tuple]]:
    """Everything but the bookkeeping columns that record when a row was last fetched."""
    tables = {
        "canonical.customers": "*",
        "canonical.invoices": "*",
        "canonical.payments": "*",
        "canonical.payment_applications": "*",
        "canonical.rejected_records": "connection_id, stream, record_id, reason",
        "sync.cursors": "connection_id, stream, cursor",
        "reports.invoice_balances": "*",
    }
    snapshot = {
        t: project.query(f"SELECT {cols} FROM {t} ORDER BY ALL") for t, cols in tables.items()
    }
    for stream in ("contacts", "invoices", "customerpayments", "customerpayment_details"):
        snapshot[stream] = project.query(
            f"SELECT record_id, payload_md5, changed_at, vanished_at "
            f"FROM raw.zoho_books__{stream} ORDER BY ALL"
        )
    return snapshot


def test_sync_equals_ground_truth_then_incremental_then_idempotent(zoho_sandbox, make_project):
    server = zoho_sandbox(organizations=(ORG,), ledger_size=SIZE)
    org_id = server.app.organization_id(ORG)
    project = make_project([zoho_connection(server, ORG)])
    ledger = server.app.ledger(ORG)

    _sync(project)
    _report(project, ledger)

    posted = [p for p in ledger.payments if p.status == "posted"]
    (customers, invoices, payments) = project.query(
        "SELECT (SELECT count(*) FROM canonical.customers), "
        "(SELECT count(*) FROM canonical.invoices), (SELECT count(*) FROM canonical.payments)"
    )[0]
    assert (customers, invoices, payments) == (
        len(ledger.customers),
        len(ledger.invoices),
        len(posted),
    )
    assert project.query("SELECT count(*) FROM canonical.rejected_records") == [(0,)]
    amounts = dict(project.query("SELECT payment_id, amount FROM canonical.payments"))
    assert amounts == {zoho_id(org_id, "payment", p.payment_id): p.amount for p in posted}
    assert _actual_balances(project) == _expected_balances(ledger, org_id)

    # A new payment arrives: the next sync asks each list once and fetches one detail.
    open_invoice = next(i for i in ledger.invoices if i.status == "open")
    ledger, payment = record_payment(
        ledger,
        customer_id=open_invoice.customer_id,
        applications=[(open_invoice.invoice_id, Decimal("10.00"))],
        payment_date=ledger.as_of,
        at=datetime.now(UTC) - timedelta(seconds=5),
        unapplied=Decimal("2.50"),
        reference="incremental-test",
    )
    server.app.set_ledger(ORG, ledger)
    server.log.reset()

    _sync(project)
    _report(project, ledger)

    data_requests = [r for r in server.log.records() if r.path.startswith("/books/v3")]
    assert sorted(r.path for r in data_requests) == sorted(
        [
            "/books/v3/contacts",
            "/books/v3/invoices",
            "/books/v3/customerpayments",
            f"/books/v3/customerpayments/{zoho_id(org_id, 'payment', payment.payment_id)}",
        ]
    )
    assert _actual_balances(project) == _expected_balances(ledger, org_id)

    # Nothing changed: running again leaves the warehouse exactly as it was.
    before = _snapshot(project)
    server.log.reset()
    _sync(project)
    _report(project, ledger)
    assert _snapshot(project) == before
    assert server.log.count(path_prefix="/books/v3/customerpayments/") == 0
