"""A connection: one entry of the connections file, the keys every source's entries share.

Each source's config model (`connectors/<source>/config.py`) subclasses `ConnectionConfig` with
its `source` tag and its own keys, and says which connector settings a real account's entry
gives (`account_settings`). Secrets are never in the file: an entry names the environment
variables that hold them, read when the connection opens.
"""

from __future__ import annotations

import dataclasses
import functools
import os
import re
from datetime import timedelta
from pathlib import Path
from typing import Annotated, ClassVar, Literal
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

import pydantic
from croniter import croniter

from connectors.errors import ConfigurationError
from connectors.http import DEFAULT_RETRY
from connectors.limits import Limit

__all__ = [
    "DEFAULT_MAX_RECORD_BYTES",
    "DEFAULT_STREAM_DEADLINE",
    "ConnectionConfig",
    "ConnectionId",
]

DEFAULT_MAX_RECORD_BYTES = 2**20
DEFAULT_STREAM_DEADLINE = timedelta(hours=2)

_CONNECTION_ID = re.compile(r"^[a-z0-9][a-z0-9_-]{0,62}$")


def _connection_id(value: str) -> str:
    if not _CONNECTION_ID.match(value):
        raise ValueError(
            f"connection id {value!r} must be 1-63 lowercase letters, digits, '-' or '_', "
            "starting with a letter or digit (it names directories and Dagster partitions)"
        )
    return value


ConnectionId = Annotated[str, pydantic.AfterValidator(_connection_id)]


@functools.cache  # connections mostly share a few crons, and a check costs 0.4 ms
def _is_cron(value: str) -> bool:
    return len(value.split()) == 5 and bool(croniter.is_valid(value))


def _cron(value: str) -> str:
    if not _is_cron(value):
        raise ValueError(
            f"{value!r} is not a cron expression of five fields (minute hour day-of-month "
            "month day-of-week), e.g. '0 */6 * * *'"
        )
    return value


def _time_zone(value: str) -> str:
    try:
        ZoneInfo(value)
    except (ZoneInfoNotFoundError, ValueError, OSError):  # OSError: a folder such as 'America'
        raise ValueError(
            f"{value!r} is not an IANA time zone name, e.g. 'UTC' or 'Australia/Sydney'"
        ) from None
    return value


class ConnectionConfig(pydantic.BaseModel):
    model_config = pydantic.ConfigDict(extra="forbid", frozen=True)
    # The source's bounded keys (its settings module's LIMITS), passed to the connector as set.
    limits: ClassVar[dict[str, Limit]] = {}

    id: ConnectionId
    source: str  # each source's model narrows it to its own name, the union's tag
    sandbox: Literal["embedded"] | None = None
    # An embedded sandbox serving this ledger file (docs/ledger-files.md) instead of a
    # generated ledger; relative to the connections file.
    sandbox_ledger: Path | None = None
    lookback_minutes: Annotated[int, pydantic.Field(ge=0, le=7 * 24 * 60)] = 15
    sync_cron: Annotated[str, pydantic.AfterValidator(_cron)] = "0 */6 * * *"
    timezone: Annotated[str, pydantic.AfterValidator(_time_zone)] = "UTC"
    max_staleness_hours: Annotated[float, pydantic.Field(gt=0)] = 24.0
    # Deletes only show in a complete listing: one at least this often (ids only where the API
    # allows), and on every full refresh. 0 lists completely on every sync.
    full_key_reconciliation_hours: Annotated[float, pydantic.Field(ge=0)] = 24.0
    # Patience with a slow or failing source; unset keeps the source's defaults.
    timeout_s: Annotated[float, pydantic.Field(gt=0)] | None = None
    response_deadline_s: Annotated[float, pydantic.Field(gt=0)] | None = None  # headers + body
    max_attempts: Annotated[int, pydantic.Field(ge=1, le=20)] | None = None
    retry_backoff_s: Annotated[float, pydantic.Field(ge=0)] | None = None
    # A record larger than this (bytes of JSON) is quarantined, never loaded whole.
    max_record_bytes: Annotated[int, pydantic.Field(ge=1024)] = DEFAULT_MAX_RECORD_BYTES
    # A stream's sync stops between two pages past this; what it fetched stays loaded.
    stream_deadline_s: Annotated[float, pydantic.Field(gt=0)] = (
        DEFAULT_STREAM_DEADLINE.total_seconds()
    )
    # Extract the connection's independent streams at the same time, within its one rate
    # budget (each with its own pages in flight); false: one stream after another.
    streams_side_by_side: bool = True

    @pydantic.model_validator(mode="after")
    def _ledger_only_embedded(self) -> ConnectionConfig:
        if self.sandbox_ledger is not None and self.sandbox != "embedded":
            raise ValueError("sandbox_ledger needs sandbox: embedded (it is what that serves)")
        return self

    def connector_settings(self) -> dict[str, object]:
        """The connector settings this entry gives whether it is a sandbox or a real account:
        the page size, a source's other limits, and the timeout and retry overrides."""
        settings: dict[str, object] = {"connection_id": self.id}
        settings.update((name, getattr(self, name)) for name in self.limits)
        if self.timeout_s is not None:
            settings["timeout_s"] = self.timeout_s
        if self.response_deadline_s is not None:
            settings["response_deadline_s"] = self.response_deadline_s
        if self.max_attempts is not None or self.retry_backoff_s is not None:
            settings["retry"] = dataclasses.replace(
                DEFAULT_RETRY,
                max_attempts=self.max_attempts or DEFAULT_RETRY.max_attempts,
                backoff_initial_s=(
                    DEFAULT_RETRY.backoff_initial_s
                    if self.retry_backoff_s is None
                    else self.retry_backoff_s
                ),
            )
        return settings

    def account_settings(self) -> dict[str, object]:
        """The connector settings that reach a real account: its address, its request budget,
        and its secrets, read from the environment now."""
        raise NotImplementedError(f"{type(self).__name__} must say how its account is reached")

    def credential_variables(self) -> tuple[str, ...]:
        """The environment variables a real account's secrets are read from."""
        return ()

    def secret(self, variable: str) -> str:
        """A secret from the environment, or an error naming the connection and the fix."""
        value = os.environ.get(variable)
        if not value:
            raise ConfigurationError(
                f"the environment variable {variable} is not set",
                source=self.source,
                connection_id=self.id,
                hint=f"export {variable}=… (see README, 'Connecting real accounts'), or name "
                "another variable in the connections file",
            )
        return value
