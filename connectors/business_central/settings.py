"""Dynamics 365 Business Central API v2.0: constants from SOURCES.md §2."""

from __future__ import annotations

from connectors.limits import Limit, limits
from connectors.streams import Stream

SOURCE = "business_central"

API_URL = "https://api.businesscentral.dynamics.com/v2.0"  # + /{tenant}/{environment}/api/v2.0
AUTHORITY_URL = "https://login.microsoftonline.com"  # + /{tenant}/oauth2/v2.0/token
SCOPE = "https://api.businesscentral.dynamics.com/.default"
API_PATH = "/api/v2.0"
TOKEN_PATH = "/oauth2/v2.0/token"

MAX_PAGE_SIZE = 20_000  # BC online serves at most this many entities per page
PAGE_SIZE = 1_000  # asked for with `Prefer: odata.maxpagesize`
REQUESTS_PER_FIVE_MINUTES = 6_000  # per user (sliding window)
MAX_IN_FLIGHT = 5  # BC processes at most 5 requests of a user at once; more queue, then 429
LIMITS = limits(
    Limit("page_size", PAGE_SIZE, most=MAX_PAGE_SIZE, why="BC's largest page"),
    Limit("requests_per_five_minutes", REQUESTS_PER_FIVE_MINUTES),
    Limit(
        "max_in_flight",
        MAX_IN_FLIGHT,
        most=MAX_IN_FLIGHT,
        why=f"Business Central processes at most {MAX_IN_FLIGHT} requests of a user at once",
    ),
)
EMPTY_GUID = "00000000-0000-0000-0000-000000000000"
# Ids in one `$filter=id eq … or id eq …` (about 2 KB of URL; `in` needs $schemaversion=2.1).
IDS_PER_FILTER = 40

# `2020-08-21T00:25:58.337Z`: UTC, milliseconds (sometimes none).
TIMESTAMP_FORMATS = ("%Y-%m-%dT%H:%M:%S.%fZ", "%Y-%m-%dT%H:%M:%SZ")

_MODIFIED = "lastModifiedDateTime"

# Customers are listed in full every sync: `balanceDue` is computed from ledger entries, so a
# posting changes it without touching lastModifiedDateTime (and a full listing shows deletions).
CUSTOMERS = Stream("customers", "$.value", "$.id", cursor_field=_MODIFIED, complete_every_sync=True)
# Superseded versions are kept: a vanished payment line counts as posted when the remaining
# amount of its invoice fell by the line's amount since the line was last seen.
SALES_INVOICES = Stream(
    "sales_invoices", "$.value", "$.id", cursor_field=_MODIFIED, keep_history=True
)
SALES_CREDIT_MEMOS = Stream("sales_credit_memos", "$.value", "$.id", cursor_field=_MODIFIED)
PAYMENT_JOURNALS = Stream(
    "customer_payment_journals",
    "$.value",
    "$.id",
    cursor_field=_MODIFIED,
    complete_every_sync=True,
)
# Journal lines are unposted payments: posting deletes them, so each sync lists them all (per
# journal) and a line the listing lacks is marked vanished.
PAYMENT_LINES = Stream(
    "customer_payments",
    "$.value",
    "$.id",
    cursor_field=_MODIFIED,
    parent="customer_payment_journals",
    complete_every_sync=True,
    after=("sales_invoices",),
)
# Invoices load before payment lines, so an invoice's version at a line's last sighting is known.
STREAMS: tuple[Stream, ...] = (
    CUSTOMERS,
    SALES_INVOICES,
    SALES_CREDIT_MEMOS,
    PAYMENT_JOURNALS,
    PAYMENT_LINES,
)

# Per stream: the collection under `companies({id})/` and the fields the mapping reads.
COLLECTIONS: dict[str, str] = {
    "customers": "customers",
    "sales_invoices": "salesInvoices",
    "sales_credit_memos": "salesCreditMemos",
    "customer_payment_journals": "customerPaymentJournals",
    "customer_payments": "customerPayments",
}
SELECT: dict[str, tuple[str, ...]] = {
    "customers": (
        "id",
        "number",
        "displayName",
        "type",
        "email",
        "phoneNumber",
        "website",
        "postalCode",
        "taxRegistrationNumber",
        "currencyId",  # the empty GUID: the company's local currency
        "currencyCode",
        "blocked",
        "balanceDue",
        "creditLimit",
        _MODIFIED,
    ),
    "sales_invoices": (
        "id",
        "number",
        "invoiceDate",
        "dueDate",
        "customerId",
        "currencyId",
        "currencyCode",
        "totalAmountExcludingTax",
        "totalTaxAmount",
        "totalAmountIncludingTax",
        "remainingAmount",
        "status",
        _MODIFIED,
    ),
    "sales_credit_memos": (
        "id",
        "number",
        "creditMemoDate",
        "customerId",
        "currencyCode",
        "totalAmountIncludingTax",
        "status",
        "invoiceId",
        _MODIFIED,
    ),
    "customer_payment_journals": ("id", "code", "displayName", _MODIFIED),
    "customer_payments": (
        "id",
        "journalId",
        "lineNumber",
        "customerId",
        "postingDate",
        "documentNumber",
        "externalDocumentNumber",
        "amount",
        "appliesToInvoiceId",
        "appliesToInvoiceNumber",
        "description",
        _MODIFIED,
    ),
}
