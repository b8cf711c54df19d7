"""The Dagster jobs against a running Zoho Books sandbox, checked against the generator's truth.

Covers the whole chain: token grant, paging, payment details, landing, raw load, mapping,
the invoice-balances report; then an incremental run that asks only for what changed, and a
run with no changes that leaves the warehouse exactly as it was.
"""

from __future__ import annotations

import hashlib

from sandbox.zoho_books.ids import zoho_id
from sandbox.zoho_books.testing import zoho_connection
from tests.e2e import IdMap, actual_balances, expected_balances, new_payment, report, snapshot, sync
from tests.project import both_warehouse_backends

ORG = "acme-books"
SIZE = {"customers": 30, "invoices": 250, "payments": 220}

pytestmark = both_warehouse_backends


def _ids(org_id: str) -> IdMap:
    return lambda kind, ledger_id: zoho_id(org_id, kind, ledger_id)


def test_sync_equals_ground_truth_then_incremental_then_idempotent(zoho_sandbox, make_project):
    server = zoho_sandbox(organizations=(ORG,), ledger_size=SIZE)
    org_id = server.app.organization_id(ORG)
    project = make_project([zoho_connection(server, ORG)])
    ledger = server.app.ledger(ORG)

    sync(project)
    report(project, ledger.as_of)

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
    assert actual_balances(project) == expected_balances({ORG: ledger}, _ids(org_id))

    # A new payment arrives: the next sync asks each list once. The payment names one invoice
    # whose totals confirm it, so its application is derived from its list row: its detail is
    # fetched only where its id draws it into the 2% verification sample.
    ledger, payment = new_payment(ledger)
    server.app.set_ledger(ORG, ledger)
    server.log.reset()

    sync(project)
    report(project, ledger.as_of)

    data_requests = [r for r in server.log.records() if r.path.startswith("/books/v3")]
    payment_id = zoho_id(org_id, "payment", payment.payment_id)
    sampled = int(hashlib.md5(payment_id.encode()).hexdigest()[:8], 16) / 2**32 < 0.02
    assert sorted(r.path for r in data_requests) == sorted(
        [
            "/books/v3/contacts",
            "/books/v3/invoices",
            "/books/v3/customerpayments",
            *([f"/books/v3/customerpayments/{payment_id}"] if sampled else []),
        ]
    )
    assert project.query(
        "SELECT invoice_id, amount_applied FROM canonical.payment_applications "
        "WHERE payment_id = ?",
        [payment_id],
    ) == [
        (zoho_id(org_id, "invoice", a.invoice_id), a.amount_applied)
        for a in ledger.applications
        if a.payment_id == payment.payment_id
    ]
    assert actual_balances(project) == expected_balances({ORG: ledger}, _ids(org_id))

    # Nothing changed: running again leaves the warehouse exactly as it was.
    before = snapshot(project)
    server.log.reset()
    sync(project)
    report(project, ledger.as_of)
    assert snapshot(project) == before
    assert server.log.count(path_prefix="/books/v3/customerpayments/") == 0
