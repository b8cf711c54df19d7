"""Carbon's mapping on hand-written raw records: what counts as credit, write-off and applied
money, statuses, rounding of the view's balance, and customers' payment terms."""

from __future__ import annotations

import json
from decimal import Decimal
from pathlib import Path
from typing import Any

import pytest

from connectors.carbon.mapping import MAPPINGS
from connectors.carbon.settings import SOURCE, STREAMS
from models.raw import ensure_raw_table
from models.warehouse import Warehouse
from pipelines.sync import normalize

CONNECTION = "carbon-test"
T = "2026-10-01T09:00:00+00:00"
D = Decimal


def invoice(**fields: Any) -> dict[str, Any]:
    return {
        "id": "inv1",
        "invoiceId": "INV-1",
        "status": "Partially Paid",
        "customerId": "cus1",
        "dateIssued": "2026-09-01",
        "dateDue": "2026-10-01",
        "currencyCode": "EUR",
        "exchangeRate": 1.085,
        "subtotal": 100,
        "totalTax": 0,
        "totalAmount": 100,
        "balance": 40,
        "createdAt": T,
        "updatedAt": None,
        **fields,
    }


def payment(pid: str, status: str) -> dict[str, Any]:
    return {
        "id": pid,
        "paymentId": f"PAY-{pid}",
        "paymentType": "Receipt",
        "status": status,
        "customerId": "cus1",
        "paymentDate": "2026-09-15",
        "currencyCode": "EUR",
        "exchangeRate": 1.09,
        "totalAmount": 100,
        "reference": None,
        "createdAt": T,
        "updatedAt": "2026-09-20T10:00:00.5+00:00" if status != "Draft" else None,
    }


def settlement(sid: str, *, payment_id: str | None = None, memo_id: str | None = None, **amounts):
    return {
        "id": sid,
        "paymentId": payment_id,
        "memoId": memo_id,
        "targetSalesInvoiceId": "inv1",
        "appliedAmount": amounts.get("applied", 0),
        "discountAmount": amounts.get("discount", 0),
        "writeOffAmount": amounts.get("write_off", 0),
        "appliedDate": "2026-09-16",
        "createdAt": T,
    }


@pytest.fixture
def warehouse(tmp_path: Path) -> Warehouse:
    warehouse = Warehouse(tmp_path / "w.duckdb")
    warehouse.ensure_schema()
    return warehouse


def load(warehouse: Warehouse, raw: dict[str, list[dict[str, Any]]], vanished=()) -> None:
    streams = {stream.name: stream for stream in STREAMS}
    with warehouse.connect() as conn:
        for name, records in raw.items():
            stream = streams[name].raw(SOURCE)
            ensure_raw_table(conn, stream)
            for record in records:
                key = record["customerId"] if name == "customer_payment" else record["id"]
                conn.execute(
                    f"INSERT INTO {stream.table} VALUES (?, ?, ?, md5(?), 'b', now(), now(), "
                    "CASE WHEN ? THEN now() END)",
                    [CONNECTION, key, json.dumps(record), json.dumps(record), key in vanished],
                )
    normalize(
        warehouse, connection_id=CONNECTION, source=SOURCE, streams=STREAMS, mappings=MAPPINGS
    )


def query(warehouse: Warehouse, sql: str) -> list[tuple]:
    with warehouse.connect(read_only=True) as conn:
        return conn.execute(sql).fetchall()


def test_only_posted_settlements_take_credits_and_write_offs_off(warehouse) -> None:
    load(
        warehouse,
        {
            "sales_invoices": [invoice(balance=53.917050691244239631)],
            "payment": [payment("posted", "Posted"), payment("draft", "Draft")]
            + [payment("voided", "Voided")],
            "memo": [
                {"id": "m-posted", "status": "Posted", "createdAt": T},
                {"id": "m-draft", "status": "Draft", "createdAt": T},
            ],
            "invoice_settlement": [
                settlement("s1", payment_id="posted", applied=50, discount=2, write_off=1),
                settlement("s2", payment_id="draft", applied=10, discount=5, write_off=5),
                settlement("s3", payment_id="voided", applied=20, discount=3),
                settlement("s4", memo_id="m-posted", applied=7, discount=0.5),
                settlement("s5", memo_id="m-draft", applied=100),
                settlement("s6", payment_id="posted", write_off=4),
            ],
        },
        vanished={"s6"},
    )
    assert query(warehouse, "SELECT * FROM canonical.rejected_records") == []
    [(credits, write_offs, balance, status)] = query(
        warehouse,
        "SELECT credits_applied, write_off_amount, source_balance, status FROM canonical.invoices",
    )
    assert (credits, write_offs) == (D("9.5"), D("1"))  # 2 + 7 + 0.5; 1
    assert balance == D("53.9171")  # the view's division, rounded to 4 places
    assert status == "partially_paid"
    applications = query(
        warehouse,
        "SELECT application_id, payment_id, amount_applied, applied_date::VARCHAR "
        "FROM canonical.payment_applications ORDER BY 1",
    )
    assert applications == [
        ("s1", "posted", D("50"), "2026-09-16"),
        ("s2", "draft", D("10"), "2026-09-16"),
        ("s3", "voided", D("20"), "2026-09-16"),
    ]
    statuses = query(
        warehouse,
        "SELECT payment_id, status, updated_at::VARCHAR FROM canonical.payments ORDER BY 1",
    )
    assert statuses == [
        ("draft", "pending", "2026-10-01 09:00:00+00"),
        ("posted", "posted", "2026-09-20 10:00:00.5+00"),
        ("voided", "void", "2026-09-20 10:00:00.5+00"),
    ]


def test_customers_carry_their_payment_terms(warehouse) -> None:
    load(
        warehouse,
        {
            "customer": [
                {"id": "cus1", "readableId": "C-1", "name": "Acme", "currencyCode": None}
                | {"createdAt": "2026-01-01T00:00:00Z", "updatedAt": None},
                {"id": "cus2", "name": "Bolt", "currencyCode": "usd", "createdAt": T}
                | {"updatedAt": "2026-10-02T00:00:00.123456+00:00"},
            ],
            "customer_payment": [
                {"customerId": "cus1", "paymentTermId": "net30"},
                {"customerId": "cus2", "paymentTermId": "gone"},
            ],
            "payment_term": [{"id": "net30", "daysDue": 30}, {"id": "gone", "daysDue": 60}],
        },
        vanished={"gone"},
    )
    rows = query(
        warehouse,
        "SELECT customer_id, customer_number, currency_code, payment_terms_days, kind, "
        "updated_at::VARCHAR FROM canonical.customers ORDER BY 1",
    )
    assert rows == [
        ("cus1", "C-1", None, 30, "company", "2026-01-01 00:00:00+00"),
        ("cus2", None, "USD", None, "company", "2026-10-02 00:00:00.123456+00"),
    ]
    assert query(warehouse, "SELECT * FROM canonical.rejected_records") == []


def test_an_unknown_status_is_quarantined(warehouse) -> None:
    load(warehouse, {"sales_invoices": [invoice(status="Disputed")]})
    [(record, reason)] = query(
        warehouse, "SELECT record_id, reason FROM canonical.rejected_records"
    )
    assert record == "inv1"
    assert reason.startswith("status is not known: Disputed")


def test_a_settlement_amount_that_would_round_quarantines_its_invoice(warehouse) -> None:
    load(
        warehouse,
        {
            "sales_invoices": [invoice()],
            "payment": [payment("posted", "Posted")],
            "memo": [],
            "invoice_settlement": [settlement("s1", payment_id="posted", discount=1.23456)],
        },
    )
    assert query(warehouse, "SELECT count(*) FROM canonical.invoices") == [(0,)]
    [(record_id, reason)] = query(
        warehouse,
        "SELECT record_id, reason FROM canonical.rejected_records WHERE stream = 'sales_invoices'",
    )
    assert record_id == "inv1"
    assert "not an exact DECIMAL(18,4)" in reason


def test_a_balance_too_large_for_decimal_18_4_quarantines_its_invoice_and_the_rest_loads(
    warehouse,
) -> None:
    load(
        warehouse,
        {
            "sales_invoices": [invoice(), invoice(id="inv2", invoiceId="INV-2", balance=1e14)],
            "payment": [],
            "memo": [],
            "invoice_settlement": [],
        },
    )
    assert query(warehouse, "SELECT invoice_id FROM canonical.invoices") == [("inv1",)]
    assert query(warehouse, "SELECT stream, record_id, reason FROM canonical.rejected_records") == [
        ("sales_invoices", "inv2", "balance does not fit DECIMAL(18,4): 100000000000000.0")
    ]
