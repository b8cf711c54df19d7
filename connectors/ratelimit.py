"""Client-side rate budget: stay under a source's documented limit before it has to answer 429.

`RateLimiter` keeps a sliding window of the requests that hold its slots (exact, unlike a token
bucket, which allows a burst of twice the limit across a window edge) plus an optional cap on
requests in flight. A request holds its slot from its start until one window after it finished:
the server counts arrivals, and an arrival comes somewhere between the two, so however long a
loaded machine delays a request between its start and the wire, no window at the server holds
more than the limit. Connections that share one server-side budget (their source's budget
domain: a Zoho organization, a Business Central tenant's app registration, a Simpro build, a
Carbon key) must share one limiter: get it from `shared_rate_limiter`. Within one process that
is enough; for processes on many machines the window is kept in a `BudgetStore` they all reach
(`connectors.shared_budget`), and only the in-flight cap stays per process.
"""

from __future__ import annotations

import math
import threading
import time
from collections import deque
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from typing import Any, Protocol

from connectors.errors import ConfigurationError

__all__ = [
    "BudgetStore",
    "BudgetUnavailableError",
    "UNAVAILABLE_HINT",
    "RateLimiter",
    "WINDOW_MARGIN",
    "account_budget",
    "shared_rate_limiter",
]

# The window we enforce is this much longer than the documented one, for a server whose window
# is measured on a clock a little different from ours: 5% (50 ms on Simpro's 10/s), for a 5%
# cost in peak throughput.
WINDOW_MARGIN = 0.05

UNAVAILABLE_HINT = (
    "check rate_budget.postgres in the connections file and that the server accepts connections "
    "(the password comes from PGPASSWORD or ~/.pgpass); without rate_budget, budgets hold "
    "within one process only"
)


class RateLimiter:
    """At most `max_requests` requests in any `per_seconds` window (plus `WINDOW_MARGIN`), each
    counted from its start to its finish, and at most `max_in_flight` requests between `slot()`
    entry and exit. Thread-safe.

    `clock` and `sleep` are injectable so tests run on simulated time; `clock` must be monotonic.
    """

    def __init__(
        self,
        *,
        max_requests: int,
        per_seconds: float,
        max_in_flight: int | None = None,
        clock: Callable[[], float] = time.monotonic,
        sleep: Callable[[float], None] = time.sleep,
    ) -> None:
        if max_requests < 1 or per_seconds <= 0:
            raise ValueError("max_requests must be >= 1 and per_seconds > 0")
        if max_in_flight is not None and max_in_flight < 1:
            raise ValueError("max_in_flight must be >= 1 or None")
        self.max_requests = max_requests
        self.per_seconds = per_seconds
        self.max_in_flight = max_in_flight
        self.window_s = per_seconds * (1 + WINDOW_MARGIN)
        self._clock = clock
        self._sleep = sleep
        self._cond = threading.Condition()
        self._finishes: deque[float] = deque()  # of requests finished within the last window
        self._in_flight = 0
        self._started = 0
        self._paused_until = float("-inf")

    @property
    def started(self) -> int:
        """Requests started through this limiter so far."""
        return self._started

    @property
    def in_flight(self) -> int:
        """Requests inside `slot()` right now."""
        return self._in_flight

    def now(self) -> float:
        """The limiter's clock, for computing `pause_until` deadlines."""
        return self._clock()

    @contextmanager
    def slot(self) -> Iterator[None]:
        """Block until a request may start; the request counts as in flight inside the block."""
        self._acquire()
        try:
            yield
        finally:
            with self._cond:
                self._in_flight -= 1
                now = self._clock()
                self._forget_finishes_before(now - self.window_s)
                self._finishes.append(now)
                self._cond.notify_all()

    def pause_until(self, deadline: float) -> None:
        """Start nothing before `deadline` (on this limiter's clock), in any thread.

        For a 429 with Retry-After: the budget is shared, so every sharer must wait.
        """
        with self._cond:
            self._paused_until = max(self._paused_until, deadline)

    def _acquire(self) -> None:
        while True:
            with self._cond:
                while self.max_in_flight is not None and self._in_flight >= self.max_in_flight:
                    self._cond.wait()
                wait = self._try_start()
                if wait <= 0:
                    self._in_flight += 1
                    self._started += 1
                    return
                if wait == math.inf:
                    self._cond.wait()  # every slot is held by a request still in flight
                    continue
            # Sleep outside the lock so other threads can release slots and see the pause.
            self._sleep(wait)

    def _try_start(self) -> float:
        """0 if a request may start now, else how long to wait (`math.inf`: until a request in
        flight finishes). Called with the lock held; the caller counts the start."""
        now = self._clock()
        if now < self._paused_until:
            return self._paused_until - now
        self._forget_finishes_before(now - self.window_s)
        if self._in_flight + len(self._finishes) < self.max_requests:
            return 0.0
        if self._finishes:
            return self._finishes[0] + self.window_s - now
        return math.inf

    def _forget_finishes_before(self, moment: float) -> None:
        while self._finishes and self._finishes[0] <= moment:
            self._finishes.popleft()


class BudgetUnavailableError(Exception):
    """The store a shared budget is kept in cannot be reached; the message says which."""


class BudgetStore(Protocol):
    """Where the windows of budgets shared across processes are kept. Hashable: one limiter
    per (store, budget domain) in a process."""

    def limiter(self, domain: str, **budget: Any) -> RateLimiter:
        """A limiter whose window is the one every process using this store shares for
        `domain`; `budget` as `RateLimiter` takes it."""
        ...

    def __hash__(self) -> int: ...


_registry: dict[tuple[BudgetStore | None, str], RateLimiter] = {}
_registry_lock = threading.Lock()


def shared_rate_limiter(
    key: str, *, store: BudgetStore | None = None, **kwargs: Any
) -> RateLimiter:
    """The process-wide limiter for the budget domain `key`, created with `kwargs` on first use;
    with `store`, one whose window holds across every process that uses the store.

    Later calls must ask for the same budget (``max_requests``, ``per_seconds``,
    ``max_in_flight``): two different budgets under one key is a configuration bug.
    """
    with _registry_lock:
        limiter = _registry.get((store, key))
        if limiter is None:
            limiter = RateLimiter(**kwargs) if store is None else store.limiter(key, **kwargs)
            _registry[(store, key)] = limiter
            return limiter
    asked = RateLimiter(**kwargs)
    budget = ("max_requests", "per_seconds", "max_in_flight")
    if any(getattr(asked, name) != getattr(limiter, name) for name in budget):
        raise ValueError(
            f"rate limiter {key!r} already exists as {limiter.max_requests}/{limiter.per_seconds}s"
            f" (in flight {limiter.max_in_flight}); asked for {asked.max_requests}/"
            f"{asked.per_seconds}s (in flight {asked.max_in_flight})"
        )
    return limiter


def account_budget(
    key: str,
    *,
    source: str,
    connection_id: str,
    setting: str,
    store: BudgetStore | None = None,
    **budget: Any,
) -> RateLimiter:
    """`shared_rate_limiter` for a connection: two connections that share one account's limit but
    ask for different budgets are a configuration error naming the setting to align, and so is
    a store that cannot be reached."""
    try:
        return shared_rate_limiter(key, store=store, **budget)
    except BudgetUnavailableError as error:
        raise ConfigurationError(
            str(error),
            source=source,
            connection_id=connection_id,
            hint=UNAVAILABLE_HINT,
        ) from None
    except ValueError as error:
        raise ConfigurationError(
            f"another connection sharing this account's request budget asks for a different one "
            f"({error})",
            source=source,
            connection_id=connection_id,
            hint=f"give every connection that shares the account the same {setting}",
        ) from None
