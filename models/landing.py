"""The landing zone: raw pages on disk, written before the warehouse is touched.

Extraction waits on APIs for minutes; the DuckDB file allows one writer. So pages land here
first, as the exact bytes the API sent, and the warehouse write that follows is short.

Layout, one directory per batch (one extraction of one stream of one connection)::

    <root>/<connection_id>/<stream>/<batch_id>.partial/000001.json …   being written
    <root>/<connection_id>/<stream>/<batch_id>.ready/ … manifest.json   complete, not yet loaded

A batch becomes `.ready` by an atomic rename after its manifest is written and every file is
fsynced, so a process killed at any point leaves either a `.partial` directory (discarded: its
cursor never advanced, so the next run fetches the same rows again) or a complete `.ready` batch
(loaded by the next run, so no API call is wasted). The warehouse records every loaded batch id in
the same transaction as its rows, which makes loading a batch twice a no-op.
"""

from __future__ import annotations

import json
import os
import shutil
import uuid
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path

__all__ = ["BatchWriter", "LandedBatch", "LandingZone"]

_PARTIAL = ".partial"
_READY = ".ready"
_MANIFEST = "manifest.json"


@dataclass(frozen=True, slots=True)
class LandedBatch:
    """A complete batch waiting to be loaded."""

    batch_id: str
    connection_id: str
    stream: str
    path: Path
    pages: int
    records: int
    cursor: str | None  # ISO-8601 UTC of the newest change the batch covers, if any
    full_refresh: bool

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

    def seal(self, *, cursor: datetime | None, full_refresh: bool) -> LandedBatch:
        manifest = {
            "batch_id": self.batch_id,
            "connection_id": self.connection_id,
            "stream": self.stream,
            "pages": self.pages,
            "records": self.records,
            "cursor": cursor.astimezone(UTC).isoformat() if cursor else None,
            "full_refresh": full_refresh,
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

    def new_batch(self, connection_id: str, stream: str) -> BatchWriter:
        """Start a batch, discarding partial ones a killed run left behind."""
        stream_dir = self._stream_dir(connection_id, stream)
        for stale in stream_dir.glob(f"*{_PARTIAL}"):
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
        shutil.rmtree(batch.path, ignore_errors=True)


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
