from __future__ import annotations

import threading
from bisect import bisect_left
from typing import Any

import pytest

from connectors.ratelimit import WINDOW_MARGIN, RateLimiter, shared_rate_limiter


def assert_within_budget(starts: list[float], *, max_requests: int, per_seconds: float) -> None:
    """No window [t, t + per_seconds] holds more than max_requests starts (the margin is ours)."""
    starts = sorted(starts)
    for i, start in enumerate(starts):
        in_window = bisect_left(starts, start + per_seconds) - i
        assert in_window <= max_requests, f"{in_window} starts in the window from {start}"


def limiter(clock: Any, **kwargs: object) -> RateLimiter:
    return RateLimiter(clock=clock, sleep=clock.sleep, **kwargs)  # type: ignore[arg-type]


def test_window_is_never_exceeded_on_a_simulated_clock(clock: Any) -> None:
    rate = limiter(clock, max_requests=5, per_seconds=1.0)
    starts = []
    for _ in range(23):
        with rate.slot():
            starts.append(clock())
    assert_within_budget(starts, max_requests=5, per_seconds=1.0)
    assert rate.started == 23
    # The first five go at once; the sixth waits one window plus the safety margin.
    assert starts[:5] == [starts[0]] * 5
    assert starts[5] - starts[0] == pytest.approx(1.0 + WINDOW_MARGIN)
    assert rate.window_s == pytest.approx(1.05)


def test_a_request_holds_its_slot_until_one_window_after_it_finished(clock: Any) -> None:
    """The server counts arrivals, which can come as late as a request's finish: a request that
    took 3 s lets the next one start a window after it finished, not after it started."""
    rate = limiter(clock, max_requests=1, per_seconds=1.0)
    with rate.slot():
        clock.sleep(3.0)
    finished = clock()
    with rate.slot():
        assert clock() - finished == pytest.approx(1.0 + WINDOW_MARGIN)


def test_a_request_in_flight_holds_its_slot(clock: Any) -> None:
    rate = limiter(clock, max_requests=1, per_seconds=1.0)
    started = threading.Event()
    release = threading.Event()
    second: list[float] = []

    def slow_request() -> None:
        with rate.slot():
            started.set()
            release.wait(10)

    def second_request() -> None:
        with rate.slot():
            second.append(clock())

    slow = threading.Thread(target=slow_request)
    slow.start()
    started.wait(10)
    waiting = threading.Thread(target=second_request)
    waiting.start()
    waiting.join(0.2)
    assert waiting.is_alive() and not second  # the one slot is held while the first is out
    clock.sleep(5.0)
    slow_finished = clock()
    release.set()
    slow.join(10)
    waiting.join(10)
    assert second == [pytest.approx(slow_finished + 1.0 + WINDOW_MARGIN)]


def test_window_holds_under_threads(clock: Any) -> None:
    rate = limiter(clock, max_requests=10, per_seconds=1.0)
    starts: list[float] = []
    lock = threading.Lock()

    def worker() -> None:
        for _ in range(15):
            with rate.slot():
                with lock:
                    starts.append(clock())

    threads = [threading.Thread(target=worker) for _ in range(8)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert len(starts) == rate.started == 120
    assert_within_budget(starts, max_requests=10, per_seconds=1.0)


def test_in_flight_cap_under_threads(clock: Any) -> None:
    # Exactly three threads must be inside at once for the barrier to open: fewer deadlocks
    # the barrier (BrokenBarrierError), more shows up in the peak.
    rate = limiter(clock, max_requests=1000, per_seconds=1.0, max_in_flight=3)
    barrier = threading.Barrier(3, timeout=10)
    lock = threading.Lock()
    inside = peak = 0
    errors: list[BaseException] = []

    def worker() -> None:
        nonlocal inside, peak
        try:
            with rate.slot():
                with lock:
                    inside += 1
                    peak = max(peak, inside)
                barrier.wait()
                with lock:
                    inside -= 1
        except BaseException as exc:  # pragma: no cover - reported below
            errors.append(exc)

    threads = [threading.Thread(target=worker) for _ in range(9)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert not errors
    assert peak == 3
    assert rate.in_flight == 0 and rate.started == 9


def test_slot_is_released_when_the_request_fails(clock: Any) -> None:
    rate = limiter(clock, max_requests=10, per_seconds=1.0, max_in_flight=1)
    with pytest.raises(RuntimeError), rate.slot():
        raise RuntimeError("request failed")
    assert rate.in_flight == 0
    with rate.slot():  # would block forever if the slot leaked
        pass


def test_pause_until_delays_every_start(clock: Any) -> None:
    rate = limiter(clock, max_requests=100, per_seconds=1.0)
    with rate.slot():
        pass
    rate.pause_until(rate.now() + 30)
    rate.pause_until(rate.now() + 5)  # an earlier deadline never shortens a pause
    before = clock()
    with rate.slot():
        assert clock() - before == pytest.approx(30)


def test_shared_limiter_is_one_per_key() -> None:
    a = shared_rate_limiter("test:simpro:build-a", max_requests=10, per_seconds=1.0)
    assert shared_rate_limiter("test:simpro:build-a", max_requests=10, per_seconds=1.0) is a
    assert shared_rate_limiter("test:simpro:build-b", max_requests=10, per_seconds=1.0) is not a
    with pytest.raises(ValueError, match="already exists as 10/1.0s"):
        shared_rate_limiter("test:simpro:build-a", max_requests=20, per_seconds=1.0)


@pytest.mark.parametrize(
    "kwargs",
    [
        {"max_requests": 0, "per_seconds": 1.0},
        {"max_requests": 1, "per_seconds": 0},
        {"max_requests": 1, "per_seconds": 1.0, "max_in_flight": 0},
    ],
)
def test_rejects_impossible_budgets(kwargs: dict[str, float]) -> None:
    with pytest.raises(ValueError):
        RateLimiter(**kwargs)  # type: ignore[arg-type]


def test_two_connections_asking_one_account_for_different_budgets_is_a_config_error():
    from connectors.errors import ConfigurationError
    from connectors.ratelimit import account_budget

    key = "test:account-budget-conflict"
    first = account_budget(
        key,
        source="zoho_books",
        connection_id="a",
        setting="requests_per_minute",
        max_requests=100,
        per_seconds=60.0,
    )
    assert (
        account_budget(
            key,
            source="zoho_books",
            connection_id="b",
            setting="requests_per_minute",
            max_requests=100,
            per_seconds=60.0,
        )
        is first
    )
    with pytest.raises(ConfigurationError) as error:
        account_budget(
            key,
            source="zoho_books",
            connection_id="c",
            setting="requests_per_minute",
            max_requests=50,
            per_seconds=60.0,
        )
    assert "connection 'c'" in str(error.value)
    assert "the same requests_per_minute" in str(error.value)
