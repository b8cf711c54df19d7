"""A Simpro connection: one company on a build, read with an API key or an OAuth client."""

from __future__ import annotations

from typing import Annotated, ClassVar, Literal

import pydantic

from connectors.connection import ConnectionConfig
from connectors.limits import Limit

from .settings import LIMITS

__all__ = ["SimproConnectionConfig"]


class SimproConnectionConfig(ConnectionConfig):
    """One company on a Simpro build, read with an API key or an OAuth client."""

    limits: ClassVar[dict[str, Limit]] = LIMITS

    source: Literal["simpro"]
    build_url: str | None = None  # https://<build>.simprosuite.com
    company_id: Annotated[int, pydantic.Field(ge=0)] | None = None  # None: the build's only one
    auth: Literal["api_key", "oauth"] = "api_key"
    api_key_env: str = "SIMPRO_API_KEY"
    client_id_env: str = "SIMPRO_CLIENT_ID"
    client_secret_env: str = "SIMPRO_CLIENT_SECRET"
    page_size: int = LIMITS["page_size"].field()
    requests_per_second: int = LIMITS["requests_per_second"].field()  # Simpro's per-build limit
    max_concurrent_requests: int = LIMITS["max_concurrent_requests"].field()  # pages in flight

    @pydantic.model_validator(mode="after")
    def _build_unless_sandbox(self) -> SimproConnectionConfig:
        if self.sandbox is None and not self.build_url:
            raise ValueError(
                "build_url is required for a real Simpro build (the address you sign in at, "
                "e.g. https://acme.simprosuite.com)"
            )
        return self

    def account_settings(self) -> dict[str, object]:
        oauth = self.auth == "oauth"
        return {
            "build_url": str(self.build_url),
            "company_id": self.company_id,
            "api_key": None if oauth else self.secret(self.api_key_env),
            "client_id": self.secret(self.client_id_env) if oauth else None,
            "client_secret": self.secret(self.client_secret_env) if oauth else None,
        }

    def credential_variables(self) -> tuple[str, ...]:
        if self.auth == "oauth":
            return (self.client_id_env, self.client_secret_env)
        return (self.api_key_env,)
