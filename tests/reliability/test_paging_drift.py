"""Listings that cannot skip (DESIGN invariant 8), on every source: while a sync pages through the
invoices, the source deletes an invoice it already served before each page after the first, and
creates a new one. Offset or page-number paging would shift the next row onto a page already read
and lose it; the warehouse must still hold every invoice the source has, exact to the cent."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

import pytest

from pipelines.runner import run_syncs
from sandbox.business_central.ids import bc_id
from sandbox.business_central.testing import bc_connection
from sandbox.carbon.ids import carbon_id
from sandbox.carbon.testing import carbon_connection
from sandbox.faults import FaultConfig
from sandbox.simpro.ids import simpro_id
from sandbox.simpro.testing import simpro_connection
from sandbox.zoho_books.ids import zoho_id
from sandbox.zoho_books.testing import zoho_connection
from tests.e2e import actual_balances, expected_balances, report, sync

ACCOUNT = "drifting-ledger"
SIZE = {"customers": 8, "invoices": 40, "payments": 30}
PAGE = 10


@dataclass(frozen=True)
class Source:
    sandbox: str  # the fixture that starts it
    connection: Callable[..., dict]
    account: dict[str, object]  # the sandbox config naming the account
    invoices_path: Callable[[object], str]  # the invoice listing's path on the server
    invoice_id: Callable[[object, int], str]  # ledger invoice id → warehouse invoice id


SOURCES = {
    "zoho_books": Source(
        "zoho_sandbox",
        zoho_connection,
        {"organizations": (ACCOUNT,)},
        lambda server: "/books/v3/invoices",
        lambda server, i: zoho_id(server.app.organization_id(ACCOUNT), "invoice", i),
    ),
    "business_central": Source(
        "bc_sandbox",
        bc_connection,
        {"companies": (ACCOUNT,)},
        lambda server: (
            f"/v2.0/{server.app.config.tenant}/{server.app.config.environment}"
            f"/api/v2.0/companies({server.app.company_id(ACCOUNT)})/salesInvoices"
        ),
        lambda server, i: bc_id(server.app.company_id(ACCOUNT), "invoice", i),
    ),
    "simpro": Source(
        "simpro_sandbox",
        simpro_connection,
        {"companies": (ACCOUNT,)},
        lambda server: "/api/v1.0/companies/0/customerInvoices/",
        lambda server, i: str(simpro_id("invoice", i)),
    ),
    "carbon": Source(
        "carbon_sandbox",
        carbon_connection,
        {"companies": (ACCOUNT,)},
        lambda server: "/salesInvoices",
        lambda server, i: carbon_id(ACCOUNT, "invoice", i),
    ),
}


@pytest.mark.parametrize(
    "source",
    [
        "business_central",  # server-driven paging by key: nothing to shift
        "carbon",  # overlapping offset pages, shifts repaired by key
        "simpro",  # concurrent pages, the gaps between their IDs read again by ID
        "zoho_books",  # page 1 again from the last date read: a delete moves nothing
    ],
)
def test_rows_deleted_and_inserted_while_paging_lose_nothing(
    source: str, request: pytest.FixtureRequest, make_project
) -> None:
    spec = SOURCES[source]
    server = request.getfixturevalue(spec.sandbox)(ledger_size=SIZE, **spec.account)
    before = {i.invoice_id for i in server.app.ledger(ACCOUNT).invoices}
    server.faults = FaultConfig(
        delete_while_paging=1.0, insert_while_paging=1.0, paths=(spec.invoices_path(server),)
    )
    project = make_project([spec.connection(server, ACCOUNT, page_size=PAGE)])

    first = run_syncs(project.config, project.config_path)
    assert [o.error for o in first] == [None]
    reread = sum(m.get("reread_after_shift", 0) for m in first[0].metadata.values())
    # Simpro's pages are fetched by number: the rows a delete moved past them are read again
    # by ID, and the figures say so. (Business Central and Zoho read by key throughout; Carbon's
    # overlapping pages find most shifts before they skip.)
    if source == "simpro":
        assert reread > 0
    if source in ("business_central", "zoho_books"):
        assert reread == 0
    # What was created after the listing passed its place comes with the next sync.
    server.faults = FaultConfig()
    sync(project)

    ledger = server.app.ledger(ACCOUNT)
    after = {i.invoice_id for i in ledger.invoices}
    assert server.log.count(fault="delete_while_paging") >= 2
    assert server.log.count(fault="insert_while_paging") >= 2
    assert before - after and after - before
    ids = lambda kind, i: spec.invoice_id(server, i)  # noqa: E731
    report(project, ledger.as_of)
    balances = actual_balances(project)
    # Every invoice the source has arrived, exactly; the warehouse has besides only invoices
    # the source deleted meanwhile (once served; a complete listing marks them vanished), some
    # of them created while the first sync paged.
    expected = expected_balances({ACCOUNT: ledger}, ids)
    assert {key: balances.get(key) for key in expected} == expected
    ever = range(max(before | after) + 2 * len(before))  # created ones take the next ids
    assert {key[1] for key in balances.keys() - expected.keys()} <= {
        ids("invoice", i) for i in ever if i not in after
    }


def test_zoho_contacts_deleted_while_paging_lose_no_contact(zoho_sandbox, make_project) -> None:
    """Zoho cannot filter contacts by date: they are read from the last modified time on
    (sorted by it), so a contact deleted before a page moves no other past it. Paged by
    number, the listing lost the row that moved onto a page already read."""
    server = zoho_sandbox(
        ledger_size={"customers": 40, "invoices": 10, "payments": 5}, organizations=(ACCOUNT,)
    )
    server.faults = FaultConfig(delete_while_paging=1.0, paths=("/books/v3/contacts",))
    project = make_project([zoho_connection(server, ACCOUNT, page_size=PAGE)])

    [outcome] = run_syncs(project.config, project.config_path)

    assert outcome.error is None
    assert server.log.count(fault="delete_while_paging") >= 2
    org_id = server.app.organization_id(ACCOUNT)
    has = {zoho_id(org_id, "contact", c.customer_id) for c in server.app.ledger(ACCOUNT).customers}
    loaded = project.query(
        "SELECT record_id FROM raw.zoho_books__contacts WHERE vanished_at IS NULL"
    )
    assert has <= {record_id for (record_id,) in loaded}
