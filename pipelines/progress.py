"""Progress of running syncs, for whoever watches this process (the CLI's progress bars).

Syncs run inside Dagster steps; when the command line runs them in-process it subscribes here,
and the ingest assets report each landed page; notices (a wait for the warehouse) go to those
`hearing` them. With no subscriber, reporting costs nothing.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from contextlib import contextmanager

__all__ = ["NoticeListener", "ProgressListener", "hearing", "notice", "report", "watching"]

ProgressListener = Callable[[str, str, int, int], None]  # connection, stream, pages, records
NoticeListener = Callable[[str], None]  # a one-line message

_listeners: list[ProgressListener] = []
_notice_listeners: list[NoticeListener] = []


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


@contextmanager
def hearing(listener: NoticeListener) -> Iterator[None]:
    _notice_listeners.append(listener)
    try:
        yield
    finally:
        _notice_listeners.remove(listener)


def notice(message: str) -> None:
    for listener in _notice_listeners:
        listener(message)
