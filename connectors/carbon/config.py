"""A Carbon connection: one company, read with one of its API keys (a key belongs to one
company)."""

from __future__ import annotations

from typing import ClassVar, Literal

from connectors.connection import ConnectionConfig
from connectors.limits import Limit

from .settings import HOSTED_API_URL, LIMITS

__all__ = ["CarbonConnectionConfig"]


class CarbonConnectionConfig(ConnectionConfig):
    """One Carbon company, read with one of its API keys (a key belongs to one company)."""

    limits: ClassVar[dict[str, Limit]] = LIMITS

    source: Literal["carbon"]
    api_url: str = HOSTED_API_URL  # self-hosted: <SUPABASE_URL>/rest/v1
    self_hosted: bool = False  # send the key as `carbon-key` instead of a Bearer token
    api_key_env: str = "CARBON_API_KEY"
    page_size: int = LIMITS["page_size"].field()  # Carbon's max-rows
    requests_per_minute: int = LIMITS["requests_per_minute"].field()  # Carbon's per-key limit
    max_concurrent_requests: int = LIMITS["max_concurrent_requests"].field()  # pages in flight

    def account_settings(self) -> dict[str, object]:
        return {
            "api_key": self.secret(self.api_key_env),
            "api_url": self.api_url,
            "self_hosted": self.self_hosted,
        }

    def credential_variables(self) -> tuple[str, ...]:
        return (self.api_key_env,)
