"""Request quotas per key (an organization, a company, an API key): fixed or sliding windows.

The app asks `hit(key)` for each request and answers 429 when it is not allowed; rejected
requests are not counted. The clock is injectable so tests can move time instead of sleeping.
"""

from __future__ import annotations

import threading
import time
from collections import deque
from collections.abc import Callable
from dataclasses import dataclass

DAY_S = 86_400.0


@dataclass(frozen=True, slots=True)
class WindowStatus:
    allowed: bool
    limit: int
    remaining: int  # requests still allowed in the current window (after this one, for `hit`)
    reset_s: float  # until a slot frees: window end (fixed), oldest hit's expiry (sliding)


class RateWindow:
    """At most `limit` requests per key per `window_s` seconds.

    Fixed: a key's window starts at its first request and lasts `window_s`; then the count
    starts over. Sliding: a request is allowed when fewer than `limit` were allowed in the last
    `window_s` seconds.
    """

    def __init__(
        self,
        limit: int,
        window_s: float,
        *,
        sliding: bool = False,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        if limit < 0 or window_s <= 0:
            raise ValueError("limit must be >= 0 and window_s > 0")
        self.limit = limit
        self.window_s = window_s
        self.sliding = sliding
        self._clock = clock
        self._lock = threading.Lock()
        self._hits: dict[str, deque[float]] = {}  # sliding: times of the allowed requests
        self._fixed: dict[str, tuple[float, int]] = {}  # fixed: (window start, count)

    def peek(self, key: str) -> WindowStatus:
        """The status a request would get now, without counting one."""
        with self._lock:
            return self._status(key, record=False)

    def hit(self, key: str) -> WindowStatus:
        """Count a request if it is allowed, and say whether it was."""
        with self._lock:
            return self._status(key, record=True)

    def reset(self) -> None:
        with self._lock:
            self._hits.clear()
            self._fixed.clear()

    def _status(self, key: str, *, record: bool) -> WindowStatus:
        now = self._clock()
        if self.sliding:
            hits = self._hits.setdefault(key, deque())
            while hits and hits[0] <= now - self.window_s:
                hits.popleft()
            allowed = len(hits) < self.limit
            if allowed and record:
                hits.append(now)
            used, start = len(hits), hits[0] if hits else now
        else:
            start, used = self._fixed.get(key, (now, 0))
            if now >= start + self.window_s:
                start, used = now, 0
            allowed = used < self.limit
            if allowed and record:
                used += 1
                self._fixed[key] = (start, used)
        return WindowStatus(
            allowed, self.limit, max(self.limit - used, 0), start + self.window_s - now
        )


def daily_cap(limit: int, *, clock: Callable[[], float] = time.monotonic) -> RateWindow:
    """A per-key daily call quota: a fixed one-day window starting at the key's first call."""
    return RateWindow(limit, DAY_S, clock=clock)
