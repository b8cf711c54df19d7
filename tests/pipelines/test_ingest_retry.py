"""The ingest asset's retry policy: a sync that failed for a passing reason is tried again, one
that would fail the same way again is not, and the command line's runs are never retried."""

from __future__ import annotations

import dagster as dg
import pytest

from pipelines.connection_partitions import register_connections
from pipelines.definitions import build_definitions
from pipelines.defs import ingest
from pipelines.defs.ingest import NO_RETRY_TAG
from sandbox.zoho_books.testing import zoho_connection

ORG = "retry-books"


@pytest.fixture
def prompt_retries(monkeypatch: pytest.MonkeyPatch) -> None:
    """The policy's own delays are minutes; here one retry follows at once."""
    monkeypatch.setattr(ingest, "INGEST_RETRY", dg.RetryPolicy(max_retries=1))


def _retries(project, tags: dict[str, str] | None = None) -> tuple[bool, int]:
    job = build_definitions(project.config_path).resolve_job_def("sync_zoho_books")
    with dg.DagsterInstance.ephemeral() as instance:
        register_connections(instance, project.config)
        result = job.execute_in_process(
            partition_key=ORG, instance=instance, raise_on_error=False, tags=tags
        )
    retried = [e for e in result.all_events if e.event_type_value == "STEP_UP_FOR_RETRY"]
    return result.success, len(retried)


def test_the_ingest_retry_policy_backs_off_over_minutes() -> None:
    policy = ingest.INGEST_RETRY
    assert policy.max_retries == 3 and policy.delay == 120
    assert policy.backoff == dg.Backoff.EXPONENTIAL and policy.jitter == dg.Jitter.PLUS_MINUS


def test_a_held_warehouse_is_retried(
    prompt_retries, zoho_sandbox, make_project, hold_warehouse
) -> None:
    server = zoho_sandbox(organizations=(ORG,))
    project = make_project([zoho_connection(server, ORG)], warehouse_lock_wait_s=0.2)
    hold_warehouse(project.config.warehouse)
    assert _retries(project) == (False, 1)
    # The command line reports the failure at once.
    assert _retries(project, {NO_RETRY_TAG: "true"}) == (False, 0)


def test_a_missing_secret_is_not_retried(prompt_retries, make_project, monkeypatch) -> None:
    project = make_project([{"id": ORG, "source": "zoho_books", "organization_id": "1"}])
    monkeypatch.delenv("ZOHO_CLIENT_SECRET")
    assert _retries(project) == (False, 0)
