"""Configuration of a Carbon sandbox: companies (one API key each), permissions, limits."""

from __future__ import annotations

import time
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from typing import Any

from sandbox.ledger import Ledger
from sandbox.replay import Replay

REQUESTS_PER_MINUTE = 60  # Carbon's documented default per API key
MAX_ROWS = 1000  # db-max-rows in Carbon's Supabase config


@dataclass(frozen=True)
class CarbonConfig:
    companies: tuple[str, ...] = ("Sandbox Manufacturing",)  # names; each has one API key
    ledgers: Mapping[str, Ledger] = field(default_factory=dict)  # else generate_ledger(name)
    ledger_size: Mapping[str, Any] = field(default_factory=dict)  # generate_ledger keywords
    replays: Mapping[str, Replay] = field(default_factory=dict)  # ledger files served as they are
    # Tables a company's key lacks the module permission for: the hosted API answers 403.
    forbidden_tables: Mapping[str, frozenset[str]] = field(default_factory=dict)
    starter_plan: frozenset[str] = frozenset()  # companies without API access: 403 everywhere
    rate_limit: int = REQUESTS_PER_MINUTE  # requests per key per rate_window_s
    rate_window_s: float = 60.0
    max_rows: int | None = MAX_ROWS  # silently caps every response; None is unlimited
    clock: Callable[[], float] = time.monotonic  # quotas; tests move it

    def __post_init__(self) -> None:
        if not self.companies or len(set(self.companies)) != len(self.companies):
            raise ValueError("companies must be non-empty and unique")
        named = (
            set(self.ledgers)
            | set(self.replays)
            | set(self.forbidden_tables)
            | set(self.starter_plan)
        )
        unknown = named - set(self.companies)
        if unknown:
            raise ValueError(f"settings for unknown companies: {sorted(unknown)}")
        if self.max_rows is not None and self.max_rows < 1:
            raise ValueError("max_rows must be >= 1 or None")
