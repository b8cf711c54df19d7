"""The vendors' documented samples, replayed from ledger files by embedded sandboxes and synced
end to end: connections file → sandbox serving the file → connector → warehouse → reports."""

from __future__ import annotations

from datetime import date
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
