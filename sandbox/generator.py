"""Deterministic ledgers seeded by the account's name, from a handful of rows to millions.

`generate_ledger` draws everything from one `random.Random` seeded with the sha256 of the account
name, so an account gets the same ledger on every machine. Money is kept in integer cents while
generating (exact, and cheap at millions of rows) and becomes 2-place `Decimal` on output.

How payments meet invoices: the receivable invoices that are not deliberately left unpaid
("payable") are spread over the payment slots in date order, slot j owning the window
[j*M//Q, (j+1)*M//Q) of them. A slot pays the first unsettled invoice of its window (fully, partly,
with an over-payment, or together with the customer's next one or two invoices) and leaves the
rest of the window open. A slot with nothing unsettled in its window (more payments than
invoices) pays an instalment on the next unsettled invoice, or, with none near, is an on-account
payment. So any payment count is met exactly in one pass, and open invoices span all ages.

Invoice.updated_at is the latest of its creation and the updated_at of the payments applied to it
(a posted payment's updated_at is its created_at; a void one's is when it was voided).

`record_invoice`, `record_payment`, `void_payment` and `void_invoice` change a ledger the way a
source would between two syncs (a payment may be recorded in another currency than its
invoices', and an invoice voided after it was paid keeps its applications, as sources allow).
"""

from __future__ import annotations

import dataclasses
import gc
import hashlib
import random
from collections.abc import Iterable, Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass, field
from datetime import UTC, date, datetime, timedelta
from decimal import Decimal
from typing import Literal

from sandbox.cash_cases import plant_cash_cases
from sandbox.ledger import (
    Anomaly,
    Application,
    Customer,
    CustomerKind,
    Invoice,
    InvoiceStatus,
    Ledger,
    Payment,
)
from sandbox.shared_customers import plant_shared_customers

CURRENCIES = ("USD", "EUR", "GBP", "AUD", "CAD", "NZD")
PAYMENT_TERMS_DAYS = (0, 15, 30, 45, 60)
PAYMENT_METHODS = ("bank_transfer", "check", "credit_card", "ach", "cash")
INVOICE_WINDOW_DAYS = 400  # invoices are issued over this many days up to as_of

_USD_PER_UNIT = {"USD": 10000, "EUR": 10850, "GBP": 12700, "AUD": 6600, "CAD": 7300, "NZD": 6000}
_TAX_RATES_BP = (0, 500, 1000, 1500, 2000)  # basis points
_REFERENCE_PREFIX = {"bank_transfer": "TRF", "check": "CHQ", "credit_card": "CC", "ach": "ACH"}
_ONE_RATE = Decimal("1.00000000")
_ZERO = Decimal("0.00")
_DAY = 86400
_UNIX_EPOCH_ORDINAL = date(1970, 1, 1).toordinal()
_Amount = int | Decimal  # cents while generating, Decimal in a ledger

_COMPANY_WORDS = tuple(
    "Northwind Bluegum Harbour Summit Ironbark Cedar Kestrel Meridian Tidewater Granite Juniper"
    " Saltmarsh Copperleaf Orbit".split()
)
_COMPANY_NOUNS = tuple(
    "Traders Logistics Foods Engineering Studios Supplies Holdings Builders Labs Outfitters"
    " Partners Freight".split()
)
_COMPANY_SUFFIXES = ("Ltd", "Inc", "LLC", "Pty Ltd", "GmbH", "Co")
_FIRST_NAMES = tuple(
    "Ana Ben Chloe Dev Elif Farah Greg Hana Ivan Jade Kofi Lena Mateo Nia Omar Priya Quinn Rosa"
    " Sam Tariq".split()
)
_LAST_NAMES = tuple(
    "Abbott Baker Castro Dubois Evans Fischer Garcia Hughes Ito Jensen Kowalski Lopez Murphy"
    " Nguyen Okafor Patel".split()
)


@dataclass(slots=True)
class _Invoices:
    """Invoices being generated, as parallel lists indexed by invoice_id - 1."""

    customer: list[int] = field(default_factory=list)  # customer index (customer_id - 1)
    issue: list[int] = field(default_factory=list)  # date ordinal
    due: list[int] = field(default_factory=list)
    created: list[int] = field(default_factory=list)  # unix seconds
    kind: list[str] = field(default_factory=list)  # "receivable", "void" or "draft"
    subtotal: list[int] = field(default_factory=list)  # cents, as are the next four
    tax: list[int] = field(default_factory=list)
    credits: list[int] = field(default_factory=list)
    write_off: list[int] = field(default_factory=list)
    remaining: list[int] = field(default_factory=list)  # true open balance so far
    touched: list[int] = field(default_factory=list)  # latest change by a payment, unix seconds
    settled: bytearray = field(default_factory=bytearray)  # no further payment targets it


@dataclass(slots=True)
class _Gen:
    """What every generation step shares."""

    rng: random.Random
    as_of: int  # date ordinal
    first_day: int  # date ordinal of the earliest invoice
    customers: list[Customer]
    terms: list[int]  # payment terms by customer index
    rates: dict[str, list[Decimal]]  # daily document -> base rates, indexed by day - first_day
    dates: list[date]  # shared date objects, indexed by day - first_day

    @property
    def as_of_end(self) -> int:
        return _day_start(self.as_of) + _DAY - 1


def generate_ledger(
    account: str,
    *,
    customers: int = 25,
    invoices: int = 120,
    payments: int = 100,
    as_of: date = date(2026, 10, 31),
    cash_cases: int = 0,
) -> Ledger:
    """The account's ledger as of `as_of`, with exactly the given numbers of records.

    The same arguments always give the same ledger; ~1 in 1,000 invoices and payments of each
    kind is a deliberate anomaly (at least one of each once there are 20 invoices and 10
    payments), listed in `Ledger.anomalies`. `cash_cases` more payments (with their invoices)
    are planted by `sandbox.cash_cases`, their applications hidden from the source.
    """
    if min(customers, invoices, payments) < 0 or (customers == 0 and invoices + payments > 0):
        raise ValueError("counts must be >= 0, with at least one customer for any document")
    rng = random.Random(int.from_bytes(hashlib.sha256(account.encode()).digest(), "big"))
    base = CURRENCIES[rng.randrange(len(CURRENCIES))]
    first_day = as_of.toordinal() - INVOICE_WINDOW_DAYS
    customer_rows = plant_shared_customers(
        account, _customers(rng, customers, base, as_of.toordinal())
    )
    g = _Gen(
        rng=rng,
        as_of=as_of.toordinal(),
        first_day=first_day,
        customers=customer_rows,
        terms=[c.payment_terms_days for c in customer_rows],
        rates=_rate_table(rng, base, INVOICE_WINDOW_DAYS + 1),
        dates=[
            date.fromordinal(first_day + d)
            for d in range(INVOICE_WINDOW_DAYS + max(PAYMENT_TERMS_DAYS) + 1)
        ],
    )
    with_anomalies = invoices >= 20 and payments >= 10
    with _gc_paused():
        inv = _plan_invoices(g, invoices)
        payment_rows, applications, anomalies = _payments(g, inv, payments, with_anomalies)
        mismatches = _balance_mismatches(g, inv) if with_anomalies else {}
        anomalies.extend(
            Anomaly("balance_mismatch", i + 1, f"source balance off by {_money(delta)}")
            for i, delta in mismatches.items()
        )
        invoice_rows = _invoice_rows(g, inv, mismatches)
    ledger = Ledger(
        account=account,
        base_currency=base,
        as_of=as_of,
        customers=tuple(customer_rows),
        invoices=tuple(invoice_rows),
        payments=tuple(payment_rows),
        applications=tuple(applications),
        anomalies=tuple(sorted(anomalies, key=lambda a: (a.kind, a.entity_id))),
    )
    return plant_cash_cases(ledger, cash_cases)


@contextmanager
def _gc_paused() -> Iterator[None]:
    """Millions of new acyclic records would only make the cyclic collector rescan them."""
    was_enabled = gc.isenabled()
    gc.disable()
    try:
        yield
    finally:
        if was_enabled:
            gc.enable()


# --- customers, rates, invoices -------------------------------------------------------------


def _customers(rng: random.Random, n: int, base: str, as_of: int) -> list[Customer]:
    """Customers created before the first invoice; the account's base currency for ~80%."""
    foreign = [c for c in CURRENCIES if c != base]
    end_of_as_of = _day_start(as_of) + _DAY - 1
    rows = []
    for cid in range(1, n + 1):
        kind: CustomerKind = "company" if rng.random() < 0.7 else "person"
        if kind == "company":
            word, noun = rng.choice(_COMPANY_WORDS), rng.choice(_COMPANY_NOUNS)
            name = f"{word} {noun} {rng.choice(_COMPANY_SUFFIXES)}"
            email = f"accounts{cid}@{word.lower()}{noun.lower()}.example"
        else:
            first, last = rng.choice(_FIRST_NAMES), rng.choice(_LAST_NAMES)
            name = f"{first} {last}"
            email = f"{first.lower()}.{last.lower()}{cid}@mail.example"
        created = _day_start(as_of - INVOICE_WINDOW_DAYS - 20 - rng.randrange(380))
        created += rng.randrange(_DAY)
        rows.append(
            Customer(
                customer_id=cid,
                number=f"CUS-{cid:06d}",
                name=name,
                kind=kind,
                email=email if rng.random() < 0.9 else None,
                phone=f"+1 555 {rng.randrange(10**7):07d}" if rng.random() < 0.75 else None,
                currency_code=base if rng.random() < 0.8 else rng.choice(foreign),
                payment_terms_days=rng.choice(PAYMENT_TERMS_DAYS),
                credit_limit=(
                    _money(rng.choice((5, 10, 25, 50, 100)) * 100_000)
                    if rng.random() < 0.6
                    else None
                ),
                status="active" if rng.random() < 0.9 else "inactive",
                created_at=_utc(created),
                updated_at=_utc(created + int(rng.random() * (end_of_as_of - created))),
            )
        )
    return rows


def _rate_table(rng: random.Random, base: str, days: int) -> dict[str, list[Decimal]]:
    """A daily random walk per currency within 10% of a plausible cross rate, in integers so it
    is the same on every platform."""
    table = {base: [_ONE_RATE] * days}
    for code in CURRENCIES:
        if code == base:
            continue
        mid = _cross_rate_e8(code, base)
        rate, series = mid, []
        for _ in range(days):
            rate += rate * rng.randrange(-30, 31) // 10_000
            rate = min(max(rate, mid * 9 // 10), mid * 11 // 10)
            series.append(Decimal(rate).scaleb(-8))
        table[code] = series
    return table


def _plan_invoices(g: _Gen, n: int) -> _Invoices:
    """Issue dates rise with the id, evenly over the window, so every age is populated."""
    rng, inv = g.rng, _Invoices()
    random_ = rng.random
    n_customers, first_day = len(g.customers), g.first_day
    for i in range(n):
        cust = int(random_() * n_customers)
        issue = first_day + i * (INVOICE_WINDOW_DAYS + 1) // n
        subtotal = rng.randrange(5_000, 500_000)
        tax = _tax(subtotal, _TAX_RATES_BP[int(random_() * len(_TAX_RATES_BP))])
        total = subtotal + tax
        r = random_()
        kind = "void" if r < 0.03 else "draft" if r < 0.05 else "receivable"
        credits = write_off = 0
        if kind == "receivable":
            if random_() < 0.06:
                credits = total * rng.randrange(5, 30) // 100
            if random_() < 0.03:
                write_off = max(1, total * rng.randrange(1, 6) // 100)
        inv.customer.append(cust)
        inv.issue.append(issue)
        inv.due.append(issue + g.terms[cust])
        inv.created.append(_day_start(issue) + int(random_() * _DAY))
        inv.kind.append(kind)
        inv.subtotal.append(subtotal)
        inv.tax.append(tax)
        inv.credits.append(credits)
        inv.write_off.append(write_off)
        inv.remaining.append(total - credits - write_off if kind == "receivable" else 0)
    inv.touched = [0] * n
    inv.settled = bytearray(n)
    return inv


def _tax(subtotal_cents: int, rate_bp: int) -> int:
    """subtotal x rate, rounded half up to the cent (ROUND_HALF_UP in integers, amounts > 0)."""
    return (subtotal_cents * rate_bp + 5_000) // 10_000


def _balance_mismatches(g: _Gen, inv: _Invoices) -> dict[int, int]:
    """Invoice index -> cents the source's balance is off by (a few currency units)."""
    receivable = [i for i, kind in enumerate(inv.kind) if kind == "receivable"]
    picked = g.rng.sample(receivable, min(len(receivable), max(1, len(inv.kind) // 1000)))
    deltas = {}
    for i in picked:
        delta = g.rng.randrange(100, 600)
        deltas[i] = -delta if inv.remaining[i] >= delta and g.rng.random() < 0.5 else delta
    return deltas


def _invoice_rows(g: _Gen, inv: _Invoices, mismatches: dict[int, int]) -> list[Invoice]:
    rows = []
    rng, end, first_day, dates = g.rng, g.as_of_end, g.first_day, g.dates
    customers = g.customers
    for i, kind in enumerate(inv.kind):
        cust = customers[inv.customer[i]]
        subtotal, tax = inv.subtotal[i], inv.tax[i]
        total, open_, created = subtotal + tax, inv.remaining[i], inv.created[i]
        status: InvoiceStatus
        if kind == "receivable":
            status = _source_status(open_, total)
            updated = max(created, inv.touched[i])
        elif kind == "void":
            status, updated = "void", created + int(rng.random() * (end - created))
        else:
            status, updated = "draft", created
        created_at = _utc(created)
        rows.append(
            Invoice(
                invoice_id=i + 1,
                invoice_number=f"INV-{i + 1:06d}",
                customer_id=cust.customer_id,
                status=status,
                issue_date=dates[inv.issue[i] - first_day],
                due_date=dates[inv.due[i] - first_day],
                currency_code=cust.currency_code,
                exchange_rate=g.rates[cust.currency_code][inv.issue[i] - first_day],
                subtotal=_money(subtotal),
                tax_amount=_money(tax),
                total_amount=_money(total),
                credits_applied=_money(inv.credits[i]) if inv.credits[i] else _ZERO,
                write_off_amount=_money(inv.write_off[i]) if inv.write_off[i] else _ZERO,
                source_balance=_money(open_ + mismatches.get(i, 0)),
                created_at=created_at,
                updated_at=created_at if updated == created else _utc(updated),
            )
        )
    return rows


# --- payments ---------------------------------------------------------------------------------


@dataclass(slots=True)
class _Slot:
    """What one payment pays: applications as (invoice index, cents) plus unapplied cents."""

    customer: int
    applications: list[tuple[int, int]]
    unapplied: int
    earliest_day: int  # the payment can be dated no earlier (its latest invoice's issue date)


def _payments(
    g: _Gen, inv: _Invoices, n: int, with_anomalies: bool
) -> tuple[list[Payment], list[Application], list[Anomaly]]:
    """Exactly n payments; with anomalies, ~1 per 1,000 of each payment kind (at least one)."""
    rng = g.rng
    payable, by_customer, position = _payable(g, inv)
    per_kind = max(1, n // 1000) if with_anomalies else 0
    special = rng.sample(range(1, n), 2 * per_kind) if per_kind else []
    duplicates, orphans = set(special[:per_kind]), set(special[per_kind:])
    regular = n - len(duplicates)
    payments: list[Payment] = []
    applications: list[Application] = []
    anomalies: list[Anomaly] = []
    j = orphan_count = 0
    for k in range(n):
        pid = k + 1
        if k in duplicates:
            original = payments[-1]
            payments.append(_duplicate(g, original, pid))
            anomalies.append(
                Anomaly("duplicate_payment", pid, f"same as {original.payment_number}")
            )
            continue
        window = (j * len(payable) // regular, (j + 1) * len(payable) // regular)
        slot = _slot(g, inv, payable, by_customer, position, *window)
        j += 1
        if k in orphans:
            orphan_count += 1
            orphan_id = len(inv.kind) + orphan_count  # above every real invoice id
            slot.applications.append((orphan_id - 1, rng.randrange(1_000, 50_000)))
            anomalies.append(
                Anomaly("orphan_application", pid, f"applied to missing invoice {orphan_id}")
            )
        copied_next = k + 1 in duplicates
        void = rng.random() < 0.02 and k not in orphans and not copied_next
        payments.append(_payment(g, inv, slot, pid, void, applications, copied_next))
    return payments, applications, anomalies


def _payable(g: _Gen, inv: _Invoices) -> tuple[list[int], list[list[int]], list[int]]:
    """Receivable invoices that payments may target, each customer's of them, and where each
    sits in its customer's list. The rest stay unpaid: young invoices more often, as in real
    books, and always the first of each aging range, so every aging bucket has an open invoice."""
    rng = g.rng
    payable, position = [], [0] * len(inv.kind)
    by_customer: list[list[int]] = [[] for _ in g.customers]
    unpaid_ranges: set[int] = set()
    for i, kind in enumerate(inv.kind):
        if kind != "receivable":
            continue
        aging_range = _aging_range(g.as_of - inv.due[i])
        hold = 0.5 if g.as_of - inv.issue[i] < 45 else 0.1
        if aging_range not in unpaid_ranges or rng.random() < hold:
            unpaid_ranges.add(aging_range)
            continue
        payable.append(i)
        own = by_customer[inv.customer[i]]
        position[i] = len(own)
        own.append(i)
    return payable, by_customer, position


def _aging_range(days_past_due: int) -> int:
    """0 when not yet due, 1-4 for each 30 days up to 120, 5 beyond."""
    return 0 if days_past_due <= 0 else min(5, (days_past_due - 1) // 30 + 1)


def _slot(
    g: _Gen,
    inv: _Invoices,
    payable: list[int],
    by_customer: list[list[int]],
    position: list[int],
    start: int,
    end: int,
) -> _Slot:
    settled, remaining = inv.settled, inv.remaining
    anchor = next((payable[p] for p in range(start, end) if not settled[payable[p]]), -1)
    if anchor >= 0:
        return _pay_anchor(g, inv, anchor, by_customer, position)
    # Nothing of its own (more payments than invoices): an instalment on the next unsettled one.
    ahead = payable[start : start + 8]
    i = next((i for i in ahead if not settled[i] and remaining[i] > 1), -1)
    if i >= 0:
        part = max(1, remaining[i] * g.rng.randrange(20, 61) // 100)
        return _Slot(inv.customer[i], [(i, part)], 0, inv.issue[i])
    return _on_account(g, inv, payable, start)


def _pay_anchor(
    g: _Gen, inv: _Invoices, anchor: int, by_customer: list[list[int]], position: list[int]
) -> _Slot:
    """Pay the invoice in full (most often), in part, over, or with the customer's next ones."""
    inv.settled[anchor] = 1
    owed = inv.remaining[anchor]
    slot = _Slot(inv.customer[anchor], [(anchor, owed)], 0, inv.issue[anchor])
    r = g.rng.random()
    if r < 0.12 and owed >= 2:
        slot.applications[0] = (anchor, max(1, owed * g.rng.randrange(30, 91) // 100))
    elif r < 0.27:
        _add_next_invoices(g, inv, slot, by_customer[slot.customer], position[anchor])
    elif r < 0.40:
        slot.unapplied = (-owed) % 10_000 or 5_000  # rounded up to the next hundred
    return slot


def _add_next_invoices(g: _Gen, inv: _Invoices, slot: _Slot, own: list[int], after: int) -> None:
    """One payment for the anchor and the customer's next one or two unsettled invoices."""
    wanted = 1 + int(g.rng.random() * 2)
    for i in own[after + 1 : after + 6]:
        if wanted == 0:
            break
        if not inv.settled[i] and inv.remaining[i] > 0:
            inv.settled[i] = 1
            slot.applications.append((i, inv.remaining[i]))
            slot.earliest_day = max(slot.earliest_day, inv.issue[i])
            wanted -= 1


def _on_account(g: _Gen, inv: _Invoices, payable: list[int], start: int) -> _Slot:
    """Money received with no invoice to apply it to."""
    amount = g.rng.randrange(5_000, 200_000)
    if payable:
        i = payable[min(start, len(payable) - 1)]
        return _Slot(inv.customer[i], [], amount, inv.issue[i])
    day = g.first_day + g.rng.randrange(INVOICE_WINDOW_DAYS + 1)
    return _Slot(g.rng.randrange(len(g.customers)), [], amount, day)


def _payment(
    g: _Gen,
    inv: _Invoices,
    slot: _Slot,
    pid: int,
    void: bool,
    applications: list[Application],
    needs_reference: bool,
) -> Payment:
    """The payment for a slot; appends its applications and settles its invoices unless void."""
    random_ = g.rng.random
    n_invoices = len(inv.kind)
    day = min(g.as_of, slot.earliest_day + int(random_() * (g.terms[slot.customer] + 21)))
    created = _day_start(day) + int(random_() * _DAY)
    amount = slot.unapplied
    for i, cents in slot.applications:
        amount += cents
        if i < n_invoices and inv.created[i] > created:  # paid the day it was issued: after it
            created = min(inv.created[i] + 60, _day_start(day) + _DAY - 1)
    updated = created + int(random_() * (g.as_of_end - created)) if void else created
    paid_on = g.dates[day - g.first_day]
    for i, cents in slot.applications:
        applications.append(Application(len(applications) + 1, pid, i + 1, _money(cents), paid_on))
        if i < n_invoices:
            inv.touched[i] = max(inv.touched[i], updated)
            if not void:
                inv.remaining[i] -= cents
    customer = g.customers[slot.customer]
    method = PAYMENT_METHODS[int(random_() * len(PAYMENT_METHODS))]
    referenced = needs_reference or random_() < 0.85
    created_at = _utc(created)
    return Payment(
        payment_id=pid,
        payment_number=f"PAY-{pid:06d}",
        customer_id=customer.customer_id,
        payment_date=paid_on,
        currency_code=customer.currency_code,
        exchange_rate=g.rates[customer.currency_code][day - g.first_day],
        amount=_money(amount),
        bank_charges=_money(g.rng.randrange(50, 2_500)) if random_() < 0.05 else _ZERO,
        method=method,
        reference=f"{_REFERENCE_PREFIX.get(method, 'RCPT')}-{pid:07d}" if referenced else None,
        status="void" if void else "posted",
        created_at=created_at,
        updated_at=_utc(updated) if void else created_at,
    )


def _duplicate(g: _Gen, original: Payment, pid: int) -> Payment:
    """The same receipt entered twice: same customer, amount, date and reference; unapplied."""
    end_of_day = datetime.combine(original.payment_date, datetime.max.time(), UTC)
    created = min(
        original.created_at + timedelta(seconds=g.rng.randrange(60, 3_600)),
        end_of_day.replace(microsecond=0),
    )
    return dataclasses.replace(
        original,
        payment_id=pid,
        payment_number=f"PAY-{pid:06d}",
        status="posted",
        created_at=created,
        updated_at=created,
    )


# --- changes between syncs -------------------------------------------------------------------


def record_payment(
    ledger: Ledger,
    *,
    customer_id: int,
    applications: Sequence[tuple[int, Decimal]],
    payment_date: date,
    at: datetime,
    unapplied: Decimal = Decimal(0),
    reference: str | None = None,
    currency_code: str | None = None,
) -> tuple[Ledger, Payment]:
    """The ledger after the customer's new posted payment, applied as given, was entered at `at`.

    The payment is in `currency_code`, by default the customer's. The ledger's as_of moves up to
    the payment date (and to `at`) if they are later, so the source balances stay stated as of a
    day that has seen every change.
    """
    _require_aware(at)
    customer = next((c for c in ledger.customers if c.customer_id == customer_id), None)
    if customer is None:
        raise ValueError(f"unknown customer {customer_id}")
    pid = max((p.payment_id for p in ledger.payments), default=0) + 1
    currency = currency_code or customer.currency_code
    payment = Payment(
        payment_id=pid,
        payment_number=f"PAY-{pid:06d}",
        customer_id=customer_id,
        payment_date=payment_date,
        currency_code=currency,
        exchange_rate=_latest_rate(ledger, currency),
        amount=sum((amount for _, amount in applications), Decimal(0)) + unapplied,
        bank_charges=_ZERO,
        method="bank_transfer",
        reference=reference,
        status="posted",
        created_at=at,
        updated_at=at,
    )
    first_app = max((a.application_id for a in ledger.applications), default=0) + 1
    new_apps = tuple(
        Application(first_app + n, pid, invoice_id, amount, payment_date)
        for n, (invoice_id, amount) in enumerate(applications)
    )
    changed = ledger.replace(
        as_of=max(ledger.as_of, payment_date, at.astimezone(UTC).date()),
        payments=(*ledger.payments, payment),
        applications=ledger.applications + new_apps,
        anomalies=ledger.anomalies + _new_payment_anomalies(ledger, payment, new_apps),
    )
    return _restate(changed, _balance_changes(new_apps, -1), at), payment


def void_payment(ledger: Ledger, payment_id: int, *, at: datetime) -> Ledger:
    """The ledger after a posted payment was voided at `at`: its invoices owe that money again."""
    _require_aware(at)
    payment = next((p for p in ledger.payments if p.payment_id == payment_id), None)
    if payment is None or payment.status != "posted":
        raise ValueError(f"no posted payment {payment_id}")
    voided = dataclasses.replace(payment, status="void", updated_at=at)
    payments = tuple(voided if p is payment else p for p in ledger.payments)
    changed = ledger.replace(
        as_of=max(ledger.as_of, at.astimezone(UTC).date()),
        payments=payments,
        anomalies=_still_anomalous(ledger.anomalies, payments),
    )
    apps = [a for a in ledger.applications if a.payment_id == payment_id]
    return _restate(changed, _balance_changes(apps, 1), at)


# --- changes while a client pages (the delete_while_paging and insert_while_paging faults) -----

ListedKind = Literal["customers", "invoices", "payments"]


def delete_listed(
    ledger: Ledger, kind: ListedKind, served: Sequence[int], *, at: datetime
) -> tuple[Ledger, int] | None:
    """The ledger after the source deleted the last record of `served` (ledger ids in listing
    order) that it lets be deleted, and that record's id; None if it allows none of them.

    Deletable are what the sources allow: a customer with no documents, an invoice nothing is
    applied to, a payment (its applications go with it: its invoices owe that money again).
    """
    _require_aware(at)
    blocked: set[int] = set()
    if kind == "customers":
        blocked = {i.customer_id for i in ledger.invoices} | {
            p.customer_id for p in ledger.payments
        }
    elif kind == "invoices":
        blocked = {a.invoice_id for a in ledger.applications}
    present = {_entity_id(e) for e in getattr(ledger, kind)}
    victim = next((i for i in reversed(served) if i in present and i not in blocked), None)
    if victim is None:
        return None
    if kind == "customers":
        customers = tuple(c for c in ledger.customers if c.customer_id != victim)
        return ledger.replace(customers=customers), victim
    if kind == "invoices":
        invoices = tuple(i for i in ledger.invoices if i.invoice_id != victim)
        anomalies = tuple(
            a for a in ledger.anomalies if a.kind != "balance_mismatch" or a.entity_id != victim
        )
        return ledger.replace(invoices=invoices, anomalies=anomalies), victim
    payments = tuple(p for p in ledger.payments if p.payment_id != victim)
    apps = [a for a in ledger.applications if a.payment_id == victim]
    changed = ledger.replace(
        payments=payments,
        applications=tuple(a for a in ledger.applications if a.payment_id != victim),
        anomalies=_still_anomalous(
            tuple(
                a for a in ledger.anomalies if a.kind == "balance_mismatch" or a.entity_id != victim
            ),
            payments,
        ),
    )
    return _restate(changed, _balance_changes(apps, 1), at), victim


def modify_listed(
    ledger: Ledger, kind: ListedKind, served: Sequence[int], *, at: datetime
) -> Ledger | None:
    """The ledger after the source modified the last record of `served` (ledger ids in listing
    order) at `at` (an edit that changes nothing a report reads: its modified time moves on);
    None if none of them is left."""
    _require_aware(at)
    present = {_entity_id(e): e for e in getattr(ledger, kind)}
    victim = next((present[i] for i in reversed(served) if i in present), None)
    if victim is None:
        return None
    edited = dataclasses.replace(victim, updated_at=at)
    return ledger.replace(
        **{kind: tuple(edited if e is victim else e for e in getattr(ledger, kind))}
    )


def insert_listed(ledger: Ledger, kind: ListedKind, *, at: datetime) -> Ledger:
    """The ledger after the source created a record of `kind` at `at`: a customer, an open
    invoice of 100.00 for the first customer, or that customer's payment of 10.00 on account."""
    _require_aware(at)
    first = ledger.customers[0]
    if kind == "customers":
        cid = max((c.customer_id for c in ledger.customers), default=0) + 1
        customer = dataclasses.replace(
            first,
            customer_id=cid,
            number=f"CUS-{cid:06d}",
            name=f"New Customer {cid}",
            created_at=at,
            updated_at=at,
        )
        return ledger.replace(customers=(*ledger.customers, customer))
    day = max(ledger.as_of, at.astimezone(UTC).date())
    if kind == "payments":
        changed, _ = record_payment(
            ledger,
            customer_id=first.customer_id,
            applications=(),
            payment_date=day,
            at=at,
            unapplied=Decimal("10.00"),
        )
        return changed
    changed, _ = record_invoice(
        ledger, customer_id=first.customer_id, total=Decimal("100.00"), issue_date=day, at=at
    )
    return changed


def latest_change(ledger: Ledger) -> datetime:
    """The newest created or updated time in the ledger (a change made now comes after it)."""
    entities: Iterable[Customer | Invoice | Payment] = (
        *ledger.customers,
        *ledger.invoices,
        *ledger.payments,
    )
    return max(
        (e.updated_at for e in entities),
        default=datetime.combine(ledger.as_of, datetime.min.time(), UTC),
    )


def _entity_id(entity: Customer | Invoice | Payment) -> int:
    if isinstance(entity, Customer):
        return entity.customer_id
    if isinstance(entity, Invoice):
        return entity.invoice_id
    return entity.payment_id


def record_invoice(
    ledger: Ledger, *, customer_id: int, total: Decimal, issue_date: date, at: datetime
) -> tuple[Ledger, Invoice]:
    """The ledger after the customer's new invoice of `total` (no tax), in its currency and due
    on its terms, was entered at `at`. A negative total is what the mappings quarantine."""
    _require_aware(at)
    customer = next((c for c in ledger.customers if c.customer_id == customer_id), None)
    if customer is None:
        raise ValueError(f"unknown customer {customer_id}")
    # Past every id an application names too: a new invoice never adopts an orphan application.
    known = (*(i.invoice_id for i in ledger.invoices), *(a.invoice_id for a in ledger.applications))
    iid = max(known, default=0) + 1
    invoice = Invoice(
        invoice_id=iid,
        invoice_number=f"INV-{iid:06d}",
        customer_id=customer_id,
        status=_source_status(total, total),
        issue_date=issue_date,
        due_date=issue_date + timedelta(days=customer.payment_terms_days),
        currency_code=customer.currency_code,
        exchange_rate=_latest_rate(ledger, customer.currency_code),
        subtotal=total,
        tax_amount=_ZERO,
        total_amount=total,
        credits_applied=_ZERO,
        write_off_amount=_ZERO,
        source_balance=total,
        created_at=at,
        updated_at=at,
    )
    changed = ledger.replace(
        as_of=max(ledger.as_of, issue_date, at.astimezone(UTC).date()),
        invoices=(*ledger.invoices, invoice),
    )
    return changed, invoice


def void_invoice(ledger: Ledger, invoice_id: int, *, at: datetime) -> Ledger:
    """The ledger after an invoice was voided at `at`, keeping whatever was applied to it: the
    payments' money is theirs again (reconciliation counts it as unapplied cash)."""
    _require_aware(at)
    invoice = next((i for i in ledger.invoices if i.invoice_id == invoice_id), None)
    if invoice is None or invoice.status in ("draft", "void"):
        raise ValueError(f"no receivable invoice {invoice_id}")
    voided = dataclasses.replace(invoice, status="void", source_balance=_ZERO, updated_at=at)
    payments = {p.payment_id: p for p in ledger.payments if p.status == "posted"}
    paid_by = sorted(
        {a.payment_id for a in ledger.applications if a.invoice_id == invoice_id} & set(payments)
    )
    kept = tuple(
        a
        for a in ledger.anomalies
        if not (a.kind == "balance_mismatch" and a.entity_id == invoice_id)
    )
    returned = tuple(
        Anomaly("applied_to_void_invoice", pid, f"applied to {invoice.invoice_number}, now void")
        for pid in paid_by
        if not any(a.kind == "applied_to_void_invoice" and a.entity_id == pid for a in kept)
    )
    return ledger.replace(
        as_of=max(ledger.as_of, at.astimezone(UTC).date()),
        invoices=tuple(voided if i is invoice else i for i in ledger.invoices),
        anomalies=kept + returned,
    )


def _balance_changes(apps: Sequence[Application], sign: int) -> dict[int, Decimal]:
    changes: dict[int, Decimal] = {}
    for a in apps:
        changes[a.invoice_id] = changes.get(a.invoice_id, Decimal(0)) + sign * a.amount_applied
    return changes


def _restate(ledger: Ledger, changes: dict[int, Decimal], at: datetime) -> Ledger:
    """Move the changed invoices' source balances (keeping any deliberate mismatch) and statuses."""
    opens = _open_balances(ledger, changes.keys())
    restated = {}
    for inv in ledger.invoices:
        if inv.invoice_id in changes and inv.status not in ("draft", "void"):
            open_ = opens[inv.invoice_id]
            restated[inv.invoice_id] = dataclasses.replace(
                inv,
                source_balance=inv.source_balance + changes[inv.invoice_id],
                status=_source_status(open_, inv.total_amount),
                updated_at=at,
            )
    if not restated:
        return ledger
    return ledger.replace(invoices=tuple(restated.get(i.invoice_id, i) for i in ledger.invoices))


def _open_balances(ledger: Ledger, invoice_ids: Iterable[int]) -> dict[int, Decimal]:
    """True open balances at the ledger's as_of, for the status the source shows."""
    wanted = set(invoice_ids)
    posted = {p.payment_id for p in ledger.payments if p.status == "posted"}
    applied = dict.fromkeys(wanted, Decimal(0))
    for a in ledger.applications:
        if a.invoice_id in wanted and a.payment_id in posted and a.applied_date <= ledger.as_of:
            applied[a.invoice_id] += a.amount_applied
    return {
        inv.invoice_id: inv.total_amount
        - applied[inv.invoice_id]
        - inv.credits_applied
        - inv.write_off_amount
        for inv in ledger.invoices
        if inv.invoice_id in wanted
    }


def _new_payment_anomalies(
    ledger: Ledger, payment: Payment, apps: Sequence[Application]
) -> tuple[Anomaly, ...]:
    """A recorded payment can itself be an anomaly: applied to a missing invoice, to one in
    another currency or to a void one, or a repeat."""
    anomalies = []
    invoices = {inv.invoice_id: inv for inv in ledger.invoices}
    applied_to = [invoices[a.invoice_id] for a in apps if a.invoice_id in invoices]
    if any(inv.status == "void" for inv in applied_to):
        anomalies.append(
            Anomaly("applied_to_void_invoice", payment.payment_id, "applied to a void")
        )
    if any(
        inv.status != "void" and inv.currency_code != payment.currency_code for inv in applied_to
    ):
        anomalies.append(
            Anomaly("currency_mismatch", payment.payment_id, f"paid in {payment.currency_code}")
        )
    missing = sorted({a.invoice_id for a in apps} - invoices.keys())
    if missing:
        anomalies.append(
            Anomaly(
                "orphan_application", payment.payment_id, f"applied to missing invoice {missing[0]}"
            )
        )
    posted = (p for p in ledger.payments if p.status == "posted")
    twin = (
        None
        if payment.reference is None
        else next((p for p in posted if _key(p) == _key(payment)), None)
    )
    if twin is not None:
        anomalies.append(
            Anomaly("duplicate_payment", payment.payment_id, f"same as {twin.payment_number}")
        )
    return tuple(anomalies)


def _still_anomalous(
    anomalies: tuple[Anomaly, ...], payments: tuple[Payment, ...]
) -> tuple[Anomaly, ...]:
    """Drop payment anomalies a void ended: a void payment applies nothing and repeats nothing."""
    by_id = {p.payment_id: p for p in payments}
    first_by_key: dict[tuple[object, ...], int] = {}
    for p in payments:
        if p.status == "posted" and p.reference is not None:
            first_by_key.setdefault(_key(p), p.payment_id)
    kept = []
    for a in anomalies:
        if a.kind == "balance_mismatch":
            kept.append(a)
            continue
        payment = by_id[a.entity_id]
        if payment.status != "posted":
            continue
        if a.kind == "duplicate_payment" and first_by_key[_key(payment)] == payment.payment_id:
            continue
        kept.append(a)
    return tuple(kept)


def _key(p: Payment) -> tuple[object, ...]:
    return (p.customer_id, p.amount, p.payment_date, p.reference)


def _latest_rate(ledger: Ledger, currency: str) -> Decimal:
    """The currency's rate on its latest document, else the plain cross rate."""
    if currency == ledger.base_currency:
        return _ONE_RATE
    dated = [
        (p.payment_date, p.exchange_rate) for p in ledger.payments if p.currency_code == currency
    ]
    dated += [
        (i.issue_date, i.exchange_rate) for i in ledger.invoices if i.currency_code == currency
    ]
    if dated:
        return max(dated)[1]
    return _cross_rate(currency, ledger.base_currency)


def _require_aware(at: datetime) -> None:
    if at.tzinfo is None or at.utcoffset() is None:
        raise ValueError("`at` must be a timezone-aware datetime")


# --- helpers ----------------------------------------------------------------------------------


def _source_status(open_balance: _Amount, total: _Amount) -> InvoiceStatus:
    """A receivable invoice's status as its source reports it, from its true open balance (a
    source has no "overpaid": an over-applied invoice shows as paid)."""
    if open_balance <= 0:
        return "paid"
    return "open" if open_balance == total else "partially_paid"


def _cross_rate_e8(code: str, base: str) -> int:
    return _USD_PER_UNIT[code] * 10**8 // _USD_PER_UNIT[base]


def _cross_rate(code: str, base: str) -> Decimal:
    return Decimal(_cross_rate_e8(code, base)).scaleb(-8)


def _money(cents: int) -> Decimal:
    return Decimal(cents).scaleb(-2)


def _day_start(ordinal: int) -> int:
    return (ordinal - _UNIX_EPOCH_ORDINAL) * _DAY


def _utc(seconds: int) -> datetime:
    return datetime.fromtimestamp(seconds, UTC)
