"""A landed batch's records read once into Arrow: ids, hashes, cursor values and payloads that
change detection and quarantine can rely on."""

from __future__ import annotations

import json

import duckdb
import pytest

from models.landed_records import LandedRecords
from models.landing import InvalidPageError, LandingZone
from models.raw import RawStream, load_batch
from models.warehouse import Warehouse

STREAM = RawStream("zoho_books", "invoices", "$.invoices", "$.invoice_id", cursor_path="$.modified")
INVOICE = {
    "invoice_id": "7",
    "modified": "2026-10-01T10:00:00+00:00",
    "total": 1234.5,
    "balance": "0.10",
    "line_items": [{"item": "caf\u00e9 \u2014 \U0001f4b6", "rate": 0.1, "quantity": 3}],
    "custom_fields": {"po": None, "flags": [True, False]},
}


@pytest.fixture
def zone(tmp_path) -> LandingZone:
    return LandingZone(tmp_path / "landing")


def _land(zone: LandingZone, *bodies: bytes, stream: str = STREAM.name):
    writer = zone.new_batch("acme", stream)
    for body in bodies:
        writer.write_page(body, records=1)
    return writer.seal(cursor=None, full_refresh=False)


def _rows(zone: LandingZone, *bodies: bytes, stream: RawStream = STREAM) -> list[dict]:
    batch = _land(zone, *bodies, stream=stream.name)
    records = LandedRecords(batch, stream.records_path, stream.id_path, stream.cursor_path)
    return records.reader().read_all().to_pylist()


def test_a_record_hashes_alike_whatever_page_and_spacing_it_came_in(zone):
    compact = json.dumps({"invoices": [INVOICE]}, separators=(",", ":")).encode()
    spaced = json.dumps({"page": 2, "invoices": [{"invoice_id": "1"}, INVOICE]}, indent=4).encode()
    escaped = json.dumps({"invoices": [INVOICE]}, ensure_ascii=True).encode()

    first, (_, second), third = _rows(zone, compact), _rows(zone, spaced), _rows(zone, escaped)

    assert first == [second] == third
    assert first[0]["record_id"] == "7"
    assert first[0]["changed"] == "2026-10-01T10:00:00+00:00"
    assert json.loads(first[0]["payload"]) == INVOICE


def test_hash_and_payload_are_what_duckdb_made_of_the_same_page(zone):
    """Warehouses loaded before records were read in Python keep their checksums: an upgrade
    does not see every stored record as changed."""
    body = json.dumps(
        {"invoices": [INVOICE, {"invoice_id": 8, "total": -0.5, "rate": 1e-07, "big": 10**18}]}
    ).encode()
    ours = [(r["record_id"], r["payload"], r["payload_md5"]) for r in _rows(zone, body)]

    duckdb_made = duckdb.execute(
        "SELECT rec ->> '$.invoice_id', rec::VARCHAR, md5(rec::VARCHAR) FROM "
        "(SELECT unnest(CAST(json_extract(?::VARCHAR, '$.invoices') AS JSON[])) AS rec)",
        [body.decode()],
    ).fetchall()
    assert ours == duckdb_made


def test_records_under_each_item_of_a_list_are_found(zone):
    details = RawStream("zoho_books", "details", "$[*].payment", "$.payment_id")
    body = json.dumps([{"payment": {"payment_id": 1}}, {"payment": {"payment_id": "2"}}]).encode()
    assert [r["record_id"] for r in _rows(zone, body, stream=details)] == ["1", "2"]


def test_a_page_without_the_records_key_has_no_records(zone):
    assert _rows(zone, b'{"code": 0}', b'{"invoices": null}') == []


def test_records_without_an_id_are_kept_aside(zone):
    batch = _land(zone, json.dumps({"invoices": [INVOICE, {"total": 5}]}).encode())
    records = LandedRecords(batch, STREAM.records_path, STREAM.id_path, STREAM.cursor_path)
    assert [r["record_id"] for r in records.reader().read_all().to_pylist()] == ["7"]
    assert [json.loads(r.payload) for r in records.without_id] == [{"total": 5}]


@pytest.mark.parametrize(
    ("body", "problem"),
    [
        (b'{"invoices": [{"name": "\xff"}]}', "is not JSON .*UTF-8"),
        (b'{"invoices": [{"invoice_id": ', "is not JSON"),
        (b'{"invoices": {"invoice_id": "1"}}', "other than a list of records"),
        (b'{"invoices": [1, 2]}', "other than a list of records"),
    ],
)
def test_a_page_that_is_not_the_expected_json_is_named_through_duckdb(zone, body, problem):
    batch = _land(zone, b'{"invoices": []}', body)
    records = LandedRecords(batch, STREAM.records_path, STREAM.id_path, STREAM.cursor_path)
    with pytest.raises(InvalidPageError, match=f"page 2 of landed batch {batch.batch_id} "):
        records.reader().read_all()
    # Through DuckDB (what the raw loader sees) the message survives.
    conn = duckdb.connect()
    conn.register("landed_records", records.reader())
    with pytest.raises(duckdb.InvalidInputException, match=f"page 2 of landed batch .*{problem}"):
        conn.execute("SELECT count(*) FROM landed_records").fetchall()


def _stored(warehouse: Warehouse, stream: RawStream) -> dict[str, tuple[str, str, str]]:
    with warehouse.connect(read_only=True) as conn:
        rows = conn.execute(
            f"SELECT record_id, payload_md5, batch_id, changed_at::VARCHAR FROM {stream.table}"
        ).fetchall()
    return {record_id: rest for record_id, *rest in rows}


def _page(*invoices: dict) -> bytes:
    return json.dumps({"invoices": list(invoices)}).encode()


def test_an_unchanged_resync_rewrites_nothing_and_a_nested_one_character_change_is_caught(
    tmp_path, zone
):
    stream = RawStream(
        *STREAM.table.removeprefix("raw.").split("__"),
        "$.invoices",
        "$.invoice_id",
        keep_history=True,
        cursor_path="$.modified",
    )
    warehouse = Warehouse(tmp_path / "w.duckdb")
    warehouse.ensure_schema()
    other = {**INVOICE, "invoice_id": "8"}
    with warehouse.connect() as conn:
        load_batch(conn, _land(zone, _page(INVOICE), _page(other)), stream)
    before = _stored(warehouse, stream)

    # Every record again, in other pages and spacing: nothing is rewritten.
    resent = json.dumps({"invoices": [other, INVOICE]}, indent=2).encode()
    with warehouse.connect() as conn:
        unchanged = load_batch(conn, _land(zone, resent), stream)
    assert (unchanged.inserted, unchanged.updated) == (0, 0)
    assert _stored(warehouse, stream) == before

    edited = json.loads(json.dumps(INVOICE))
    edited["line_items"][0]["item"] = edited["line_items"][0]["item"].replace("caf\u00e9", "cafe")
    with warehouse.connect() as conn:
        changed = load_batch(conn, _land(zone, _page(edited, other)), stream)
        history = conn.execute(f"SELECT record_id FROM {stream.history_table}").fetchall()
    assert (changed.inserted, changed.updated) == (0, 1)
    after = _stored(warehouse, stream)
    assert after["8"] == before["8"]
    assert after["7"][:2] != before["7"][:2]
    assert history == [("7",)]
