"""One organization's ledger arranged for serving: rows in list order, lookups and aggregates.

Built once per ledger (lazily, on the first request after `set_ledger`), so a page request costs
O(page) except the first page of a new `last_modified_time` filter, which costs one O(n) scan.
A listing read from a key on, in that key's order (`Suffix`), costs O(log n + page) a page.
Void payments are not served: Zoho deletes payments rather than voiding them.
"""

from __future__ import annotations

import copy
import dataclasses
import threading
from collections.abc import Callable, Sequence
from datetime import date, datetime, timedelta
from decimal import Decimal
from typing import Literal, overload

from sandbox.generator import ListedKind
from sandbox.ledger import Application, Customer, Invoice, Ledger, Payment
from sandbox.zoho_books.config import OrgZone

Listing = Literal["contacts", "invoices", "customerpayments"]
Entity = Customer | Invoice | Payment

LEDGER_FIELD: dict[Listing, ListedKind] = {
    "contacts": "customers",
    "invoices": "invoices",
    "customerpayments": "payments",
}
_UNBILLED = ("draft", "void")


def entity_id(entity: Entity) -> int:
    if isinstance(entity, Customer):
        return entity.customer_id
    if isinstance(entity, Invoice):
        return entity.invoice_id
    return entity.payment_id


def _list_order(entity: Entity) -> tuple[datetime, int]:
    return entity.created_at, entity_id(entity)


class OrgData:
    def __init__(self, name: str, org_id: str, zone: OrgZone, ledger: Ledger) -> None:
        self.name = name
        self.org_id = org_id
        self.zone = zone
        self.ledger = ledger
        served_payments = [p for p in ledger.payments if p.status != "void"]
        self.rows: dict[Listing, list[Entity]] = {
            "contacts": sorted(ledger.customers, key=_list_order),
            "invoices": sorted(ledger.invoices, key=_list_order),
            "customerpayments": sorted(served_payments, key=_list_order),
        }
        self._position = {
            listing: {entity_id(e): i for i, e in enumerate(rows)}
            for listing, rows in self.rows.items()
        }
        self.applications: dict[int, list[Application]] = {}
        self.last_payment_date: dict[int, date] = {}
        served = {p.payment_id for p in served_payments}
        for app in sorted(ledger.applications, key=lambda a: a.application_id):
            if app.payment_id in served:
                self.applications.setdefault(app.payment_id, []).append(app)
                last = self.last_payment_date.get(app.invoice_id)
                if last is None or app.applied_date > last:
                    self.last_payment_date[app.invoice_id] = app.applied_date
        self.unused_credits: dict[int, Decimal] = {}
        for payment in served_payments:
            unused = payment.amount - sum(
                (a.amount_applied for a in self.applications.get(payment.payment_id, ())),
                Decimal(0),
            )
            if unused > 0:
                self.unused_credits[payment.customer_id] = (
                    self.unused_credits.get(payment.customer_id, Decimal(0)) + unused
                )
        self.outstanding: dict[int, Decimal] = {}
        for inv in ledger.invoices:
            if inv.status not in _UNBILLED:
                self.outstanding[inv.customer_id] = (
                    self.outstanding.get(inv.customer_id, Decimal(0)) + inv.source_balance
                )
        self.latest_update = max(
            (e.updated_at for rows in self.rows.values() for e in rows),
            default=datetime.combine(ledger.as_of, datetime.min.time(), zone.tzinfo),
        )
        self._lock = threading.Lock()
        self._filtered: dict[tuple[object, ...], Sequence[Entity]] = {}

    def customer(self, customer_id: int) -> Customer | None:
        return self._get("contacts", customer_id)  # type: ignore[return-value]

    def invoice(self, invoice_id: int) -> Invoice | None:
        return self._get("invoices", invoice_id)  # type: ignore[return-value]

    def payment(self, payment_id: int) -> Payment | None:
        return self._get("customerpayments", payment_id)  # type: ignore[return-value]

    def _get(self, listing: Listing, ledger_id: int) -> Entity | None:
        index = self._position[listing].get(ledger_id)
        return None if index is None else self.rows[listing][index]

    def listing(self, listing: Listing, since: datetime | None) -> Sequence[Entity]:
        """Rows in list order (created time, then id); with `since`, only rows whose
        last_modified_time, as served (whole seconds), is at or after it."""
        rows = self.rows[listing]
        if since is None:
            return rows
        return self.cached(
            (listing, since),
            lambda: [e for e in rows if e.updated_at.replace(microsecond=0) >= since],
        )

    def cached(
        self, key: tuple[object, ...], compute: Callable[[], Sequence[Entity]]
    ) -> Sequence[Entity]:
        """A selection of rows, computed once per key while this data is served."""
        with self._lock:
            cached = self._filtered.get(key)
        if cached is None:
            cached = compute()
            with self._lock:
                if len(self._filtered) >= 16:
                    self._filtered.clear()
                self._filtered[key] = cached
        return cached

    def with_bumped(self, listing: Listing, ledger_id: int) -> OrgData:
        """A copy where entity `ledger_id` of `listing` was just modified: its updated_at is one
        second after the newest change in the organization. List order does not change.
        (Unchanged if the entity is gone: set_ledger may have replaced the ledger meanwhile.)"""
        index = self._position[listing].get(ledger_id)
        if index is None:
            return self
        bumped_at = self.latest_update.replace(microsecond=0) + timedelta(seconds=1)
        old = self.rows[listing][index]
        new = dataclasses.replace(old, updated_at=bumped_at)
        clone = copy.copy(self)
        clone.rows = {**self.rows, listing: list(self.rows[listing])}
        clone.rows[listing][index] = new
        field = LEDGER_FIELD[listing]
        replaced = tuple(new if e is old else e for e in getattr(self.ledger, field))
        clone.ledger = self.ledger.replace(**{field: replaced})
        clone.latest_update = bumped_at
        clone._lock = threading.Lock()
        clone._filtered = {}
        return clone


class Suffix(Sequence[Entity]):
    """`rows[start:]` without copying it: a page of it costs the page."""

    def __init__(self, rows: Sequence[Entity], start: int) -> None:
        self._rows = rows
        self._start = start

    def __len__(self) -> int:
        return len(self._rows) - self._start

    @overload
    def __getitem__(self, index: int) -> Entity: ...

    @overload
    def __getitem__(self, index: slice) -> Sequence[Entity]: ...

    def __getitem__(self, index: int | slice) -> Entity | Sequence[Entity]:
        if isinstance(index, slice):
            return [self._rows[self._start + i] for i in range(*index.indices(len(self)))]
        if not -len(self) <= index < len(self):
            raise IndexError("Suffix index out of range")
        return self._rows[self._start + index % len(self)]
