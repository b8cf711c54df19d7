"""Progress of running syncs, for whoever watches this process (the CLI's progress bars).

Syncs run inside Dagster steps; when the command line runs them in-process it subscribes here,
and the ingest assets report each landed page. With no subscriber, reporting costs nothing.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from contextlib import contextmanager

__all__ = ["ProgressListener", "report", "watching"]

ProgressListener = Callable[[str, str, int, int], None]  # connection, stream, pages, records

_listeners: list[ProgressListener] = []


@contextmanager
def watching(listener: ProgressListener) -> Iterator[None]:
    _listeners.append(listener)
    try:
        yield
    finally:
        _listeners.remove(listener)


def report(connection_id: str, stream: str, pages: int, records: int) -> None:
    for listener in _listeners:
        listener(connection_id, stream, pages, records)
