"""Normalizing raw into canonical rows: deleted records, and the quarantine."""

from __future__ import annotations

import json

from connectors.zoho_books.mapping import INVOICE_MAPPING
from connectors.zoho_books.settings import INVOICES
from models.normalize import normalize_connection
from models.raw import ensure_raw_table
from models.warehouse import Warehouse

RAW = INVOICES.raw("zoho_books")


def _invoice(invoice_id: str, total: object) -> str:
    return json.dumps(
        {
            "invoice_id": invoice_id,
            "customer_id": "c1",
            "status": "sent",
            "date": "2026-10-01",
            "currency_code": "USD",
            "total": total,
            "last_modified_time": "2026-10-01T10:00:00+0000",
        }
    )


def test_a_deleted_record_keeps_its_row_marked_and_a_deleted_bad_one_leaves_quarantine(tmp_path):
    warehouse = Warehouse(tmp_path / "w.duckdb")
    warehouse.ensure_schema()
    with warehouse.connect() as conn:
        ensure_raw_table(conn, RAW)
        rows = [
            ("live", _invoice("live", 10), None),
            ("deleted", _invoice("deleted", 20), "2026-10-02 00:00:00+00"),
            ("bad", _invoice("bad", "twenty"), None),
            ("bad-deleted", _invoice("bad-deleted", "thirty"), "2026-10-02 00:00:00+00"),
        ]
        for record_id, payload, vanished_at in rows:
            conn.execute(
                f"INSERT INTO {RAW.table} VALUES ('acme', ?, ?, md5(?), 'b1', now(), now(), ?)",
                [record_id, payload, payload, vanished_at],
            )
        normalize_connection(
            conn,
            connection_id="acme",
            source="zoho_books",
            mappings=[INVOICE_MAPPING],
            raw_tables={"invoices": RAW.table},
        )
        invoices = conn.execute(
            "SELECT invoice_id, deleted_at IS NOT NULL FROM canonical.invoices ORDER BY 1"
        ).fetchall()
        quarantined = conn.execute("SELECT record_id FROM canonical.rejected_records").fetchall()

    assert invoices == [("deleted", True), ("live", False)]
    assert quarantined == [("bad",)]
