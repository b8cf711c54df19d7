"""Shared fixtures: sandboxes on loopback ports, and projects (connections file, warehouse,
landing zone) in temporary directories. Nothing is shared between tests."""

from __future__ import annotations

import subprocess
import sys
from collections.abc import Callable, Iterator
from contextlib import ExitStack
from pathlib import Path
from typing import Any

import pytest
import yaml

from pipelines.registry import SANDBOXES
from sandbox.faults import FaultConfig
from sandbox.server import SandboxServer
from sandbox.testing import SandboxTesting
from tests.postgres import PG_URI, require_postgres, scratch_schema
from tests.project import Project

# The shared test helpers assert; have pytest explain their failures too.
pytest.register_assert_rewrite("tests.e2e", "tests.reliability.zoho")


@pytest.fixture(autouse=True)
def _isolated_environment(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    """No test sees the developer's Dagster home or connections file."""
    monkeypatch.delenv("DAGSTER_HOME", raising=False)
    monkeypatch.delenv("LEDGERSYNC_CONFIG", raising=False)
    monkeypatch.chdir(tmp_path)


def _sandbox_fixture(testing: SandboxTesting) -> object:
    """The fixture `testing.fixture`: `fixture(faults=None, **config)` starts a sandbox with the
    test's keywords overriding the source's test defaults; every one started stops after the
    test (`sandbox.testing`)."""

    @pytest.fixture(name=testing.fixture)
    def start_sandboxes(
        monkeypatch: pytest.MonkeyPatch,
    ) -> Iterator[Callable[..., SandboxServer[Any]]]:
        servers: list[SandboxServer[Any]] = []

        def start_one(faults: FaultConfig | None = None, **config: object) -> SandboxServer[Any]:
            server = testing.start_one(faults, **config)
            servers.append(server)
            for name, value in testing.server_environment(server).items():
                monkeypatch.setenv(name, value)
            return server

        yield start_one
        for server in servers:
            server.stop()

    return start_sandboxes


# A sandbox fixture per registered source (`zoho_sandbox`, …), named by its sandbox/testing.py.
for _sandbox in SANDBOXES.values():
    globals()[f"_{_sandbox.testing.fixture}"] = _sandbox_fixture(_sandbox.testing)


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
    """Write a connections file for the given connection entries; set every source's test
    credentials (`sandbox/<source>/testing.py`).

    The warehouse is a DuckDB file, or with `warehouse_backend` "ducklake" a DuckLake whose
    catalog is a schema of its own in the test PostgreSQL (dropped afterwards) and whose data
    files are in the project's directory.
    """
    for sandbox in SANDBOXES.values():
        for name, value in sandbox.testing.environment.items():
            monkeypatch.setenv(name, value)

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
        holder.communicate()  # reaps it and closes its pipe
