"""Declarative mappings: exact typed values, and one clear quarantine reason per bad value."""

from __future__ import annotations

import json
from datetime import date
from decimal import Decimal

import pytest

from connectors.zoho_books.mapping import INVOICE_MAPPING
from models.normalize import normalize_connection
from models.raw import RawStream, ensure_raw_table
from models.warehouse import Warehouse

RAW = RawStream("zoho_books", "invoices", "$.invoices", "$.invoice_id")
GOOD = {
    "invoice_id": "1",
    "invoice_number": "INV-1",
    "customer_id": "c1",
    "status": "partially_paid",
    "date": "2026-01-31",
    "due_date": "2026-03-02",
    "currency_code": "eur",
    "exchange_rate": 1.08125,
    "sub_total": 100.1,
    "tax_total": 19.02,
    "total": 119.12,
    "balance": 19.12,
    "last_modified_time": "2026-02-01T09:30:00+0530",
}


def _json(payload: dict) -> str:
    """The payload as JSON; a `RawNumber` value is written with its exact digits."""
    text = json.dumps(
        {k: f"<raw:{v}>" if isinstance(v, RawNumber) else v for k, v in payload.items()}
    )
    for value in payload.values():
        if isinstance(value, RawNumber):
            text = text.replace(f'"<raw:{value}>"', value)
    return text


class RawNumber(str):
    """A JSON number given as text, so no Python float rounds it first."""


def _normalize(tmp_path, *payloads: dict) -> Warehouse:
    warehouse = Warehouse(tmp_path / "w.duckdb")
    warehouse.ensure_schema()
    with warehouse.connect() as conn:
        ensure_raw_table(conn, RAW)
        for number, payload in enumerate(payloads):
            conn.execute(
                f"INSERT INTO {RAW.table} VALUES ('c', ?, ?, 'x', 'b', now(), now(), NULL)",
                [str(number), _json(payload)],
            )
        normalize_connection(
            conn,
            connection_id="c",
            source="zoho_books",
            mappings=[INVOICE_MAPPING],
            raw_tables={"invoices": RAW.table},
        )
    return warehouse


def test_a_good_record_maps_exactly(tmp_path):
    warehouse = _normalize(tmp_path, GOOD)
    with warehouse.connect(read_only=True) as conn:
        row = conn.execute(
            "SELECT status, issue_date, currency_code, exchange_rate, subtotal, total_amount, "
            "credits_applied, source_balance, updated_at::VARCHAR FROM canonical.invoices"
        ).fetchone()
    assert row == (
        "partially_paid",
        date(2026, 1, 31),
        "EUR",
        Decimal("1.08125000"),
        Decimal("100.1000"),
        Decimal("119.1200"),
        Decimal("0.0000"),
        Decimal("19.1200"),
        "2026-02-01 04:00:00+00",
    )


@pytest.mark.parametrize(
    ("change", "reason"),
    [
        ({"total": "abc"}, "total is not a number: abc"),
        ({"total": None}, "total is missing"),
        ({"total": -5}, "total is negative: -5"),
        ({"total": 12.34567}, "total has more than 4 decimal places: 12.34567"),
        ({"total": 1e15}, "total does not fit DECIMAL(18,4)"),
        (
            {"total": RawNumber("12345678901234.5678")},
            "total has more than 15 significant digits and cannot be read exactly",
        ),
        ({"currency_code": "XYZ"}, "currency_code is not an ISO 4217 currency code: XYZ"),
        ({"date": "2026-13-45"}, "date is not a date (YYYY-MM-DD): 2026-13-45"),
        ({"status": "weird"}, "status is not known: weird"),
        ({"last_modified_time": "yesterday"}, "last_modified_time is not a timestamp: yesterday"),
        ({"customer_id": None}, "customer_id is missing"),
        ({"customer_id": {"id": 1}}, "customer_id is an object or list, expected text"),
    ],
)
def test_a_bad_value_is_quarantined_with_its_reason_and_the_rest_loads(tmp_path, change, reason):
    bad = {**GOOD, "invoice_id": "2", **change}
    warehouse = _normalize(tmp_path, GOOD, bad)
    with warehouse.connect(read_only=True) as conn:
        loaded = conn.execute("SELECT invoice_id FROM canonical.invoices").fetchall()
        [(record_id, stream, why, payload)] = conn.execute(
            "SELECT record_id, stream, reason, payload FROM canonical.rejected_records"
        ).fetchall()
    assert loaded == [("1",)]
    assert (record_id, stream) == ("1", "invoices")
    assert reason in why
    assert json.loads(payload)["invoice_id"] == "2"


def test_every_reason_of_a_record_is_listed(tmp_path):
    warehouse = _normalize(tmp_path, {**GOOD, "total": -1, "currency_code": "XYZ"})
    with warehouse.connect(read_only=True) as conn:
        [(why,)] = conn.execute("SELECT reason FROM canonical.rejected_records").fetchall()
    assert "total is negative" in why and "currency_code is not an ISO 4217" in why
