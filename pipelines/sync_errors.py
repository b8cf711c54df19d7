"""How a sync fails outside the connector: each error is one line naming the source, the
connection, the stream, what happened and the fix; DuckDB's own exception stays the cause, shown
only with --debug.

A batch DuckDB refuses for a reason in its data (`is_data_error`) is set aside and the sync goes
on; one refused because the warehouse was unavailable (its lock, I/O, a commit conflict) stays
landed and is loaded by the next sync. The two are told apart by DuckDB's exception class.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import timedelta
from pathlib import Path
from typing import TYPE_CHECKING

import duckdb

from models.ducklake import is_write_conflict

if TYPE_CHECKING:
    from pipelines.sync import StreamOutcome

__all__ = [
    "BatchSetAsideError",
    "SetAsideBatch",
    "StreamDeadlineError",
    "SyncError",
    "WarehouseWriteError",
    "is_data_error",
]

STREAM_DEADLINE_SETTING = "stream_deadline_s"
# DuckDB's errors about the data it was given: a value it cannot convert, input it cannot parse.
# Running out of memory is not one: records too large to load are screened out as their pages
# land (max_record_bytes), so a batch that meets the memory limit stays landed for the next sync
# rather than being set aside, with its records, on every sync of a large first listing.
_DATA_ERRORS = (duckdb.DataError, duckdb.InvalidInputException)
_EXCERPT = 300  # characters of DuckDB's message in a one-line error


class SyncError(RuntimeError):
    """A sync failed outside the connector; `str()` is the whole diagnosis."""


@dataclass(frozen=True, slots=True)
class SetAsideBatch:
    stream: str
    path: Path  # where the batch now lies, with its reason in set-aside.txt
    error: str  # DuckDB's message, cut to one line


class BatchSetAsideError(SyncError):
    """Landed batches could not be loaded for a reason in their data and were set aside; the
    rest of the sync went on. `outcomes` are the figures of every stream synced."""

    def __init__(self, source: str, connection_id: str, outcomes: Sequence[StreamOutcome]) -> None:
        self.outcomes = tuple(outcomes)
        super().__init__(set_aside_message(source, connection_id, outcomes))


def set_aside_message(source: str, connection_id: str, outcomes: Sequence[StreamOutcome]) -> str:
    """What the streams' set-aside batches are, where they are kept and what to do."""
    batches = [batch for outcome in outcomes for batch in outcome.set_aside]
    described = "; ".join(
        f"{source} connection {connection_id!r}, stream {batch.stream}: a landed batch "
        f"could not be loaded (DuckDB: {batch.error}), so it is set aside at {batch.path} "
        "for inspection and the sync went on without it (its records are fetched from the "
        "source again)"
        for batch in batches
    )
    return (
        f"{described}. Fix: correct the record at the source, then "
        f"`ledgersync sync --connection {connection_id}`"
    )


class StreamDeadlineError(SyncError):
    """A stream's sync ran past `stream_deadline_s` and stopped between two pages."""

    def __init__(
        self,
        source: str,
        connection_id: str,
        stream: str,
        *,
        deadline: timedelta,
        records_loaded: int,
        earlier: Sequence[StreamOutcome] = (),
    ) -> None:
        """`earlier`: the streams synced before it, whose set-aside batches it also names."""
        message = (
            f"{source} connection {connection_id!r}, stream {stream}: the stream's sync passed "
            f"its deadline of {deadline.total_seconds():g} s ({STREAM_DEADLINE_SETTING}) and "
            f"stopped; the {records_loaded} records fetched before it are loaded and the cursor "
            "did not move, so the next sync reads on from the same place. Fix: raise "
            f"{STREAM_DEADLINE_SETTING} of connection '{connection_id}' in the connections "
            "file, or find out why the source answers so slowly"
        )
        if any(outcome.set_aside for outcome in earlier):
            message += ". Besides: " + set_aside_message(source, connection_id, earlier)
        super().__init__(message)
        self.outcomes = tuple(earlier)


class WarehouseWriteError(SyncError):
    """The warehouse failed while a stream was synced, for a reason not in the data."""

    def __init__(
        self, source: str, connection_id: str, stream: str | None, error: duckdb.Error
    ) -> None:
        where = f"{source} connection {connection_id!r}" + (f", stream {stream}" if stream else "")
        super().__init__(
            f"{where}: the warehouse failed ({one_line(error)}). What was landed is kept and "
            "loaded by the next sync. Fix: make the warehouse available (disk space, "
            f"permissions, the catalog), then `ledgersync sync --connection {connection_id}` "
            "(--debug shows the traceback)"
        )


def is_data_error(error: BaseException) -> bool:
    """Whether DuckDB refused a load for a reason in the data (set it aside), not because the
    warehouse was unavailable (keep it and load it next time). A failed ROLLBACK may surface
    in place of the refusal, which is then its context."""
    if is_write_conflict(error):
        return False
    cause: BaseException | None = error
    while cause is not None:
        if isinstance(cause, _DATA_ERRORS):
            return True
        cause = cause.__context__
    return False


def one_line(error: BaseException) -> str:
    """An error's message: its first line, less DuckDB's detail of a Python exception (a
    traceback), cut to a readable length."""
    lines = str(error).strip().splitlines()
    first = lines[0].split(" Detail: ", 1)[0] if lines else type(error).__name__
    return first if len(first) <= _EXCERPT else f"{first[:_EXCERPT]}…"
