"""Chained paging keeps the next request in flight while the caller works on the current page."""

from __future__ import annotations

import threading
from collections.abc import Callable
from typing import Any

import httpx

from connectors.http import ApiClient
from connectors.pagination import NextLinkPaginator

MakeClient = Callable[..., ApiClient]
BC = "https://api.test/v2.0/companies(1)/"
PAGES = 3


def _odata_page(page: int) -> httpx.Response:
    body: dict[str, Any] = {"value": [{"id": str(page)}]}
    if page < PAGES:
        body["@odata.nextLink"] = f"{BC}customers?$skiptoken={page + 1}"
    return httpx.Response(200, json=body)


class PagedApi:
    """Answers page n from `render(n)`; records which pages were asked for, and when."""

    def __init__(self, render: Callable[[int], httpx.Response], page_of: Callable[[Any], int]):
        self.render = render
        self.page_of = page_of
        self.asked: list[int] = []
        self.arrived = {n: threading.Event() for n in range(1, PAGES + 2)}

    def __call__(self, request: httpx.Request) -> httpx.Response:
        page = self.page_of(request.url.params)
        self.asked.append(page)
        self.arrived[page].set()
        return self.render(page)


def _odata() -> tuple[NextLinkPaginator, PagedApi]:
    return NextLinkPaginator(), PagedApi(
        _odata_page, lambda params: int(params.get("$skiptoken", "1"))
    )


def test_the_next_page_is_requested_before_the_caller_finishes_this_one(
    make_client: MakeClient,
) -> None:
    for paginator, api in (_odata(),):
        client = make_client(api, base_url=BC)
        for page in paginator.pages(client, f"{BC}customers", stream="s"):
            if page.number < PAGES:
                # The caller is still holding page n: page n + 1 is already on its way.
                assert api.arrived[page.number + 1].wait(timeout=5)
        assert api.asked == [1, 2, 3]


def test_nothing_is_requested_after_the_last_page(make_client: MakeClient) -> None:
    for paginator, api in (_odata(),):
        pages = list(paginator.pages(make_client(api, base_url=BC), f"{BC}customers", stream="s"))
        assert [p.records[0]["id"] for p in pages] == ["1", "2", "3"]
        assert api.asked == [1, 2, 3]


def test_a_caller_that_stops_early_leaves_no_request_running(make_client: MakeClient) -> None:
    for paginator, api in (_odata(),):
        pages = paginator.pages(make_client(api, base_url=BC), f"{BC}customers", stream="s")
        first = next(pages)
        pages.close()  # cancels page 2 if it has not started, else waits for it
        assert first.number == 1
        assert api.asked in ([1], [1, 2])
        assert not [t for t in threading.enumerate() if t.name.startswith("ledgersync-next-page")]
