"""Every report through the Dagster jobs against the sandboxes, checked against the generator's
truth to the cent: for every source at the ledgers' as-of date and an earlier one; then, on Zoho,
the daily aging history (re-running a day changes nothing), the asset checks, the assets'
metadata, and `ledgersync report` writing csv and parquet.
"""

from __future__ import annotations

import csv
from collections.abc import Callable
from dataclasses import dataclass
from datetime import date, timedelta

import dagster as dg
import duckdb
import yaml
from typer.testing import CliRunner

from models.cash_application import REPORT as CASH_APPLICATION
from models.entities.balances import ENTITY_REPORTS
from models.reports import EXCEPTION_KINDS, REPORTS
from pipelines.cli import app
from pipelines.definitions import build_definitions
from pipelines.defs.jobs import REPORTS_JOB
from pipelines.defs.reports import AGING_HISTORY_JOB, REPORTS_OP
from pipelines.report_output import ReportFormat, write_reports
from sandbox import truth
from sandbox.business_central.ids import ledger_id as bc_ledger_id
from sandbox.business_central.testing import bc_connection
from sandbox.carbon.ids import ledger_id as carbon_ledger_id
from sandbox.carbon.testing import carbon_connection
from sandbox.ledger import Ledger
from sandbox.simpro.ids import ledger_id as simpro_ledger_id
from sandbox.simpro.testing import simpro_connection
from sandbox.zoho_books.ids import ledger_id as zoho_ledger_id
from sandbox.zoho_books.testing import zoho_connection
from tests.e2e import report, sync
from tests.project import Project, both_warehouse_backends

SIZE = {"customers": 12, "invoices": 90, "payments": 80}
AGING = ("current", "period_1", "period_2", "period_3", "period_4", "older")


@dataclass(frozen=True)
class LedgerIds:
    """How one connection's warehouse ids map back to its ledger's."""

    ledger: Ledger
    customer: Callable[[str], int]
    invoice: Callable[[str], int]
    payment: Callable[[str], int]


def _every_source(zoho_sandbox, bc_sandbox, simpro_sandbox, carbon_sandbox, make_project):
    zoho = zoho_sandbox(organizations=("zoho-books",), ledger_size=SIZE)
    bc = bc_sandbox(companies=("bc-company",), ledger_size=SIZE)
    simpro = simpro_sandbox(companies=("simpro-company",), ledger_size=SIZE)
    carbon = carbon_sandbox(companies=("carbon-company",), ledger_size=SIZE)
    project = make_project(
        [
            zoho_connection(zoho, "zoho-books"),
            bc_connection(bc, "bc-company"),
            simpro_connection(simpro, "simpro-company"),
            carbon_connection(carbon, "carbon-company"),
        ]
    )
    org = zoho.app.organization_id("zoho-books")
    company = bc.app.company_id("bc-company")
    bc_ledger = bc.app.ledger("bc-company")
    bc_payments = {p.payment_number: p.payment_id for p in bc_ledger.payments}
    ids = {
        "zoho-books": LedgerIds(
            zoho.app.ledger("zoho-books"),
            lambda x: zoho_ledger_id(org, "contact", x),
            lambda x: zoho_ledger_id(org, "invoice", x),
            lambda x: zoho_ledger_id(org, "payment", x),
        ),
        # A Business Central payment is its journal lines' document number.
        "bc-company": LedgerIds(
            bc_ledger,
            lambda x: bc_ledger_id(company, "customer", x),
            lambda x: bc_ledger_id(company, "invoice", x),
            bc_payments.__getitem__,
        ),
        "simpro-company": LedgerIds(
            simpro.app.ledger("simpro-company"),
            lambda x: simpro_ledger_id("customer", x),
            lambda x: simpro_ledger_id("invoice", x),
            lambda x: simpro_ledger_id("payment", x),
        ),
        "carbon-company": LedgerIds(
            carbon.app.ledger("carbon-company"),
            lambda x: carbon_ledger_id("carbon-company", "customer", x),
            lambda x: carbon_ledger_id("carbon-company", "invoice", x),
            lambda x: carbon_ledger_id("carbon-company", "payment", x),
        ),
    }
    return project, ids


def _records(project: Project, table: str, connection_id: str) -> list[dict[str, object]]:
    with project.warehouse.connect(read_only=True) as conn:
        cursor = conn.execute(
            f"SELECT * FROM reports.{table} WHERE connection_id = ?", [connection_id]
        )
        names = [column[0] for column in cursor.description]
        return [dict(zip(names, row, strict=True)) for row in cursor.fetchall()]


def _assert_equal_truth(project: Project, connection_id: str, ids: LedgerIds, as_of: date) -> None:
    ledger = ids.ledger
    invoices = truth.invoice_truth(ledger, as_of)
    assert {
        ids.invoice(r["invoice_id"]): (
            r["total_amount"],
            r["applied_amount"],
            r["open_balance"],
            r["derived_status"],
            r["days_past_due"],
            r["aging_bucket"],
            r["balance_delta"],
        )
        for r in _records(project, "invoice_balances", connection_id)
    } == {
        k: (t.total_amount, t.applied, t.open_balance, t.status, t.days_past_due)
        + (t.aging_bucket, t.balance_delta)
        for k, t in invoices.items()
    }

    customers = truth.customer_truth(ledger, as_of)
    assert {
        (ids.customer(r["customer_id"]), r["currency_code"]): (
            r["invoiced"],
            r["applied"],
            r["credits_and_write_offs"],
            r["open_balance"],
            r["unapplied_cash"],
            r["net_balance"],
            r["overdue"],
            r["balance_delta"],
        )
        for r in _records(project, "customer_balances", connection_id)
    } == {
        key: (t.invoiced, t.applied, t.credits_and_write_offs, t.open, t.unapplied_cash, t.net)
        + (t.overdue, t.balance_delta)
        for key, t in customers.items()
    }

    open_pairs = {
        (t.customer_id, t.currency_code)
        for t in invoices.values()
        if t.receivable and t.open_balance != 0
    }
    assert {
        (ids.customer(r["customer_id"]), r["currency_code"]): tuple(r[c] for c in AGING)
        for r in _records(project, "ar_aging", connection_id)
    } == {key: tuple(customers[key].aging.values()) for key in open_pairs}

    assert {
        ids.payment(r["payment_id"]): (r["amount"], r["applied_amount"], r["unapplied_amount"])
        for r in _records(project, "unapplied_payments", connection_id)
    } == {
        pid: (t.amount, t.applied, t.unapplied)
        for pid, t in truth.payment_truth(ledger, as_of).items()
        if t.unapplied != 0
    }

    if as_of == ledger.as_of:
        found = {
            (r["kind"], ids.invoice(r["invoice_id"]))
            if r["entity"] == "invoice"
            else (r["kind"], ids.payment(r["payment_id"]))
            for r in _records(project, "reconciliation_exceptions", connection_id)
        }
        assert sorted(found) == truth.expected_exceptions(ledger)


@both_warehouse_backends
def test_every_report_equals_the_truth_for_every_source(
    zoho_sandbox, bc_sandbox, simpro_sandbox, carbon_sandbox, make_project
):
    project, ids = _every_source(
        zoho_sandbox, bc_sandbox, simpro_sandbox, carbon_sandbox, make_project
    )
    sync(project)
    as_of = {i.ledger.as_of for i in ids.values()}
    for day in sorted(as_of | {min(as_of) - timedelta(days=75)}):
        report(project, day)
        for connection_id, connection_ids in ids.items():
            if day <= connection_ids.ledger.as_of:
                _assert_equal_truth(project, connection_id, connection_ids, day)


# --- Zoho: history, checks, metadata, command line --------------------------------------------


def _zoho_project(zoho_sandbox, make_project) -> tuple[Project, LedgerIds]:
    server = zoho_sandbox(organizations=("acme-books",), ledger_size=SIZE)
    org = server.app.organization_id("acme-books")
    project = make_project([zoho_connection(server, "acme-books")])
    sync(project)
    return project, LedgerIds(
        server.app.ledger("acme-books"),
        lambda x: zoho_ledger_id(org, "contact", x),
        lambda x: zoho_ledger_id(org, "invoice", x),
        lambda x: zoho_ledger_id(org, "payment", x),
    )


def _history(project: Project, defs: dg.Definitions, **run: object) -> list[tuple[object, ...]]:
    with dg.DagsterInstance.ephemeral() as instance:
        result = defs.resolve_job_def(AGING_HISTORY_JOB).execute_in_process(
            instance=instance, **run
        )
    assert result.success
    return project.query("SELECT * FROM reports.ar_aging_daily ORDER BY ALL")


def test_daily_aging_history_is_idempotent_and_true(zoho_sandbox, make_project):
    project, ids = _zoho_project(zoho_sandbox, make_project)
    report(project, ids.ledger.as_of)
    defs = build_definitions(project.config_path)
    day = ids.ledger.as_of - timedelta(days=40)
    range_tags = {
        "dagster/asset_partition_range_start": (day - timedelta(days=2)).isoformat(),
        "dagster/asset_partition_range_end": day.isoformat(),
    }

    once = _history(project, defs, tags=range_tags)  # one run for a range: a backfill
    assert sorted({row[0] for row in once}) == [day - timedelta(days=n) for n in (2, 1, 0)]
    assert _history(project, defs, partition_key=day.isoformat()) == once

    customers = truth.customer_truth(ids.ledger, day)
    open_pairs = {
        (t.customer_id, t.currency_code)
        for t in truth.invoice_truth(ids.ledger, day).values()
        if t.receivable and t.open_balance != 0
    }
    snapshot = project.query(
        f"SELECT customer_id, currency_code, {', '.join(AGING)} FROM reports.ar_aging_daily "
        "WHERE as_of = ?",
        [day],
    )
    assert {(ids.customer(c), code): tuple(amounts) for c, code, *amounts in snapshot} == {
        key: tuple(customers[key].aging.values()) for key in open_pairs
    }


def test_checks_and_metadata_of_the_reports_job(zoho_sandbox, make_project):
    project, ids = _zoho_project(zoho_sandbox, make_project)
    defs = build_definitions(project.config_path)
    expected = truth.expected_exceptions(ids.ledger)
    as_of = ids.ledger.as_of.isoformat()

    counts = {kind: sum(1 for k, _ in expected if k == kind) for kind, _ in expected}

    def run(thresholds: dict[str, int]) -> dg.ExecuteInProcessResult:
        """The reports job with `exception_thresholds: thresholds` in the connections file."""
        text = yaml.safe_load(project.config_path.read_text())
        project.config_path.write_text(yaml.safe_dump({**text, "exception_thresholds": thresholds}))
        ops: dict[str, object] = {REPORTS_OP: {"config": {"as_of": as_of}}}
        with dg.DagsterInstance.ephemeral() as instance:
            return defs.resolve_job_def(REPORTS_JOB).execute_in_process(
                instance=instance, run_config={"ops": ops}
            )

    result = run({})
    assert result.success
    checks = {e.check_name: e for e in result.get_asset_check_evaluations()}
    assert {
        "open_balances_not_negative",
        "payments_not_over_applied",
        "customer_balances_add_up",
        "exceptions_within_threshold",
    } <= checks.keys()
    failed = {name for name, e in checks.items() if not e.passed}
    assert failed == {"exceptions_within_threshold"}
    threshold = checks["exceptions_within_threshold"]
    assert threshold.severity == dg.AssetCheckSeverity.WARN
    assert threshold.metadata["exceptions"].value == len(expected)
    assert threshold.metadata["kinds_over_threshold"].value == sorted(
        counts, key=EXCEPTION_KINDS.index
    )
    for kind, count in counts.items():
        assert f"| {kind} | {count} | 0 |" in threshold.metadata["by_kind"].value

    metadata = {
        event.asset_key.path[-1]: event.materialization.metadata
        for event in result.get_asset_materialization_events()
        if event.asset_key.path[0] == "reports"
    }
    assert set(metadata) == {*REPORTS, *ENTITY_REPORTS, CASH_APPLICATION}
    assert metadata["reconciliation_exceptions"]["exceptions_by_kind"].value == counts
    assert "data:image/png;base64," in metadata["ar_aging"]["aging_chart"].value
    assert "| currency |" in metadata["customer_balances"]["totals_by_currency"].value
    schema = metadata["customer_balances"]["dagster/column_schema"].schema
    assert all(column.description for column in schema.columns)

    # Per kind: one kind allowed one fewer than found still warns, naming only that kind.
    short = min(counts)
    thresholds = {**counts, short: counts[short] - 1}
    [warned] = [e for e in run(thresholds).get_asset_check_evaluations() if not e.passed]
    assert warned.check_name == "exceptions_within_threshold"
    assert warned.metadata["kinds_over_threshold"].value == [short]
    again = run(counts)
    assert all(e.passed for e in again.get_asset_check_evaluations())


def test_report_command_prints_and_writes_csv_and_parquet(zoho_sandbox, make_project, tmp_path):
    project, ids = _zoho_project(zoho_sandbox, make_project)
    as_of = ids.ledger.as_of.isoformat()
    runner = CliRunner()
    base = ["report", "--as-of", as_of, "--config", str(project.config_path)]

    printed = runner.invoke(app, base)
    assert printed.exit_code == 0, printed.output
    assert f"Customer balances as of {as_of}" in printed.output
    assert f"Receivables aging as of {as_of}" in printed.output
    assert "Reconciliation exceptions: balance_mismatch 1" in printed.output

    assert "Largest customer balances" in printed.output

    written = runner.invoke(app, [*base, "--format", "csv", "--output", str(tmp_path / "csv")])
    assert written.exit_code == 0, written.output
    assert sorted(p.name for p in (tmp_path / "csv").iterdir()) == sorted(
        f"{name}-{as_of}.csv" for name in (*REPORTS, *ENTITY_REPORTS, CASH_APPLICATION)
    )
    table = project.query("SELECT * FROM reports.customer_balances ORDER BY ALL")
    with (tmp_path / "csv" / f"customer_balances-{as_of}.csv").open() as handle:
        assert len(list(csv.DictReader(handle))) == len(table)
    parquet = write_reports(project.warehouse, tmp_path / "parquet", ReportFormat.parquet)
    assert (
        duckdb.connect().read_parquet(str(parquet[REPORTS.index("customer_balances")])).fetchall()
        == table
    )

    wrong = runner.invoke(app, [*base, "--format", "xlsx"])
    assert wrong.exit_code == 2
