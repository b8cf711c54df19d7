"""Configuration of a Business Central sandbox: tenant, environment, companies, the Entra app,
journals, limits."""

from __future__ import annotations

import time
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from typing import Any

from sandbox.ledger import Ledger
from sandbox.replay import Replay


@dataclass(frozen=True, slots=True)
class EntraApp:
    """The app registration a service connects as (client-credentials grant)."""

    client_id: str = "5d2a7c1e-0b7f-4c3e-9a61-2f0c8b4d9e10"
    client_secret: str = "sandbox~bc~client~secret"


@dataclass(frozen=True, slots=True)
class Journal:
    code: str  # the journal batch name, e.g. CASHRCPT
    display_name: str


@dataclass(frozen=True)
class BusinessCentralConfig:
    tenant: str = "3f9b2c1a-7d4e-4f60-8a2b-9c1d0e5f6a7b"  # the Entra tenant id
    environment: str = "production"
    companies: tuple[str, ...] = ("CRONUS USA, Inc.",)  # names; each gets its own ledger
    ledgers: Mapping[str, Ledger] = field(default_factory=dict)  # else generate_ledger(name)
    replays: Mapping[str, Replay] = field(default_factory=dict)  # ledger files served as they are
    ledger_size: Mapping[str, Any] = field(default_factory=dict)  # generate_ledger keywords
    app: EntraApp = EntraApp()
    expires_in: int = 3599  # access-token lifetime, seconds (Entra's usual)
    # Customer payments are spread over these journals, by payment id.
    journals: tuple[Journal, ...] = (
        Journal("CASHRCPT", "Cash receipts"),
        Journal("BANKRCPT", "Bank receipts"),
    )
    negative_payment_amounts: bool = True  # BC journals hold receipts as credits
    rate_limit: int = 6000  # requests per user per rate_window_s (sliding)
    rate_window_s: float = 300.0
    rate_limit_retry_after: bool = True  # send Retry-After on the budget's 429
    retry_after_5xx_s: float | None = 1.0  # `retry-after` on 5xx answers (BC sends it on 503)
    max_concurrent: int = 5  # requests of a user processed at once; more wait in a queue
    max_queued: int = 95  # beyond this queue a request is answered 429
    page_size: int = 20_000  # when the client states no odata.maxpagesize
    max_page_size: int = 20_000
    repeat_next_link: bool = False  # a paging bug: every page links to page 2 again
    clock: Callable[[], float] = time.monotonic  # token expiry and the rate window

    def __post_init__(self) -> None:
        if not self.companies or len(set(self.companies)) != len(self.companies):
            raise ValueError("companies must be non-empty and unique")
        unknown = (set(self.ledgers) | set(self.replays)) - set(self.companies)
        if unknown:
            raise ValueError(f"ledgers/replays for unknown companies: {sorted(unknown)}")
        if not self.journals:
            raise ValueError("at least one journal is needed")
        if not 1 <= self.page_size <= self.max_page_size:
            raise ValueError("page_size must be in 1..max_page_size")
