"""How Business Central admits a user's requests: at most `max_concurrent` are processed at
once, up to `max_queued` more wait their turn, and any beyond that are refused (429)."""

from __future__ import annotations

import threading
from collections.abc import Iterator
from contextlib import contextmanager


class Admission:
    def __init__(self, max_concurrent: int, max_queued: int) -> None:
        if max_concurrent < 1 or max_queued < 0:
            raise ValueError("max_concurrent must be >= 1 and max_queued >= 0")
        self.max_concurrent = max_concurrent
        self.max_queued = max_queued
        self._cond = threading.Condition()
        self.running = 0
        self.waiting = 0
        self.peak = 0  # most requests processed at once so far

    @contextmanager
    def admit(self) -> Iterator[bool]:
        """Yields False at once when the queue is full; else True once the request may run."""
        with self._cond:
            if self.running + self.waiting >= self.max_concurrent + self.max_queued:
                admitted = False
            else:
                admitted = True
                self.waiting += 1
                while self.running >= self.max_concurrent:
                    self._cond.wait()
                self.waiting -= 1
                self.running += 1
                self.peak = max(self.peak, self.running)
        try:
            yield admitted
        finally:
            if admitted:
                with self._cond:
                    self.running -= 1
                    self._cond.notify()
