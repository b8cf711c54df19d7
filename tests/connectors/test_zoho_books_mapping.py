"""Zoho Books payloads → canonical rows: the payment applications read from payment details."""

from __future__ import annotations

import json
from decimal import Decimal
from pathlib import Path
from typing import Any

from connectors.zoho_books.mapping import MAPPINGS
from connectors.zoho_books.settings import SOURCE, STREAMS
from models.normalize import normalize_connection
from models.raw import ensure_raw_table
from models.warehouse import Warehouse


def detail(payment_id: str, invoices: object) -> dict[str, Any]:
    return {"payment_id": payment_id, "date": "2026-10-10", "invoices": invoices}


def line(invoice_id: str | None, amount: object) -> dict[str, Any]:
    found = {"invoice_id": invoice_id, "amount_applied": amount}
    return {key: value for key, value in found.items() if value is not None}


def normalize(tmp_path: Path, details: list[dict[str, Any]]) -> Warehouse:
    warehouse = Warehouse(tmp_path / "w.duckdb")
    warehouse.ensure_schema()
    raw = {stream.name: stream.raw(SOURCE) for stream in STREAMS}
    with warehouse.connect() as conn:
        for stream in raw.values():
            ensure_raw_table(conn, stream)
        for record in details:
            conn.execute(
                f"INSERT INTO {raw['customerpayment_details'].table} VALUES "
                "('c', ?, ?, 'x', 'b', now(), now(), NULL)",
                [record["payment_id"], json.dumps(record)],
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


def test_a_detail_line_without_an_invoice_is_quarantined_and_the_rest_load(
    tmp_path: Path,
) -> None:
    warehouse = normalize(
        tmp_path, [detail("p1", [line("i1", 10), line(None, 5), line("i2", 2.5)]), detail("p3", [])]
    )
    assert query(
        warehouse,
        "SELECT application_id, payment_id, invoice_id, amount_applied "
        "FROM canonical.payment_applications ORDER BY 1",
    ) == [("p1:i1", "p1", "i1", Decimal("10")), ("p1:i2", "p1", "i2", Decimal("2.5"))]
    assert query(warehouse, "SELECT stream, record_id, reason FROM canonical.rejected_records") == [
        (
            "customerpayment_details",
            "p1:#2",
            "invoice_id is missing; invoice_id could not be derived",
        )
    ]


def test_a_detail_whose_invoices_are_not_a_list_is_quarantined(tmp_path: Path) -> None:
    warehouse = normalize(
        tmp_path,
        [detail("p1", [line("i1", 10)]), detail("p2", {"invoice_id": "i1", "amount_applied": 3})],
    )
    assert query(warehouse, "SELECT application_id FROM canonical.payment_applications") == [
        ("p1:i1",)
    ]
    [(stream, record_id, reason)] = query(
        warehouse, "SELECT stream, record_id, reason FROM canonical.rejected_records"
    )
    assert (stream, record_id) == ("customerpayment_details", "p2")
    assert reason.startswith('invoices is not a list: {"invoice_id":"i1","amount_applied":3}')
