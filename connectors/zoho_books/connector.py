"""Zoho Books: contacts, invoices, and customer payments with their invoice applications.

The payment list carries only `invoice_numbers`, so a payment's `invoices[]` is in its detail,
one call each (Zoho's free plan allows 1,000 calls a day). The sync asks only for payments whose
list row changed since their detail was stored, and with `payment_details: derive` (the default)
not even for those whose applications the list row settles exactly (`derivation`), apart from a
sample that verifies the derivation.
"""

from __future__ import annotations

import time
from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any

import httpx
import orjson

from connectors.auth import OAuth2RefreshTokenAuth
from connectors.errors import ConfigurationError, NotFoundError
from connectors.http import DEFAULT_RESPONSE_DEADLINE_S, DEFAULT_RETRY, ApiClient, RetryPolicy
from connectors.limits import check_limits
from connectors.pagination import KeysetPaginator, Page
from connectors.ratelimit import BudgetStore, account_budget
from connectors.streams import Stream
from connectors.token_store import RefreshTokenFile

from .mapping import MAPPINGS
from .settings import (
    DATA_CENTRES,
    DEFAULT_PAYMENT_DETAIL_SAMPLE,
    DETAILS_PER_LANDED_PAGE,
    LIMITS,
    MAX_PAGE_SIZE,
    PAYMENT_DETAILS_MODES,
    REQUESTS_PER_MINUTE,
    SOURCE,
    STREAMS,
    TIMESTAMP_FORMAT,
    TOKEN_PATH,
    PaymentDetails,
)

__all__ = ["ZohoBooksConnector", "ZohoBooksSettings", "budget_domain"]

_LIST_PARAMS: dict[str, dict[str, str]] = {
    "contacts": {
        "contact_type": "customer",
        "filter_by": "Status.All",
        "sort_column": "last_modified_time",
        "sort_order": "A",
    },
    "invoices": {"filter_by": "Status.All", "sort_column": "date", "sort_order": "A"},
    "customerpayments": {"sort_column": "date", "sort_order": "A"},
}


def _timestamp(value: str) -> datetime:
    """Zoho's `2025-04-09T11:25:54-0400`; fromisoformat is ~50x faster than strptime."""
    moment = datetime.fromisoformat(value)
    if moment.tzinfo is None:
        raise ValueError(f"{value!r} has no UTC offset (Zoho sends {TIMESTAMP_FORMAT})")
    return moment


def _utc_instant(value: str) -> datetime:
    """A `last_modified_time` as the instant it names: the organization's offset changes when its
    clocks go back, and 01:10-0500 then sorts before 01:30-0400 as text, though it is later."""
    return _timestamp(value).astimezone(UTC)


@dataclass(frozen=True)
class _Keyset:
    key: str  # the column the list is sorted on and restarts from
    restart_param: str  # the inclusive filter on it
    id_key: str  # tells rows of one key apart
    order: Callable[[str], Any] = str  # how keys compare


# Every list is read from its last key on, so a record deleted while it is paged cannot move one
# past a page: invoices and payments from the last date (`date_start`), contacts (which Zoho
# cannot filter by date) from the last modified time (`last_modified_time`, compared as instants).
_KEYSETS = {
    "contacts": _Keyset("last_modified_time", "last_modified_time", "contact_id", _utc_instant),
    "invoices": _Keyset("date", "date_start", "invoice_id"),
    "customerpayments": _Keyset("date", "date_start", "payment_id"),
}


@dataclass(frozen=True)
class ZohoBooksSettings:
    connection_id: str
    organization_id: str
    client_id: str
    client_secret: str = field(repr=False)
    refresh_token: str = field(repr=False)
    api_url: str = DATA_CENTRES["com"][0]
    accounts_url: str = DATA_CENTRES["com"][1]
    page_size: int = MAX_PAGE_SIZE
    requests_per_minute: int = REQUESTS_PER_MINUTE
    timeout_s: float = 30.0
    response_deadline_s: float = DEFAULT_RESPONSE_DEADLINE_S  # headers and body together
    retry: RetryPolicy = DEFAULT_RETRY
    payment_details: PaymentDetails = "derive"
    payment_detail_sample: float = DEFAULT_PAYMENT_DETAIL_SAMPLE
    rate_budget: BudgetStore | None = None  # where the budget is kept; None: in this process
    refresh_tokens: RefreshTokenFile | None = None  # where a rotated one is kept; None: memory


def budget_domain(settings: ZohoBooksSettings) -> str:
    """The organization: Zoho's 100 requests a minute are per organization, whichever login,
    connection or process calls."""
    return f"{SOURCE}:{settings.api_url}:{settings.organization_id}"


class ZohoBooksConnector:
    source = SOURCE
    streams = STREAMS
    mappings = MAPPINGS

    def __init__(
        self,
        settings: ZohoBooksSettings,
        *,
        transport: httpx.BaseTransport | None = None,
        sleep: Callable[[float], None] = time.sleep,
    ) -> None:
        check_limits(settings, LIMITS.values(), source=SOURCE, connection_id=settings.connection_id)
        if settings.payment_details not in PAYMENT_DETAILS_MODES:
            raise ConfigurationError(
                f"payment_details is {settings.payment_details!r}",
                source=SOURCE,
                connection_id=settings.connection_id,
                hint="set payment_details to derive or fetch_all in the connections file",
            )
        if not 0 <= settings.payment_detail_sample <= 1:
            raise ConfigurationError(
                f"payment_detail_sample is {settings.payment_detail_sample}, not a share",
                source=SOURCE,
                connection_id=settings.connection_id,
                hint="set payment_detail_sample between 0 and 1 (0.02 verifies 2% of derived "
                "payments) in the connections file",
            )
        self.connection_id = settings.connection_id
        self._settings = settings
        self._client = ApiClient(
            source=SOURCE,
            connection_id=settings.connection_id,
            base_url=settings.api_url,
            auth=OAuth2RefreshTokenAuth(
                token_url=settings.accounts_url.rstrip("/") + TOKEN_PATH,
                client_id=settings.client_id,
                client_secret=settings.client_secret,
                refresh_token=settings.refresh_token,
                stored=settings.refresh_tokens,
            ),
            default_params={"organization_id": settings.organization_id},
            timeout=httpx.Timeout(settings.timeout_s, connect=10.0),
            response_deadline_s=settings.response_deadline_s,
            retry=settings.retry,
            rate_limiter=account_budget(
                budget_domain(settings),
                source=SOURCE,
                connection_id=settings.connection_id,
                setting="requests_per_minute",
                store=settings.rate_budget,
                max_requests=settings.requests_per_minute,
                per_seconds=60.0,
            ),
            transport=transport,
            sleep=sleep,
            error_message=_zoho_error_message,
        )

    @property
    def request_count(self) -> int:
        return self._client.request_count

    def stream_request_count(self, stream: str) -> int:
        return self._client.stream_request_count(stream)

    def close(self) -> None:
        self._client.close()

    def derivation_sample(self, stream: Stream) -> float | None:
        """The share of derived payments verified by their detail; None with fetch_all."""
        if stream.derivation is None or self._settings.payment_details == "fetch_all":
            return None
        return self._settings.payment_detail_sample

    def check(self) -> str:
        body, _ = self._client.get_json("/organizations", stream="organizations")
        organizations = {org["organization_id"]: org for org in body.get("organizations", [])}
        org = organizations.get(self._settings.organization_id)
        if org is None:
            raise ConfigurationError(
                f"organization {self._settings.organization_id} is not one this login can read "
                f"(it can read {sorted(organizations) or 'none'})",
                source=SOURCE,
                connection_id=self.connection_id,
                hint="set organization_id to one of the ids above (Zoho Books → Settings → "
                "Organization Profile)",
            )
        name, currency = org.get("name"), org.get("currency_code")
        return f"organization {name!r} ({org['organization_id']}), base currency {currency}"

    def parse_timestamp(self, value: str) -> datetime:
        return _timestamp(value)

    def extract(
        self, stream: Stream, *, since: datetime | None, parent_ids: Sequence[str] = ()
    ) -> Iterator[Page]:
        if stream.parent:
            yield from self._payment_details(stream, parent_ids)
            return
        params = {"per_page": self._settings.page_size, **_LIST_PARAMS[stream.name]}
        if since is not None:
            params["last_modified_time"] = since.astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%S+0000")
        keyset = _KEYSETS[stream.name]
        paginator = KeysetPaginator(
            records_key=stream.name,
            page_size=self._settings.page_size,
            key=keyset.key,
            id_key=keyset.id_key,
            restart_param=keyset.restart_param,
            has_more=_has_more,
            key_order=keyset.order,
        )
        yield from paginator.pages(
            self._client, f"/{stream.name}", params=params, stream=stream.name
        )

    def _payment_details(self, stream: Stream, payment_ids: Sequence[str]) -> Iterator[Page]:
        """Details in landed pages of up to DETAILS_PER_LANDED_PAGE responses each."""
        number = 0
        for start in range(0, len(payment_ids), DETAILS_PER_LANDED_PAGE):
            bodies: list[bytes] = []
            records: list[dict[str, object]] = []
            for payment_id in payment_ids[start : start + DETAILS_PER_LANDED_PAGE]:
                try:
                    body, response = self._client.get_json(
                        f"/customerpayments/{payment_id}", stream=stream.name
                    )
                except NotFoundError:
                    continue  # deleted since it was listed; full-key reconciliation marks it
                if not isinstance(body, dict) or not isinstance(body.get("payment"), dict):
                    # One bad detail must not stop the sync: its payment stays pending and is
                    # asked for again next time.
                    continue
                bodies.append(response.content)
                records.append(body["payment"])
            number += 1
            yield Page(
                number=number,
                records=records,
                body=b"[" + b",".join(bodies) + b"]",
                url=f"{self._settings.api_url}/customerpayments/{{payment_id}}",
            )


def _has_more(body: Any) -> bool:
    return bool(body["page_context"]["has_more_page"])


def _zoho_error_message(response: httpx.Response) -> str | None:
    try:
        body = orjson.loads(response.content)
    except orjson.JSONDecodeError:
        return None
    if isinstance(body, dict) and "message" in body:
        return f"Zoho code {body.get('code')}: {body['message']}"
    return None
