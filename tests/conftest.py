"""Shared fixtures: sandboxes on loopback ports, and projects (connections file, warehouse,
landing zone) in temporary directories. Nothing is shared between tests."""

from __future__ import annotations

import re
import subprocess
import sys
from collections.abc import Callable, Iterator
from contextlib import ExitStack
from dataclasses import dataclass
from pathlib import Path
from typing import TypeVar

import pytest
import yaml

from models.warehouse import Warehouse
from pipelines.config import LedgersyncConfig, load_config
from sandbox.business_central.app import BusinessCentralApp, start_business_central_sandbox
from sandbox.business_central.config import BusinessCentralConfig, EntraApp
from sandbox.carbon.app import CarbonApp, start_carbon_sandbox
from sandbox.carbon.config import CarbonConfig
from sandbox.faults import FaultConfig
from sandbox.server import SandboxServer
from sandbox.simpro.app import SimproApp, start_simpro_sandbox
from sandbox.simpro.config import OAuthClient as SimproClient
from sandbox.simpro.config import SimproConfig
from sandbox.zoho_books.app import ZohoBooksApp, start_zoho_sandbox
from sandbox.zoho_books.config import OAuthClient, ZohoConfig
from tests.postgres import PG_URI, require_postgres, scratch_schema

# The end-to-end tests' shared helpers assert; have pytest explain their failures too.
pytest.register_assert_rewrite("tests.e2e")

ZOHO_CLIENT = OAuthClient(
    client_id="1000.TESTCLIENT",
    client_secret="test-secret-7f3a9",
    refresh_token="1000.test-refresh",
)
BC_APP = EntraApp(
    client_id="7e1c0d52-9b3a-4f8e-b6d1-0a2c4e6f8a10", client_secret="test~bc~secret~5c81"
)
SIMPRO_API_KEY = "test-simpro-key-5e2d"
SIMPRO_CLIENT = SimproClient("test-simpro-client", "test-simpro-secret-91c4")
# Generous enough that a test's sync never waits on the client-side budget.
TEST_REQUESTS_PER_MINUTE = 100_000
TEST_REQUESTS_PER_SECOND = 2_000

App = TypeVar("App")


@pytest.fixture(autouse=True)
def _isolated_environment(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    """No test sees the developer's Dagster home or connections file."""
    monkeypatch.delenv("DAGSTER_HOME", raising=False)
    monkeypatch.delenv("LEDGERSYNC_CONFIG", raising=False)
    monkeypatch.chdir(tmp_path)


def _sandboxes(
    start: Callable[..., SandboxServer[App]],
    config_type: Callable[..., object],
    defaults: dict[str, object],
    started: Callable[[SandboxServer[App]], None] = lambda server: None,
) -> Iterator[Callable[..., SandboxServer[App]]]:
    """A fixture's body: start sandboxes from `config_type(**defaults)` with the test's keywords
    overriding the defaults (and `faults=`); stop every one the test started."""
    servers: list[SandboxServer[App]] = []

    def start_one(faults: FaultConfig | None = None, **config: object) -> SandboxServer[App]:
        server = start(config_type(**{**defaults, **config}), faults=faults)
        servers.append(server)
        started(server)
        return server

    yield start_one
    for server in servers:
        server.stop()


@pytest.fixture
def zoho_sandbox() -> Iterator[Callable[..., SandboxServer[ZohoBooksApp]]]:
    """Start Zoho sandboxes: `zoho_sandbox(organizations=(...), ledger_size={...}, ...)`."""
    yield from _sandboxes(
        start_zoho_sandbox,
        ZohoConfig,
        {"client": ZOHO_CLIENT, "rate_limit": TEST_REQUESTS_PER_MINUTE, "daily_cap": 10_000_000},
    )


@pytest.fixture
def bc_sandbox() -> Iterator[Callable[..., SandboxServer[BusinessCentralApp]]]:
    """Start Business Central sandboxes: `bc_sandbox(companies=(...), ledger_size={...}, ...)`."""
    yield from _sandboxes(
        start_business_central_sandbox,
        BusinessCentralConfig,
        {"app": BC_APP, "rate_limit": TEST_REQUESTS_PER_MINUTE * 5, "retry_after_5xx_s": 0.01},
    )


@pytest.fixture
def simpro_sandbox() -> Iterator[Callable[..., SandboxServer[SimproApp]]]:
    """Start Simpro builds: `simpro_sandbox(companies=(...), ledger_size={...}, ...)`."""
    yield from _sandboxes(
        start_simpro_sandbox,
        SimproConfig,
        {
            "api_keys": (SIMPRO_API_KEY,),
            "client": SIMPRO_CLIENT,
            "rate_limit": TEST_REQUESTS_PER_SECOND,
        },
    )


@pytest.fixture
def carbon_sandbox(
    monkeypatch: pytest.MonkeyPatch,
) -> Iterator[Callable[..., SandboxServer[CarbonApp]]]:
    """Start Carbon sandboxes: `carbon_sandbox(companies=(...), ledger_size={...}, ...)`; each
    company's API key is put in the environment variable `carbon_key_env(company)` names."""

    def set_keys(server: SandboxServer[CarbonApp]) -> None:
        for company in server.app.config.companies:
            monkeypatch.setenv(carbon_key_env(company), server.app.api_key(company))

    yield from _sandboxes(
        start_carbon_sandbox, CarbonConfig, {"rate_limit": TEST_REQUESTS_PER_MINUTE}, set_keys
    )


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


def bc_connection(server: SandboxServer[BusinessCentralApp], company: str, **extra: object) -> dict:
    """A connection to one sandbox company; its name must be a valid connection id."""
    return {
        "id": company,
        "source": "business_central",
        "tenant": server.app.config.tenant,
        "environment": server.app.config.environment,
        "company_id": server.app.company_id(company),
        "api_url": f"{server.url}/v2.0",
        "authority_url": server.url,
        "requests_per_five_minutes": TEST_REQUESTS_PER_MINUTE * 5,
        **extra,
    }


def simpro_connection(server: SandboxServer[SimproApp], company: str, **extra: object) -> dict:
    """A connection to one company of a sandbox build; its name must be a valid connection id."""
    return {
        "id": company,
        "source": "simpro",
        "build_url": server.url,
        "company_id": server.app.company_id(company),
        "requests_per_second": TEST_REQUESTS_PER_SECOND,
        **extra,
    }


def carbon_key_env(company: str) -> str:
    return "CARBON_KEY_" + re.sub(r"[^A-Z0-9]", "_", company.upper())


def carbon_connection(server: SandboxServer[CarbonApp], company: str, **extra: object) -> dict:
    """A connection to one sandbox company; its name must be a valid connection id."""
    return {
        "id": company,
        "source": "carbon",
        "api_url": server.url,
        "api_key_env": carbon_key_env(company),
        "requests_per_minute": TEST_REQUESTS_PER_MINUTE,
        **extra,
    }


WAREHOUSE_BACKENDS = ("duckdb", "ducklake")
# On a test module or function: run it against each warehouse backend `make_project` writes.
both_warehouse_backends = pytest.mark.parametrize(
    "warehouse_backend", WAREHOUSE_BACKENDS, indirect=True
)


@pytest.fixture
def warehouse_backend(request: pytest.FixtureRequest) -> str:
    """The warehouse backend `make_project` writes: the DuckDB file unless parametrized."""
    backend: str = getattr(request, "param", "duckdb")
    if backend == "ducklake":
        require_postgres("the DuckLake warehouse's catalog")
    return backend


@pytest.fixture
def make_project(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, warehouse_backend: str
) -> Iterator[Callable[[list[dict]], Project]]:
    """Write a connections file for the given connection entries; set the Zoho secrets.

    The warehouse is a DuckDB file, or with `warehouse_backend` "ducklake" a DuckLake whose
    catalog is a schema of its own in the test PostgreSQL (dropped afterwards) and whose data
    files are in the project's directory.
    """
    monkeypatch.setenv("ZOHO_CLIENT_ID", ZOHO_CLIENT.client_id)
    monkeypatch.setenv("ZOHO_CLIENT_SECRET", ZOHO_CLIENT.client_secret)
    monkeypatch.setenv("ZOHO_REFRESH_TOKEN", ZOHO_CLIENT.refresh_token)
    monkeypatch.setenv("BC_CLIENT_ID", BC_APP.client_id)
    monkeypatch.setenv("BC_CLIENT_SECRET", BC_APP.client_secret)
    monkeypatch.setenv("SIMPRO_API_KEY", SIMPRO_API_KEY)
    monkeypatch.setenv("SIMPRO_CLIENT_ID", SIMPRO_CLIENT.client_id)
    monkeypatch.setenv("SIMPRO_CLIENT_SECRET", SIMPRO_CLIENT.client_secret)

    schemas = ExitStack()

    def warehouse() -> object:
        if warehouse_backend == "duckdb":
            return "data/ledgersync.duckdb"
        catalog = {"catalog": PG_URI, "data_path": "data/lake"}
        return {
            "ducklake": {
                **catalog,
                "metadata_schema": schemas.enter_context(scratch_schema("lake")),
            }
        }

    def make(connections: list[dict], name: str = "project", **settings: object) -> Project:
        """`settings` are the file's other top-level keys (e.g. warehouse_lock_wait_s)."""
        root = tmp_path / name
        root.mkdir()
        path = root / "connections.yaml"
        path.write_text(
            yaml.safe_dump(
                {
                    "warehouse": warehouse(),
                    "landing": "data/landing",
                    "connections": connections,
                    **settings,
                }
            )
        )
        return Project(path)

    with schemas:
        yield make


_HOLD_OPEN = """
import sys, time, duckdb
conn = duckdb.connect(sys.argv[1])
print("holding", flush=True)
time.sleep(float(sys.argv[2]))
"""


@pytest.fixture
def hold_warehouse() -> Iterator[Callable[..., subprocess.Popen[str]]]:
    """`hold_warehouse(path, seconds=60)`: another process (like an analyst's DuckDB session)
    opens the file for writing and keeps it for `seconds`; returned once it holds the lock."""
    holders: list[subprocess.Popen[str]] = []

    def hold(path: Path, seconds: float = 60.0) -> subprocess.Popen[str]:
        path.parent.mkdir(parents=True, exist_ok=True)
        holder = subprocess.Popen(
            [sys.executable, "-c", _HOLD_OPEN, str(path), str(seconds)],
            stdout=subprocess.PIPE,
            text=True,
        )
        holders.append(holder)
        assert holder.stdout is not None and holder.stdout.readline() == "holding\n"
        return holder

    yield hold
    for holder in holders:
        holder.kill()
        holder.wait()
