"""The landing zone: raw pages on disk, written before the warehouse is touched.

Extraction waits on APIs for minutes; the DuckDB file allows one writer. So pages land here
first, as the exact bytes the API sent, and the warehouse write that follows is short.

Layout, one directory per batch (one extraction of one stream of one connection)::

    <root>/<connection_id>/sync.lock                        held by the one sync of the connection
    <root>/<connection_id>/<stream>/<batch_id>.partial/segment-000001.pages …   being written
    <root>/<connection_id>/<stream>/<batch_id>.ready/ … manifest.json   complete, not yet loaded
    <root>/<connection_id>/<stream>/<batch_id>.loaded/                   loaded, being deleted
    <root>/<connection_id>/<stream>/<batch_id>.set-aside/ … set-aside.txt   could not be loaded

A batch's pages are appended, back to back, to a few segment files of up to `SEGMENT_BYTES`
each (a larger page gets a segment of its own); the manifest lists each segment with the size of
every page in it, in order. Nothing is fsynced per page: a page costs one buffered write, and a
batch a few fsyncs (one per segment as it fills or at `seal()`, the manifest, the directories)
and, once loaded, a few unlinks.

A batch becomes `.ready` by an atomic rename after every segment, its manifest and its directory
are fsynced, so a process killed at any point leaves either a `.partial` directory (discarded: its
cursor never advanced, so the next run fetches the same rows again) or a complete `.ready` batch
(loaded by the next run, so no API call is wasted). The warehouse records every loaded batch id in
the same transaction as its rows, which makes loading a batch twice a no-op. A loaded batch is
renamed `.loaded` before it is deleted, so a kill half-way through the deletion never leaves a
`.ready` batch without its manifest.

A batch whose data DuckDB cannot load (not UTF-8, not the JSON its stream expects) is set
aside: renamed `.set-aside`, with the error in `set-aside.txt`,
kept for inspection and never loaded again, so it cannot wedge the syncs after it. Its cursor
never advanced, so its records are fetched again from the source.

Records found too large while a page lands (`models.oversized`) are not in the batch's pages;
the manifest lists them (`rejects`), and the loader quarantines them with the batch.

Only one sync of a connection may run at a time (`LandingZone.sync_lock`): taking the lock
discards the half-written and half-deleted batches a killed run left in any of the connection's
streams, which would discard a running sync's partial batches. The lock is an OS file lock, so a
killed sync never leaves it behind.
"""

from __future__ import annotations

import fcntl
import json
import os
import shutil
import socket
import uuid
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import BinaryIO

__all__ = [
    "SEGMENT_BYTES",
    "BatchWriter",
    "ConnectionBusyError",
    "InvalidPageError",
    "LandedBatch",
    "LandedReject",
    "LandingZone",
    "Segment",
    "batch_started_at",
]

SEGMENT_BYTES = 64 * 2**20  # a segment rolls over before it would grow past this

_PARTIAL = ".partial"
_READY = ".ready"
_LOADED = ".loaded"
_SET_ASIDE = ".set-aside"
_SET_ASIDE_REASON = "set-aside.txt"
_MANIFEST = "manifest.json"
_LOCK = "sync.lock"


class ConnectionBusyError(RuntimeError):
    """Another sync of the same connection holds its lock."""

    def __init__(self, connection_id: str, holder: str) -> None:
        self.connection_id = connection_id
        self.holder = holder
        super().__init__(
            f"connection {connection_id!r} is already being synced by {holder}. Two syncs of "
            "one connection at once are refused; wait for that one to finish, or stop it if it "
            "is stuck (its lock goes with its process)"
        )


class InvalidPageError(ValueError):
    """A landed page is not the JSON its stream expects (`models.landed_records`)."""


@dataclass(frozen=True, slots=True)
class Segment:
    """One segment file of a batch: its pages, back to back, of these sizes in bytes."""

    name: str
    page_sizes: tuple[int, ...]


@dataclass(frozen=True, slots=True)
class LandedReject:
    """A record kept out of the batch's pages while they landed, to be quarantined."""

    record_id: str
    reason: str
    payload: str  # JSON: what of the record can be shown


# A batch id begins with the UTC time its batch was started, so ids sort in that order.
_BATCH_TIME = "%Y%m%dT%H%M%S%f"


def batch_started_at(batch_id: str) -> datetime:
    """When the batch was started: its records are as the source served them from then on."""
    started = datetime.strptime(batch_id.split("-", 1)[0], _BATCH_TIME)
    return started.replace(tzinfo=UTC)


@dataclass(frozen=True, slots=True)
class LandedBatch:
    """A complete batch waiting to be loaded.

    A `full_refresh` batch is a complete listing of its stream. A `keys_only` batch is a
    complete listing of ids alone (records carry just their id): it only proves which records
    still exist.
    """

    batch_id: str
    connection_id: str
    stream: str
    path: Path
    pages: int
    records: int
    cursor: str | None  # ISO-8601 UTC of the newest change the batch covers, if any
    full_refresh: bool
    segments: tuple[Segment, ...] = field(repr=False)
    keys_only: bool = False
    rejects: tuple[LandedReject, ...] = ()

    def page_bodies(self) -> Iterator[bytes]:
        """Every page's exact bytes, in the order they landed."""
        for segment in self.segments:
            with open(self.path / segment.name, "rb") as handle:
                for size in segment.page_sizes:
                    body = handle.read(size)
                    if len(body) != size:
                        raise OSError(
                            f"landed batch {self.path} is damaged: {segment.name} ends "
                            f"{size - len(body)} bytes short of the page its manifest lists"
                        )
                    yield body


class BatchWriter:
    """Writes one batch's pages; `seal()` makes it visible to the loader atomically."""

    def __init__(
        self,
        directory: Path,
        *,
        batch_id: str,
        connection_id: str,
        stream: str,
        segment_bytes: int = SEGMENT_BYTES,
    ) -> None:
        self._dir = directory
        self._segment_bytes = segment_bytes
        self._segments: list[tuple[str, list[int]]] = []
        self._rejects: list[LandedReject] = []
        self._open_segment: BinaryIO | None = None
        self._open_segment_bytes = 0
        self.batch_id = batch_id
        self.connection_id = connection_id
        self.stream = stream
        self.pages = 0
        self.records = 0
        directory.mkdir(parents=True)

    def write_page(self, body: bytes, *, records: int) -> None:
        segment = self._open_segment
        full = self._open_segment_bytes + len(body) > self._segment_bytes
        if segment is None or (full and self._open_segment_bytes > 0):
            segment = self._start_segment()
        segment.write(body)
        self._open_segment_bytes += len(body)
        self._segments[-1][1].append(len(body))
        self.pages += 1
        self.records += records

    def reject(self, record_id: str, *, reason: str, payload: str) -> None:
        """Record a record left out of the pages, for the loader to quarantine."""
        self._rejects.append(LandedReject(record_id, reason, payload))

    def _start_segment(self) -> BinaryIO:
        self._close_segment()
        name = f"segment-{len(self._segments) + 1:06d}.pages"
        self._open_segment = open(self._dir / name, "xb")  # closed by _close_segment or discard
        self._open_segment_bytes = 0
        self._segments.append((name, []))
        return self._open_segment

    def _close_segment(self) -> None:
        """Make the open segment durable: once per segment, never per page."""
        if self._open_segment is None:
            return
        self._open_segment.flush()
        os.fsync(self._open_segment.fileno())
        self._open_segment.close()
        self._open_segment = None

    def seal(
        self, *, cursor: datetime | None, full_refresh: bool, keys_only: bool = False
    ) -> LandedBatch:
        self._close_segment()
        manifest = {
            "batch_id": self.batch_id,
            "connection_id": self.connection_id,
            "stream": self.stream,
            "pages": self.pages,
            "records": self.records,
            "cursor": cursor.astimezone(UTC).isoformat() if cursor else None,
            "full_refresh": full_refresh,
            "keys_only": keys_only,
            "segments": [{"name": name, "page_sizes": sizes} for name, sizes in self._segments],
            "rejects": [
                {"record_id": r.record_id, "reason": r.reason, "payload": r.payload}
                for r in self._rejects
            ],
        }
        _write_durably(self._dir / _MANIFEST, json.dumps(manifest).encode())
        _fsync_directory(self._dir)
        ready = self._dir.with_name(self.batch_id + _READY)
        os.rename(self._dir, ready)
        _fsync_directory(ready.parent)
        return _read_manifest(ready)

    def discard(self) -> None:
        if self._open_segment is not None:
            self._open_segment.close()
            self._open_segment = None
        shutil.rmtree(self._dir, ignore_errors=True)


class LandingZone:
    def __init__(self, root: Path, *, segment_bytes: int = SEGMENT_BYTES) -> None:
        self.root = root
        self.segment_bytes = segment_bytes

    def _stream_dir(self, connection_id: str, stream: str) -> Path:
        return self.root / connection_id / stream

    @contextmanager
    def sync_lock(self, connection_id: str, *, holder: str) -> Iterator[None]:
        """Hold the connection's sync lock, or raise `ConnectionBusyError` at once.

        `holder` says who holds it (e.g. "Dagster run 1f2e…"); the process id, host and start
        time are added, and a refused sync names them.
        """
        directory = self.root / connection_id
        directory.mkdir(parents=True, exist_ok=True)
        with open(directory / _LOCK, "a+", encoding="utf-8") as handle:
            try:
                fcntl.flock(handle, fcntl.LOCK_EX | fcntl.LOCK_NB)
            except BlockingIOError:
                handle.seek(0)
                raise ConnectionBusyError(
                    connection_id, handle.read().strip() or "another process"
                ) from None
            try:
                self._discard_leftovers(directory)
                handle.truncate(0)
                handle.write(
                    f"{holder} (process {os.getpid()} on {socket.gethostname()}, "
                    f"since {datetime.now(UTC):%Y-%m-%d %H:%M:%S} UTC)"
                )
                handle.flush()
                yield
            finally:
                handle.truncate(0)
                fcntl.flock(handle, fcntl.LOCK_UN)

    @staticmethod
    def _discard_leftovers(connection_dir: Path) -> None:
        """Delete what a killed run left half-written or half-deleted, in every stream of the
        connection: a stream this sync never reaches (it fails first, or it is derived) must
        not keep a dead run's batch."""
        for pattern in (f"*/*{_PARTIAL}", f"*/*{_LOADED}"):
            for stale in connection_dir.glob(pattern):
                shutil.rmtree(stale, ignore_errors=True)

    def new_batch(self, connection_id: str, stream: str) -> BatchWriter:
        """Start a batch (the connection's sync lock has discarded dead runs' leftovers)."""
        stream_dir = self._stream_dir(connection_id, stream)
        batch_id = f"{datetime.now(UTC):{_BATCH_TIME}}-{uuid.uuid4().hex[:8]}"
        return BatchWriter(
            stream_dir / (batch_id + _PARTIAL),
            batch_id=batch_id,
            connection_id=connection_id,
            stream=stream,
            segment_bytes=self.segment_bytes,
        )

    def ready_batches(self, connection_id: str, stream: str) -> list[LandedBatch]:
        """Complete batches not yet removed, oldest first (batch ids sort by time)."""
        stream_dir = self._stream_dir(connection_id, stream)
        return [_read_manifest(d) for d in sorted(stream_dir.glob(f"*{_READY}"))]

    def set_aside(self, batch: LandedBatch, reason: str) -> Path:
        """Move a batch that cannot be loaded out of `ready_batches`' sight (atomically), with
        `reason` written beside its pages; the set-aside batch's path."""
        set_aside = batch.path.with_name(batch.batch_id + _SET_ASIDE)
        os.rename(batch.path, set_aside)
        _fsync_directory(set_aside.parent)
        _write_durably(set_aside / _SET_ASIDE_REASON, reason.encode())
        return set_aside

    def set_aside_batches(self, connection_id: str, stream: str) -> list[Path]:
        """The stream's set-aside batches, oldest first."""
        return sorted(self._stream_dir(connection_id, stream).glob(f"*{_SET_ASIDE}"))

    def remove(self, batch: LandedBatch) -> None:
        """Delete a loaded batch: first out of sight of `ready_batches` (atomic), then its files."""
        loaded = batch.path.with_name(batch.batch_id + _LOADED)
        try:
            os.rename(batch.path, loaded)
        except FileNotFoundError:
            return
        shutil.rmtree(loaded, ignore_errors=True)


def _read_manifest(directory: Path) -> LandedBatch:
    manifest = json.loads((directory / _MANIFEST).read_text())
    if "segments" in manifest:
        segments = tuple(
            Segment(segment["name"], tuple(segment["page_sizes"]))
            for segment in manifest["segments"]
        )
    else:  # landed before segments: one file per page, each read as a segment of one page
        segments = tuple(
            Segment(path.name, (path.stat().st_size,))
            for path in sorted(directory.iterdir())
            if path.name != _MANIFEST
        )
    return LandedBatch(
        batch_id=manifest["batch_id"],
        connection_id=manifest["connection_id"],
        stream=manifest["stream"],
        path=directory,
        pages=manifest["pages"],
        records=manifest["records"],
        cursor=manifest["cursor"],
        full_refresh=manifest["full_refresh"],
        keys_only=manifest.get("keys_only", False),
        segments=segments,
        rejects=tuple(
            LandedReject(r["record_id"], r["reason"], r["payload"])
            for r in manifest.get("rejects", ())
        ),
    )


def _write_durably(path: Path, data: bytes) -> None:
    with open(path, "wb") as handle:
        handle.write(data)
        handle.flush()
        os.fsync(handle.fileno())


def _fsync_directory(path: Path) -> None:
    descriptor = os.open(path, os.O_RDONLY)
    try:
        os.fsync(descriptor)
    finally:
        os.close(descriptor)
