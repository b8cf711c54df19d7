"""A stream that keeps history: each superseded version moves to `<table>__history` in the load
transaction, with the interval it was current."""

from __future__ import annotations

import json

from models.landing import LandingZone
from models.raw import RawStream, ensure_raw_table, load_batch
from models.warehouse import Warehouse

KEPT = RawStream("business_central", "sales_invoices", "$.value", "$.id", keep_history=True)


def _load(warehouse: Warehouse, zone: LandingZone, stream: RawStream, *records: dict) -> None:
    writer = zone.new_batch("cronus", stream.name)
    writer.write_page(json.dumps({"value": list(records)}).encode(), records=len(records))
    with warehouse.connect() as conn:
        load_batch(conn, writer.seal(cursor=None, full_refresh=False), stream)


def test_superseded_versions_are_kept_with_the_interval_they_were_current(tmp_path):
    warehouse = Warehouse(tmp_path / "w.duckdb")
    warehouse.ensure_schema()
    zone = LandingZone(tmp_path / "landing")

    _load(warehouse, zone, KEPT, {"id": "a", "remaining": 100}, {"id": "b", "remaining": 5})
    _load(warehouse, zone, KEPT, {"id": "a", "remaining": 100})  # unchanged: no version
    _load(warehouse, zone, KEPT, {"id": "a", "remaining": 60})
    _load(warehouse, zone, KEPT, {"id": "a", "remaining": 0})

    with warehouse.connect(read_only=True) as conn:
        history = conn.execute(
            f"SELECT record_id, (payload ->> '$.remaining'), valid_from, valid_to "
            f"FROM {KEPT.history_table} ORDER BY valid_from"
        ).fetchall()
        (current_from,) = conn.execute(
            f"SELECT changed_at FROM {KEPT.table} WHERE record_id = 'a'"
        ).fetchone()
    assert [(r[0], r[1]) for r in history] == [("a", "100"), ("a", "60")]
    (_, _, first_from, first_to), (_, _, second_from, second_to) = history
    assert first_from < first_to == second_from < second_to == current_from


def test_streams_without_history_keep_no_table(tmp_path):
    warehouse = Warehouse(tmp_path / "w.duckdb")
    warehouse.ensure_schema()
    plain = RawStream("business_central", "customers", "$.value", "$.id")
    with warehouse.connect() as conn:
        ensure_raw_table(conn, plain)
        tables = conn.execute(
            "SELECT table_name FROM information_schema.tables WHERE table_schema = 'raw'"
        ).fetchall()
    assert tables == [("business_central__customers",)]
