"""Configuration of a Simpro sandbox: one build, its companies, credentials and limits."""

from __future__ import annotations

import time
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from typing import Any, Literal
from zoneinfo import ZoneInfo

from sandbox.ledger import Ledger
from sandbox.replay import Replay

ModifiedFilter = Literal["date", "timestamp"]
TimestampStyle = Literal["rfc3339", "short"]


@dataclass(frozen=True, slots=True)
class OAuthClient:
    """An API application's client-credentials pair."""

    client_id: str = "sandbox-simpro-client"
    client_secret: str = "sandbox-simpro-secret"


@dataclass(frozen=True)
class SimproConfig:
    """One build. Companies get IDs 0, 1, ... in order (a single-company build has only 0).

    `modified_filter` is how `DateModified=gt(...)` reads its operand, which is UNCONFIRMED for
    the real API: "date" accepts only `YYYY-MM-DD` and compares the build-local day of each
    row (so `gt(2026-10-01)` starts on 2 October); "timestamp" also accepts
    `YYYY-MM-DDTHH:MM:SS[offset]` and reads a bare date as that day's local midnight.
    `timestamp_style` picks the documented RFC 3339 form (`2018-05-21T19:53:39+10:00`) or the
    form some builds send (`2026-08-30 09:12:44+10`). `payment_status` is the US builds'
    `Payment.Status`: void payments are served as "Failed"; without it they are not served.
    `unknown_columns` are columns this build does not know (an older build): asking for one
    is a 422.
    """

    companies: tuple[str, ...] = ("Sandbox Company",)
    ledgers: Mapping[str, Ledger] = field(default_factory=dict)  # else generate_ledger(name)
    replays: Mapping[str, Replay] = field(default_factory=dict)  # ledger files served as they are
    ledger_size: Mapping[str, Any] = field(default_factory=dict)  # generate_ledger keywords
    timezone: str = "Australia/Sydney"
    api_keys: tuple[str, ...] = ("sandbox-simpro-api-key",)
    client: OAuthClient = OAuthClient()
    expires_in: int = 3600  # access-token lifetime, seconds
    rate_limit: int = 10  # requests per build per rate_window_s
    rate_window_s: float = 1.0
    default_page_size: int = 30
    max_page_size: int = 250
    modified_filter: ModifiedFilter = "date"
    timestamp_style: TimestampStyle = "rfc3339"
    payment_status: bool = True
    unknown_columns: frozenset[str] = frozenset()
    clock: Callable[[], float] = time.monotonic  # token expiry and the rate window

    def __post_init__(self) -> None:
        if not self.companies or len(set(self.companies)) != len(self.companies):
            raise ValueError("companies must be non-empty and unique")
        unknown = (set(self.ledgers) | set(self.replays)) - set(self.companies)
        if unknown:
            raise ValueError(f"ledgers/replays for unknown companies: {sorted(unknown)}")
        if not 1 <= self.default_page_size <= self.max_page_size:
            raise ValueError("default_page_size must be in 1..max_page_size")
        ZoneInfo(self.timezone)  # fails early on a zone name that does not exist
