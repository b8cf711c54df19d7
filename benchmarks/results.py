"""RESULTS.md from one run's figures: the machine, each measurement, and the targets.

Everything above `NOTES_MARKER` is rewritten by each run; the notes below it (why a target is
missed, what to change) are written by people and kept.
"""

from __future__ import annotations

import os
import platform
from datetime import UTC, datetime
from importlib import metadata
from pathlib import Path
from typing import Any

from benchmarks import latency
from benchmarks.zoho_details import markdown as zoho_details_markdown

__all__ = ["NOTES_MARKER", "Summary", "summarize", "write_results"]

NOTES_MARKER = "<!-- notes below are kept when the benchmark rewrites this file -->"
PACKAGES = ("duckdb", "httpx", "orjson", "pyarrow", "dagster", "dlt")
LIST_STREAMS = ("contacts", "invoices", "customerpayments")
DETAIL_STREAM = "customerpayment_details"
ZOHO_PER_MINUTE = 100
STAGES = ("extract", "land", "load")


class Summary:
    """The figures of one ledgersync run, over its list streams."""

    def __init__(self, run: dict[str, Any]) -> None:
        result = run["result"]
        self.streams = result["streams"]
        self.records = sum(self.streams[s]["records"] for s in LIST_STREAMS)
        self.stage_s = {
            stage: sum(self.streams[s]["phases_s"].get(stage, 0.0) for s in LIST_STREAMS)
            for stage in STAGES
        }
        self.stage_s["normalize"] = result["normalize_s"]
        self.stage_s["reconcile"] = result["reconcile_s"]
        # The list streams' wall time: from the sync's start to the last of them ending (they
        # run side by side; figures without start times are of streams one after another).
        listed = [self.streams[s] for s in LIST_STREAMS]
        if all("started_s" in stream for stream in listed):
            self.sync_s = max(stream["started_s"] + stream["seconds"] for stream in listed)
        else:
            self.sync_s = sum(stream["seconds"] for stream in listed)
        self.full_sync_s = self.sync_s + result["normalize_s"]
        self.rate = self.records / self.full_sync_s
        self.peak_rss_mib = run["peak_rss_mib"]
        self.total_s = result["total_s"]
        self.canonical = result["canonical"]
        self.details = self.streams.get(DETAIL_STREAM)


def summarize(results: dict[str, Any]) -> list[tuple[str, str, bool | None]]:
    """(target, measured, met) for every target the run measured; met None means n/a."""
    ledgersync = Summary(results["ledgersync"])
    limit = results["limit"]["result"]
    limit_rate = limit["records"] / limit["seconds"]
    rows: list[tuple[str, str, bool | None]] = []
    ratio = ledgersync.rate / limit_rate
    rows.append(
        (
            "full sync ≥ 70% of the practical limit",
            f"{ratio:.0%} ({ledgersync.rate:,.0f} vs {limit_rate:,.0f} records/s)",
            ratio >= 0.7,
        )
    )
    if "dlt" in results:
        dlt = results["dlt"]["result"]
        dlt_ratio = ledgersync.rate / (dlt["records"] / dlt["seconds"])
        rows.append(("full sync ≥ 4× dlt merge (parquet)", f"{dlt_ratio:.1f}×", dlt_ratio >= 4))
    # The sync's peak: extract to canonical (the reports, measured below, come after it).
    sync_peak = results["ledgersync"]["result"]["peak_rss_after_normalize_mib"]
    if "ledgersync_small" in results:
        small_peak = results["ledgersync_small"]["result"]["peak_rss_after_normalize_mib"]
        growth = sync_peak / small_peak
        rows.append(
            (
                "10× the ledger grows the sync's peak RSS < 1.5×",
                f"{growth:.2f}× ({small_peak:,.0f} → {sync_peak:,.0f} MiB)",
                growth < 1.5,
            )
        )
    payments = results["dataset"]["payments"]
    rows.append(
        (
            "1,000,000-payment sync < 600 MiB",
            f"{sync_peak:,.0f} MiB at {payments:,} payments",
            sync_peak < 600 if payments >= 1_000_000 else None,
        )
    )
    rows.append(
        (
            "1,000,000-payment run, reports included, ≤ 1 GiB",
            f"{ledgersync.peak_rss_mib:,.0f} MiB at {payments:,} payments",
            ledgersync.peak_rss_mib <= 1024 if payments >= 1_000_000 else None,
        )
    )
    scale = results["reports_at_scale"]["result"]
    rows.append(
        (
            "all reports over 1M invoices and 2M applications < 2 s",
            f"{scale['seconds']:.2f} s over {scale['invoices']:,} invoices and "
            f"{scale['applications']:,} applications",
            scale["seconds"] < 2 if scale["invoices"] >= 1_000_000 else None,
        )
    )
    if "incremental" in scale:
        changed = scale["incremental"]
        rows.append(
            (
                f"reports after {changed['changed_percent']:g}% of the documents change < 0.5 s",
                f"{changed['seconds']:.2f} s ({changed['changed_documents']:,} documents changed)",
                changed["seconds"] < 0.5 if scale["invoices"] >= 1_000_000 else None,
            )
        )
    if "zoho_details" in results:
        rows.append(_zoho_first_sync(results["zoho_details"]["result"]))
    budget = results["incremental"]["result"]
    unchanged = budget["no_change_sync"]
    lists_once = all(unchanged.get(f"/{s}") == 1 for s in LIST_STREAMS)
    no_details = "/customerpayments/{id}" not in unchanged
    rows.append(
        (
            "no-change sync: one request per stream (plus auth)",
            ", ".join(f"{k} {v}" for k, v in unchanged.items()),
            lists_once and no_details and unchanged.get("/oauth/v2/token", 0) <= 1,
        )
    )
    rows.append(
        (
            "re-normalizing from raw: zero API requests",
            f"{sum(budget['renormalize'].values())} requests",
            not budget["renormalize"],
        )
    )
    if "rate_limit" in results:
        rl = results["rate_limit"]["result"]
        rows.append(
            (
                "≥ 90% of the rate limit, zero 429s, over ≥ 1 minute",
                f"{rl['efficiency']:.0%} of {rl['limit_per_minute']}/min, {rl['throttled_429']} "
                f"× 429, {rl['requests']} requests over {rl['span_s']:.0f} s",
                rl["efficiency"] >= 0.9 and rl["throttled_429"] == 0 and rl["span_s"] >= 60,
            )
        )
    if "latency" in results:
        rows += _latency_targets(results["latency"])
    return rows


def _zoho_first_sync(zoho: dict[str, Any]) -> tuple[str, str, bool | None]:
    derived, fetched = zoho["runs"]["derive"], zoho["runs"]["fetch_all"]
    return (
        f"Zoho first sync of {zoho['extrapolated_payments']:,} payments at 100 requests a "
        "minute < 1 day",
        f"{derived['days_at_limit']:.2f} days: {derived['details_per_payment']:.3f} detail "
        f"requests per payment on the generator's mix ({zoho['multi_invoice_share']:.1%} "
        f"multi-invoice), {fetched['days_at_limit']:.2f} days fetching every detail",
        derived["days_at_limit"] < 1,
    )


def _latency_targets(figures: dict[str, Any]) -> list[tuple[str, str, bool | None]]:
    """Per source, ledgersync at the sequential client's page size: ≥ 5× where the page count
    is known, at the default pages in flight (the other settings beside); ≥ 2.5× for the
    chained sources, whose only overlap is their streams side by side."""
    by_source: dict[str, list[latency.SourceRow]] = {}
    for row in latency.ratio_rows(figures):
        if row.page_size == row.sequential_page_size:
            by_source.setdefault(row.source, []).append(row)
    rows: list[tuple[str, str, bool | None]] = []
    for source, same_page in by_source.items():
        at_default = [r for r in same_page if _in_flight(r)[1] in ("the default", "chained")]
        judged = at_default[0] if at_default else max(same_page, key=lambda row: row.ratio)
        name = latency.NAMES[source]
        measured = (
            f"{judged.ratio:.1f}× ({judged.rate:,.0f} vs {judged.sequential_rate:,.0f} records/s, "
            f"{judged.page_size} a page"
        )
        if not judged.page_count_known:
            rows.append(
                (
                    f"{figures['latency_ms']:.0f} ms round trip, {name} (chained): "
                    f"≥ {latency.CHAINED_TARGET_RATIO:g}× a sequential client, streams side by "
                    "side, rate limit lifted",
                    measured + ")",
                    judged.ratio >= latency.CHAINED_TARGET_RATIO,
                )
            )
            continue
        others = "".join(
            f"; {row.ratio:.1f}× with {_in_flight_phrase(row)}"
            for row in same_page
            if row is not judged
        )
        rows.append(
            (
                f"{figures['latency_ms']:.0f} ms round trip, {name} (page count known): "
                f"≥ {latency.TARGET_RATIO:g}× a sequential client at the default pages in flight, "
                "rate limit lifted",
                f"{measured}, {_in_flight_phrase(judged)}){others}",
                judged.ratio >= latency.TARGET_RATIO if at_default else None,
            )
        )
    return rows


def _in_flight(row: latency.SourceRow) -> tuple[int, str]:
    """Pages in flight and which setting that is: the default or the most of
    `max_concurrent_requests`, or chained paging's one."""
    if row.in_flight is None:
        return 1, "chained"
    default, most = latency.IN_FLIGHT[row.source]
    return row.in_flight, {default: "the default", most: "the most"}.get(row.in_flight, "set")


def _in_flight_phrase(row: latency.SourceRow) -> str:
    count, which = _in_flight(row)
    return f"{count} in flight ({which})"


def write_results(results: dict[str, Any], path: Path) -> None:
    notes = ""
    if path.exists():
        _, found, kept = path.read_text().partition(NOTES_MARKER)
        notes = kept if found else ""
    path.write_text(_render(results) + "\n" + NOTES_MARKER + (notes or "\n"))


def _render(results: dict[str, Any]) -> str:
    ledgersync = Summary(results["ledgersync"])
    dataset = results["dataset"]
    out = ["# Benchmark results", ""]
    out += _machine(results)
    out += ["", "## Targets", "", "| target | measured | met |", "|---|---|---|"]
    for target, measured, met in summarize(results):
        out.append(f"| {target} | {measured} | {_verdict(met)} |")
    out += [
        "",
        "## The ledger",
        "",
        f"{dataset['customers']:,} customers, {dataset['invoices']:,} invoices, "
        f"{dataset['payments']:,} payments ({dataset['applications']:,} applications), "
        f"as of {dataset['as_of']}. Served list records: "
        + ", ".join(f"{k} {v:,}" for k, v in dataset["records"].items())
        + f" ({ledgersync.records:,} in all, 200 a page). Void payments are not served.",
        "",
        "## Throughput on loopback: the list streams, side by side",
        "",
        "Every client reads the same pre-rendered pages of contacts, invoices and customer "
        "payments and ends with them in a DuckDB table. Seconds are measured inside each "
        "client's process (interpreter start-up excluded); peak RSS is the process's.",
        "",
        "| client | records | seconds | records/s | vs limit | peak RSS |",
        "|---|---:|---:|---:|---:|---:|",
    ]
    limit = results["limit"]["result"]
    limit_rate = limit["records"] / limit["seconds"]
    out.append(
        _client_row(
            "ledgersync full sync (extract → canonical, Decimal money, raw kept)",
            ledgersync.records,
            ledgersync.full_sync_s,
            limit_rate,
            ledgersync.peak_rss_mib,
        )
    )
    out.append(
        _client_row(
            "practical limit (httpx + orjson + Arrow, DuckDB load on a thread)",
            limit["records"],
            limit["seconds"],
            limit_rate,
            results["limit"]["peak_rss_mib"],
        )
    )
    if "dlt" in results:
        dlt = results["dlt"]["result"]
        out.append(
            _client_row(
                f"dlt {dlt['dlt_version']} rest_api, {dlt['disposition']} on the primary key, "
                f"{dlt['format'] or 'default'} loader",
                dlt["records"],
                dlt["seconds"],
                limit_rate,
                results["dlt"]["peak_rss_mib"],
            )
        )
    server = results["limit"]["server"]
    out += [
        "",
        f"The page server used {server['cpu_s']:.1f} CPU-seconds for the practical limit's "
        f"{server['requests']:,} requests ({results['ledgersync']['server']['cpu_s']:.1f} for "
        "ledgersync's, details included).",
        "",
        "### ledgersync stage by stage (list streams)",
        "",
        "Extract, land and load are summed over the list streams, which run side by side: "
        "together they take longer than the full sync's wall time, the last row.",
        "",
        "| stage | seconds | records/s |",
        "|---|---:|---:|",
    ]
    for stage, seconds in ledgersync.stage_s.items():
        rate = f"{ledgersync.records / seconds:,.0f}" if seconds else "—"
        out.append(f"| {stage} | {seconds:.2f} | {rate} |")
    out += [
        f"| full sync (extract → canonical) | {ledgersync.full_sync_s:.2f} | "
        f"{ledgersync.rate:,.0f} |",
        "",
        f"Whole run, details and reports included: {ledgersync.total_s:.1f} s; "
        f"peak RSS {ledgersync.peak_rss_mib:,.0f} MiB. Canonical rows: "
        + ", ".join(
            f"{t} {c['loaded']:,} ({c['rejected']} rejected)"
            for t, c in ledgersync.canonical.items()
        )
        + ".",
    ]
    out += _details(ledgersync, dataset)
    out += _memory(results, ledgersync)
    out += _reports(results)
    if "zoho_details" in results:
        out += ["", *zoho_details_markdown(results["zoho_details"]["result"]).splitlines()]
    out += _budget(results)
    out += _latency(results)
    return "\n".join(out) + "\n"


def _machine(results: dict[str, Any]) -> list[str]:
    versions = ", ".join(f"{name} {_version(name)}" for name in PACKAGES)
    start, end = results["load_average_start"], results["load_average_end"]
    return [
        f"Measured {datetime.now(UTC):%Y-%m-%d %H:%M} UTC by `python -m benchmarks.run` "
        f"({_options(results['options'])}).",
        "",
        f"- Machine: {_cpu()}, {_cores()} cores, {_memory_gib():.0f} GiB; "
        f"{platform.system()} {platform.release()}; Python {platform.python_version()}.",
        f"- Versions: {versions}.",
        f"- Load average (1 min) at start {start[0]:.1f}, at end {end[0]:.1f}: anything above "
        "zero is another process competing for the two cores.",
    ]


def _options(options: dict[str, str]) -> str:
    keys = ("customers", "invoices", "payments", "details")
    return ", ".join(f"--{k} {int(options[k]):,}" for k in keys)


def _details(ledgersync: Summary, dataset: dict[str, Any]) -> list[str]:
    details = ledgersync.details
    if not details or not details["requests"]:
        return []
    per_request_ms = 1000 * details["seconds"] / details["requests"]
    served = dataset["records"]["customerpayments"]
    days = served / ZOHO_PER_MINUTE / 60 / 24
    return [
        "",
        "### Payment details: one request per payment",
        "",
        f"Zoho's payment list has no applications, so each payment's detail is one more "
        f"request. {details['requests']:,} details took {details['seconds']:.1f} s "
        f"({per_request_ms:.2f} ms each, extract {details['phases_s'].get('extract', 0):.1f} s"
        f"); all {served:,} would take {served * per_request_ms / 1000 / 60:,.0f} minutes on "
        f"loopback, and {days:,.1f} days at Zoho's {ZOHO_PER_MINUTE} requests a minute (more on "
        "a plan with a daily cap). The list streams' figures above exclude them.",
    ]


def _memory(results: dict[str, Any], ledgersync: Summary) -> list[str]:
    if "ledgersync_small" not in results:
        return []
    small = Summary(results["ledgersync_small"])
    tenth = results["small_dataset"]
    return [
        "",
        "## Memory against the ledger's size",
        "",
        "Peak RSS is a high-water mark: each column is the peak up to that point of the run "
        "(sync, then normalize, then the reports).",
        "",
        "| ledger | list records | after sync | after normalize | whole run |",
        "|---|---:|---:|---:|---:|",
        _memory_row(tenth, small, results["ledgersync_small"]),
        _memory_row(results["dataset"], ledgersync, results["ledgersync"]),
    ]


def _memory_row(dataset: dict[str, Any], summary: Summary, run: dict[str, Any]) -> str:
    result = run["result"]
    return (
        f"| {dataset['payments']:,} payments | {summary.records:,} | "
        f"{result['peak_rss_after_sync_mib']:,.0f} MiB | "
        f"{result['peak_rss_after_normalize_mib']:,.0f} MiB | {summary.peak_rss_mib:,.0f} MiB |"
    )


def _reports(results: dict[str, Any]) -> list[str]:
    scale = results["reports_at_scale"]["result"]
    out = [
        "",
        "## Reports at scale",
        "",
        f"Over {scale['invoices']:,} invoices, {scale['payments']:,} payments and "
        f"{scale['applications']:,} applications (the synced canonical tables; applications "
        "synthesized, see reports_client.py), step by step as `materialize_reports` writes them "
        "all in one transaction: the two ledgers every report reads, computed once and stored, "
        "then each report (invoice_balances and unapplied_payments are views over the ledgers):",
        "",
    ]
    changed = scale.get("incremental")
    if changed is None:
        out += ["| step | rows | seconds |", "|---|---:|---:|"]
    else:
        percent = f"{changed['changed_percent']:g}%"
        out += [
            f"| step | rows | seconds | seconds after {percent} changed |",
            "|---|---:|---:|---:|",
        ]
    for name, report in scale["reports"].items():
        rows = "" if report["rows"] is None else f"{report['rows']:,}"
        after = "" if changed is None else f" {changed['reports'][name]['seconds']:.2f} |"
        out.append(f"| {name} | {rows} | {report['seconds']:.2f} |{after}")
    after = "" if changed is None else f" {changed['seconds']:.2f} |"
    out.append(f"| all | | {scale['seconds']:.2f} |{after}")
    out += ["", f"CPU seconds, all threads: {scale['cpu_s']:.2f}."]
    if changed is not None:
        out += [
            "",
            f"Then {changed['changed_documents']:,} documents ({percent}) changed as "
            "normalization changes them, and every report was refreshed from what changed "
            f"(CPU seconds {changed['cpu_s']:.2f}): `reports_client.py --changed-percent`.",
        ]
    return out


def _budget(results: dict[str, Any]) -> list[str]:
    budget = results["incremental"]
    size = budget["size"]
    out = [
        "",
        "## API requests per sync (the Zoho sandbox itself)",
        "",
        f"Ledger of {size['customers']} customers, {size['invoices']} invoices, "
        f"{size['payments']} payments.",
        "",
        "| run | requests by endpoint |",
        "|---|---|",
    ]
    for run, counts in budget["result"].items():
        text = ", ".join(f"`{k}` {v}" for k, v in counts.items()) or "none"
        out.append(f"| {run.replace('_', ' ')} | {text} |")
    if "rate_limit" in results:
        rl = results["rate_limit"]["result"]
        out += [
            "",
            f"Rate limit: the sandbox at Zoho's documented {rl['limit_per_minute']} requests a "
            "minute (sliding window, not scaled down), ledgersync configured with the same "
            f"budget. {rl['requests']} requests arrived over {rl['span_s']:.1f} s; the limit "
            f"allows them in no less than {rl['minimum_span_s']:.0f} s, so the client ran at "
            f"{rl['efficiency']:.0%} of the limit, with {rl['throttled_429']} answers 429.",
        ]
    return out


def _latency(results: dict[str, Any]) -> list[str]:
    if "latency" not in results:
        return []
    figures = results["latency"]
    ms, size = figures["latency_ms"], figures["size"]
    rows = latency.ratio_rows(figures)
    out = [
        "",
        f"## With a {ms:.0f} ms round trip",
        "",
        f"Each source's own sandbox (`sourceserver.py`: pages rendered per request, in a process "
        f"of its own) delays every data response by {ms:.0f} ms (its `latency_s` knob); a ledger "
        f"of {size['customers']:,} customers, {size['invoices']:,} invoices and "
        f"{size['payments']:,} payments. Rate limits lifted in the sandbox and in the connector. "
        "The sequential client lists the same streams one request at a time and only fetches and "
        "parses (`sequential_client.py`); ledgersync runs a full sync into its raw tables "
        "(`latency_client.py`; Zoho's payment details left out). Records/s over every list "
        "stream; each client in its own process against a fresh sandbox.",
        "",
        "| source | paging | page size (sequential / ledgersync) | sequential records/s "
        "| ledgersync records/s | ratio | pages in flight |",
        "|---|---|---|---:|---:|---:|---|",
    ]
    for row in rows:
        count, which = _in_flight(row)
        out.append(
            f"| {latency.NAMES[row.source]} | {latency.PAGING[row.source]} | "
            f"{row.sequential_page_size} / {row.page_size} | {row.sequential_rate:,.0f} | "
            f"{row.rate:,.0f} | {row.ratio:.1f}× | {count}, {which} ({row.peak_in_flight} seen) |"
        )
    out += [
        "",
        f"*Seen*: the most requests the sandbox had arrive within {ms:.0f} ms of one another, so "
        "in flight at once. Where ledgersync's seconds went: *waiting* for pages, beside the "
        "least the round trips allow (per stream its first page alone, then rounds of the pages "
        "in flight; chained, one page after another); landing and loading, stream after stream; "
        "and the CPU seconds the sandbox spent serving (it renders every page: waiting above the "
        "floor is its rendering and the client's own parsing, sharing two cores).",
        "",
        "| source | page size | in flight | seconds | waiting (floor) | land + load "
        "| sandbox CPU |",
        "|---|---:|---|---:|---:|---:|---:|",
    ]
    for row in rows:
        out.append(
            f"| {latency.NAMES[row.source]} | {row.page_size} | {_in_flight_phrase(row)} | "
            f"{row.seconds:.1f} | {row.extract_s:.1f} ({row.floor_s:.1f}) | "
            f"{row.land_load_s:.1f} | {row.server_cpu_s:.1f} |"
        )
    return out + _at_limit(figures)


def _at_limit(figures: dict[str, Any]) -> list[str]:
    rows = latency.at_limit_rows(figures)
    if not rows:
        return []
    out = [
        "",
        "### At the documented rate limit",
        "",
        f"The sandbox enforces the limit and ledgersync is configured with the same budget, at its "
        f"configured page size, {figures['latency_ms']:.0f} ms a response. *Achieved*: the least "
        "time the budget allows for the requests made (⌊(N − 1) / L⌋ · W) over the time they "
        "took; where they fit in one window (the budget never bound), requests/s over the "
        "budget's average rate instead. *Ceiling*: records/s the documented limit allows at the "
        "largest page, sustained (a short run can pass it: the first window's budget goes at "
        "once).",
        "",
        "| source | documented limit | budget in the run | achieved | 429s | requests over s "
        "| records/s | ceiling |",
        "|---|---|---|---:|---:|---|---:|---:|",
    ]
    for row in rows:
        window = row.window + (" (scaled)" if row.scaled else " (not scaled)")
        achieved = (
            f"{row.efficiency:.0%}"
            if row.efficiency is not None
            else f"{row.rate_share:.0%} of the average"
        )
        out.append(
            f"| {latency.NAMES[row.source]} | {row.limit} | {window} | {achieved} | "
            f"{row.throttled} | {row.requests} over {row.span_s:.1f} | {row.rate:,.0f} | "
            f"{row.ceiling:,.0f} |"
        )
    return out


def _client_row(name: str, records: int, seconds: float, limit: float, rss: float) -> str:
    rate = records / seconds
    return (
        f"| {name} | {records:,} | {seconds:.1f} | {rate:,.0f} | {rate / limit:.0%} "
        f"| {rss:,.0f} MiB |"
    )


def _verdict(met: bool | None) -> str:
    return "n/a" if met is None else ("yes" if met else "**no**")


def _version(name: str) -> str:
    try:
        return metadata.version(name)
    except metadata.PackageNotFoundError:
        return "not installed"


def _cpu() -> str:
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                return line.split(":", 1)[1].strip()
    except OSError:
        pass
    return platform.processor() or "unknown CPU"


def _cores() -> int:
    return len(os.sched_getaffinity(0)) if hasattr(os, "sched_getaffinity") else os.cpu_count() or 0


def _memory_gib() -> float:
    return os.sysconf("SC_PAGE_SIZE") * os.sysconf("SC_PHYS_PAGES") / 2**30
