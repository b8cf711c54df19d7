"""Waiting for the warehouse file's lock, out loud.

DuckDB lets one process at a time open a database file for writing, and a second one fails at
once with an `IOException` naming the holder ("Conflicting lock is held in /usr/bin/duckdb
(PID 4242)"). A sync waits instead (with backoff) up to a limit, and says who it waits for when
the wait starts and every `notice_every_s` after, so a terminal or a Dagster log never sits
silent while an analyst's session holds the file.
"""

from __future__ import annotations

import random
import re
import time
from collections.abc import Callable
from pathlib import Path
from typing import TypeVar

import duckdb

__all__ = [
    "LOCK_WAIT_SETTING",
    "WaitListener",
    "WarehouseBusyError",
    "connect_when_free",
    "is_lock_conflict",
]

LOCK_WAIT_SETTING = "warehouse_lock_wait_s"  # the connections file's setting for the limit
WaitListener = Callable[[str], None]  # called with a one-line message while waiting

_T = TypeVar("_T")
_HOLDER = re.compile(r"lock is held in (?P<program>.+?) \(PID (?P<pid>\d+)\)")
# DuckDB's IOException when another process holds the file: "Could not set lock on file …".
_LOCK_CONFLICT = "Could not set lock on file"


class WarehouseBusyError(RuntimeError):
    """Another process held the DuckDB file for longer than we were willing to wait."""


def connect_when_free(
    connect: Callable[[], _T],
    *,
    path: Path,
    limit_s: float,
    on_wait: WaitListener | None = None,
    notice_every_s: float = 10.0,
) -> _T:
    """`connect()`, retried while another process holds the file's lock, up to `limit_s`.

    `on_wait` hears "waiting for the warehouse: held by pid N (program) …" when the wait starts
    and every `notice_every_s` while it lasts. Past the limit, `WarehouseBusyError` says in one
    line who held the file and how to fix it.
    """
    started = time.monotonic()
    next_notice = started
    delay = 0.05
    while True:
        try:
            return connect()
        except duckdb.IOException as error:
            if not is_lock_conflict(error):
                raise
            holder = lock_holder(str(error))
            waited = time.monotonic() - started
            if waited >= limit_s:
                raise WarehouseBusyError(
                    f"the warehouse {path} is held by {holder}; gave up after {limit_s:g}s. "
                    f"Close that process's connection to it (a DuckDB CLI or notebook, another "
                    f"sync), or raise {LOCK_WAIT_SETTING} in the connections file, and run again"
                ) from None
            if on_wait is not None and time.monotonic() >= next_notice:
                on_wait(
                    f"waiting for the warehouse: held by {holder}; waited {waited:.0f}s of "
                    f"{limit_s:g}s ({LOCK_WAIT_SETTING})"
                )
                next_notice = time.monotonic() + notice_every_s
            remaining = limit_s - (time.monotonic() - started)
            time.sleep(max(0.0, min(delay * (1 + random.random()), remaining)))
            delay = min(delay * 2, 2.0)


def is_lock_conflict(error: duckdb.Error) -> bool:
    """Whether opening the file failed because another process holds its lock (and may let
    go): DuckDB's IOException saying so, not any error whose text happens to hold "lock"."""
    return isinstance(error, duckdb.IOException) and _LOCK_CONFLICT in str(error)


def lock_holder(message: str) -> str:
    """Who holds the lock, from DuckDB's message: "pid 4242 (/usr/bin/duckdb)"."""
    match = _HOLDER.search(message)
    if match is None:
        return "another process"
    return f"pid {match['pid']} ({match['program']})"
