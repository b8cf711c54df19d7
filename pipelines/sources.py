"""The registry of sources: what each one declares, and how a configured connection opens.

Adding a source means a folder under connectors/, a config model in pipelines.config, and one
entry here; the Dagster assets, jobs and schedules are generated from this registry.
"""

from __future__ import annotations

import dataclasses
import os
import string
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from typing import Any

from connectors.business_central import settings as bc_settings
from connectors.business_central.connector import (
    BusinessCentralConnector,
    BusinessCentralSettings,
)
from connectors.business_central.mapping import MAPPINGS as BC_MAPPINGS
from connectors.carbon import settings as carbon_settings
from connectors.carbon.connector import CarbonConnector, CarbonSettings
from connectors.carbon.mapping import MAPPINGS as CARBON_MAPPINGS
from connectors.errors import AuthenticationError, ConfigurationError
from connectors.http import DEFAULT_RETRY
from connectors.ratelimit import BudgetStore
from connectors.simpro import settings as simpro_settings
from connectors.simpro.connector import SimproConnector, SimproSettings
from connectors.simpro.mapping import MAPPINGS as SIMPRO_MAPPINGS
from connectors.streams import Connector, Stream
from connectors.zoho_books import settings as zoho_settings
from connectors.zoho_books.connector import ZohoBooksConnector, ZohoBooksSettings
from connectors.zoho_books.mapping import MAPPINGS as ZOHO_MAPPINGS
from models.mapping import Mapping
from pipelines import sandboxes
from pipelines.config import (
    BusinessCentralConnectionConfig,
    CarbonConnectionConfig,
    ConnectionConfig,
    SimproConnectionConfig,
    ZohoBooksConnectionConfig,
)

__all__ = [
    "SOURCES",
    "SourceSpec",
    "connected",
    "credential_variables",
    "http_settings",
    "open_connector",
    "read_secret",
]


@dataclass(frozen=True)
class SourceSpec:
    name: str
    title: str
    streams: tuple[Stream, ...]
    mappings: tuple[Mapping, ...]
    open: Callable[[ConnectionConfig, BudgetStore | None], Connector]

    def streams_read_by(self, mapping: Mapping) -> list[str]:
        """The raw streams a mapping's relation reads (its `{stream}` placeholders)."""
        return [name for _, name, _, _ in string.Formatter().parse(mapping.relation) if name]


def read_secret(connection: ConnectionConfig, variable: str) -> str:
    """A secret from the environment, or an error naming the connection and the fix."""
    value = os.environ.get(variable)
    if not value:
        raise ConfigurationError(
            f"the environment variable {variable} is not set",
            source=connection.source,
            connection_id=connection.id,
            hint=f"export {variable}=… (see README, 'Connecting real accounts'), or name "
            "another variable in the connections file",
        )
    return value


def http_settings(connection: ConnectionConfig) -> dict[str, object]:
    """The connection's timeout and retry overrides, as connector settings keywords."""
    settings: dict[str, object] = {}
    if connection.timeout_s is not None:
        settings["timeout_s"] = connection.timeout_s
    if connection.response_deadline_s is not None:
        settings["response_deadline_s"] = connection.response_deadline_s
    retry = {
        name: value
        for name, value in (
            ("max_attempts", connection.max_attempts),
            ("backoff_initial_s", connection.retry_backoff_s),
        )
        if value is not None
    }
    if retry:
        settings["retry"] = dataclasses.replace(DEFAULT_RETRY, **retry)
    return settings


# Each source's settings differ between a `sandbox: embedded` connection (an account on a local
# server, with a generous request budget) and a real account (the connections file, plus
# secrets from the environment); the values below are the ones that differ. Keywords a branch
# leaves out keep the settings' defaults.


def _zoho_books_values(connection: ZohoBooksConnectionConfig) -> dict[str, Any]:
    details = {
        "payment_details": connection.payment_details,
        "payment_detail_sample": connection.payment_detail_sample,
    }
    if connection.sandbox == "embedded":
        account = sandboxes.zoho_books_account(connection.id, connection.sandbox_ledger)
        return {
            "organization_id": account.organization_id,
            "client_id": account.client_id,
            "client_secret": account.client_secret,
            "refresh_token": account.refresh_token,
            "api_url": account.api_url,
            "accounts_url": account.accounts_url,
            "requests_per_minute": sandboxes.EMBEDDED_REQUESTS_PER_MINUTE,
            **details,
        }
    api_url, accounts_url = zoho_settings.DATA_CENTRES[connection.data_centre]
    return {
        "organization_id": str(connection.organization_id),
        "client_id": read_secret(connection, connection.client_id_env),
        "client_secret": read_secret(connection, connection.client_secret_env),
        "refresh_token": read_secret(connection, connection.refresh_token_env),
        "api_url": connection.api_url or api_url,
        "accounts_url": connection.accounts_url or accounts_url,
        "requests_per_minute": connection.requests_per_minute,
        **details,
    }


def _business_central_values(connection: BusinessCentralConnectionConfig) -> dict[str, Any]:
    if connection.sandbox == "embedded":
        account = sandboxes.business_central_account(connection.id, connection.sandbox_ledger)
        return {
            "tenant": account.tenant,
            "environment": account.environment,
            "client_id": account.client_id,
            "client_secret": account.client_secret,
            "company_id": account.company_id,
            "api_url": account.api_url,
            "authority_url": account.authority_url,
            "requests_per_five_minutes": sandboxes.EMBEDDED_REQUESTS_PER_MINUTE * 5,
        }
    return {
        "tenant": str(connection.tenant),
        "environment": connection.environment,
        "client_id": read_secret(connection, connection.client_id_env),
        "client_secret": read_secret(connection, connection.client_secret_env),
        "company_id": connection.company_id,
        "company_name": connection.company_name,
        "api_url": connection.api_url or bc_settings.API_URL,
        "authority_url": connection.authority_url or bc_settings.AUTHORITY_URL,
        "requests_per_five_minutes": connection.requests_per_five_minutes,
        "max_in_flight": connection.max_in_flight,
    }


def _simpro_values(connection: SimproConnectionConfig) -> dict[str, Any]:
    if connection.sandbox == "embedded":
        account = sandboxes.simpro_account(connection.id, connection.sandbox_ledger)
        return {
            "build_url": account.build_url,
            "company_id": account.company_id,
            "api_key": account.api_key,
            "requests_per_second": sandboxes.EMBEDDED_REQUESTS_PER_SECOND,
            "max_concurrent_requests": connection.max_concurrent_requests,
        }
    oauth = connection.auth == "oauth"
    return {
        "build_url": str(connection.build_url),
        "company_id": connection.company_id,
        "api_key": None if oauth else read_secret(connection, connection.api_key_env),
        "client_id": read_secret(connection, connection.client_id_env) if oauth else None,
        "client_secret": read_secret(connection, connection.client_secret_env) if oauth else None,
        "requests_per_second": connection.requests_per_second,
        "max_concurrent_requests": connection.max_concurrent_requests,
    }


def _carbon_values(connection: CarbonConnectionConfig) -> dict[str, Any]:
    if connection.sandbox == "embedded":
        account = sandboxes.carbon_account(connection.id, connection.sandbox_ledger)
        return {
            "api_key": account.api_key,
            "api_url": account.api_url,
            "requests_per_minute": sandboxes.EMBEDDED_REQUESTS_PER_MINUTE,
            "max_concurrent_requests": connection.max_concurrent_requests,
        }
    return {
        "api_key": read_secret(connection, connection.api_key_env),
        "api_url": connection.api_url,
        "self_hosted": connection.self_hosted,
        "requests_per_minute": connection.requests_per_minute,
        "max_concurrent_requests": connection.max_concurrent_requests,
    }


def _opener(
    config_type: type[ConnectionConfig],
    values: Callable[[Any], dict[str, Any]],
    settings_type: Callable[..., Any],
    connector_type: Callable[[Any], Connector],
) -> Callable[[ConnectionConfig, BudgetStore | None], Connector]:
    """How a source's connections open: its settings from the values above, the page size, the
    connection's timeout and retry overrides, and where its rate budget is kept."""

    def open_(connection: ConnectionConfig, rate_budget: BudgetStore | None) -> Connector:
        assert isinstance(connection, config_type)
        settings = settings_type(
            connection_id=connection.id,
            page_size=connection.page_size,
            rate_budget=rate_budget,
            **values(connection),
            **http_settings(connection),
        )
        return connector_type(settings)

    return open_


SOURCES: dict[str, SourceSpec] = {
    zoho_settings.SOURCE: SourceSpec(
        name=zoho_settings.SOURCE,
        title="Zoho Books",
        streams=zoho_settings.STREAMS,
        mappings=ZOHO_MAPPINGS,
        open=_opener(
            ZohoBooksConnectionConfig, _zoho_books_values, ZohoBooksSettings, ZohoBooksConnector
        ),
    ),
    bc_settings.SOURCE: SourceSpec(
        name=bc_settings.SOURCE,
        title="Business Central",
        streams=bc_settings.STREAMS,
        mappings=BC_MAPPINGS,
        open=_opener(
            BusinessCentralConnectionConfig,
            _business_central_values,
            BusinessCentralSettings,
            BusinessCentralConnector,
        ),
    ),
    simpro_settings.SOURCE: SourceSpec(
        name=simpro_settings.SOURCE,
        title="Simpro",
        streams=simpro_settings.STREAMS,
        mappings=SIMPRO_MAPPINGS,
        open=_opener(SimproConnectionConfig, _simpro_values, SimproSettings, SimproConnector),
    ),
    carbon_settings.SOURCE: SourceSpec(
        name=carbon_settings.SOURCE,
        title="Carbon",
        streams=carbon_settings.STREAMS,
        mappings=CARBON_MAPPINGS,
        open=_opener(CarbonConnectionConfig, _carbon_values, CarbonSettings, CarbonConnector),
    ),
}


def open_connector(
    connection: ConnectionConfig, rate_budget: BudgetStore | None = None
) -> Connector:
    """The connection's connector; its rate budget kept in `rate_budget` (the connections file's
    `LedgersyncConfig.budget_store()`), or in this process."""
    return SOURCES[connection.source].open(connection, rate_budget)


@contextmanager
def connected(
    connection: ConnectionConfig, rate_budget: BudgetStore | None = None
) -> Iterator[Connector]:
    """The connection's connector, closed on exit. When the source refuses the credentials, the
    fix names the environment variables that hold them."""
    connector = open_connector(connection, rate_budget)
    try:
        yield connector
    except AuthenticationError as error:
        variables = credential_variables(connection)
        if variables and error.status_code != 403:
            error.hint = (
                f"check {_listed(variables)}, the credentials of connection {connection.id!r}: "
                "they may be mistyped, expired or revoked"
            )
        raise
    finally:
        connector.close()


def credential_variables(connection: ConnectionConfig) -> tuple[str, ...]:
    """The environment variables a connection reads its secrets from (none for a sandbox)."""
    if connection.sandbox == "embedded":
        return ()
    if isinstance(connection, ZohoBooksConnectionConfig):
        return (
            connection.client_id_env,
            connection.client_secret_env,
            connection.refresh_token_env,
        )
    if isinstance(connection, BusinessCentralConnectionConfig):
        return (connection.client_id_env, connection.client_secret_env)
    if isinstance(connection, SimproConnectionConfig) and connection.auth == "oauth":
        return (connection.client_id_env, connection.client_secret_env)
    assert isinstance(connection, SimproConnectionConfig | CarbonConnectionConfig)
    return (connection.api_key_env,)


def _listed(names: tuple[str, ...]) -> str:
    return names[0] if len(names) == 1 else f"{', '.join(names[:-1])} and {names[-1]}"
