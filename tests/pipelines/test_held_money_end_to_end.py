"""Money never vanishes and never appears from nowhere, end to end against a Zoho Books sandbox:
an invoice voided after it was paid gives its payment's money back as unapplied cash, a payment
applied across currencies is held out of both balances without a balance row of its own, and
customer balances show what quarantine holds back - each to the cent of the generator's truth."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from decimal import Decimal

from sandbox import truth
from sandbox.generator import record_invoice, record_payment, void_invoice
from sandbox.zoho_books.ids import Kind, ledger_id, zoho_id
from sandbox.zoho_books.testing import zoho_connection
from tests.e2e import (
    actual_balances,
    actual_exceptions,
    expected_balances,
    expected_exceptions,
    report,
    sync,
)

ORG = "held-money-books"
SIZE = {"customers": 8, "invoices": 60, "payments": 50}
CUSTOMER_COLUMNS = (
    "invoiced",
    "applied",
    "open_balance",
    "unapplied_cash",
    "net_balance",
    "quarantined_documents",
    "quarantined_amount",
)


def test_void_cross_currency_and_quarantined_money_match_the_truth(zoho_sandbox, make_project):
    server = zoho_sandbox(organizations=(ORG,), ledger_size=SIZE)
    org_id = server.app.organization_id(ORG)
    project = make_project([zoho_connection(server, ORG)])
    ledger = server.app.ledger(ORG)
    at = datetime.now(UTC) - timedelta(seconds=5)
    paid = next(i for i in ledger.invoices if i.status == "paid")
    target = next(
        i for i in ledger.invoices if i.status == "open" and i.customer_id != paid.customer_id
    )
    customer = target.customer_id
    foreign = "EUR" if target.currency_code != "EUR" else "USD"

    ledger = void_invoice(ledger, paid.invoice_id, at=at)
    ledger, across = record_payment(
        ledger,
        customer_id=customer,
        applications=[(target.invoice_id, Decimal("20.00"))],
        payment_date=ledger.as_of,
        at=at,
        currency_code=foreign,
    )
    ledger, _ = record_invoice(
        ledger, customer_id=customer, total=Decimal("-25.00"), issue_date=ledger.as_of, at=at
    )
    ledger, _ = record_payment(
        ledger,
        customer_id=customer,
        applications=[],
        payment_date=ledger.as_of,
        at=at,
        unapplied=Decimal("-50.00"),
    )
    server.app.set_ledger(ORG, ledger)

    sync(project)
    report(project, ledger.as_of)

    def ids(kind: Kind, ledger_id: int) -> str:
        return zoho_id(org_id, kind, ledger_id)

    assert actual_balances(project) == expected_balances({ORG: ledger}, ids)
    assert actual_exceptions(project) == expected_exceptions({ORG: ledger}, ids)
    rows = project.query(
        f"SELECT customer_id, currency_code, {', '.join(CUSTOMER_COLUMNS)} "
        "FROM reports.customer_balances"
    )
    balances = truth.customer_truth(ledger, ledger.as_of)
    assert {(ledger_id(org_id, "contact", r[0]), r[1]): r[2:] for r in rows} == {
        key: (t.invoiced, t.applied, t.open, t.unapplied_cash, t.net)
        + (t.quarantined_documents, t.quarantined_amount)
        for key, t in balances.items()
    }
    # The truth's own figures: nothing in a currency the customer never used, and the -25.00
    # invoice and -50.00 payment that quarantine holds back net to +25.00.
    assert (customer, foreign) not in balances
    assert balances[(customer, target.currency_code)].quarantined_amount == Decimal("25.00")
    assert balances[(customer, target.currency_code)].quarantined_documents == 2
    found = truth.expected_exceptions(ledger)
    assert ("currency_mismatch", across.payment_id) in found
    assert {kind for kind, _ in found} >= {"applied_to_void_invoice", "currency_mismatch"}
