"""The latency benchmark: every source's own sandbox with each response 100 ms late, a sequential
client against ledgersync, and ledgersync at each source's documented rate limit.

Per source, each client in its own process against a fresh sandbox process
(`sourceserver.py`):

- rate limits lifted in the sandbox and in the connector: the sequential client
  (`sequential_client.py`, 200 a page); ledgersync at the same page size (what its concurrency
  buys: the performance issue's 5x target, for the sources whose page count is known) with the
  default and with the most pages in flight, and at its configured page size;
- at the documented limit (`sourceserver.AT_LIMIT`: Simpro, Carbon, Business Central; Zoho's is
  `api_budget.py`'s run): ledgersync configured with the budget the sandbox enforces, its
  achieved request rate, the 429s it got, its records/s.

`measure` returns the figures; `ratio_rows` and `at_limit_rows` derive what RESULTS.md shows.
`benchmarks.run` runs it with the rest; alone, for some sources:

    python -m benchmarks.latency [SOURCE ...] [--latency-ms 100] [--at-limit]
"""

from __future__ import annotations

import argparse
import json
import math
import os
import shutil
import subprocess
import sys
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from benchmarks.measure import ROOT, ChildFailed, run_child
from benchmarks.sequential_client import PAGE_SIZE as SEQUENTIAL_PAGE_SIZE
from benchmarks.sourceserver import AT_LIMIT, SOURCES
from connectors.business_central import settings as bc
from connectors.carbon import settings as carbon
from connectors.simpro import settings as simpro
from connectors.zoho_books import settings as zoho

__all__ = [
    "LATENCY_MS",
    "LATENCY_SIZE",
    "AtLimitRow",
    "SourceRow",
    "at_limit_rows",
    "latency_floor",
    "measure",
    "peak_in_flight",
    "ratio_rows",
]

LATENCY_MS = 100.0
# With 100 ms a response a sequential client needs 0.1 s a page: 210 to 360 pages a source here.
LATENCY_SIZE = {"customers": 2_000, "invoices": 20_000, "payments": 20_000}
PAGING = {
    "simpro": "page count (`Result-Pages`)",
    "carbon": "total (`Content-Range`)",
    "business_central": "chained (`@odata.nextLink`)",
    "zoho_books": "chained (`has_more_page`)",
}
NAMES = {
    "simpro": "Simpro",
    "carbon": "Carbon",
    "business_central": "Business Central",
    "zoho_books": "Zoho Books",
}
# The connectors' defaults: what a connection gets unless its settings say otherwise.
CONFIGURED_PAGE_SIZE = {
    "simpro": simpro.MAX_PAGE_SIZE,
    "carbon": carbon.MAX_ROWS,
    "business_central": bc.PAGE_SIZE,
    "zoho_books": zoho.MAX_PAGE_SIZE,
}
# Pages in flight where the page count is known: the default, and the most the setting allows.
IN_FLIGHT = {
    "simpro": (simpro.CONCURRENT_REQUESTS, simpro.MAX_CONCURRENT_REQUESTS),
    "carbon": (carbon.CONCURRENT_REQUESTS, carbon.MAX_CONCURRENT_REQUESTS),
}
TARGET_RATIO = 5.0
# Chained paging: one request in flight per listing, so only streams side by side overlap.
CHAINED_TARGET_RATIO = 2.5
# At-limit ledgers, where the benchmark's would run long: Carbon's budget is one request a
# second, so about 30 requests of 1,000 rows.
AT_LIMIT_SIZE = {"carbon": {"customers": 700, "invoices": 7_000, "payments": 7_000}}


def measure(
    size: dict[str, int],
    *,
    latency_ms: float,
    at_limit: bool,
    work: Path,
    log_dir: Path,
    sources: Sequence[str] = (),
) -> dict[str, Any]:
    """Every source of `sources` (default: all), both settings (the at-limit runs only if
    `at_limit`)."""
    measured: dict[str, Any] = {}
    for source in sources or SOURCES:
        print(f"… latency: {NAMES[source]}", flush=True)
        bench = _Bench(source, latency_ms, work, log_dir)
        runs: dict[str, Any] = {"sequential": bench.sequential(size), "ledgersync": []}
        for page_size, in_flight in _ledgersync_settings(source):
            run = bench.ledgersync(size, page_size, in_flight)
            runs["ledgersync"].append({**run, "page_size": page_size, "in_flight": in_flight})
        if at_limit and source in AT_LIMIT:
            smaller = AT_LIMIT_SIZE.get(source, size)
            runs["at_limit"] = bench.ledgersync(
                {key: min(value, smaller[key]) for key, value in size.items()},
                CONFIGURED_PAGE_SIZE[source],
                None,
                at_limit=True,
            )
        measured[source] = runs
    return {"latency_ms": latency_ms, "size": size, "sources": measured}


def _ledgersync_settings(source: str) -> list[tuple[int, int | None]]:
    """(page size, pages in flight) of each ledgersync run: the sequential client's page size at
    the default and at the most pages in flight, then the configured page size at the default;
    chained sources have one request in flight whatever the setting (None)."""
    configured = CONFIGURED_PAGE_SIZE[source]
    if source not in IN_FLIGHT:
        return [(page_size, None) for page_size in sorted({SEQUENTIAL_PAGE_SIZE, configured})]
    default, most = IN_FLIGHT[source]
    runs = [(SEQUENTIAL_PAGE_SIZE, default), (SEQUENTIAL_PAGE_SIZE, most)]
    return runs + ([(configured, default)] if configured != SEQUENTIAL_PAGE_SIZE else [])


@dataclass(frozen=True)
class _Bench:
    """Runs one source's clients, each in its own process against a fresh sandbox process."""

    source: str
    latency_ms: float
    work: Path
    log_dir: Path

    def sequential(self, size: dict[str, int]) -> dict[str, Any]:
        page_size = ["--page-size", str(SEQUENTIAL_PAGE_SIZE)]
        return self._client("sequential", "benchmarks.sequential_client", size, page_size)

    def ledgersync(
        self, size: dict[str, int], page_size: int, in_flight: int | None, *, at_limit: bool = False
    ) -> dict[str, Any]:
        """`in_flight` None: the connector's default (or chained paging's one)."""
        name = f"ledgersync-{page_size}-{in_flight or 'default'}"
        if at_limit:
            name += "-at-limit"
        work = self.work / f"{self.source}-{name}"
        shutil.rmtree(work, ignore_errors=True)
        work.mkdir(parents=True)
        options = ["--work", str(work), "--page-size", str(page_size)]
        if in_flight is not None:
            options += ["--in-flight", str(in_flight)]
        if at_limit:
            options.append("--at-limit")
        return self._client(name, "benchmarks.latency_client", size, options, at_limit=at_limit)

    def _client(
        self,
        name: str,
        module: str,
        size: dict[str, int],
        options: list[str],
        *,
        at_limit: bool = False,
    ) -> dict[str, Any]:
        """The client's result, and what the sandbox saw."""
        label = f"latency-{self.source}-{name}"
        sandbox_log = self.log_dir / f"{label}-sandbox.log"
        with _sandbox(self.source, size, self.latency_ms, at_limit, sandbox_log) as served:
            account = ["--account", json.dumps(served.pop("account"))]
            child = run_child(
                label, module, [self.source, *account, *options], log_dir=self.log_dir
            )
        return {
            "result": child.result,
            "wall_s": child.wall_s,
            "peak_rss_mib": child.peak_rss_mib,
            "size": size,
            "server": served,
        }


@contextmanager
def _sandbox(
    source: str, size: dict[str, int], latency_ms: float, at_limit: bool, log: Path
) -> Iterator[dict[str, Any]]:
    """The source's sandbox in its own process (its standard error to `log`). Yields a dict
    holding the `account` to sign in with; when the block ends, it holds the `requests` the
    sandbox served and the `cpu_s` it spent."""
    args = [f"--{key}={value}" for key, value in size.items()]
    if at_limit:
        args.append("--at-limit")
    log.parent.mkdir(parents=True, exist_ok=True)
    with open(log, "wb") as stderr:
        server = subprocess.Popen(
            [
                sys.executable,
                "-m",
                "benchmarks.sourceserver",
                source,
                *args,
                f"--latency-ms={latency_ms}",
            ],
            stdin=subprocess.PIPE,
            stdout=subprocess.PIPE,
            stderr=stderr,
            cwd=ROOT,
        )
    assert server.stdin is not None and server.stdout is not None
    try:
        ready = server.stdout.readline()
        if not ready:
            raise ChildFailed(f"the {source} sandbox did not start; see {log}")
        served: dict[str, Any] = {"account": json.loads(ready)["account"]}
        yield served
        server.stdin.close()
        served.update(json.loads(server.stdout.readline() or b"{}"))
        server.wait(timeout=30)
    finally:
        if server.poll() is None:
            server.kill()
            server.wait()
        server.stdin.close()
        server.stdout.close()


# -- what RESULTS.md shows ---------------------------------------------------------------------


@dataclass(frozen=True)
class SourceRow:
    """One ledgersync run against the sequential client, with where its seconds went."""

    source: str
    sequential_page_size: int
    sequential_rate: float
    page_size: int
    in_flight: int | None  # pages ledgersync may have in flight (chained paging: None)
    rate: float
    peak_in_flight: int  # seen by the sandbox (a lower bound)
    seconds: float
    extract_s: float  # waiting for pages
    floor_s: float  # the least waiting the round trips allow (`latency_floor`)
    land_load_s: float
    server_cpu_s: float

    @property
    def ratio(self) -> float:
        return self.rate / self.sequential_rate

    @property
    def page_count_known(self) -> bool:
        return self.in_flight is not None


@dataclass(frozen=True)
class AtLimitRow:
    source: str
    limit: str
    scaled: bool
    window: str
    requests: int
    throttled: int
    span_s: float
    efficiency: float | None  # the limit's fastest time for these requests over the span
    rate_share: float  # requests a second over the limit's average rate
    rate: float  # records a second
    ceiling: float  # records a second the documented limit allows at the largest page


def ratio_rows(figures: dict[str, Any]) -> list[SourceRow]:
    rows: list[SourceRow] = []
    latency_s = figures["latency_ms"] / 1000
    for source, runs in figures["sources"].items():
        sequential = runs["sequential"]["result"]
        for run in runs["ledgersync"]:
            result = run["result"]
            phases = [stream["phases_s"] for stream in result["streams"].values()]
            rows.append(
                SourceRow(
                    source=source,
                    sequential_page_size=sequential["page_size"],
                    sequential_rate=sequential["records"] / sequential["seconds"],
                    page_size=run["page_size"],
                    in_flight=run["in_flight"],
                    rate=result["records"] / result["seconds"],
                    peak_in_flight=peak_in_flight(
                        [at for at, _ in run["server"]["requests"]], latency_s
                    ),
                    seconds=result["seconds"],
                    extract_s=sum(p.get("extract", 0.0) for p in phases),
                    floor_s=latency_floor(result["streams"], run["in_flight"], latency_s),
                    land_load_s=sum(p.get("land", 0.0) + p.get("load", 0.0) for p in phases),
                    server_cpu_s=run["server"]["cpu_s"],
                )
            )
    return rows


def at_limit_rows(figures: dict[str, Any]) -> list[AtLimitRow]:
    rows: list[AtLimitRow] = []
    for source, runs in figures["sources"].items():
        if "at_limit" not in runs:
            continue
        limit = AT_LIMIT[source]
        run = runs["at_limit"]
        statuses = run["server"]["requests"]
        allowed = [at for at, status in statuses if status != 429]
        span = max(allowed) - min(allowed) if len(allowed) > 1 else 0.0
        fastest = (len(allowed) - 1) // limit.run.requests * limit.run.per_seconds
        rows.append(
            AtLimitRow(
                source=source,
                limit=limit.text,
                scaled=limit.scaled,
                window=f"{limit.run.requests:,} per {limit.run.per_seconds:g} s",
                requests=len(allowed),
                throttled=sum(1 for _, status in statuses if status == 429),
                span_s=span,
                efficiency=fastest / span if fastest and span else None,
                rate_share=(len(allowed) - 1) / span / limit.run.per_second if span else 0.0,
                rate=run["result"]["records"] / run["result"]["seconds"],
                ceiling=limit.ceiling,
            )
        )
    return rows


def peak_in_flight(arrivals: list[float], latency_s: float) -> int:
    """Requests in flight together at some moment, at least: each response is held `latency_s`
    after its arrival, so requests arriving within `latency_s` of one another overlap."""
    times = sorted(arrivals)
    peak = start = 0
    for end, at in enumerate(times):
        while times[start] <= at - latency_s:
            start += 1
        peak = max(peak, end - start + 1)
    return peak


def latency_floor(streams: dict[str, Any], in_flight: int | None, latency_s: float) -> float:
    """The least time a sync waits on round trips: per stream its first page alone, then rounds
    of `in_flight` pages; chained paging (None) one page after another."""
    rounds = 0
    for stream in streams.values():
        pages = stream["pages"]
        rounds += pages if in_flight is None else 1 + math.ceil((pages - 1) / in_flight)
    return rounds * latency_s


def main() -> None:
    parser = argparse.ArgumentParser(description="The latency benchmark alone.")
    parser.add_argument("sources", nargs="*", metavar="SOURCE", help=f"default: {SOURCES}")
    parser.add_argument("--latency-ms", type=float, default=LATENCY_MS)
    parser.add_argument("--at-limit", action="store_true", help="also at the documented limit")
    parser.add_argument("--out", type=Path, default=ROOT / "benchmarks" / "out")
    args = parser.parse_args()
    unknown = sorted(set(args.sources) - set(SOURCES))
    if unknown:
        parser.error(f"unknown sources {unknown}; choose from {SOURCES}")
    load_before = os.getloadavg()
    figures = measure(
        LATENCY_SIZE,
        latency_ms=args.latency_ms,
        at_limit=args.at_limit,
        work=args.out / "work" / "latency",
        log_dir=args.out / "logs",
        sources=args.sources,
    )
    figures["load_average"] = {"before": load_before, "after": os.getloadavg()}
    (args.out / "latency.json").write_text(json.dumps(figures, indent=2))
    for row in ratio_rows(figures):
        print(
            f"{NAMES[row.source]}: {row.ratio:.2f}x at {row.page_size} a page, "
            f"{row.in_flight or 'chained'} in flight ({row.rate:,.0f} vs "
            f"{row.sequential_rate:,.0f} records/s; {row.seconds:.1f} s, server CPU "
            f"{row.server_cpu_s:.1f} s, {row.peak_in_flight} seen in flight)"
        )
    print("load average before {} and after {}".format(*figures["load_average"].values()))


if __name__ == "__main__":
    main()
