"""The latency benchmark's sequential client: a source's list streams, one request at a time.

The comparator of the performance issue ("a sequential client manages about 2,000 records/s at
200 a page"): httpx on one keep-alive connection, the same listings the connector reads (its
paths, columns and filters), 200 records a page, the next request sent once the page before it
is parsed (orjson) and its records counted. Nothing is landed or loaded: with 100 ms a
response, waiting is nearly all of its time, so fetching and parsing are enough to compare with.

    python -m benchmarks.sequential_client SOURCE --account JSON [--page-size 200]

Prints one JSON line: records per listing and in all, requests, seconds (sign-in included).
"""

from __future__ import annotations

import argparse
import json
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

import httpx
import orjson

from connectors.business_central import settings as bc
from connectors.carbon import settings as carbon
from connectors.simpro import settings as simpro

__all__ = ["PAGE_SIZE", "Tally", "walk"]

PAGE_SIZE = 200
# The filters ZohoBooksConnector sends with each list (its records must be the same).
ZOHO_LISTINGS: dict[str, dict[str, str]] = {
    "contacts": {"contact_type": "customer", "filter_by": "Status.All"},
    "invoices": {"filter_by": "Status.All"},
    "customerpayments": {},
}


@dataclass
class Tally:
    """What one walk read: records per listing, and the requests it took."""

    records: dict[str, int] = field(default_factory=dict)
    requests: int = 0

    def get(self, client: httpx.Client, url: str, **kwargs: Any) -> httpx.Response:
        response = client.get(url, **kwargs)
        self.requests += 1
        response.raise_for_status()
        return response

    def add(self, listing: str, rows: list[Any]) -> None:
        self.records[listing] = self.records.get(listing, 0) + len(rows)


Walk = Callable[[httpx.Client, dict[str, Any], int, bool], Tally]


def _simpro(client: httpx.Client, account: dict[str, Any], size: int, first: bool) -> Tally:
    """`?page=n&pageSize=N` until page `Result-Pages`."""
    tally = Tally()
    base = f"{account['build_url']}{simpro.API_PATH}/companies/{account['company_id']}/"
    headers = {"Authorization": f"Bearer {account['api_key']}"}
    for stream, (path, columns) in simpro.COLLECTIONS.items():
        params = {"columns": ",".join(columns), "orderby": "ID", "pageSize": size}
        page = pages = 1
        while page <= pages:
            response = tally.get(
                client, base + path, params={**params, "page": page}, headers=headers
            )
            tally.add(stream, orjson.loads(response.content))
            pages = 1 if first else int(response.headers["Result-Pages"])
            page += 1
    return tally


def _carbon(client: httpx.Client, account: dict[str, Any], size: int, first: bool) -> Tally:
    """`?limit=N&offset=M` until the `Content-Range` total."""
    tally = Tally()
    headers = {"Authorization": f"Bearer {account['api_key']}", "Prefer": "count=exact"}
    for stream, endpoint in carbon.ENDPOINTS.items():
        params = {"select": endpoint.select, "order": endpoint.order, **dict(endpoint.filters)}
        offset, total = 0, 1
        while offset < total:
            response = tally.get(
                client,
                f"{account['api_url']}/{endpoint.path}",
                params={**params, "limit": size, "offset": offset},
                headers=headers,
            )
            rows = orjson.loads(response.content)
            tally.add(stream, rows)
            offset += len(rows)
            if first or not rows:
                break
            total = int(response.headers["Content-Range"].rpartition("/")[2])
    return tally


def _business_central(
    client: httpx.Client, account: dict[str, Any], size: int, first: bool
) -> Tally:
    """`@odata.nextLink` until absent; payment lines per journal."""
    tally = Tally()
    token = client.post(
        f"{account['authority_url']}/{account['tenant']}{bc.TOKEN_PATH}",
        data={
            "grant_type": "client_credentials",
            "client_id": account["client_id"],
            "client_secret": account["client_secret"],
            "scope": bc.SCOPE,
        },
    )
    token.raise_for_status()
    headers = {
        "Authorization": f"Bearer {token.json()['access_token']}",
        "Prefer": f"odata.maxpagesize={size}",
    }
    company = (
        f"{account['api_url']}/{account['tenant']}/{account['environment']}{bc.API_PATH}"
        f"/companies({account['company_id']})"
    )
    journals: list[str] = []
    for stream, collection in bc.COLLECTIONS.items():
        paths = [f"{company}/{collection}"]
        if stream == bc.PAYMENT_LINES.name:
            listing = bc.COLLECTIONS[bc.PAYMENT_JOURNALS.name]
            paths = [f"{company}/{listing}({journal})/{collection}" for journal in journals]
        for path in paths:
            url: str | None = path
            params: dict[str, str] | None = {"$select": ",".join(bc.SELECT[stream])}
            while url:
                body = orjson.loads(tally.get(client, url, params=params, headers=headers).content)
                tally.add(stream, body["value"])
                if stream == bc.PAYMENT_JOURNALS.name:
                    journals += [row["id"] for row in body["value"]]
                url, params = None if first else body.get("@odata.nextLink"), None
    return tally


def _zoho_books(client: httpx.Client, account: dict[str, Any], size: int, first: bool) -> Tally:
    """`?page=n&per_page=N` while `has_more_page`."""
    tally = Tally()
    token = client.post(
        f"{account['accounts_url']}/oauth/v2/token",
        data={
            "grant_type": "refresh_token",
            "client_id": account["client_id"],
            "client_secret": account["client_secret"],
            "refresh_token": account["refresh_token"],
        },
    )
    token.raise_for_status()
    headers = {"Authorization": f"Zoho-oauthtoken {token.json()['access_token']}"}
    for listing, filters in ZOHO_LISTINGS.items():
        params = {"organization_id": account["organization_id"], "per_page": size, **filters}
        page, more = 1, True
        while more:
            response = tally.get(
                client,
                f"{account['api_url']}/{listing}",
                params={**params, "page": page},
                headers=headers,
            )
            body = orjson.loads(response.content)
            tally.add(listing, body[listing])
            more = not first and bool(body["page_context"]["has_more_page"])
            page += 1
    return tally


WALKS: dict[str, Walk] = {
    "simpro": _simpro,
    "carbon": _carbon,
    "business_central": _business_central,
    "zoho_books": _zoho_books,
}


def walk(
    source: str,
    account: dict[str, Any],
    *,
    page_size: int = PAGE_SIZE,
    first_pages_only: bool = False,
) -> Tally:
    """Every listing of `source` in turn, page by page (only its first page if asked)."""
    with httpx.Client(timeout=60.0) as client:
        return WALKS[source](client, account, page_size, first_pages_only)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("source", choices=sorted(WALKS))
    parser.add_argument("--account", type=json.loads, required=True)
    parser.add_argument("--page-size", type=int, default=PAGE_SIZE)
    args = parser.parse_args()
    started = time.perf_counter()
    tally = walk(args.source, args.account, page_size=args.page_size)
    seconds = time.perf_counter() - started
    print(
        json.dumps(
            {
                "records": sum(tally.records.values()),
                "listings": tally.records,
                "requests": tally.requests,
                "seconds": seconds,
                "page_size": args.page_size,
            }
        )
    )


if __name__ == "__main__":
    main()
