"""The Dagster jobs against a running Simpro build, checked against the generator's truth.

Two companies on one build, their connections sharing the build's budget: concurrent paging,
both customer lists, credit notes, payment lines, landing, raw load, mapping and the reports,
equal to the truth of what each company serves to the cent. Then an incremental run that asks
only for what changed (a new payment with unapplied cash, a payment voided), and a run with
no changes that leaves the warehouse exactly as it was. A small build at Simpro's real budget,
10 requests a second, against the sandbox's real limit never sees a 429.
"""

from __future__ import annotations

from datetime import UTC, date, datetime, timedelta
from decimal import Decimal
from pathlib import Path
from zoneinfo import ZoneInfo

import pytest

from pipelines.config import ConfigError, load_config
from pipelines.sources import open_connector
from sandbox.generator import void_payment
from sandbox.ledger import Ledger, Payment
from sandbox.simpro.ids import simpro_id
from sandbox.simpro.testing import simpro_connection
from tests.e2e import (
    actual_balances,
    actual_exceptions,
    expected_balances,
    expected_exceptions,
    new_payment,
    report,
    snapshot,
    sync,
)

COMPANIES = ("summit-plumbing", "summit-electrical")
SIZE = {"customers": 30, "invoices": 250, "payments": 220}
PAGE_SIZE = 50  # so the larger lists take several pages, fetched concurrently
STREAMS = (
    "customer_companies",
    "customer_individuals",
    "customer_invoices",
    "credit_notes",
    "customer_payments",
)
COLLECTION_PATHS = (
    "customers/companies/",
    "customers/individuals/",
    "customerInvoices/",
    "creditNotes/",
    "customerPayments/",
)


def _id(kind: str, ledger_id: int) -> str:
    return str(simpro_id(kind, ledger_id))


def _payments(ledgers: dict[str, Ledger]) -> dict[tuple[str, str], tuple]:
    return {
        (company, _id("payment", p.payment_id)): (
            p.amount,
            "void" if p.status == "void" else "posted",
        )
        for company, ledger in ledgers.items()
        for p in ledger.payments
    }


def _applications(ledgers: dict[str, Ledger]) -> set[tuple]:
    return {
        (
            company,
            _id("payment", a.payment_id),
            _id("invoice", a.invoice_id),
            a.amount_applied,
            a.applied_date,
        )
        for company, ledger in ledgers.items()
        for a in ledger.applications
    }


def _modified_after(ledger: Ledger, stream: str, day: date, zone: ZoneInfo) -> int:
    """How many of a stream's records were last modified after `day` (build-local)."""
    modified = {
        "customer_companies": [c.updated_at for c in ledger.customers if c.kind == "company"],
        "customer_individuals": [c.updated_at for c in ledger.customers if c.kind == "person"],
        "customer_invoices": [i.updated_at for i in ledger.invoices],
        "credit_notes": [
            i.created_at for i in ledger.invoices if i.status == "void" or i.credits_applied
        ],
        "customer_payments": [p.updated_at for p in ledger.payments],
    }[stream]
    return sum(1 for moment in modified if moment.astimezone(zone).date() > day)


def _customers_named(ledger: Ledger, payments: tuple[Payment, ...]) -> set[int]:
    """The customers the payments' lines and the invoices they apply to name: an invoice's
    customer, or the payment's where the invoice is missing (an orphan line)."""
    customers = {i.invoice_id: i.customer_id for i in ledger.invoices}
    paid = {p.payment_id: p.customer_id for p in payments}
    return {
        customers.get(a.invoice_id, paid[a.payment_id])
        for a in ledger.applications
        if a.payment_id in paid
    }


def _of_kind(ledger: Ledger, customers: set[int], stream: str) -> int:
    """How many of `customers` a customer list serves (none on the other streams)."""
    kind = {"customer_companies": "company", "customer_individuals": "person"}.get(stream)
    return sum(1 for c in ledger.customers if c.customer_id in customers and c.kind == kind)


def _owing(served: dict[int, Decimal], ledger: Ledger) -> dict[int, Decimal]:
    """Every customer's AmountOwing as served (0 where the build lists none)."""
    return {c.customer_id: served.get(c.customer_id, Decimal(0)) for c in ledger.customers}


def test_sync_equals_ground_truth_then_incremental_then_idempotent(simpro_sandbox, make_project):
    server = simpro_sandbox(companies=COMPANIES, ledger_size=SIZE)
    project = make_project([simpro_connection(server, c, page_size=PAGE_SIZE) for c in COMPANIES])
    ledgers = {company: server.app.ledger(company) for company in COMPANIES}
    as_of = ledgers[COMPANIES[0]].as_of

    sync(project)
    report(project, as_of)

    counts = project.query(
        "SELECT connection_id, (SELECT count(*) FROM canonical.customers c "
        "WHERE c.connection_id = i.connection_id), count(*) FROM canonical.invoices i GROUP BY 1"
    )
    assert sorted(counts) == sorted(
        (c, len(ledger.customers), len(ledger.invoices)) for c, ledger in ledgers.items()
    )
    kinds = project.query("SELECT connection_id, customer_id, kind FROM canonical.customers")
    assert set(kinds) == {
        (company, _id("customer", c.customer_id), c.kind)
        for company, ledger in ledgers.items()
        for c in ledger.customers
    }
    assert project.query("SELECT count(*) FROM canonical.rejected_records") == [(0,)]
    payments = project.query(
        "SELECT connection_id, payment_id, amount, status FROM canonical.payments"
    )
    assert {(c, p): (amount, status) for c, p, amount, status in payments} == _payments(ledgers)
    applications = project.query(
        "SELECT connection_id, payment_id, invoice_id, amount_applied, applied_date "
        "FROM canonical.payment_applications"
    )
    assert set(applications) == _applications(ledgers)
    assert actual_balances(project) == expected_balances(ledgers, _id, as_of)
    assert actual_exceptions(project) == expected_exceptions(ledgers, _id)
    assert server.log.count(status=429) == 0

    # Between syncs, a payment with unapplied cash arrives and another is voided.
    company = COMPANIES[0]
    ledger = ledgers[company]
    now = datetime.now(UTC) - timedelta(seconds=5)
    ledger, payment = new_payment(ledger, at=now)
    voided = next(p for p in ledger.payments if p.status == "posted" and p.payment_id > 1)
    ledger = void_payment(ledger, voided.payment_id, at=now)
    server.app.set_ledger(company, ledger)
    ledgers[company] = server.app.ledger(company)
    cursors = {
        (c, s): t
        for c, s, t in project.query("SELECT connection_id, stream, cursor FROM sync.cursors")
    }
    server.log.reset()

    fetched = sync(project)
    as_of = ledgers[company].as_of
    report(project, as_of)

    # Each list is asked once, for what changed after the day before its cursor's (build-local)
    # day; exactly the records modified since then come back, the new changes among them. The
    # customers the changed invoices and payments name are read again by ID (their AmountOwing
    # moved, their DateModified did not), on both customer lists.
    zone = ZoneInfo(server.app.config.timezone)
    for name in COMPANIES:
        base = f"/api/v1.0/companies/{server.app.company_id(name)}/"
        requests = [
            (r.path.removeprefix(base), r.query) for r in server.log.records(path_prefix=base)
        ]
        listed = {path: query for path, query in requests if "DateModified" in query}
        by_id = {path: query["ID"] for path, query in requests if "ID" in query}
        assert len(listed) + len(by_id) == len(requests)
        assert sorted(listed) == sorted(COLLECTION_PATHS)
        named = _customers_named(ledgers[name], (payment, voided)) if name == company else set()
        asked = {
            path: set(ids[0].removeprefix("in(").removesuffix(")").split(","))
            for path, ids in by_id.items()
        }
        customer_paths = COLLECTION_PATHS[:2]
        assert asked == (
            {path: {_id("customer", c) for c in named} for path in customer_paths} if named else {}
        )
        for stream, path in zip(STREAMS, COLLECTION_PATHS, strict=True):
            since = cursors[(name, stream)] - timedelta(minutes=15)
            day = since.astimezone(zone).date() - timedelta(days=1)
            assert listed[path]["DateModified"] == [f"gt({day.isoformat()})"]
            modified = _modified_after(ledgers[name], stream, day, zone)
            reread = _of_kind(ledgers[name], named, stream)
            assert fetched[name][stream] == modified + reread
    owing = project.query(
        "SELECT connection_id, customer_id, source_balance FROM canonical.customers"
    )
    assert {(c, customer): balance for c, customer, balance in owing} == {
        (name, _id("customer", customer)): amount
        for name in COMPANIES
        for customer, amount in _owing(server.app.amount_owing(name), ledgers[name]).items()
    }
    assert project.query(
        "SELECT amount, status FROM canonical.payments WHERE connection_id = ? AND payment_id = ?",
        [company, _id("payment", payment.payment_id)],
    ) == [(Decimal("10.00"), "posted")]  # its 2.50 unapplied has no place in Simpro
    assert project.query(
        "SELECT status FROM canonical.payments WHERE connection_id = ? AND payment_id = ?",
        [company, _id("payment", voided.payment_id)],
    ) == [("void",)]
    assert actual_balances(project) == expected_balances(ledgers, _id, as_of)
    assert actual_exceptions(project) == expected_exceptions(ledgers, _id)

    # Nothing changed: running again leaves the warehouse exactly as it was.
    before = snapshot(project)
    sync(project)
    report(project, as_of)
    assert snapshot(project) == before
    assert server.log.count(status=429) == 0


def test_the_real_budget_never_meets_the_real_limit(simpro_sandbox, make_project):
    """10 requests a second on both sides, short-form timestamps, a date-only filter: more
    than a second's worth of requests, and not one 429."""
    company = "tiny-plumbing"
    server = simpro_sandbox(
        companies=(company,),
        ledger_size={"customers": 8, "invoices": 40, "payments": 30},
        rate_limit=10,
        timestamp_style="short",
        modified_filter="date",
    )
    project = make_project(
        [simpro_connection(server, company, page_size=3, requests_per_second=10)]
    )
    ledger = server.app.ledger(company)

    sync(project)
    report(project, ledger.as_of)

    assert server.log.count(status=429) == 0
    assert len(server.log.records(path_prefix="/api/")) > 20
    assert project.query("SELECT count(*) FROM canonical.rejected_records") == [(0,)]
    assert actual_balances(project) == expected_balances({company: ledger}, _id)


def test_a_connection_opens_with_oauth_client_credentials(simpro_sandbox, make_project):
    server = simpro_sandbox(companies=("oauth-plumbing",), ledger_size=SIZE)
    project = make_project([simpro_connection(server, "oauth-plumbing", auth="oauth")])
    connector = open_connector(project.config.connections[0])
    try:
        assert connector.check().startswith("company 'oauth-plumbing' (ID 0)")
    finally:
        connector.close()
    assert server.app.token_requests == 1


def test_an_embedded_connection_opens_its_own_build() -> None:
    config_path = Path("connections.yaml")
    config_path.write_text(
        "connections:\n  - id: simpro-embedded-check\n    source: simpro\n    sandbox: embedded\n"
    )
    connector = open_connector(load_config(config_path).connections[0])
    try:
        assert "company 'simpro-embedded-check' (ID 0)" in connector.check()
    finally:
        connector.close()


def test_a_real_build_needs_its_url(tmp_path: Path) -> None:
    config_path = tmp_path / "connections.yaml"
    config_path.write_text("connections:\n  - id: summit\n    source: simpro\n")
    with pytest.raises(ConfigError, match=r"connections.yaml:2: connections.0: build_url is"):
        load_config(config_path)
