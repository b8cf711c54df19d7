"""Test doubles for the HTTP core tests: a handler that holds requests until enough are in flight,
and a fake clock."""

from __future__ import annotations

import threading
from collections.abc import Callable

import httpx

__all__ = ["FakeClock", "Handler", "InFlightProbe"]

Handler = Callable[[httpx.Request], httpx.Response]


class InFlightProbe:
    """A MockTransport handler that holds every request but the first at a barrier until
    `expected` are being served together, and records the most it served at once. Too few in
    flight break the barrier (the request fails); `peak` shows that no more were."""

    def __init__(self, expected: int, respond: Handler) -> None:
        self._respond = respond
        self._barrier = threading.Barrier(expected, timeout=10)
        self._lock = threading.Lock()
        self._first = True
        self._serving = 0
        self.peak = 0

    def __call__(self, request: httpx.Request) -> httpx.Response:
        with self._lock:
            first, self._first = self._first, False
            self._serving += 1
            self.peak = max(self.peak, self._serving)
        try:
            if not first:
                self._barrier.wait()
            return self._respond(request)
        finally:
            with self._lock:
                self._serving -= 1


class FakeClock:
    """Simulated time: `sleep` advances `now` instead of waiting. Thread-safe."""

    def __init__(self, start: float = 1000.0) -> None:
        self._now = start
        self._lock = threading.Lock()
        self.sleeps: list[float] = []

    def __call__(self) -> float:
        with self._lock:
            return self._now

    def sleep(self, seconds: float) -> None:
        assert seconds >= 0
        with self._lock:
            self.sleeps.append(seconds)
            self._now += seconds

    def advance(self, seconds: float) -> None:
        with self._lock:
            self._now += seconds
