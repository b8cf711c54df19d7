"""What a sync costs in API requests, against the Zoho Books sandbox itself (not pre-rendered).

- `incremental`: a full sync, then a sync with nothing changed, then a re-normalization from raw;
  the requests each one made, per endpoint, from the sandbox's request log.
- `rate-limit`: the sandbox enforces Zoho's documented 100 requests per minute per organization
  (a sliding window, 429 with Retry-After beyond it) and ledgersync is configured with that same
  budget; a full sync long enough to span several windows shows how close the client runs to
  the limit, and whether the server ever had to say 429.

Efficiency of a rate-limited run: a client allowed L requests per window W can make N requests in
no less than floor((N - 1) / L) * W seconds (bursts allowed); efficiency is that minimum divided
by the time the run took from its first request to its last.

Prints one JSON line.
"""

from __future__ import annotations

import argparse
import json
import time
from collections import Counter
from pathlib import Path
from typing import Any

from connectors.zoho_books.connector import ZohoBooksConnector, ZohoBooksSettings
from connectors.zoho_books.settings import REQUESTS_PER_MINUTE, PaymentDetails
from models.landing import LandingZone
from models.warehouse import Warehouse
from pipelines.sync import normalize, sync_connection
from sandbox.server import SandboxServer
from sandbox.zoho_books.app import API, ZohoBooksApp, start_zoho_sandbox
from sandbox.zoho_books.config import OAuthClient, ZohoConfig

ORG = "ledgersync-budget"
CLIENT = OAuthClient()
WINDOW_S = 60.0


def _connector(
    server: SandboxServer[ZohoBooksApp],
    requests_per_minute: int,
    payment_details: PaymentDetails = "derive",
) -> ZohoBooksConnector:
    return ZohoBooksConnector(
        ZohoBooksSettings(
            connection_id=ORG,
            organization_id=server.app.organization_id(ORG),
            client_id=CLIENT.client_id,
            client_secret=CLIENT.client_secret,
            refresh_token=CLIENT.refresh_token,
            api_url=f"{server.url}{API}",
            accounts_url=server.url,
            requests_per_minute=requests_per_minute,
            payment_details=payment_details,
        )
    )


def _sync(
    server: SandboxServer[ZohoBooksApp],
    work: Path,
    requests_per_minute: int,
    payment_details: PaymentDetails = "derive",
) -> None:
    connector = _connector(server, requests_per_minute, payment_details)
    try:
        sync_connection(
            connector,
            warehouse=Warehouse(work / "warehouse.duckdb"),
            landing=LandingZone(work / "landing"),
        )
    finally:
        connector.close()


def _requests_by_endpoint(server: SandboxServer[ZohoBooksApp]) -> dict[str, int]:
    """Requests per endpoint; one payment's detail counts under `customerpayments/{id}`."""
    counts: Counter[str] = Counter()
    for record in server.log.records():
        path = record.path.removeprefix(API)
        if path.startswith("/customerpayments/"):
            path = "/customerpayments/{id}"
        counts[path] += 1
    server.log.reset()
    return dict(sorted(counts.items()))


def incremental(work: Path, size: dict[str, int]) -> dict[str, Any]:
    config = ZohoConfig(
        organizations=(ORG,),
        client=CLIENT,
        ledger_size=size,
        rate_limit=10_000_000,
        daily_cap=10_000_000,
    )
    with start_zoho_sandbox(config) as server:
        _sync(server, work, 10_000_000)
        first = _requests_by_endpoint(server)
        _sync(server, work, 10_000_000)
        unchanged = _requests_by_endpoint(server)
        connector = _connector(server, 10_000_000)
        normalize(
            Warehouse(work / "warehouse.duckdb"),
            connection_id=ORG,
            source=connector.source,
            streams=connector.streams,
            mappings=connector.mappings,
        )
        connector.close()
        renormalize = _requests_by_endpoint(server)
    return {"full_sync": first, "no_change_sync": unchanged, "renormalize": renormalize}


def rate_limited(work: Path, size: dict[str, int]) -> dict[str, Any]:
    config = ZohoConfig(
        organizations=(ORG,),
        client=CLIENT,
        ledger_size=size,
        rate_limit=REQUESTS_PER_MINUTE,
        rate_window_s=WINDOW_S,
        rate_window_sliding=True,
        daily_cap=10_000_000,
    )
    with start_zoho_sandbox(config) as server:
        started = time.perf_counter()
        # Every payment's detail is fetched, so the run has requests enough to meet the limit.
        _sync(server, work, REQUESTS_PER_MINUTE, payment_details="fetch_all")
        seconds = time.perf_counter() - started
        records = server.log.records(path_prefix=API)
    arrivals = [r.at for r in records]
    span = max(arrivals) - min(arrivals) if arrivals else 0.0
    allowed = sum(1 for r in records if r.status != 429)
    minimum = (allowed - 1) // REQUESTS_PER_MINUTE * WINDOW_S
    return {
        "limit_per_minute": REQUESTS_PER_MINUTE,
        "requests": allowed,
        "throttled_429": sum(1 for r in records if r.status == 429),
        "span_s": span,
        "minimum_span_s": minimum,
        "efficiency": minimum / span if span else None,
        "seconds": seconds,
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("mode", choices=("incremental", "rate-limit"))
    parser.add_argument("--work", type=Path, required=True)
    parser.add_argument("--customers", type=int, required=True)
    parser.add_argument("--invoices", type=int, required=True)
    parser.add_argument("--payments", type=int, required=True)
    args = parser.parse_args()
    args.work.mkdir(parents=True, exist_ok=True)
    size = {"customers": args.customers, "invoices": args.invoices, "payments": args.payments}
    measure = incremental if args.mode == "incremental" else rate_limited
    print(json.dumps(measure(args.work, size)))


if __name__ == "__main__":
    main()
