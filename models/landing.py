"""The landing zone: raw pages on disk, written before the warehouse is touched.

Extraction waits on APIs for minutes; the DuckDB file allows one writer. So pages land here
first, as the exact bytes the API sent, and the warehouse write that follows is short.

Layout, one directory per batch (one extraction of one stream of one connection)::

    <root>/<connection_id>/sync.lock                        held by the one sync of the connection
    <root>/<connection_id>/<stream>/<batch_id>.partial/000001.json …   being written
    <root>/<connection_id>/<stream>/<batch_id>.ready/ … manifest.json   complete, not yet loaded
    <root>/<connection_id>/<stream>/<batch_id>.loaded/                   loaded, being deleted

A batch becomes `.ready` by an atomic rename after its manifest is written and every file is
fsynced, so a process killed at any point leaves either a `.partial` directory (discarded: its
cursor never advanced, so the next run fetches the same rows again) or a complete `.ready` batch
(loaded by the next run, so no API call is wasted). The warehouse records every loaded batch id in
the same transaction as its rows, which makes loading a batch twice a no-op. A loaded batch is
renamed `.loaded` before it is deleted, so a kill half-way through the deletion never leaves a
`.ready` batch without its manifest.

Only one sync of a connection may run at a time (`LandingZone.sync_lock`): a second one would
discard the first one's partial batches. The lock is an OS file lock, so a killed sync never
leaves it behind.
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
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path

__all__ = ["BatchWriter", "ConnectionBusyError", "LandedBatch", "LandingZone"]

_PARTIAL = ".partial"
_READY = ".ready"
_LOADED = ".loaded"
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
    keys_only: bool = False

    @property
    def page_files(self) -> list[Path]:
        return sorted(p for p in self.path.iterdir() if p.name != _MANIFEST)


class BatchWriter:
    """Writes one batch's pages; `seal()` makes it visible to the loader atomically."""

    def __init__(self, directory: Path, *, batch_id: str, connection_id: str, stream: str) -> None:
        self._dir = directory
        self.batch_id = batch_id
        self.connection_id = connection_id
        self.stream = stream
        self.pages = 0
        self.records = 0
        directory.mkdir(parents=True)

    def write_page(self, body: bytes, *, records: int) -> None:
        self.pages += 1
        _write_durably(self._dir / f"{self.pages:06d}.json", body)
        self.records += records

    def seal(
        self, *, cursor: datetime | None, full_refresh: bool, keys_only: bool = False
    ) -> LandedBatch:
        manifest = {
            "batch_id": self.batch_id,
            "connection_id": self.connection_id,
            "stream": self.stream,
            "pages": self.pages,
            "records": self.records,
            "cursor": cursor.astimezone(UTC).isoformat() if cursor else None,
            "full_refresh": full_refresh,
            "keys_only": keys_only,
        }
        _write_durably(self._dir / _MANIFEST, json.dumps(manifest).encode())
        ready = self._dir.with_name(self.batch_id + _READY)
        os.rename(self._dir, ready)
        _fsync_directory(ready.parent)
        return _read_manifest(ready)

    def discard(self) -> None:
        shutil.rmtree(self._dir, ignore_errors=True)


class LandingZone:
    def __init__(self, root: Path) -> None:
        self.root = root

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

    def new_batch(self, connection_id: str, stream: str) -> BatchWriter:
        """Start a batch, discarding what a killed run left half-written or half-deleted."""
        stream_dir = self._stream_dir(connection_id, stream)
        for stale in (*stream_dir.glob(f"*{_PARTIAL}"), *stream_dir.glob(f"*{_LOADED}")):
            shutil.rmtree(stale, ignore_errors=True)
        batch_id = f"{datetime.now(UTC):%Y%m%dT%H%M%S%f}-{uuid.uuid4().hex[:8]}"
        return BatchWriter(
            stream_dir / (batch_id + _PARTIAL),
            batch_id=batch_id,
            connection_id=connection_id,
            stream=stream,
        )

    def ready_batches(self, connection_id: str, stream: str) -> list[LandedBatch]:
        """Complete batches not yet removed, oldest first (batch ids sort by time)."""
        stream_dir = self._stream_dir(connection_id, stream)
        return [_read_manifest(d) for d in sorted(stream_dir.glob(f"*{_READY}"))]

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
