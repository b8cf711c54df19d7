"""No secret reaches anything a sync writes: logs, Dagster's event log and run storage,
exception messages, the warehouse, the landed pages. The sync runs through the Dagster jobs
with a persistent instance and debug logging; one connection's credential is rejected and one
stream fails outright, so error paths are scanned too."""

from __future__ import annotations

import logging
import uuid
from pathlib import Path

import dagster as dg
import duckdb
from dagster._serdes import serialize_value

from models.landing import LandingZone
from pipelines.runner import run_reports, run_syncs
from sandbox.faults import FaultConfig
from sandbox.zoho_books.config import OAuthClient
from sandbox.zoho_books.testing import zoho_connection
from tests.reliability.zoho import ORG

TOKEN = uuid.uuid4().hex
CLIENT = OAuthClient(
    client_id=f"1000.CLIENT{TOKEN[:12].upper()}",
    client_secret=f"client-secret-{TOKEN}",
    refresh_token=f"1000.refresh-{TOKEN[::-1]}",
)
WRONG_SECRET = f"wrong-secret-{uuid.uuid4().hex}"


def test_no_secret_reaches_logs_events_errors_warehouse_or_landed_pages(
    zoho_sandbox, make_project, tmp_path, monkeypatch, capfd, caplog
):
    home = tmp_path / "dagster"
    home.mkdir()
    (home / "dagster.yaml").write_text("telemetry:\n  enabled: false\n")
    monkeypatch.setenv("DAGSTER_HOME", str(home))
    server = zoho_sandbox(organizations=(ORG,), client=CLIENT)
    server.faults = FaultConfig(error_rate=1.0, paths=("/books/v3/customerpayments",))
    # One stream after another, so contacts and invoices land their pages before the payments
    # fail: side by side, the failure could stop them before their first page landed.
    project = make_project(
        [
            zoho_connection(
                server, ORG, max_attempts=2, retry_backoff_s=0.01, streams_side_by_side=False
            ),
            zoho_connection(server, ORG, id="rejected", client_secret_env="WRONG_SECRET"),
        ]
    )
    monkeypatch.setenv("ZOHO_CLIENT_ID", CLIENT.client_id)
    monkeypatch.setenv("ZOHO_CLIENT_SECRET", CLIENT.client_secret)
    monkeypatch.setenv("ZOHO_REFRESH_TOKEN", CLIENT.refresh_token)
    monkeypatch.setenv("WRONG_SECRET", WRONG_SECRET)
    monkeypatch.setattr(LandingZone, "remove", lambda self, batch: None)  # keep every page
    caplog.set_level(logging.DEBUG)

    outcomes = run_syncs(project.config, project.config_path, log_level="DEBUG")
    reports = run_reports(
        project.config_path, as_of=server.app.ledger(ORG).as_of, log_level="DEBUG"
    )

    assert [o.success for o in outcomes] == [False, False] and reports.success
    secrets = [
        CLIENT.client_id,
        CLIENT.client_secret,
        CLIENT.refresh_token,
        WRONG_SECRET,
        *server.app.tokens.issued(),
    ]
    assert len(secrets) > 4  # access tokens were issued, so they could have leaked
    captured = capfd.readouterr()
    texts = {
        "stdout": captured.out,
        "stderr": captured.err,
        "python logs": caplog.text,
        "errors": "\n".join(str(o.error) for o in (*outcomes, reports)),
        **_dagster_events(),
        **_files(home, "dagster home"),
        **_files(project.config.landing, "landing"),
        **_files(project.config.warehouse.parent, "warehouse file"),
        **_warehouse_values(project.config.warehouse),
    }
    # The scan sees real content: the connection in the events, invoices in pages and tables.
    invoice_number = server.app.ledger(ORG).invoices[0].invoice_number
    assert ORG in texts["dagster events"]
    assert any(invoice_number in text for name, text in texts.items() if name.startswith("landing"))
    assert invoice_number in texts["warehouse values"]
    leaks = [(name, secret) for name, text in texts.items() for secret in secrets if secret in text]
    assert leaks == []


def _dagster_events() -> dict[str, str]:
    with dg.DagsterInstance.get() as instance:
        runs = instance.get_runs()
        events = [serialize_value(e) for run in runs for e in instance.all_logs(run.run_id)]
    assert runs
    configs = [f"{run.run_config!r} {run.tags!r}" for run in runs]
    return {"dagster events": "\n".join(events), "dagster runs": "\n".join(configs)}


def _files(root: Path, label: str) -> dict[str, str]:
    return {
        f"{label} {path.relative_to(root)}": path.read_bytes().decode("latin-1")
        for path in root.rglob("*")
        if path.is_file()
    }


def _warehouse_values(path: Path) -> dict[str, str]:
    """Every value of every table, as text (the file itself may compress strings)."""
    conn = duckdb.connect(str(path), read_only=True)
    try:
        tables = conn.execute(
            "SELECT table_schema, table_name FROM information_schema.tables "
            "WHERE table_type = 'BASE TABLE'"
        ).fetchall()
        values = [
            str(row)
            for schema, table in tables
            for row in conn.execute(f'SELECT * FROM "{schema}"."{table}"').fetchall()
        ]
    finally:
        conn.close()
    return {"warehouse values": "\n".join(values)}
