"""A server that sends its headers at once and then its body one byte at a time never trips
httpx's read timeout (which is per read). The response deadline bounds the whole response: the
request is retried like a timeout, then the sync fails saying which source, connection, request
and setting."""

from __future__ import annotations

import pytest

from pipelines.runner import run_syncs
from sandbox.faults import FaultConfig
from sandbox.zoho_books.testing import zoho_connection

ORG = "slow-books"


@pytest.mark.timeout(60)  # without a deadline this sync would take an hour
def test_a_trickling_body_fails_the_sync_at_the_response_deadline(zoho_sandbox, make_project):
    server = zoho_sandbox(organizations=(ORG,), ledger_size={"customers": 8, "invoices": 40})
    server.faults = FaultConfig(
        slow_body_rate=1.0, slow_body_byte_s=0.2, paths=("/books/v3/invoices",)
    )
    project = make_project(
        [zoho_connection(server, ORG, timeout_s=5, response_deadline_s=1, max_attempts=2)]
    )

    [outcome] = run_syncs(project.config, project.config_path)

    assert outcome.error is not None
    for named in (
        "zoho_books connection 'slow-books'",
        "stream invoices",
        "/books/v3/invoices",
        "response_deadline_s=1",
        "gave up after 2 attempts",
    ):
        assert named in outcome.error
    assert server.log.count(path="/books/v3/invoices", fault="slow_body") == 2
