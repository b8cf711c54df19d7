"""Sync one connection: extract → land → load, stream by stream, then normalize.

The order of effects is what makes a sync safe to kill anywhere:

1. batches a killed run landed completely are loaded first (their API calls are not wasted);
2. pages land on disk while the API is waited on — no warehouse lock is held;
3. one short transaction loads the batch, records it and advances the cursor;
4. the landed batch is removed (a crash before this is harmless: the batch id is recorded).
"""

from __future__ import annotations

import time
from collections.abc import Callable, Iterable
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta

from connectors.errors import ConnectorError
from connectors.streams import Connector, Stream
from models.landing import LandedBatch, LandingZone
from models.mapping import Mapping
from models.normalize import NormalizeResult, normalize_connection
from models.raw import LoadResult, cursor_of, ensure_raw_table, load_batch, pending_children
from models.warehouse import Warehouse

__all__ = ["StreamOutcome", "normalize", "sync_connection"]

ProgressCallback = Callable[[str, int, int], None]  # stream, pages so far, records so far


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


def sync_connection(
    connector: Connector,
    *,
    warehouse: Warehouse,
    landing: LandingZone,
    full_refresh: bool = False,
    lookback: timedelta = timedelta(minutes=15),
    progress: ProgressCallback | None = None,
) -> list[StreamOutcome]:
    """Sync every stream of one connection into its raw tables.

    A stream that fails raises (naming the stream); the streams before it stay loaded.
    """
    warehouse.ensure_schema()
    streams = {stream.name: stream for stream in connector.streams}
    outcomes = []
    for stream in connector.streams:
        try:
            outcomes.append(
                _sync_stream(
                    connector, stream, streams, warehouse, landing, full_refresh, lookback, progress
                )
            )
        except ConnectorError as error:
            raise error.with_stream(stream.name) from None
    return outcomes


def _sync_stream(
    connector: Connector,
    stream: Stream,
    streams: dict[str, Stream],
    warehouse: Warehouse,
    landing: LandingZone,
    full_refresh: bool,
    lookback: timedelta,
    progress: ProgressCallback | None,
) -> StreamOutcome:
    started = time.monotonic()
    requests_before = connector.request_count
    full_refresh = full_refresh or stream.complete_every_sync
    raw = stream.raw(connector.source)
    for leftover in landing.ready_batches(connector.connection_id, stream.name):
        _load(warehouse, landing, leftover, stream, connector.source)

    with warehouse.connect() as conn:
        ensure_raw_table(conn, raw)
        cursor = cursor_of(conn, connector.connection_id, stream.name)
        parent_ids: list[str] = []
        if stream.parent:
            parent = streams[stream.parent].raw(connector.source)
            ensure_raw_table(conn, parent)
            parent_ids = pending_children(
                conn, connector.connection_id, parent, raw, everything=full_refresh
            )

    since = None if full_refresh or cursor is None else cursor - lookback
    extraction_started = datetime.now(UTC)
    writer = landing.new_batch(connector.connection_id, stream.name)
    newest: datetime | None = None
    try:
        for page in connector.extract(stream, since=since, parent_ids=parent_ids):
            writer.write_page(page.body, records=len(page.records))
            newest = _newest(connector, stream, page.records, newest)
            if progress:
                progress(stream.name, writer.pages, writer.records)
    except BaseException:
        writer.discard()
        raise
    # A row changed while we paged may be newer than rows we missed; never claim past our start.
    new_cursor = min(newest, extraction_started) if newest else None
    batch = writer.seal(cursor=new_cursor, full_refresh=full_refresh)
    result = _load(warehouse, landing, batch, stream, connector.source)
    return StreamOutcome(
        stream=stream.name,
        pages=batch.pages,
        records=batch.records,
        inserted=result.inserted,
        updated=result.updated,
        rejected=result.rejected,
        vanished=result.vanished,
        requests=connector.request_count - requests_before,
        seconds=time.monotonic() - started,
        cursor=new_cursor,
    )


def _load(
    warehouse: Warehouse, landing: LandingZone, batch: LandedBatch, stream: Stream, source: str
) -> LoadResult:
    with warehouse.connect() as conn:
        result = load_batch(conn, batch, stream.raw(source))
    landing.remove(batch)
    return result


def _newest(
    connector: Connector, stream: Stream, records: Iterable[dict], newest: datetime | None
) -> datetime | None:
    if stream.cursor_field is None:
        return newest
    for record in records:
        value = record.get(stream.cursor_field)
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
    with warehouse.connect() as conn:
        for stream in streams:
            ensure_raw_table(conn, stream.raw(source))
        return normalize_connection(
            conn,
            connection_id=connection_id,
            source=source,
            mappings=mappings,
            raw_tables={stream.name: stream.raw(source).table for stream in streams},
        )
