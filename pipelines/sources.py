"""Opening a configured connection: its connector, with its settings from the connections file,
or from its embedded sandbox. Which sources exist is `pipelines.registry`'s business."""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager

from connectors.errors import AuthenticationError
from connectors.ratelimit import BudgetStore
from connectors.streams import Connector
from connectors.token_store import TokenStore
from pipelines.config import ConnectionConfig
from pipelines.registry import SOURCES
from pipelines.sandboxes import embedded_settings

__all__ = ["connected", "open_connector"]


def open_connector(
    connection: ConnectionConfig,
    rate_budget: BudgetStore | None = None,
    tokens: TokenStore | None = None,
) -> Connector:
    """The connection's connector. A `sandbox: embedded` connection reaches its sandbox's
    account (with the sandbox's request budget); a real one, the account its entry names, with
    secrets read from the environment now. Its rate budget is kept in `rate_budget` (the
    connections file's `LedgersyncConfig.budget_store()`), or in this process; a refresh token
    the source rotates, in `tokens` (`LedgersyncConfig.token_store()`), or in memory."""
    reached = (
        embedded_settings(connection)
        if connection.sandbox == "embedded"
        else connection.account_settings()
    )
    settings = {**connection.connector_settings(), **reached}
    return SOURCES[connection.source].open(settings, rate_budget, tokens)


@contextmanager
def connected(
    connection: ConnectionConfig,
    rate_budget: BudgetStore | None = None,
    tokens: TokenStore | None = None,
) -> Iterator[Connector]:
    """The connection's connector, closed on exit. When the source refuses the credentials, the
    fix names the environment variables that hold them."""
    connector = open_connector(connection, rate_budget, tokens)
    try:
        yield connector
    except AuthenticationError as error:
        embedded = connection.sandbox == "embedded"
        variables = () if embedded else connection.credential_variables()
        if variables and error.status_code != 403:
            error.hint = (
                f"check {_listed(variables)}, the credentials of connection {connection.id!r}: "
                "they may be mistyped, expired or revoked"
            )
        raise
    finally:
        connector.close()


def _listed(names: tuple[str, ...]) -> str:
    return names[0] if len(names) == 1 else f"{', '.join(names[:-1])} and {names[-1]}"
