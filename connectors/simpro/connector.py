"""Simpro: company and individual customers, customer invoices, credit notes, and customer
payments with their invoice lines.

A build (one base URL) serves one or more companies; a connection is one company. The build's
limit of 10 requests a second is shared by every connection to it, so they share one rate
limiter. Lists are ordered by ID, so a record modified while a listing is paged keeps its
place; after page 1, `Result-Pages` gives the page count and the rest are fetched
concurrently (`max_concurrent_requests` at a time) within the budget. A record deleted while
paging moves the later ones up a page; what that could skip lies between two pages' IDs and is
read again by ID (`ID=between(a,b)`), so a listing skips nothing.

Incremental syncs ask for `DateModified=gt(<date>)`. Whether a build accepts a full timestamp
there is UNCONFIRMED, and a date may mean "after that whole day", so the connector sends the
day before `since` in the build's own time zone (from the company's `Timezone`) and relies on
the lookback and on de-duplication by ID. They also read again by ID the customers that the
invoices and payments which changed name: their `AmountOwing` moves without their
`DateModified`.
"""

from __future__ import annotations

import time
from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass, field
from datetime import UTC, date, datetime, timedelta, tzinfo
from typing import Any
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

import httpx
import orjson

from connectors.auth import OAuth2ClientCredentialsAuth, StaticTokenAuth
from connectors.by_id import by_id_then_listing, pages_by_id
from connectors.errors import ApiError, ConfigurationError, PayloadError
from connectors.http import DEFAULT_RESPONSE_DEADLINE_S, DEFAULT_RETRY, ApiClient, RetryPolicy
from connectors.limits import check_limits
from connectors.pagination import Page, PageCountPaginator
from connectors.ratelimit import BudgetStore, account_budget
from connectors.streams import Stream

from .mapping import MAPPINGS
from .settings import (
    API_PATH,
    COLLECTIONS,
    CONCURRENT_REQUESTS,
    IDS_PER_FILTER,
    LIMITS,
    MAX_PAGE_SIZE,
    REQUESTS_PER_SECOND,
    SOURCE,
    STREAMS,
    TOKEN_PATH,
)

__all__ = ["SimproConnector", "SimproSettings", "budget_domain", "build_url"]


def build_url(url: str) -> str:
    """The build's base URL as configured, without a trailing `/` or `/api/v1.0`."""
    return url.rstrip("/").removesuffix(API_PATH).rstrip("/")


@dataclass(frozen=True)
class SimproSettings:
    """One company on one build. Credentials: an API key, or an OAuth client (client
    credentials grant at `{build}/oauth2/token`). `company_id` None means the build's only
    company (company 0 on a single-company build)."""

    connection_id: str
    build_url: str
    company_id: int | None = None
    api_key: str | None = field(default=None, repr=False)
    client_id: str | None = None
    client_secret: str | None = field(default=None, repr=False)
    page_size: int = MAX_PAGE_SIZE
    requests_per_second: int = REQUESTS_PER_SECOND
    max_concurrent_requests: int = CONCURRENT_REQUESTS  # pages in flight per listing
    timeout_s: float = 30.0
    response_deadline_s: float = DEFAULT_RESPONSE_DEADLINE_S  # headers and body together
    retry: RetryPolicy = DEFAULT_RETRY
    rate_budget: BudgetStore | None = None  # where the budget is kept; None: in this process


def budget_domain(settings: SimproSettings) -> str:
    """The build: its limit of 10 requests a second is shared by every company on it."""
    return f"{SOURCE}:{build_url(settings.build_url)}"


class SimproConnector:
    source = SOURCE
    streams = STREAMS
    mappings = MAPPINGS

    def __init__(
        self,
        settings: SimproSettings,
        *,
        transport: httpx.BaseTransport | None = None,
        sleep: Callable[[float], None] = time.sleep,
    ) -> None:
        self.connection_id = settings.connection_id
        self._settings = settings
        check_limits(settings, LIMITS.values(), source=SOURCE, connection_id=settings.connection_id)
        self._build_url = build_url(settings.build_url)
        limiter = account_budget(
            budget_domain(settings),
            source=SOURCE,
            connection_id=settings.connection_id,
            setting="requests_per_second",
            store=settings.rate_budget,
            max_requests=settings.requests_per_second,
            per_seconds=1.0,
        )
        self._client = ApiClient(
            source=SOURCE,
            connection_id=settings.connection_id,
            base_url=self._build_url + API_PATH,
            auth=self._auth(settings),
            timeout=httpx.Timeout(settings.timeout_s, connect=10.0),
            response_deadline_s=settings.response_deadline_s,
            retry=settings.retry,
            rate_limiter=limiter,
            transport=transport,
            sleep=sleep,
            error_message=_simpro_error_message,
        )
        self._company_id = settings.company_id
        self._company: dict[str, Any] | None = None

    @property
    def request_count(self) -> int:
        return self._client.request_count

    def stream_request_count(self, stream: str) -> int:
        return self._client.stream_request_count(stream)

    def close(self) -> None:
        self._client.close()

    def check(self) -> str:
        company = self._company_detail()
        return (
            f"company {company.get('Name')!r} (ID {self._resolved_company_id()}) on build "
            f"{self._build_url}, base currency {company.get('Currency')}, time zone "
            f"{company.get('Timezone') or company.get('TimezoneOffset')}"
        )

    def parse_timestamp(self, value: str) -> datetime:
        """Both forms builds send: `2018-05-21T19:53:39+10:00` and `2026-08-30 09:12:44+10`."""
        moment = datetime.fromisoformat(value)
        if moment.tzinfo is None:
            raise ValueError(f"timestamp {value!r} has no UTC offset")
        return moment

    def extract(
        self, stream: Stream, *, since: datetime | None, parent_ids: Sequence[str] = ()
    ) -> Iterator[Page]:
        path, columns = COLLECTIONS[stream.name]
        params = {"columns": ",".join(columns), "orderby": "ID"}
        if since is None:
            return self._pages(stream, path, params, self._settings.page_size)
        params["DateModified"] = f"gt({self.modified_after(since).isoformat()})"
        listing = self._pages(stream, path, params, self._settings.page_size)
        # An ID that is not a number names no customer (its record is quarantined on its own).
        named = [record_id for record_id in parent_ids if record_id.isdigit()]
        if not named:
            return listing
        return by_id_then_listing(self.extract_by_ids(stream, named), listing)

    def extract_keys(self, stream: Stream) -> Iterator[Page]:
        """Every record's ID alone, 250 a page: the cheap complete listing that finds deletes."""
        path, _ = COLLECTIONS[stream.name]
        return self._pages(stream, path, {"columns": "ID", "orderby": "ID"}, MAX_PAGE_SIZE)

    def extract_by_ids(self, stream: Stream, ids: Sequence[str]) -> Iterator[Page]:
        """The records with these IDs, `IDS_PER_FILTER` a request (`ID=in(…)`, one page)."""
        for record_id in ids:
            if not record_id.isdigit():
                raise PayloadError(
                    f"the ID {record_id!r} is not a whole number, so it cannot be fetched by ID",
                    source=SOURCE,
                    connection_id=self.connection_id,
                    stream=stream.name,
                )
        path, columns = COLLECTIONS[stream.name]

        def listing(chunk: Sequence[str]) -> Iterator[Page]:
            params = {"columns": ",".join(columns), "orderby": "ID", "ID": f"in({','.join(chunk)})"}
            return self._pages(stream, path, params, MAX_PAGE_SIZE, key=None)

        return pages_by_id(ids, IDS_PER_FILTER, listing)

    def modified_after(self, since: datetime) -> date:
        """The `DateModified=gt(...)` date that cannot miss a change made at or after `since`,
        whether the build reads it as "after that day" or "after its midnight"."""
        zone = self._build_zone()
        if zone is None:  # any offset on earth is within a day of UTC
            return since.astimezone(UTC).date() - timedelta(days=2)
        return since.astimezone(zone).date() - timedelta(days=1)

    # -- internals -------------------------------------------------------------------------

    def _pages(
        self,
        stream: Stream,
        path: str,
        params: dict[str, str],
        page_size: int,
        *,
        key: str | None = "ID",
    ) -> Iterator[Page]:
        """The listing's pages; with `key`, the gaps between pages' IDs are read again by ID."""
        paginator = PageCountPaginator(
            page_size=page_size, max_workers=self._settings.max_concurrent_requests, key=key
        )
        company = self._resolved_company_id()
        try:
            yield from paginator.pages(
                self._client, f"/companies/{company}/{path}", params=params, stream=stream.name
            )
        except ApiError as error:
            if error.status_code == 422:
                error.hint = (
                    f"this build rejects a column or filter ledgersync asks for on {path}; an "
                    "older build may lack a column: report it with the message above"
                )
            raise

    def _resolved_company_id(self) -> int:
        if self._company_id is None:
            body, _ = self._client.get_json("/companies/", stream="companies")
            companies = [c for c in body if isinstance(c, dict)] if isinstance(body, list) else []
            if len(companies) != 1:
                listed = ", ".join(f"{c.get('ID')} ({c.get('Name')})" for c in companies)
                raise self._config_error(
                    f"the build has {len(companies)} companies ({listed or 'none'}); a "
                    "connection syncs one",
                    hint="set company_id to one of the IDs above in the connections file",
                )
            self._company_id = int(companies[0]["ID"])
        return self._company_id

    def _company_detail(self) -> dict[str, Any]:
        if self._company is None:
            body, _ = self._client.get_json(
                f"/companies/{self._resolved_company_id()}", stream="companies"
            )
            self._company = body if isinstance(body, dict) else {}
        return self._company

    def _build_zone(self) -> tzinfo | None:
        """The build's time zone: its `Timezone` name, else its current `TimezoneOffset`."""
        company = self._company_detail()
        name = company.get("Timezone")
        if isinstance(name, str) and name:
            try:
                return ZoneInfo(name)
            except (ZoneInfoNotFoundError, ValueError):
                pass
        offset = company.get("TimezoneOffset")
        if isinstance(offset, str):
            try:
                return datetime.fromisoformat(f"2000-01-01T00:00:00{offset}").tzinfo
            except ValueError:
                return None
        return None

    def _auth(self, settings: SimproSettings) -> httpx.Auth:
        if settings.api_key and not (settings.client_id or settings.client_secret):
            return StaticTokenAuth(settings.api_key)
        if settings.client_id and settings.client_secret and not settings.api_key:
            return OAuth2ClientCredentialsAuth(
                token_url=build_url(settings.build_url) + TOKEN_PATH,
                client_id=settings.client_id,
                client_secret=settings.client_secret,
                scope=None,
            )
        raise self._config_error(
            "give either an API key or an OAuth client id and secret",
            hint="set api_key_env, or auth: oauth with client_id_env and client_secret_env",
        )

    def _config_error(self, message: str, *, hint: str) -> ConfigurationError:
        return ConfigurationError(
            message, source=SOURCE, connection_id=self.connection_id, hint=hint
        )


def _simpro_error_message(response: httpx.Response) -> str | None:
    """Simpro's `{"errors": [{"path", "message", "value"}]}`, every error, values named:
    `Invalid columns found: Foo, Bar`."""
    try:
        body = orjson.loads(response.content)
    except orjson.JSONDecodeError:
        return None
    if not isinstance(body, dict):
        return None
    found = body.get("errors")
    if not isinstance(found, list):
        message = body.get("message") or body.get("error_description") or body.get("error")
        return str(message) if message else None
    values: dict[str, list[str]] = {}
    for error in found:
        if isinstance(error, dict) and error.get("message"):
            named = values.setdefault(str(error["message"]), [])
            if error.get("value") not in (None, ""):
                named.append(str(error["value"]))
    return (
        "; ".join(
            f"{message}: {', '.join(named)}" if named else message
            for message, named in values.items()
        )
        or None
    )
