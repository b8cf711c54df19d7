"""The Zoho Books connector against the Zoho sandbox: check(), paging, details, errors."""

from __future__ import annotations

from collections.abc import Callable, Iterator
from contextlib import ExitStack
from datetime import UTC, datetime

import pytest

from connectors.errors import AuthenticationError, ConfigurationError
from connectors.zoho_books.connector import ZohoBooksConnector, ZohoBooksSettings
from connectors.zoho_books.settings import PAYMENT_DETAILS, PAYMENTS, STREAMS
from sandbox.testing import TEST_REQUESTS_PER_MINUTE
from sandbox.zoho_books.ids import zoho_id
from sandbox.zoho_books.testing import ZOHO_CLIENT

ORG = "connector-books"


def _connector(server, org: str = ORG, **overrides) -> ZohoBooksConnector:
    settings = {
        "connection_id": "test",
        "organization_id": server.app.organization_id(org),
        "client_id": ZOHO_CLIENT.client_id,
        "client_secret": ZOHO_CLIENT.client_secret,
        "refresh_token": ZOHO_CLIENT.refresh_token,
        "api_url": f"{server.url}/books/v3",
        "accounts_url": server.url,
        "page_size": 25,
        "requests_per_minute": TEST_REQUESTS_PER_MINUTE,
        **overrides,
    }
    return ZohoBooksConnector(ZohoBooksSettings(**settings))


@pytest.fixture
def make_connector() -> Iterator[Callable[..., ZohoBooksConnector]]:
    """`make_connector(server, org=…, **settings)`: a connector to the sandbox, closed after
    the test."""
    with ExitStack() as opened:

        def make(server, org: str = ORG, **overrides) -> ZohoBooksConnector:
            connector = _connector(server, org, **overrides)
            opened.callback(connector.close)
            return connector

        yield make


@pytest.fixture
def server(zoho_sandbox):
    return zoho_sandbox(
        organizations=(ORG, "other-books"),
        ledger_size={"customers": 10, "invoices": 60, "payments": 50},
    )


def test_check_names_the_organization(server, make_connector):
    connector = make_connector(server)
    assert f"({server.app.organization_id(ORG)})" in connector.check()


def test_check_rejects_an_organization_the_login_cannot_read(server, make_connector):
    connector = make_connector(server, organization_id="999")
    with pytest.raises(ConfigurationError) as error:
        connector.check()
    assert "organization 999 is not one this login can read" in str(error.value)
    assert server.app.organization_id(ORG) in str(error.value)


def test_a_rejected_secret_names_the_connection_and_never_the_secret(server, make_connector):
    connector = make_connector(server, client_secret="wrong-secret-123")
    with pytest.raises(AuthenticationError) as error:
        connector.check()
    message = str(error.value)
    assert "zoho_books connection 'test'" in message
    assert "invalid_client_secret" in message
    assert "wrong-secret-123" not in message


def test_lists_every_page_and_only_changes_since(server, make_connector):
    connector = make_connector(server)
    ledger = server.app.ledger(ORG)
    pages = list(connector.extract(STREAMS[1], since=None))
    assert sum(len(p.records) for p in pages) == len(ledger.invoices)
    assert len(pages) == -(-len(ledger.invoices) // 25)

    newest = max(i.updated_at for i in ledger.invoices)
    recent = [r for p in connector.extract(STREAMS[1], since=newest) for r in p.records]
    assert recent and all(
        connector.parse_timestamp(r["last_modified_time"]) >= newest.replace(microsecond=0)
        for r in recent
    )


def test_details_land_as_one_array_and_skip_deleted_payments(server, make_connector):
    connector = make_connector(server)
    org_id = server.app.organization_id(ORG)
    ledger = server.app.ledger(ORG)
    posted = [p for p in ledger.payments if p.status == "posted"][:3]
    deleted = zoho_id(org_id, "payment", len(ledger.payments) + 1000)
    ids = [zoho_id(org_id, "payment", p.payment_id) for p in posted] + [deleted]

    [page] = list(connector.extract(PAYMENT_DETAILS, since=None, parent_ids=ids))

    assert [r["payment_id"] for r in page.records] == ids[:3]
    assert page.body.startswith(b"[{") and page.body.endswith(b"}]")
    assert b'"invoices"' in page.body


def test_incremental_filter_is_sent_in_utc(server, make_connector):
    connector = make_connector(server)
    server.log.reset()
    list(connector.extract(PAYMENTS, since=datetime(2026, 10, 1, 12, 0, tzinfo=UTC)))
    [request] = server.log.records(path="/books/v3/customerpayments")
    assert request.query["last_modified_time"] == ["2026-10-01T12:00:00+0000"]


def test_page_size_above_the_api_maximum_is_a_configuration_error(server, make_connector):
    with pytest.raises(ConfigurationError, match="page_size must be between 1 and 200"):
        make_connector(server, page_size=500)


def test_timestamps_keep_their_offset_and_need_one(server, make_connector):
    connector = make_connector(server)
    assert connector.parse_timestamp("2025-04-09T11:25:54-0400") == datetime(
        2025, 4, 9, 15, 25, 54, tzinfo=UTC
    )
    with pytest.raises(ValueError, match="no UTC offset"):
        connector.parse_timestamp("2025-04-09T11:25:54")
