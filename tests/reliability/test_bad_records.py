"""Bad records go to quarantine with their reason while the rest loads; the asset check counts
them; each loads normally once the source corrects it."""

from __future__ import annotations

from decimal import Decimal

import dagster as dg

from pipelines.defs.canonical import canonical_key
from pipelines.defs.checks import no_quarantined_records
from pipelines.defs.resources import LedgersyncResource
from pipelines.runner import run_reports
from sandbox.zoho_books.app import DROP
from sandbox.zoho_books.ids import zoho_id
from tests.reliability.zoho import ORG, assert_matches_truth, list_requests

# (listing, which record of the ledger, patch, the reason it must be quarantined with)
BAD_RECORDS = [
    ("invoices", 0, {"total": "12.50"}, "total is not a number: 12.50"),
    (
        "invoices",
        1,
        {"customer_id": DROP},
        "customer_id is missing; customer_id could not be derived",
    ),
    (
        "invoices",
        2,
        {"currency_code": "XYZ"},
        "currency_code is not an ISO 4217 currency code: XYZ",
    ),
    ("invoices", 3, {"total": Decimal("-5.00")}, "total is negative: -5.0"),
    (
        "invoices",
        4,
        {"total": Decimal("12.34567")},
        "total has more than 4 decimal places: 12.34567",
    ),
    (
        "invoices",
        5,
        {"date": "31/10/2026"},
        "date is not a date (YYYY-MM-DD): 31/10/2026; issue_date could not be derived",
    ),
    (
        "customerpayments",
        0,
        {"amount": {"value": 10}},
        'amount is not a number: {"value":10}; amount could not be derived',
    ),
]
DUPLICATE = ("contacts", 0, {"contact_name": "Someone Else Ltd"})
NO_QUARANTINE_CHECK = dg.AssetCheckKey(canonical_key("rejected_records"), "no_quarantined_records")
KIND = {"invoices": "invoice", "customerpayments": "payment", "contacts": "contact"}


def _ledger_id(ledger, listing: str, index: int) -> int:
    if listing == "invoices":
        return sorted(i.invoice_id for i in ledger.invoices)[index]
    if listing == "customerpayments":
        return sorted(p.payment_id for p in ledger.payments if p.status == "posted")[index]
    return sorted(c.customer_id for c in ledger.customers)[index]


def _quarantine_check_in_the_instance() -> tuple[bool, int]:
    """The last evaluation of the quarantine check in the Dagster instance: passed, count."""
    with dg.DagsterInstance.get() as instance:
        record = instance.event_log_storage.get_latest_asset_check_execution_by_key(
            [NO_QUARANTINE_CHECK]
        )[NO_QUARANTINE_CHECK]
    evaluation = record.event.dagster_event.event_specific_data
    return evaluation.passed, evaluation.metadata["quarantined"].value


def test_bad_records_are_quarantined_counted_and_load_once_corrected(
    zoho_project, tmp_path, monkeypatch
):
    home = tmp_path / "dagster"
    home.mkdir()
    (home / "dagster.yaml").write_text("telemetry:\n  enabled: false\n")
    monkeypatch.setenv("DAGSTER_HOME", str(home))
    zoho = zoho_project()
    app, ledger, org_id = zoho.server.app, zoho.ledger, zoho.org_id
    expected = {}
    for listing, index, patch, reason in BAD_RECORDS:
        ledger_id = _ledger_id(ledger, listing, index)
        app.override(ORG, listing, ledger_id, patch)
        expected[(listing, zoho_id(org_id, KIND[listing], ledger_id))] = reason
    listing, index, patch = DUPLICATE
    duplicated = _ledger_id(ledger, listing, index)
    app.override(ORG, listing, duplicated, patch, duplicate=True)
    contact_id = zoho_id(org_id, "contact", duplicated)
    expected[(listing, contact_id)] = (
        f"the id {contact_id} came 2 times with different content in one sync"
    )

    zoho.sync_directly()
    outcome = run_reports(zoho.project.config_path, as_of=ledger.as_of)

    quarantined = {
        (stream, record_id): reason
        for stream, record_id, reason in zoho.query(
            "SELECT stream, record_id, reason FROM canonical.rejected_records"
        )
    }
    assert quarantined == expected
    assert _quarantine_check_in_the_instance() == (False, len(expected))
    assert outcome.success, outcome.error  # a warning, not a failure
    # The rest loaded: every invoice but the six bad ones.
    (invoices,) = zoho.query("SELECT count(*) FROM canonical.invoices")[0]
    assert invoices == len(ledger.invoices) - 6

    for listing, index, _, _ in BAD_RECORDS:
        app.correct(ORG, listing, _ledger_id(ledger, listing, index))
    app.correct(ORG, DUPLICATE[0], duplicated)
    zoho.server.log.reset()
    zoho.sync_directly()
    zoho.rebuild()

    check = no_quarantined_records(
        ledgersync=LedgersyncResource(config_path=str(zoho.project.config_path))
    )
    assert (check.passed, check.metadata["quarantined"].value) == (True, 0)
    assert_matches_truth(zoho)
    # The corrections came in an incremental sync, not a full one.
    lists = list_requests(zoho)
    assert lists and all("last_modified_time" in r.query for r in lists)
