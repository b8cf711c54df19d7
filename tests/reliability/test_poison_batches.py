"""No poison batches (issue 13, finding 2): a record too large to load is quarantined while its
page lands; a landed batch DuckDB refuses for its data is set aside, named and counted, and the
next sync goes on; a batch refused because the warehouse was unavailable stays landed and loads
next time."""

from __future__ import annotations

from datetime import UTC, datetime

import pytest

from models.landing import LandingZone
from models.warehouse import Warehouse, WarehouseBusyError
from pipelines.run_once import sync_connections
from pipelines.sources import open_connector
from pipelines.sync import sync_connection
from sandbox.faults import FaultConfig
from sandbox.zoho_books.ids import zoho_id
from tests.reliability.zoho import ORG, assert_matches_truth

INVOICES = "/books/v3/invoices"
SIZE = {"customers": 4, "invoices": 12, "payments": 6}  # small: these tests sync several times
LIMIT = 64 * 1024  # max_record_bytes in these tests; the padded record is well over it


def test_an_oversized_record_is_quarantined_and_every_other_record_syncs(zoho_project):
    zoho = zoho_project(SIZE, max_record_bytes=LIMIT)
    first = min(zoho.ledger.invoices, key=lambda invoice: invoice.invoice_id)
    invoice_id = zoho_id(zoho.org_id, "invoice", first.invoice_id)
    zoho.server.faults = FaultConfig(
        oversized_record=("invoice_number", first.invoice_number),
        oversized_bytes=300_000,
        paths=(INVOICES,),
    )

    zoho.sync_directly()
    zoho.rebuild()  # the quarantine is refreshed with the canonical tables

    assert zoho.server.log.count(path=INVOICES, fault="oversized_record") >= 1
    [(stream, record_id, reason, notes)] = zoho.query(
        "SELECT stream, record_id, reason, payload ->> 'notes' FROM canonical.rejected_records"
    )
    assert (stream, record_id) == ("invoices", invoice_id)
    assert reason.startswith("the record is 30")  # 300,000 characters of notes and the rest
    assert "bytes of JSON, over max_record_bytes (65,536)" in reason
    assert notes.endswith("(299,800 characters more)")  # kept abridged, not whole
    every_other = {zoho_id(zoho.org_id, "invoice", i.invoice_id) for i in zoho.ledger.invoices}
    every_other.remove(invoice_id)
    loaded = zoho.query("SELECT record_id FROM raw.zoho_books__invoices WHERE vanished_at IS NULL")
    assert {record_id for (record_id,) in loaded} == every_other

    # The source shortens the note: the record loads by the next incremental sync.
    zoho.server.faults = FaultConfig()
    zoho.server.app.correct(ORG, "invoices", first.invoice_id)
    zoho.sync_directly()
    zoho.rebuild()

    assert_matches_truth(zoho)


def _plant_batch(landing: LandingZone, stream: str, page: bytes, cursor: datetime) -> str:
    """A complete batch left in the landing zone (as a killed run, or an older version, left
    it) whose page DuckDB cannot load; its path."""
    writer = landing.new_batch(ORG, stream)
    writer.write_page(page, records=1)
    return str(writer.seal(cursor=cursor, full_refresh=False).path)


def test_a_batch_that_cannot_be_loaded_is_set_aside_and_the_next_sync_goes_on(zoho_project):
    zoho = zoho_project(SIZE)
    zoho.sync_directly()
    landing = LandingZone(zoho.project.config.landing)
    (cursor_before,) = zoho.query("SELECT cursor FROM sync.cursors WHERE stream = 'invoices'")[0]
    far_future = datetime(2100, 1, 1, tzinfo=UTC)  # loaded, it would move the cursor there
    not_utf8 = b'{"invoices": [{"invoice_id": "1", "notes": "caf\xe9"}]}'
    planted = _plant_batch(landing, "invoices", not_utf8, far_future)
    zoho.server.app.correct(ORG, "invoices", zoho.ledger.invoices[0].invoice_id)

    [outcome] = zoho.sync()  # the Dagster job, as the CLI and the schedules run it

    [set_aside] = landing.set_aside_batches(ORG, "invoices")
    assert set_aside.name == planted.rsplit("/", 1)[1].replace(".ready", ".set-aside")
    assert (set_aside / "manifest.json").exists()
    assert (set_aside / "set-aside.txt").read_text().strip()
    assert landing.ready_batches(ORG, "invoices") == []
    assert outcome.error is not None
    for named in (
        "zoho_books connection 'reliable-books', stream invoices",
        "could not be loaded (DuckDB: ",
        f"set aside at {set_aside} for inspection",
        "Fix: correct the record at the source, then `ledgersync sync --connection reliable-books`",
    ):
        assert named in outcome.error
    assert "Traceback" not in outcome.error and "_duckdb" not in outcome.error
    assert outcome.metadata["zoho_books/invoices"]["set_aside_batches"] == 1
    assert outcome.metadata["zoho_books/invoices"]["updated"] == 1  # the rest went on
    (cursor_after,) = zoho.query("SELECT cursor FROM sync.cursors WHERE stream = 'invoices'")[0]
    assert cursor_before <= cursor_after < far_future

    zoho.sync_directly()
    zoho.rebuild()

    assert landing.set_aside_batches(ORG, "invoices") == [set_aside]  # kept, not reloaded
    assert_matches_truth(zoho)


def test_a_batch_the_warehouse_was_unavailable_for_is_kept_and_loaded_next_time(
    zoho_project, hold_warehouse
):
    zoho = zoho_project(SIZE)
    [settings] = zoho.connections
    config = zoho.project.config
    landing = LandingZone(config.landing)
    holders = []

    def hold_when_landing(phase: str, stream: str) -> None:
        if phase == "land" and not holders:  # an analyst opens the file while pages land
            holders.append(hold_warehouse(config.warehouse))

    connector = open_connector(settings)
    try:
        # One stream after another: side by side, another stream's load may hold the file at
        # the moment pages land, and the analyst could not open it.
        with pytest.raises(WarehouseBusyError, match="is held by pid"):
            sync_connection(
                connector,
                warehouse=Warehouse(config.warehouse, lock_timeout_s=0.5),
                landing=landing,
                on_phase=hold_when_landing,
                streams_side_by_side=False,
            )
        [landed] = landing.ready_batches(ORG, "contacts")
        assert landing.set_aside_batches(ORG, "contacts") == []

        holders[0].kill()
        holders[0].wait()
        outcomes = sync_connection(
            connector, warehouse=Warehouse(config.warehouse), landing=landing
        )
    finally:
        connector.close()
    zoho.rebuild()

    assert [o.set_aside for o in outcomes] == [(), (), (), ()]
    assert zoho.query(
        "SELECT count(*) FROM sync.batches WHERE batch_id = ?", [landed.batch_id]
    ) == [(1,)]
    assert landing.ready_batches(ORG, "contacts") == []
    assert_matches_truth(zoho)


def test_a_warehouse_failure_reaches_the_user_in_one_line_naming_the_connection(zoho_project):
    zoho = zoho_project(SIZE)
    config = zoho.project.config
    config.warehouse.parent.mkdir(parents=True)
    config.warehouse.write_bytes(b"a file that is not a DuckDB database\n" * 200)

    [failure] = sync_connections(config)

    assert failure.startswith("zoho_books connection 'reliable-books': the warehouse failed (")
    assert "Fix: make the warehouse available" in failure
    assert "`ledgersync sync --connection reliable-books`" in failure
    assert "_duckdb" not in failure and "\n" not in failure
