"""Cash application through a real source path: a Zoho sandbox serving planted cases (their
applications hidden), synced, the reports job run; the suggestions found against the generator's
truth, the asset's checks and metadata, and `ledgersync report` printing and exporting them."""

from __future__ import annotations

import csv
from decimal import Decimal

import dagster as dg
from typer.testing import CliRunner

from models.cash_application import REPORT
from pipelines.cli import app
from pipelines.definitions import build_definitions
from pipelines.defs.jobs import REPORTS_JOB
from pipelines.defs.reports import REPORTS_OP
from sandbox.zoho_books.ids import ledger_id
from sandbox.zoho_books.testing import zoho_connection
from tests.e2e import sync

ORG = "cash-books"
SIZE = {"customers": 12, "invoices": 90, "payments": 60, "cash_cases": 22}


def test_suggestions_through_the_reports_job_and_the_report_command(
    zoho_sandbox, make_project, tmp_path
):
    server = zoho_sandbox(organizations=(ORG,), ledger_size=SIZE)
    ledger = server.app.ledger(ORG)
    org = server.app.organization_id(ORG)
    project = make_project([zoho_connection(server, ORG)])
    sync(project)
    as_of = ledger.as_of.isoformat()

    defs = build_definitions(project.config_path)
    with dg.DagsterInstance.ephemeral() as instance:
        result = defs.resolve_job_def(REPORTS_JOB).execute_in_process(
            instance=instance,
            run_config={"ops": {REPORTS_OP: {"config": {"as_of": as_of}}}},
        )
    assert result.success
    checks = {e.check_name: e.passed for e in result.get_asset_check_evaluations()}
    assert checks["suggestions_within_balances"] and checks["auto_band_only_for_top_suggestions"]
    (event,) = [
        e for e in result.get_asset_materialization_events() if e.asset_key.path[-1] == REPORT
    ]
    metadata = event.materialization.metadata
    assert metadata["as_of"].value == as_of
    assert "| auto |" in metadata["by_band"].value
    assert "INV-" in metadata["preview"].value

    top = {
        ledger_id(org, "payment", payment_id): (
            {
                (ledger_id(org, "invoice", i), amount)
                for i, amount in zip(ids, settles, strict=True)
            },
            band,
        )
        for payment_id, ids, settles, band in project.query(
            f"SELECT payment_id, invoice_ids, settles, band FROM reports.{REPORT} WHERE rank = 1"
        )
    }
    for case in ledger.cash_cases:
        if case.kind in ("exact_single", "several_exact", "no_remittance", "early_discount"):
            found, band = top[case.payment_id]
            assert found == set(case.applications), case
            assert band == "auto", case

    runner = CliRunner()
    base = ["report", "--as-of", as_of, "--config", str(project.config_path)]
    printed = runner.invoke(app, base)
    assert printed.exit_code == 0, printed.output
    assert "Cash application: top suggestions" in printed.output
    assert "Payments by band of their top suggestion: auto" in printed.output
    written = runner.invoke(app, [*base, "--format", "csv", "--output", str(tmp_path / "csv")])
    assert written.exit_code == 0, written.output
    with (tmp_path / "csv" / f"{REPORT}-{as_of}.csv").open() as handle:
        rows = list(csv.DictReader(handle))
    assert len(rows) == len(project.query(f"SELECT * FROM reports.{REPORT}"))
    assert all(Decimal(r["confidence"]) <= 1 for r in rows)
