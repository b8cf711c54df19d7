"""Payments whose true application is hidden from the source: the cash-application ground truth.

`plant_cash_cases(ledger, n)` adds n payments, each with the open invoices it was really for,
and serves none of those applications: the source shows the payments as unapplied cash and the
invoices as open, exactly as `sandbox.truth` computes them. What each payment paid is kept in
`Ledger.cash_cases`, which no sandbox renders.

Every case brings its own new invoice(s) for an existing customer, so the customer's other open
invoices are the distractors. The mix repeats every 22 cases (each kind at least once in the
first 12):

| kind | cases per 22 | what the payment looks like |
|---|---|---|
| exact_single | 3 | the invoice number as typed in the books, the exact open balance |
| reference_only | 2 | the number typed loosely; another open invoice has the same amount |
| no_remittance | 2 | no reference at all, the exact open balance |
| several_exact | 3 | 2-4 of the customer's new invoices, summing exactly; a bank reference |
| partial | 2 | the invoice number, 30-90% of the open balance |
| bank_charge | 2 | a bank reference, the balance less a 5.00-35.00 charge (< 5%) |
| early_discount | 2 | a bank reference, the balance less 1, 2 or 3%, paid within 10 days |
| overpayment | 2 | the balance rounded up to the next hundred, the number half of the time |
| related_customer | 1 | paid by another customer in that currency, a namesake if there is one |
| ambiguous | 1 | no reference; two new invoices of the same amount, one of them paid |
| other_currency | 1 | a foreign-currency invoice paid in the base currency, its rate moved <= 1% |
| issued_later | 1 | a bank reference, the exact balance of an invoice issued 1-9 days later |

The cases are drawn from their own random stream (seeded by the account's name), so a ledger's
generated part is the same with or without them.
"""

from __future__ import annotations

import hashlib
import random
from collections import Counter
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import UTC, date, datetime, time, timedelta
from decimal import Decimal

from sandbox.ledger import CashCase, CashCaseKind, Customer, Invoice, Ledger, Payment

__all__ = ["CASE_MIX", "plant_cash_cases"]

CASE_MIX: dict[CashCaseKind, int] = {
    "exact_single": 3,
    "reference_only": 2,
    "no_remittance": 2,
    "several_exact": 3,
    "partial": 2,
    "bank_charge": 2,
    "early_discount": 2,
    "overpayment": 2,
    "related_customer": 1,
    "ambiguous": 1,
    "other_currency": 1,
    "issued_later": 1,
}
_BANK_PREFIX = {"bank_transfer": "TRF", "check": "CHQ", "ach": "ACH"}
_LOOSE_FORMS: tuple[Callable[[int], str], ...] = (
    lambda n: f"inv {n}",
    lambda n: f"{n}",
    lambda n: f"INV{n:06d}",
    lambda n: f"Invoice #{n}",
    lambda n: f"inv/{n:06d}",
    lambda n: f"INV {n:06d}",
    lambda n: f"#{n:06d}",
)
_ZERO = Decimal("0.00")
_BASE_RATE = Decimal("1.00000000")


def case_sequence(n: int) -> list[CashCaseKind]:
    """The kinds of n cases in order: every kind once, then the kinds with more weight."""
    rounds = max(CASE_MIX.values())
    cycle = [kind for r in range(rounds) for kind, weight in CASE_MIX.items() if weight > r]
    return [cycle[i % len(cycle)] for i in range(n)]


def plant_cash_cases(ledger: Ledger, n: int) -> Ledger:
    """The ledger with n more payments whose applications only `Ledger.cash_cases` knows."""
    seed = hashlib.sha256(f"cash-cases:{ledger.account}".encode()).digest()
    planter = _Planter(ledger, random.Random(int.from_bytes(seed, "big")))
    if n <= 0 or not planter.customers:
        return ledger
    for kind in case_sequence(n):
        planter.plant(kind)
    return ledger.replace(
        invoices=ledger.invoices + tuple(planter.invoices),
        payments=ledger.payments + tuple(planter.payments),
        cash_cases=ledger.cash_cases + tuple(planter.cases),
    )


@dataclass
class _Planter:
    ledger: Ledger
    rng: random.Random
    invoices: list[Invoice] = field(default_factory=list)
    payments: list[Payment] = field(default_factory=list)
    cases: list[CashCase] = field(default_factory=list)

    def __post_init__(self) -> None:
        ledger = self.ledger
        self.next_invoice = 1 + max(
            [i.invoice_id for i in ledger.invoices] + [a.invoice_id for a in ledger.applications],
            default=0,
        )
        self.next_payment = 1 + max((p.payment_id for p in ledger.payments), default=0)
        self.rates = _latest_rates(ledger)
        self.customers = [c for c in ledger.customers if c.currency_code in self.rates]
        self.foreign = [c for c in self.customers if c.currency_code != ledger.base_currency]
        per_currency = Counter(c.currency_code for c in self.customers)
        self.paired = [c for c in self.customers if per_currency[c.currency_code] > 1]

    def plant(self, kind: CashCaseKind) -> None:
        rng = self.rng
        eligible = {"other_currency": self.foreign, "related_customer": self.paired}.get(
            kind, self.customers
        )
        if not eligible:
            kind, eligible = "exact_single", self.customers
        customer = rng.choice(eligible)
        as_of = self.ledger.as_of
        issued = as_of - timedelta(days=rng.randrange(12, 150))
        paid = min(as_of, issued + timedelta(days=rng.randrange(customer.payment_terms_days + 21)))
        cents = rng.randrange(5_000, 500_000)
        payer, currency, reference = customer, customer.currency_code, self._bank_reference()
        adjustment = 0
        if kind in ("exact_single", "reference_only", "no_remittance", "ambiguous"):
            invoices = [self._invoice(customer, issued, cents)]
            if kind in ("reference_only", "ambiguous"):
                invoices.append(self._invoice(customer, issued + timedelta(days=3), cents))
            paid_ids = [rng.choice(invoices)]
            amount, settled = cents, [cents]
            reference = {
                "exact_single": _clean(paid_ids[0].invoice_id, rng),
                "reference_only": _loose(paid_ids[0].invoice_id, rng),
                "no_remittance": None,
                "ambiguous": None,
            }[kind]
        elif kind == "several_exact":
            invoices = [
                self._invoice(
                    customer, issued - timedelta(days=7 * k), rng.randrange(5_000, 300_000)
                )
                for k in range(rng.randrange(2, 5))
            ]
            paid_ids = invoices
            settled = [_cents(i.total_amount) for i in invoices]
            amount = sum(settled)
        else:
            issued_on = issued
            if kind == "issued_later":
                paid = min(paid, as_of - timedelta(days=10))
                issued_on = paid + timedelta(days=rng.randrange(1, 10))
            if kind == "early_discount":
                paid = issued + timedelta(days=rng.randrange(11))
            if kind == "bank_charge":
                cents = max(cents, 100_000)
            invoice = self._invoice(customer, issued_on, cents)
            invoices = paid_ids = [invoice]
            amount, settled = cents, [cents]
            number = invoice.invoice_id
            if kind == "partial":
                amount = cents * rng.randrange(30, 91) // 100
                settled = [amount]
                reference = _clean(number, rng) if rng.random() < 0.5 else _loose(number, rng)
            elif kind == "bank_charge":
                adjustment = rng.randrange(500, 3_501)
                amount = cents - adjustment
                settled = [amount]
            elif kind == "early_discount":
                adjustment = (cents * rng.choice((1, 2, 3)) + 50) // 100
                amount = cents - adjustment
                settled = [amount]
            elif kind == "overpayment":
                amount = cents + ((-cents) % 10_000 or 5_000)
                reference = _clean(number, rng) if rng.random() < 0.5 else None
            elif kind == "related_customer":
                payer = self._related(customer)
                reference = _clean(number, rng) if rng.random() < 0.5 else _loose(number, rng)
            elif kind == "other_currency":
                currency = self.ledger.base_currency
                drift = 1 + Decimal(rng.randrange(-100, 101)).scaleb(-4)  # the rate moved
                amount = _round_cents(Decimal(cents) * invoice.exchange_rate * drift)
                reference = _clean(number, rng) if rng.random() < 0.5 else reference
        payment = self._payment(payer, paid, currency, amount, reference)
        self.cases.append(
            CashCase(
                kind=kind,
                payment_id=payment.payment_id,
                applications=tuple(
                    (i.invoice_id, _money(c)) for i, c in zip(paid_ids, settled, strict=True)
                ),
                adjustment=_money(adjustment),
            )
        )

    def _bank_reference(self) -> str | None:
        method = self.rng.choice((*_BANK_PREFIX, "cash"))
        prefix = _BANK_PREFIX.get(method)
        return None if prefix is None else f"{prefix}-{self.next_payment:07d}"

    def _related(self, customer: Customer) -> Customer:
        """Another customer in the same currency, sharing the name's first word if one does."""
        others = [
            c
            for c in self.customers
            if c.customer_id != customer.customer_id and c.currency_code == customer.currency_code
        ]
        word = customer.name.split()[0]
        namesakes = [c for c in others if c.name.split()[0] == word]
        return self.rng.choice(namesakes or others)

    def _invoice(self, customer: Customer, issued: date, cents: int) -> Invoice:
        iid = self.next_invoice
        self.next_invoice += 1
        issued = min(issued, self.ledger.as_of)
        created = self._moment(issued)
        invoice = Invoice(
            invoice_id=iid,
            invoice_number=f"INV-{iid:06d}",
            customer_id=customer.customer_id,
            status="open",
            issue_date=issued,
            due_date=issued + timedelta(days=customer.payment_terms_days),
            currency_code=customer.currency_code,
            exchange_rate=self.rates[customer.currency_code],
            subtotal=_money(cents),
            tax_amount=_ZERO,
            total_amount=_money(cents),
            credits_applied=_ZERO,
            write_off_amount=_ZERO,
            source_balance=_money(cents),
            created_at=created,
            updated_at=created,
        )
        self.invoices.append(invoice)
        return invoice

    def _payment(
        self, payer: Customer, paid: date, currency: str, cents: int, reference: str | None
    ) -> Payment:
        pid = self.next_payment
        self.next_payment += 1
        created = self._moment(paid)
        payment = Payment(
            payment_id=pid,
            payment_number=f"PAY-{pid:06d}",
            customer_id=payer.customer_id,
            payment_date=paid,
            currency_code=currency,
            exchange_rate=self.rates[currency],
            amount=_money(cents),
            bank_charges=_ZERO,
            method="bank_transfer",
            reference=reference,
            status="posted",
            created_at=created,
            updated_at=created,
        )
        self.payments.append(payment)
        return payment

    def _moment(self, day: date) -> datetime:
        return datetime.combine(day, time(), UTC) + timedelta(seconds=self.rng.randrange(86_400))


def _latest_rates(ledger: Ledger) -> dict[str, Decimal]:
    """Each currency's rate to the base on its latest invoice (the base's is 1); a currency no
    invoice is in has none, and its customers get no cases."""
    rates: dict[str, tuple[date, Decimal]] = {}
    for inv in ledger.invoices:
        if inv.currency_code not in rates or rates[inv.currency_code][0] <= inv.issue_date:
            rates[inv.currency_code] = (inv.issue_date, inv.exchange_rate)
    latest = {code: rate for code, (_, rate) in rates.items()}
    latest[ledger.base_currency] = _BASE_RATE
    return latest


def _clean(invoice_id: int, rng: random.Random) -> str:
    number = f"INV-{invoice_id:06d}"
    return rng.choice((number, f"Payment for {number}", f"{number} thank you"))


def _loose(invoice_id: int, rng: random.Random) -> str:
    return rng.choice(_LOOSE_FORMS)(invoice_id)


def _cents(amount: Decimal) -> int:
    return int(amount.scaleb(2))


def _round_cents(amount: Decimal) -> int:
    return int(amount.quantize(Decimal(1), rounding="ROUND_HALF_UP"))


def _money(cents: int) -> Decimal:
    return Decimal(cents).scaleb(-2)
