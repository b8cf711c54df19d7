"""Connection health checks: stale connections warn, connections whose runs keep failing fail."""

from __future__ import annotations

import dagster as dg
import pytest

from pipelines.definitions import build_definitions
from pipelines.defs.health import FAILING_RUNS, build_health_checks
from pipelines.registry import SOURCES
from pipelines.runner import run_syncs
from sandbox.zoho_books.testing import zoho_connection


@pytest.fixture
def dagster_home(tmp_path, monkeypatch):
    home = tmp_path / "dagster_home"
    home.mkdir()
    monkeypatch.setenv("DAGSTER_HOME", str(home))
    return home


def _health(project) -> dict[str, dg.AssetCheckEvaluation]:
    definitions = build_definitions(project.config_path)
    with dg.DagsterInstance.get() as instance:
        result = definitions.resolve_job_def("connection_health").execute_in_process(
            instance=instance, raise_on_error=False
        )
    return {e.check_name: e for e in result.get_asset_check_evaluations()}


def test_stale_and_failing_connections_are_flagged(
    dagster_home, zoho_sandbox, make_project, monkeypatch
):
    server = zoho_sandbox(
        organizations=("fresh", "broken"),
        ledger_size={"customers": 3, "invoices": 8, "payments": 6},
    )
    project = make_project(
        [
            zoho_connection(server, "fresh"),
            zoho_connection(server, "broken", client_secret_env="BROKEN_SECRET"),
        ]
    )
    monkeypatch.setenv("BROKEN_SECRET", "not-the-secret")

    for _ in range(FAILING_RUNS):
        outcomes = {o.name: o for o in run_syncs(project.config, project.config_path)}
        assert outcomes["fresh"].success
        assert not outcomes["broken"].success

    checks = _health(project)
    fresh, failing = checks["connections_fresh"], checks["connections_not_failing"]
    assert not fresh.passed
    assert fresh.metadata["stale_connections"].value == {"broken": "never"}
    assert not failing.passed
    assert list(failing.metadata["failing_connections"].value) == ["broken"]


def test_healthy_connections_pass(dagster_home, zoho_sandbox, make_project):
    server = zoho_sandbox(
        organizations=("fine",), ledger_size={"customers": 3, "invoices": 8, "payments": 6}
    )
    project = make_project([zoho_connection(server, "fine")])
    [outcome] = run_syncs(project.config, project.config_path)
    assert outcome.success

    checks = _health(project)
    assert checks["connections_fresh"].passed
    assert checks["connections_not_failing"].passed


@pytest.mark.parametrize("source", sorted(SOURCES))
def test_health_checks_run_on_the_stream_a_sync_writes_last(source):
    spec = SOURCES[source]
    last = dg.AssetKey([source, spec.streams[-1].name])
    for check in build_health_checks(spec):
        assert {key.asset_key for key in check.check_keys} == {last}
