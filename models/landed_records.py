"""A landed batch's records as Arrow batches of id, content hash, cursor text and payload.

Each page is parsed once, here, in Python (orjson); DuckDB is handed the columns it compares and
stores and never parses a payload while loading. A record's payload is its compact JSON as orjson
writes it back, and its hash the md5 of those bytes: identical records give identical bytes,
whichever page or batch they came in, so an unchanged record is recognised as such. (orjson
writes numbers in their shortest round-trip form, as DuckDB's JSON did, so `models.mapping`'s
exactness checks read the same text.)

A record without an id cannot be stored; it is kept aside (`without_id`) for the loader to
quarantine, and left out of the batches.
"""

from __future__ import annotations

import hashlib
from collections.abc import Iterator
from dataclasses import dataclass, field
from typing import Any

import orjson
import pyarrow as pa

from models.landing import InvalidPageError, LandedBatch
from models.oversized import key_of, path_steps

__all__ = ["RECORD_COLUMNS", "LandedRecords", "RecordWithoutId"]

# About this many bytes of payloads per Arrow batch handed to DuckDB.
_CHUNK_BYTES = 4 * 2**20

RECORD_COLUMNS = pa.schema(
    [
        pa.field("record_id", pa.string()),
        pa.field("payload", pa.string()),
        pa.field("payload_md5", pa.string()),
        pa.field("changed", pa.string()),  # the cursor field's value as sent
    ]
)


@dataclass(frozen=True, slots=True)
class RecordWithoutId:
    payload: str
    payload_md5: str
    changed: str | None


@dataclass
class LandedRecords:
    """Reads `batch`'s pages once: `reader()` streams the records that have an id; those
    without one are in `without_id` once the stream is consumed."""

    batch: LandedBatch
    records_path: str
    id_path: str
    cursor_path: str | None
    without_id: list[RecordWithoutId] = field(default_factory=list)

    def reader(self) -> pa.RecordBatchReader:
        return pa.RecordBatchReader.from_batches(RECORD_COLUMNS, self._chunks())

    def _chunks(self) -> Iterator[pa.RecordBatch]:
        steps = path_steps(self.records_path)
        id_key = key_of(self.id_path)
        cursor_key = key_of(self.cursor_path) if self.cursor_path else None
        ids: list[str] = []
        payloads: list[str] = []
        hashes: list[str] = []
        changed: list[str | None] = []
        chunk_bytes = 0
        for number, body in enumerate(self.batch.page_bodies(), start=1):
            for record in self._records(number, body, steps):
                text = orjson.dumps(record)
                digest = hashlib.md5(text).hexdigest()
                cursor = _text(record.get(cursor_key)) if cursor_key else None
                record_id = _text(record.get(id_key))
                if record_id is None:
                    self.without_id.append(RecordWithoutId(text.decode(), digest, cursor))
                    continue
                ids.append(record_id)
                payloads.append(text.decode())
                hashes.append(digest)
                changed.append(cursor)
                chunk_bytes += len(text)
            if chunk_bytes >= _CHUNK_BYTES:
                yield _batch(ids, payloads, hashes, changed)
                ids, payloads, hashes, changed, chunk_bytes = [], [], [], [], 0
        if ids:
            yield _batch(ids, payloads, hashes, changed)

    def _records(self, number: int, body: bytes, steps: list[str]) -> list[Any]:
        try:
            document = orjson.loads(body)
        except orjson.JSONDecodeError as error:
            raise InvalidPageError(
                f"page {number} of landed batch {self.batch.batch_id} "
                f"({self.batch.connection_id}/{self.batch.stream}) is not JSON ({error}), so it "
                "cannot be loaded"
            ) from None
        try:
            records = _at(document, steps)
        except ValueError:
            records = [None]
        if not all(isinstance(record, dict) for record in records):
            raise InvalidPageError(
                f"page {number} of landed batch {self.batch.batch_id} "
                f"({self.batch.connection_id}/{self.batch.stream}) has something other than a "
                f"list of records (JSON objects) at {self.records_path}, so it cannot be loaded"
            )
        return records


def _at(document: Any, steps: list[str]) -> list[Any]:
    """The records `steps` (`path_steps` of a records path) find in `document`: every match of
    a path with `[*]`, else the list at the path; none where a key is missing or null, as
    DuckDB's `json_extract` finds none there."""
    values = [document]
    for step in steps:
        if step == "*":
            values = [item for value in values if isinstance(value, list) for item in value]
        else:
            values = [value.get(step) for value in values if isinstance(value, dict)]
        values = [value for value in values if value is not None]
    if "*" in steps:
        return values
    if values and not isinstance(values[0], list):
        raise ValueError("not a list")
    return values[0] if values else []


def _text(value: object) -> str | None:
    """A value as DuckDB's `->>` reads it: a string as itself, anything else as its JSON."""
    if value is None or isinstance(value, str):
        return value
    return orjson.dumps(value).decode()


def _batch(
    ids: list[str], payloads: list[str], hashes: list[str], changed: list[str | None]
) -> pa.RecordBatch:
    return pa.record_batch(
        [
            pa.array(ids, pa.string()),
            pa.array(payloads, pa.string()),
            pa.array(hashes, pa.string()),
            pa.array(changed, pa.string()),
        ],
        schema=RECORD_COLUMNS,
    )
