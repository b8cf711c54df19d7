"""Hand-computed truths on a small hand-built ledger, and identities on generated ones."""

from __future__ import annotations

from datetime import UTC, date, datetime, timedelta
from decimal import Decimal

import pytest

from sandbox.generator import generate_ledger
from sandbox.ledger import Application, Customer, Invoice, InvoiceStatus, Ledger, Payment
from sandbox.truth import (
    AGING_BUCKETS,
    aging_bucket,
    customer_truth,
    expected_exceptions,
    invoice_truth,
    payment_truth,
)

AS_OF = date(2026, 10, 31)
D = Decimal
T0 = datetime(2025, 1, 1, tzinfo=UTC)


def _customer(cid: int, currency: str) -> Customer:
    return Customer(
        customer_id=cid,
        number=f"CUS-{cid:06d}",
        name=f"Customer {cid}",
        kind="company",
        email=None,
        phone=None,
        currency_code=currency,
        payment_terms_days=30,
        credit_limit=None,
        status="active",
        created_at=T0,
        updated_at=T0,
    )


def _invoice(
    iid: int,
    cid: int,
    issued: date,
    due: date,
    total: str,
    *,
    status: InvoiceStatus = "open",
    currency: str = "USD",
    credits: str = "0.00",
    write_off: str = "0.00",
    source: str = "0.00",
) -> Invoice:
    return Invoice(
        invoice_id=iid,
        invoice_number=f"INV-{iid:06d}",
        customer_id=cid,
        status=status,
        issue_date=issued,
        due_date=due,
        currency_code=currency,
        exchange_rate=D("1.00000000"),
        subtotal=D(total),
        tax_amount=D("0.00"),
        total_amount=D(total),
        credits_applied=D(credits),
        write_off_amount=D(write_off),
        source_balance=D(source),
        created_at=T0,
        updated_at=T0,
    )


def _payment(
    pid: int,
    cid: int,
    paid: date,
    amount: str,
    *,
    currency: str = "USD",
    void: bool = False,
    reference: str | None = None,
) -> Payment:
    return Payment(
        payment_id=pid,
        payment_number=f"PAY-{pid:06d}",
        customer_id=cid,
        payment_date=paid,
        currency_code=currency,
        exchange_rate=D("1.00000000"),
        amount=D(amount),
        bank_charges=D("0.00"),
        method="check",
        reference=reference,
        status="void" if void else "posted",
        created_at=T0,
        updated_at=T0,
    )


@pytest.fixture(scope="module")
def ledger() -> Ledger:
    """Customer 1 (USD) has an invoice in every aging bucket; customer 2 (EUR) has a write-off,
    a source balance 3.00 too high and an over-applied invoice."""
    invoices = (
        _invoice(
            1,
            1,
            date(2026, 1, 1),
            date(2026, 1, 31),
            "110.00",
            status="partially_paid",
            credits="5.00",
            source="65.00",
        ),
        _invoice(2, 1, date(2026, 3, 1), date(2026, 3, 16), "200.00", status="paid"),
        _invoice(3, 1, date(2026, 2, 1), date(2026, 3, 3), "50.00", status="draft"),
        _invoice(4, 1, date(2026, 1, 15), date(2026, 2, 14), "30.00", status="void"),
        _invoice(
            5,
            2,
            date(2026, 6, 15),
            date(2026, 7, 15),
            "1000.00",
            currency="EUR",
            write_off="10.00",
            source="993.00",
        ),
        _invoice(
            6, 2, date(2026, 7, 15), date(2026, 8, 14), "500.00", currency="EUR", source="-100.00"
        ),
        _invoice(7, 1, date(2026, 11, 5), date(2026, 12, 5), "70.00", source="70.00"),
        _invoice(8, 1, date(2026, 10, 1), date(2026, 10, 16), "80.00", source="80.00"),
        _invoice(9, 1, date(2026, 10, 20), date(2026, 11, 19), "20.00", source="20.00"),
        _invoice(10, 1, date(2026, 8, 11), date(2026, 9, 10), "30.00", source="30.00"),
        _invoice(11, 1, date(2026, 7, 11), date(2026, 8, 10), "40.00", source="40.00"),
    )
    payments = (
        _payment(1, 1, date(2026, 2, 10), "50.00"),
        _payment(2, 1, date(2026, 2, 12), "70.00", void=True),
        _payment(3, 1, date(2026, 3, 20), "230.00"),
        _payment(4, 2, date(2026, 8, 1), "600.00", currency="EUR"),
        _payment(5, 2, date(2026, 9, 1), "25.00", currency="EUR", reference="R-1"),
        _payment(6, 2, date(2026, 9, 1), "25.00", currency="EUR", reference="R-1"),
        _payment(7, 1, date(2026, 11, 2), "10.00"),
    )
    applications = (
        Application(1, 1, 1, D("40.00"), date(2026, 2, 10)),
        Application(2, 2, 1, D("70.00"), date(2026, 2, 12)),  # void payment: applies nothing
        Application(3, 3, 2, D("200.00"), date(2026, 3, 20)),
        Application(4, 3, 99, D("30.00"), date(2026, 3, 20)),  # orphan
        Application(5, 4, 6, D("600.00"), date(2026, 8, 3)),  # applied two days after receipt
        Application(6, 7, 9, D("10.00"), date(2026, 11, 2)),  # after as_of
    )
    return Ledger(
        "hand-built",
        "USD",
        AS_OF,
        (_customer(1, "USD"), _customer(2, "EUR")),
        invoices,
        payments,
        applications,
    )


def test_invoice_truth_at_as_of(ledger: Ledger) -> None:
    truth = invoice_truth(ledger, AS_OF)
    assert sorted(truth) == [1, 2, 3, 4, 5, 6, 8, 9, 10, 11]  # 7 is issued after as_of
    expected = {  # id: (applied, open, status, days past due, bucket, delta)
        1: ("40.00", "65.00", "partially_paid", 273, "over_120", "0.00"),
        2: ("200.00", "0.00", "paid", 0, "current", "0.00"),
        3: ("0.00", "0.00", "draft", 0, "current", "0.00"),
        4: ("0.00", "0.00", "void", 0, "current", "0.00"),
        5: ("0.00", "990.00", "partially_paid", 108, "91-120", "3.00"),
        6: ("600.00", "-100.00", "overpaid", 0, "current", "0.00"),
        8: ("0.00", "80.00", "open", 15, "1-30", "0.00"),
        9: ("0.00", "20.00", "open", 0, "current", "0.00"),
        10: ("0.00", "30.00", "open", 51, "31-60", "0.00"),
        11: ("0.00", "40.00", "open", 82, "61-90", "0.00"),
    }
    for iid, (applied, open_, status, dpd, bucket, delta) in expected.items():
        t = truth[iid]
        assert (t.applied, t.open_balance, t.balance_delta) == (D(applied), D(open_), D(delta))
        assert (t.status, t.days_past_due, t.aging_bucket) == (status, dpd, bucket), iid
    assert not truth[3].receivable and not truth[4].receivable and truth[1].receivable


def test_invoice_truth_earlier_counts_only_what_had_happened(ledger: Ledger) -> None:
    feb = invoice_truth(ledger, date(2026, 2, 11))
    assert sorted(feb) == [1, 3, 4]
    assert (feb[1].applied, feb[1].open_balance) == (D("40.00"), D("65.00"))
    assert (feb[1].days_past_due, feb[1].aging_bucket) == (11, "1-30")
    assert feb[1].balance_delta == D("0.00")  # measured at the ledger's as_of
    on_due_day = invoice_truth(ledger, date(2026, 1, 31))[1]
    assert (on_due_day.open_balance, on_due_day.status) == (D("105.00"), "partially_paid")
    assert (on_due_day.days_past_due, on_due_day.aging_bucket) == (0, "current")
    before_application = invoice_truth(ledger, date(2026, 8, 2))[6]
    assert (before_application.applied, before_application.status) == (D("0.00"), "open")


def test_payment_truth(ledger: Ledger) -> None:
    truth = payment_truth(ledger, AS_OF)
    assert sorted(truth) == [1, 3, 4, 5, 6]  # 2 is void, 7 is after as_of
    assert {pid: (t.applied, t.unapplied) for pid, t in truth.items()} == {
        1: (D("40.00"), D("10.00")),
        3: (D("230.00"), D("0.00")),  # the orphan application counts as applied
        4: (D("600.00"), D("0.00")),
        5: (D("0.00"), D("25.00")),
        6: (D("0.00"), D("25.00")),
    }
    early = payment_truth(ledger, date(2026, 8, 2))[4]
    assert (early.applied, early.unapplied) == (D("0.00"), D("600.00"))


def test_customer_truth(ledger: Ledger) -> None:
    truth = customer_truth(ledger, AS_OF)
    assert sorted(truth) == [(1, "USD"), (2, "EUR")]
    usd, eur = truth[(1, "USD")], truth[(2, "EUR")]
    assert (usd.invoiced, usd.applied, usd.credits_and_write_offs, usd.open) == (
        D("480.00"),
        D("240.00"),
        D("5.00"),
        D("235.00"),
    )
    assert (usd.unapplied_cash, usd.net, usd.overdue) == (D("10.00"), D("225.00"), D("215.00"))
    assert (usd.source_balance, usd.balance_delta) == (D("235.00"), D("0.00"))
    assert usd.aging == {
        "current": D("20.00"),
        "1-30": D("80.00"),
        "31-60": D("30.00"),
        "61-90": D("40.00"),
        "91-120": D("0.00"),
        "over_120": D("65.00"),
    }
    assert (eur.invoiced, eur.applied, eur.credits_and_write_offs, eur.open) == (
        D("1500.00"),
        D("600.00"),
        D("10.00"),
        D("890.00"),
    )
    assert (eur.unapplied_cash, eur.net, eur.overdue) == (D("50.00"), D("840.00"), D("990.00"))
    assert (eur.source_balance, eur.balance_delta) == (D("893.00"), D("3.00"))
    assert eur.aging["current"] == D("-100.00") and eur.aging["91-120"] == D("990.00")


def test_customer_truth_earlier(ledger: Ledger) -> None:
    truth = customer_truth(ledger, date(2026, 2, 11))
    assert list(truth) == [(1, "USD")]
    usd = truth[(1, "USD")]
    assert (usd.invoiced, usd.applied, usd.open, usd.unapplied_cash, usd.net, usd.overdue) == (
        D("110.00"),
        D("40.00"),
        D("65.00"),
        D("10.00"),
        D("55.00"),
        D("65.00"),
    )
    assert usd.aging["1-30"] == D("65.00")


def test_expected_exceptions_from_the_data(ledger: Ledger) -> None:
    assert expected_exceptions(ledger) == [
        ("balance_mismatch", 5),
        ("duplicate_payment", 6),
        ("orphan_application", 3),
    ]


@pytest.mark.parametrize(
    ("days", "bucket"),
    [
        (-5, "current"),
        (0, "current"),
        (1, "1-30"),
        (30, "1-30"),
        (31, "31-60"),
        (60, "31-60"),
        (61, "61-90"),
        (90, "61-90"),
        (91, "91-120"),
        (120, "91-120"),
        (121, "over_120"),
    ],
)
def test_aging_bucket_edges(days: int, bucket: str) -> None:
    assert aging_bucket(days) == bucket


@pytest.mark.parametrize("days_before", [0, 45, 200])
def test_identities_on_a_generated_ledger(days_before: int) -> None:
    ledger = generate_ledger("identities", invoices=300, payments=250)
    as_of = ledger.as_of - timedelta(days=days_before)
    for c in customer_truth(ledger, as_of).values():
        assert c.open == c.invoiced - c.applied - c.credits_and_write_offs
        assert c.net == c.open - c.unapplied_cash
        assert sum(c.aging.values()) == c.open
        assert list(c.aging) == list(AGING_BUCKETS)
        assert c.overdue == c.open - c.aging["current"]
    invoices = invoice_truth(ledger, as_of)
    assert all(ledger.invoices[i - 1].issue_date <= as_of for i in invoices)
    assert all(ledger.payments[p - 1].payment_date <= as_of for p in payment_truth(ledger, as_of))
