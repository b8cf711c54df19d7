"""Each paging style against a small fake of its API (in the spirit of dlt's api_router)."""

from __future__ import annotations

import math
import threading
from collections.abc import Callable, Sequence
from datetime import UTC, datetime
from typing import Any

import httpx
import orjson
import pytest

from connectors.errors import (
    ConfigurationError,
    NotFoundError,
    PaginationError,
    PayloadError,
)
from connectors.http import ApiClient
from connectors.pagination import (
    KeysetPaginator,
    NextLinkPaginator,
    OffsetPaginator,
    Page,
    PageCountPaginator,
    Paginator,
)
from connectors.ratelimit import RateLimiter

MakeClient = Callable[..., ApiClient]


def rows(n: int, start: int = 1) -> list[dict[str, Any]]:
    return [{"id": str(i), "amount": i * 1.25} for i in range(start, start + n)]


def ids(pages: list[Page]) -> list[str]:
    return [record["id"] for page in pages for record in page.records]


def params_of(request: httpx.Request) -> dict[str, str]:
    return dict(request.url.params)


def always(response: httpx.Response) -> Callable[[httpx.Request], httpx.Response]:
    """A fake API that gives every request the same answer."""
    return lambda request: response


class Recorder:
    """Thread-safe request log shared by the fakes, with the peak number served at once."""

    def __init__(self) -> None:
        self.requests: list[httpx.Request] = []
        self.lock = threading.Lock()
        self.active = 0
        self.peak = 0

    def enter(self, request: httpx.Request) -> None:
        with self.lock:
            self.requests.append(request)
            self.active += 1
            self.peak = max(self.peak, self.active)

    def leave(self) -> None:
        with self.lock:
            self.active -= 1


# -- Business Central: OData @odata.nextLink ------------------------------------------------------

BC = "https://api.test/v2.0/production/api/v2.0/companies(1)/"


class ODataFake(Recorder):
    """Server-driven paging with a $skiptoken; `link` can rewrite the next link."""

    def __init__(
        self, data: list[dict[str, Any]], link: Callable[[str, int], str] | None = None
    ) -> None:
        super().__init__()
        self.data = data
        self.link = link or (lambda default, page: default)

    def __call__(self, request: httpx.Request) -> httpx.Response:
        self.enter(request)
        prefer = request.headers.get("Prefer", "")
        size = int(prefer.split("odata.maxpagesize=")[1]) if "maxpagesize" in prefer else 20000
        start = int(params_of(request).get("$skiptoken", "0").strip("'"))
        body: dict[str, Any] = {
            "@odata.context": f"{BC}$metadata#customers",
            "value": self.data[start : start + size],
        }
        if start + size < len(self.data):
            default = f"{BC}customers?$filter=blocked%20eq%20'%20'&$skiptoken='{start + size}'"
            body["@odata.nextLink"] = self.link(default, len(self.requests))
        self.leave()
        return httpx.Response(200, json=body)


class TestNextLinkPaginator:
    def test_follows_next_links_verbatim(self, make_client: MakeClient) -> None:
        api = ODataFake(rows(5))
        client = make_client(api, base_url=BC)
        paginator = NextLinkPaginator(max_page_size=2)
        pages = list(
            paginator.pages(
                client,
                "customers",
                params={"$filter": "blocked eq ' '"},
                headers={"Prefer": "odata.include-annotations=*"},
                stream="customers",
            )
        )
        assert ids(pages) == ["1", "2", "3", "4", "5"] and len(pages) == 3
        assert [r.headers["Prefer"] for r in api.requests] == [
            "odata.include-annotations=*, odata.maxpagesize=2"
        ] * 3
        assert (
            str(api.requests[1].url) == f"{BC}customers?$filter=blocked%20eq%20'%20'&$skiptoken='2'"
        )
        assert all("$top" not in str(r.url) and "$skip=" not in str(r.url) for r in api.requests)

    def test_without_max_page_size_no_preference_is_sent(self, make_client: MakeClient) -> None:
        api = ODataFake(rows(3))
        pages = list(
            NextLinkPaginator().pages(
                make_client(api, base_url=BC), "customers", stream="customers"
            )
        )
        assert len(pages) == 1 and "Prefer" not in api.requests[0].headers

    def test_a_repeated_page_is_a_loop(self, make_client: MakeClient) -> None:
        stuck = f"{BC}customers?$skiptoken='2'"
        api = ODataFake(rows(9), link=lambda default, page: stuck if page >= 2 else default)
        paginator = NextLinkPaginator(max_page_size=2)
        with pytest.raises(PaginationError, match="page 3 repeats page 2"):
            list(paginator.pages(make_client(api, base_url=BC), "customers", stream="customers"))

    def test_a_repeated_link_is_a_loop(self, make_client: MakeClient) -> None:
        # Empty pages carry no records to compare; the link itself must not come back.
        stuck = f"{BC}customers?$skiptoken='x'&token=s3cret"
        api = always(httpx.Response(200, json={"value": [], "@odata.nextLink": stuck}))
        with pytest.raises(PaginationError) as caught:
            list(NextLinkPaginator().pages(make_client(api, base_url=BC), "customers", stream="c"))
        assert "page 2 links to " in str(caught.value)
        assert "$skiptoken='x'&token=REDACTED, already followed from page 1" in str(caught.value)

    def test_an_empty_page_with_a_next_link_continues(self, make_client: MakeClient) -> None:
        def api(request: httpx.Request) -> httpx.Response:
            if "$skiptoken" not in str(request.url):
                return httpx.Response(
                    200, json={"value": [], "@odata.nextLink": f"{BC}c?$skiptoken=1"}
                )
            return httpx.Response(200, json={"value": rows(1)})

        pages = list(NextLinkPaginator().pages(make_client(api, base_url=BC), "c", stream="c"))
        assert [len(p.records) for p in pages] == [0, 1]

    def test_a_relative_link_is_resolved(self, make_client: MakeClient) -> None:
        api = ODataFake(rows(4), link=lambda default, page: default.replace(BC, ""))
        pages = list(
            NextLinkPaginator(max_page_size=2).pages(
                make_client(api, base_url=BC), "customers", stream="c"
            )
        )
        assert ids(pages) == ["1", "2", "3", "4"]
        assert str(api.requests[1].url).startswith(f"{BC}customers?")

    def test_a_link_to_another_host_is_refused(self, make_client: MakeClient) -> None:
        api = ODataFake(
            rows(4), link=lambda default, page: default.replace("api.test", "evil.test")
        )
        pages = NextLinkPaginator(max_page_size=2).pages(
            make_client(api, base_url=BC), "customers", stream="customers"
        )
        assert next(pages).number == 1
        with pytest.raises(
            ConfigurationError, match="refusing to send credentials to https://evil"
        ):
            next(pages)
        assert len(api.requests) == 1


# -- Simpro: page / pageSize, Result-Pages -----------------------------------------------------

SIMPRO = "https://build.test/api/v1.0/companies/0/"


class SimproFake(Recorder):
    """Bare arrays and Result-Pages/Result-Total; page 2 is held until page 3 has been served,
    so pages complete out of order whenever they are fetched concurrently."""

    def __init__(
        self,
        data: list[dict[str, Any]],
        *,
        hold_page_2: bool = True,
        ignore_page: bool = False,
        pages_header: Callable[[int, int], str | None] | None = None,
        barrier: threading.Barrier | None = None,
    ) -> None:
        super().__init__()
        self.data = data
        self.ignore_page = ignore_page
        self.pages_header = pages_header or (lambda page, pages: str(pages))
        self.hold_page_2 = hold_page_2
        self.page_3_served = threading.Event()
        self.barrier = barrier
        self.completed: list[int] = []

    def __call__(self, request: httpx.Request) -> httpx.Response:
        self.enter(request)
        try:
            q = params_of(request)
            page, size = int(q["page"]), int(q["pageSize"])
            if self.hold_page_2 and page == 2:
                assert self.page_3_served.wait(timeout=10), "page 3 was never requested"
            if self.barrier is not None and page > 1:
                self.barrier.wait()
            first = 0 if self.ignore_page else (page - 1) * size
            headers = {"Result-Total": str(len(self.data))}
            value = self.pages_header(page, math.ceil(len(self.data) / size))
            if value is not None:
                headers["Result-Pages"] = value
            with self.lock:
                self.completed.append(page)
            if page == 3:
                self.page_3_served.set()
            return httpx.Response(200, json=self.data[first : first + size], headers=headers)
        finally:
            self.leave()


class TestPageCountPaginator:
    def test_fetches_concurrently_and_yields_in_order(self, make_client: MakeClient) -> None:
        api = SimproFake(rows(11))
        client = make_client(api, base_url=SIMPRO, source="simpro", connection_id="build-1")
        paginator = PageCountPaginator(page_size=2, max_workers=4)
        pages = list(
            paginator.pages(client, "customers/", params={"columns": "ID,Name"}, stream="customers")
        )
        assert [p.number for p in pages] == [1, 2, 3, 4, 5, 6]
        assert ids(pages) == [str(i) for i in range(1, 12)]
        assert api.completed.index(3) < api.completed.index(2)  # out of order on the wire
        assert api.peak >= 2
        assert all(params_of(r)["columns"] == "ID,Name" for r in api.requests)

    def test_a_single_page(self, make_client: MakeClient) -> None:
        api = SimproFake(rows(2), hold_page_2=False)
        pages = list(
            PageCountPaginator(page_size=5).pages(
                make_client(api, base_url=SIMPRO), "customers/", stream="c"
            )
        )
        assert len(pages) == 1 and len(api.requests) == 1

    def test_an_empty_listing(self, make_client: MakeClient) -> None:
        api = SimproFake([], hold_page_2=False)
        pages = list(
            PageCountPaginator(page_size=5).pages(
                make_client(api, base_url=SIMPRO), "customers/", stream="c"
            )
        )
        assert [(p.number, p.records) for p in pages] == [(1, [])]

    def test_a_missing_page_count_is_an_error(self, make_client: MakeClient) -> None:
        api = SimproFake(rows(5), hold_page_2=False, pages_header=lambda page, pages: None)
        with pytest.raises(PaginationError, match="Result-Pages header is missing") as caught:
            list(
                PageCountPaginator(page_size=2).pages(
                    make_client(api, base_url=SIMPRO), "customers", stream="customers"
                )
            )
        assert caught.value.hint and "end with '/'" in caught.value.hint

    def test_an_unreadable_page_count_is_an_error(self, make_client: MakeClient) -> None:
        api = SimproFake(rows(5), hold_page_2=False, pages_header=lambda page, pages: "many")
        with pytest.raises(PaginationError, match="Result-Pages header is 'many'"):
            list(
                PageCountPaginator(page_size=2).pages(
                    make_client(api, base_url=SIMPRO), "customers/", stream="c"
                )
            )

    def test_pages_announced_later_are_fetched(self, make_client: MakeClient) -> None:
        # Rows were added while paging: page 3 says there are now 5 pages.
        api = SimproFake(
            rows(10),
            hold_page_2=False,
            pages_header=lambda page, pages: "3" if page < 3 else str(pages),
        )
        pages = list(
            PageCountPaginator(page_size=2).pages(
                make_client(api, base_url=SIMPRO), "customers/", stream="c"
            )
        )
        assert [p.number for p in pages] == [1, 2, 3, 4, 5]
        assert ids(pages) == [str(i) for i in range(1, 11)]

    def test_a_repeated_page_is_a_loop(self, make_client: MakeClient) -> None:
        api = SimproFake(rows(9), hold_page_2=False, ignore_page=True)
        with pytest.raises(PaginationError, match="page 2 repeats page 1"):
            list(
                PageCountPaginator(page_size=3).pages(
                    make_client(api, base_url=SIMPRO), "customers/", stream="c"
                )
            )

    def test_a_failing_page_fails_the_listing(self, make_client: MakeClient) -> None:
        inner = SimproFake(rows(12), hold_page_2=False)

        def api(request: httpx.Request) -> httpx.Response:
            if params_of(request)["page"] == "4":
                return httpx.Response(404, json={"errors": [{"message": "Invalid route"}]})
            return inner(request)

        pages = PageCountPaginator(page_size=2).pages(
            make_client(api, base_url=SIMPRO), "customers/", stream="customers"
        )
        assert [next(pages).number for _ in range(3)] == [1, 2, 3]
        with pytest.raises(NotFoundError, match="stream customers: .*page=4.*Invalid route"):
            next(pages)

    def test_in_flight_cap_of_the_rate_limiter_holds(
        self, make_client: MakeClient, clock: Any
    ) -> None:
        # Pages 2..9 pass a 2-party barrier: the cap must let exactly two in at a time.
        api = SimproFake(rows(18), hold_page_2=False, barrier=threading.Barrier(2, timeout=10))
        limiter = RateLimiter(
            max_requests=1000, per_seconds=1, max_in_flight=2, clock=clock, sleep=clock.sleep
        )
        client = make_client(api, base_url=SIMPRO, rate_limiter=limiter)
        pages = list(
            PageCountPaginator(page_size=2, max_workers=4).pages(client, "customers/", stream="c")
        )
        assert len(pages) == 9 and api.peak == 2 and limiter.started == 9

    def test_abandoning_the_listing_stops_fetching(self, make_client: MakeClient) -> None:
        api = SimproFake(rows(200), hold_page_2=False)
        pages = PageCountPaginator(page_size=2, max_workers=2).pages(
            make_client(api, base_url=SIMPRO), "customers/", stream="c"
        )
        assert next(pages).number == 1 and next(pages).number == 2
        pages.close()
        assert len(api.requests) <= 1 + 2 * 2 + 1


# -- Carbon: PostgREST limit / offset / Content-Range ----------------------------------------------

CARBON = "https://carbon.test/rest/v1/"


class PostgrestFake(Recorder):
    """limit/offset over `data` with Content-Range, Prefer: count=exact, 206, 416 and an
    optional db-max-rows cap. `after_first` runs once the first page is served."""

    def __init__(
        self,
        data: list[dict[str, Any]],
        *,
        max_rows: int | None = None,
        short_once: dict[int, int] | None = None,
        ignore_offset: bool = False,
        after_first: Callable[[list[dict[str, Any]]], None] | None = None,
    ) -> None:
        super().__init__()
        self.data = data
        self.max_rows = max_rows
        self.short_once = dict(short_once or {})
        self.ignore_offset = ignore_offset
        self.after_first = after_first

    def __call__(self, request: httpx.Request) -> httpx.Response:
        self.enter(request)
        try:
            q = params_of(request)
            assert "order" in q
            offset = 0 if self.ignore_offset else int(q["offset"])
            limit = int(q["limit"])
            with self.lock:
                if self.max_rows is not None:
                    limit = min(limit, self.max_rows)
                limit = min(limit, self.short_once.pop(offset, limit))
                data = [row for row in self.data if _within(row, q.get("and"))]
                total = len(data)
                counted = "count=exact" in request.headers.get("Prefer", "")
                if counted and offset > total:
                    return httpx.Response(
                        416, json={"code": "PGRST103", "message": "Requested range not satisfiable"}
                    )
                chunk = data[offset : offset + limit]
                if self.after_first is not None and len(self.requests) == 1:
                    self.after_first(self.data)
            shown_total = str(total) if counted else "*"
            content_range = (
                f"{offset}-{offset + len(chunk) - 1}/{shown_total}" if chunk else f"*/{shown_total}"
            )
            status = 206 if counted and len(chunk) < total else 200
            return httpx.Response(status, json=chunk, headers={"Content-Range": content_range})
        finally:
            self.leave()


def _within(row: dict[str, Any], bounds: str | None) -> bool:
    """The fake's ``and=(id.gt.A,id.lt.B)``: its ids are integers in text."""
    for bound in (bounds or "()")[1:-1].split(",") if bounds else ():
        _, op, value = bound.split(".", 2)
        key, limit = int(row["id"]), int(value)
        if (op == "gt" and not key > limit) or (op == "lt" and not key < limit):
            return False
    return True


def carbon(make_client: MakeClient, api: Any) -> ApiClient:
    return make_client(api, base_url=CARBON, source="carbon", connection_id="acme")


ORDER = {"order": "id.asc", "paymentType": "eq.Receipt"}


class TestOffsetPaginator:
    def test_walks_all_rows_concurrently_in_order(self, make_client: MakeClient) -> None:
        api = PostgrestFake(rows(103))
        pages = list(
            OffsetPaginator(page_size=25).pages(
                carbon(make_client, api), "payment", params=ORDER, stream="payments"
            )
        )
        assert ids(pages) == [str(i) for i in range(1, 104)]
        assert [p.number for p in pages] == [1, 2, 3, 4, 5]
        assert all(r.headers["Prefer"] == "count=exact" for r in api.requests)
        assert [params_of(r)["offset"] for r in api.requests][0] == "0"
        # Each page after the first starts one row early: its first row is the last one's.
        assert sorted(int(params_of(r)["offset"]) for r in api.requests) == [0, 24, 48, 72, 96]
        assert [p.records[0]["id"] for p in pages[1:]] == ["26", "50", "74", "98"]
        assert [orjson.loads(p.body)[0]["id"] for p in pages[1:]] == ["25", "49", "73", "97"]
        assert pages[4].url == (
            f"{CARBON}payment?order=id.asc&paymentType=eq.Receipt&limit=7&offset=96"
        )

    def test_a_max_rows_cap_loses_nothing(self, make_client: MakeClient) -> None:
        api = PostgrestFake(rows(103), max_rows=10)
        pages = list(
            OffsetPaginator(page_size=25).pages(
                carbon(make_client, api), "payment", params=ORDER, stream="payments"
            )
        )
        assert ids(pages) == [str(i) for i in range(1, 104)]
        assert len(pages) == len(api.requests)

    def test_a_short_page_in_the_middle_has_its_gap_fetched(self, make_client: MakeClient) -> None:
        api = PostgrestFake(rows(100), short_once={48: 8})
        pages = list(
            OffsetPaginator(page_size=25).pages(
                carbon(make_client, api), "payment", params=ORDER, stream="payments"
            )
        )
        assert ids(pages) == [str(i) for i in range(1, 101)]
        gap = [r for r in api.requests if params_of(r)["offset"] == "55"]
        assert len(gap) == 1 and params_of(gap[0])["limit"] == "18"

    def test_rows_deleted_while_paging_skip_nothing(self, make_client: MakeClient) -> None:
        # Rows 1-5 go once page 1 (1-25) is read: 26-30 move below offset 25.
        api = PostgrestFake(rows(103), after_first=lambda data: data.__delitem__(slice(0, 5)))
        pages = list(
            OffsetPaginator(page_size=25).pages(
                carbon(make_client, api), "payment", params=ORDER, stream="payments"
            )
        )
        assert ids(pages) == [str(i) for i in range(1, 104)]
        by_key = [r for r in api.requests if "and" in params_of(r)]
        assert [params_of(r)["and"] for r in by_key] == ["(id.gt.25,id.lt.30)"]

    def test_rows_deleted_and_added_while_paging_skip_nothing(
        self, make_client: MakeClient
    ) -> None:
        # The total stays 103, so no count can tell: only the keys at the page boundaries do.
        def churn(data: list[dict[str, Any]]) -> None:
            del data[0:5]
            data.extend(rows(5, start=104))

        api = PostgrestFake(rows(103), after_first=churn)
        pages = list(
            OffsetPaginator(page_size=25).pages(
                carbon(make_client, api), "payment", params=ORDER, stream="payments"
            )
        )
        assert ids(pages) == [str(i) for i in range(1, 109)]

    def test_rows_added_while_paging_are_fetched(self, make_client: MakeClient) -> None:
        api = PostgrestFake(rows(60), after_first=lambda data: data.extend(rows(30, start=61)))
        pages = list(
            OffsetPaginator(page_size=25).pages(
                carbon(make_client, api), "payment", params=ORDER, stream="payments"
            )
        )
        assert ids(pages) == [str(i) for i in range(1, 91)]

    def test_an_empty_listing(self, make_client: MakeClient) -> None:
        api = PostgrestFake([])
        pages = list(
            OffsetPaginator(page_size=25).pages(
                carbon(make_client, api), "payment", params=ORDER, stream="payments"
            )
        )
        assert [(p.number, p.records) for p in pages] == [(1, [])]
        assert len(api.requests) == 1

    def test_an_unknown_total_pages_sequentially_to_an_empty_page(
        self, make_client: MakeClient
    ) -> None:
        api = PostgrestFake(rows(60), max_rows=20)

        def no_count(request: httpx.Request) -> httpx.Response:
            # A server (or proxy) that ignores Prefer: count=exact answers "0-19/*".
            request.headers["Prefer"] = "return=minimal"
            return api(request)

        client = carbon(make_client, no_count)
        paginator = OffsetPaginator(page_size=25)
        pages = list(paginator.pages(client, "payment", params=ORDER, stream="payments"))
        assert ids(pages) == [str(i) for i in range(1, 61)]
        assert [params_of(r)["offset"] for r in api.requests] == ["0", "19", "38", "57", "59"]

    def test_an_order_is_required(self, make_client: MakeClient) -> None:
        api = PostgrestFake(rows(3))
        pages = OffsetPaginator(page_size=25).pages(
            carbon(make_client, api), "payment", params={"select": "*"}, stream="payments"
        )
        with pytest.raises(ConfigurationError, match="needs the order id.asc"):
            next(pages)
        assert api.requests == []

    def test_an_ignored_offset_is_an_error(self, make_client: MakeClient) -> None:
        api = PostgrestFake(rows(60), ignore_offset=True)
        with pytest.raises(PaginationError, match="asked for offset 24, got rows from 0"):
            list(
                OffsetPaginator(page_size=25).pages(
                    carbon(make_client, api), "payment", params=ORDER, stream="payments"
                )
            )

    def test_a_missing_content_range_is_an_error(self, make_client: MakeClient) -> None:
        api = always(httpx.Response(200, json=rows(2)))
        with pytest.raises(PaginationError, match="Content-Range '' is missing or unreadable"):
            list(
                OffsetPaginator(page_size=25).pages(
                    carbon(make_client, api), "payment", params=ORDER, stream="payments"
                )
            )

    def test_an_object_instead_of_rows_is_a_payload_error(self, make_client: MakeClient) -> None:
        api = always(httpx.Response(200, json={"rows": []}, headers={"Content-Range": "*/0"}))
        with pytest.raises(PayloadError, match="the body is dict, expected a list of objects"):
            list(
                OffsetPaginator(page_size=25).pages(
                    carbon(make_client, api), "payment", params=ORDER, stream="payments"
                )
            )


def _instant(value: str) -> datetime:
    return datetime.fromisoformat(value).astimezone(UTC)


class TestKeysetPaginator:
    @staticmethod
    def _listing(
        make_client: MakeClient,
        *,
        equal_to: bool = False,
        times: Sequence[str] = tuple(f"t{i}" for i in range(1, 7)),
        served_order: Callable[[str], Any] = str,
        key_order: Callable[[str], Any] = str,
    ) -> list[Page]:
        """Six contacts, two a page, modified at `times` (ascending), served by a source that
        reads `last_modified_time=` as 'at or after' (documented elsewhere) or as 'equal to',
        comparing times by `served_order`; the paginator compares them by `key_order`."""
        contacts = [
            {"contact_id": str(i), "last_modified_time": t} for i, t in enumerate(times, start=1)
        ]

        def handler(request: httpx.Request) -> httpx.Response:
            query = params_of(request)
            since = query.get("last_modified_time")
            chosen = [
                c
                for c in contacts
                if since is None
                or (
                    served_order(c["last_modified_time"]) == served_order(since)
                    if equal_to
                    else served_order(c["last_modified_time"]) >= served_order(since)
                )
            ]
            page, size = int(query["page"]), int(query["per_page"])
            body = {
                "contacts": chosen[(page - 1) * size : page * size],
                "page_context": {"has_more_page": page * size < len(chosen)},
            }
            return httpx.Response(200, json=body)

        paginator = KeysetPaginator(
            records_key="contacts",
            page_size=2,
            key="last_modified_time",
            id_key="contact_id",
            restart_param="last_modified_time",
            has_more=lambda body: body["page_context"]["has_more_page"],
            key_order=key_order,
        )
        return list(paginator.pages(make_client(handler), "contacts", stream="contacts"))

    def test_restarts_from_the_last_key_read(self, make_client: MakeClient) -> None:
        assert [r["contact_id"] for p in self._listing(make_client) for r in p.records] == [
            "1",
            "2",
            "3",
            "4",
            "5",
            "6",
        ]

    def test_keys_compare_by_key_order_across_a_clock_change(self, make_client: MakeClient) -> None:
        """New York's clocks went back at 02:00 EDT on 2026-11-01: 01:05-0500 is 25 minutes
        after 01:50-0400, though it sorts before it as text."""
        times = [
            f"2026-11-01T{clock}"
            for clock in (
                "01:20:00-0400",
                "01:40:00-0400",
                "01:50:00-0400",
                "01:05:00-0500",
                "01:30:00-0500",
                "02:10:00-0500",
            )
        ]
        pages = self._listing(make_client, times=times, served_order=_instant, key_order=_instant)
        assert [r["contact_id"] for p in pages for r in p.records] == ["1", "2", "3", "4", "5", "6"]
        with pytest.raises(PaginationError, match="got earlier ones"):
            self._listing(make_client, times=times, served_order=_instant)  # compared as text

    def test_a_source_reading_the_filter_as_equal_to_fails_instead_of_ending_short(
        self, make_client: MakeClient
    ) -> None:
        with pytest.raises(PaginationError, match="may read last_modified_time as 'equal to'"):
            self._listing(make_client, equal_to=True)


def test_all_strategies_satisfy_the_protocol() -> None:
    strategies: list[Paginator] = [
        KeysetPaginator(
            records_key="invoices",
            page_size=1,
            key="date",
            id_key="id",
            restart_param="date_start",
            has_more=bool,
        ),
        NextLinkPaginator(),
        PageCountPaginator(page_size=1),
        OffsetPaginator(page_size=1),
    ]
    assert all(callable(s.pages) for s in strategies)
