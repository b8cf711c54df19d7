"""Carbon's Data API (PostgREST over Carbon's Postgres schema): constants from SOURCES.md §1."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Literal

from connectors.limits import Limit, limits
from connectors.streams import Reread, Stream

SOURCE = "carbon"

HOSTED_API_URL = "https://rest.carbon.ms"  # self-hosted: <SUPABASE_URL>/rest/v1
KEY_HEADER = "carbon-key"  # self-hosted PostgREST reads the key here; hosted takes a Bearer

REQUESTS_PER_MINUTE = 60  # per API key (Carbon's docs)
# Pages in flight per listing (`max_concurrent_requests`), as for Simpro. The rate limiter has the
# last word: at 60 requests a minute they spend each window's budget at once, then wait on it.
CONCURRENT_REQUESTS = 8
MAX_CONCURRENT_REQUESTS = 16
MAX_ROWS = 1000  # Carbon's db-max-rows; a larger page is silently cut to this
MAX_PAGE_SIZE = 10_000  # a self-hosted Carbon may raise its db-max-rows up to this
LIMITS = limits(
    Limit("page_size", MAX_ROWS, most=MAX_PAGE_SIZE, why="a self-hosted Carbon's largest page"),
    Limit("requests_per_minute", REQUESTS_PER_MINUTE),
    Limit(
        "max_concurrent_requests",
        CONCURRENT_REQUESTS,
        most=MAX_CONCURRENT_REQUESTS,
        why="more pages in flight only wait on the key's rate limit",
    ),
)
MAX_IDS_PER_FILTER = 100  # ids in one `id=in.(…)` (keeps URLs far below proxy limits)

# PostgreSQL writes timestamptz as `2024-05-01T12:34:56.789012+00:00` (fraction optional);
# Carbon's docs show `2026-01-01T00:00:00Z`.
TIMESTAMP_FORMATS = (
    "%Y-%m-%dT%H:%M:%S.%f%z",
    "%Y-%m-%dT%H:%M:%S%z",
    "%Y-%m-%dT%H:%M:%S.%fZ",
    "%Y-%m-%dT%H:%M:%SZ",
)

Incremental = Literal["updated", "created"]


@dataclass(frozen=True, slots=True)
class Endpoint:
    """How one stream is read: the table or view, the filters that always apply, the unique
    order that makes offset paging stable, the columns to select, and how changes are found
    (`updated`: `updatedAt` or, while that is null, `createdAt`; `created`: `createdAt` only;
    None: listed in full every sync)."""

    path: str
    key: str = "id"
    filters: tuple[tuple[str, str], ...] = ()
    select: str = "*"
    incremental: Incremental | None = "updated"

    @property
    def order(self) -> str:
        return f"{self.key}.asc"


# Every column of `customer` but `embedding` (a search vector) and `logo` (an image): a page of
# customers stays small.
CUSTOMER_COLUMNS = (
    "id,readableId,name,customerTypeId,customerStatusId,accountManagerId,salesContactId,assignee,"
    "companyId,currencyCode,taxPercent,phone,fax,website,tags,defaultCc,customFields,"
    "intercompanyCompanyId,createdAt,createdBy,updatedAt,updatedBy"
)

CUSTOMERS = Stream(
    "customer", "$[*]", "$.id", cursor_field="updatedAt", cursor_fallback_field="createdAt"
)
# A customer's payment settings (invoice customer, payment term): one row per customer, with no
# createdAt to find new ones by, so listed in full (it is small), which also shows deletions.
CUSTOMER_PAYMENTS = Stream("customer_payment", "$[*]", "$.customerId", complete_every_sync=True)
PAYMENT_TERMS = Stream("payment_term", "$[*]", "$.id", complete_every_sync=True)
MEMOS = Stream("memo", "$[*]", "$.id", cursor_field="updatedAt", cursor_fallback_field="createdAt")
PAYMENTS = Stream(
    "payment", "$[*]", "$.id", cursor_field="updatedAt", cursor_fallback_field="createdAt"
)
# An incremental sync re-reads the settlements of the memos and payments stored since the
# settlements were last loaded, then the invoices the settlements of those stored since the
# invoices were last loaded target (a posting changes an invoice's balance in the view without
# touching the invoice's updatedAt). Both come from the warehouse, so a sync killed between
# the streams re-reads them when run again.
SETTLEMENTS = Stream(
    "invoice_settlement",
    "$[*]",
    "$.id",
    cursor_field="createdAt",
    rereads=Reread(changed=("payment", "memo")),
)
INVOICES = Stream(
    "sales_invoices",
    "$[*]",
    "$.id",
    cursor_field="updatedAt",
    cursor_fallback_field="createdAt",
    rereads=Reread(
        changed=("payment", "memo"),
        through=("invoice_settlement", ("paymentId", "memoId"), "targetSalesInvoiceId"),
    ),
)
# Order matters: the settlements and invoices are read after the memos and payments that say
# which of them to read again.
STREAMS: tuple[Stream, ...] = (
    CUSTOMERS,
    CUSTOMER_PAYMENTS,
    PAYMENT_TERMS,
    MEMOS,
    PAYMENTS,
    SETTLEMENTS,
    INVOICES,
)

ENDPOINTS: dict[str, Endpoint] = {
    "customer": Endpoint("customer", select=CUSTOMER_COLUMNS),
    "customer_payment": Endpoint("customerPayment", key="customerId", incremental=None),
    "payment_term": Endpoint("paymentTerm", incremental=None),
    "memo": Endpoint("memo", filters=(("direction", "eq.Credit"), ("customerId", "not.is.null"))),
    "payment": Endpoint(
        "payment", filters=(("paymentType", "eq.Receipt"), ("customerId", "not.is.null"))
    ),
    "invoice_settlement": Endpoint(
        "invoiceSettlement",
        filters=(("targetSalesInvoiceId", "not.is.null"),),
        incremental="created",
    ),
    # The view: its totals, balance and status are computed; the table's are not maintained.
    "sales_invoices": Endpoint("salesInvoices"),
}
