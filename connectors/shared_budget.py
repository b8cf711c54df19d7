"""Rate budgets kept in PostgreSQL, so they hold across processes and machines.

A source's limit belongs to its budget domain (a Simpro build, a Zoho organization, ...), not to
a process: two runs on one build in two processes, or on two machines, spend one budget. With
`rate_budget: {postgres: ...}` in the connections file each domain's sliding window lives in
the database every run can reach (the deployment's Dagster instance storage will do).

The window is a ring of the domain's last `max_requests` start times, one row each, oldest at
`head`. A request may start when the oldest is older than the window; it then overwrites that
slot and moves `head` on. `ledgersync_take_start()` does this in one round trip, under the
domain row's lock, on the server's clock (so machines with skewed clocks agree) and returns 0
or the seconds to wait. A crashed process leaves only start times, which age out of the window;
it holds no lock past its connection. A 429's Retry-After pauses the whole domain
(`paused_until`). A budget asked for with another size or window rebuilds the ring keeping the
newest starts, so changing a limit in the connections file needs no migration.

The cap on requests in flight (Business Central's five per user) stays per process: the
service queues requests beyond it rather than refusing them.
"""

from __future__ import annotations

import os
import threading
from dataclasses import dataclass
from typing import Any

import psycopg2

from connectors.ratelimit import BudgetUnavailableError, RateLimiter

__all__ = ["SCHEMA_SQL", "PostgresBudget", "PostgresRateLimiter"]

# Every statement is idempotent; an advisory lock keeps two processes creating them at once
# from tripping over each other.
SCHEMA_SQL = """
SELECT pg_advisory_xact_lock(hashtext('ledgersync rate budget schema'));

CREATE UNLOGGED TABLE IF NOT EXISTS ledgersync_rate_budgets (
    domain text PRIMARY KEY,
    size integer NOT NULL,                -- starts allowed per window; 0 until the ring exists
    window_s double precision NOT NULL,
    head integer NOT NULL DEFAULT 0,      -- the ring's slot with the oldest start
    paused_until double precision NOT NULL DEFAULT '-infinity'  -- epoch s, server clock
);

CREATE UNLOGGED TABLE IF NOT EXISTS ledgersync_rate_starts (
    domain text NOT NULL REFERENCES ledgersync_rate_budgets ON DELETE CASCADE,
    slot integer NOT NULL,
    started_at double precision NOT NULL, -- epoch s, server clock
    PRIMARY KEY (domain, slot)
);

CREATE OR REPLACE FUNCTION ledgersync_take_start(
    p_domain text, p_size integer, p_window_s double precision
) RETURNS double precision LANGUAGE plpgsql AS $$
DECLARE
    budget ledgersync_rate_budgets%ROWTYPE;
    now_s double precision;
    oldest double precision;
    kept double precision[];
BEGIN
    SELECT * INTO budget FROM ledgersync_rate_budgets WHERE domain = p_domain FOR UPDATE;
    IF NOT FOUND THEN
        INSERT INTO ledgersync_rate_budgets (domain, size, window_s)
        VALUES (p_domain, 0, p_window_s) ON CONFLICT (domain) DO NOTHING;
        SELECT * INTO budget FROM ledgersync_rate_budgets WHERE domain = p_domain FOR UPDATE;
    END IF;
    -- Read the clock only once the lock is held: starts are then written in time order.
    now_s := extract(epoch FROM clock_timestamp());
    IF budget.size <> p_size OR budget.window_s <> p_window_s THEN
        kept := ARRAY(SELECT started_at FROM ledgersync_rate_starts WHERE domain = p_domain
                      ORDER BY started_at DESC LIMIT p_size);
        DELETE FROM ledgersync_rate_starts WHERE domain = p_domain;
        INSERT INTO ledgersync_rate_starts (domain, slot, started_at)
        SELECT p_domain, s, coalesce(kept[p_size - s], '-infinity')
        FROM generate_series(0, p_size - 1) AS s;
        UPDATE ledgersync_rate_budgets SET size = p_size, window_s = p_window_s, head = 0
        WHERE domain = p_domain;
        budget.head := 0;
    END IF;
    IF budget.paused_until > now_s THEN
        RETURN budget.paused_until - now_s;
    END IF;
    SELECT started_at INTO oldest FROM ledgersync_rate_starts
    WHERE domain = p_domain AND slot = budget.head;
    IF oldest > now_s - p_window_s THEN
        RETURN oldest + p_window_s - now_s;
    END IF;
    UPDATE ledgersync_rate_starts SET started_at = now_s
    WHERE domain = p_domain AND slot = budget.head;
    UPDATE ledgersync_rate_budgets SET head = (budget.head + 1) % p_size
    WHERE domain = p_domain;
    RETURN 0;
END $$;

CREATE OR REPLACE FUNCTION ledgersync_pause(p_domain text, p_seconds double precision)
RETURNS void LANGUAGE sql AS $$
    INSERT INTO ledgersync_rate_budgets AS budget (domain, size, window_s, paused_until)
    VALUES (p_domain, 0, 0, extract(epoch FROM clock_timestamp()) + p_seconds)
    ON CONFLICT (domain) DO UPDATE
    SET paused_until = greatest(budget.paused_until, excluded.paused_until);
$$;
"""

_CONNECT_TIMEOUT_S = 10


@dataclass(frozen=True, slots=True)
class PostgresBudget:
    """Budgets kept in a PostgreSQL database: a libpq URI or connection string without a
    password (libpq reads it from PGPASSWORD or ~/.pgpass). The tables go in the first schema
    of the connection's search_path (`?options=-csearch_path%3Dname` picks another)."""

    url: str

    def limiter(self, domain: str, **budget: Any) -> RateLimiter:
        return PostgresRateLimiter(domain, self, **budget)

    def __str__(self) -> str:
        return f"PostgreSQL {self.url}"


class PostgresRateLimiter(RateLimiter):
    """A `RateLimiter` whose window is the domain's ring in PostgreSQL; pauses are shared too.

    Threads of one process take starts one at a time (one database connection per process),
    which costs nothing extra: the domain's row lock serializes them anyway.
    """

    def __init__(self, domain: str, store: PostgresBudget, **budget: Any) -> None:
        super().__init__(**budget)
        self.domain = domain
        self.store = store
        _session(store)  # fail now, at configuration time, if the database is unreachable

    def pause_until(self, deadline: float) -> None:
        super().pause_until(deadline)
        _session(self.store).call(
            "SELECT ledgersync_pause(%s, %s)", (self.domain, deadline - self.now())
        )

    def _try_start(self) -> float:
        now = self._clock()
        if now < self._paused_until:
            return self._paused_until - now
        wait = _session(self.store).call(
            "SELECT ledgersync_take_start(%s, %s, %s)",
            (self.domain, self.max_requests, self.window_s),
        )
        return float(wait)


class _Session:
    """One process's connection to a budget database, reconnecting once when it drops."""

    def __init__(self, store: PostgresBudget) -> None:
        self._store = store
        self._lock = threading.Lock()
        try:
            self._conn: Any = self._connect()
            with self._conn.cursor() as cursor:
                cursor.execute(f"BEGIN; {SCHEMA_SQL} COMMIT;")
        except psycopg2.Error as error:
            raise self._unavailable(error) from None

    def call(self, sql: str, params: tuple[object, ...]) -> Any:  # noqa: ANN401 - one value
        """The one value `sql` returns."""
        with self._lock:
            try:
                return self._execute(sql, params)
            except (psycopg2.OperationalError, psycopg2.InterfaceError):
                self._conn = None  # the server restarted or the network dropped: once more
            except psycopg2.Error as error:
                raise self._unavailable(error) from None
            try:
                return self._execute(sql, params)
            except psycopg2.Error as error:
                self._conn = None
                raise self._unavailable(error) from None

    def _execute(self, sql: str, params: tuple[object, ...]) -> Any:  # noqa: ANN401 - one value
        if self._conn is None:
            self._conn = self._connect()
        with self._conn.cursor() as cursor:
            cursor.execute(sql, params)
            return cursor.fetchone()[0]

    def _connect(self) -> Any:  # noqa: ANN401 - psycopg2 has no types
        conn = psycopg2.connect(
            self._store.url,
            connect_timeout=_CONNECT_TIMEOUT_S,
            application_name="ledgersync rate budget",
        )
        conn.autocommit = True
        return conn

    def _unavailable(self, error: psycopg2.Error) -> BudgetUnavailableError:
        lines = str(error).strip().splitlines()
        reason = lines[0] if lines else type(error).__name__
        return BudgetUnavailableError(
            f"the shared rate budget in {self._store} cannot be used: {reason}"
        )


_sessions: dict[tuple[int, PostgresBudget], _Session] = {}
_sessions_lock = threading.Lock()


def _session(store: PostgresBudget) -> _Session:
    """This process's session with `store` (a forked child opens its own)."""
    key = (os.getpid(), store)
    with _sessions_lock:
        session = _sessions.get(key)
        if session is None:
            session = _sessions[key] = _Session(store)
        return session
