"""Configuration of a Zoho Books sandbox: organizations, the OAuth client, limits."""

from __future__ import annotations

import hashlib
import time
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from datetime import timedelta, timezone
from decimal import Decimal
from typing import Any

from sandbox.ledger import Ledger
from sandbox.replay import Replay

# Zones without daylight saving, so one fixed offset is right all year.
ZONES: tuple[tuple[str, str], ...] = (
    ("-0400", "America/Caracas"),
    ("+0530", "Asia/Kolkata"),
    ("-0500", "America/Bogota"),
    ("+0000", "UTC"),
    ("+0100", "Africa/Lagos"),
    ("+0800", "Asia/Singapore"),
    ("+1000", "Australia/Brisbane"),
    ("-0300", "America/Sao_Paulo"),
    ("-0600", "America/Regina"),
    ("+0900", "Asia/Tokyo"),
)


@dataclass(frozen=True, slots=True)
class OAuthClient:
    client_id: str = "1000.SANDBOXCLIENTID"
    client_secret: str = "sandbox-client-secret"
    refresh_token: str = "1000.sandbox.refresh-token"


@dataclass(frozen=True, slots=True)
class OrgZone:
    offset: str  # "+0530"
    name: str  # "Asia/Kolkata"

    @property
    def tzinfo(self) -> timezone:
        sign = -1 if self.offset[0] == "-" else 1
        hours, minutes = int(self.offset[1:3]), int(self.offset[3:5])
        return timezone(sign * timedelta(hours=hours, minutes=minutes))


def org_zone(org_name: str) -> OrgZone:
    """The organization's time zone, fixed by its name."""
    digest = hashlib.blake2b(f"zone:{org_name}".encode(), digest_size=8).digest()
    return OrgZone(*ZONES[int.from_bytes(digest, "big") % len(ZONES)])


@dataclass(frozen=True)
class ZohoConfig:
    organizations: tuple[str, ...] = ("Sandbox Books",)  # names; the first is the default org
    ledgers: Mapping[str, Ledger] = field(default_factory=dict)  # else generate_ledger(name)
    replays: Mapping[str, Replay] = field(default_factory=dict)  # ledger files served as they are
    ledger_size: Mapping[str, Any] = field(default_factory=dict)  # generate_ledger keywords
    zones: Mapping[str, OrgZone] = field(default_factory=dict)  # else org_zone(name)
    client: OAuthClient = OAuthClient()
    expires_in: int = 3600  # access-token lifetime, seconds
    token_limit: int | None = None  # token grants per token_window_s before "Access Denied"
    token_window_s: float = 600.0
    # Each grant issues a new refresh token and revokes the one it used, as QuickBooks Online
    # and Xero do: a client that does not keep the newest is refused on its next grant.
    rotate_refresh_tokens: bool = False
    rate_limit: int = 100  # requests per organization per rate_window_s
    rate_window_s: float = 60.0
    rate_window_sliding: bool = False
    rate_limit_retry_after: bool = True  # send Retry-After on the per-window 429
    daily_cap: int = 1000  # calls per organization per day (the Free plan's cap)
    # UNCONFIRMED (SOURCES.md §3.1): the organization given in the X-com-zoho-books-
    # organizationid header, as many clients send it, instead of the query parameter.
    organization_header: bool = True
    # Planted: every payment detail states its first application this much lower than the
    # ledger and the payment's list row imply, a disagreement no list row can show (what the
    # verification of derived applications must catch). 0: details as the ledger has them.
    detail_understatement: Decimal = Decimal(0)
    max_per_page: int = 200
    page_size: int = 200  # per_page when the client sends none
    clock: Callable[[], float] = time.monotonic  # token expiry and quotas; tests move it

    def __post_init__(self) -> None:
        if not self.organizations or len(set(self.organizations)) != len(self.organizations):
            raise ValueError("organizations must be non-empty and unique")
        unknown = (set(self.ledgers) | set(self.zones) | set(self.replays)) - set(
            self.organizations
        )
        if unknown:
            raise ValueError(f"ledgers/zones/replays for unknown organizations: {sorted(unknown)}")
        if not 1 <= self.page_size <= self.max_per_page:
            raise ValueError("page_size must be in 1..max_per_page")
