"""Carbon: customers with their payment terms, invoices from the `salesInvoices` view, customer
receipts and their settlements, through Carbon's PostgREST Data API.

Paging is `limit`/`offset` ordered on each stream's unique key with ``Prefer: count=exact``
(`OffsetPaginator`): the first response's Content-Range gives the total, the other pages are
fetched concurrently (`max_concurrent_requests` at a time) within the key's budget, a server's
`max-rows` cap loses nothing, and rows deleted while paging skip nothing (each page overlaps the
last by a row; a shift is repaired by key).

Incremental syncs ask for rows changed at or after T with
``or=(updatedAt.gte.T,and(updatedAt.is.null,createdAt.gte.T))`` (`updatedAt` is null until a
row's first edit); settlements have only `createdAt`. Posting or voiding a payment or a credit
memo changes the balance of the invoices it settles, in the view, without touching them. So an
incremental sync also re-reads the settlements of every memo and payment that changed, and then
every invoice still open (``balance.gt.0``) together with the invoices those settlements target
(one just paid off is no longer open). Which those are the sync derives from the warehouse (the
streams' `rereads`) and passes as `parent_ids`, so nothing rides in memory from one stream to
the next: a sync killed between them reads them again when run again.

Money is never parsed in Python: the raw pages are landed verbatim and the mapping reads the
amounts as DECIMAL (exact up to 15 significant digits; longer ones are quarantined).
"""

from __future__ import annotations

import hashlib
import time
from collections.abc import Callable, Iterable, Iterator, Sequence
from dataclasses import dataclass, field, replace
from datetime import UTC, datetime

import httpx
import orjson

from connectors.auth import StaticTokenAuth
from connectors.by_id import pages_by_id
from connectors.errors import ConfigurationError
from connectors.http import DEFAULT_RESPONSE_DEADLINE_S, DEFAULT_RETRY, ApiClient, RetryPolicy
from connectors.limits import check_limits
from connectors.pagination import OffsetPaginator, Page
from connectors.ratelimit import BudgetStore, RateLimiter, account_budget
from connectors.streams import Stream

from .mapping import MAPPINGS
from .settings import (
    CONCURRENT_REQUESTS,
    ENDPOINTS,
    HOSTED_API_URL,
    KEY_HEADER,
    LIMITS,
    MAX_IDS_PER_FILTER,
    MAX_ROWS,
    REQUESTS_PER_MINUTE,
    SOURCE,
    STREAMS,
    Endpoint,
)

__all__ = ["CarbonConnector", "CarbonSettings", "budget_domain"]

# Beyond this many rows to re-read by id, one listing of them all costs fewer requests.
_MAX_REREAD_BY_ID = 10 * MAX_IDS_PER_FILTER


@dataclass(frozen=True)
class CarbonSettings:
    connection_id: str
    api_key: str = field(repr=False)
    api_url: str = HOSTED_API_URL
    self_hosted: bool = False  # the key goes in `carbon-key`, not `Authorization: Bearer`
    page_size: int = MAX_ROWS
    requests_per_minute: int = REQUESTS_PER_MINUTE
    max_concurrent_requests: int = CONCURRENT_REQUESTS  # pages in flight per listing
    timeout_s: float = 30.0
    response_deadline_s: float = DEFAULT_RESPONSE_DEADLINE_S  # headers and body together
    retry: RetryPolicy = DEFAULT_RETRY
    rate_budget: BudgetStore | None = None  # where the budget is kept; None: in this process


def budget_domain(settings: CarbonSettings) -> str:
    """The API key (by a fingerprint, never the key): Carbon's limit is per key, whichever
    connection or process uses it."""
    fingerprint = hashlib.sha256(settings.api_key.encode()).hexdigest()[:16]
    return f"{SOURCE}:{settings.api_url}:{fingerprint}"


class CarbonConnector:
    source = SOURCE
    streams = STREAMS
    mappings = MAPPINGS

    def __init__(
        self,
        settings: CarbonSettings,
        *,
        transport: httpx.BaseTransport | None = None,
        sleep: Callable[[float], None] = time.sleep,
        rate_limiter: RateLimiter | None = None,
    ) -> None:
        check_limits(settings, LIMITS.values(), source=SOURCE, connection_id=settings.connection_id)
        self.connection_id = settings.connection_id
        self._settings = settings
        auth = (
            StaticTokenAuth(settings.api_key, header=KEY_HEADER, scheme=None)
            if settings.self_hosted
            else StaticTokenAuth(settings.api_key)
        )
        self._client = ApiClient(
            source=SOURCE,
            connection_id=settings.connection_id,
            base_url=settings.api_url.rstrip("/"),
            auth=auth,
            timeout=httpx.Timeout(settings.timeout_s, connect=10.0),
            response_deadline_s=settings.response_deadline_s,
            retry=settings.retry,
            rate_limiter=rate_limiter
            or account_budget(
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
            error_message=_postgrest_error_message,
        )

    @property
    def request_count(self) -> int:
        return self._client.request_count

    def stream_request_count(self, stream: str) -> int:
        return self._client.stream_request_count(stream)

    def close(self) -> None:
        self._client.close()

    def check(self) -> str:
        body, _ = self._client.get_json(
            "/company",
            params={"select": "id,name,baseCurrencyCode", "order": "id.asc", "limit": 1},
            stream="company",
        )
        if not isinstance(body, list) or not body:
            raise ConfigurationError(
                "the API key reads no company",
                source=SOURCE,
                connection_id=self.connection_id,
                hint="check the key (Carbon → Settings → API Keys) and its permissions; a "
                "self-hosted Carbon answers an unknown key with no rows rather than an error",
            )
        company = body[0]
        return (
            f"company {company.get('name')!r} ({company.get('id')}), base currency "
            f"{company.get('baseCurrencyCode')}"
        )

    def parse_timestamp(self, value: str) -> datetime:
        moment = datetime.fromisoformat(value)
        return moment.replace(tzinfo=UTC) if moment.tzinfo is None else moment

    def extract(
        self, stream: Stream, *, since: datetime | None, parent_ids: Sequence[str] = ()
    ) -> Iterator[Page]:
        endpoint = ENDPOINTS[stream.name]
        number = 0
        for params in self._listings(stream.name, endpoint, since, parent_ids):
            for page in self._paginator(endpoint).pages(
                self._client, f"/{endpoint.path}", params=params, stream=stream.name
            ):
                number += 1
                yield replace(page, number=number)

    def extract_keys(self, stream: Stream) -> Iterator[Page]:
        """Every row's key alone (``select=<key>``), for the periodic check for deletions."""
        endpoint = ENDPOINTS[stream.name]
        params = {"select": endpoint.key, "order": endpoint.order, **dict(endpoint.filters)}
        return self._paginator(endpoint).pages(
            self._client, f"/{endpoint.path}", params=params, stream=stream.name
        )

    def extract_by_ids(self, stream: Stream, ids: Sequence[str]) -> Iterator[Page]:
        """The rows with these keys, `MAX_IDS_PER_FILTER` a request (``<key>=in.(…)``), under
        the stream's filters."""
        endpoint = ENDPOINTS[stream.name]
        base = {"select": endpoint.select, "order": endpoint.order, **dict(endpoint.filters)}

        def listing(chunk: Sequence[str]) -> Iterator[Page]:
            params = {**base, endpoint.key: f"in.({_in_list(chunk)})"}
            return self._paginator(endpoint).pages(
                self._client, f"/{endpoint.path}", params=params, stream=stream.name
            )

        return pages_by_id(ids, MAX_IDS_PER_FILTER, listing)

    def _paginator(self, endpoint: Endpoint) -> OffsetPaginator:
        return OffsetPaginator(
            page_size=self._settings.page_size,
            key=endpoint.key,
            max_workers=self._settings.max_concurrent_requests,
        )

    def _listings(
        self, stream: str, endpoint: Endpoint, since: datetime | None, reread: Sequence[str]
    ) -> list[dict[str, str]]:
        """The query parameters of each listing that together cover what `stream` needs:
        what changed since `since`, and the rows `reread` names (of settlements, the memos'
        and payments' ids; of invoices, their own)."""
        base = {"select": endpoint.select, "order": endpoint.order, **dict(endpoint.filters)}
        if since is None or endpoint.incremental is None:
            return [base]
        moment = since.astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%S.%fZ")
        changed = [f"createdAt.gte.{moment}"]
        if endpoint.incremental == "updated":
            changed = [f"updatedAt.gte.{moment}", f"and(updatedAt.is.null,{changed[0]})"]
        columns: tuple[str, ...] = ()
        if stream == "invoice_settlement":
            columns = ("paymentId", "memoId")
        elif stream == "sales_invoices":
            changed.append("balance.gt.0")
            columns = ("id",)
        ids = sorted(reread) if columns else []
        if len(ids) > _MAX_REREAD_BY_ID:
            return [base]
        return _or_listings(base, changed, columns, ids)


def _or_listings(
    base: dict[str, str], changed: list[str], columns: tuple[str, ...], ids: list[str]
) -> list[dict[str, str]]:
    """One listing of rows matching any of `changed` or whose `columns` hold one of the first
    ids, and one more per further chunk of ids (so no URL grows without bound)."""
    chunks = [ids[i : i + MAX_IDS_PER_FILTER] for i in range(0, len(ids), MAX_IDS_PER_FILTER)]

    def matching(chunk: list[str]) -> list[str]:
        return [f"{column}.in.({_in_list(chunk)})" for column in columns]

    first = [*changed, *(matching(chunks[0]) if chunks else [])]
    return [
        {**base, "or": f"({','.join(first)})"},
        *({**base, "or": f"({','.join(matching(chunk))})"} for chunk in chunks[1:]),
    ]


def _in_list(values: Iterable[str]) -> str:
    """PostgREST list items; an item with a reserved character is double-quoted."""
    return ",".join(
        '"' + v.replace("\\", "\\\\").replace('"', '\\"') + '"'
        if any(c in v for c in ',()":')
        else v
        for v in values
    )


def _postgrest_error_message(response: httpx.Response) -> str | None:
    """PostgREST's (and Carbon's proxy's) ``{code, message, details, hint}`` in one line."""
    try:
        body = orjson.loads(response.content)
    except orjson.JSONDecodeError:
        return None
    if not isinstance(body, dict) or not isinstance(body.get("message"), str):
        return None
    text: str = body["message"]
    if body.get("code"):
        text += f" [code {body['code']}]"
    if body.get("details"):
        text += f"; details: {body['details']}"
    if body.get("hint"):
        text += f"; hint: {body['hint']}"
    return text
