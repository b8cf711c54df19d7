"""A stream's sync that runs past `stream_deadline_s` stops between two pages (issue 13, finding
3): what it fetched stays loaded, its cursor does not move, and the error names the source, the
connection, the stream and the setting. The next sync, given the time, completes."""

from __future__ import annotations

from datetime import UTC, datetime

import yaml

from models.landing import LandingZone
from pipelines.run_once import sync_connections
from sandbox.faults import FaultConfig
from tests.reliability.zoho import ORG, assert_matches_truth

SIZE = {"customers": 4, "invoices": 12, "payments": 6}
# One stream after another: which streams synced before the deadline then is fixed (side by
# side, payments may or may not finish before invoices stop them; test_streams_side_by_side
# covers a deadline there).
ONE_BY_ONE = {"streams_side_by_side": False}


def test_a_stream_past_its_deadline_stops_between_pages_and_keeps_what_it_loaded(zoho_project):
    # Each invoice page takes at least 0.8 s: the three pages cannot all come within 1.5 s, and
    # the other streams' one page each comes well within it, even on a loaded machine.
    zoho = zoho_project(SIZE, page_size=5, stream_deadline_s=1.5, **ONE_BY_ONE)
    zoho.server.faults = FaultConfig(latency_s=0.8, paths=("/books/v3/invoices",))

    [failure] = sync_connections(zoho.project.config)

    for named in (
        "zoho_books connection 'reliable-books', stream invoices",
        "passed its deadline of 1.5 s (stream_deadline_s)",
        "the cursor did not move",
        "Fix: raise stream_deadline_s of connection 'reliable-books'",
    ):
        assert named in failure
    [(invoices,)] = zoho.query("SELECT count(*) FROM raw.zoho_books__invoices")
    assert 5 <= invoices < len(zoho.ledger.invoices)  # at least one page, not all
    assert f"the {invoices} records fetched before it are loaded" in failure
    assert zoho.query("SELECT stream FROM sync.cursors ORDER BY stream") == [("contacts",)]

    zoho.server.faults = FaultConfig()
    settings = yaml.safe_load(zoho.project.config_path.read_text())
    settings["connections"][0]["stream_deadline_s"] = 3600
    zoho.project.config_path.write_text(yaml.safe_dump(settings))
    zoho.sync_directly()
    zoho.rebuild()

    assert_matches_truth(zoho)


def test_a_deadline_still_names_the_batches_earlier_streams_set_aside(zoho_project):
    """The deadline ends the sync, but what the streams before it set aside is still reported:
    it was dropped with their figures."""
    zoho = zoho_project(SIZE, page_size=5, stream_deadline_s=1.5, **ONE_BY_ONE)
    writer = LandingZone(zoho.project.config.landing).new_batch(ORG, "contacts")
    writer.write_page(b'{"contacts": [{"contact_id": "1", "notes": "caf\xe9"}]}', records=1)
    writer.seal(cursor=datetime(2100, 1, 1, tzinfo=UTC), full_refresh=False)
    zoho.server.faults = FaultConfig(latency_s=0.8, paths=("/books/v3/invoices",))

    [failure] = sync_connections(zoho.project.config)

    assert "stream invoices: the stream's sync passed its deadline" in failure
    assert "stream contacts: a landed batch could not be loaded" in failure
    assert ".set-aside" in failure
