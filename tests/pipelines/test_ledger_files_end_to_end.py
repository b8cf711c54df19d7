"""The vendors' documented samples, replayed from ledger files by embedded sandboxes and synced
end to end: connections file → sandbox serving the file → connector → warehouse → reports."""

from __future__ import annotations

from datetime import UTC, date, datetime
from decimal import Decimal
from pathlib import Path

from tests.e2e import report, sync

LEDGERS = Path(__file__).parents[1] / "fixtures" / "ledgers"


def test_the_zoho_sample_is_a_balance_mismatch_on_inv_00001(make_project) -> None:
    project = make_project(
        [
            {
                "id": "zoho-sample",
                "source": "zoho_books",
                "sandbox": "embedded",
                "sandbox_ledger": str(LEDGERS / "zoho-books-customerpayments-sample.yaml"),
            }
        ]
    )
    fetched = sync(project)
    assert fetched["zoho-sample"] == {
        "contacts": 1,
        "invoices": 1,
        "customerpayments": 2,
        "customerpayment_details": 2,
    }
    report(project, date(2013, 12, 31))
    assert project.query("SELECT stream, reason FROM canonical.rejected_records") == []
    assert project.query(
        "SELECT payment_id, amount FROM canonical.payments ORDER BY payment_id"
    ) == [("982000000567190", Decimal("10.57")), ("982000000567202", Decimal("16.34"))]
    assert project.query(
        "SELECT kind, invoice_id, expected, actual, difference "
        "FROM reports.reconciliation_exceptions"
    ) == [
        (
            "balance_mismatch",
            "982000000567036",
            Decimal("126.09"),  # 153.00 - 16.34 - 10.57
            Decimal("103.66"),  # the source's balance
            Decimal("-22.43"),
        )
    ]


def test_the_simpro_sample_payment_is_its_line_with_finance_charge_as_a_fee(make_project) -> None:
    project = make_project(
        [
            {
                "id": "simpro-sample",
                "source": "simpro",
                "sandbox": "embedded",
                "sandbox_ledger": str(LEDGERS / "simpro-customerpayments-sample.yaml"),
            }
        ]
    )
    assert sync(project)["simpro-sample"]["customer_payments"] == 1
    report(project, date(2021, 4, 30))
    assert project.query("SELECT stream, reason FROM canonical.rejected_records") == []
    assert project.query(
        "SELECT payment_id, customer_id, currency_code, amount, bank_charges, status "
        "FROM canonical.payments"
    ) == [("0", "12345", "USD", Decimal("1.57"), Decimal("1.57"), "void")]
    assert project.query(
        "SELECT payment_id, invoice_id, amount_applied FROM canonical.payment_applications"
    ) == [("0", "0", Decimal("1.57"))]
    assert project.query("SELECT count(*) FROM reports.unapplied_payments") == [(0,)]


def test_the_carbon_samples_load_the_example_customer(make_project, monkeypatch) -> None:
    monkeypatch.delenv("CARBON_API_KEY", raising=False)
    project = make_project(
        [
            {
                "id": "carbon-sample",
                "source": "carbon",
                "sandbox": "embedded",
                "sandbox_ledger": str(LEDGERS / "carbon-customer-sample.yaml"),
            }
        ]
    )
    fetched = sync(project)["carbon-sample"]
    assert (fetched["customer"], fetched["customer_payment"]) == (1, 1)
    report(project, date(2026, 1, 31))
    assert project.query("SELECT stream, reason FROM canonical.rejected_records") == []
    assert project.query(
        "SELECT customer_id, name, payment_terms_days, created_at FROM canonical.customers"
    ) == [("abc123def456", "Example", None, datetime(2026, 1, 1, tzinfo=UTC))]
    assert project.query("SELECT count(*) FROM reports.invoice_balances") == [(0,)]


def test_the_business_central_representation_is_quarantined_with_its_reasons(make_project):
    project = make_project(
        [
            {
                "id": "bc-sample",
                "source": "business_central",
                "sandbox": "embedded",
                "sandbox_ledger": str(LEDGERS / "business-central-customerpayments-sample.yaml"),
            }
        ]
    )
    fetched = sync(project)["bc-sample"]
    assert (fetched["customer_payment_journals"], fetched["customer_payments"]) == (1, 1)
    report(project, date(2026, 1, 31))
    rejected = dict(project.query("SELECT record_id, reason FROM canonical.rejected_records"))
    assert sorted(rejected) == ["GUID", "string"]  # the line's id and its documentNumber
    assert "amount is not a number: decimal" in rejected["GUID"]
    assert "postingDate is not a date (YYYY-MM-DD): date" in rejected["string"]
    assert project.query("SELECT count(*) FROM canonical.payments") == [(0,)]
