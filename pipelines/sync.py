"""Sync one connection: extract → land → load, stream by stream, then normalize.

The order of effects is what makes a sync safe to kill anywhere:

1. the connection's sync lock is taken: a second sync of it fails at once, naming the holder;
2. batches a killed run landed completely are loaded first (their API calls are not wasted);
3. pages land on disk while the API is waited on — no warehouse lock is held;
4. one short transaction loads the batch, records it and advances the cursor;
5. the landed batch is removed (a crash before this is harmless: the batch id is recorded).

Deletes: an incremental listing cannot show that a record was deleted, so every top-level stream
is listed completely at least every `reconcile_every` (only its ids, where the connector can list
them), and on a full refresh; the complete listing marks what the source no longer has as
vanished. A dependent stream (payment details) follows its parent.
"""

from __future__ import annotations

import time
from collections.abc import Callable, Iterable, Iterator
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Literal

from duckdb import DuckDBPyConnection

from connectors.errors import ApiError, ConfigurationError, ConnectorError
from connectors.pagination import Page
from connectors.streams import Connector, KeyListing, Stream
from models.landing import LandedBatch, LandingZone
from models.mapping import Mapping
from models.normalize import NormalizeResult, normalize_connection
from models.raw import (
    LoadResult,
    cursor_of,
    ensure_raw_table,
    last_complete_listing,
    load_batch,
    pending_children,
)
from models.warehouse import BULK_MEMORY_LIMIT, Warehouse

__all__ = ["Phase", "PhaseCallback", "StreamOutcome", "normalize", "sync_connection"]

ProgressCallback = Callable[[str, int, int], None]  # stream, pages so far, records so far
# extract: waiting on the API for a page; land: writing it (or sealing the batch) to disk;
# load: the warehouse transaction that stores a batch, then the landed batch's removal.
Phase = Literal["extract", "land", "load"]
PhaseCallback = Callable[[Phase, str], None]  # phase about to start, stream

DEFAULT_RECONCILE_EVERY = timedelta(hours=24)


@dataclass(frozen=True, slots=True)
class StreamOutcome:
    stream: str
    pages: int
    records: int
    inserted: int
    updated: int
    rejected: int
    vanished: int
    requests: int
    seconds: float
    cursor: datetime | None
    complete: bool = False  # the stream's records (or ids) were listed in full


def sync_connection(
    connector: Connector,
    *,
    warehouse: Warehouse,
    landing: LandingZone,
    full_refresh: bool = False,
    lookback: timedelta = timedelta(minutes=15),
    reconcile_every: timedelta = DEFAULT_RECONCILE_EVERY,
    holder: str = "a ledgersync sync",
    progress: ProgressCallback | None = None,
    on_phase: PhaseCallback | None = None,
) -> list[StreamOutcome]:
    """Sync every stream of one connection into its raw tables.

    A stream that fails raises (naming the stream); the streams before it stay loaded. `holder`
    names this sync to a second one that is refused while it runs.
    """
    run = _Run(
        connector,
        {stream.name: stream for stream in connector.streams},
        warehouse,
        landing,
        full_refresh,
        lookback,
        reconcile_every,
        progress,
        on_phase or _ignore_phase,
    )
    with landing.sync_lock(connector.connection_id, holder=holder):
        warehouse.ensure_schema()
        outcomes: list[StreamOutcome] = []
        for stream in connector.streams:
            try:
                outcomes.append(run.sync_stream(stream))
            except ConnectorError as error:
                if not outcomes:
                    _raise_if_misconfigured(connector, error)
                raise error.with_stream(stream.name) from None
        return outcomes


def _ignore_phase(phase: Phase, stream: str) -> None:
    return None


def _raise_if_misconfigured(connector: Connector, error: ConnectorError) -> None:
    """A client error on the first stream may be the account's fault, not the stream's (Zoho
    answers an unknown organization with 400): the connector's own check then says so, and how
    to fix it."""
    status = error.status_code if isinstance(error, ApiError) else None
    if status is None or not 400 <= status < 500 or status == 429:
        return
    try:
        connector.check()
    except ConfigurationError as diagnosis:
        raise diagnosis from None
    except Exception:  # no clearer diagnosis: the original error stands
        return


@dataclass(frozen=True, slots=True)
class _Run:
    connector: Connector
    streams: dict[str, Stream]
    warehouse: Warehouse
    landing: LandingZone
    full_refresh: bool
    lookback: timedelta
    reconcile_every: timedelta
    progress: ProgressCallback | None
    on_phase: PhaseCallback

    def sync_stream(self, stream: Stream) -> StreamOutcome:
        started = time.monotonic()
        requests_before = self.connector.request_count
        connection_id = self.connector.connection_id
        raw = stream.raw(self.connector.source)
        # Batches a killed run landed but never loaded count towards this run's figures.
        recovered = [
            self.load(leftover, stream)
            for leftover in self.landing.ready_batches(connection_id, stream.name)
        ]

        everything = self.full_refresh or stream.complete_every_sync

        def position(
            conn: DuckDBPyConnection,
        ) -> tuple[datetime | None, datetime | None, list[str]]:
            ensure_raw_table(conn, raw)
            cursor = cursor_of(conn, connection_id, stream.name)
            last_complete = last_complete_listing(conn, connection_id, stream.name)
            if not stream.parent:
                return cursor, last_complete, []
            parent = self.streams[stream.parent].raw(self.connector.source)
            ensure_raw_table(conn, parent)
            children = pending_children(conn, connection_id, parent, raw, everything=everything)
            return cursor, last_complete, children

        cursor, last_complete, parent_ids = self.warehouse.write(position)

        keys_listed = False
        vanished_by_keys = 0
        if stream.parent:
            complete = everything
        else:
            due = last_complete is None or datetime.now(UTC) - last_complete >= self.reconcile_every
            if due and not everything and cursor is not None:
                keys = self._key_pages(stream)
                if keys is not None:
                    batch = self.land(stream, keys, full_refresh=True, keys_only=True)
                    vanished_by_keys = self.load(batch, stream).vanished
                    keys_listed, due = True, False
            complete = everything or due or cursor is None

        since = None if complete or cursor is None else cursor - self.lookback
        pages = self.connector.extract(stream, since=since, parent_ids=parent_ids)
        batch = self.land(stream, pages, full_refresh=complete)
        result = self.load(batch, stream)
        loads = [*recovered, result]
        return StreamOutcome(
            stream=stream.name,
            pages=batch.pages,
            records=batch.records,
            inserted=sum(load.inserted for load in loads),
            updated=sum(load.updated for load in loads),
            rejected=sum(load.rejected for load in loads),
            vanished=sum(load.vanished for load in loads) + vanished_by_keys,
            requests=self.connector.request_count - requests_before,
            seconds=time.monotonic() - started,
            cursor=datetime.fromisoformat(batch.cursor) if batch.cursor else None,
            complete=complete or keys_listed,
        )

    def _key_pages(self, stream: Stream) -> Iterator[Page] | None:
        if isinstance(self.connector, KeyListing):
            return self.connector.extract_keys(stream)
        return None

    def land(
        self,
        stream: Stream,
        pages: Iterable[Page],
        *,
        full_refresh: bool,
        keys_only: bool = False,
    ) -> LandedBatch:
        """Write the pages to a new batch as they arrive, then seal it."""
        extraction_started = datetime.now(UTC)
        writer = self.landing.new_batch(self.connector.connection_id, stream.name)
        newest: datetime | None = None
        try:
            remaining = iter(pages)
            while True:
                self.on_phase("extract", stream.name)
                page = next(remaining, None)
                if page is None:
                    break
                self.on_phase("land", stream.name)
                writer.write_page(page.body, records=len(page.records))
                if not keys_only:
                    newest = _newest(self.connector, stream, page.records, newest)
                if self.progress:
                    self.progress(stream.name, writer.pages, writer.records)
        except BaseException:
            writer.discard()
            raise
        self.on_phase("land", stream.name)
        # A row changed while we paged may be newer than rows we missed; never claim past our start.
        new_cursor = min(newest, extraction_started) if newest else None
        return writer.seal(cursor=new_cursor, full_refresh=full_refresh, keys_only=keys_only)

    def load(self, batch: LandedBatch, stream: Stream) -> LoadResult:
        def load_landed(conn: DuckDBPyConnection) -> LoadResult:
            self.on_phase("load", stream.name)
            return load_batch(conn, batch, stream.raw(self.connector.source))

        result = self.warehouse.write(load_landed, memory_limit=BULK_MEMORY_LIMIT)
        self.landing.remove(batch)
        return result


def _newest(
    connector: Connector, stream: Stream, records: Iterable[dict], newest: datetime | None
) -> datetime | None:
    if stream.cursor_field is None:
        return newest
    for record in records:
        value = stream.cursor_value(record)
        if isinstance(value, str):
            try:
                moment = connector.parse_timestamp(value)
            except ValueError:
                continue  # the mapping quarantines it; it must not stop the cursor
            if newest is None or moment > newest:
                newest = moment
    return newest


def normalize(
    warehouse: Warehouse,
    *,
    connection_id: str,
    source: str,
    streams: tuple[Stream, ...],
    mappings: tuple[Mapping, ...],
) -> list[NormalizeResult]:
    """Rebuild one connection's canonical rows from raw (no API calls)."""

    def rebuild(conn: DuckDBPyConnection) -> list[NormalizeResult]:
        for stream in streams:
            ensure_raw_table(conn, stream.raw(source))
        return normalize_connection(
            conn,
            connection_id=connection_id,
            source=source,
            mappings=mappings,
            raw_tables={stream.name: stream.raw(source).table for stream in streams},
        )

    return warehouse.write(rebuild, memory_limit=BULK_MEMORY_LIMIT)
