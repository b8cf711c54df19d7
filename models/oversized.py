"""Records too large to load, found while their page lands and kept out of the warehouse.

DuckDB parses a record's JSON whole: one record of tens of megabytes (a pasted attachment, a
runaway note) fails its batch's load under the bulk memory limit, and with it every record of the
batch. So a page is screened as it lands: a record whose JSON exceeds the connection's limit is
left out of the landed page and travels in the batch's manifest as a reject (its id, its size and
an abridged copy), which the loader quarantines with the rest of the batch.

A page no larger than the limit cannot hold a record over it, so the usual page costs one length
comparison; a larger one costs a serialization of its records. Only a page that does hold an
oversized record is landed rebuilt from its parsed records (the same JSON values, not its bytes).
"""

from __future__ import annotations

import hashlib
import re
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from typing import Any

import orjson

__all__ = [
    "OversizedRecord",
    "ScreenedPage",
    "key_of",
    "path_steps",
    "record_key",
    "screen_page",
]

_STEP = re.compile(r"\.(\w+)|(\[\*\])")
_KEY_PATH = re.compile(r"^\$\.(\w+)$")
_ABRIDGED_TEXT = 200  # characters of a long string kept in the quarantined copy
_ABRIDGED_ITEMS = 20  # items of a long list kept in the quarantined copy


@dataclass(frozen=True, slots=True)
class OversizedRecord:
    record_id: str
    size: int  # bytes of the record's JSON
    abridged: str  # the record as JSON, long strings and lists cut short


@dataclass(frozen=True, slots=True)
class ScreenedPage:
    body: bytes  # what to land: the page as received, or rebuilt without the oversized records
    oversized: tuple[OversizedRecord, ...]


def screen_page(
    body: bytes,
    records: Sequence[dict[str, Any]],
    *,
    records_path: str,
    id_path: str,
    limit: int,
    excluded: Iterable[str] = (),
) -> ScreenedPage:
    """The page to land with every record over `limit` bytes of JSON left out (and returned).

    `excluded`: ids already found oversized in the batch. A page that repeats one of them (pages
    that overlap) is rebuilt without it too.
    """
    if len(body) <= limit:
        return ScreenedPage(body, ())
    oversized: list[OversizedRecord] = []
    dropped = set(excluded)
    kept: list[dict[str, Any]] = []
    for record in records:
        text = orjson.dumps(record)
        key = record_key(record, id_path, text)
        if len(text) > limit:
            oversized.append(OversizedRecord(key, len(text), _abridged_json(record)))
            dropped.add(key)
        elif key not in dropped:
            kept.append(record)
    if not dropped:
        return ScreenedPage(body, ())
    return ScreenedPage(orjson.dumps(_holding(records_path, kept)), tuple(oversized))


def record_key(record: dict[str, Any], id_path: str, text: bytes) -> str:
    """The record's id as the loader reads it (`rec ->> id_path`), or, without one, a name
    made of its content's digest (as the loader names a record it cannot key)."""
    value = record.get(key_of(id_path))
    if value is None:
        return f"<no id> {hashlib.md5(text).hexdigest()}"
    if isinstance(value, str):
        return value
    return orjson.dumps(value).decode()


def key_of(path: str) -> str:
    """The key of a path of the form `$.<key>` (a record's id or cursor field)."""
    match = _KEY_PATH.match(path)
    if match is None:
        raise ValueError(f"a path of the form $.<key> is expected, not {path!r}")
    return match[1]


def _holding(records_path: str, records: list[dict[str, Any]]) -> object:
    """A JSON document in which `records_path` finds `records` ("$.value", "$[*]",
    "$[*].payment": a list under keys, the list itself, each record under a key)."""
    steps = path_steps(records_path)
    if "*" in steps:
        star = steps.index("*")
        before, after = steps[:star], steps[star + 1 :]
        if "*" in after:
            raise ValueError(f"a records path with one [*] at most is expected: {records_path}")
        value: object = [_nested(after, record) for record in records]
    else:
        before, value = steps, records
    return _nested(before, value)


def path_steps(path: str) -> list[str]:
    """ "$.a[*].b" → ["a", "*", "b"]."""
    if not path.startswith("$"):
        raise ValueError(f"not a JSON path: {path!r}")
    steps, position = [], 1
    for match in _STEP.finditer(path, 1):
        if match.start() != position:
            break
        steps.append(match[1] or "*")
        position = match.end()
    if position != len(path):
        raise ValueError(f"a records path of keys and [*] is expected, not {path!r}")
    return steps


def _nested(keys: Sequence[str], value: object) -> object:
    for key in reversed(keys):
        value = {key: value}
    return value


def _abridged_json(record: dict[str, Any]) -> str:
    return orjson.dumps(_abridged(record)).decode()


def _abridged(value: object) -> object:
    if isinstance(value, str) and len(value) > _ABRIDGED_TEXT:
        return f"{value[:_ABRIDGED_TEXT]}… ({len(value) - _ABRIDGED_TEXT:,} characters more)"
    if isinstance(value, list):
        items = [_abridged(item) for item in value[:_ABRIDGED_ITEMS]]
        if len(value) > _ABRIDGED_ITEMS:
            items.append(f"… ({len(value) - _ABRIDGED_ITEMS:,} items more)")
        return items
    if isinstance(value, dict):
        return {key: _abridged(item) for key, item in value.items()}
    return value
