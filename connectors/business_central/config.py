"""A Business Central connection: one company, read by an Entra app registration (client
credentials)."""

from __future__ import annotations

from typing import ClassVar, Literal

import pydantic

from connectors.connection import ConnectionConfig
from connectors.limits import Limit

from .settings import API_URL, AUTHORITY_URL, LIMITS

__all__ = ["BusinessCentralConnectionConfig"]


class BusinessCentralConnectionConfig(ConnectionConfig):
    """One Business Central company, read by an Entra app registration (client credentials)."""

    limits: ClassVar[dict[str, Limit]] = LIMITS

    source: Literal["business_central"]
    tenant: str | None = None  # Entra tenant id or domain (contoso.onmicrosoft.com)
    environment: str = "production"
    company_id: str | None = None  # pin the company by id, or
    company_name: str | None = None  # by name; neither: the environment's only company
    api_url: str | None = None
    authority_url: str | None = None
    client_id_env: str = "BC_CLIENT_ID"
    client_secret_env: str = "BC_CLIENT_SECRET"
    page_size: int = LIMITS["page_size"].field()
    requests_per_five_minutes: int = LIMITS["requests_per_five_minutes"].field()  # per user
    max_in_flight: int = LIMITS["max_in_flight"].field()  # BC runs 5 at once per user

    @pydantic.model_validator(mode="after")
    def _tenant_unless_sandbox(self) -> BusinessCentralConnectionConfig:
        if self.sandbox is None and not self.tenant:
            raise ValueError(
                "tenant is required for a real Business Central environment (the Entra tenant "
                "id or domain: Business Central → Help and Support → Troubleshooting)"
            )
        if self.company_id is not None and self.company_name is not None:
            raise ValueError("set company_id or company_name, not both")
        return self

    def account_settings(self) -> dict[str, object]:
        return {
            "tenant": str(self.tenant),
            "environment": self.environment,
            "client_id": self.secret(self.client_id_env),
            "client_secret": self.secret(self.client_secret_env),
            "company_id": self.company_id,
            "company_name": self.company_name,
            "api_url": self.api_url or API_URL,
            "authority_url": self.authority_url or AUTHORITY_URL,
        }

    def credential_variables(self) -> tuple[str, ...]:
        return (self.client_id_env, self.client_secret_env)
