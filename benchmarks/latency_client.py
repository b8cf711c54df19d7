"""The latency benchmark's ledgersync client: a full sync of one source's sandbox, timed.

`pipelines.sync.sync_connection` (full refresh) with the source's real connector: pages fetched
as the connector fetches them (concurrently where the page count is known, the next one in
flight where it is chained), landed and loaded into the raw tables. Zoho's payment details (one
request per payment) are left out, as in the rest of the benchmark: list streams only.

    python -m benchmarks.latency_client SOURCE --account JSON --work DIR \\
        [--page-size N] [--in-flight N] [--at-limit]

Without `--at-limit` the connector's rate budget is lifted (as the sandbox's is); with it the
connector is configured with `sourceserver.AT_LIMIT[SOURCE].run`, the budget the sandbox
enforces. `--page-size` and `--in-flight` default to the connector's own defaults.

Prints one JSON line: records, pages, requests, seconds of the sync, and per stream the same
with the seconds spent extracting, landing and loading.
"""

from __future__ import annotations

import argparse
import json
import time
from pathlib import Path
from typing import Any

from benchmarks.ledgersync_client import DetailSample, PhaseClock, stream_figures
from benchmarks.sourceserver import AT_LIMIT, SOURCES, UNLIMITED
from connectors.business_central.connector import (
    BusinessCentralConnector,
    BusinessCentralSettings,
)
from connectors.carbon.connector import CarbonConnector, CarbonSettings
from connectors.ratelimit import RateLimiter
from connectors.simpro.connector import SimproConnector, SimproSettings
from connectors.streams import Connector
from connectors.zoho_books.connector import ZohoBooksConnector, ZohoBooksSettings
from connectors.zoho_books.settings import PAYMENT_DETAILS
from models.landing import LandingZone
from models.warehouse import Warehouse
from pipelines.sync import sync_connection

__all__ = ["open_connector", "run"]

CONNECTION = "latency"


def open_connector(
    source: str,
    account: dict[str, Any],
    *,
    page_size: int | None = None,
    in_flight: int | None = None,
    at_limit: bool = False,
) -> Connector:
    """The source's connector on the sandbox's account; unset options keep its defaults."""
    chosen: dict[str, int] = {} if page_size is None else {"page_size": page_size}
    budget = AT_LIMIT[source].run if at_limit else None
    if source == "simpro":
        if in_flight is not None:
            chosen["max_concurrent_requests"] = in_flight
        if budget is not None and budget.per_seconds != 1.0:
            raise ValueError("Simpro's budget is per second")
        return SimproConnector(
            SimproSettings(
                connection_id=CONNECTION,
                requests_per_second=budget.requests if budget else UNLIMITED,
                **account,
                **chosen,
            )
        )
    if source == "carbon":
        if in_flight is not None:
            chosen["max_concurrent_requests"] = in_flight
        limiter = (
            RateLimiter(max_requests=budget.requests, per_seconds=budget.per_seconds)
            if budget
            else None
        )
        return CarbonConnector(
            CarbonSettings(
                connection_id=CONNECTION, requests_per_minute=UNLIMITED, **account, **chosen
            ),
            rate_limiter=limiter,
        )
    if source == "business_central":
        if budget is not None and budget.per_seconds != 300.0:
            raise ValueError("Business Central's budget is per five minutes")
        return BusinessCentralConnector(
            BusinessCentralSettings(
                connection_id=CONNECTION,
                requests_per_five_minutes=budget.requests if budget else UNLIMITED,
                **account,
                **chosen,
            )
        )
    if budget is not None:
        raise ValueError(f"no at-limit run for {source}")
    zoho = ZohoBooksConnector(
        ZohoBooksSettings(
            connection_id=CONNECTION, requests_per_minute=UNLIMITED, **account, **chosen
        )
    )
    return DetailSample(zoho, 0)


def run(connector: Connector, work: Path) -> dict[str, Any]:
    clock = PhaseClock()
    started = time.perf_counter()
    try:
        outcomes = sync_connection(
            connector,
            warehouse=Warehouse(work / "warehouse.duckdb"),
            landing=LandingZone(work / "landing"),
            full_refresh=True,
            on_phase=clock,
        )
        clock.finish(outcomes)
    finally:
        clock.stop()
        connector.close()
    seconds = time.perf_counter() - started
    listed = [o for o in outcomes if o.stream != PAYMENT_DETAILS.name]
    return {
        "records": sum(o.records for o in listed),
        "pages": sum(o.pages for o in listed),
        "requests": sum(o.requests for o in outcomes),
        "seconds": seconds,
        "streams": stream_figures(listed, clock, started),
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("source", choices=SOURCES)
    parser.add_argument("--account", type=json.loads, required=True)
    parser.add_argument("--work", type=Path, required=True)
    parser.add_argument("--page-size", type=int)
    parser.add_argument("--in-flight", type=int)
    parser.add_argument("--at-limit", action="store_true")
    args = parser.parse_args()
    connector = open_connector(
        args.source,
        args.account,
        page_size=args.page_size,
        in_flight=args.in_flight,
        at_limit=args.at_limit,
    )
    print(json.dumps(run(connector, args.work)))


if __name__ == "__main__":
    main()
