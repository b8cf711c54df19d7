"""Zoho Books list options: `filter_by`, `sort_column`/`sort_order`, `contact_type` and, on
invoices and payments, `date_start` (documents dated on or after it, inclusive).

The values each list documents (Zoho Books API v3, List contacts / invoices / customer
payments) and what `page_context` reports back: `report_name`, `applied_filter` (the filter
asked for, or the list's default) and `sort_column`/`sort_order` (as asked, or the order rows
are served in without one: created_time ascending). A documented filter the sandbox does not
emulate, or a value no list documents, is a 400 with code 2 naming the parameter.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass, replace
from datetime import date, datetime
from decimal import Decimal
from typing import Any

from sandbox.ledger import Customer, Invoice, Payment
from sandbox.zoho_books.orgdata import Entity, Listing
from sandbox.zoho_books.render import PAYMENT_MODES, invoice_status

REPORT_NAMES: dict[Listing, str] = {
    "contacts": "Contacts",
    "invoices": "Invoices",
    "customerpayments": "Payments Received",
}
DEFAULT_FILTER: dict[Listing, str] = {
    "contacts": "Status.All",
    "invoices": "Status.All",
    "customerpayments": "PaymentMode.All",
}
DEFAULT_SORT = ("created_time", "A")
DATED: frozenset[Listing] = frozenset({"invoices", "customerpayments"})  # take date_start
SORT_COLUMNS: dict[Listing, frozenset[str]] = {
    "contacts": frozenset(
        "contact_name first_name last_name email outstanding_receivable_amount created_time "
        "last_modified_time".split()
    ),
    "invoices": frozenset(
        "customer_name invoice_number date due_date total balance created_time".split()
    ),
    "customerpayments": frozenset(
        "customer_name unused_amount amount bcy_amount date reference_number account_name "
        "payment_mode".split()
    ),
}
# Documented payment-mode filters, by the display name the sandbox serves.
_MODE_FILTERS = {
    "PaymentMode.Check": "Check",
    "PaymentMode.Cash": "Cash",
    "PaymentMode.BankTransfer": "Bank Transfer",
    "PaymentMode.CreditCard": "Credit Card",
}
_INVOICE_FILTERS: dict[str, tuple[str, ...]] = {
    "Status.Sent": ("sent",),
    "Status.Draft": ("draft",),
    "Status.OverDue": ("overdue",),
    "Status.Paid": ("paid",),
    "Status.Void": ("void",),
    "Status.PartiallyPaid": ("partially_paid",),
    "Status.Unpaid": ("sent", "overdue", "partially_paid"),
}

Row = dict[str, Any]
Keep = Callable[[Entity, date], bool]


class ListQueryError(ValueError):
    """A list option the sandbox refuses; `parameter` names it."""

    def __init__(self, parameter: str) -> None:
        super().__init__(f"Invalid value passed for {parameter}")
        self.parameter = parameter


@dataclass(frozen=True, slots=True)
class ListQuery:
    listing: Listing
    applied_filter: str
    sort_column: str | None  # None: served order
    descending: bool
    customers_only: bool  # contact_type=vendor lists nothing: the ledger has customers only
    date_start: date | None = None

    @property
    def key(self) -> tuple[object, ...]:
        return (
            self.applied_filter,
            self.sort_column,
            self.descending,
            self.customers_only,
            self.date_start,
        )

    @property
    def selects(self) -> bool:
        """Whether it selects or orders anything (else every row, in served order)."""
        default = (DEFAULT_FILTER[self.listing], None, False, True, None)
        return self.key != default

    def without_date_start(self) -> ListQuery:
        """The same listing from its first row: what a client reading from a date on has
        passed."""
        return replace(self, date_start=None)

    def page_context(self) -> dict[str, object]:
        column, order = DEFAULT_SORT
        if self.sort_column is not None:
            column, order = self.sort_column, "D" if self.descending else "A"
        return {
            "report_name": REPORT_NAMES[self.listing],
            "applied_filter": self.applied_filter,
            "sort_column": column,
            "sort_order": order,
        }


def parse(listing: Listing, arg: Callable[[str], str | None]) -> ListQuery:
    applied = arg("filter_by") or DEFAULT_FILTER[listing]
    if applied != DEFAULT_FILTER[listing] and _keep(listing, applied) is None:
        raise ListQueryError("filter_by")
    column = arg("sort_column")
    if column is not None and column not in SORT_COLUMNS[listing]:
        raise ListQueryError("sort_column")
    order = arg("sort_order") or "A"
    if order not in ("A", "D"):
        raise ListQueryError("sort_order")
    contact_type = arg("contact_type") if listing == "contacts" else None
    if contact_type not in (None, "customer", "vendor"):
        raise ListQueryError("contact_type")
    start_text = arg("date_start") if listing in DATED else None
    try:
        start = date.fromisoformat(start_text) if start_text is not None else None
    except ValueError:
        raise ListQueryError("date_start") from None
    return ListQuery(listing, applied, column, order == "D", contact_type != "vendor", start)


def select(
    query: ListQuery,
    entities: Sequence[Entity],
    as_of: date,
    render: Callable[[Entity], Row],
) -> Sequence[Entity]:
    """The entities the query keeps, in its order (entities come in served order)."""
    if not query.customers_only:
        return []
    keep = _keep(query.listing, query.applied_filter)
    kept = [e for e in entities if keep(e, as_of)] if keep is not None else list(entities)
    if query.date_start is not None:
        start = query.date_start.isoformat()
        kept = [e for e in kept if render(e)["date"] >= start]
    if query.sort_column is None:
        return kept
    column = query.sort_column
    keyed = [(sort_key(render(e)[column]), i, e) for i, e in enumerate(kept)]
    keyed.sort(key=lambda item: item[0], reverse=query.descending)
    return [e for _, _, e in keyed]


@dataclass(frozen=True, slots=True)
class Restart:
    """A query whose rows are those of a `wider` one (modified at or after `since`) from
    `start` on, in the order of the `column` both sort on ascending: a suffix of the wider
    query's rows, so a client paging by key costs a bisection a page, not a scan.

    It is a suffix because each column sorts as its filter compares: `date` is an ISO date
    (`sort_key` lowercases digits and dashes, and an empty date sorts first and is never
    kept), `last_modified_time` is served in the organization's one offset, so its text sorts
    as the time the `last_modified_time` filter compares (to the second)."""

    wider: ListQuery
    since: datetime | None
    column: str
    start: Any  # a date's text, or a time

    def key(self, render: Callable[[Entity], Row]) -> Callable[[Entity], Any]:
        """A row's value of `column` as the query's filter compares it with `start`."""
        if self.column == "date":
            return lambda entity: render(entity)["date"]
        return lambda entity: entity.updated_at.replace(microsecond=0)


def restart(query: ListQuery, since: datetime | None) -> Restart | None:
    """The query as a restart from a key, where it is one: sorted ascending on `date` from
    `date_start` on, or on `last_modified_time` from `since` (the `last_modified_time` filter)
    on; None otherwise."""
    if query.descending:
        return None
    if query.sort_column == "date" and query.date_start is not None:
        return Restart(query.without_date_start(), since, "date", query.date_start.isoformat())
    if query.sort_column == "last_modified_time" and since is not None:
        return Restart(query, None, "last_modified_time", since)
    return None


def _keep(listing: Listing, applied: str) -> Keep | None:
    """The test of a documented filter; None for the default (all) or one not emulated."""
    if listing == "contacts" and applied in ("Status.Active", "Status.Inactive"):
        wanted = applied.removeprefix("Status.").lower()
        return lambda e, _as_of: isinstance(e, Customer) and e.status == wanted
    if listing == "invoices" and applied in _INVOICE_FILTERS:
        statuses = _INVOICE_FILTERS[applied]
        return lambda e, as_of: isinstance(e, Invoice) and invoice_status(e, as_of) in statuses
    if listing == "customerpayments" and applied in (*_MODE_FILTERS, "PaymentMode.Others"):
        if applied == "PaymentMode.Others":
            named = set(_MODE_FILTERS.values())
            return lambda e, _as_of: (
                isinstance(e, Payment) and PAYMENT_MODES.get(e.method, e.method) not in named
            )
        mode = _MODE_FILTERS[applied]
        return lambda e, _as_of: (
            isinstance(e, Payment) and PAYMENT_MODES.get(e.method, e.method) == mode
        )
    return None


def sort_key(value: object) -> tuple[int, object]:
    """Numbers by value, text case-insensitively; empty values first."""
    if value in ("", None):
        return (0, "")
    if isinstance(value, int | Decimal):
        return (1, Decimal(value))
    return (2, str(value).lower())
