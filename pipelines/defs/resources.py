"""Dagster resources: the project's configuration and one resource per source."""

from __future__ import annotations

import logging
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import ClassVar

import dagster as dg

from connectors.streams import Connector
from models.landing import LandingZone
from models.warehouse import Warehouse
from pipelines import progress
from pipelines.config import LedgersyncConfig, load_config
from pipelines.sources import connected

__all__ = [
    "BusinessCentralResource",
    "CarbonResource",
    "LedgersyncResource",
    "SimproResource",
    "SourceResource",
    "ZohoBooksResource",
    "source_resources",
]


class LedgersyncResource(dg.ConfigurableResource):
    """The connections file, and the warehouse and landing zone it names."""

    config_path: str

    def config(self) -> LedgersyncConfig:
        return load_config(Path(self.config_path))

    def warehouse(self, log: logging.Logger | dg.DagsterLogManager | None = None) -> Warehouse:
        """The warehouse; a wait for its lock is told to the command line's terminal and, given
        a step's `log`, to the Dagster log."""

        def on_wait(message: str) -> None:
            progress.notice(message)
            if log is not None:
                log.warning(message)

        return self.config().open_warehouse(on_wait)

    def landing(self) -> LandingZone:
        return LandingZone(self.config().landing)


class SourceResource(dg.ConfigurableResource):
    """Opens connectors for one source's connections.

    Secrets are read per connection when it opens (from the environment variables the
    connections file names), so one connection's missing secret fails only its own run.
    """

    source: ClassVar[str]
    config_path: str

    @contextmanager
    def connector(self, connection_id: str) -> Iterator[Connector]:
        config = load_config(Path(self.config_path))
        with connected(config.connection(connection_id), config.budget_store()) as connector:
            yield connector


class ZohoBooksResource(SourceResource):
    source: ClassVar[str] = "zoho_books"


class BusinessCentralResource(SourceResource):
    source: ClassVar[str] = "business_central"


class SimproResource(SourceResource):
    source: ClassVar[str] = "simpro"


class CarbonResource(SourceResource):
    source: ClassVar[str] = "carbon"


_RESOURCE_CLASSES: tuple[type[SourceResource], ...] = (
    ZohoBooksResource,
    BusinessCentralResource,
    SimproResource,
    CarbonResource,
)


def source_resources(config_path: str) -> dict[str, SourceResource]:
    return {cls.source: cls(config_path=config_path) for cls in _RESOURCE_CLASSES}
