"""One company's ledger arranged for serving: what Simpro can hold, rendered in ID order.

Simpro's model is narrower than the ledger's, so a company serves `representable(ledger)`, and
`app.ledger(company)` returns exactly that, so ground truth is computed from what is served:

- Write-offs: Simpro has none; a write-off is entered as a credit note, so an invoice's
  `write_off_amount` is folded into its `credits_applied` (open balances are unchanged).
- Unapplied cash: a Simpro payment is allocated to invoices in full (the vendor's POST requires
  `Invoices[]`, each with an invoice and an amount), and nothing in the contract carries money
  a customer paid beyond its lines. So a payment is served for what it applies: its amount is
  cut to the sum of its applications, and a payment that applies nothing (an on-account
  receipt, the generator's duplicate of one, or a planted cash-application case) is left out,
  with its anomalies.
- Bank charges are served as the payment's `FinanceCharge`, the fee Simpro charges on a
  payment on top of its invoice lines (the payment's total is its lines plus FinanceCharge).

Rendering, not the ledger, covers the rest: credits and void invoices as credit notes (`Credit`
and `Void`), drafts as invoices at Stage "Pending".
"""

from __future__ import annotations

import copy
import dataclasses
import threading
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from datetime import date, datetime, timedelta
from decimal import Decimal
from typing import Any, Literal
from zoneinfo import ZoneInfo

from sandbox.ledger import Application, Customer, Invoice, Ledger, Payment
from sandbox.simpro.config import TimestampStyle
from sandbox.simpro.ids import Kind, ledger_id

Collection = Literal[
    "customers",
    "customer_companies",
    "customer_individuals",
    "customer_invoices",
    "credit_notes",
    "customer_payments",
]
Row = dict[str, Any]

ZERO = Decimal("0.00")
_UNBILLED = ("draft", "void")
_KIND_OF: dict[Collection, Kind] = {
    "customers": "customer",
    "customer_companies": "customer",
    "customer_individuals": "customer",
    "customer_invoices": "invoice",
    "credit_notes": "credit_note",
    "customer_payments": "payment",
}
_MAX_CACHED_QUERIES = 16


@dataclass(frozen=True, slots=True)
class CreditNote:
    """A credit note against one invoice: "Credit" for credits, "Void" to void the invoice."""

    invoice: Invoice
    type: Literal["Credit", "Void"]
    amount: Decimal


def representable(ledger: Ledger) -> Ledger:
    """The ledger as a Simpro company can hold it (see the module docstring)."""
    invoices = tuple(
        dataclasses.replace(
            inv,
            credits_applied=inv.credits_applied + inv.write_off_amount,
            write_off_amount=ZERO,
        )
        if inv.write_off_amount
        else inv
        for inv in ledger.invoices
    )
    applied: dict[int, Decimal] = {}
    for application in ledger.applications:
        applied[application.payment_id] = (
            applied.get(application.payment_id, ZERO) + application.amount_applied
        )
    dropped = {p.payment_id for p in ledger.payments if p.payment_id not in applied}
    payments = tuple(
        dataclasses.replace(p, amount=applied[p.payment_id])
        for p in ledger.payments
        if p.payment_id not in dropped
    )
    anomalies = tuple(
        a for a in ledger.anomalies if a.kind == "balance_mismatch" or a.entity_id not in dropped
    )
    cash_cases = tuple(c for c in ledger.cash_cases if c.payment_id not in dropped)
    return ledger.replace(
        invoices=invoices, payments=payments, anomalies=anomalies, cash_cases=cash_cases
    )


class CompanyData:
    """A company's served ledger, its lookups, and its rows rendered on first use.

    With `payment_status` (US builds) void payments are served, with `Payment.Status`
    "Failed"; without it they are not served. `render` maps (collection, entity, this) to the
    row: the app's renderer, passed in so this module stays about data.
    """

    def __init__(
        self,
        name: str,
        company_id: int,
        zone: ZoneInfo,
        ledger: Ledger,
        *,
        timestamp_style: TimestampStyle,
        payment_status: bool,
        render: Callable[[Collection, Any, CompanyData], Row],
    ) -> None:
        self.name = name
        self.company_id = company_id
        self.zone = zone
        self.timestamp_style = timestamp_style
        self.serve_payment_status = payment_status
        self.ledger = ledger = representable(ledger)
        self._render = render
        self.customers = {c.customer_id: c for c in ledger.customers}
        self.invoices = {i.invoice_id: i for i in ledger.invoices}
        served = [p for p in ledger.payments if payment_status or p.status != "void"]
        self.entities: dict[Collection, list[Any]] = {
            "customers": list(ledger.customers),
            "customer_companies": [c for c in ledger.customers if c.kind == "company"],
            "customer_individuals": [c for c in ledger.customers if c.kind == "person"],
            "customer_invoices": list(ledger.invoices),
            "credit_notes": _credit_notes(ledger.invoices),
            "customer_payments": served,
        }
        for entities in self.entities.values():
            entities.sort(key=_ledger_id)
        self.applications: dict[int, list[Application]] = {}
        self.last_payment_date: dict[int, date] = {}
        posted = {p.payment_id for p in ledger.payments if p.status == "posted"}
        for app in sorted(ledger.applications, key=lambda a: a.application_id):
            self.applications.setdefault(app.payment_id, []).append(app)
            last = self.last_payment_date.get(app.invoice_id)
            if app.payment_id in posted and (last is None or app.applied_date > last):
                self.last_payment_date[app.invoice_id] = app.applied_date
        self.owing: dict[int, Decimal] = {}
        for inv in ledger.invoices:
            if inv.status not in _UNBILLED:
                self.owing[inv.customer_id] = (
                    self.owing.get(inv.customer_id, ZERO) + inv.source_balance
                )
        self.latest_update = max(
            (e.updated_at for e in (*ledger.customers, *ledger.invoices, *ledger.payments)),
            default=datetime.combine(ledger.as_of, datetime.min.time(), zone),
        )
        self._lock = threading.Lock()
        self._rows: dict[Collection, list[Row]] = {}
        self._queries: dict[tuple[object, ...], list[Row]] = {}

    def rows(self, collection: Collection) -> list[Row]:
        """Every row of a collection, fully rendered, in ID order."""
        with self._lock:
            rows = self._rows.get(collection)
        if rows is None:
            rows = [self._render(collection, e, self) for e in self.entities[collection]]
            with self._lock:
                self._rows[collection] = rows
        return rows

    def row(self, collection: Collection, simpro_id: str) -> Row | None:
        try:
            wanted = ledger_id(_KIND_OF[collection], simpro_id)
        except ValueError:
            return None
        entities = self.entities[collection]
        index = _find(entities, wanted)
        return None if index is None else self.rows(collection)[index]

    def query(self, key: tuple[object, ...], compute: Callable[[], list[Row]]) -> Sequence[Row]:
        """A listing's rows, computed once per distinct query while this data is served."""
        with self._lock:
            cached = self._queries.get(key)
        if cached is None:
            cached = compute()
            with self._lock:
                if len(self._queries) >= _MAX_CACHED_QUERIES:
                    self._queries.clear()
                self._queries[key] = cached
        return cached

    def with_bumped(self, collection: Collection, simpro_id: object) -> CompanyData:
        """A copy where that record was just modified: DateModified one second after the
        newest change in the company. Credit notes are never modified (nor is a record that
        set_ledger removed meanwhile): the copy is then this data itself."""
        if collection == "credit_notes":
            return self
        try:
            wanted = ledger_id(_KIND_OF[collection], str(simpro_id))
        except ValueError:
            return self
        index = _find(self.entities[collection], wanted)
        if index is None:
            return self
        bumped_at = self.latest_update.replace(microsecond=0) + timedelta(seconds=1)
        old = self.entities[collection][index]
        new = dataclasses.replace(old, updated_at=bumped_at)
        field = {"customer": "customers", "invoice": "invoices", "payment": "payments"}[
            _KIND_OF[collection]
        ]
        clone = copy.copy(self)
        clone.ledger = self.ledger.replace(
            **{field: tuple(new if e is old else e for e in getattr(self.ledger, field))}
        )
        clone.entities = {**self.entities, collection: list(self.entities[collection])}
        clone.entities[collection][index] = new
        if isinstance(new, Customer):
            clone.customers = {**self.customers, new.customer_id: new}
        elif isinstance(new, Invoice):
            clone.invoices = {**self.invoices, new.invoice_id: new}
        clone.latest_update = bumped_at
        clone._lock = threading.Lock()
        clone._queries = {}
        rows = self.rows(collection)
        clone._rows = {**self._rows, collection: list(rows)}
        clone._rows[collection][index] = self._render(collection, new, clone)
        return clone


def _credit_notes(invoices: Sequence[Invoice]) -> list[CreditNote]:
    notes = []
    for inv in invoices:
        if inv.status == "void":
            notes.append(CreditNote(inv, "Void", inv.total_amount))
        elif inv.credits_applied:
            notes.append(CreditNote(inv, "Credit", inv.credits_applied))
    return notes


def _ledger_id(entity: Customer | Invoice | Payment | CreditNote) -> int:
    if isinstance(entity, Customer):
        return entity.customer_id
    if isinstance(entity, Invoice):
        return entity.invoice_id
    if isinstance(entity, CreditNote):
        return entity.invoice.invoice_id
    return entity.payment_id


def _find(entities: Sequence[Any], wanted: int) -> int | None:
    """Binary search: entities are in ledger-id order."""
    low, high = 0, len(entities)
    while low < high:
        middle = (low + high) // 2
        if _ledger_id(entities[middle]) < wanted:
            low = middle + 1
        else:
            high = middle
    if low < len(entities) and _ledger_id(entities[low]) == wanted:
        return low
    return None
