"""Deletes and voids. An incremental listing cannot show that a record was deleted, so each
top-level stream is listed completely at least every `full_key_reconciliation_hours` (only its
ids, where the connector can list them): what vanished gets `deleted_at`, leaves the balances
and shows in reconciliation_exceptions. Voids map to status void."""

from __future__ import annotations

import dataclasses
from collections.abc import Iterator, Sequence
from datetime import UTC, datetime, timedelta
from decimal import Decimal

import orjson
import pytest

from connectors.pagination import Page
from connectors.streams import Stream
from connectors.zoho_books.connector import ZohoBooksConnector, ZohoBooksSettings
from models.landing import LandingZone
from models.warehouse import Warehouse
from pipelines.sync import sync_connection
from sandbox.generator import void_payment
from sandbox.zoho_books.ids import zoho_id
from sandbox.zoho_books.testing import ZOHO_CLIENT
from tests.reliability.zoho import (
    LISTS,
    ORG,
    ZohoProject,
    assert_matches_truth,
    list_requests,
)

SIZE = {"customers": 12, "invoices": 40, "payments": 30}  # customer 12 has no documents


def _change_the_source(zoho: ZohoProject) -> dict[str, str]:
    """Delete a customer and a draft invoice, void a payment (Zoho deletes it) and an open
    invoice; the ids, as Zoho renders them, of what vanished."""
    app, org_id, now = zoho.server.app, zoho.org_id, datetime.now(UTC)
    ledger = zoho.ledger
    unused = {c.customer_id for c in ledger.customers} - {
        d.customer_id for d in (*ledger.invoices, *ledger.payments)
    }
    customer = min(unused)
    draft = next(i.invoice_id for i in ledger.invoices if i.status == "draft")
    paying = {a.payment_id for a in ledger.applications}
    payment = next(p.payment_id for p in ledger.payments if p.payment_id in paying)
    applied = {a.invoice_id for a in ledger.applications}
    to_void = next(i for i in ledger.invoices if i.status == "open" and i.invoice_id not in applied)

    ledger = void_payment(ledger, payment, at=now - timedelta(seconds=5))
    voided = dataclasses.replace(
        to_void,
        status="void",
        source_balance=Decimal("0.00"),
        updated_at=now - timedelta(seconds=5),
    )
    ledger = ledger.replace(invoices=tuple(voided if i is to_void else i for i in ledger.invoices))
    app.set_ledger(ORG, ledger)
    app.delete(ORG, "invoices", draft)
    app.delete(ORG, "contacts", customer)
    return {
        "customer": zoho_id(org_id, "contact", customer),
        "invoice": zoho_id(org_id, "invoice", draft),
        "payment": zoho_id(org_id, "payment", payment),
        "void": zoho_id(org_id, "invoice", to_void.invoice_id),
    }


def _deleted(zoho: ZohoProject) -> set[tuple[str, str]]:
    return set(
        zoho.query(
            "SELECT 'customer', customer_id FROM canonical.customers WHERE deleted_at IS NOT NULL "
            "UNION ALL SELECT 'invoice', invoice_id FROM canonical.invoices "
            "WHERE deleted_at IS NOT NULL UNION ALL SELECT 'payment', payment_id "
            "FROM canonical.payments WHERE deleted_at IS NOT NULL"
        )
    )


def test_deletes_are_found_by_the_periodic_full_listing_and_voids_become_void(zoho_project):
    zoho = zoho_project(size=SIZE)
    zoho.sync_directly()
    ids = _change_the_source(zoho)

    zoho.server.log.reset()
    zoho.sync_directly()
    zoho.rebuild()

    # Incremental: the void arrives, the deletions cannot.
    assert all("last_modified_time" in r.query for r in list_requests(zoho))
    assert zoho.query(
        "SELECT status FROM canonical.invoices WHERE invoice_id = ?", [ids["void"]]
    ) == [("void",)]
    assert _deleted(zoho) == set()
    with pytest.raises(AssertionError):
        assert_matches_truth(zoho)  # the deleted payment still counts

    # A day later the streams are due a complete listing.
    with zoho.project.warehouse.connect() as conn:
        conn.execute("UPDATE sync.batches SET loaded_at = loaded_at - INTERVAL 25 HOURS")
    zoho.server.log.reset()
    zoho.sync_directly()
    zoho.rebuild()

    assert list_requests(zoho) and not any(
        "last_modified_time" in r.query for r in list_requests(zoho)
    )
    assert zoho.server.log.count(path_prefix="/books/v3/customerpayments/") == 0
    assert _deleted(zoho) == {
        ("customer", ids["customer"]),
        ("invoice", ids["invoice"]),
        ("payment", ids["payment"]),
    }
    assert_matches_truth(zoho)  # the deleted payment's money no longer counts
    vanished = zoho.query(
        "SELECT entity, coalesce(customer_id, ''), coalesce(invoice_id, ''), "
        "coalesce(payment_id, '') FROM reports.reconciliation_exceptions "
        "WHERE kind = 'record_vanished'"
    )
    assert {
        (entity, {"customer": c, "invoice": i, "payment": p}[entity])
        for entity, c, i, p in vanished
    } == {
        ("customer", ids["customer"]),
        ("invoice", ids["invoice"]),
        ("payment", ids["payment"]),
    }


class _ZohoListingIds(ZohoBooksConnector):
    """Zoho as if its API could select columns (a listing of ids alone) and filter by id."""

    def extract_keys(self, stream: Stream) -> Iterator[Page] | None:
        if stream.parent:
            return None
        key = stream.id_path.removeprefix("$.")

        def pages() -> Iterator[Page]:
            for page in self.extract(stream, since=None):
                records = [{key: record[key]} for record in page.records]
                body = orjson.dumps({stream.name: records})
                yield Page(page.number, records, body, page.url)

        return pages()

    def extract_by_ids(self, stream: Stream, ids: Sequence[str]) -> Iterator[Page]:
        key = stream.id_path.removeprefix("$.")
        for page in self.extract(stream, since=None):
            records = [record for record in page.records if record[key] in ids]
            yield Page(page.number, records, orjson.dumps({stream.name: records}), page.url)


def test_where_ids_can_be_listed_reconciliation_lists_only_ids(zoho_project):
    zoho = zoho_project(size=SIZE)
    config = zoho.project.config
    connector = _ZohoListingIds(
        ZohoBooksSettings(
            connection_id=ORG,
            organization_id=zoho.org_id,
            client_id=ZOHO_CLIENT.client_id,
            client_secret=ZOHO_CLIENT.client_secret,
            refresh_token=ZOHO_CLIENT.refresh_token,
            api_url=f"{zoho.server.url}/books/v3",
            accounts_url=zoho.server.url,
        )
    )
    warehouse, landing = Warehouse(config.warehouse), LandingZone(config.landing)

    def sync():
        return {
            o.stream: o
            for o in sync_connection(
                connector, warehouse=warehouse, landing=landing, reconcile_every=timedelta(0)
            )
        }

    sync()
    ids = _change_the_source(zoho)
    zoho.server.log.reset()

    outcomes = sync()
    connector.close()
    zoho.rebuild()

    # Each listing twice: its ids in full, its records since the cursor.
    requests = sorted((r.path, "last_modified_time" in r.query) for r in list_requests(zoho))
    assert requests == [(path, filtered) for path in sorted(LISTS) for filtered in (False, True)]
    assert all(outcomes[s].complete for s in ("contacts", "invoices", "customerpayments"))
    assert sum(outcome.repaired for outcome in outcomes.values()) == 0  # the warehouse lacked none
    assert _deleted(zoho) == {
        ("customer", ids["customer"]),
        ("invoice", ids["invoice"]),
        ("payment", ids["payment"]),
    }
    assert_matches_truth(zoho)
