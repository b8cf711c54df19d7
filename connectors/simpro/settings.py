"""Simpro API v1.0: constants from SOURCES.md §4."""

from __future__ import annotations

from connectors.limits import Limit, limits
from connectors.streams import Reread, Stream

SOURCE = "simpro"

API_PATH = "/api/v1.0"  # under the build's URL, https://<build>.simprosuite.com
TOKEN_PATH = "/oauth2/token"  # under the build's URL too

MAX_PAGE_SIZE = 250
IDS_PER_FILTER = 100  # IDs in one `ID=in(…)`: one page of them, and a short URL
REQUESTS_PER_SECOND = 10  # per build, whichever company or connection calls
# Pages in flight per listing (`max_concurrent_requests`). 8 keep the build's 10 requests a second
# busy up to 0.8 s a round trip; the rate limiter has the last word, so more only wait on it.
CONCURRENT_REQUESTS = 8
MAX_CONCURRENT_REQUESTS = 16
LIMITS = limits(
    Limit("page_size", MAX_PAGE_SIZE, most=MAX_PAGE_SIZE),
    Limit("requests_per_second", REQUESTS_PER_SECOND),
    Limit(
        "max_concurrent_requests",
        CONCURRENT_REQUESTS,
        most=MAX_CONCURRENT_REQUESTS,
        why="more pages in flight only wait on the build's rate limit",
    ),
)

# `2018-05-21T19:53:39+10:00` (documented) and `2026-08-30 09:12:44+10` (seen on live builds).
TIMESTAMP_FORMATS = ("%Y-%m-%dT%H:%M:%S%z", "%Y-%m-%d %H:%M:%S%z")

_CUSTOMER_COLUMNS = (
    "ID",
    "Phone",
    "Email",
    "Address",
    "EIN",
    "Profile",
    "Banking",
    "Archived",
    "AmountOwing",
    "DateCreated",
    "DateModified",
)

CUSTOMER_INVOICES = Stream("customer_invoices", "$[*]", "$.ID", cursor_field="DateModified")
CREDIT_NOTES = Stream("credit_notes", "$[*]", "$.ID", cursor_field="DateModified")
CUSTOMER_PAYMENTS = Stream("customer_payments", "$[*]", "$.ID", cursor_field="DateModified")
# A customer's AmountOwing moves when its invoices are paid, without touching its DateModified
# (UNCONFIRMED on live builds; the sandbox serves it so): an incremental sync reads again, by
# ID, the customers that the invoices and payments stored since the customers' last listing
# began name. A credit note's listed columns name no customer, so a credit note alone reads
# none again.
_OWING_MOVED = Reread(
    changed=("customer_invoices", "customer_payments"),
    named_at=("$.Customer.ID", "$.Invoices[*].Invoice.Customer.ID"),
)
CUSTOMER_COMPANIES = Stream(
    "customer_companies", "$[*]", "$.ID", cursor_field="DateModified", rereads=_OWING_MOVED
)
CUSTOMER_INDIVIDUALS = Stream(
    "customer_individuals", "$[*]", "$.ID", cursor_field="DateModified", rereads=_OWING_MOVED
)
# Customers after the invoices and payments that say which of them to read again.
STREAMS: tuple[Stream, ...] = (
    CUSTOMER_INVOICES,
    CREDIT_NOTES,
    CUSTOMER_PAYMENTS,
    CUSTOMER_COMPANIES,
    CUSTOMER_INDIVIDUALS,
)

# Collection path under /companies/{ID}/ (collections end with "/"), and the columns to ask
# for: list rows are thin without `columns=`, and these are exactly what the mapping reads.
COLLECTIONS: dict[str, tuple[str, tuple[str, ...]]] = {
    "customer_companies": ("customers/companies/", ("CompanyName", *_CUSTOMER_COLUMNS)),
    "customer_individuals": (
        "customers/individuals/",
        ("GivenName", "FamilyName", *_CUSTOMER_COLUMNS),
    ),
    "customer_invoices": (
        "customerInvoices/",
        (
            "ID",
            "Customer",
            "Stage",
            "Total",
            "Currency",
            "DateIssued",
            "DueDate",
            "IsCredit",
            "IsPaid",
            "DateModified",
        ),
    ),
    "credit_notes": (
        "creditNotes/",
        ("ID", "Type", "InvoiceNo", "Stage", "Total", "DateIssued", "DateModified"),
    ),
    "customer_payments": ("customerPayments/", ("ID", "Payment", "Invoices", "DateModified")),
}
