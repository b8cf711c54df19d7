"""Many writers on one DuckLake: sync processes for different connections run at once, every
one commits (a conflicting commit is run again), and each connection equals its truth."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest

from sandbox.zoho_books.ids import zoho_id
from sandbox.zoho_books.testing import zoho_connection
from tests.e2e import actual_balances, expected_balances, report

ORGS = ("north-books", "south-books", "east-books")
SIZE = {"customers": 10, "invoices": 60, "payments": 50}


@pytest.mark.slow
@pytest.mark.postgres
@pytest.mark.parametrize("warehouse_backend", ["ducklake"], indirect=True)
def test_concurrent_sync_processes_all_commit(zoho_sandbox, make_project, warehouse_backend):
    server = zoho_sandbox(organizations=ORGS, ledger_size=SIZE)
    project = make_project([zoho_connection(server, org) for org in ORGS])
    as_of = server.app.ledger(ORGS[0]).as_of
    root = Path(__file__).resolve().parents[2]
    env = {**os.environ, "PYTHONPATH": str(root)}
    processes = [
        subprocess.Popen(
            [
                sys.executable,
                "-m",
                "pipelines.run_once",
                "--config",
                str(project.config_path),
                "--as-of",
                as_of.isoformat(),
                "--connection",
                org,
            ],
            env=env,
            stderr=subprocess.PIPE,
            text=True,
        )
        for org in ORGS
    ]
    for process in processes:
        _, errors = process.communicate(timeout=600)
        assert process.returncode == 0, errors[-3000:]

    # Each process reported on what had committed when it did; once all have, one report run
    # sees every connection.
    report(project, as_of)
    ledgers = {org: server.app.ledger(org) for org in ORGS}

    def ids(org: str):
        return lambda kind, ledger_id: zoho_id(server.app.organization_id(org), kind, ledger_id)

    for org, ledger in ledgers.items():
        expected = expected_balances({org: ledger}, ids(org))
        actual = {k: v for k, v in actual_balances(project).items() if k[0] == org}
        assert actual == expected
