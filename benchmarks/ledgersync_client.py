"""ledgersync's own pipeline over the pre-rendered pages, timed stage by stage.

It calls what the Dagster assets call (`pipelines.sync.sync_connection`, `pipelines.sync.normalize`,
`models.reports.materialize_reports`) with a real `ZohoBooksConnector`. The sync reports each
phase it enters (`on_phase`), which times, per stream:

- extract: waiting for the next page (HTTP, JSON parsing, paging checks);
- land: writing each page to the landing zone, reading its cursor field, sealing the batch;
- load: the one warehouse transaction per batch into the raw tables (and removing the batch);

then normalize (rebuilding the canonical tables from raw) and reconcile (every report in
`models.reports.materialize_reports`) are timed whole.

Prints one JSON line. `--details N` fetches the details of the first N payments only (Zoho asks
one request per payment; benchmarks/README.md explains why the full count is not the default).
"""

from __future__ import annotations

import argparse
import json
import resource
import time
from collections import defaultdict
from collections.abc import Iterator, Sequence
from datetime import date, datetime
from pathlib import Path
from typing import Any

from benchmarks.dataset import Dataset
from benchmarks.pageserver import CLIENT
from benchmarks.reports_client import timed_reports
from connectors.pagination import Page
from connectors.streams import Connector, Stream
from connectors.zoho_books.connector import ZohoBooksConnector, ZohoBooksSettings
from models.landing import LandingZone
from models.reports import install_report_macros
from models.warehouse import Warehouse
from pipelines.sync import StreamOutcome, normalize, sync_connection

CONNECTION = "bench"
UNLIMITED_PER_MINUTE = 10_000_000


class PhaseClock:
    """Seconds per (stream, phase), from the sync's `on_phase` calls: a stream's phase lasts
    until its next one starts, its last one until the stream ended (`finish`, from the stream's
    own seconds) or, for a stream that did not end, until `stop`. Streams synced side by side
    overlap: their phases add up to more than the sync's wall time."""

    def __init__(self) -> None:
        self.seconds: dict[str, dict[str, float]] = defaultdict(lambda: defaultdict(float))
        self.started: dict[str, float] = {}  # stream: its first phase's start (perf_counter)
        self._current: dict[str, tuple[str, float]] = {}  # stream: its phase, since when

    def __call__(self, phase: str, stream: str) -> None:
        now = time.perf_counter()
        self.started.setdefault(stream, now)
        self._end(stream, now)
        self._current[stream] = (phase, now)

    def finish(self, outcomes: Sequence[StreamOutcome]) -> None:
        """End each synced stream's last phase when the stream ended."""
        for outcome in outcomes:
            if outcome.stream in self.started:
                self._end(outcome.stream, self.started[outcome.stream] + outcome.seconds)

    def stop(self) -> None:
        now = time.perf_counter()
        for stream in list(self._current):
            self._end(stream, now)

    def _end(self, stream: str, now: float) -> None:
        if stream in self._current:
            phase, since = self._current.pop(stream)
            self.seconds[stream][phase] += max(0.0, now - since)


def stream_figures(
    outcomes: Sequence[StreamOutcome], clock: PhaseClock, sync_started: float
) -> dict[str, Any]:
    """Per stream: records, pages, requests, seconds, when it started (seconds after
    `sync_started`) and the seconds of each phase."""
    return {
        o.stream: {
            "records": o.records,
            "pages": o.pages,
            "requests": o.requests,
            "seconds": o.seconds,
            "started_s": clock.started.get(o.stream, sync_started) - sync_started,
            "phases_s": dict(clock.seconds[o.stream]),
        }
        for o in outcomes
    }


class DetailSample:
    """A connector that fetches the details of at most `limit` payments."""

    def __init__(self, inner: Connector, limit: int | None) -> None:
        self._inner = inner
        self._limit = limit
        self.source = inner.source
        self.connection_id = inner.connection_id
        self.streams = inner.streams
        self.mappings = inner.mappings

    def check(self) -> str:
        return self._inner.check()

    def parse_timestamp(self, value: str) -> datetime:
        return self._inner.parse_timestamp(value)

    @property
    def request_count(self) -> int:
        return self._inner.request_count

    def stream_request_count(self, stream: str) -> int:
        return self._inner.stream_request_count(stream)

    def close(self) -> None:
        self._inner.close()

    def extract(
        self, stream: Stream, *, since: datetime | None, parent_ids: Sequence[str] = ()
    ) -> Iterator[Page]:
        if self._limit is not None:
            parent_ids = parent_ids[: self._limit]
        return self._inner.extract(stream, since=since, parent_ids=parent_ids)


def _peak_rss_mib() -> float:
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024


def run(url: str, dataset: Dataset, work: Path, details: int | None) -> dict[str, Any]:
    connector = ZohoBooksConnector(
        ZohoBooksSettings(
            connection_id=CONNECTION,
            organization_id=dataset.organization_id,
            client_id=CLIENT.client_id,
            client_secret=CLIENT.client_secret,
            refresh_token=CLIENT.refresh_token,
            api_url=f"{url}/books/v3",
            accounts_url=url,
            requests_per_minute=UNLIMITED_PER_MINUTE,
        )
    )
    sampled = DetailSample(connector, details)
    warehouse = Warehouse(work / "warehouse.duckdb")
    clock = PhaseClock()
    started = time.perf_counter()
    try:
        outcomes = sync_connection(
            sampled,
            warehouse=warehouse,
            landing=LandingZone(work / "landing"),
            full_refresh=True,
            on_phase=clock,
        )
        clock.finish(outcomes)
    finally:
        clock.stop()
        sampled.close()
    synced = time.perf_counter()
    rss_after_sync = _peak_rss_mib()
    normalized = normalize(
        warehouse,
        connection_id=CONNECTION,
        source=connector.source,
        streams=connector.streams,
        mappings=connector.mappings,
    )
    normalize_s = time.perf_counter() - synced
    rss_after_normalize = _peak_rss_mib()
    with warehouse.connect() as conn:
        install_report_macros(conn)
        reports = timed_reports(conn, date.fromisoformat(dataset.as_of))
    return {
        "streams": stream_figures(outcomes, clock, started),
        "sync_s": synced - started,
        "normalize_s": normalize_s,
        "reconcile_s": sum(r["seconds"] for r in reports.values()),
        "total_s": time.perf_counter() - started,
        "canonical": {r.table: {"loaded": r.loaded, "rejected": r.rejected} for r in normalized},
        "reports": reports,
        "peak_rss_after_sync_mib": rss_after_sync,
        "peak_rss_after_normalize_mib": rss_after_normalize,
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--url", required=True)
    parser.add_argument("--dataset", type=Path, required=True)
    parser.add_argument("--work", type=Path, required=True)
    parser.add_argument("--details", type=int, default=None)
    args = parser.parse_args()
    result = run(args.url, Dataset.load(args.dataset), args.work, args.details)
    print(json.dumps(result))


if __name__ == "__main__":
    main()
