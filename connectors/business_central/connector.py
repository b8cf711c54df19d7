"""Dynamics 365 Business Central API v2.0: customers, sales invoices and credit memos, and the
customer payment journals with their (unposted) payment lines.

One connection is one company. The company is pinned in the configuration (by id or by name)
or, when the environment has only one, discovered from `/companies`. Every listing is
server-driven OData paging: `@odata.nextLink` is followed verbatim, and the page size is only
requested (`Prefer: odata.maxpagesize`).
"""

from __future__ import annotations

import re
import threading
import time
from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any

import httpx
import orjson

from connectors.auth import OAuth2ClientCredentialsAuth
from connectors.by_id import pages_by_id
from connectors.errors import ConfigurationError, NotFoundError, PayloadError
from connectors.http import DEFAULT_RESPONSE_DEADLINE_S, DEFAULT_RETRY, ApiClient, RetryPolicy
from connectors.limits import check_limits
from connectors.pagination import NextLinkPaginator, Page
from connectors.ratelimit import BudgetStore, RateLimiter, account_budget
from connectors.streams import Stream

from .mapping import MAPPINGS
from .settings import (
    API_PATH,
    API_URL,
    AUTHORITY_URL,
    COLLECTIONS,
    IDS_PER_FILTER,
    LIMITS,
    MAX_IN_FLIGHT,
    MAX_PAGE_SIZE,
    PAGE_SIZE,
    PAYMENT_JOURNALS,
    PAYMENT_LINES,
    REQUESTS_PER_FIVE_MINUTES,
    SCOPE,
    SELECT,
    SOURCE,
    STREAMS,
    TOKEN_PATH,
)

__all__ = ["BusinessCentralConnector", "BusinessCentralSettings", "budget_domain"]

_GUID = re.compile(r"[0-9a-fA-F]{8}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{12}")


@dataclass(frozen=True)
class BusinessCentralSettings:
    connection_id: str
    tenant: str  # Entra tenant id or domain
    environment: str
    client_id: str
    client_secret: str = field(repr=False)
    company_id: str | None = None  # pinned by id, or
    company_name: str | None = None  # by name; neither: the environment's only company
    api_url: str = API_URL
    authority_url: str = AUTHORITY_URL
    scope: str = SCOPE
    page_size: int = PAGE_SIZE
    requests_per_five_minutes: int = REQUESTS_PER_FIVE_MINUTES
    max_in_flight: int = MAX_IN_FLIGHT
    timeout_s: float = 60.0
    response_deadline_s: float = DEFAULT_RESPONSE_DEADLINE_S  # headers and body together
    retry: RetryPolicy = DEFAULT_RETRY
    rate_budget: BudgetStore | None = None  # where the budget is kept; None: in this process

    @property
    def base_url(self) -> str:
        return f"{self.api_url.rstrip('/')}/{self.tenant}/{self.environment}{API_PATH}"

    @property
    def token_url(self) -> str:
        return f"{self.authority_url.rstrip('/')}/{self.tenant}{TOKEN_PATH}"


def budget_domain(settings: BusinessCentralSettings) -> str:
    """The user, i.e. the app registration in its tenant: Business Central's 6,000 requests per
    five minutes are per user, whichever company or environment it reads."""
    return f"{SOURCE}:{settings.api_url}:{settings.tenant}:{settings.client_id}"


class BusinessCentralConnector:
    source = SOURCE
    streams = STREAMS
    mappings = MAPPINGS

    def __init__(
        self,
        settings: BusinessCentralSettings,
        *,
        transport: httpx.BaseTransport | None = None,
        sleep: Callable[[float], None] = time.sleep,
    ) -> None:
        check_limits(settings, LIMITS.values(), source=SOURCE, connection_id=settings.connection_id)
        self.connection_id = settings.connection_id
        self._settings = settings
        self.auth = OAuth2ClientCredentialsAuth(
            token_url=settings.token_url,
            client_id=settings.client_id,
            client_secret=settings.client_secret,
            scope=settings.scope,
        )
        self._client = ApiClient(
            source=SOURCE,
            connection_id=settings.connection_id,
            base_url=settings.base_url,
            auth=self.auth,
            timeout=httpx.Timeout(settings.timeout_s, connect=10.0),
            response_deadline_s=settings.response_deadline_s,
            retry=settings.retry,
            rate_limiter=account_budget(
                budget_domain(settings),
                source=SOURCE,
                connection_id=settings.connection_id,
                setting="requests_per_five_minutes and max_in_flight",
                store=settings.rate_budget,
                max_requests=settings.requests_per_five_minutes,
                per_seconds=300.0,
                max_in_flight=settings.max_in_flight,
            ),
            transport=transport,
            sleep=sleep,
            error_message=_odata_error_message,
        )
        self._paginator = NextLinkPaginator(max_page_size=settings.page_size)
        self._key_paginator = NextLinkPaginator(max_page_size=MAX_PAGE_SIZE)
        self._company_lock = threading.Lock()
        self._company_id = settings.company_id

    @property
    def request_count(self) -> int:
        return self._client.request_count

    def stream_request_count(self, stream: str) -> int:
        return self._client.stream_request_count(stream)

    @property
    def rate_limiter(self) -> RateLimiter:
        """The budget this connection shares with every connection of the same app registration."""
        assert self._client.rate_limiter is not None
        return self._client.rate_limiter

    def close(self) -> None:
        self._client.close()

    def check(self) -> str:
        companies = self._companies()
        company = self._pick_company(companies)
        with self._company_lock:
            self._company_id = company["id"]
        return (
            f"company {company.get('name')!r} ({company['id']}) in environment "
            f"{self._settings.environment!r} of tenant {self._settings.tenant}"
        )

    def parse_timestamp(self, value: str) -> datetime:
        moment = datetime.fromisoformat(value)
        return moment if moment.tzinfo else moment.replace(tzinfo=UTC)

    def extract(
        self, stream: Stream, *, since: datetime | None, parent_ids: Sequence[str] = ()
    ) -> Iterator[Page]:
        params = {"$select": ",".join(SELECT[stream.name])}
        if since is not None:
            stamp = since.astimezone(UTC).isoformat(timespec="milliseconds").replace("+00:00", "Z")
            params["$filter"] = f"{stream.cursor_field} gt {stamp}"
        company = f"/companies({self.company_id()})"
        if stream.name != PAYMENT_LINES.name:
            path = f"{company}/{COLLECTIONS[stream.name]}"
            return self._listings(stream, [path], params, self._paginator)
        # Lines can only be listed per journal ("You must specify a journal batch ID...").
        journals = COLLECTIONS[PAYMENT_JOURNALS.name]
        paths = [
            f"{company}/{journals}({journal_id})/{COLLECTIONS[stream.name]}"
            for journal_id in parent_ids
        ]
        return self._listings(stream, paths, params, self._paginator, gone_ok=True)

    def extract_keys(self, stream: Stream) -> Iterator[Page] | None:
        """Every record's id alone (`$select=id`, the largest pages BC serves), for the
        periodic check for deletions; None for payment lines, which are listed whole anyway."""
        if stream.parent is not None:
            return None
        path = f"/companies({self.company_id()})/{COLLECTIONS[stream.name]}"
        return self._listings(stream, [path], {"$select": "id"}, self._key_paginator)

    def extract_by_ids(self, stream: Stream, ids: Sequence[str]) -> Iterator[Page]:
        """The records with these ids, `IDS_PER_FILTER` a request (`id eq … or id eq …`)."""
        for record_id in ids:
            if not _GUID.fullmatch(record_id):
                raise PayloadError(
                    f"the id {record_id!r} is not a GUID, so it cannot be fetched by id",
                    source=SOURCE,
                    connection_id=self.connection_id,
                    stream=stream.name,
                )
        path = f"/companies({self.company_id()})/{COLLECTIONS[stream.name]}"
        select = ",".join(SELECT[stream.name])

        def listing(chunk: Sequence[str]) -> Iterator[Page]:
            params = {"$select": select, "$filter": " or ".join(f"id eq {i}" for i in chunk)}
            return self._listings(stream, [path], params, self._paginator)

        return pages_by_id(ids, IDS_PER_FILTER, listing)

    def _listings(
        self,
        stream: Stream,
        paths: Sequence[str],
        params: dict[str, str],
        paginator: NextLinkPaginator,
        *,
        gone_ok: bool = False,
    ) -> Iterator[Page]:
        """The pages of each path's listing in turn, numbered as one listing. With `gone_ok`, a
        path that answers 404 (a journal deleted since the journals were listed) has nothing."""
        number = 0
        for path in paths:
            try:
                for page in paginator.pages(self._client, path, params=params, stream=stream.name):
                    number += 1
                    yield Page(number=number, records=page.records, body=page.body, url=page.url)
            except NotFoundError:
                if not gone_ok:
                    raise

    def company_id(self) -> str:
        """The pinned company's id, or the one `/companies` names (asked once)."""
        with self._company_lock:
            if self._company_id is None:
                self._company_id = self._pick_company(self._companies())["id"]
            return self._company_id

    def _companies(self) -> list[dict[str, Any]]:
        companies: list[dict[str, Any]] = []
        for page in self._paginator.pages(self._client, "/companies", stream="companies"):
            companies.extend(page.records)
        return companies

    def _pick_company(self, companies: list[dict[str, Any]]) -> dict[str, Any]:
        settings = self._settings
        if settings.company_id is not None:
            pinned = settings.company_id.lower()
            found = [c for c in companies if str(c.get("id")).lower() == pinned]
            wanted = f"company id {settings.company_id}"
        elif settings.company_name is not None:
            found = [
                c
                for c in companies
                if settings.company_name in (c.get("name"), c.get("displayName"))
            ]
            wanted = f"company {settings.company_name!r}"
        else:
            found = companies if len(companies) == 1 else []
            wanted = "the company (the environment has several)" if companies else "a company"
        if len(found) == 1:
            return found[0]
        listed = ", ".join(f"{c.get('name')!r} ({c.get('id')})" for c in companies) or "none"
        raise self._config_error(
            settings,
            f"cannot find {wanted} in environment {settings.environment!r}; the companies "
            f"this app can read: {listed}",
            "set company_id or company_name in the connections file to one of these (one "
            "connection per company)",
        )

    @staticmethod
    def _config_error(
        settings: BusinessCentralSettings, message: str, hint: str
    ) -> ConfigurationError:
        return ConfigurationError(
            message, source=SOURCE, connection_id=settings.connection_id, hint=hint
        )


def _odata_error_message(response: httpx.Response) -> str | None:
    """`{"error": {"code", "message"}}` (OData) or Entra's `{"error", "error_description"}`."""
    try:
        body = orjson.loads(response.content)
    except orjson.JSONDecodeError:
        return None
    error = body.get("error") if isinstance(body, dict) else None
    if isinstance(error, dict) and isinstance(error.get("message"), str):
        return f"{error.get('code', 'error')}: {error['message'].strip()}"
    if isinstance(error, str):
        description = body.get("error_description")
        return f"{error}: {description}" if isinstance(description, str) else error
    return None
