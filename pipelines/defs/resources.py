"""The project's one Dagster resource: the connections file, and what it names."""

from __future__ import annotations

import logging
from pathlib import Path

import dagster as dg
import pydantic

from models.landing import LandingZone
from models.warehouse import Warehouse
from pipelines import progress
from pipelines.config import LedgersyncConfig, load_config
from pipelines.location import config_path

__all__ = ["LedgersyncResource"]


class LedgersyncResource(dg.ConfigurableResource):
    """The connections file, and the warehouse, landing zone and connections it names.

    The file is read once per run, when the run sets the resource up: an edited file takes
    effect at the next run, and every step of a run sees the same file. A connection's secrets
    are read when it opens (from the environment variables the file names), so one connection's
    missing secret fails only its own run.
    """

    config_path: str
    _config: LedgersyncConfig | None = pydantic.PrivateAttr(default=None)

    def setup_for_execution(self, context: dg.InitResourceContext) -> None:
        self._config = load_config(Path(self.config_path))

    def config(self) -> LedgersyncConfig:
        if self._config is None:  # called outside a run, as a test does
            self._config = load_config(Path(self.config_path))
        return self._config

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


@dg.definitions
def defs() -> dg.Definitions:
    return dg.Definitions(
        resources={"ledgersync": LedgersyncResource(config_path=str(config_path()))}
    )
