"""The Dagster jobs against a running Business Central sandbox, checked against the generator's
truth: a first sync, an incremental one, one with nothing new; a journal posted between two
syncs; a payment line deleted instead of posted.

In the sandbox's initial state every payment is an unposted journal line (or several), so the
warehouse holds them as `pending` and each invoice's remainingAmount still includes them; the
reports' expected source balance (open + pending applications) reconciles that to the cent.
"""

from __future__ import annotations

from decimal import Decimal

import httpx

from sandbox.business_central.ids import bc_id
from sandbox.business_central.testing import BC_APP, bc_connection
from sandbox.faults import FaultConfig
from sandbox.ledger import Ledger
from sandbox.truth import invoice_truth
from tests.e2e import (
    IdMap,
    actual_balances,
    actual_exceptions,
    expected_balances,
    expected_exceptions,
    new_payment,
    report,
    snapshot,
    sync,
)

COMPANY = "cronus-us"
SIZE = {"customers": 20, "invoices": 160, "payments": 140}
PAGE_SIZE = 40  # Prefer: odata.maxpagesize, so every listing pages
API = "/v2.0/{tenant}/production/api/v2.0"


def _project(bc_sandbox, make_project):
    server = bc_sandbox(companies=(COMPANY,), ledger_size=SIZE)
    project = make_project([bc_connection(server, COMPANY, page_size=PAGE_SIZE)])
    return server, project, server.app.company_id(COMPANY)


def _ids(company: str, ledger: Ledger) -> IdMap:
    """A Business Central payment is its journal lines' document number."""
    numbers = {p.payment_id: p.payment_number for p in ledger.payments}
    return lambda kind, ledger_id: (
        numbers[ledger_id] if kind == "payment" else bc_id(company, kind, ledger_id)
    )


def _payment_states(project) -> dict[str, tuple[str, bool]]:
    rows = project.query(
        "SELECT payment_id, status, deleted_at IS NOT NULL FROM canonical.payments"
    )
    return {payment_id: (status, deleted) for payment_id, status, deleted in rows}


def test_sync_equals_ground_truth_then_incremental_then_idempotent(bc_sandbox, make_project):
    server, project, company = _project(bc_sandbox, make_project)
    ledger = server.app.ledger(COMPANY)

    sync(project)
    report(project, ledger.as_of)

    served = [p for p in ledger.payments if p.status != "void"]
    counts = project.query(
        "SELECT (SELECT count(*) FROM canonical.customers), "
        "(SELECT count(*) FROM canonical.invoices), (SELECT count(*) FROM canonical.payments), "
        "(SELECT count(*) FROM canonical.payment_applications)"
    )[0]
    served_ids = {p.payment_id for p in served}
    applications = [a for a in ledger.applications if a.payment_id in served_ids]
    assert counts == (len(ledger.customers), len(ledger.invoices), len(served), len(applications))
    assert project.query("SELECT count(*) FROM canonical.rejected_records") == [(0,)]
    amounts = dict(project.query("SELECT payment_id, amount FROM canonical.payments"))
    assert amounts == {p.payment_number: p.amount for p in served}
    assert set(_payment_states(project).values()) == {("pending", False)}
    credits = dict(
        project.query(
            "SELECT invoice_id, credits_applied + write_off_amount FROM canonical.invoices"
        )
    )
    assert credits == {
        bc_id(company, "invoice", i.invoice_id): i.credits_applied + i.write_off_amount
        for i in ledger.invoices
    }
    assert actual_balances(project) == expected_balances({COMPANY: ledger}, _ids(company, ledger))
    assert actual_exceptions(project) == expected_exceptions(
        {COMPANY: ledger}, _ids(company, ledger)
    )

    # A new payment arrives: customers are listed in full (their balanceDue is computed), the
    # documents only as changed since the cursor, the payment journals in full.
    ledger, payment = new_payment(ledger)
    server.app.set_ledger(COMPANY, ledger)
    server.log.reset()

    sync(project)
    report(project, ledger.as_of)

    data = [r for r in server.log.records() if "/api/v2.0/" in r.path]
    assert not [r for r in data if {"$top", "$skip"} & set(r.query)]
    listed = {}
    for record in data:
        collection = record.path.rsplit("/", 1)[1]
        listed.setdefault(collection, []).append(record)
    assert {c: len(rs) for c, rs in listed.items()} == {
        "customers": -(-len(ledger.customers) // PAGE_SIZE),
        "salesInvoices": 1,
        "salesCreditMemos": 1,
        "customerPaymentJournals": 1,
        "customerPayments": sum(
            -(-len([ln for ln in server.app.served_lines(COMPANY) if ln.journal == j]) // PAGE_SIZE)
            for j in range(2)
        ),
    }
    for collection in ("salesInvoices", "salesCreditMemos"):
        (filter_,) = listed[collection][0].query["$filter"]
        assert filter_.startswith("lastModifiedDateTime gt ") and filter_.endswith("Z")
    for collection in ("customers", "customerPaymentJournals", "customerPayments"):
        assert all("$filter" not in r.query for r in listed[collection])
    assert project.query(
        "SELECT amount, status FROM canonical.payments WHERE payment_id = ?",
        [payment.payment_number],
    ) == [(Decimal("12.50"), "pending")]
    assert actual_balances(project) == expected_balances({COMPANY: ledger}, _ids(company, ledger))

    # Nothing changed: running again leaves the warehouse exactly as it was.
    before = snapshot(project)
    sync(project)
    report(project, ledger.as_of)
    assert snapshot(project) == before


def test_posting_a_journal_between_syncs_keeps_its_payments_as_posted(bc_sandbox, make_project):
    server, project, company = _project(bc_sandbox, make_project)
    ledger = server.app.ledger(COMPANY)
    sync(project)
    report(project, ledger.as_of)
    balances_before = dict(
        project.query("SELECT invoice_id, source_balance FROM canonical.invoices")
    )

    posted_lines = server.app.post_journal(COMPANY, "CASHRCPT")
    sync(project)
    report(project, ledger.as_of)

    posted_payments = {line.payment.payment_number for line in posted_lines}
    states = _payment_states(project)
    assert len(states) == len([p for p in ledger.payments if p.status != "void"])
    assert {pid for pid, state in states.items() if state == ("posted", False)} == posted_payments
    assert {pid for pid, state in states.items() if state != ("posted", False)} == (
        set(states) - posted_payments
    )
    assert {state for pid, state in states.items() if pid not in posted_payments} == {
        ("pending", False)
    }
    # The posted money left the source balances, and every invoice still reconciles.
    fell: dict[str, Decimal] = {}
    for line in posted_lines:
        if line.invoice_id in {i.invoice_id for i in ledger.invoices}:
            key = bc_id(company, "invoice", line.invoice_id)
            fell[key] = fell.get(key, Decimal(0)) + line.amount
    balances_after = dict(
        project.query("SELECT invoice_id, source_balance FROM canonical.invoices")
    )
    assert {k: balances_before[k] - balances_after[k] for k in fell} == fell
    assert actual_balances(project) == expected_balances({COMPANY: ledger}, _ids(company, ledger))
    assert actual_exceptions(project) == expected_exceptions(
        {COMPANY: ledger}, _ids(company, ledger)
    )


def test_a_deleted_payment_line_is_reported_vanished(bc_sandbox, make_project):
    server, project, company = _project(bc_sandbox, make_project)
    ledger = server.app.ledger(COMPANY)
    sync(project)

    line = next(ln for ln in server.app.served_lines(COMPANY) if ln.invoice_id is not None)
    token = httpx.post(
        f"{server.url}/{server.app.config.tenant}/oauth2/v2.0/token",
        data={
            "grant_type": "client_credentials",
            "client_id": BC_APP.client_id,
            "client_secret": BC_APP.client_secret,
            "scope": "https://api.businesscentral.dynamics.com/.default",
        },
    ).json()["access_token"]
    api = server.url + API.format(tenant=server.app.config.tenant)
    journal = server.app.journal_id(COMPANY, server.app.config.journals[line.journal].code)
    deleted = httpx.delete(
        f"{api}/companies({company})/customerPaymentJournals({journal})"
        f"/customerPayments({line.line_id})",
        headers={"Authorization": f"Bearer {token}", "If-Match": "*"},
    )
    assert deleted.status_code == 204
    sync(project)
    report(project, ledger.as_of)

    payment = line.payment.payment_number
    states = _payment_states(project)
    assert states[payment] == ("pending", True)
    assert [pid for pid, (_, gone) in states.items() if gone] == [payment]
    vanished = project.query(
        "SELECT payment_id FROM reports.reconciliation_exceptions WHERE kind = 'record_vanished'"
    )
    assert vanished == [(payment,)]
    # The source never counted the line, and the warehouse no longer does: still reconciled.
    delta = project.query(
        "SELECT balance_delta FROM reports.invoice_balances WHERE invoice_id = ?",
        [bc_id(company, "invoice", line.invoice_id)],
    )
    expected_delta = invoice_truth(ledger, ledger.as_of)[line.invoice_id].balance_delta
    assert delta == [(expected_delta,)]


def test_a_faulty_service_still_gives_the_truth(bc_sandbox, make_project):
    """429 bursts without Retry-After, 5xx with retry-after, truncated bodies and rows repeated
    across pages: retried, deduplicated, and the warehouse still equals the truth."""
    faults = FaultConfig(
        seed=11,
        burst_429=3,
        retry_after_s=None,
        error_rate=0.15,
        truncate_rate=0.1,
        duplicate_rows_rate=0.3,
    )
    server = bc_sandbox(companies=(COMPANY,), ledger_size=SIZE, faults=faults)
    project = make_project([bc_connection(server, COMPANY, page_size=PAGE_SIZE)])
    ledger = server.app.ledger(COMPANY)

    sync(project)
    report(project, ledger.as_of)

    assert server.log.count(fault="burst_429") == 3
    assert server.log.count(where=lambda r: bool(r.faults)) > 3
    assert project.query("SELECT count(*) FROM canonical.rejected_records") == [(0,)]
    assert actual_balances(project) == expected_balances(
        {COMPANY: ledger}, _ids(server.app.company_id(COMPANY), ledger)
    )
