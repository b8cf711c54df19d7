"""One writer per connection: a second sync of a connection while one runs fails at once, naming
the one running; syncs of different connections run side by side without harm; every Dagster
sync run carries the `connection` tag that run queues limit on."""

from __future__ import annotations

import os
import subprocess
import sys
from datetime import UTC, datetime, timedelta
from pathlib import Path

import dagster as dg

from pipelines.connection_partitions import register_connections
from pipelines.connection_sensors import SYNCS_SENSOR
from pipelines.definitions import build_definitions
from pipelines.defs.jobs import CONNECTION_TAG
from sandbox.faults import FaultConfig
from sandbox.zoho_books.testing import zoho_connection
from tests.reliability.zoho import ORG, ZohoProject, assert_matches_truth

SMALL = {"customers": 5, "invoices": 20, "payments": 15}


def _run_once(config_path: Path, as_of: str, *extra: str) -> subprocess.Popen[str]:
    """`python -m pipelines.run_once` in its own process, phases on stderr."""
    return subprocess.Popen(
        [
            sys.executable,
            "-m",
            "pipelines.run_once",
            "-c",
            str(config_path),
            "--as-of",
            as_of,
            *extra,
        ],
        stderr=subprocess.PIPE,
        text=True,
        env=os.environ.copy(),
    )


def test_a_second_sync_of_a_running_connection_is_refused_naming_the_first(zoho_project):
    zoho = zoho_project(size=SMALL, page_size=5)
    zoho.server.faults = FaultConfig(latency_s=0.05)  # the first sync takes a while
    first = _run_once(zoho.project.config_path, zoho.ledger.as_of.isoformat())
    try:
        assert first.stderr is not None
        while not first.stderr.readline().startswith("phase extract"):
            assert first.poll() is None, "the first sync ended before it began extracting"

        [second] = zoho.sync()

        assert not second.success
        assert (
            f"connection '{ORG}' is already being synced by python -m pipelines.run_once "
            f"(process {first.pid} on "
        ) in str(second.error)
        assert "wait for that one to finish" in str(second.error)
    finally:
        remaining = first.communicate(timeout=120)[1]
    assert first.returncode == 0, remaining
    assert_matches_truth(zoho)  # the refused run did no harm


def test_syncs_of_different_connections_at_once_are_both_exact(zoho_sandbox, make_project):
    orgs = ("side-a", "side-b")
    server = zoho_sandbox(organizations=orgs, ledger_size=SMALL)
    server.faults = FaultConfig(latency_s=0.01)
    project = make_project([zoho_connection(server, org, page_size=5) for org in orgs])
    as_of = server.app.ledger(orgs[0]).as_of.isoformat()

    runs = [_run_once(project.config_path, as_of, "--connection", org) for org in orgs]
    results = [run.communicate(timeout=120) for run in runs]

    assert [run.returncode for run in runs] == [0, 0], results
    for org in orgs:
        assert_matches_truth(ZohoProject(server, project, org))


def test_every_sync_run_carries_its_connection_tag(zoho_sandbox, make_project):
    server = zoho_sandbox(organizations=(ORG,))
    project = make_project([zoho_connection(server, ORG)])
    defs = build_definitions(project.config_path)
    job = defs.resolve_job_def("sync_zoho_books")

    sensor = defs.resolve_sensor_def(SYNCS_SENSOR)
    a_tick_ago = datetime.now(UTC) - timedelta(hours=7)  # the default cron ticks every 6 hours
    with dg.DagsterInstance.ephemeral() as instance:
        register_connections(instance, project.config)
        with dg.build_sensor_context(
            instance=instance,
            cursor=a_tick_ago.isoformat(),
            repository_def=defs.get_repository_def(),
        ) as context:
            result = sensor(context)
        assert isinstance(result, dg.SensorResult) and result.run_requests
        [request] = result.run_requests
        assert request.tags[CONNECTION_TAG] == ORG
        # A run of a partition (as job backfills launch them) takes the partition's tags.
        run = job.execute_in_process(partition_key=ORG, instance=instance)
    assert run.dagster_run.tags[CONNECTION_TAG] == ORG
