"""Fixtures for the HTTP core tests: fake clocks and ApiClients on `httpx.MockTransport`."""

from __future__ import annotations

import random
from collections.abc import Callable, Iterator
from typing import Any

import httpx
import pytest

from connectors.http import ApiClient, RetryPolicy
from tests.connectors.probes import FakeClock, Handler

BASE_URL = "https://api.test/books/v3"


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
