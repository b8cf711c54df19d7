"""Zoho Books API v3: constants from SOURCES.md §3."""

from __future__ import annotations

from typing import Literal, get_args

from connectors.limits import Limit, limits
from connectors.streams import Stream

from .derivation import PAYMENT_APPLICATIONS

SOURCE = "zoho_books"

# Data centre → (API base URL, accounts base URL for OAuth tokens).
DATA_CENTRES: dict[str, tuple[str, str]] = {
    "com": ("https://www.zohoapis.com/books/v3", "https://accounts.zoho.com"),
    "eu": ("https://www.zohoapis.eu/books/v3", "https://accounts.zoho.eu"),
    "in": ("https://www.zohoapis.in/books/v3", "https://accounts.zoho.in"),
    "com.au": ("https://www.zohoapis.com.au/books/v3", "https://accounts.zoho.com.au"),
    "jp": ("https://www.zohoapis.jp/books/v3", "https://accounts.zoho.jp"),
    "ca": ("https://www.zohoapis.ca/books/v3", "https://accounts.zohocloud.ca"),
    "com.cn": ("https://www.zohoapis.com.cn/books/v3", "https://accounts.zoho.com.cn"),
    "sa": ("https://www.zohoapis.sa/books/v3", "https://accounts.zoho.sa"),
}
TOKEN_PATH = "/oauth/v2/token"

MAX_PAGE_SIZE = 200
REQUESTS_PER_MINUTE = 100  # per organization
LIMITS = limits(
    Limit("page_size", MAX_PAGE_SIZE, most=MAX_PAGE_SIZE),
    Limit("requests_per_minute", REQUESTS_PER_MINUTE),
)
DETAILS_PER_LANDED_PAGE = 200
# `payment_details`: derive what the payment list settles exactly, fetch the rest; or fetch all.
PaymentDetails = Literal["derive", "fetch_all"]
PAYMENT_DETAILS_MODES: tuple[str, ...] = get_args(PaymentDetails)
# The share of derived payments whose detail is fetched anyway to verify them.
DEFAULT_PAYMENT_DETAIL_SAMPLE = 0.02

# `2025-04-09T11:25:54-0400`: the organization's offset, no colon.
TIMESTAMP_FORMAT = "%Y-%m-%dT%H:%M:%S%z"

CONTACTS = Stream("contacts", "$.contacts", "$.contact_id", cursor_field="last_modified_time")
INVOICES = Stream("invoices", "$.invoices", "$.invoice_id", cursor_field="last_modified_time")
PAYMENTS = Stream(
    "customerpayments", "$.customerpayments", "$.payment_id", cursor_field="last_modified_time"
)
# Landed as a JSON array of detail responses, one per payment: `[{"payment": {...}}, ...]`;
# where the list row settles a payment's applications, derived from it instead.
PAYMENT_DETAILS = Stream(
    "customerpayment_details",
    "$[*].payment",
    "$.payment_id",
    parent="customerpayments",
    derivation=PAYMENT_APPLICATIONS,
    after=("invoices",),  # the derivation confirms a payment by its invoice's totals
)
STREAMS: tuple[Stream, ...] = (CONTACTS, INVOICES, PAYMENTS, PAYMENT_DETAILS)
