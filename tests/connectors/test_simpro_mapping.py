"""Simpro payloads → canonical rows: the derivations the mapping makes, and its quarantine."""

from __future__ import annotations

import json
from datetime import UTC, date, datetime
from decimal import Decimal
from pathlib import Path
from typing import Any

from connectors.simpro.mapping import MAPPINGS
from connectors.simpro.settings import SOURCE, STREAMS
from models.normalize import normalize_connection
from models.raw import ensure_raw_table
from models.warehouse import Warehouse

D = Decimal
ACME = {"ID": 11, "CompanyName": "Acme Buyer Co"}


def customer(cid: int, **changes: Any) -> dict[str, Any]:
    return {
        "ID": cid,
        "CompanyName": "Acme Buyer Co",
        "Phone": "",
        "Email": "ap@acme.example",
        "Profile": {"Currency": {"ID": "AUD", "Name": "Australian Dollar"}},
        "Banking": {"PaymentTerms": {"Days": 30, "Type": "Invoice"}, "CreditLimit": 5000.0},
        "Archived": False,
        "AmountOwing": 1574.5,
        "DateCreated": "2026-01-05T10:00:00+11:00",
        "DateModified": "2026-10-15T19:30:00+11:00",
    } | changes


def invoice(iid: int, **changes: Any) -> dict[str, Any]:
    return {
        "ID": iid,
        "Customer": ACME,
        "Stage": "Approved",
        "Total": {"ExTax": 1125.0, "IncTax": 1234.5, "Paid": 234.5},
        "Currency": "AUD",
        "DateIssued": "2026-09-01",
        "DueDate": "2026-10-01",
        "IsCredit": False,
        "IsPaid": False,
        "DateModified": "2026-10-01 10:00:00+10",
    } | changes


def credit_note(nid: int, invoice_id: int, kind: str, amount: Any) -> dict[str, Any]:
    total = {"ExTax": amount, "Tax": 0, "IncTax": amount}
    return {"ID": nid, "Type": kind, "InvoiceNo": invoice_id, "Stage": "Approved", "Total": total}


def payment(pid: int, lines: list[tuple[int, Any]], **details: Any) -> dict[str, Any]:
    return {
        "ID": pid,
        "Payment": {
            "PaymentMethod": {"ID": 1, "Name": "Bank Transfer"},
            "Date": "2026-10-10",
            "FinanceCharge": 0,
            "CheckNo": f"TRF-{pid}",
        }
        | details,
        "Invoices": [
            {"Invoice": {"ID": i, "Customer": ACME, "Currency": {"ID": "AUD"}}, "Amount": amount}
            for i, amount in lines
        ],
        "DateModified": "2026-10-10T12:00:00+11:00",
    }


def normalize(tmp_path: Path, **payloads: list[dict[str, Any]]) -> Warehouse:
    warehouse = Warehouse(tmp_path / "w.duckdb")
    warehouse.ensure_schema()
    raw = {stream.name: stream.raw(SOURCE) for stream in STREAMS}
    with warehouse.connect() as conn:
        for stream in raw.values():
            ensure_raw_table(conn, stream)
        for name, records in payloads.items():
            for record in records:
                conn.execute(
                    f"INSERT INTO {raw[name].table} VALUES "
                    "('c', ?, ?, 'x', 'b', now(), now(), NULL)",
                    [str(record["ID"]), json.dumps(record)],
                )
        normalize_connection(
            conn,
            connection_id="c",
            source=SOURCE,
            mappings=MAPPINGS,
            raw_tables={name: stream.table for name, stream in raw.items()},
        )
    return warehouse


def query(warehouse: Warehouse, sql: str) -> list[tuple[Any, ...]]:
    with warehouse.connect(read_only=True) as conn:
        return conn.execute(sql).fetchall()


def test_customers_from_both_lists_with_either_currency_form(tmp_path: Path) -> None:
    person = customer(21, Profile={"Currency": "EUR"}, Archived=True, AmountOwing=0)
    del person["CompanyName"]
    person |= {"GivenName": "Jane", "FamilyName": "Doe"}
    warehouse = normalize(
        tmp_path,
        customer_companies=[customer(11), customer(31, Profile={"Currency": None})],
        customer_individuals=[person],
    )
    assert query(
        warehouse,
        "SELECT customer_id, name, kind, currency_code, status, payment_terms_days, "
        "credit_limit, source_balance, updated_at FROM canonical.customers ORDER BY 1",
    ) == [
        ("11", "Acme Buyer Co", "company", "AUD", "active", 30, D("5000"), D("1574.5"), _at(8)),
        ("21", "Jane Doe", "person", "EUR", "inactive", 30, D("5000"), D("0"), _at(8)),
        ("31", "Acme Buyer Co", "company", None, "active", 30, D("5000"), D("1574.5"), _at(8)),
    ]
    assert query(warehouse, "SELECT count(*) FROM canonical.rejected_records") == [(0,)]


def test_invoice_credits_voids_drafts_and_balances(tmp_path: Path) -> None:
    warehouse = normalize(
        tmp_path,
        customer_invoices=[
            invoice(12),
            invoice(22),
            invoice(32, Stage="Pending"),
            invoice(42, IsPaid=True, Total={"ExTax": 100, "IncTax": 100, "Paid": 100}),
        ],
        credit_notes=[
            credit_note(14, 12, "Credit", 50),
            credit_note(15, 12, "Credit", 10.25),
            credit_note(24, 22, "Void", 1234.5),
        ],
    )
    assert query(
        warehouse,
        "SELECT invoice_id, status, subtotal, tax_amount, total_amount, credits_applied, "
        "write_off_amount, source_balance, updated_at FROM canonical.invoices ORDER BY 1",
    ) == [
        (
            "12",
            "partially_paid",
            D("1125"),
            D("109.5"),
            D("1234.5"),
            D("60.25"),
            0,
            D("1000"),
            _at(0, day=1),
        ),
        ("22", "void", D("1125"), D("109.5"), D("1234.5"), 0, 0, 0, _at(0, day=1)),
        ("32", "draft", D("1125"), D("109.5"), D("1234.5"), 0, 0, 0, _at(0, day=1)),
        ("42", "paid", D("100"), 0, D("100"), 0, 0, 0, _at(0, day=1)),
    ]


def test_payment_amount_is_its_lines_and_finance_charge_a_fee(tmp_path: Path) -> None:
    warehouse = normalize(
        tmp_path,
        customer_payments=[
            payment(13, [(12, 100), (22, 0.5)], FinanceCharge=50, Status="Complete"),
            payment(23, [(12, 0)], FinanceCharge=40),  # a zero line names the customer
            payment(33, [(12, 30)], Status="Failed"),
            payment(43, [(12, 30)], Status="Pending"),
            payment(53, [(12, 5), (12, 6)]),  # two lines on one invoice: two applications
        ],
    )
    assert query(
        warehouse,
        "SELECT payment_id, customer_id, currency_code, amount, bank_charges, status, "
        "reference, method FROM canonical.payments ORDER BY 1",
    ) == [
        ("13", "11", "AUD", D("100.5"), D("50"), "posted", "TRF-13", "Bank Transfer"),
        ("23", "11", "AUD", D("0"), D("40"), "posted", "TRF-23", "Bank Transfer"),
        ("33", "11", "AUD", D("30"), D("0"), "void", "TRF-33", "Bank Transfer"),
        ("43", "11", "AUD", D("30"), D("0"), "pending", "TRF-43", "Bank Transfer"),
        ("53", "11", "AUD", D("11"), D("0"), "posted", "TRF-53", "Bank Transfer"),
    ]
    # The fee is not customer credit: nothing of these payments is unapplied.
    assert query(
        warehouse,
        "SELECT DISTINCT p.amount - coalesce((SELECT sum(a.amount_applied) "
        "FROM canonical.payment_applications a WHERE a.payment_id = p.payment_id), 0) "
        "FROM canonical.payments p",
    ) == [(D("0"),)]
    assert query(
        warehouse,
        "SELECT application_id, payment_id, invoice_id, amount_applied, applied_date "
        "FROM canonical.payment_applications ORDER BY 1",
    ) == [
        ("13:1", "13", "12", D("100"), date(2026, 10, 10)),
        ("13:2", "13", "22", D("0.5"), date(2026, 10, 10)),
        ("33:1", "33", "12", D("30"), date(2026, 10, 10)),
        ("43:1", "43", "12", D("30"), date(2026, 10, 10)),
        ("53:1", "53", "12", D("5"), date(2026, 10, 10)),
        ("53:2", "53", "12", D("6"), date(2026, 10, 10)),
    ]


def test_unloadable_records_are_quarantined_with_their_reasons(tmp_path: Path) -> None:
    warehouse = normalize(
        tmp_path,
        customer_invoices=[invoice(12), invoice(22, Stage="Draft")],
        credit_notes=[credit_note(14, 12, "Credit", "fifty")],
        customer_payments=[
            payment(13, []),
            payment(23, [(12, 10)], Status="Refunded"),
            payment(33, [(12, 10.12345)]),
        ],
    )
    assert query(
        warehouse,
        "SELECT stream, record_id, reason FROM canonical.rejected_records ORDER BY 1, 2",
    ) == [
        ("customer_invoices", "12", "a credit note of this invoice has no readable Total.IncTax"),
        ("customer_invoices", "22", "Stage is not known: Draft"),
        (
            "customer_payments",
            "13",
            "no invoice line names the customer (Invoices[].Invoice.Customer.ID); "
            "customer_id could not be derived; Currency is missing; "
            "currency_code could not be derived",
        ),
        (
            "customer_payments",
            "23",
            "Payment.Status is not known: Refunded; status could not be derived",
        ),
        ("customer_payments", "33", "an invoice line Amount has more than 4 decimal places"),
        ("customer_payments", "33:1", "Amount has more than 4 decimal places: 10.12345"),
    ]


def _at(hour: int, *, day: int = 15) -> datetime:
    """A UTC instant in October 2026 (the payloads carry +10:00/+11:00 offsets)."""
    minute = 30 if day == 15 else 0
    return datetime(2026, 10, day, hour, minute, tzinfo=UTC)


def test_a_payment_whose_invoices_are_not_a_list_is_quarantined(tmp_path: Path) -> None:
    not_a_list = payment(43, []) | {"Invoices": {"Invoice": {"ID": 12}, "Amount": 10}}
    warehouse = normalize(
        tmp_path,
        customer_invoices=[invoice(12)],
        customer_payments=[not_a_list, payment(53, [(12, 10)])],
    )
    assert query(warehouse, "SELECT payment_id FROM canonical.payments") == [("53",)]
    assert query(warehouse, "SELECT application_id FROM canonical.payment_applications") == [
        ("53:1",)
    ]
    [(record_id, reason)] = query(
        warehouse, "SELECT record_id, reason FROM canonical.rejected_records"
    )
    assert record_id == "43"
    assert reason.startswith('Invoices is not a list: {"Invoice":{"ID":12},"Amount":10}')
