"""The benchmark: ledgersync against the practical limit and dlt, side by side, in one run.

    python -m benchmarks.run                 # 1,000,000 payments and invoices, 100,000 customers
    python -m benchmarks.run --quick         # 20,000 / 20,000 / 2,000, the slow parts skipped

Writes benchmarks/RESULTS.md (or --results) and the raw figures to <out>/results.json.
benchmarks/README.md says what each figure means.
"""

from __future__ import annotations

import argparse
import json
import os
import shutil
from dataclasses import asdict, dataclass, replace
from pathlib import Path
from typing import Any

from benchmarks.dataset import Dataset
from benchmarks.latency import LATENCY_MS, LATENCY_SIZE
from benchmarks.latency import measure as measure_latency
from benchmarks.measure import ROOT, ChildRun, page_server, run_child
from benchmarks.results import write_results

__all__ = ["Options", "main", "run"]

# Sandbox ledgers for the request-count measurements: small, they count requests, not speed.
INCREMENTAL_SIZE = {"customers": 50, "invoices": 500, "payments": 300}
# The reports at scale are refreshed again after this share of the documents changed.
REPORTS_CHANGED_PERCENT = 1.0
# Zoho's payment details derived from the list against all fetched (benchmarks/zoho_details.py):
# a ledger of its own, extrapolated to a million payments; no larger than the run's.
ZOHO_DETAILS_SIZE = {"customers": 2_000, "invoices": 20_000, "payments": 20_000}
# About 205 requests at 100 a minute: three windows, just over two minutes.
RATE_LIMIT_SIZE = {"customers": 150, "invoices": 1200, "payments": 200}


@dataclass(frozen=True)
class Options:
    customers: int = 100_000
    invoices: int = 1_000_000
    payments: int = 1_000_000
    details: int = 20_000  # payment details fetched over HTTP by the ledgersync run
    dlt: bool = True
    rate_limit: bool = True
    latency: bool = True
    scaling: bool = True
    zoho_details: bool = True
    out: Path = ROOT / "benchmarks" / "out"
    results: Path = ROOT / "benchmarks" / "RESULTS.md"

    def size(self, divisor: int = 1) -> dict[str, int]:
        return {
            "customers": max(1, self.customers // divisor),
            "invoices": self.invoices // divisor,
            "payments": self.payments // divisor,
        }


def _dataset(options: Options, size: dict[str, int]) -> Dataset:
    name = "ledger-{customers}c-{invoices}i-{payments}p".format(**size)
    run_child(
        f"dataset-{name}",
        "benchmarks.dataset",
        [str(options.out / "datasets" / name), *_size_args(size)],
        log_dir=options.out / "logs",
    )
    return Dataset.load(options.out / "datasets" / name)


def _size_args(size: dict[str, int]) -> list[str]:
    return [arg for key, value in size.items() for arg in (f"--{key}", str(value))]


def _client(
    options: Options,
    name: str,
    module: str,
    dataset: Dataset,
    extra: list[str],
) -> dict[str, Any]:
    """One client against a fresh page server; its result, wall time, peak RSS, server load."""
    work = options.out / "work" / name
    shutil.rmtree(work, ignore_errors=True)
    work.mkdir(parents=True)
    print(f"… {name}", flush=True)
    with page_server(dataset.directory) as server:
        child = run_child(
            name,
            module,
            ["--url", server.url, "--dataset", str(dataset.directory), "--work", str(work), *extra],
            log_dir=options.out / "logs",
        )
    return {**_figures(child), "server": {"requests": server.requests, "cpu_s": server.cpu_s}}


def _figures(child: ChildRun) -> dict[str, Any]:
    return {"result": child.result, "wall_s": child.wall_s, "peak_rss_mib": child.peak_rss_mib}


def run(options: Options) -> dict[str, Any]:
    options.out.mkdir(parents=True, exist_ok=True)
    results: dict[str, Any] = {"options": {k: str(v) for k, v in asdict(options).items()}}
    results["load_average_start"] = os.getloadavg()
    print("… generating and pre-rendering the ledger", flush=True)
    dataset = _dataset(options, options.size())
    results["dataset"] = _describe(dataset)
    results["ledgersync"] = _client(
        options,
        "ledgersync",
        "benchmarks.ledgersync_client",
        dataset,
        ["--details", str(options.details)],
    )
    results["limit"] = _client(options, "limit", "benchmarks.limit_client", dataset, [])
    if options.dlt:
        results["dlt"] = _client(options, "dlt-merge-parquet", "benchmarks.dlt_client", dataset, [])
    print("… reports over the scaled-up applications", flush=True)
    results["reports_at_scale"] = _figures(
        run_child(
            "reports",
            "benchmarks.reports_client",
            [
                "--warehouse",
                str(options.out / "work" / "ledgersync" / "warehouse.duckdb"),
                "--work",
                str(options.out / "work" / "reports"),
                "--applications",
                str(2 * options.payments),
                "--as-of",
                dataset.as_of,
                "--changed-percent",
                str(REPORTS_CHANGED_PERCENT),
            ],
            log_dir=options.out / "logs",
        )
    )
    if options.scaling:
        small = _dataset(options, options.size(10))
        results["small_dataset"] = _describe(small)
        results["ledgersync_small"] = _client(
            options,
            "ledgersync-tenth",
            "benchmarks.ledgersync_client",
            small,
            ["--details", str(options.details // 10)],
        )
    if options.latency:
        results["latency"] = _latency(options)
    if options.zoho_details:
        print("… Zoho payment details: derived from the list against all fetched", flush=True)
        results["zoho_details"] = _zoho_details(options)
    print("… API requests per sync", flush=True)
    results["incremental"] = _budget(options, "incremental", INCREMENTAL_SIZE)
    if options.rate_limit:
        print("… a rate-limited sync at 100 requests a minute (about two minutes)", flush=True)
        results["rate_limit"] = _budget(options, "rate-limit", RATE_LIMIT_SIZE)
    results["load_average_end"] = os.getloadavg()
    (options.out / "results.json").write_text(json.dumps(results, indent=2, default=str))
    write_results(results, options.results)
    return results


def _latency(options: Options) -> dict[str, Any]:
    """Every source's own sandbox with each response 100 ms late: a sequential client against
    ledgersync, on a smaller ledger (a sequential client needs 0.1 s a page); ledgersync at each
    documented rate limit too, unless the rate-limit part is skipped."""
    size = {key: min(value, options.size()[key]) for key, value in LATENCY_SIZE.items()}
    return measure_latency(
        size,
        latency_ms=LATENCY_MS,
        at_limit=options.rate_limit,
        work=options.out / "work" / "latency",
        log_dir=options.out / "logs",
    )


def _zoho_details(options: Options) -> dict[str, Any]:
    size = {key: min(value, options.size()[key]) for key, value in ZOHO_DETAILS_SIZE.items()}
    child = run_child(
        "zoho-details",
        "benchmarks.zoho_details",
        ["--work", str(options.out / "work" / "zoho-details"), *_size_args(size)],
        log_dir=options.out / "logs",
    )
    return _figures(child)


def _budget(options: Options, mode: str, size: dict[str, int]) -> dict[str, Any]:
    work = options.out / "work" / f"budget-{mode}"
    shutil.rmtree(work, ignore_errors=True)
    child = run_child(
        f"budget-{mode}",
        "benchmarks.api_budget",
        [mode, "--work", str(work), *_size_args(size)],
        log_dir=options.out / "logs",
    )
    return {**_figures(child), "size": size}


def _describe(dataset: Dataset) -> dict[str, Any]:
    return {
        "customers": dataset.customers,
        "invoices": dataset.invoices,
        "payments": dataset.payments,
        "records": dataset.records,
        "pages": dataset.pages,
        "applications": dataset.applications,
        "as_of": dataset.as_of,
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--customers", type=int)
    parser.add_argument("--invoices", type=int)
    parser.add_argument("--payments", type=int)
    parser.add_argument(
        "--details", type=int, help="payment details fetched over HTTP (default 20,000)"
    )
    parser.add_argument("--quick", action="store_true", help="a small ledger, slow parts skipped")
    parser.add_argument("--no-dlt", dest="dlt", action="store_false")
    parser.add_argument("--no-rate-limit", dest="rate_limit", action="store_false")
    parser.add_argument("--no-latency", dest="latency", action="store_false")
    parser.add_argument("--no-scaling", dest="scaling", action="store_false")
    parser.add_argument("--no-zoho-details", dest="zoho_details", action="store_false")
    parser.add_argument("--out", type=Path, default=Options.out)
    parser.add_argument("--results", type=Path, default=Options.results)
    args = parser.parse_args()
    base = (
        Options(customers=2_000, invoices=20_000, payments=20_000, details=2_000, rate_limit=False)
        if args.quick
        else Options()
    )
    given = {
        name: getattr(args, name)
        for name in ("customers", "invoices", "payments", "details")
        if getattr(args, name) is not None
    }
    options = replace(
        base,
        **given,
        dlt=args.dlt,
        rate_limit=base.rate_limit and args.rate_limit,
        latency=args.latency,
        scaling=args.scaling,
        zoho_details=args.zoho_details,
        out=args.out,
        results=args.results,
    )
    run(options)
    print(f"results: {options.results}")


if __name__ == "__main__":
    main()
