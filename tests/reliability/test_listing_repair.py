"""A periodic listing repairs gaps as well as deletions (DESIGN invariant 8): where a source can
list ids alone (Business Central, Simpro, Carbon), the complete listing of ids that is due every
`full_key_reconciliation_hours` also fetches, by id and in the same sync, the records the source
has and the warehouse lacks, and the stream's figures count them. (Zoho's periodic listing is of
whole records, so it loads whatever it lists.)"""

from __future__ import annotations

from collections.abc import Callable
from datetime import timedelta

import pytest

from connectors.business_central.connector import BusinessCentralConnector
from connectors.errors import TransportError
from connectors.pagination import Page
from models.landing import LandingZone
from pipelines.run_once import rebuild, sync_connections
from pipelines.runner import run_syncs
from pipelines.sources import open_connector
from pipelines.sync import sync_connection
from pipelines.sync_errors import BatchSetAsideError
from sandbox.ledger import Ledger
from sandbox.server import SandboxServer
from tests.e2e import actual_balances, expected_balances
from tests.project import Project
from tests.reliability.test_paging_drift import ACCOUNT, SOURCES

SIZE = {"customers": 4, "invoices": 12, "payments": 8}
# Each source's raw invoice stream, and what its request for records by id says.
INVOICES = {
    "business_central": ("sales_invoices", "id eq "),
    "simpro": ("customer_invoices", "in("),
    "carbon": ("sales_invoices", "in.("),
}


def _synced_then_lost(
    source: str, request: pytest.FixtureRequest, make_project: Callable[..., Project]
) -> tuple[SandboxServer, Project, str]:
    """A project synced once (a complete listing) whose warehouse then loses a paid invoice the
    source still has, as a row a listing skipped would leave it: its raw and canonical rows.
    (Paid: no incremental sync reads it again unless it changes; Carbon re-reads open ones.)"""
    spec = SOURCES[source]
    server = request.getfixturevalue(spec.sandbox)(ledger_size=SIZE, **spec.account)
    # 0 hours: every sync after the first lists the ids.
    project = make_project([spec.connection(server, ACCOUNT, full_key_reconciliation_hours=0)])
    assert sync_connections(project.config) == []
    ledger: Ledger = server.app.ledger(ACCOUNT)
    applied = {a.invoice_id for a in ledger.applications}
    paid = next(i for i in ledger.invoices if i.status == "paid" and i.invoice_id in applied)
    lost = spec.invoice_id(server, paid.invoice_id)
    with project.warehouse.connect() as conn:
        conn.execute(f"DELETE FROM raw.{source}__{INVOICES[source][0]} WHERE record_id = ?", [lost])
        conn.execute("DELETE FROM canonical.invoices WHERE invoice_id = ?", [lost])
    server.log.reset()
    return server, project, lost


def _assert_balances_match_truth(source: str, server: SandboxServer, project: Project) -> None:
    ledger: Ledger = server.app.ledger(ACCOUNT)
    rebuild(project.config, as_of=ledger.as_of)
    ids = lambda kind, i: SOURCES[source].invoice_id(server, i)  # noqa: E731
    assert actual_balances(project) == expected_balances({ACCOUNT: ledger}, ids)


@pytest.mark.parametrize("source", sorted(INVOICES))
def test_a_listing_of_ids_fetches_what_the_warehouse_lacks(
    source: str, request: pytest.FixtureRequest, make_project
) -> None:
    server, project, lost = _synced_then_lost(source, request, make_project)

    outcomes = run_syncs(project.config, project.config_path)  # the Dagster job, for its figures

    assert [o.error for o in outcomes] == [None]
    stream, by_id = INVOICES[source]
    repaired = {
        key.split("/")[1]: m["repaired_from_listing"] for key, m in outcomes[0].metadata.items()
    }
    assert repaired == {name: int(name == stream) for name in repaired}
    fetched = server.log.records(
        path=SOURCES[source].invoices_path(server),
        status=200,
        where=lambda r: by_id in str(r.query),
    )
    assert len(fetched) == 1
    assert project.query("SELECT count(*) FROM sync.unfetched") == [(0,)]
    assert project.query(
        f"SELECT count(*) FROM raw.{source}__{stream} WHERE record_id = ?", [lost]
    ) == [(1,)]
    _assert_balances_match_truth(source, server, project)


def _sync_repairs(project: Project, reconcile_every: timedelta) -> dict[str, int]:
    """One sync of the project's connection, as `sync_connection` runs it; the records each
    stream fetched by id."""
    config = project.config
    connector = open_connector(config.connections[0])
    try:
        outcomes = sync_connection(
            connector,
            warehouse=config.open_warehouse(lambda message: None),
            landing=LandingZone(config.landing),
            reconcile_every=reconcile_every,
        )
    finally:
        connector.close()
    return {outcome.stream: outcome.repaired for outcome in outcomes}


def test_ids_found_missing_are_fetched_by_the_next_sync_if_this_one_stops_first(
    request: pytest.FixtureRequest, make_project, monkeypatch: pytest.MonkeyPatch
) -> None:
    """What a listing found missing waits in the warehouse, not in memory: a sync that fails
    (or is killed) after the listing and before the fetch leaves it to the next sync, even
    though no listing is due then."""
    source = "business_central"
    server, project, _ = _synced_then_lost(source, request, make_project)

    def unreachable(*args: object) -> None:
        raise TransportError("the source went away", source=source, connection_id="any")

    with monkeypatch.context() as patched:
        patched.setattr(BusinessCentralConnector, "extract_by_ids", unreachable)
        with pytest.raises(TransportError):
            _sync_repairs(project, timedelta(0))
    assert project.query("SELECT count(*) FROM sync.unfetched") == [(1,)]

    repaired = _sync_repairs(project, timedelta(hours=24))  # no listing due

    assert repaired["sales_invoices"] == 1
    assert project.query("SELECT count(*) FROM sync.unfetched") == [(0,)]
    _assert_balances_match_truth(source, server, project)


def test_ids_whose_fetched_batch_is_set_aside_are_asked_for_again(
    request: pytest.FixtureRequest, make_project, monkeypatch: pytest.MonkeyPatch
) -> None:
    """A repair whose batch DuckDB refuses for its data stored nothing: the ids stay in
    `sync.unfetched`, and the next sync fetches them."""
    source = "business_central"
    server, project, _ = _synced_then_lost(source, request, make_project)

    def unloadable(self: BusinessCentralConnector, stream: object, ids: object) -> list[Page]:
        not_utf8 = b'{"value": [{"id": "x", "number": "caf\xe9"}]}'
        return [Page(number=1, records=[{"id": "x"}], body=not_utf8, url="by-id")]

    with monkeypatch.context() as patched:
        patched.setattr(BusinessCentralConnector, "extract_by_ids", unloadable)
        with pytest.raises(BatchSetAsideError, match="sales_invoices"):
            _sync_repairs(project, timedelta(0))
    assert project.query("SELECT count(*) FROM sync.unfetched") == [(1,)]

    repaired = _sync_repairs(project, timedelta(hours=24))  # no listing due

    assert repaired["sales_invoices"] == 1
    assert project.query("SELECT count(*) FROM sync.unfetched") == [(0,)]
    _assert_balances_match_truth(source, server, project)
