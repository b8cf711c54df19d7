"""The seeded generator: deterministic, any size, consistent with the independent truth."""

from __future__ import annotations

from collections import Counter, defaultdict
from datetime import UTC, date, datetime, time, timedelta
from decimal import Decimal

import pytest

from sandbox.generator import CURRENCIES, generate_ledger, record_payment, void_payment
from sandbox.ledger import Ledger
from sandbox.truth import (
    AGING_BUCKETS,
    customer_truth,
    expected_exceptions,
    invoice_truth,
    payment_truth,
)

ACCOUNTS = ("acme", "globex", "initech", "umbrella", "hooli", "stark", "wayne", "tyrell")


@pytest.fixture(scope="module")
def medium() -> Ledger:
    return generate_ledger("medium", customers=40, invoices=600, payments=500)


def _mismatched(ledger: Ledger) -> set[int]:
    return {a.entity_id for a in ledger.anomalies if a.kind == "balance_mismatch"}


def _anomalous_payments(ledger: Ledger) -> set[int]:
    return {a.entity_id for a in ledger.anomalies if a.kind != "balance_mismatch"}


def _assert_source_matches_truth(ledger: Ledger) -> None:
    """Source balances and statuses agree with the truth, except the deliberate mismatches."""
    truth = invoice_truth(ledger, ledger.as_of)
    mismatched = _mismatched(ledger)
    for inv in ledger.invoices:
        t = truth[inv.invoice_id]
        assert (t.balance_delta != 0) == (inv.invoice_id in mismatched), inv
        assert t.open_balance >= 0, inv
        if t.receivable:
            assert inv.status == t.status, inv
    assert expected_exceptions(ledger) == sorted((a.kind, a.entity_id) for a in ledger.anomalies)


# --- determinism and size ---------------------------------------------------------------------


def test_same_account_same_ledger() -> None:
    assert generate_ledger("acme") == generate_ledger("acme")


def test_accounts_differ_and_have_their_own_base_currencies() -> None:
    ledgers = [generate_ledger(account, invoices=30, payments=20) for account in ACCOUNTS]
    assert len({(ledger.invoices, ledger.payments) for ledger in ledgers}) == len(ACCOUNTS)
    bases = {ledger.base_currency for ledger in ledgers}
    assert bases <= set(CURRENCIES) and len(bases) >= 3


def test_tiny_ledger() -> None:
    ledger = generate_ledger("tiny", customers=3, invoices=5, payments=4)
    assert [c.customer_id for c in ledger.customers] == [1, 2, 3]
    assert [i.invoice_id for i in ledger.invoices] == [1, 2, 3, 4, 5]
    assert [p.payment_id for p in ledger.payments] == [1, 2, 3, 4]
    assert ledger.anomalies == ()
    _assert_source_matches_truth(ledger)


def test_empty_and_invoice_free_ledgers() -> None:
    empty = generate_ledger("empty", customers=0, invoices=0, payments=0)
    assert (empty.customers, empty.invoices, empty.payments) == ((), (), ())
    cash_only = generate_ledger("cash only", customers=2, invoices=0, payments=3)
    assert len(cash_only.payments) == 3 and cash_only.applications == ()
    with pytest.raises(ValueError):
        generate_ledger("nobody", customers=0, invoices=1, payments=0)


def test_many_invoices_generate() -> None:
    ledger = generate_ledger("bulk", customers=2_000, invoices=200_000, payments=20_000)
    assert len(ledger.invoices) == 200_000 and ledger.invoices[-1].invoice_id == 200_000
    assert len(ledger.payments) == 20_000
    kinds = Counter(a.kind for a in ledger.anomalies)
    assert kinds == {"balance_mismatch": 200, "orphan_application": 20, "duplicate_payment": 20}


# --- records ----------------------------------------------------------------------------------


def test_customers(medium: Ledger) -> None:
    customers = medium.customers
    assert {c.kind for c in customers} == {"company", "person"}
    assert {c.status for c in customers} == {"active", "inactive"}
    assert any(c.email is None for c in customers) and any(c.phone is None for c in customers)
    assert any(c.credit_limit is None for c in customers)
    assert {c.payment_terms_days for c in customers} <= {0, 15, 30, 45, 60}
    base = sum(c.currency_code == medium.base_currency for c in customers)
    assert 0.6 * len(customers) <= base < len(customers)
    assert all(c.number == f"CUS-{c.customer_id:06d}" for c in customers)


def test_invoices(medium: Ledger) -> None:
    customers = {c.customer_id: c for c in medium.customers}
    for inv in medium.invoices:
        customer = customers[inv.customer_id]
        assert inv.invoice_number == f"INV-{inv.invoice_id:06d}"
        assert inv.currency_code == customer.currency_code
        assert inv.due_date == inv.issue_date + timedelta(days=customer.payment_terms_days)
        assert inv.total_amount == inv.subtotal + inv.tax_amount
        assert all(a.as_tuple().exponent == -2 for a in (inv.subtotal, inv.tax_amount))
        assert inv.exchange_rate.as_tuple().exponent == -8
        if inv.currency_code == medium.base_currency:
            assert inv.exchange_rate == 1
        else:
            assert Decimal("0.3") < inv.exchange_rate < Decimal("2.5")
        assert medium.as_of - timedelta(days=400) <= inv.issue_date <= medium.as_of
        assert 0 <= inv.credits_applied + inv.write_off_amount < inv.total_amount
    statuses = Counter(inv.status for inv in medium.invoices)
    assert set(statuses) == {"draft", "void", "open", "partially_paid", "paid"}
    assert sum(inv.credits_applied > 0 for inv in medium.invoices) > 0
    assert sum(inv.write_off_amount > 0 for inv in medium.invoices) > 0


def test_payments_and_applications(medium: Ledger) -> None:
    invoices = {inv.invoice_id: inv for inv in medium.invoices}
    customers = {c.customer_id: c for c in medium.customers}
    by_payment = defaultdict(list)
    for app in medium.applications:
        by_payment[app.payment_id].append(app)
    assert len({a.application_id for a in medium.applications}) == len(medium.applications)
    anomalous = _anomalous_payments(medium)
    for p in medium.payments:
        apps = by_payment[p.payment_id]
        assert p.payment_number == f"PAY-{p.payment_id:06d}"
        assert p.currency_code == customers[p.customer_id].currency_code
        assert p.payment_date <= medium.as_of
        assert all(a.applied_date == p.payment_date for a in apps)
        if p.payment_id not in anomalous:
            assert sum(a.amount_applied for a in apps) <= p.amount
            for a in apps:
                inv = invoices[a.invoice_id]
                assert inv.status not in ("draft", "void")
                assert inv.currency_code == p.currency_code and inv.customer_id == p.customer_id
                assert inv.issue_date <= p.payment_date
    sizes = Counter(len(by_payment[p.payment_id]) for p in medium.payments)
    assert sizes[1] > 0 and sizes[2] + sizes[3] > 0  # single and multi-invoice payments
    unapplied = [t.unapplied for t in payment_truth(medium, medium.as_of).values()]
    assert all(u >= 0 for u in unapplied) and any(u > 0 for u in unapplied)
    assert Counter(p.status for p in medium.payments)["void"] > 0
    assert any(p.reference is None for p in medium.payments)
    assert any(p.bank_charges > 0 for p in medium.payments)


def test_timestamps(medium: Ledger) -> None:
    end = datetime.combine(medium.as_of, time.max, UTC)
    payments = {p.payment_id: p for p in medium.payments}
    touched: dict[int, datetime] = {}
    for app in medium.applications:
        when = payments[app.payment_id].updated_at
        touched[app.invoice_id] = max(touched.get(app.invoice_id, when), when)
    records = [*medium.customers, *medium.invoices, *medium.payments]
    for r in records:
        assert r.created_at.tzinfo is not None and r.created_at.utcoffset() == timedelta(0)
        assert r.created_at <= r.updated_at <= end
    for inv in medium.invoices:
        assert inv.created_at.date() == inv.issue_date
        if inv.status not in ("draft", "void"):
            latest_payment = touched.get(inv.invoice_id, inv.created_at)
            assert inv.updated_at == max(inv.created_at, latest_payment)
    assert all(p.created_at.date() == p.payment_date for p in medium.payments)


# --- balances, aging and anomalies -------------------------------------------------------------


def test_source_balances_match_the_truth(medium: Ledger) -> None:
    _assert_source_matches_truth(medium)


@pytest.mark.parametrize("account", ACCOUNTS[:4])
def test_every_aging_bucket_is_populated(account: str) -> None:
    ledger = generate_ledger(account, invoices=200)
    totals: Counter[str] = Counter()
    for c in customer_truth(ledger, ledger.as_of).values():
        totals.update({bucket: 1 for bucket, amount in c.aging.items() if amount > 0})
    assert set(totals) == set(AGING_BUCKETS)


def test_anomalies(medium: Ledger) -> None:
    kinds = Counter(a.kind for a in medium.anomalies)
    assert kinds == {"balance_mismatch": 1, "orphan_application": 1, "duplicate_payment": 1}
    truth = invoice_truth(medium, medium.as_of)
    for iid in _mismatched(medium):
        assert Decimal(1) <= abs(truth[iid].balance_delta) < Decimal(10)
    invoice_ids = {inv.invoice_id for inv in medium.invoices}
    payments = {p.payment_id: p for p in medium.payments}
    for a in medium.anomalies:
        if a.kind == "orphan_application":
            orphans = [
                x
                for x in medium.applications
                if x.payment_id == a.entity_id and x.invoice_id not in invoice_ids
            ]
            assert orphans and all(x.invoice_id > max(invoice_ids) for x in orphans)
            assert payment_truth(medium, medium.as_of)[a.entity_id].unapplied >= 0
        elif a.kind == "duplicate_payment":
            dup = payments[a.entity_id]
            key = (dup.customer_id, dup.amount, dup.payment_date, dup.reference)
            twins = [
                p
                for p in medium.payments
                if (p.customer_id, p.amount, p.payment_date, p.reference) == key
            ]
            assert len(twins) == 2 and dup.reference is not None
            assert all(p.status == "posted" for p in twins)


def test_anomalies_only_from_twenty_invoices_and_ten_payments() -> None:
    assert generate_ledger("small", invoices=19, payments=50).anomalies == ()
    assert generate_ledger("small", invoices=50, payments=9).anomalies == ()
    kinds = Counter(a.kind for a in generate_ledger("small", invoices=20, payments=10).anomalies)
    assert set(kinds) == {"balance_mismatch", "orphan_application", "duplicate_payment"}


# --- changes between syncs --------------------------------------------------------------------


def _at(ledger: Ledger, days: int = 1) -> datetime:
    return datetime.combine(ledger.as_of + timedelta(days=days), time(9, 30), UTC)


def _open_invoices(ledger: Ledger) -> list[tuple[int, int, Decimal]]:
    """(invoice_id, customer_id, open balance) of open, correctly stated invoices."""
    mismatched = _mismatched(ledger)
    return [
        (inv.invoice_id, inv.customer_id, inv.source_balance)
        for inv in ledger.invoices
        if inv.status == "open" and inv.invoice_id not in mismatched
    ]


def test_record_payment_in_full_and_in_part(medium: Ledger) -> None:
    (first, customer, owed), *_ = _open_invoices(medium)
    second = next(i for i, c, _ in _open_invoices(medium) if c == customer and i != first)
    at = _at(medium)
    ledger, payment = record_payment(
        medium,
        customer_id=customer,
        applications=[(first, owed), (second, Decimal("1.00"))],
        payment_date=at.date(),
        at=at,
        unapplied=Decimal("5.00"),
        reference="NEW-1",
    )
    assert payment.payment_id == len(medium.payments) + 1 and payment in ledger.payments
    assert payment.amount == owed + Decimal("6.00") and payment.status == "posted"
    assert ledger.as_of == at.date()
    paid, part = ledger.invoices[first - 1], ledger.invoices[second - 1]
    assert (paid.status, paid.source_balance, paid.updated_at) == ("paid", Decimal("0.00"), at)
    assert part.status == "partially_paid" and part.updated_at == at
    assert payment_truth(ledger, ledger.as_of)[payment.payment_id].unapplied == Decimal("5.00")
    _assert_source_matches_truth(ledger)


def test_void_payment_restores_the_invoices(medium: Ledger) -> None:
    anomalous = _anomalous_payments(medium)
    applied = {a.payment_id for a in medium.applications}
    victim = next(
        p
        for p in medium.payments
        if p.status == "posted" and p.payment_id in applied and p.payment_id not in anomalous
    )
    at = _at(medium, 2)
    ledger = void_payment(medium, victim.payment_id, at=at)
    assert ledger.payments[victim.payment_id - 1].status == "void"
    assert ledger.payments[victim.payment_id - 1].updated_at == at
    for app in medium.applications:
        if app.payment_id == victim.payment_id:
            inv = ledger.invoices[app.invoice_id - 1]
            assert inv.updated_at == at and inv.status in ("open", "partially_paid")
    _assert_source_matches_truth(ledger)
    with pytest.raises(ValueError):
        void_payment(ledger, victim.payment_id, at=at)


def test_changes_keep_the_anomalies_true(medium: Ledger) -> None:
    at = _at(medium)
    ledger = medium
    for a in medium.anomalies:
        if a.kind != "balance_mismatch":
            ledger = void_payment(ledger, a.entity_id, at=at)
    assert {a.kind for a in ledger.anomalies} == {"balance_mismatch"}
    _assert_source_matches_truth(ledger)
    mismatch = next(iter(_mismatched(ledger)))
    inv = ledger.invoices[mismatch - 1]
    owed = invoice_truth(ledger, ledger.as_of)[mismatch].open_balance
    ledger, payment = record_payment(
        ledger,
        customer_id=inv.customer_id,
        applications=[(mismatch, owed), (10**9, Decimal("2.00"))],
        payment_date=at.date(),
        at=at,
        reference="TWICE",
    )
    assert ledger.invoices[mismatch - 1].source_balance == inv.source_balance - owed
    ledger, again = record_payment(
        ledger,
        customer_id=inv.customer_id,
        applications=[],
        payment_date=at.date(),
        at=at,
        unapplied=payment.amount,
        reference="TWICE",
    )
    kinds = {(a.kind, a.entity_id) for a in ledger.anomalies}
    assert ("orphan_application", payment.payment_id) in kinds
    assert ("duplicate_payment", again.payment_id) in kinds
    _assert_source_matches_truth(ledger)
    ledger = void_payment(ledger, payment.payment_id, at=at)
    assert {a.kind for a in ledger.anomalies} == {"balance_mismatch"}
    _assert_source_matches_truth(ledger)


def test_changes_need_an_aware_time(medium: Ledger) -> None:
    with pytest.raises(ValueError):
        void_payment(medium, 1, at=datetime(2026, 11, 1, 9, 0))
    with pytest.raises(ValueError):
        record_payment(
            medium,
            customer_id=10**6,
            applications=[],
            payment_date=date(2026, 11, 1),
            at=_at(medium),
        )
