"""Reports refreshed after a sync, through the Dagster jobs and real normalization, equal what the
report macros compute from the canonical tables: on a DuckDB file the stored ledgers are brought
up to date from the changes normalization recorded (the reports job normalizes, then refreshes);
a DuckLake computes them whole."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from decimal import Decimal

from models.reports import REPORTS
from sandbox.carbon.testing import carbon_connection
from sandbox.generator import insert_listed, record_payment, void_invoice
from tests.e2e import report, sync
from tests.project import Project, both_warehouse_backends

COMPANY = "ironbark-mfg"
SIZE = {"customers": 20, "invoices": 150, "payments": 120}
AGED = ("invoice_balances", "ar_aging")


def stored_and_computed(project: Project, as_of) -> tuple[dict, dict]:
    """Every report as stored, and as its macro computes it now."""
    stored, computed = {}, {}
    for name in REPORTS:
        aging = ", edges := [30, 60, 90, 120], basis := 'due_date'" if name in AGED else ""
        stored[name] = project.query(f"FROM reports.{name} ORDER BY ALL")
        computed[name] = project.query(
            f"FROM reports.{name}_at(?::DATE{aging}) ORDER BY ALL", [as_of]
        )
    return stored, computed


@both_warehouse_backends
def test_reports_after_a_sync_equal_the_macros(
    carbon_sandbox, make_project, warehouse_backend
) -> None:
    server = carbon_sandbox(companies=(COMPANY,), ledger_size=SIZE)
    project = make_project([carbon_connection(server, COMPANY)])
    ledger = server.app.ledger(COMPANY)
    sync(project)
    report(project, ledger.as_of)

    at = datetime.now(UTC) - timedelta(seconds=5)
    open_invoices = [i for i in ledger.invoices if i.status == "open"]
    ledger, _ = record_payment(
        ledger,
        customer_id=open_invoices[0].customer_id,
        applications=[(open_invoices[0].invoice_id, Decimal("10.00"))],
        payment_date=ledger.as_of,
        at=at,
        unapplied=Decimal("2.50"),
    )
    ledger = void_invoice(ledger, open_invoices[1].invoice_id, at=at)
    ledger = insert_listed(ledger, "invoices", at=at)
    server.app.set_ledger(COMPANY, ledger)
    sync(project)
    report(project, ledger.as_of)  # normalization (recording what changed), then the reports

    stored, computed = stored_and_computed(project, ledger.as_of)
    assert stored == computed
    assert all(stored.values())
    if warehouse_backend == "duckdb":  # the ledgers include the changes normalization recorded
        assert project.query("SELECT min(through_seq) > 0 FROM ledgers.state") == [(True,)]
