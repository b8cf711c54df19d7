"""Rate budgets kept in PostgreSQL: limiters of one budget domain in different processes (here:
different database sessions, as two processes have) spend one window, and share its pauses."""

from __future__ import annotations

import time
from collections.abc import Callable, Iterator

import pytest

from connectors.errors import ConfigurationError
from connectors.ratelimit import WINDOW_MARGIN, shared_rate_limiter
from connectors.shared_budget import LEASE_EXTRA_S, PostgresBudget, PostgresRateLimiter
from connectors.simpro.connector import SimproConnector, SimproSettings
from tests.postgres import PG_URI, require_postgres, scratch_schema

Limiter = Callable[..., PostgresRateLimiter]


@pytest.fixture
def process() -> Iterator[Callable[[str], PostgresBudget]]:
    """`process(name)`: the budget store as the process `name` reaches it: the same tables in
    a scratch schema, through a database session of its own."""
    require_postgres("the shared rate budget")
    with scratch_schema("budget") as schema:
        yield lambda name: PostgresBudget(
            f"{PG_URI}?options=-csearch_path%3D{schema}&application_name={name}"
        )


@pytest.fixture
def limiter(process: Callable[[str], PostgresBudget]) -> Limiter:
    """`limiter(process_name, domain, max_requests, per_seconds)`."""

    def make(name: str, domain: str, max_requests: int, per_seconds: float) -> PostgresRateLimiter:
        return PostgresRateLimiter(
            domain, process(name), max_requests=max_requests, per_seconds=per_seconds
        )

    return make


@pytest.mark.postgres
def test_two_processes_spend_one_window(limiter: Limiter) -> None:
    first = limiter("first", "simpro:https://build", 3, 60.0)
    second = limiter("second", "simpro:https://build", 3, 60.0)
    other_build = limiter("second", "simpro:https://other", 3, 60.0)

    for sharer in (first, second, first):
        with sharer.slot():
            pass
    # Every slot is spent until a window after its request finished, for both processes.
    for full in (first, second):
        assert 59.0 < full._try_start() <= 60.0 * (1 + WINDOW_MARGIN)
    assert other_build._try_start() == 0.0


@pytest.mark.postgres
def test_a_retry_after_pauses_every_process(limiter: Limiter) -> None:
    first = limiter("first", "zoho_books:org", 100, 60.0)
    second = limiter("second", "zoho_books:org", 100, 60.0)
    first.pause_until(first.now() + 30.0)
    assert 29.0 < second._try_start() <= 30.0


@pytest.mark.postgres
def test_a_slot_is_free_a_window_after_its_request_and_a_dead_process_s_after_its_lease(
    limiter: Limiter,
) -> None:
    died = limiter("died", "carbon:key", 2, 0.1)
    with died.slot():
        pass
    assert died._try_start() == 0.0  # a request it never finished: the process died
    survivor = limiter("survivor", "carbon:key", 2, 0.1)
    assert survivor._try_start() > 0
    time.sleep(0.1 * (1 + WINDOW_MARGIN) + 0.05)
    assert survivor._try_start() == 0.0
    # The dead process's slot comes back when its lease runs out.
    assert 0.1 + LEASE_EXTRA_S - 1.0 < survivor._try_start() <= 0.1 * 1.05 + LEASE_EXTRA_S


@pytest.mark.postgres
def test_a_changed_limit_keeps_the_busiest_slots(limiter: Limiter) -> None:
    before = limiter("before", "simpro:https://build", 3, 60.0)
    for _ in range(3):
        with before.slot():
            pass
    raised = limiter("raised", "simpro:https://build", 5, 60.0)
    assert [raised._try_start() for _ in range(3)] == [0.0, 0.0, pytest.approx(63.0, abs=1.0)]
    lowered = limiter("lowered", "simpro:https://build", 2, 60.0)
    assert lowered._try_start() > 59.0


@pytest.mark.postgres
def test_the_registry_gives_one_limiter_per_store_and_domain(
    process: Callable[[str], PostgresBudget],
) -> None:
    store = process("registry")
    shared = shared_rate_limiter(
        "simpro:https://build", store=store, max_requests=10, per_seconds=1
    )
    assert isinstance(shared, PostgresRateLimiter)
    again = shared_rate_limiter("simpro:https://build", store=store, max_requests=10, per_seconds=1)
    assert again is shared
    local = shared_rate_limiter("simpro:https://build", max_requests=10, per_seconds=1)
    assert not isinstance(local, PostgresRateLimiter)


def test_an_unreachable_budget_names_the_connection_and_the_fix() -> None:
    unreachable = PostgresBudget("postgresql://postgres@127.0.0.1:1/test?connect_timeout=3")
    settings = SimproSettings(
        connection_id="summit", build_url="http://127.0.0.1:9", api_key="k", rate_budget=unreachable
    )
    with pytest.raises(ConfigurationError) as raised:
        SimproConnector(settings)
    message = str(raised.value)
    assert "simpro connection 'summit'" in message
    assert "the shared rate budget in PostgreSQL postgresql://postgres@127.0.0.1:1/test" in message
    assert "rate_budget.postgres in the connections file" in message
