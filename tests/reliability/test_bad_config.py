"""Bad configuration and credentials: each bad connection fails at the start of its run with an
error naming it and the fix, the good one still syncs, `ledgersync check` tests them all without
syncing, and no message shows a secret."""

from __future__ import annotations

import re

from typer.testing import CliRunner

from pipelines.cli import app
from pipelines.runner import run_syncs
from sandbox.zoho_books.testing import ZOHO_CLIENT, zoho_connection
from tests.reliability.zoho import ORG, ZohoProject, assert_matches_truth

WRONG_SECRET = "wrong-secret-9d41c7e2"


def test_bad_connections_fail_at_the_start_naming_the_fix_and_the_good_one_syncs(
    zoho_sandbox, make_project, monkeypatch
):
    server = zoho_sandbox(
        organizations=(ORG,), ledger_size={"customers": 5, "invoices": 20, "payments": 15}
    )
    monkeypatch.setenv("WRONG_ZOHO_SECRET", WRONG_SECRET)
    monkeypatch.delenv("UNSET_ZOHO_SECRET", raising=False)
    quick = {"max_attempts": 1}
    connections = [
        zoho_connection(server, ORG),
        zoho_connection(server, ORG, id="no-secret", client_secret_env="UNSET_ZOHO_SECRET"),
        zoho_connection(server, ORG, id="wrong-url", api_url=f"{server.url}/books/v2"),
        zoho_connection(
            server, ORG, id="unreachable", api_url="http://127.0.0.1:9/books/v3", **quick
        ),
        zoho_connection(server, ORG, id="bad-secret", client_secret_env="WRONG_ZOHO_SECRET"),
        zoho_connection(server, ORG, id="unknown-org", organization_id="1234567890"),
    ]
    project = make_project(connections)
    org_id = server.app.organization_id(ORG)
    expected = {
        "no-secret": "zoho_books connection 'no-secret': the environment variable "
        "UNSET_ZOHO_SECRET is not set. Fix: export UNSET_ZOHO_SECRET=",
        "wrong-url": "answered 404: Zoho code 5: Invalid URL Passed",
        "unreachable": "ConnectError",
        "bad-secret": "the token endpoint refused the credentials: invalid_client_secret",
        "unknown-org": "zoho_books connection 'unknown-org': organization 1234567890 is not one "
        f"this login can read (it can read ['{org_id}']). Fix: set organization_id to one of "
        "the ids above",
    }
    fixes = {
        "wrong-url": f"Fix: check the base URL ({server.url}/books/v2)",
        "unreachable": "Fix: check network access to 127.0.0.1",
        "bad-secret": "Fix: check ZOHO_CLIENT_ID, WRONG_ZOHO_SECRET and ZOHO_REFRESH_TOKEN, the "
        "credentials of connection 'bad-secret'",
    }

    outcomes = {o.name: o for o in run_syncs(project.config, project.config_path)}

    assert outcomes[ORG].success, outcomes[ORG].error
    for connection_id, message in expected.items():
        error = str(outcomes[connection_id].error)
        assert f"connection '{connection_id}'" in error, error
        assert message in error, error
        assert fixes.get(connection_id, "Fix: ") in error, error
        _assert_no_secret(error)
    # They failed before loading anything; the good one loaded all of its ledger.
    assert {row[0] for row in project.query("SELECT DISTINCT connection_id FROM sync.batches")} == {
        ORG
    }
    zoho = ZohoProject(server, project)
    zoho.rebuild()
    assert_matches_truth(zoho)


def test_check_tests_every_connection_without_syncing(zoho_sandbox, make_project, monkeypatch):
    server = zoho_sandbox(organizations=(ORG,))
    monkeypatch.setenv("WRONG_ZOHO_SECRET", WRONG_SECRET)
    project = make_project(
        [
            zoho_connection(server, ORG),
            zoho_connection(server, ORG, id="bad-secret", client_secret_env="WRONG_ZOHO_SECRET"),
            zoho_connection(server, ORG, id="unknown-org", organization_id="1234567890"),
        ]
    )

    result = CliRunner().invoke(app, ["check", "--config", str(project.config_path)])

    assert result.exit_code == 1, result.output
    rows = {
        match[1]: match[2]
        for match in re.finditer(r"^│ (\S+)\s+│ zoho_books │ (ok|failed)", result.output, re.M)
    }
    assert rows == {ORG: "ok", "bad-secret": "failed", "unknown-org": "failed"}, result.output
    assert "invalid_client_secret" in result.output
    assert "is not one this login can read" in result.output
    _assert_no_secret(result.output)
    assert server.log.count(path_prefix="/books/v3/invoices") == 0
    assert not project.config.warehouse.exists()


def _assert_no_secret(text: str) -> None:
    for secret in (ZOHO_CLIENT.client_secret, ZOHO_CLIENT.refresh_token, WRONG_SECRET):
        assert secret not in text
