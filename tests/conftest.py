"""Shared fixtures: sandboxes on loopback ports, and projects (connections file, warehouse,
landing zone) in temporary directories. Nothing is shared between tests."""

from __future__ import annotations

from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path

import pytest
import yaml

from models.warehouse import Warehouse
from pipelines.config import LedgersyncConfig, load_config
from sandbox.server import SandboxServer
from sandbox.zoho_books.app import ZohoBooksApp, start_zoho_sandbox
from sandbox.zoho_books.config import OAuthClient, ZohoConfig

ZOHO_CLIENT = OAuthClient(
    client_id="1000.TESTCLIENT",
    client_secret="test-secret-7f3a9",
    refresh_token="1000.test-refresh",
)
# Generous enough that a test's sync never waits on the client-side budget.
TEST_REQUESTS_PER_MINUTE = 100_000


@pytest.fixture(autouse=True)
def _isolated_environment(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    """No test sees the developer's Dagster home or connections file."""
    monkeypatch.delenv("DAGSTER_HOME", raising=False)
    monkeypatch.delenv("LEDGERSYNC_CONFIG", raising=False)
    monkeypatch.chdir(tmp_path)


@pytest.fixture
def zoho_sandbox() -> Iterator[Callable[..., SandboxServer[ZohoBooksApp]]]:
    """Start Zoho sandboxes: `zoho_sandbox(organizations=(...), ledger_size={...}, ...)`."""
    servers: list[SandboxServer[ZohoBooksApp]] = []

    def start(**config: object) -> SandboxServer[ZohoBooksApp]:
        config.setdefault("client", ZOHO_CLIENT)
        config.setdefault("rate_limit", TEST_REQUESTS_PER_MINUTE)
        config.setdefault("daily_cap", 10_000_000)
        server = start_zoho_sandbox(ZohoConfig(**config))  # type: ignore[arg-type]
        servers.append(server)
        return server

    yield start
    for server in servers:
        server.stop()


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


def zoho_connection(server: SandboxServer[ZohoBooksApp], org: str, **extra: object) -> dict:
    return {
        "id": org,
        "source": "zoho_books",
        "organization_id": server.app.organization_id(org),
        "api_url": f"{server.url}/books/v3",
        "accounts_url": server.url,
        "requests_per_minute": TEST_REQUESTS_PER_MINUTE,
        **extra,
    }


@pytest.fixture
def make_project(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> Callable[[list[dict]], Project]:
    """Write a connections file for the given connection entries; set the Zoho secrets."""
    monkeypatch.setenv("ZOHO_CLIENT_ID", ZOHO_CLIENT.client_id)
    monkeypatch.setenv("ZOHO_CLIENT_SECRET", ZOHO_CLIENT.client_secret)
    monkeypatch.setenv("ZOHO_REFRESH_TOKEN", ZOHO_CLIENT.refresh_token)

    def make(connections: list[dict], name: str = "project") -> Project:
        root = tmp_path / name
        root.mkdir()
        path = root / "connections.yaml"
        path.write_text(
            yaml.safe_dump(
                {
                    "warehouse": "data/ledgersync.duckdb",
                    "landing": "data/landing",
                    "connections": connections,
                }
            )
        )
        return Project(path)

    return make
