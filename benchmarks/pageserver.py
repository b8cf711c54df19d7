"""The Zoho Books sandbox's wire contract over a pre-rendered dataset.

The sandbox framework serves it (`sandbox.server.SandboxServer`: keep-alive HTTP/1.1, the request
log, the `latency_s` knob) with the Zoho sandbox's token grant, authentication and error bodies;
only the pages come from files (`benchmarks.dataset`) instead of being rendered per request, so
the server is not what a benchmark measures. It answers full listings (`page`, `per_page=200`,
and `date_start`, as Zoho's keyset paging asks), contacts sorted by and restarted from their
`last_modified_time` (as ledgersync's connector pages them), and payment details.

    python -m benchmarks.pageserver DIR

prints the base URL as its first line, serves until its standard input closes, then prints one
JSON line: requests served and the CPU seconds it used.
"""

from __future__ import annotations

import argparse
import bisect
import json
import os
import resource
import sys
from array import array
from functools import lru_cache
from pathlib import Path

import orjson

from benchmarks.dataset import LISTINGS, PAGE_SIZE, Dataset, page_body
from sandbox.routing import App, Handler, Request, Response
from sandbox.server import SandboxServer
from sandbox.zoho_books.app import API, error
from sandbox.zoho_books.config import OAuthClient, ZohoConfig
from sandbox.zoho_books.ids import ledger_id
from sandbox.zoho_books.orgdata import Listing
from sandbox.zoho_books.tokens import TokenStore

__all__ = ["CLIENT", "PrerenderedZohoApp"]

CLIENT = OAuthClient()
_PARSED_PAGES = 64  # file pages kept parsed: a few per listing walked in date order
_JSON = "application/json;charset=UTF-8"


class PrerenderedZohoApp(App):
    def __init__(self, dataset: Dataset) -> None:
        super().__init__()
        self.dataset = dataset
        self.tokens = TokenStore(ZohoConfig(organizations=(dataset.account,), client=CLIENT))
        index = array("Q")
        index.frombytes((dataset.directory / "details.idx").read_bytes())
        if sys.byteorder != "little":
            index.byteswap()
        self._details_index = index
        self._details_fd = os.open(dataset.directory / "details.json", os.O_RDONLY)
        # ledgersync's keyset pages restart from a date: each asks for the rows after the last
        # one read, which lie on the file pages the previous request cut its page from.
        self._rows = lru_cache(maxsize=_PARSED_PAGES)(self._parse_rows)
        self._last_dates: dict[tuple[str, int], str | None] = {}
        self._by_modified: list[dict[str, object]] = []
        self._modified_keys: list[str] = []
        self.router.add("POST", "/oauth/v2/token", self._token, data=False)
        for listing in LISTINGS:
            self.router.add("GET", f"{API}/{listing}", self._scoped(self._lister(listing)))
        self.router.add("GET", f"{API}/customerpayments/{{payment_id}}", self._scoped(self._detail))

    def close(self) -> None:
        os.close(self._details_fd)

    def account_of(self, request: Request) -> str | None:
        return self.dataset.account

    def not_found(self, request: Request) -> Response:
        return error(404, 5, "Invalid URL Passed")

    def _token(self, request: Request) -> Response:
        fields = ("grant_type", "refresh_token", "client_id", "client_secret")
        form = {name: request.form_value(name) or request.arg(name) for name in fields}
        status, body = self.tokens.grant(form, f"http://{request.header('host') or '127.0.0.1'}")
        return Response.json(body, status=status)

    def _scoped(self, handler: Handler) -> Handler:
        def guarded(request: Request) -> Response:
            scheme, _, token = (request.header("authorization") or "").partition(" ")
            if scheme.lower() != "zoho-oauthtoken" or not self.tokens.is_valid(token.strip()):
                return error(401, 57, "You are not authorized to perform this operation")
            if request.arg("organization_id") != self.dataset.organization_id:
                return error(400, 6041, "This user is not associated with the CompanyID.")
            return handler(request)

        return guarded

    def _lister(self, listing: Listing) -> Handler:
        def handler(request: Request) -> Response:
            page_text = request.arg("page") or "1"
            if not page_text.isdigit() or int(page_text) < 1:
                return error(400, 2, "Invalid value passed for page")
            if request.arg("per_page") not in (None, str(PAGE_SIZE)):
                return error(400, 2, f"the pre-rendered pages hold per_page={PAGE_SIZE}")
            page = int(page_text)
            date_start = request.arg("date_start")
            if request.arg("sort_column") == "last_modified_time":
                if listing != "contacts":
                    return error(400, 2, "only contacts are pre-sorted by last_modified_time")
                body = self._by_modified_from(request.arg("last_modified_time") or "", page)
            elif date_start is not None:
                body = self._from_date(listing, date_start, page)
            elif page > self.dataset.pages[listing]:
                body = page_body(listing, [], page, self.dataset.records[listing])
            else:
                body = self.dataset.page_path(listing, page).read_bytes()
            return Response(200, body, {"Content-Type": _JSON})

        return handler

    def _parse_rows(self, listing: str, page: int) -> list[dict[str, object]]:
        if page > self.dataset.pages[listing]:
            return []
        rows: list[dict[str, object]] = orjson.loads(
            self.dataset.page_path(listing, page).read_bytes()
        )[listing]
        return rows

    def _by_modified_from(self, since: str, page: int) -> bytes:
        """Page `page` of the contacts modified at `since` or later, oldest first (the files
        hold them in id order; sorted once, in memory: they are the smallest listing)."""
        if not self._modified_keys:
            pages = range(1, self.dataset.pages["contacts"] + 1)
            rows = [row for number in pages for row in self._rows("contacts", number)]
            self._by_modified = sorted(rows, key=lambda row: str(row["last_modified_time"]))
            self._modified_keys = [str(row["last_modified_time"]) for row in self._by_modified]
        start = bisect.bisect_left(self._modified_keys, since)
        rows = self._by_modified[start + (page - 1) * PAGE_SIZE : start + page * PAGE_SIZE]
        return page_body("contacts", rows, page, len(self._modified_keys) - start)

    def _from_date(self, listing: Listing, date_start: str, page: int) -> bytes:
        """Page `page` of the rows dated `date_start` or later, as a keyset client asks for the
        pages after its first. The files hold the rows in date order: the first such row is found
        by bisecting the pages, and the page is cut from the files after it."""
        low, high = 1, self.dataset.pages[listing] + 1  # first page ending on or after the date
        while low < high:
            middle = (low + high) // 2
            last = self._last_date(listing, middle)
            if last is not None and last >= date_start:
                high = middle
            else:
                low = middle + 1
        earlier = sum(1 for row in self._rows(listing, low) if str(row["date"]) < date_start)
        start = (low - 1) * PAGE_SIZE + earlier  # the first row on or after the date
        file_page, offset = divmod(start + (page - 1) * PAGE_SIZE, PAGE_SIZE)
        rows = self._rows(listing, file_page + 1)[offset:] + self._rows(listing, file_page + 2)
        return page_body(listing, rows[:PAGE_SIZE], page, self.dataset.records[listing] - start)

    def _last_date(self, listing: str, page: int) -> str | None:
        """The date of a file page's last row (None: the page is empty), parsed once."""
        key = (listing, page)
        if key not in self._last_dates:
            rows = self._rows(listing, page)
            self._last_dates[key] = str(rows[-1]["date"]) if rows else None
        return self._last_dates[key]

    def _detail(self, request: Request) -> Response:
        try:
            payment = ledger_id(
                self.dataset.organization_id, "payment", request.path_params["payment_id"]
            )
            offset, length = self._details_index[2 * payment], self._details_index[2 * payment + 1]
        except (ValueError, IndexError):
            length = 0
        if not length:
            return error(404, 1002, "Payment does not exist.")
        return Response(200, os.pread(self._details_fd, length, offset), {"Content-Type": _JSON})


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("directory", type=Path)
    args = parser.parse_args()
    app = PrerenderedZohoApp(Dataset.load(args.directory))
    with SandboxServer(app) as server:
        print(server.url, flush=True)
        sys.stdin.read()  # until the benchmark closes our standard input
        served = len(server.log)
    app.close()
    usage = resource.getrusage(resource.RUSAGE_SELF)
    print(json.dumps({"requests": served, "cpu_s": usage.ru_utime + usage.ru_stime}), flush=True)


if __name__ == "__main__":
    main()
