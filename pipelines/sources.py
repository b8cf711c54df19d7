"""The registry of sources: what each one declares, and how a configured connection opens.

Adding a source means a folder under connectors/, a config model in pipelines.config, and one
entry here; the Dagster assets, jobs and schedules are generated from this registry.
"""

from __future__ import annotations

import string
from collections.abc import Callable
from dataclasses import dataclass

import dagster as dg

from connectors.errors import ConfigurationError
from connectors.streams import Connector, Stream
from connectors.zoho_books import settings as zoho_settings
from connectors.zoho_books.connector import ZohoBooksConnector, ZohoBooksSettings
from connectors.zoho_books.mapping import MAPPINGS as ZOHO_MAPPINGS
from models.mapping import Mapping
from pipelines import sandboxes
from pipelines.config import ConnectionConfig, ZohoBooksConnectionConfig

__all__ = ["SOURCES", "SourceSpec", "open_connector", "read_secret"]


@dataclass(frozen=True)
class SourceSpec:
    name: str
    title: str
    streams: tuple[Stream, ...]
    mappings: tuple[Mapping, ...]
    open: Callable[[ConnectionConfig], Connector]

    def streams_read_by(self, mapping: Mapping) -> list[str]:
        """The raw streams a mapping's relation reads (its `{stream}` placeholders)."""
        return [name for _, name, _, _ in string.Formatter().parse(mapping.relation) if name]


def read_secret(connection: ConnectionConfig, variable: str) -> str:
    """A secret from the environment, or an error naming the connection and the fix."""
    value = dg.EnvVar(variable).get_value()
    if not value:
        raise ConfigurationError(
            f"the environment variable {variable} is not set",
            source=connection.source,
            connection_id=connection.id,
            hint=f"export {variable}=… (see README, 'Connecting real accounts'), or name "
            "another variable in the connections file",
        )
    return value


def _open_zoho_books(connection: ConnectionConfig) -> Connector:
    assert isinstance(connection, ZohoBooksConnectionConfig)
    if connection.sandbox == "embedded":
        account = sandboxes.zoho_books_account(connection.id)
        settings = ZohoBooksSettings(
            connection_id=connection.id,
            organization_id=account.organization_id,
            client_id=account.client_id,
            client_secret=account.client_secret,
            refresh_token=account.refresh_token,
            api_url=account.api_url,
            accounts_url=account.accounts_url,
            page_size=connection.page_size,
            requests_per_minute=sandboxes.EMBEDDED_REQUESTS_PER_MINUTE,
        )
    else:
        api_url, accounts_url = zoho_settings.DATA_CENTRES[connection.data_centre]
        settings = ZohoBooksSettings(
            connection_id=connection.id,
            organization_id=str(connection.organization_id),
            client_id=read_secret(connection, connection.client_id_env),
            client_secret=read_secret(connection, connection.client_secret_env),
            refresh_token=read_secret(connection, connection.refresh_token_env),
            api_url=connection.api_url or api_url,
            accounts_url=connection.accounts_url or accounts_url,
            page_size=connection.page_size,
            requests_per_minute=connection.requests_per_minute,
        )
    return ZohoBooksConnector(settings)


SOURCES: dict[str, SourceSpec] = {
    zoho_settings.SOURCE: SourceSpec(
        name=zoho_settings.SOURCE,
        title="Zoho Books",
        streams=zoho_settings.STREAMS,
        mappings=ZOHO_MAPPINGS,
        open=_open_zoho_books,
    ),
}


def open_connector(connection: ConnectionConfig) -> Connector:
    return SOURCES[connection.source].open(connection)
