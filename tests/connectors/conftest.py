"""Fixtures for the HTTP core tests: fake clocks and ApiClients on `httpx.MockTransport`."""

from __future__ import annotations

import random
import threading
from collections.abc import Callable, Iterator
from typing import Any

import httpx
import pytest

from connectors.http import ApiClient, RetryPolicy

BASE_URL = "https://api.test/books/v3"

Handler = Callable[[httpx.Request], httpx.Response]


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


@pytest.fixture
def clock() -> FakeClock:
    return FakeClock()


@pytest.fixture
def sleeps() -> list[float]:
    """What the clients made by `make_client` slept, in seconds (nothing sleeps for real)."""
    return []


@pytest.fixture
def make_client(sleeps: list[float]) -> Iterator[Callable[..., ApiClient]]:
    """`make_client(handler, **ApiClient kwargs)`: a client whose requests go to `handler`."""
    clients: list[ApiClient] = []

    def make(handler: Handler, **kwargs: Any) -> ApiClient:
        kwargs.setdefault("source", "zoho_books")
        kwargs.setdefault("connection_id", "acme-us")
        kwargs.setdefault("base_url", BASE_URL)
        kwargs.setdefault("retry", RetryPolicy(rng=random.Random(7)))
        kwargs.setdefault("sleep", sleeps.append)
        client = ApiClient(transport=httpx.MockTransport(handler), **kwargs)
        clients.append(client)
        return client

    yield make
    for client in clients:
        client.close()
