"""A ledgersync project in a temporary directory, as the `make_project` fixture writes it, and
the marker that runs a test against each warehouse backend."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

import pytest

from models.warehouse import Warehouse
from pipelines.config import LedgersyncConfig, load_config

__all__ = ["WAREHOUSE_BACKENDS", "Project", "both_warehouse_backends"]


@dataclass(frozen=True)
class Project:
    """A ledgersync project in a temporary directory."""

    config_path: Path

    @property
    def config(self) -> LedgersyncConfig:
        return load_config(self.config_path)

    @property
    def warehouse(self) -> Warehouse:
        return Warehouse(self.config.warehouse)

    def query(self, sql: str, params: object = None) -> list[tuple[object, ...]]:
        with self.warehouse.connect(read_only=True) as conn:
            return conn.execute(sql, params).fetchall()


WAREHOUSE_BACKENDS = ("duckdb", "ducklake")
# On a test module or function: run it against each warehouse backend `make_project` writes.
both_warehouse_backends = pytest.mark.parametrize(
    "warehouse_backend", WAREHOUSE_BACKENDS, indirect=True
)
