"""Planted cash-application cases: hidden from the source, kept as truth, in the documented mix."""

from __future__ import annotations

from collections import Counter
from decimal import Decimal

import pytest

from sandbox.cash_cases import CASE_MIX, case_sequence
from sandbox.generator import generate_ledger
from sandbox.ledger import Ledger
from sandbox.truth import expected_exceptions, invoice_truth, payment_truth

SIZE = {"customers": 30, "invoices": 300, "payments": 200}


@pytest.fixture(scope="module")
def planted() -> Ledger:
    return generate_ledger("planted", **SIZE, cash_cases=66)


def test_the_mix_repeats_every_cycle_with_every_kind_in_the_first_twelve() -> None:
    cycle = sum(CASE_MIX.values())
    assert Counter(case_sequence(cycle)) == Counter(CASE_MIX)
    assert set(case_sequence(len(CASE_MIX))) == set(CASE_MIX)


def test_cases_leave_the_generated_ledger_as_it_was(planted: Ledger) -> None:
    plain = generate_ledger("planted", **SIZE)
    assert planted.invoices[: len(plain.invoices)] == plain.invoices
    assert planted.payments[: len(plain.payments)] == plain.payments
    assert planted.applications == plain.applications
    assert planted.anomalies == plain.anomalies
    assert generate_ledger("planted", **SIZE, cash_cases=66) == planted


def test_each_case_is_one_new_posted_payment_in_the_documented_mix(planted: Ledger) -> None:
    cases = planted.cash_cases
    assert Counter(c.kind for c in cases) == Counter({k: 3 * w for k, w in CASE_MIX.items()})
    new_payments = planted.payments[SIZE["payments"] :]
    assert [p.payment_id for p in new_payments] == [c.payment_id for c in cases]
    assert all(p.status == "posted" for p in new_payments)


def test_the_source_serves_hidden_payments_as_unapplied_and_their_invoices_as_open(
    planted: Ledger,
) -> None:
    payments = payment_truth(planted, planted.as_of)
    invoices = invoice_truth(planted, planted.as_of)
    by_id = {p.payment_id: p for p in planted.payments}
    for case in planted.cash_cases:
        assert payments[case.payment_id].unapplied == by_id[case.payment_id].amount
        for invoice_id, _ in case.applications:
            truth = invoices[invoice_id]
            assert truth.status == "open" and truth.balance_delta == 0
    assert expected_exceptions(planted) == sorted((a.kind, a.entity_id) for a in planted.anomalies)


def test_truth_settles_no_invoice_beyond_its_balance_and_adds_up_to_the_payment(
    planted: Ledger,
) -> None:
    invoices = {i.invoice_id: i for i in planted.invoices}
    payments = {p.payment_id: p for p in planted.payments}
    for case in planted.cash_cases:
        settled = sum((amount for _, amount in case.applications), Decimal(0))
        payment = payments[case.payment_id]
        for invoice_id, amount in case.applications:
            invoice = invoices[invoice_id]
            assert 0 < amount <= invoice.total_amount
            if case.kind in ("bank_charge", "early_discount"):
                assert amount + case.adjustment == invoice.total_amount
        if case.kind == "overpayment":
            assert 0 < payment.amount - settled <= 100
        elif case.kind == "other_currency":
            assert payment.currency_code == planted.base_currency
            assert payment.currency_code != invoices[case.applications[0][0]].currency_code
        else:
            assert settled == payment.amount, case
        if case.kind == "issued_later":
            assert invoices[case.applications[0][0]].issue_date > payment.payment_date
        if case.kind == "related_customer":
            assert payment.customer_id != invoices[case.applications[0][0]].customer_id
