"""Loading landed batches into raw tables: atomic, idempotent, and honest about duplicates."""

from __future__ import annotations

import json
from datetime import UTC, datetime

import pytest

from models import raw
from models.landing import LandingZone
from models.raw import RawStream, cursor_of, last_complete_listing, load_batch, unfetched
from models.warehouse import Warehouse

STREAM = RawStream("zoho_books", "invoices", "$.invoices", "$.invoice_id", cursor_path="$.modified")


@pytest.fixture
def warehouse(tmp_path) -> Warehouse:
    warehouse = Warehouse(tmp_path / "w.duckdb")
    warehouse.ensure_schema()
    return warehouse


@pytest.fixture
def land(tmp_path):
    zone = LandingZone(tmp_path / "landing")

    def land(*pages: list[dict], full_refresh: bool = False, keys_only: bool = False):
        writer = zone.new_batch("acme", STREAM.name)
        for records in pages:
            writer.write_page(json.dumps({"invoices": records}).encode(), records=len(records))
        newest = max(
            (
                datetime.fromisoformat(r["modified"])
                for page in pages
                for r in page
                if "modified" in r
            ),
            default=None,
        )
        return writer.seal(cursor=newest, full_refresh=full_refresh, keys_only=keys_only)

    return land


def _invoice(number: int, total: str = "10.00", modified: str = "2026-10-01T10:00:00+00:00"):
    return {"invoice_id": str(number), "total": total, "modified": modified}


def _rows(warehouse: Warehouse) -> dict[str, tuple[str, bool]]:
    with warehouse.connect(read_only=True) as conn:
        rows = conn.execute(
            f"SELECT record_id, (payload ->> '$.total'), vanished_at IS NOT NULL "
            f"FROM {STREAM.table}"
        ).fetchall()
    return {record_id: (total, vanished) for record_id, total, vanished in rows}


def _load(warehouse: Warehouse, batch):
    with warehouse.connect() as conn:
        return load_batch(conn, batch, STREAM)


def _rejects(warehouse: Warehouse) -> dict[str, str]:
    with warehouse.connect(read_only=True) as conn:
        return dict(conn.execute("SELECT record_id, reason FROM sync.load_rejects").fetchall())


def test_a_batch_loads_once_however_often_it_is_loaded(warehouse, land):
    batch = land([_invoice(1), _invoice(2)], [_invoice(3)])
    first = _load(warehouse, batch)
    again = _load(warehouse, batch)

    assert (first.inserted, first.updated, first.already_loaded) == (3, 0, False)
    assert (again.inserted, again.already_loaded) == (3, True)
    assert len(_rows(warehouse)) == 3
    with warehouse.connect(read_only=True) as conn:
        assert conn.execute("SELECT count(*) FROM sync.batches").fetchone() == (1,)


def test_a_load_that_fails_before_its_commit_leaves_no_trace(warehouse, land, monkeypatch):
    def crash(conn, batch):
        raise RuntimeError("killed")

    monkeypatch.setattr(raw, "_advance_cursor", crash)
    with pytest.raises(RuntimeError, match="killed"):
        _load(warehouse, land([_invoice(1)]))

    assert _rows(warehouse) == {}
    with warehouse.connect(read_only=True) as conn:
        assert cursor_of(conn, "acme", STREAM.name) is None
        assert conn.execute("SELECT count(*) FROM sync.batches").fetchone() == (0,)


def test_the_cursor_moves_forward_only_but_a_full_refresh_restates_it(warehouse, land):
    _load(warehouse, land([_invoice(1, modified="2026-10-05T00:00:00+00:00")]))
    _load(warehouse, land([_invoice(2, modified="2026-10-03T00:00:00+00:00")]))
    with warehouse.connect(read_only=True) as conn:
        assert cursor_of(conn, "acme", STREAM.name) == datetime(2026, 10, 5, tzinfo=UTC)

    _load(warehouse, land([_invoice(2, modified="2026-10-03T00:00:00+00:00")], full_refresh=True))
    with warehouse.connect(read_only=True) as conn:
        assert cursor_of(conn, "acme", STREAM.name) == datetime(2026, 10, 3, tzinfo=UTC)


def test_a_row_repeated_across_pages_is_one_record(warehouse, land):
    result = _load(warehouse, land([_invoice(1), _invoice(2)], [_invoice(2), _invoice(3)]))
    assert (result.inserted, result.rejected) == (3, 0)
    assert set(_rows(warehouse)) == {"1", "2", "3"}


def test_a_record_modified_while_paging_keeps_its_newest_copy(warehouse, land):
    older = _invoice(2, "10.00", "2026-10-01T10:00:00+00:00")
    newer = _invoice(2, "12.50", "2026-10-01T10:00:01+00:00")
    result = _load(warehouse, land([_invoice(1), older], [newer, _invoice(3)]))

    assert result.rejected == 0
    assert _rows(warehouse)["2"] == ("12.50", False)


def test_one_id_with_two_contents_and_one_modified_time_is_quarantined_until_resent(
    warehouse, land
):
    result = _load(warehouse, land([_invoice(1), _invoice(2, "10.00")], [_invoice(2, "99.00")]))

    assert result.rejected == 1
    assert "2" not in _rows(warehouse)
    assert _rejects(warehouse) == {"2": "the id 2 came 2 times with different content in one sync"}

    _load(warehouse, land([_invoice(2, "10.00", "2026-10-02T00:00:00+00:00")]))
    assert _rows(warehouse)["2"] == ("10.00", False)
    assert _rejects(warehouse) == {}


def test_one_id_with_two_contents_is_asked_for_again_by_id(warehouse, land):
    """The cursor passes the record, so an incremental listing would never bring it again: the
    next sync fetches it by id (a record that changed between two overlapping pages, its
    modified time unchanged, comes back alone) and it leaves quarantine."""
    _load(warehouse, land([_invoice(1), _invoice(2, "10.00")], [_invoice(2, "99.00")]))
    with warehouse.connect(read_only=True) as conn:
        assert unfetched(conn, "acme", STREAM.name) == ["2"]

    _load(warehouse, land([_invoice(2, "99.00")]))  # fetched by id
    assert _rows(warehouse)["2"] == ("99.00", False)
    assert _rejects(warehouse) == {}
    with warehouse.connect(read_only=True) as conn:
        assert unfetched(conn, "acme", STREAM.name) == []


def test_repeats_and_conflicts_are_resolved_alike_on_a_first_and_a_later_load(warehouse, land):
    """A connection's first load takes a shorter path (nothing to compare with): same outcome."""
    older = _invoice(2, "10.00", "2026-10-01T10:00:00+00:00")
    newer = _invoice(2, "12.50", "2026-10-01T10:00:01+00:00")
    pages = ([_invoice(1), older, _invoice(4, "1.00")], [newer, _invoice(1), _invoice(4, "2.00")])
    first = _load(warehouse, land(*pages))
    assert _load(warehouse, land([_invoice(5)])).inserted == 1
    again = _load(warehouse, land(*pages))

    assert (first.inserted, first.rejected) == (2, 1)
    assert (again.inserted, again.updated, again.rejected) == (0, 0, 1)
    assert _rows(warehouse) == {"1": ("10.00", False), "2": ("12.50", False), "5": ("10.00", False)}
    assert set(_rejects(warehouse)) == {"4"}


def test_without_a_cursor_field_differing_copies_are_quarantined(warehouse, tmp_path):
    stream = RawStream("zoho_books", "details", "$.invoices", "$.invoice_id")
    writer = LandingZone(tmp_path / "landing").new_batch("acme", stream.name)
    body = {"invoices": [_invoice(7, "1.00"), _invoice(7, "2.00", "2026-10-09T00:00:00+00:00")]}
    writer.write_page(json.dumps(body).encode(), records=2)
    with warehouse.connect() as conn:
        result = load_batch(conn, writer.seal(cursor=None, full_refresh=False), stream)
    assert result.rejected == 1


def test_a_record_without_an_id_is_quarantined_and_the_rest_loads(warehouse, land):
    result = _load(warehouse, land([_invoice(1), {"total": "5.00"}]))
    assert (result.inserted, result.rejected) == (1, 1)
    assert list(_rejects(warehouse).values()) == ["the record has no id at $.invoice_id"]


def test_a_complete_listing_marks_what_it_lacks_vanished_and_clears_its_quarantine(warehouse, land):
    _load(warehouse, land([_invoice(1), _invoice(2), _invoice(3), {"total": "5.00"}]))
    _load(warehouse, land([_invoice(4, "1.00"), _invoice(4, "2.00")]))
    assert len(_rejects(warehouse)) == 2

    result = _load(warehouse, land([_invoice(1), _invoice(3)], full_refresh=True))

    assert result.vanished == 1
    assert _rows(warehouse) == {
        "1": ("10.00", False),
        "2": ("10.00", True),
        "3": ("10.00", False),
    }
    assert _rejects(warehouse) == {}

    back = _load(warehouse, land([_invoice(2)]))
    assert (back.inserted, back.updated) == (0, 0)
    assert _rows(warehouse)["2"] == ("10.00", False)


def test_a_listing_of_ids_marks_vanished_and_live_again_but_keeps_payloads_and_cursor(
    warehouse, land
):
    _load(warehouse, land([_invoice(1, "1.00"), _invoice(2, "2.00"), _invoice(3, "3.00")]))
    with warehouse.connect(read_only=True) as conn:
        cursor = cursor_of(conn, "acme", STREAM.name)
        assert last_complete_listing(conn, "acme", STREAM.name) is None

    gone = _load(
        warehouse,
        land([{"invoice_id": "1"}, {"invoice_id": "3"}], full_refresh=True, keys_only=True),
    )
    back = _load(
        warehouse,
        land([{"invoice_id": "1"}, {"invoice_id": "2"}], full_refresh=True, keys_only=True),
    )

    assert (gone.vanished, back.vanished) == (1, 1)
    assert _rows(warehouse) == {"1": ("1.00", False), "2": ("2.00", False), "3": ("3.00", True)}
    with warehouse.connect(read_only=True) as conn:
        assert cursor_of(conn, "acme", STREAM.name) == cursor
        assert last_complete_listing(conn, "acme", STREAM.name) is not None


def _unfetched(warehouse: Warehouse) -> list[str]:
    with warehouse.connect(read_only=True) as conn:
        return raw.unfetched(conn, "acme", STREAM.name)


def test_a_listing_of_ids_notes_what_the_warehouse_lacks_until_a_batch_brings_it(warehouse, land):
    # 1 live, 2 vanished, 3 quarantined (two contents: asked for again), 4 never loaded.
    _load(warehouse, land([_invoice(1), _invoice(2), _invoice(3, "1.00")], [_invoice(3, "2.00")]))
    _load(
        warehouse,
        land([{"invoice_id": "1"}, {"invoice_id": "3"}], full_refresh=True, keys_only=True),
    )
    listed = [{"invoice_id": str(number)} for number in (1, 2, 3, 4, 4)]

    _load(warehouse, land(listed, full_refresh=True, keys_only=True))
    assert _unfetched(warehouse) == ["2", "3", "4"]
    _load(warehouse, land(listed[:3], full_refresh=True, keys_only=True))  # 4 went meanwhile
    assert _unfetched(warehouse) == ["2", "3"]

    _load(warehouse, land([_invoice(2, "2.00"), _invoice(3, "2.00")]))
    assert _unfetched(warehouse) == []
    assert _rows(warehouse)["2"] == ("2.00", False)

    _load(warehouse, land(listed, full_refresh=True, keys_only=True))
    assert _unfetched(warehouse) == ["4"]
    _load(warehouse, land([_invoice(1)], full_refresh=True))  # a complete listing of records
    assert _unfetched(warehouse) == []


def test_ids_asked_for_and_not_found_are_not_asked_for_again(warehouse, land):
    _load(warehouse, land([_invoice(1)]))
    _load(
        warehouse,
        land([{"invoice_id": str(n)} for n in (1, 2, 3)], full_refresh=True, keys_only=True),
    )

    with warehouse.connect() as conn:
        raw.resolve_unfetched(conn, "acme", STREAM.name, ["2"])

    assert _unfetched(warehouse) == ["3"]


@pytest.mark.parametrize("keys_only", [False, True], ids=["records", "keys-only"])
def test_a_load_leaves_no_staged_table_for_the_next_to_read(warehouse, land, keys_only):
    first = land([_invoice(1), _invoice(1, total="11.00")])  # a conflict: staged, quarantined
    with warehouse.connect() as conn:
        load_batch(conn, first, STREAM)
        load_batch(conn, land([_invoice(2)], full_refresh=True, keys_only=keys_only), STREAM)
        temporary = conn.execute(
            "SELECT table_name FROM duckdb_tables() WHERE temporary"
        ).fetchall()
    assert temporary == []


def test_a_full_refresh_larger_than_the_memory_limit_loads(warehouse, land):
    """Choosing one copy of each record sorts only the ids that came more than once: sorting
    every payload of a large refresh ran out of memory under the limit the load runs with."""
    _load(warehouse, land([_invoice(0)]))
    padding = "x" * 1200
    invoices = [{**_invoice(n), "notes": f"{n}{padding}"} for n in range(60_000)]
    repeated = {**_invoice(7, total="12.00", modified="2026-10-02T10:00:00+00:00"), "notes": ""}
    batch = land(invoices[:30_000], [*invoices[30_000:], repeated], full_refresh=True)

    with warehouse.connect(memory_limit="96MB") as conn:
        result = load_batch(conn, batch, STREAM)

    assert (result.inserted, result.updated, result.rejected) == (59_999, 1, 0)
    rows = _rows(warehouse)
    assert len(rows) == 60_000 and rows["7"] == ("12.00", False)


PAYMENTS = RawStream("simpro", "customer_payments", "$[*]", "$.ID", cursor_path="$.DateModified")
CUSTOMERS = RawStream("simpro", "customer_companies", "$[*]", "$.ID", cursor_path="$.DateModified")
CUSTOMERS_NAMED = ((PAYMENTS, "$.Invoices[*].Invoice.Customer.ID"),)


def _payment(number: int, *customers: int, amount: str = "10.00") -> dict:
    lines = [{"Invoice": {"Customer": {"ID": c}}, "Amount": amount} for c in customers]
    return {"ID": number, "Invoices": lines, "DateModified": "2026-10-01T10:00:00+10:00"}


def _customer(number: int, owing: str) -> dict:
    return {"ID": number, "AmountOwing": owing, "DateModified": "2025-10-08T09:57:38+11:00"}


def test_rereads_name_whom_the_records_changed_since_the_last_listing_began_name(
    warehouse, tmp_path
):
    """A batch of customers a killed run landed before a payment arrived, loaded after it by the
    next run, still leaves that payment's customers to read again: they count from when the
    listing that last moved the customers' cursor began, not from its load. A listing of ids
    moves no cursor and reads nobody again, so it changes nothing. A payment re-sent unchanged
    names nobody; one found vanished names its customers (their balance moved)."""
    zone = LandingZone(tmp_path / "landing")

    def land(stream: RawStream, records: list[dict], *, complete: bool = False, ids: bool = False):
        writer = zone.new_batch("acme", stream.name)
        writer.write_page(json.dumps(records).encode(), records=len(records))
        cursor = None if ids else datetime(2026, 10, 1, tzinfo=UTC)
        return writer.seal(cursor=cursor, full_refresh=complete or ids, keys_only=ids)

    def named(conn) -> list[str]:
        return raw.changed_since_listed(
            conn, "acme", CUSTOMERS.name, (PAYMENTS,), named_at=CUSTOMERS_NAMED
        )

    with warehouse.connect() as conn:
        first = [_payment(1, 11), _payment(2, 12, 13), _payment(4, 14)]
        load_batch(conn, land(PAYMENTS, first), PAYMENTS)
        raw.ensure_raw_table(conn, CUSTOMERS)
        assert named(conn) == []  # never listed: the first listing reads every customer

        landed = land(CUSTOMERS, [_customer(11, "20.00"), _customer(12, "5.00")])
        changed = [_payment(1, 11, amount="12.00"), _payment(4, 14), {"ID": 3, "Invoices": []}]
        load_batch(conn, land(PAYMENTS, changed), PAYMENTS)
        load_batch(conn, landed, CUSTOMERS)
        assert named(conn) == ["11"]

        load_batch(conn, land(CUSTOMERS, [{"ID": 11}, {"ID": 12}], ids=True), CUSTOMERS)
        assert named(conn) == ["11"]

        load_batch(conn, land(CUSTOMERS, [_customer(11, "18.00")]), CUSTOMERS)
        assert named(conn) == []

        load_batch(conn, land(PAYMENTS, [*changed], complete=True), PAYMENTS)  # 2 vanished
        assert named(conn) == ["12", "13"]
