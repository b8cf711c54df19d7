"""Sync one connection: extract → land → load, stream by stream, then normalize.

The order of effects is what makes a sync safe to kill anywhere:

1. the connection's sync lock is taken: a second sync of it fails at once, naming the holder;
2. batches a killed run landed completely are loaded first (their API calls are not wasted);
3. pages land on disk while the API is waited on — no warehouse lock is held;
4. one short transaction loads the batch, records it and advances the cursor;
5. the landed batch is removed (a crash before this is harmless: the batch id is recorded).

No batch can wedge a connection. A record over `max_record_bytes` of JSON is left out of its
landed page and quarantined (`models.oversized`). A batch DuckDB refuses for a reason in its data
is set aside, named and counted, and the sync goes on (`pipelines.sync_errors`); one refused
because the warehouse was unavailable stays landed for the next sync. A stream that runs past
`stream_deadline` stops between two pages: what it fetched is loaded without moving its cursor.

Streams side by side (`streams_side_by_side`, the default): each stream is extracted on a thread
of its own, sharing the connection's rate budget; a stream that reads what others stored (its
`parent`, the streams in `after` and those it `rereads`) starts once those are synced, as one
after another would (the connectors declare each stream after those). The warehouse keeps one
writer (`Warehouse.write` runs one transaction at a time), and a stream that fails stops the
others between two pages: what they landed is dropped, what they loaded stays, and the sync
raises that stream's error as a run one stream after another would.

Deletes: an incremental listing cannot show that a record was deleted, so every top-level stream
is listed completely at least every `reconcile_every` (only its ids, where the connector can list
them), and on a full refresh; the complete listing marks what the source no longer has as
vanished. A dependent stream (payment details) follows its parent. Gaps: the ids a listing of
ids finds that the warehouse lacks (a row an earlier listing skipped) are fetched by id in the
same sync, before the incremental listing, and counted as `repaired`; they wait in the warehouse
(`sync.unfetched`) until fetched, so a sync killed in between fetches them when run again.
"""

from __future__ import annotations

import threading
import time
from collections.abc import Callable, Generator, Iterable, Iterator, Sequence
from concurrent.futures import FIRST_COMPLETED, Future, ThreadPoolExecutor, wait
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from typing import Literal, NoReturn

import duckdb
from duckdb import DuckDBPyConnection

from connectors.connection import DEFAULT_MAX_RECORD_BYTES, DEFAULT_STREAM_DEADLINE
from connectors.errors import ApiError, ConfigurationError, ConnectorError
from connectors.pagination import Page
from connectors.streams import Connector, DerivingConnector, KeyListing, Reread, Stream
from models.landing import BatchWriter, LandedBatch, LandingZone
from models.mapping import Mapping
from models.normalize import NormalizeResult, normalize_connection
from models.oversized import OversizedRecord, screen_page
from models.raw import (
    LoadResult,
    RawStream,
    changed_since_listed,
    cursor_of,
    ensure_raw_table,
    last_complete_listing,
    load_batch,
    pending_children,
    resolve_unfetched,
    unfetched,
)
from models.warehouse import (
    BULK_MEMORY_LIMIT,
    LOAD_MEMORY_LIMIT,
    LOAD_THREADS,
    NORMALIZE_MEMORY_LIMIT,
    Warehouse,
)
from pipelines.derived_children import DerivedChildren, sync_derived_children
from pipelines.sync_errors import (
    BatchSetAsideError,
    SetAsideBatch,
    StreamDeadlineError,
    WarehouseWriteError,
    is_data_error,
    one_line,
)

__all__ = [
    "Phase",
    "PhaseCallback",
    "ProgressCallback",
    "StreamOutcome",
    "normalize",
    "sync_connection",
]

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
    set_aside: tuple[SetAsideBatch, ...] = ()  # batches DuckDB refused for their data
    # Records read again because a change at the source while paging moved them past a page.
    reread: int = 0
    # Records a complete listing of ids showed missing from the warehouse, fetched by id.
    repaired: int = 0
    derived: int = 0  # dependent records derived from their parents' list rows, not fetched
    warnings: tuple[str, ...] = ()


def sync_connection(
    connector: Connector,
    *,
    warehouse: Warehouse,
    landing: LandingZone,
    full_refresh: bool = False,
    lookback: timedelta = timedelta(minutes=15),
    reconcile_every: timedelta = DEFAULT_RECONCILE_EVERY,
    max_record_bytes: int = DEFAULT_MAX_RECORD_BYTES,
    stream_deadline: timedelta = DEFAULT_STREAM_DEADLINE,
    streams_side_by_side: bool = True,
    holder: str = "a ledgersync sync",
    progress: ProgressCallback | None = None,
    on_phase: PhaseCallback | None = None,
) -> list[StreamOutcome]:
    """Sync every stream of one connection into its raw tables.

    A stream that fails raises (naming the stream); the streams synced before it stay loaded. A
    batch set aside for its data does not stop the sync: `BatchSetAsideError` names it once every
    stream is synced. `holder` names this sync to a second one that is refused while it runs.
    With `streams_side_by_side` the streams are extracted at the same time (see the module's
    notes); `progress` and `on_phase` are then called from their threads, one call at a time.
    """
    run = _Run(
        connector,
        {stream.name: stream for stream in connector.streams},
        warehouse,
        landing,
        full_refresh,
        lookback,
        reconcile_every,
        max_record_bytes,
        stream_deadline,
        progress,
        on_phase or _ignore_phase,
    )
    with landing.sync_lock(connector.connection_id, holder=holder):
        try:
            warehouse.ensure_schema()
        except duckdb.Error as error:
            raise WarehouseWriteError(
                connector.source, connector.connection_id, None, error
            ) from error
        sync = _side_by_side if streams_side_by_side else _one_by_one
        outcomes = sync(run, connector.streams)
        if any(outcome.set_aside for outcome in outcomes):
            raise BatchSetAsideError(connector.source, connector.connection_id, outcomes)
        return outcomes


def _ignore_phase(phase: Phase, stream: str) -> None:
    return None


def _one_by_one(run: _Run, streams: Sequence[Stream]) -> list[StreamOutcome]:
    outcomes: list[StreamOutcome] = []
    for stream in streams:
        try:
            outcomes.append(run.sync_stream(stream, outcomes))
        except (ConnectorError, duckdb.Error) as error:
            _raise_as_reported(run.connector, stream, error, first=not outcomes)
    return outcomes


def _side_by_side(run: _Run, streams: Sequence[Stream]) -> list[StreamOutcome]:
    """Every stream synced on a thread of its own, each as soon as it may start (`_may_start`);
    the outcomes in the streams' order.

    The first stream to fail sets `run.stop`: the others stop between two pages, no stream
    starts any more, and once every thread has returned the failure is raised as `_one_by_one`
    raises it. An interrupt (Ctrl-C) stops them the same way before it propagates.
    """
    synced: dict[str, StreamOutcome] = {}
    finished: list[StreamOutcome] = []  # in the order they finished: each stream's `earlier`
    failure: tuple[Stream, BaseException, bool] | None = None
    waiting = list(streams)
    running: dict[Future[StreamOutcome], Stream] = {}
    name = f"ledgersync-{run.connector.connection_id}"
    pool = ThreadPoolExecutor(max(1, len(streams)), thread_name_prefix=name)
    try:
        while waiting or running:
            if failure is None:
                for stream in [s for s in waiting if _may_start(s, synced)]:
                    waiting.remove(stream)
                    running[pool.submit(run.sync_stream, stream, finished)] = stream
            if not running:
                break
            done, _ = wait(running, return_when=FIRST_COMPLETED)
            for future in done:
                stream = running.pop(future)
                error = future.exception()
                if error is None:
                    synced[stream.name] = future.result()
                    finished.append(synced[stream.name])
                elif failure is None and not isinstance(error, _Stopped):
                    failure = (stream, error, not finished)
                    run.stop.set()
    except BaseException:
        run.stop.set()
        raise
    finally:
        pool.shutdown(wait=True, cancel_futures=True)
    if failure is not None:
        stream, error, first = failure
        if isinstance(error, ConnectorError | duckdb.Error):
            _raise_as_reported(run.connector, stream, error, first=first)
        raise error
    return [synced[stream.name] for stream in streams]


def _may_start(stream: Stream, synced: dict[str, StreamOutcome]) -> bool:
    """A stream may start once every stream whose stored records it reads is synced
    (`Stream.syncs_after`)."""
    return all(name in synced for name in stream.syncs_after())


def _raise_as_reported(
    connector: Connector, stream: Stream, error: ConnectorError | duckdb.Error, *, first: bool
) -> NoReturn:
    """Raise `error`, which stopped `stream`, naming the stream; a client error on the `first`
    stream the connector's own check may diagnose as the account's (`_raise_if_misconfigured`)."""
    if isinstance(error, duckdb.Error):
        raise WarehouseWriteError(
            connector.source, connector.connection_id, stream.name, error
        ) from error
    if first:
        _raise_if_misconfigured(connector, error)
    raise error.with_stream(stream.name) from None


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


class _Stopped(Exception):
    """Another stream failed (or the sync was interrupted): this one stops between pages."""


class _DeadlinePassed(Exception):
    """The stream's deadline passed while it paged; `batch` holds what landed before it."""

    def __init__(self, batch: LandedBatch | None) -> None:
        super().__init__("the stream's deadline passed")
        self.batch = batch


@dataclass(frozen=True, slots=True)
class _Run:
    connector: Connector
    streams: dict[str, Stream]
    warehouse: Warehouse
    landing: LandingZone
    full_refresh: bool
    lookback: timedelta
    reconcile_every: timedelta
    max_record_bytes: int
    stream_deadline: timedelta
    progress: ProgressCallback | None
    phase_listener: PhaseCallback
    # Set when streams synced side by side must stop: checked between two pages.
    stop: threading.Event = field(default_factory=threading.Event)
    _callbacks: threading.Lock = field(default_factory=threading.Lock)

    def on_phase(self, phase: Phase, stream: str) -> None:
        with self._callbacks:
            self.phase_listener(phase, stream)

    def report(self, stream: str, pages: int, records: int) -> None:
        if self.progress is not None:
            with self._callbacks:
                self.progress(stream, pages, records)

    def sync_stream(self, stream: Stream, earlier: Sequence[StreamOutcome]) -> StreamOutcome:
        """`earlier`: the outcomes of the streams synced before it in this run."""
        if self.stop.is_set():
            raise _Stopped
        started = time.monotonic()
        deadline = started + self.stream_deadline.total_seconds()
        try:
            return self._sync_stream(stream, started, deadline)
        except _DeadlinePassed as passed:
            loaded = self.load(passed.batch, stream) if passed.batch is not None else None
            raise StreamDeadlineError(
                self.connector.source,
                self.connector.connection_id,
                stream.name,
                deadline=self.stream_deadline,
                records_loaded=loaded.records if isinstance(loaded, LoadResult) else 0,
                earlier=earlier,
            ) from None

    def _sync_stream(self, stream: Stream, started: float, deadline: float) -> StreamOutcome:
        requests_before = self.connector.stream_request_count(stream.name)
        connection_id = self.connector.connection_id
        raw = stream.raw(self.connector.source)
        # Batches a killed run landed but never loaded count towards this run's figures.
        recovered = [
            self.load(leftover, stream)
            for leftover in self.landing.ready_batches(connection_id, stream.name)
        ]

        everything = self.full_refresh or stream.complete_every_sync
        derived = self._derive(stream, everything, deadline)
        if derived is not None:
            results = [*recovered, *(result for _, result in derived.batches)]
            loads = [result for result in results if isinstance(result, LoadResult)]
            return StreamOutcome(
                stream=stream.name,
                pages=sum(batch.pages for batch, _ in derived.batches),
                records=sum(batch.records for batch, _ in derived.batches),
                inserted=sum(load.inserted for load in loads) + derived.inserted,
                updated=sum(load.updated for load in loads),
                rejected=sum(load.rejected for load in loads),
                vanished=sum(load.vanished for load in loads) + derived.vanished,
                requests=self.connector.stream_request_count(stream.name) - requests_before,
                seconds=time.monotonic() - started,
                cursor=None,
                complete=everything and len(loads) == len(results),
                set_aside=tuple(r for r in results if isinstance(r, SetAsideBatch)),
                derived=derived.derived,
                warnings=derived.warnings,
            )

        def position(
            conn: DuckDBPyConnection,
        ) -> tuple[datetime | None, datetime | None, list[str], list[str]]:
            ensure_raw_table(conn, raw)
            cursor = cursor_of(conn, connection_id, stream.name)
            last_complete = last_complete_listing(conn, connection_id, stream.name)
            missing = unfetched(conn, connection_id, stream.name)
            if stream.rereads is not None:
                return cursor, last_complete, self.rereads(conn, stream, stream.rereads), missing
            if not stream.parent:
                return cursor, last_complete, [], missing
            parent = self.streams[stream.parent].raw(self.connector.source)
            ensure_raw_table(conn, parent)
            children = pending_children(conn, connection_id, parent, raw, everything=everything)
            return cursor, last_complete, children, missing

        # Pending children are a join over every parent (a million payments): bounded like a load.
        cursor, last_complete, parent_ids, missing = self.warehouse.write(
            position, memory_limit=BULK_MEMORY_LIMIT
        )

        keys_listed = False
        repaired = 0
        if stream.parent:
            complete = everything
        else:
            due = last_complete is None or datetime.now(UTC) - last_complete >= self.reconcile_every
            if due and not everything and cursor is not None:
                keys = self._key_pages(stream)
                if keys is not None:
                    batch = self.land(
                        stream, keys, deadline=deadline, full_refresh=True, keys_only=True
                    )
                    keys_loaded = self.load(batch, stream)
                    recovered.append(keys_loaded)
                    if isinstance(keys_loaded, LoadResult):
                        keys_listed, due = True, False
                        missing = self.warehouse.write(
                            lambda conn: unfetched(conn, connection_id, stream.name)
                        )
            complete = everything or due or cursor is None
            if missing and not complete and isinstance(self.connector, KeyListing):
                repaired, repair_loaded = self.repair(
                    self.connector, stream, missing, deadline=deadline
                )
                recovered.append(repair_loaded)

        since = None if complete or cursor is None else cursor - self.lookback
        reread = _Tally()
        pages = reread.of(self.connector.extract(stream, since=since, parent_ids=parent_ids))
        batch = self.land(stream, pages, deadline=deadline, full_refresh=complete)
        loaded = self.load(batch, stream)
        results = [*recovered, loaded]
        loads = [result for result in results if isinstance(result, LoadResult)]
        set_aside = tuple(result for result in results if isinstance(result, SetAsideBatch))
        moved = isinstance(loaded, LoadResult) and batch.cursor is not None
        return StreamOutcome(
            stream=stream.name,
            pages=batch.pages,
            records=batch.records,
            inserted=sum(load.inserted for load in loads),
            updated=sum(load.updated for load in loads),
            rejected=sum(load.rejected for load in loads),
            vanished=sum(load.vanished for load in loads),
            requests=self.connector.stream_request_count(stream.name) - requests_before,
            seconds=time.monotonic() - started,
            cursor=datetime.fromisoformat(batch.cursor) if moved and batch.cursor else None,
            complete=(complete and isinstance(loaded, LoadResult)) or keys_listed,
            set_aside=set_aside,
            reread=reread.records,
            repaired=repaired,
        )

    def repair(
        self, source: KeyListing, stream: Stream, ids: list[str], *, deadline: float
    ) -> tuple[int, LoadResult | SetAsideBatch]:
        """Fetch the records with these ids (which a listing of ids found missing), load them
        through the normal path, and once loaded stop asking for them; the records fetched, and the
        load.
        (A complete listing of records, when one is due, fetches them anyway.)"""
        pages = source.extract_by_ids(stream, ids)
        batch = self.land(stream, pages, deadline=deadline, full_refresh=False, moves_cursor=False)
        loaded = self.load(batch, stream)
        if isinstance(loaded, LoadResult):  # a batch set aside leaves them to ask for again
            connection_id = self.connector.connection_id
            self.warehouse.write(
                lambda conn: resolve_unfetched(conn, connection_id, stream.name, ids)
            )
        return batch.records, loaded

    def rereads(self, conn: DuckDBPyConnection, stream: Stream, reread: Reread) -> list[str]:
        def raw(name: str) -> RawStream:
            table = self.streams[name].raw(self.connector.source)
            ensure_raw_table(conn, table)
            return table

        through = None
        if reread.through is not None:
            name, columns, target = reread.through
            through = (raw(name), columns, target)
        changed = tuple(raw(name) for name in reread.changed)
        named = tuple(zip(changed, reread.named_at, strict=True)) if reread.named_at else ()
        return changed_since_listed(
            conn, self.connector.connection_id, stream.name, changed, through, named
        )

    def _derive(self, stream: Stream, everything: bool, deadline: float) -> DerivedChildren | None:
        """A dependent stream synced with its derivation, where the connection uses one."""
        if stream.parent is None or stream.derivation is None:
            return None
        if not isinstance(self.connector, DerivingConnector):
            return None
        share = self.connector.derivation_sample(stream)
        if share is None:
            return None

        def fetch(pages: Iterable[Page]) -> tuple[LandedBatch, LoadResult | SetAsideBatch]:
            batch = self.land(stream, pages, deadline=deadline, full_refresh=False)
            return batch, self.load(batch, stream)

        source = self.connector.source
        return sync_derived_children(
            self.connector,
            stream,
            stream.derivation,
            sample_share=share,
            parent=self.streams[stream.parent].raw(source),
            raw_tables={name: s.raw(source) for name, s in self.streams.items()},
            warehouse=self.warehouse,
            everything=everything,
            fetch=fetch,
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
        deadline: float,
        full_refresh: bool,
        keys_only: bool = False,
        moves_cursor: bool = True,
    ) -> LandedBatch:
        """Write the pages to a new batch as they arrive, then seal it.

        A batch that does not `moves_cursor` (records fetched by id) leaves the cursor where it
        is: the newest of a few records says nothing about what changed before it.

        Records over `max_record_bytes` are left out of their page and listed for quarantine.
        Past the `deadline` (monotonic) no page after the first is asked for, so every sync makes
        progress: `_DeadlinePassed` carries what landed, sealed as neither complete nor moving
        the cursor (ids alone are dropped: an incomplete listing of ids proves nothing).
        """
        extraction_started = datetime.now(UTC)
        writer = self.landing.new_batch(self.connector.connection_id, stream.name)
        newest: datetime | None = None
        oversized: set[str] = set()
        remaining = iter(pages)
        try:
            while True:
                if self.stop.is_set():
                    raise _Stopped
                if writer.pages and time.monotonic() >= deadline:
                    if keys_only:
                        writer.discard()
                        raise _DeadlinePassed(None)
                    raise _DeadlinePassed(writer.seal(cursor=None, full_refresh=False))
                self.on_phase("extract", stream.name)
                page = next(remaining, None)
                if page is None:
                    break
                self.on_phase("land", stream.name)
                if keys_only:
                    writer.write_page(page.body, records=len(page.records))
                else:
                    self._land_page(writer, stream, page, oversized)
                    newest = _newest(self.connector, stream, page.records, newest)
                self.report(stream.name, writer.pages, writer.records)
        except _DeadlinePassed:
            raise
        except BaseException:
            writer.discard()
            raise
        finally:
            if isinstance(remaining, Generator):
                remaining.close()  # stops a paginator's requests in flight
        self.on_phase("land", stream.name)
        # A row changed while we paged may be newer than rows we missed; never claim past our start.
        new_cursor = min(newest, extraction_started) if newest and moves_cursor else None
        return writer.seal(cursor=new_cursor, full_refresh=full_refresh, keys_only=keys_only)

    def _land_page(
        self, writer: BatchWriter, stream: Stream, page: Page, oversized: set[str]
    ) -> None:
        screened = screen_page(
            page.body,
            page.records,
            records_path=stream.records_path,
            id_path=stream.id_path,
            limit=self.max_record_bytes,
            excluded=oversized,
        )
        for record in screened.oversized:
            writer.reject(record.record_id, reason=self._too_large(record), payload=record.abridged)
            oversized.add(record.record_id)
        writer.write_page(screened.body, records=len(page.records) - len(screened.oversized))

    def _too_large(self, record: OversizedRecord) -> str:
        return (
            f"the record is {record.size:,} bytes of JSON, over max_record_bytes "
            f"({self.max_record_bytes:,}): shorten it at the source (a long note or pasted "
            f"text), or raise max_record_bytes of connection '{self.connector.connection_id}'"
        )

    def load(self, batch: LandedBatch, stream: Stream) -> LoadResult | SetAsideBatch:
        """Load a landed batch and remove it; one DuckDB refuses for its data is set aside."""

        def load_landed(conn: DuckDBPyConnection) -> LoadResult:
            self.on_phase("load", stream.name)
            return load_batch(conn, batch, stream.raw(self.connector.source))

        try:
            result = self.warehouse.write(
                load_landed, memory_limit=LOAD_MEMORY_LIMIT, threads=LOAD_THREADS
            )
        except duckdb.Error as error:
            if not is_data_error(error):
                raise
            path = self.landing.set_aside(batch, reason=f"{type(error).__name__}: {error}\n")
            return SetAsideBatch(stream.name, path, one_line(error))
        self.landing.remove(batch)
        return result


class _Tally:
    """Counts the records of the `repair` pages a listing yields as they pass."""

    def __init__(self) -> None:
        self.records = 0

    def of(self, pages: Iterable[Page]) -> Iterator[Page]:
        for page in pages:
            if page.repair:
                self.records += len(page.records)
            yield page


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

    return warehouse.write(rebuild, memory_limit=NORMALIZE_MEMORY_LIMIT)
