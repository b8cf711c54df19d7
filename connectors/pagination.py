"""Paging strategies, one per paging style of the four sources (see SOURCES.md).

A paginator is a small, stateless strategy object; ``pages(client, path, ...)`` walks one listing
and yields `Page` objects in order, each with the raw body exactly as received. Streams choose
and configure their paginator explicitly; nothing is auto-detected.

==========================  ============================================  =====================
strategy                    stops when                                     source
==========================  ============================================  =====================
`NextLinkPaginator`         the body has no ``@odata.nextLink``            Business Central
`PageCountPaginator`        page ``Result-Pages`` was read (concurrent)    Simpro
`KeysetPaginator`           ``has_more(body)`` is false (restarts by key)  Zoho Books
`OffsetPaginator`           ``Content-Range`` total covered (concurrent)   Carbon (PostgREST)
==========================  ============================================  =====================

Paging never loops and never silently skips rows: a page repeating an earlier page's records,
a repeated link, or a listing that ends short of its announced total raises `PaginationError`.
The concurrent strategies fetch ahead on a thread pool (each request still takes a slot of the
client's rate limiter) and yield pages in order; the chained ones (the next request is known only
from the current response) send it before yielding the current page, so it is in flight while
the caller lands and loads.
"""

from __future__ import annotations

import hashlib
import re
from collections import deque
from collections.abc import Callable, Iterable, Iterator, Mapping
from concurrent.futures import Future, ThreadPoolExecutor
from dataclasses import dataclass, field, replace
from itertools import dropwhile, islice
from typing import Any, Protocol, TypeVar

import httpx
import orjson

from connectors.errors import ApiError, ConfigurationError, PaginationError, PayloadError
from connectors.http import ApiClient

__all__ = [
    "NextLinkPaginator",
    "OffsetPaginator",
    "Page",
    "PageCountPaginator",
    "KeysetPaginator",
    "Paginator",
]

_T = TypeVar("_T")
_R = TypeVar("_R")


@dataclass(frozen=True, slots=True)
class Page:
    """One response of a listing: `number` is 1-based in yield order, `body` the raw response
    body verbatim (land this; `records` were parsed with orjson, floats are binary, less any
    rows the page before already had where pages overlap), `url` the request URL, redacted.
    A `repair` page re-read rows that a change at the source while paging had moved past the
    pages around them (the stream's figures count them)."""

    number: int
    records: list[dict[str, Any]]
    body: bytes = field(repr=False)
    url: str
    repair: bool = False


class Paginator(Protocol):
    def pages(
        self,
        client: ApiClient,
        path: str,
        *,
        params: Mapping[str, Any] | None = None,
        headers: Mapping[str, str] | None = None,
        stream: str,
    ) -> Iterator[Page]: ...


@dataclass(frozen=True, kw_only=True)
class KeysetPaginator:
    """Page numbers that restart from the last key read, so a deletion cannot skip a row.

    For an API whose lists page by number and can be sorted and filtered (inclusively) on a
    column, but not on a unique one: Zoho Books' invoices and payments, sorted by ``date`` and
    filtered with ``date_start``. Each request asks for page 1 of the rows from the last page's
    last key on (``restart_param``), so rows deleted before it move nothing it reads; the rows
    of that key already read come again and are left out of `records` (the body stays verbatim),
    as is a row from before it that a source repeats. Only a run of one key longer than a page
    is paged by number within it. A page that ends below the restart key means the source
    ignored the filter: a `PaginationError`. Keys compare as text (ISO dates sort so) unless
    `key_order` maps them to what does sort: timestamps with UTC offsets, which sort as text only
    until a time-zone's clocks go back.
    """

    records_key: str
    page_size: int
    key: str  # the column sorted and filtered on
    id_key: str  # the record's unique id
    restart_param: str
    has_more: Callable[[Any], bool]
    page_param: str = "page"
    size_param: str = "per_page"
    key_order: Callable[[str], Any] = str

    def pages(
        self,
        client: ApiClient,
        path: str,
        *,
        params: Mapping[str, Any] | None = None,
        headers: Mapping[str, str] | None = None,
        stream: str,
    ) -> Iterator[Page]:
        restart: str | None = None  # the key as the source wrote it, sent back verbatim
        restart_order: Any = None  # the same key as `key_order` ranks it
        seen: set[str] = set()  # ids of the rows of key `restart` already read
        in_run = 1  # the page number within the rows from `restart` on

        def fetch(from_key: str | None, in_run: int) -> tuple[Any, httpx.Response]:
            page_params = {
                **(params or {}),
                self.page_param: in_run,
                self.size_param: self.page_size,
            }
            if from_key is not None:
                page_params[self.restart_param] = from_key
            return client.get_json(path, params=page_params, headers=headers, stream=stream)

        with _NextRequest() as ahead:
            ahead.start(fetch, restart, in_run)
            number = 0
            while True:
                number += 1
                data, response = ahead.result()
                page = _page(client, stream, number, data, response, self.records_key)
                try:
                    more = bool(self.has_more(data))
                    keys = [str(record[self.key]) for record in page.records]
                    orders = [self.key_order(key) for key in keys]
                    ids = [str(record[self.id_key]) for record in page.records]
                except (KeyError, IndexError, TypeError, ValueError) as exc:
                    raise _error(
                        PayloadError,
                        client,
                        stream,
                        f"page {number} lacks paging information or a row's {self.key} or "
                        f"{self.id_key} ({type(exc).__name__}: {exc})",
                        url=page.url,
                    ) from exc
                if restart is not None and orders and orders[-1] < restart_order:
                    raise _error(
                        PaginationError,
                        client,
                        stream,
                        f"asked for rows from {self.key} {restart} on, got earlier ones: the "
                        f"source ignores {self.restart_param}",
                        url=page.url,
                    )
                if more and not page.records:
                    raise _error(
                        PaginationError,
                        client,
                        stream,
                        f"page {number} is empty but says more pages follow",
                        url=page.url,
                    )
                new = [
                    record
                    for record, order, id_ in zip(page.records, orders, ids, strict=True)
                    if restart is None
                    or order > restart_order
                    or (order == restart_order and id_ not in seen)
                ]
                if restart is not None and not new and not more:
                    # Asked for because the page before said more followed; a source that
                    # reads the filter as "equal to" (SOURCES.md: UNCONFIRMED for Zoho's
                    # last_modified_time) ends here, silently short, unless this stops it.
                    raise _error(
                        PaginationError,
                        client,
                        stream,
                        f"asked for the rows from {self.key} {restart} on after a page that said "
                        f"more followed, got only rows already read: the source may read "
                        f"{self.restart_param} as 'equal to', not 'at or after' (or every "
                        "remaining row was deleted meanwhile: then the next sync succeeds)",
                        url=page.url,
                    )
                if more:
                    if orders[-1] == restart_order:
                        in_run += 1  # one key fills the page: page on within it
                    else:
                        restart, restart_order, in_run, seen = keys[-1], orders[-1], 1, set()
                    seen.update(i for o, i in zip(orders, ids, strict=True) if o == restart_order)
                    ahead.start(fetch, restart, in_run)
                yield replace(page, records=new)
                if not more:
                    return


@dataclass(frozen=True, kw_only=True)
class NextLinkPaginator:
    """OData server-driven paging: follow ``@odata.nextLink`` verbatim until absent.

    Never ``$top``/``$skip`` (Business Central's docs forbid client paging); the page size is
    only requested, with ``Prefer: odata.maxpagesize=N``. A relative link is resolved against
    the page it came from; the client refuses links to another host.
    """

    records_key: str = "value"
    next_link_key: str = "@odata.nextLink"
    max_page_size: int | None = None

    def pages(
        self,
        client: ApiClient,
        path: str,
        *,
        params: Mapping[str, Any] | None = None,
        headers: Mapping[str, str] | None = None,
        stream: str,
    ) -> Iterator[Page]:
        request_headers = httpx.Headers(headers)
        if self.max_page_size is not None:
            _add_preference(request_headers, f"odata.maxpagesize={self.max_page_size}")
        guard = _LoopGuard(client, stream)

        def fetch(url: str, page_params: Mapping[str, Any] | None) -> tuple[Any, httpx.Response]:
            return client.get_json(url, params=page_params, headers=request_headers, stream=stream)

        with _NextRequest() as ahead:
            ahead.start(fetch, path, params)
            number = 0
            while True:
                number += 1
                data, response = ahead.result()
                page = _page(client, stream, number, data, response, self.records_key)
                guard.check_page(page)
                link = data.get(self.next_link_key)
                if link is not None and not isinstance(link, str):
                    raise _error(
                        PayloadError,
                        client,
                        stream,
                        f"page {number} has a non-string {self.next_link_key}",
                        url=page.url,
                    )
                if link:
                    url = str(response.url.join(link))
                    guard.check_link(url, number)
                    ahead.start(fetch, url, None)
                yield page
                if not link:
                    return


@dataclass(frozen=True, kw_only=True)
class PageCountPaginator:
    """Simpro: ``?page=n&pageSize=N``, a bare JSON array, and the page count in a header.

    Page 1 tells the count (``Result-Pages``); pages 2..N are fetched concurrently and yielded
    in order. If a later page announces more pages (rows were added while paging) those are
    fetched too.

    With a `key` (an integer column the listing is ordered by, ascending), nothing is skipped
    when rows are deleted while paging: a deletion moves every later row up a place, so a row
    can only be missed between one page's last key and the next page's first (or after the last
    page, unless it ended short). Those gaps are read again by key (``<key>=between(a,b)``, then
    ``gt(a)``), concurrently, as `repair` pages; consecutive keys leave no gap to read.
    """

    page_size: int
    page_param: str = "page"
    size_param: str = "pageSize"
    pages_header: str = "Result-Pages"
    max_workers: int = 4
    key: str | None = None

    def pages(
        self,
        client: ApiClient,
        path: str,
        *,
        params: Mapping[str, Any] | None = None,
        headers: Mapping[str, str] | None = None,
        stream: str,
    ) -> Iterator[Page]:
        base = dict(params or {})
        if self.key is not None and self.key in base:
            raise ConfigurationError(
                f"the listing filters on {self.key}, the key its gaps are read again by",
                source=client.source,
                connection_id=client.connection_id,
                stream=stream,
            )

        def fetch(number: int, extra: Mapping[str, str] | None = None) -> tuple[Page, int]:
            page_params = {
                **base,
                **(extra or {}),
                self.page_param: number,
                self.size_param: self.page_size,
            }
            data, response = client.get_json(
                path, params=page_params, headers=headers, stream=stream
            )
            page = _page(client, stream, number, data, response, None)
            return page, self._page_count(client, stream, response, page.url)

        guard = _LoopGuard(client, stream)
        spans: list[tuple[int, int]] = []  # (first key, last key) of each page with rows
        ends_short = False  # the last page read reached the end of the listing as it stood

        def read(page: Page) -> Page:
            nonlocal ends_short
            guard.check_page(page)
            if self.key is not None and page.records:
                keys = self._keys(client, stream, page)
                spans.append((keys[0], keys[-1]))
            ends_short = 0 < len(page.records) < self.page_size
            return page

        first, total = fetch(1)
        yield read(first)
        fetched = 1
        while fetched < total:
            batch = range(fetched + 1, total + 1)
            for page, count in _in_order(fetch, batch, self.max_workers):
                total = max(total, count)
                yield read(page)
            fetched = batch[-1]
        if self.key is None or not spans:
            return
        gaps: list[tuple[int, int | None]] = [
            (low, high)
            for (_, low), (high, _) in zip(spans, spans[1:], strict=False)
            if high - low > 1
        ]
        if not ends_short:
            gaps.append((spans[-1][1], None))
        number = fetched

        def walk(gap: tuple[int, int | None]) -> list[Page]:
            """The rows whose key lies in the gap now, by key."""
            low, high = gap
            found: list[Page] = []
            while high is None or high - low > 1:
                bound = f"gt({low})" if high is None else f"between({low + 1},{high - 1})"
                page, _ = fetch(1, {str(self.key): bound})
                keys = self._keys(client, stream, page) if page.records else []
                if any(k <= low or (high is not None and k >= high) for k in keys):
                    raise _error(
                        PaginationError,
                        client,
                        stream,
                        f"asked for {self.key} {bound}, got rows outside it: the source "
                        "ignores the filter",
                        url=page.url,
                    )
                if not keys:
                    break
                found.append(page)
                if len(keys) < self.page_size:
                    break
                low = keys[-1]
            return found

        for found in _in_order(walk, gaps, self.max_workers):
            for page in found:
                number += 1
                yield replace(page, number=number, repair=True)

    def _keys(self, client: ApiClient, stream: str, page: Page) -> list[int]:
        try:
            return [int(record[str(self.key)]) for record in page.records]
        except (KeyError, TypeError, ValueError) as exc:
            raise _error(
                PayloadError,
                client,
                stream,
                f"a row's {self.key} is missing or not a whole number ({exc})",
                url=page.url,
            ) from exc

    def _page_count(
        self, client: ApiClient, stream: str, response: httpx.Response, url: str
    ) -> int:
        value = response.headers.get(self.pages_header)
        if value is not None and value.strip().isdigit():
            return int(value)
        problem = "is missing" if value is None else f"is {value!r}, not a page count"
        raise _error(
            PaginationError,
            client,
            stream,
            f"the {self.pages_header} header {problem}, so the page count is unknown",
            url=url,
            hint="check the path is a list endpoint (Simpro list paths end with '/')",
        )


@dataclass(frozen=True, slots=True)
class _Chunk:
    """One PostgREST response: rows, raw body, redacted URL, where its rows start, and the
    Content-Range total."""

    records: list[dict[str, Any]]
    body: bytes
    url: str
    start: int | None
    total: int | None

    @property
    def reaches_end(self) -> bool:
        """The rows run to the end of the listing as it stood when they were read."""
        return (
            self.total is not None
            and self.start is not None
            and self.start + len(self.records) >= self.total
        )


@dataclass(frozen=True, kw_only=True)
class OffsetPaginator:
    """PostgREST: ``?limit=N&offset=M&order=<key>.asc`` with ``Prefer: count=exact``.

    The first response's ``Content-Range`` (``0-24/3573``) gives the total; the remaining
    offsets are fetched concurrently and yielded in order. A server ``max-rows`` cap returns
    fewer rows than asked without saying so: if page 1 is short while the total says more
    remain, the step becomes what page 1 returned, and any later short page has its gap fetched.

    Rows deleted or inserted while paging shift the offsets, so every request after the first
    starts one row early: its first row must be the previous response's last. Where it is not,
    the rows between the two keys are fetched by key (``and=(<key>.gt.A,<key>.lt.B)``), and
    where the last rows read did not reach the end of the listing, the rows after the last key
    are too: nothing the source had throughout the listing is skipped. Without a known total
    (``*``) it pages sequentially, the same way, until an empty page.
    """

    page_size: int
    key: str = "id"  # the unique column the listing is ordered by, ascending
    limit_param: str = "limit"
    offset_param: str = "offset"
    max_workers: int = 4

    def pages(
        self,
        client: ApiClient,
        path: str,
        *,
        params: Mapping[str, Any] | None = None,
        headers: Mapping[str, str] | None = None,
        stream: str,
    ) -> Iterator[Page]:
        if not params or params.get("order") != f"{self.key}.asc":
            raise ConfigurationError(
                f"offset paging needs the order {self.key}.asc (PostgREST has no implicit "
                "order, and only a unique key lets rows shifted by deletes be found again)",
                source=client.source,
                connection_id=client.connection_id,
                stream=stream,
                hint=f"pass params={{'order': '{self.key}.asc', ...}}",
            )
        request_headers = httpx.Headers(headers)
        _add_preference(request_headers, "count=exact")
        base_params = dict(params)

        def fetch(offset: int, limit: int, extra: Mapping[str, str] | None = None) -> _Chunk:
            """`limit` rows from `offset`; after offset 0, one row early (the overlap)."""
            overlap = 1 if offset > 0 else 0
            page_params = {
                **base_params,
                **(extra or {}),
                self.limit_param: limit + overlap,
                self.offset_param: offset - overlap,
            }
            try:
                data, response = client.get_json(
                    path, params=page_params, headers=request_headers, stream=stream
                )
            except ApiError as exc:
                if exc.status_code == 416:  # offset past the end: rows vanished while paging
                    return _Chunk([], b"", exc.url or "", None, None)
                raise
            url = client.redact_url(response.url)
            records = _records(client, stream, data, None, url)
            start, total = _content_range(client, stream, response, url)
            if records and start != offset - overlap:
                raise _error(
                    PaginationError,
                    client,
                    stream,
                    f"asked for offset {offset - overlap}, got rows from {start}",
                    url=url,
                )
            return _Chunk(records, response.content, url, start, total)

        def fetch_span(offset: int, count: int) -> list[_Chunk]:
            """`count` rows from `offset`, in as many requests as the server's cap needs."""
            chunks: list[_Chunk] = []
            got = 0
            while got < count:
                chunk = fetch(offset + got, count - got)
                chunks.append(chunk)
                new = len(chunk.records) - (1 if offset + got > 0 else 0)
                if new <= 0:
                    break
                got += new
            return chunks

        def after(low: str, high: str | None = None) -> Iterator[_Chunk]:
            """The rows whose key is above `low` (and below `high`), by key."""
            while True:
                bounds = [f"{self.key}.gt.{_postgrest_value(low)}"]
                if high is not None:
                    bounds.append(f"{self.key}.lt.{_postgrest_value(high)}")
                chunk = fetch(0, self.page_size, _and(base_params, bounds))
                if any(str(record.get(self.key)) == low for record in chunk.records):
                    raise _error(
                        PaginationError,
                        client,
                        stream,
                        f"asked for rows after {self.key} {low}, got that row again: the "
                        "source ignores the filter",
                        url=chunk.url,
                    )
                if not chunk.records:
                    return
                yield chunk
                if chunk.reaches_end:
                    return
                low = str(chunk.records[-1].get(self.key))

        guard = _LoopGuard(client, stream)
        number = 0
        last: _Chunk | None = None

        def page_of(chunk: _Chunk, *, repair: bool = False) -> Page:
            nonlocal number
            number += 1
            return Page(
                number=number, records=chunk.records, body=chunk.body, url=chunk.url, repair=repair
            )

        def link(chunk: _Chunk, *, by_key: bool = False) -> Iterator[Page]:
            """`chunk` as the next page (less the rows `last` had), after any rows skipped
            between `last` and it (none, if it was read `by_key` after `last`)."""
            nonlocal last
            records = chunk.records
            if last is not None and records:
                previous = last.records[-1].get(self.key)
                seen = {record.get(self.key) for record in last.records}
                first = records[0].get(self.key)
                if not by_key and first != previous and first not in seen:
                    # Rows before this page were deleted meanwhile: what moved up is fetched.
                    for gap in after(str(previous), str(first)):
                        yield page_of(gap, repair=True)
                records = list(dropwhile(lambda record: record.get(self.key) in seen, records))
            if not records:
                return
            page = page_of(replace(chunk, records=records))
            guard.check_page(page)
            last = chunk
            yield page

        first = fetch(0, self.page_size)
        if not first.records:
            yield page_of(first)
            return
        yield from link(first)
        # Each later request asks for as many rows as page 1 brought (any max-rows cap holds
        # them), one of which is the overlap.
        step = len(first.records) - 1
        if first.total is None:  # no count: walk until a page with no new row
            received = len(first.records)
            while step:
                chunk = fetch(received, self.page_size)
                new = len(chunk.records) - 1
                if new <= 0:
                    assert last is not None
                    if chunk.records == last.records[-1:]:
                        return  # only the overlap row: the end
                    break
                yield from link(chunk)
                received += new
        elif step:
            end = first.total
            offset = len(first.records)
            while offset < end:
                spans = [(start, min(step, end - start)) for start in range(offset, end, step)]
                for chunks in _in_order(lambda span: fetch_span(*span), spans, self.max_workers):
                    for chunk in chunks:
                        yield from link(chunk)
                        end = max(end, chunk.total or 0)  # rows added while paging
                offset = spans[-1][0] + spans[-1][1]
        assert last is not None
        if not last.reaches_end:  # rows after the last key may have moved below its offset
            for chunk in after(str(last.records[-1].get(self.key))):
                yield from link(chunk, by_key=True)


# -- helpers ---------------------------------------------------------------------------------


class _NextRequest:
    """Chained paging's one request in flight: the next page is requested as soon as the
    current response names it, so it travels while the caller lands and loads this one."""

    def __init__(self) -> None:
        self._pool = ThreadPoolExecutor(max_workers=1, thread_name_prefix="ledgersync-next-page")
        self._pending: Future[Any] | None = None

    def __enter__(self) -> _NextRequest:
        return self

    def __exit__(self, *exc_info: object) -> None:
        self._pool.shutdown(wait=True, cancel_futures=True)

    def start(self, fn: Callable[..., Any], *args: Any) -> None:
        self._pending = self._pool.submit(fn, *args)

    def result(self) -> Any:
        pending, self._pending = self._pending, None
        if pending is None:
            raise RuntimeError("no request was started")
        return pending.result()


class _LoopGuard:
    """Remembers each non-empty page's records and each followed link of one listing."""

    def __init__(self, client: ApiClient, stream: str) -> None:
        self._client = client
        self._stream = stream
        self._pages: dict[bytes, int] = {}
        self._links: dict[str, int] = {}

    def check_page(self, page: Page) -> None:
        if not page.records:
            return
        digest = hashlib.blake2b(orjson.dumps(page.records), digest_size=16).digest()
        earlier = self._pages.setdefault(digest, page.number)
        if earlier != page.number:
            raise _error(
                PaginationError,
                self._client,
                self._stream,
                f"page {page.number} repeats page {earlier} ({len(page.records)} identical "
                "records): the source ignores the paging parameters or loops",
                url=page.url,
            )

    def check_link(self, link: str, number: int) -> None:
        earlier = self._links.setdefault(link, number)
        if earlier != number:
            raise _error(
                PaginationError,
                self._client,
                self._stream,
                f"page {number} links to {self._client.redact_url(link)}, already followed "
                f"from page {earlier}: the listing loops",
            )


def _page(
    client: ApiClient,
    stream: str,
    number: int,
    data: Any,
    response: httpx.Response,
    records_key: str | None,
) -> Page:
    url = client.redact_url(response.url)
    records = _records(client, stream, data, records_key, url)
    return Page(number=number, records=records, body=response.content, url=url)


def _records(
    client: ApiClient, stream: str, data: Any, key: str | None, url: str
) -> list[dict[str, Any]]:
    """The record list: the body itself (`key` None) or the body's `key` member."""
    records = data.get(key) if key is not None and isinstance(data, dict) else data
    if isinstance(records, list) and all(isinstance(r, dict) for r in records):
        return records
    where = "the body" if key is None else f"body[{key!r}]"
    raise _error(
        PayloadError,
        client,
        stream,
        f"{where} is {type(records).__name__}, expected a list of objects",
        url=url,
    )


_CONTENT_RANGE = re.compile(r"^\s*(?:(\d+)-(\d+)|\*)\s*/\s*(\d+|\*)\s*$")


def _content_range(
    client: ApiClient, stream: str, response: httpx.Response, url: str
) -> tuple[int | None, int | None]:
    """(first row offset or None if empty, total or None if unknown) of ``Content-Range``."""
    value = response.headers.get("Content-Range", "")
    match = _CONTENT_RANGE.match(value)
    if match is None:
        raise _error(
            PaginationError,
            client,
            stream,
            f"Content-Range {value!r} is missing or unreadable",
            url=url,
            hint="check the path is a PostgREST table or view",
        )
    start, _, total = match.groups()
    return (
        int(start) if start is not None else None,
        int(total) if total != "*" else None,
    )


def _and(params: Mapping[str, Any], conditions: list[str]) -> dict[str, str]:
    """PostgREST's ``and=(...)`` holding `conditions` and whatever ``and`` `params` had."""
    existing = params.get("and")
    if existing:
        conditions = [str(existing).strip()[1:-1], *conditions]
    return {"and": f"({','.join(conditions)})"}


def _postgrest_value(value: str) -> str:
    """A value in a PostgREST logic tree; one with a reserved character is double-quoted."""
    if any(c in value for c in ',()":'):
        return '"' + value.replace("\\", "\\\\").replace('"', '\\"') + '"'
    return value


def _add_preference(headers: httpx.Headers, preference: str) -> None:
    existing = headers.get("Prefer")
    headers["Prefer"] = f"{existing}, {preference}" if existing else preference


def _in_order(fn: Callable[[_T], _R], items: Iterable[_T], max_workers: int) -> Iterator[_R]:
    """`fn` over `items` on a thread pool, yielded in item order, at most 2 x max_workers
    ahead (so a slow consumer does not buffer a whole listing)."""
    todo = iter(items)
    pool = ThreadPoolExecutor(max_workers=max_workers, thread_name_prefix="ledgersync-page")
    pending: deque[Future[_R]] = deque(
        pool.submit(fn, item) for item in islice(todo, 2 * max_workers)
    )
    try:
        while pending:
            result = pending.popleft().result()
            pending.extend(pool.submit(fn, item) for item in islice(todo, 1))
            yield result
    finally:
        pool.shutdown(wait=True, cancel_futures=True)


def _error(
    cls: type[PaginationError] | type[PayloadError],
    client: ApiClient,
    stream: str,
    message: str,
    *,
    url: str | None = None,
    hint: str | None = None,
) -> PaginationError | PayloadError:
    return cls(
        message,
        source=client.source,
        connection_id=client.connection_id,
        stream=stream,
        method="GET" if url else None,
        url=url,
        hint=hint,
    )
