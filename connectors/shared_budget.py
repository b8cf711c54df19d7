"""Rate budgets kept in PostgreSQL, so they hold across processes and machines.

A source's limit belongs to its budget domain (a Simpro build, a Zoho organization, ...), not to
a process: two runs on one build in two processes, or on two machines, spend one budget. With
`rate_budget: {postgres: ...}` in the connections file each domain's window lives in the
database every run can reach (the deployment's Dagster instance storage will do).

A domain has `max_requests` slots. A request takes a free slot before it is sent and gives it
back when it has finished; the slot is then free again one window after that. The server
counts a request when it arrives, which is after the slot was taken and before it was given
back, so no `max_requests + 1` requests can arrive within one window, however late a request
reaches the server (a fresh process's first connection can take longer than any margin).
Taking and giving back are one round trip each (`ledgersync_take_slot()`,
`ledgersync_release_slot()`), under the domain row's lock, on the server's clock, so machines
with skewed clocks agree. A slot taken by a process that dies before giving it back is free
again a window and `LEASE_EXTRA_S` after it was taken. A 429's Retry-After pauses the whole
domain (`paused_until`). A budget asked for with another size or window rebuilds the domain's
slots keeping the busiest, so changing a limit in the connections file needs no migration.
The tables are UNLOGGED: the windows are seconds-long state that a database crash may forget.

The cap on requests in flight (Business Central's five per user) stays per process: the
service queues requests beyond it rather than refusing them.
"""

from __future__ import annotations

import os
import threading
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from typing import Any

import psycopg2

from connectors.ratelimit import BudgetUnavailableError, RateLimiter

__all__ = ["LEASE_EXTRA_S", "SCHEMA_SQL", "PostgresBudget", "PostgresRateLimiter"]

# How much longer than a window a slot stays taken when its request is never given back: the
# longest a request can take to reach the server (a connect timeout, a stalled client).
LEASE_EXTRA_S = 60.0

# Every statement is idempotent; an advisory lock keeps two processes creating them at once
# from tripping over each other.
SCHEMA_SQL = """
SELECT pg_advisory_xact_lock(hashtext('ledgersync rate budget schema'));

CREATE UNLOGGED TABLE IF NOT EXISTS ledgersync_rate_budgets (
    domain text PRIMARY KEY,
    size integer NOT NULL,                -- requests per window; 0 until its slots exist
    window_s double precision NOT NULL,
    paused_until double precision NOT NULL DEFAULT '-infinity'  -- epoch s, server clock
);

CREATE UNLOGGED TABLE IF NOT EXISTS ledgersync_rate_slots (
    domain text NOT NULL REFERENCES ledgersync_rate_budgets ON DELETE CASCADE,
    slot integer NOT NULL,
    busy_until double precision NOT NULL, -- epoch s, server clock: free from then on
    PRIMARY KEY (domain, slot)
);
CREATE INDEX IF NOT EXISTS ledgersync_rate_slots_free
    ON ledgersync_rate_slots (domain, busy_until);

-- A free slot taken until `p_lease_s` from now (wait_s 0), or how long until one is free.
CREATE OR REPLACE FUNCTION ledgersync_take_slot(
    p_domain text, p_size integer, p_window_s double precision, p_lease_s double precision,
    OUT wait_s double precision, OUT taken integer, OUT lease_until double precision
) LANGUAGE plpgsql AS $$
DECLARE
    budget ledgersync_rate_budgets%ROWTYPE;
    now_s double precision;
    free_at double precision;
    kept double precision[];
BEGIN
    SELECT * INTO budget FROM ledgersync_rate_budgets WHERE domain = p_domain FOR UPDATE;
    IF NOT FOUND THEN
        INSERT INTO ledgersync_rate_budgets (domain, size, window_s)
        VALUES (p_domain, 0, p_window_s) ON CONFLICT (domain) DO NOTHING;
        SELECT * INTO budget FROM ledgersync_rate_budgets WHERE domain = p_domain FOR UPDATE;
    END IF;
    now_s := extract(epoch FROM clock_timestamp());
    IF budget.size <> p_size OR budget.window_s <> p_window_s THEN
        kept := ARRAY(SELECT busy_until FROM ledgersync_rate_slots WHERE domain = p_domain
                      ORDER BY busy_until DESC LIMIT p_size);
        DELETE FROM ledgersync_rate_slots WHERE domain = p_domain;
        INSERT INTO ledgersync_rate_slots (domain, slot, busy_until)
        SELECT p_domain, s, coalesce(kept[s + 1], '-infinity')
        FROM generate_series(0, p_size - 1) AS s;
        UPDATE ledgersync_rate_budgets SET size = p_size, window_s = p_window_s
        WHERE domain = p_domain;
    END IF;
    IF budget.paused_until > now_s THEN
        wait_s := budget.paused_until - now_s;
        RETURN;
    END IF;
    SELECT s.slot, s.busy_until INTO taken, free_at FROM ledgersync_rate_slots AS s
    WHERE s.domain = p_domain ORDER BY s.busy_until LIMIT 1;
    IF free_at > now_s THEN
        wait_s := free_at - now_s;
        taken := NULL;
        RETURN;
    END IF;
    lease_until := now_s + p_lease_s;
    UPDATE ledgersync_rate_slots SET busy_until = lease_until
    WHERE domain = p_domain AND slot = taken;
    wait_s := 0;
END $$;

-- The request has finished: its slot is free one window from now (unless its lease ran out
-- and another request holds it).
CREATE OR REPLACE FUNCTION ledgersync_release_slot(
    p_domain text, p_slot integer, p_lease_until double precision, p_window_s double precision
) RETURNS void LANGUAGE sql AS $$
    UPDATE ledgersync_rate_slots
    SET busy_until = extract(epoch FROM clock_timestamp()) + p_window_s
    WHERE domain = p_domain AND slot = p_slot AND busy_until = p_lease_until;
$$;

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
    """A `RateLimiter` whose slots are the domain's in PostgreSQL; pauses are shared too.

    Threads of one process take slots one at a time (one database connection per process),
    which costs nothing extra: the domain's row lock serializes them anyway.
    """

    def __init__(self, domain: str, store: PostgresBudget, **budget: Any) -> None:
        super().__init__(**budget)
        self.domain = domain
        self.store = store
        self._taken = threading.local()  # the slot and lease `_try_start` took, per thread
        _session(store)  # fail now, at configuration time, if the database is unreachable

    @contextmanager
    def slot(self) -> Iterator[None]:
        with super().slot():
            slot, lease_until = self._taken.slot, self._taken.lease_until
            try:
                yield
            finally:
                _session(self.store).call(
                    "SELECT ledgersync_release_slot(%s, %s, %s, %s)",
                    (self.domain, slot, lease_until, self.window_s),
                )

    def pause_until(self, deadline: float) -> None:
        super().pause_until(deadline)
        _session(self.store).call(
            "SELECT ledgersync_pause(%s, %s)", (self.domain, deadline - self.now())
        )

    def _try_start(self) -> float:
        now = self._clock()
        if now < self._paused_until:
            return self._paused_until - now
        wait, self._taken.slot, self._taken.lease_until = _session(self.store).call(
            "SELECT * FROM ledgersync_take_slot(%s, %s, %s, %s)",
            (self.domain, self.max_requests, self.window_s, self.window_s + LEASE_EXTRA_S),
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

    def call(self, sql: str, params: tuple[object, ...]) -> tuple[Any, ...]:
        """The one row `sql` returns."""
        with self._lock:
            try:
                return self._execute(sql, params)
            except (psycopg2.OperationalError, psycopg2.InterfaceError):
                self._drop()  # the server restarted or the network dropped: once more
            except psycopg2.Error as error:
                raise self._unavailable(error) from None
            try:
                return self._execute(sql, params)
            except psycopg2.Error as error:
                self._drop()
                raise self._unavailable(error) from None

    def _drop(self) -> None:
        """Close the broken connection (its socket and libpq state) so the next call opens one."""
        if self._conn is not None:
            self._conn.close()
            self._conn = None

    def _execute(self, sql: str, params: tuple[object, ...]) -> tuple[Any, ...]:
        if self._conn is None:
            self._conn = self._connect()
        with self._conn.cursor() as cursor:
            cursor.execute(sql, params)
            row: tuple[Any, ...] = cursor.fetchone()
            return row

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
