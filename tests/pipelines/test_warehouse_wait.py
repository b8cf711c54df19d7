"""A sync waiting for the warehouse says so on the terminal and in the Dagster log, for as long
as the connections file allows, and fails in one line naming the holder (no traceback)."""

from __future__ import annotations

import dagster as dg
from typer.testing import CliRunner

from pipelines.cli import app
from pipelines.connection_partitions import register_connections
from pipelines.definitions import build_definitions
from pipelines.defs.ingest import NO_RETRY_TAG
from sandbox.zoho_books.testing import zoho_connection

ORG = "locked-books"


def test_a_sync_says_who_holds_the_warehouse_and_gives_up_in_one_line(
    zoho_sandbox, make_project, hold_warehouse
):
    server = zoho_sandbox(organizations=(ORG,))
    project = make_project([zoho_connection(server, ORG)], warehouse_lock_wait_s=1)
    holder = hold_warehouse(project.config.warehouse)

    result = CliRunner().invoke(app, ["sync", "--config", str(project.config_path)])

    assert result.exit_code == 1
    waiting = f"waiting for the warehouse: held by pid {holder.pid} "
    assert waiting in result.output
    failures = [line for line in result.output.splitlines() if "failed:" in line]
    assert len(failures) == 1, result.output
    assert f"is held by pid {holder.pid} " in failures[0]
    assert "gave up after 1s" in failures[0]
    assert "Traceback" not in result.output and "Stack Trace" not in result.output


def test_the_dagster_log_says_who_holds_the_warehouse(zoho_sandbox, make_project, hold_warehouse):
    server = zoho_sandbox(organizations=(ORG,))
    project = make_project([zoho_connection(server, ORG)], warehouse_lock_wait_s=1)
    holder = hold_warehouse(project.config.warehouse)
    job = build_definitions(project.config_path).resolve_job_def("sync_zoho_books")
    with dg.DagsterInstance.ephemeral() as instance:
        register_connections(instance, project.config)
        result = job.execute_in_process(
            partition_key=ORG, instance=instance, raise_on_error=False, tags={NO_RETRY_TAG: "true"}
        )
        messages = [entry.user_message for entry in instance.all_logs(result.run_id)]

    assert not result.success
    assert any(
        m.startswith(f"waiting for the warehouse: held by pid {holder.pid} ") for m in messages
    )
