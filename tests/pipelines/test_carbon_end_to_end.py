"""The Dagster jobs against a running Carbon sandbox, checked against the generator's truth.

The sandbox caps every response at 40 rows (its `max-rows`) while the connector asks for 1,000,
so every large listing comes back truncated, silently, and must still arrive whole. Covers
customers with their payment terms, the `salesInvoices` view, receipts (posted and voided),
settlements, credit memos, landing, raw load, mapping and the reports, equal to the truth to the
cent; then an incremental run that asks only for what changed; a run with no changes that leaves
the warehouse as it was; and a payment received as a draft and posted between two syncs, which
changes invoice balances without touching the invoices' `updatedAt`.
"""

from __future__ import annotations

import json
import math
from datetime import UTC, datetime, timedelta
from decimal import Decimal

from pipelines.runner import run_syncs
from sandbox.carbon.ids import carbon_id
from sandbox.carbon.testing import carbon_connection
from sandbox.faults import FaultConfig
from sandbox.generator import record_payment, void_payment
from sandbox.ledger import Ledger
from tests.e2e import (
    EVERY_BALANCE,
    actual_balances,
    actual_exceptions,
    expected_balances,
    expected_exceptions,
    report,
    snapshot,
    sync,
)

COMPANY = "ironbark-mfg"
SIZE = {"customers": 30, "invoices": 250, "payments": 220}
MAX_ROWS = 40
PATHS = (
    "/customer",
    "/customerPayment",
    "/paymentTerm",
    "/memo",
    "/payment",
    "/invoiceSettlement",
    "/salesInvoices",
)


def _id(kind: str, ledger_id: int) -> str:
    return carbon_id(COMPANY, kind, ledger_id)


def _changed(row) -> datetime:
    return row.get("updatedAt") or row["createdAt"]


def _expected_incremental(server, project, changed_sources: set[str]) -> dict[str, set[str]]:
    """What an incremental sync should fetch per stream, by the filters of the Carbon contract:
    rows changed since the cursor (less the 15-minute lookback); the settlements of the memos and
    payments that changed (`changed_sources`: stored anew, whatever the lookback lists again);
    and every open invoice plus those settlements' invoices."""
    cursors = dict(project.query("SELECT stream, cursor FROM sync.cursors"))

    def rows(table: str, keep=lambda row: True):
        return [row for row in server.app.rows(COMPANY, table) if keep(row)]

    def since(stream: str, table_rows, changed=_changed) -> set[str]:
        start = cursors[stream] - timedelta(minutes=15)
        return {row["id"] for row in table_rows if changed(row) >= start}

    payments = since("payment", rows("payment", lambda row: row["paymentType"] == "Receipt"))
    memos = since("memo", rows("memo"))
    settlements = rows("invoiceSettlement", lambda row: row["targetSalesInvoiceId"] is not None)
    by_source = [row for row in settlements if {row["paymentId"], row["memoId"]} & changed_sources]
    invoices = rows("salesInvoices")
    targets = {row["targetSalesInvoiceId"] for row in by_source} & {r["id"] for r in invoices}
    return {
        "customer": since("customer", rows("customer")),
        "memo": memos,
        "payment": payments,
        "invoice_settlement": {row["id"] for row in by_source}
        | since("invoice_settlement", settlements, lambda row: row["createdAt"]),
        "sales_invoices": since("sales_invoices", invoices)
        | {row["id"] for row in invoices if row["balance"] > 0}
        | targets,
    }


def _settled_open_invoice(ledger: Ledger, skip: int = 0):
    """An open invoice whose source balance is what is truly owed (no deliberate mismatch)."""
    settled = [
        i
        for i in ledger.invoices
        if i.status == "open"
        and i.source_balance == i.total_amount - i.credits_applied - i.write_off_amount
    ]
    return settled[skip]


def test_sync_equals_ground_truth_then_incremental_then_idempotent(carbon_sandbox, make_project):
    server = carbon_sandbox(companies=(COMPANY,), ledger_size=SIZE, max_rows=MAX_ROWS)
    project = make_project([carbon_connection(server, COMPANY)])
    ledger = server.app.ledger(COMPANY)

    sync(project)
    report(project, ledger.as_of)

    assert project.query("SELECT count(*) FROM canonical.rejected_records") == [(0,)]
    terms = project.query("SELECT customer_id, payment_terms_days FROM canonical.customers")
    assert dict(terms) == {
        _id("customer", c.customer_id): c.payment_terms_days for c in ledger.customers
    }
    payments = project.query("SELECT payment_id, amount, status FROM canonical.payments")
    assert {p: (amount, status) for p, amount, status in payments} == {
        _id("payment", p.payment_id): (p.amount, p.status) for p in ledger.payments
    }
    applications = project.query(
        "SELECT application_id, payment_id, invoice_id, amount_applied, applied_date "
        "FROM canonical.payment_applications"
    )
    assert set(applications) == {
        (
            _id("settlement", a.application_id),
            _id("payment", a.payment_id),
            _id("invoice", a.invoice_id),
            a.amount_applied,
            a.applied_date,
        )
        for a in ledger.applications
    }
    assert actual_balances(project, EVERY_BALANCE) == expected_balances(
        {COMPANY: ledger}, _id, columns=EVERY_BALANCE
    )
    assert actual_exceptions(project) == expected_exceptions({COMPANY: ledger}, _id)
    assert server.log.count(status=429) == 0

    # Between syncs: one payment pays an open invoice off (it leaves `balance.gt.0`, so only the
    # settlement tells the connector to re-read it), another is voided.
    open_invoice = _settled_open_invoice(ledger)
    now = datetime.now(UTC)
    ledger, payment = record_payment(
        ledger,
        customer_id=open_invoice.customer_id,
        applications=[(open_invoice.invoice_id, open_invoice.source_balance)],
        payment_date=ledger.as_of,
        at=now - timedelta(seconds=5),
        reference="incremental-test",
    )
    voided = next(
        p
        for p in ledger.payments
        if p.status == "posted" and any(a.payment_id == p.payment_id for a in ledger.applications)
    )
    ledger = void_payment(ledger, voided.payment_id, at=now - timedelta(seconds=4))
    server.app.set_ledger(COMPANY, ledger)
    server.log.reset()

    new = {_id("payment", payment.payment_id), _id("payment", voided.payment_id)}
    expected = _expected_incremental(server, project, new)
    fetched = sync(project)[COMPANY]
    report(project, ledger.as_of)

    assert _id("invoice", open_invoice.invoice_id) in expected["sales_invoices"]
    assert new <= expected["payment"]
    assert fetched == {
        **{stream: len(ids) for stream, ids in expected.items()},
        "customer_payment": len(ledger.customers),  # listed in full: it has no createdAt
        "payment_term": len(server.app.rows(COMPANY, "paymentTerm")),
    }
    requests = {path: server.log.count(path=path) for path in PATHS}
    assert requests == {
        **dict.fromkeys(PATHS, 1),
        "/salesInvoices": math.ceil(len(expected["sales_invoices"]) / MAX_ROWS),
    }
    assert actual_balances(project, EVERY_BALANCE) == expected_balances(
        {COMPANY: ledger}, _id, columns=EVERY_BALANCE
    )
    assert project.query(
        "SELECT status FROM canonical.payments WHERE payment_id = ?",
        [_id("payment", voided.payment_id)],
    ) == [("void",)]

    # Nothing changed: running again leaves the warehouse exactly as it was.
    before = snapshot(project)
    sync(project)
    report(project, ledger.as_of)
    assert snapshot(project) == before


def test_a_payment_posted_between_syncs_changes_balances_the_invoices_do_not_show(
    carbon_sandbox, make_project
):
    server = carbon_sandbox(companies=(COMPANY,), ledger_size=SIZE)
    project = make_project([carbon_connection(server, COMPANY)])
    ledger = server.app.ledger(COMPANY)
    sync(project)

    # Money received and entered, not yet posted: a draft paying one invoice off and another
    # in part. Carbon's invoice balances do not count it yet.
    paid_off, partly = _settled_open_invoice(ledger), _settled_open_invoice(ledger, skip=1)
    ledger, payment = record_payment(
        ledger,
        customer_id=paid_off.customer_id,
        applications=[(paid_off.invoice_id, paid_off.source_balance)],
        payment_date=ledger.as_of,
        at=datetime.now(UTC) - timedelta(seconds=5),
    )
    ledger, other = record_payment(
        ledger,
        customer_id=partly.customer_id,
        applications=[(partly.invoice_id, Decimal("10.00"))],
        payment_date=ledger.as_of,
        at=datetime.now(UTC) - timedelta(seconds=5),
    )
    drafts = {payment.payment_id, other.payment_id}
    server.app.set_ledger(COMPANY, ledger, draft_payments=drafts)
    ids = [_id("invoice", paid_off.invoice_id), _id("invoice", partly.invoice_id)]
    sync(project)
    report(project, ledger.as_of)

    pending = project.query("SELECT payment_id FROM canonical.payments WHERE status = 'pending'")
    assert set(pending) == {(_id("payment", p),) for p in drafts}
    source = dict(
        project.query(
            "SELECT invoice_id, source_balance FROM canonical.invoices WHERE invoice_id IN (?, ?)",
            ids,
        )
    )
    assert source == {ids[0]: paid_off.source_balance, ids[1]: partly.source_balance}
    # The reports count pending money as applied and expect the source not to show it yet.
    assert actual_balances(project, EVERY_BALANCE) == expected_balances(
        {COMPANY: ledger}, _id, columns=EVERY_BALANCE
    )

    # Both are posted. The invoices' rows do not change: only the view's balance and status do.
    posted_at = datetime.now(UTC) - timedelta(seconds=2)
    for payment_id in drafts:
        server.app.post_payment(COMPANY, payment_id, at=posted_at)
    server.log.reset()
    sync(project)
    report(project, ledger.as_of)

    source = dict(
        project.query(
            "SELECT invoice_id, source_balance FROM canonical.invoices WHERE invoice_id IN (?, ?)",
            ids,
        )
    )
    assert source == {ids[0]: Decimal("0"), ids[1]: partly.source_balance - Decimal("10.00")}
    raw = project.query(
        "SELECT payload FROM raw.carbon__sales_invoices WHERE record_id IN (?, ?)", ids
    )
    assert [json.loads(payload)["updatedAt"] for (payload,) in raw] == [None, None]
    assert project.query("SELECT count(*) FROM canonical.payments WHERE status = 'pending'") == [
        (0,)
    ]
    assert actual_balances(project, EVERY_BALANCE) == expected_balances(
        {COMPANY: ledger}, _id, columns=EVERY_BALANCE
    )


def test_a_column_error_fails_the_run_with_postgrests_message(
    carbon_sandbox, make_project, monkeypatch
):
    from connectors.carbon import settings

    monkeypatch.setitem(
        settings.ENDPOINTS, "customer", settings.Endpoint("customer", select="id,nmae")
    )
    server = carbon_sandbox(companies=(COMPANY,), ledger_size={"customers": 3})
    project = make_project([carbon_connection(server, COMPANY)])

    [outcome] = run_syncs(project.config, project.config_path)

    assert outcome.error is not None
    assert "column customer.nmae does not exist [code 42703]" in outcome.error
    assert 'hint: Perhaps you meant to reference the column "customer.name".' in outcome.error


def test_a_sync_interrupted_between_payments_and_invoices_reads_the_paid_invoice_when_rerun(
    carbon_sandbox, make_project
):
    """A payment pays an invoice off (only its settlement says so); a later payment moves the
    payments' cursor past it. A sync that stores the payments and then stops (here: the
    settlements fail) is run again: which invoices to read again comes from the warehouse, not
    from the stopped run's memory, so the paid invoice is read and balances equal the truth."""
    server = carbon_sandbox(companies=(COMPANY,), ledger_size=SIZE, max_rows=MAX_ROWS)
    project = make_project([carbon_connection(server, COMPANY, max_attempts=1)])
    ledger = server.app.ledger(COMPANY)
    sync(project)

    open_invoice = _settled_open_invoice(ledger)
    now = datetime.now(UTC)
    ledger, _ = record_payment(
        ledger,
        customer_id=open_invoice.customer_id,
        applications=[(open_invoice.invoice_id, open_invoice.source_balance)],
        payment_date=ledger.as_of,
        at=now - timedelta(hours=1),  # older than the lookback behind the next payment
    )
    ledger, _ = record_payment(
        ledger,
        customer_id=open_invoice.customer_id,
        applications=(),
        payment_date=ledger.as_of,
        at=now - timedelta(seconds=5),
        unapplied=Decimal("5.00"),
    )
    server.app.set_ledger(COMPANY, ledger)
    server.faults = FaultConfig(error_rate=1.0, paths=("/invoiceSettlement",))
    stopped = run_syncs(project.config, project.config_path)
    assert stopped[0].error is not None
    assert "invoice_settlement" in str(stopped[0].error)

    server.faults = FaultConfig()
    sync(project)
    report(project, ledger.as_of)
    assert actual_balances(project, EVERY_BALANCE) == expected_balances(
        {COMPANY: ledger}, _id, columns=EVERY_BALANCE
    )
