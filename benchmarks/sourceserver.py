"""A source's own sandbox in a process of its own, for the latency benchmark.

Unlike `pageserver.py` this is the real sandbox of each source (`sandbox/<source>`), rendering
every page per request with its wire contract (paging headers, tokens, rate limit, 429 bodies);
a separate process, so its CPU never competes with a client's for the same interpreter lock.

    python -m benchmarks.sourceserver SOURCE --customers N --invoices N --payments N \\
        [--latency-ms 100] [--at-limit]

Without `--at-limit` the rate limits are lifted; with it the sandbox enforces `AT_LIMIT[SOURCE]`.
Before it says it is ready, it asks for the first page of every listing once, as the sequential
client and as the connector ask for it (the sandboxes render a listing's rows, in the order
asked for, on its first request; that is start-up, not what a client waits for) and then lets a
rate window of up to a minute pass, so those requests leave the run's budget alone. Every data
response is then `--latency-ms` late (the sandbox's `latency_s` knob).

Prints one JSON line when ready (`url`, and the `account` a client signs in with), serves until
its standard input closes, then prints one JSON line: each data request's arrival (seconds,
monotonic) and status, and the CPU seconds the serving took.
"""

from __future__ import annotations

import argparse
import json
import resource
import sys
import time
from collections.abc import Generator
from dataclasses import dataclass
from typing import Any

from benchmarks.sequential_client import walk
from sandbox.business_central.app import start_business_central_sandbox
from sandbox.business_central.config import BusinessCentralConfig
from sandbox.carbon.app import start_carbon_sandbox
from sandbox.carbon.config import CarbonConfig
from sandbox.faults import FaultConfig
from sandbox.server import SandboxServer
from sandbox.simpro.app import start_simpro_sandbox
from sandbox.simpro.config import SimproConfig
from sandbox.zoho_books.app import API as ZOHO_API
from sandbox.zoho_books.app import start_zoho_sandbox
from sandbox.zoho_books.config import ZohoConfig

__all__ = ["AT_LIMIT", "COMPANY", "SOURCES", "UNLIMITED", "Budget", "Limit"]

SOURCES = ("simpro", "carbon", "business_central", "zoho_books")
COMPANY = "Latency Benchmark"
UNLIMITED = 10_000_000
# After the warm-up the sandbox lets one rate window pass, up to this long; a longer window
# (Business Central's five minutes) keeps the warm-up's few requests in the run's budget.
_LONGEST_SETTLE_S = 60.0


@dataclass(frozen=True)
class Budget:
    requests: int
    per_seconds: float

    @property
    def per_second(self) -> float:
        return self.requests / self.per_seconds


@dataclass(frozen=True)
class Limit:
    """A source's documented request limit, and the budget the at-limit run uses: the sandbox
    enforces `run` and the connector is configured with it. `run` differs from `documented` only
    where a short run cannot span a documented window (same average rate, smaller bursts)."""

    text: str
    documented: Budget
    run: Budget
    largest_page: int  # records in the largest page the source serves

    @property
    def scaled(self) -> bool:
        return self.run != self.documented

    @property
    def ceiling(self) -> float:
        """Records a second the documented limit allows at the largest page."""
        return self.documented.per_second * self.largest_page


AT_LIMIT: dict[str, Limit] = {
    "simpro": Limit("10 requests/s per build", Budget(10, 1.0), Budget(10, 1.0), 250),
    # A run under 30 s inside one 60 s window would be one burst: the window is a sixth.
    "carbon": Limit("60 requests/min per key", Budget(60, 60.0), Budget(10, 10.0), 1000),
    "business_central": Limit(
        "6,000 requests/5 min per user, 5 at once", Budget(6000, 300.0), Budget(6000, 300.0), 20_000
    ),
}


def start(
    source: str, size: dict[str, int], *, at_limit: bool
) -> tuple[SandboxServer[Any], dict[str, Any]]:
    """The running sandbox and the account a client signs in with."""
    if at_limit and source not in AT_LIMIT:
        raise ValueError(f"no at-limit run for {source}")
    budget = AT_LIMIT[source].run if at_limit else Budget(UNLIMITED, 1.0)
    if source == "simpro":
        simpro = start_simpro_sandbox(
            SimproConfig(
                companies=(COMPANY,),
                ledger_size=size,
                rate_limit=budget.requests,
                rate_window_s=budget.per_seconds,
            )
        )
        return simpro, {
            "build_url": simpro.url,
            "company_id": simpro.app.company_id(COMPANY),
            "api_key": simpro.app.config.api_keys[0],
        }
    if source == "carbon":
        carbon = start_carbon_sandbox(
            CarbonConfig(
                companies=(COMPANY,),
                ledger_size=size,
                rate_limit=budget.requests,
                rate_window_s=budget.per_seconds,
            )
        )
        return carbon, {"api_url": carbon.url, "api_key": carbon.app.api_key(COMPANY)}
    if source == "business_central":
        bc_config = BusinessCentralConfig(
            companies=(COMPANY,),
            ledger_size=size,
            rate_limit=budget.requests,
            rate_window_s=budget.per_seconds,
        )
        bc = start_business_central_sandbox(bc_config)
        return bc, {
            "api_url": f"{bc.url}/v2.0",
            "authority_url": bc.url,
            "tenant": bc_config.tenant,
            "environment": bc_config.environment,
            "client_id": bc_config.app.client_id,
            "client_secret": bc_config.app.client_secret,
            "company_id": bc.app.company_id(COMPANY),
        }
    zoho_config = ZohoConfig(
        organizations=(COMPANY,), ledger_size=size, rate_limit=UNLIMITED, daily_cap=UNLIMITED
    )
    zoho = start_zoho_sandbox(zoho_config)
    return zoho, {
        "api_url": f"{zoho.url}{ZOHO_API}",
        "accounts_url": zoho.url,
        "organization_id": zoho.app.organization_id(COMPANY),
        "client_id": zoho_config.client.client_id,
        "client_secret": zoho_config.client.client_secret,
        "refresh_token": zoho_config.client.refresh_token,
    }


def _first_pages(source: str, account: dict[str, Any]) -> None:
    """The first page of each listing as the connector asks for it (its order and filters)."""
    from benchmarks.latency_client import open_connector  # it imports this module

    connector = open_connector(source, account)
    try:
        for stream in connector.streams:
            if stream.parent is None:
                pages = connector.extract(stream, since=None)
                next(pages, None)
                if isinstance(pages, Generator):
                    pages.close()  # what it fetched ahead is waited for
    finally:
        connector.close()


def _cpu_s() -> float:
    usage = resource.getrusage(resource.RUSAGE_SELF)
    return usage.ru_utime + usage.ru_stime


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("source", choices=SOURCES)
    parser.add_argument("--customers", type=int, required=True)
    parser.add_argument("--invoices", type=int, required=True)
    parser.add_argument("--payments", type=int, required=True)
    parser.add_argument("--latency-ms", type=float, default=0.0)
    parser.add_argument("--at-limit", action="store_true")
    args = parser.parse_args()
    size = {"customers": args.customers, "invoices": args.invoices, "payments": args.payments}
    server, account = start(args.source, size, at_limit=args.at_limit)
    with server:
        walk(args.source, account, first_pages_only=True)
        if not args.at_limit:
            _first_pages(args.source, account)
        if args.at_limit and AT_LIMIT[args.source].run.per_seconds <= _LONGEST_SETTLE_S:
            time.sleep(AT_LIMIT[args.source].run.per_seconds)
        server.log.reset()
        server.faults = FaultConfig(latency_s=args.latency_ms / 1000)
        print(json.dumps({"url": server.url, "account": account}), flush=True)
        cpu_ready = _cpu_s()
        sys.stdin.read()  # until the benchmark closes our standard input
        served = server.log.records(where=lambda r: r.method == "GET")
        cpu_s = _cpu_s() - cpu_ready
    arrivals = [[record.at, record.status] for record in served]
    print(json.dumps({"requests": arrivals, "cpu_s": cpu_s}), flush=True)


if __name__ == "__main__":
    main()
