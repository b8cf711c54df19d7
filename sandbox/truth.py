"""The true balances of a ledger as of a date D, computed in plain Python with `Decimal`.

This is the yardstick the warehouse's SQL reports are compared with, to the cent, so it is written
independently of both the generator and the SQL. The product's reconciliation rules:

Applications of a posted payment count on both sides, except (money never vanishes, and never
appears from nowhere):
- one to a void invoice: the money is back on the payment as unapplied cash; raises
  applied_to_void_invoice;
- one to an invoice in another currency than the payment's: held, neither applied to the invoice
  nor unapplied cash on the payment; raises currency_mismatch.

Invoices
- In scope at D: issue_date <= D. Receivable: in scope and status not draft or void.
- applied(invoice, D) = sum of amount_applied over the counted applications whose payment exists,
  is not void, and whose applied_date <= D. (A void payment applies nothing, on any date.)
- open_balance(invoice, D) = total_amount - applied - credits_applied - write_off_amount for a
  receivable invoice; 0 for a draft or void one.
- balance_delta = source_balance - open_balance(invoice, ledger.as_of) with every application
  counted (held ones too: the source counts them): the source states its balance as of the
  ledger's as_of, so the delta is measured there whatever D is.
- Derived status: void / draft as the source says; otherwise overpaid (open < 0), paid (open = 0),
  partially_paid (0 < open < total: something was applied, credited or written off), open
  (open = total: nothing was).
- days_past_due = (D - due_date).days when open_balance > 0 and due_date < D, else 0. Aging bucket
  by days past due: "current" (0), "1-30", "31-60", "61-90", "91-120", "over_120".

Payments
- In scope at D: status posted and payment_date <= D.
- applied(payment, D) = sum of its counted applications with applied_date <= D, including those
  to invoices that do not exist (the source says the money was applied); held(payment, D) = sum of
  its held (currency-mismatched) ones; unapplied = amount - applied - held.

Quarantine: an invoice with a negative total and a payment with a negative amount are
quarantined (the mappings refuse them): they are in no balance, as if the source had not sent
them (applications to such an invoice are orphans; a such payment applies nothing).

Customers, per (customer_id, currency_code) of the documents; a pair appears when it has a
receivable invoice, an in-scope payment at D (but a payment whose money is all held, with
nothing applied or unapplied, makes no pair of its own) or a quarantined document below
- invoiced = sum of total_amount of receivable invoices; applied = sum of their applied;
  credits_and_write_offs = sum of their credits_applied + write_off_amount;
  open = sum of their open_balance.
- unapplied_cash = sum of unapplied over the customer's in-scope payments in that currency;
  net = open - unapplied_cash.
- overdue = sum of open_balance of receivable invoices with days_past_due > 0; aging = sum of
  open_balance of receivable invoices by bucket (all six buckets, zero when empty).
- source_balance = sum of the receivable invoices' source_balance; balance_delta = sum of their
  balance_delta.
- quarantined_documents, quarantined_amount: the customer's quarantined invoices that would be
  receivable and issued by D, each adding total - credits - write-offs - what posted, loaded
  payments in its currency applied to it by D; and quarantined posted payments dated by D, each
  taking off its amount. So net + quarantined_amount is what the documents net to.

Exceptions (`expected_exceptions`, at the ledger's as_of), found from the data alone
- balance_mismatch: an invoice whose balance_delta is not 0 (entity: invoice_id).
- orphan_application: a posted payment with an application to an invoice_id not in the ledger
  (or quarantined), or an application of a payment not in the ledger (or quarantined), by the
  ledger's as_of (entity: payment_id).
- duplicate_payment: a posted payment with a reference whose (customer_id, amount, payment_date,
  reference) equals that of a posted payment with a lower id (entity: the later payment_id).
- applied_to_void_invoice, currency_mismatch: a posted payment with such an application
  (entity: payment_id).
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Iterable
from dataclasses import dataclass
from datetime import date
from decimal import Decimal
from typing import Literal

from sandbox.ledger import AnomalyKind, Invoice, Ledger, Payment

DerivedStatus = Literal["draft", "void", "open", "partially_paid", "paid", "overpaid"]
AgingBucket = Literal["current", "1-30", "31-60", "61-90", "91-120", "over_120"]
AGING_BUCKETS: tuple[AgingBucket, ...] = ("current", "1-30", "31-60", "61-90", "91-120", "over_120")

ZERO = Decimal("0.00")


@dataclass(frozen=True, slots=True)
class InvoiceTruth:
    invoice_id: int
    customer_id: int
    currency_code: str
    receivable: bool
    status: DerivedStatus
    total_amount: Decimal
    applied: Decimal
    credits_applied: Decimal
    write_off_amount: Decimal
    open_balance: Decimal
    source_balance: Decimal
    balance_delta: Decimal
    due_date: date
    days_past_due: int
    aging_bucket: AgingBucket


@dataclass(frozen=True, slots=True)
class PaymentTruth:
    payment_id: int
    customer_id: int
    currency_code: str
    amount: Decimal
    applied: Decimal
    held: Decimal
    unapplied: Decimal


@dataclass(frozen=True, slots=True)
class CustomerTruth:
    customer_id: int
    currency_code: str
    invoiced: Decimal
    applied: Decimal
    credits_and_write_offs: Decimal
    open: Decimal
    unapplied_cash: Decimal
    net: Decimal
    overdue: Decimal
    source_balance: Decimal
    balance_delta: Decimal
    aging: dict[AgingBucket, Decimal]  # every bucket, in AGING_BUCKETS order
    quarantined_documents: int
    quarantined_amount: Decimal


def invoice_truth(ledger: Ledger, as_of: date) -> dict[int, InvoiceTruth]:
    """Every invoice in scope at as_of (draft and void ones too, not quarantined ones)."""
    ledger = _loaded(ledger)
    applied = _applied_to_invoices(ledger, as_of, counted_only=True)
    applied_at_source = _applied_to_invoices(ledger, ledger.as_of, counted_only=False)
    truths = {}
    for inv in ledger.invoices:
        if inv.issue_date > as_of:
            continue
        paid = applied.get(inv.invoice_id, ZERO)
        open_ = _open_balance(inv, paid)
        dpd = (as_of - inv.due_date).days if open_ > 0 and inv.due_date < as_of else 0
        source_open = _open_balance(inv, applied_at_source.get(inv.invoice_id, ZERO))
        truths[inv.invoice_id] = InvoiceTruth(
            invoice_id=inv.invoice_id,
            customer_id=inv.customer_id,
            currency_code=inv.currency_code,
            receivable=_is_receivable(inv),
            status=_derived_status(inv, open_),
            total_amount=inv.total_amount,
            applied=paid,
            credits_applied=inv.credits_applied,
            write_off_amount=inv.write_off_amount,
            open_balance=open_,
            source_balance=inv.source_balance,
            balance_delta=inv.source_balance - source_open,
            due_date=inv.due_date,
            days_past_due=dpd,
            aging_bucket=aging_bucket(dpd),
        )
    return truths


def payment_truth(ledger: Ledger, as_of: date) -> dict[int, PaymentTruth]:
    """Every posted payment dated on or before as_of (not quarantined), by payment_id."""
    ledger = _loaded(ledger)
    in_scope = {p.payment_id: p for p in ledger.payments if _payment_in_scope(p, as_of)}
    invoices = {inv.invoice_id: inv for inv in ledger.invoices}
    applied: dict[int, Decimal] = defaultdict(lambda: ZERO)
    held: dict[int, Decimal] = defaultdict(lambda: ZERO)
    for app in ledger.applications:
        payment = in_scope.get(app.payment_id)
        if payment is None or app.applied_date > as_of:
            continue
        why = _held(payment, invoices.get(app.invoice_id))
        if why is None:
            applied[app.payment_id] += app.amount_applied
        elif why == "currency_mismatch":
            held[app.payment_id] += app.amount_applied
    return {
        pid: PaymentTruth(
            payment_id=pid,
            customer_id=p.customer_id,
            currency_code=p.currency_code,
            amount=p.amount,
            applied=applied[pid],
            held=held[pid],
            unapplied=p.amount - applied[pid] - held[pid],
        )
        for pid, p in in_scope.items()
    }


def customer_truth(ledger: Ledger, as_of: date) -> dict[tuple[int, str], CustomerTruth]:
    """Balances per (customer_id, currency_code) at as_of."""
    sums: dict[tuple[int, str], dict[str, Decimal]] = defaultdict(lambda: defaultdict(lambda: ZERO))
    for t in invoice_truth(ledger, as_of).values():
        if not t.receivable:
            continue
        s = sums[(t.customer_id, t.currency_code)]
        s["invoiced"] += t.total_amount
        s["applied"] += t.applied
        s["credits_and_write_offs"] += t.credits_applied + t.write_off_amount
        s["open"] += t.open_balance
        s["source_balance"] += t.source_balance
        s["balance_delta"] += t.balance_delta
        if t.days_past_due > 0:
            s["overdue"] += t.open_balance
        s[t.aging_bucket] += t.open_balance
    for p in payment_truth(ledger, as_of).values():
        if p.held and not p.applied and not p.unapplied:
            continue  # all of it went to invoices in another currency: held, no row of its own
        sums[(p.customer_id, p.currency_code)]["unapplied_cash"] += p.unapplied
    for (customer_id, currency), amount in _quarantined(ledger, as_of):
        s = sums[(customer_id, currency)]
        s["quarantined_documents"] += 1
        s["quarantined_amount"] += amount
    return {key: _customer(key, s) for key, s in sorted(sums.items())}


def expected_exceptions(ledger: Ledger) -> list[tuple[AnomalyKind, int]]:
    """The exceptions reconciliation must report at the ledger's as_of, sorted."""
    ledger = _loaded(ledger)
    found: set[tuple[AnomalyKind, int]] = set()
    for t in invoice_truth(ledger, ledger.as_of).values():
        if t.balance_delta != 0:
            found.add(("balance_mismatch", t.invoice_id))
    posted = [p for p in ledger.payments if p.status == "posted"]
    found.update(("orphan_application", pid) for pid in _orphan_payments(ledger, posted))
    found.update(("duplicate_payment", pid) for pid in _duplicate_payments(posted))
    found.update(_held_applications(ledger, posted))
    return sorted(found)


def aging_bucket(days_past_due: int) -> AgingBucket:
    if days_past_due <= 0:
        return "current"
    if days_past_due <= 30:
        return "1-30"
    if days_past_due <= 60:
        return "31-60"
    if days_past_due <= 90:
        return "61-90"
    if days_past_due <= 120:
        return "91-120"
    return "over_120"


def _applied_to_invoices(ledger: Ledger, as_of: date, *, counted_only: bool) -> dict[int, Decimal]:
    """Applied per invoice by as_of: the counted applications, or every one the source made."""
    posted = {p.payment_id: p for p in ledger.payments if p.status == "posted"}
    invoices = {inv.invoice_id: inv for inv in ledger.invoices}
    applied: dict[int, Decimal] = defaultdict(lambda: ZERO)
    for app in ledger.applications:
        payment = posted.get(app.payment_id)
        if payment is None or app.applied_date > as_of:
            continue
        if counted_only and _held(payment, invoices.get(app.invoice_id)) is not None:
            continue
        applied[app.invoice_id] += app.amount_applied
    return applied


def _held(payment: Payment, invoice: Invoice | None) -> AnomalyKind | None:
    """Why an application of the payment to the invoice counts on neither side, if it does not."""
    if invoice is None:
        return None  # an orphan: the source says the money was applied
    if invoice.status == "void":
        return "applied_to_void_invoice"
    if invoice.currency_code != payment.currency_code:
        return "currency_mismatch"
    return None


def _held_applications(ledger: Ledger, posted: Iterable[Payment]) -> set[tuple[AnomalyKind, int]]:
    by_id = {p.payment_id: p for p in posted}
    invoices = {inv.invoice_id: inv for inv in ledger.invoices}
    found: set[tuple[AnomalyKind, int]] = set()
    for app in ledger.applications:
        payment = by_id.get(app.payment_id)
        if payment is not None and app.applied_date <= ledger.as_of:
            why = _held(payment, invoices.get(app.invoice_id))
            if why is not None:
                found.add((why, payment.payment_id))
    return found


def _is_receivable(inv: Invoice) -> bool:
    return inv.status not in ("draft", "void")


def _open_balance(inv: Invoice, applied: Decimal) -> Decimal:
    if not _is_receivable(inv):
        return ZERO
    return inv.total_amount - applied - inv.credits_applied - inv.write_off_amount


def _derived_status(inv: Invoice, open_balance: Decimal) -> DerivedStatus:
    if inv.status == "void" or inv.status == "draft":
        return inv.status
    if open_balance < 0:
        return "overpaid"
    if open_balance == 0:
        return "paid"
    return "partially_paid" if open_balance < inv.total_amount else "open"


def _is_quarantined(document: Invoice | Payment) -> bool:
    amount = document.total_amount if isinstance(document, Invoice) else document.amount
    return amount < 0


def _loaded(ledger: Ledger) -> Ledger:
    """The ledger as the warehouse holds it: without the quarantined documents."""
    return ledger.replace(
        invoices=tuple(i for i in ledger.invoices if not _is_quarantined(i)),
        payments=tuple(p for p in ledger.payments if not _is_quarantined(p)),
    )


def _quarantined(ledger: Ledger, as_of: date) -> list[tuple[tuple[int, str], Decimal]]:
    """What each quarantined document in scope at as_of would change its customer's net by."""
    loaded = {p.payment_id: p for p in _loaded(ledger).payments if p.status == "posted"}
    held_back = []
    for inv in ledger.invoices:
        if _is_quarantined(inv) and _is_receivable(inv) and inv.issue_date <= as_of:
            applied = sum(
                (
                    a.amount_applied
                    for a in ledger.applications
                    if a.invoice_id == inv.invoice_id
                    and a.applied_date <= as_of
                    and a.payment_id in loaded
                    and loaded[a.payment_id].currency_code == inv.currency_code
                ),
                ZERO,
            )
            leaves_open = inv.total_amount - inv.credits_applied - inv.write_off_amount - applied
            held_back.append(((inv.customer_id, inv.currency_code), leaves_open))
    for p in ledger.payments:
        if _is_quarantined(p) and _payment_in_scope(p, as_of):
            held_back.append(((p.customer_id, p.currency_code), -p.amount))
    return held_back


def _payment_in_scope(p: Payment, as_of: date) -> bool:
    return p.status == "posted" and p.payment_date <= as_of


def _customer(key: tuple[int, str], s: dict[str, Decimal]) -> CustomerTruth:
    return CustomerTruth(
        customer_id=key[0],
        currency_code=key[1],
        invoiced=s["invoiced"],
        applied=s["applied"],
        credits_and_write_offs=s["credits_and_write_offs"],
        open=s["open"],
        unapplied_cash=s["unapplied_cash"],
        net=s["open"] - s["unapplied_cash"],
        overdue=s["overdue"],
        source_balance=s["source_balance"],
        balance_delta=s["balance_delta"],
        aging={bucket: s[bucket] for bucket in AGING_BUCKETS},
        quarantined_documents=int(s["quarantined_documents"]),
        quarantined_amount=s["quarantined_amount"],
    )


def _orphan_payments(ledger: Ledger, posted: Iterable[Payment]) -> set[int]:
    invoice_ids = {inv.invoice_id for inv in ledger.invoices}
    payment_ids = {p.payment_id for p in ledger.payments}
    posted_ids = {p.payment_id for p in posted}
    return {
        app.payment_id
        for app in ledger.applications
        if (app.payment_id in posted_ids and app.invoice_id not in invoice_ids)
        or (app.payment_id not in payment_ids and app.applied_date <= ledger.as_of)
    }


def _duplicate_payments(posted: Iterable[Payment]) -> set[int]:
    first: dict[tuple[object, ...], int] = {}
    duplicates = set()
    for p in sorted(posted, key=lambda p: p.payment_id):
        if p.reference is None:
            continue
        key = (p.customer_id, p.amount, p.payment_date, p.reference)
        if key in first:
            duplicates.add(p.payment_id)
        else:
            first[key] = p.payment_id
    return duplicates
