"""Fault injection: what can go wrong, and a deterministic decision per request.

`FaultConfig` is the set of knobs; `FaultState` turns it into one `FaultPlan` per fault-eligible
request. Each decision is a hash of (seed, the request's sequence number, the knob), so a run is
reproducible for a given seed and request order, and turning one knob on does not change which
requests another knob hits.
"""

from __future__ import annotations

import hashlib
import threading
from dataclasses import dataclass

ERROR_STATUSES = (500, 502, 503)


# The knobs that are a share of the eligible requests.
_RATES = (
    "error_rate",
    "slow_rate",
    "truncate_rate",
    "duplicate_rows_rate",
    "modify_while_paging",
    "delete_while_paging",
    "insert_while_paging",
    "slow_body_rate",
)


@dataclass(frozen=True, slots=True)
class FaultConfig:
    """Fault knobs; rates are fractions of fault-eligible requests in [0, 1]."""

    seed: int = 0
    error_rate: float = 0.0  # answered 500, 502 or 503
    burst_429: int = 0  # the next N eligible requests are answered 429
    retry_after_s: float | None = 1.0  # Retry-After on burst 429s; None sends no header
    latency_s: float = 0.0  # added to every eligible response
    slow_rate: float = 0.0  # these responses wait a further slow_s (longer than a client timeout)
    slow_s: float = 0.0
    truncate_rate: float = 0.0  # successful body cut in half, Content-Length matching the cut
    duplicate_rows_rate: float = 0.0  # the app repeats a row of the previous page
    modify_while_paging: float = 0.0  # the app bumps an already-served row's modified time
    # The source deletes a record of the listing served on an earlier page (one it lets be
    # deleted: see sandbox.generator.delete_listed), so every later row moves up one place.
    delete_while_paging: float = 0.0
    # The source creates a record of the listed kind (see sandbox.generator.insert_listed).
    insert_while_paging: float = 0.0
    # Headers at once, then the body one byte every slow_body_byte_s (a stalled download that
    # never trips a per-read timeout).
    slow_body_rate: float = 0.0
    slow_body_byte_s: float = 1.0
    # One record served with a huge text field (a pasted attachment): every object of a JSON
    # response whose field oversized_record[0] equals oversized_record[1] gets oversized_field
    # of oversized_bytes characters (see sandbox.record_faults; narrow it with `paths`).
    oversized_record: tuple[str, object] | None = None
    oversized_field: str = "notes"
    oversized_bytes: int = 50 * 2**20
    # Only paths starting with one of these get the oversized record (any path `paths` allows,
    # if empty): the record's own listing, not every response that names its id.
    oversized_paths: tuple[str, ...] = ()
    include_auth: bool = False  # token/auth endpoints are eligible too
    paths: tuple[str, ...] = ()  # only paths starting with one of these are eligible (all if empty)

    def __post_init__(self) -> None:
        for name in _RATES:
            rate = getattr(self, name)
            if not 0.0 <= rate <= 1.0:
                raise ValueError(f"{name} must be in [0, 1], got {rate}")
        for name in ("burst_429", "latency_s", "slow_s", "slow_body_byte_s", "oversized_bytes"):
            if getattr(self, name) < 0:
                raise ValueError(f"{name} must not be negative")
        if self.retry_after_s is not None and self.retry_after_s < 0:
            raise ValueError("retry_after_s must not be negative")

    @property
    def draws(self) -> bool:
        """Whether requests differ in their faults (a burst, or a rate above 0); if not, every
        eligible request gets the same plan."""
        return self.burst_429 > 0 or any(getattr(self, name) > 0 for name in _RATES)

    def covers(self, path: str) -> bool:
        """Whether a request for `path` may be hit (it must also be fault-eligible)."""
        return not self.paths or path.startswith(self.paths)

    def oversizes(self, path: str) -> bool:
        """Whether a response for `path` gets the oversized record (if it holds it)."""
        return self.oversized_record is not None and (
            not self.oversized_paths or path.startswith(self.oversized_paths)
        )


@dataclass(frozen=True, slots=True)
class FaultPlan:
    """What happens to one request. The server applies the transport faults (`slow_body` among
    them); the app reads `duplicate_rows` and the `*_while_paging` faults, which only make sense
    to a paging endpoint (on a page after the first)."""

    throttle: bool = False
    retry_after_s: float | None = None
    error_status: int | None = None
    truncate: bool = False
    slow: bool = False
    delay_s: float = 0.0
    duplicate_rows: bool = False
    modify_while_paging: bool = False
    delete_while_paging: bool = False
    insert_while_paging: bool = False
    slow_body_byte_s: float | None = None  # set: the body is sent one byte every this many s
    oversized_record: tuple[str, object] | None = None  # (field, value): the record to pad
    oversized_field: str = "notes"
    oversized_bytes: int = 0

    @property
    def pages(self) -> bool:
        """Whether the app has a paging fault to apply: only then need it know the rows it
        served before this page."""
        return (
            self.duplicate_rows
            or self.modify_while_paging
            or self.delete_while_paging
            or self.insert_while_paging
        )

    @property
    def changes_data(self) -> bool:
        """Whether the source changes the listing's data before this page is served."""
        return self.delete_while_paging or self.insert_while_paging


NO_FAULTS = FaultPlan()


class FaultState:
    """One FaultConfig in force: its request counter and what is left of its 429 burst."""

    def __init__(self, config: FaultConfig) -> None:
        self.config = config
        self._lock = threading.Lock()
        self._seq = 0
        self._burst_left = config.burst_429
        self._every = None if config.draws else self._draw(0)

    def next_plan(self) -> FaultPlan:
        if self._every is not None:  # nothing to draw: no hashing, no counting
            return self._every
        with self._lock:
            self._seq += 1
            seq = self._seq
            throttle = self._burst_left > 0
            if throttle:
                self._burst_left -= 1
        return self._draw(seq, throttle=throttle)

    def _draw(self, seq: int, *, throttle: bool = False) -> FaultPlan:
        """Request `seq`'s plan; `throttle`: it falls in the 429 burst."""
        config = self.config

        def hit(knob: str, rate: float) -> bool:
            return _unit(config.seed, seq, knob) < rate

        error_status = None
        if not throttle and hit("error", config.error_rate):
            pick = int(_unit(config.seed, seq, "error_status") * len(ERROR_STATUSES))
            error_status = ERROR_STATUSES[pick]
        slow = hit("slow", config.slow_rate)
        return FaultPlan(
            throttle=throttle,
            retry_after_s=config.retry_after_s if throttle else None,
            error_status=error_status,
            truncate=hit("truncate", config.truncate_rate),
            slow=slow,
            delay_s=config.latency_s + (config.slow_s if slow else 0.0),
            duplicate_rows=hit("duplicate_rows", config.duplicate_rows_rate),
            modify_while_paging=hit("modify_while_paging", config.modify_while_paging),
            delete_while_paging=hit("delete_while_paging", config.delete_while_paging),
            insert_while_paging=hit("insert_while_paging", config.insert_while_paging),
            slow_body_byte_s=(
                config.slow_body_byte_s if hit("slow_body", config.slow_body_rate) else None
            ),
            oversized_record=config.oversized_record,
            oversized_field=config.oversized_field,
            oversized_bytes=config.oversized_bytes,
        )


def _unit(seed: int, seq: int, knob: str) -> float:
    """A uniform number in [0, 1) fixed by its arguments."""
    digest = hashlib.blake2b(f"{seed}:{seq}:{knob}".encode(), digest_size=8).digest()
    return int.from_bytes(digest, "big") / 2**64
