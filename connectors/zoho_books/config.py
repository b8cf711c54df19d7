"""A Zoho Books connection: one organization, read by an OAuth client with a refresh token."""

from __future__ import annotations

from typing import Annotated, ClassVar, Literal

import pydantic

from connectors.connection import ConnectionConfig
from connectors.limits import Limit

from .settings import DATA_CENTRES, DEFAULT_PAYMENT_DETAIL_SAMPLE, LIMITS, PaymentDetails

__all__ = ["ZohoBooksConnectionConfig"]


class ZohoBooksConnectionConfig(ConnectionConfig):
    limits: ClassVar[dict[str, Limit]] = LIMITS

    source: Literal["zoho_books"]
    organization_id: str | None = None
    data_centre: Literal[tuple(DATA_CENTRES)] = "com"  # type: ignore[valid-type]
    api_url: str | None = None
    accounts_url: str | None = None
    client_id_env: str = "ZOHO_CLIENT_ID"
    client_secret_env: str = "ZOHO_CLIENT_SECRET"
    refresh_token_env: str = "ZOHO_REFRESH_TOKEN"
    page_size: int = LIMITS["page_size"].field()
    requests_per_minute: int = LIMITS["requests_per_minute"].field()  # Zoho's per-org limit
    # derive: a payment's applications from its list row where that is exact, a detail request
    # for the rest (fetch_all: one per payment); the share of derived payments fetched anyway
    # to verify them.
    payment_details: PaymentDetails = "derive"
    payment_detail_sample: Annotated[float, pydantic.Field(ge=0, le=1)] = (
        DEFAULT_PAYMENT_DETAIL_SAMPLE
    )

    @pydantic.model_validator(mode="after")
    def _organization_unless_sandbox(self) -> ZohoBooksConnectionConfig:
        if self.sandbox is None and not self.organization_id:
            raise ValueError(
                "organization_id is required for a real Zoho account (Zoho Books → Settings → "
                "Organization Profile → Organization ID)"
            )
        return self

    def connector_settings(self) -> dict[str, object]:
        """A sandbox's or a real organization's: how payment details are read, as well."""
        return {
            **super().connector_settings(),
            "payment_details": self.payment_details,
            "payment_detail_sample": self.payment_detail_sample,
        }

    def account_settings(self) -> dict[str, object]:
        api_url, accounts_url = DATA_CENTRES[self.data_centre]
        return {
            "organization_id": str(self.organization_id),
            "client_id": self.secret(self.client_id_env),
            "client_secret": self.secret(self.client_secret_env),
            "refresh_token": self.secret(self.refresh_token_env),
            "api_url": self.api_url or api_url,
            "accounts_url": self.accounts_url or accounts_url,
        }

    def credential_variables(self) -> tuple[str, ...]:
        return (self.client_id_env, self.client_secret_env, self.refresh_token_env)
