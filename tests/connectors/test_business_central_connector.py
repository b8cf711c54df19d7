"""The Business Central connector against the sandbox: companies, OData paging, incremental
filters, the token's life, the loop guard, 429/503 bursts, and the mapping's sign handling."""

from __future__ import annotations

from collections.abc import Callable, Iterator
from contextlib import ExitStack
from datetime import UTC
from decimal import Decimal

import pytest

from connectors.business_central.connector import (
    BusinessCentralConnector,
    BusinessCentralSettings,
)
from connectors.business_central.settings import (
    CUSTOMERS,
    IDS_PER_FILTER,
    PAYMENT_JOURNALS,
    PAYMENT_LINES,
    SALES_INVOICES,
    STREAMS,
)
from connectors.errors import (
    AuthenticationError,
    ConfigurationError,
    PaginationError,
    PayloadError,
)
from models.landing import LandingZone
from models.warehouse import Warehouse
from pipelines.sync import normalize, sync_connection
from sandbox.business_central.testing import BC_APP
from sandbox.faults import FaultConfig
from sandbox.testing import TEST_REQUESTS_PER_MINUTE

COMPANY = "connector-co"
SIZE = {"customers": 10, "invoices": 60, "payments": 50}


def _connector(server, company: str | None = COMPANY, **overrides) -> BusinessCentralConnector:
    settings = {
        "connection_id": "test",
        "tenant": server.app.config.tenant,
        "environment": "production",
        "client_id": BC_APP.client_id,
        "client_secret": BC_APP.client_secret,
        "company_id": server.app.company_id(company) if company else None,
        "api_url": f"{server.url}/v2.0",
        "authority_url": server.url,
        "page_size": 25,
        "requests_per_five_minutes": TEST_REQUESTS_PER_MINUTE * 5,
        **overrides,
    }
    return BusinessCentralConnector(BusinessCentralSettings(**settings), sleep=lambda s: None)


@pytest.fixture
def make_connector() -> Iterator[Callable[..., BusinessCentralConnector]]:
    """`make_connector(server, company=…, **settings)`: a connector to the sandbox, closed after
    the test."""
    with ExitStack() as opened:

        def make(server, company: str | None = COMPANY, **overrides) -> BusinessCentralConnector:
            connector = _connector(server, company, **overrides)
            opened.callback(connector.close)
            return connector

        yield make


@pytest.fixture
def server(bc_sandbox):
    return bc_sandbox(companies=(COMPANY, "other-co"), ledger_size=SIZE)


def _records(connector, stream, **kwargs) -> list[dict]:
    return [record for page in connector.extract(stream, **kwargs) for record in page.records]


def _journal_ids(connector) -> list[str]:
    return [journal["id"] for journal in _records(connector, PAYMENT_JOURNALS, since=None)]


def test_check_names_the_company_and_environment(server, make_connector):
    summary = make_connector(server).check()
    assert f"company '{COMPANY}' ({server.app.company_id(COMPANY)})" in summary
    assert "environment 'production'" in summary


def test_a_company_can_be_pinned_by_name(server, make_connector):
    connector = make_connector(server, company=None, company_name="other-co")
    assert connector.company_id() == server.app.company_id("other-co")


def test_the_only_company_is_discovered_once(bc_sandbox, make_connector):
    server = bc_sandbox(companies=("solo-co",), ledger_size=SIZE)
    connector = make_connector(server, company=None)
    _records(connector, CUSTOMERS, since=None)
    _records(connector, SALES_INVOICES, since=None)
    assert connector.company_id() == server.app.company_id("solo-co")
    assert (
        server.log.count(path_prefix="/v2.0/", where=lambda r: r.path.endswith("/companies")) == 1
    )


def test_several_companies_and_none_pinned_is_a_configuration_error(server, make_connector):
    with pytest.raises(ConfigurationError) as error:
        make_connector(server, company=None).company_id()
    message = str(error.value)
    assert f"'{COMPANY}' ({server.app.company_id(COMPANY)})" in message
    assert "'other-co'" in message
    assert "company_id or company_name" in message


def test_a_rejected_secret_is_named_but_never_shown(server, make_connector):
    connector = make_connector(server, client_secret="wrong~secret~123")
    with pytest.raises(AuthenticationError) as error:
        connector.check()
    message = str(error.value)
    assert "business_central connection 'test'" in message
    assert "invalid_client" in message and "AADSTS7000215" in message
    assert "wrong~secret~123" not in message


def test_every_stream_pages_by_next_link_only(server, make_connector):
    connector = make_connector(server)
    ledger = server.app.ledger(COMPANY)
    server.log.reset()
    pages = list(connector.extract(SALES_INVOICES, since=None))
    assert [len(p.records) for p in pages][:-1] == [25] * (len(pages) - 1)
    assert sum(len(p.records) for p in pages) == len(ledger.invoices)
    requests = server.log.records(path_prefix="/v2.0/")
    assert len(requests) == len(pages)
    assert all("$skiptoken" in r.query for r in requests[1:])
    assert not [r for r in requests if {"$top", "$skip"} & set(r.query)]
    assert requests[0].query["$select"][0].split(",")[:2] == ["id", "number"]


def test_payment_lines_are_listed_per_journal(server, make_connector):
    connector = make_connector(server)
    journals = _journal_ids(connector)
    lines = _records(connector, PAYMENT_LINES, since=None, parent_ids=journals)
    assert sorted(line["id"] for line in lines) == sorted(
        line.line_id for line in server.app.served_lines(COMPANY)
    )
    assert {line["journalId"] for line in lines} == set(journals)


def test_incremental_filter_is_utc_with_milliseconds(server, make_connector):
    connector = make_connector(server)
    ledger = server.app.ledger(COMPANY)
    newest = max(i.updated_at for i in ledger.invoices)
    server.log.reset()
    recent = _records(connector, SALES_INVOICES, since=newest.replace(microsecond=0))
    [request] = server.log.records(path_prefix="/v2.0/")
    stamp = newest.astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%S.000Z")
    assert request.query["$filter"] == [f"lastModifiedDateTime gt {stamp}"]
    assert all(
        connector.parse_timestamp(r["lastModifiedDateTime"]) > newest.replace(microsecond=0)
        for r in recent
    )


def test_the_token_is_cached_across_streams(server, make_connector):
    connector = make_connector(server)
    for stream in STREAMS[:4]:
        _records(connector, stream, since=None)
    assert connector.auth.token_requests == 1
    assert server.app.token_requests == 1


def test_a_token_that_expires_mid_sync_is_renewed_once(server, make_connector):
    connector = make_connector(server, page_size=10)
    pages = connector.extract(SALES_INVOICES, since=None)
    first = next(pages)
    server.app.expire_tokens()
    rest = [record for page in pages for record in page.records]
    assert len(first.records) + len(rest) == len(server.app.ledger(COMPANY).invoices)
    assert connector.auth.token_requests == 2
    assert server.log.count(status=401) == 1


def test_a_repeated_next_link_stops_the_listing(bc_sandbox, make_connector):
    server = bc_sandbox(companies=(COMPANY,), ledger_size=SIZE, repeat_next_link=True)
    with pytest.raises(PaginationError, match="already followed"):
        _records(make_connector(server, page_size=5), SALES_INVOICES, since=None)


@pytest.mark.parametrize("retry_after_s", [0.01, None])
def test_a_429_burst_is_waited_out(server, retry_after_s, make_connector):
    connector = make_connector(server)
    server.faults = FaultConfig(burst_429=3, retry_after_s=retry_after_s)
    records = _records(connector, CUSTOMERS, since=None)
    assert len(records) == len(server.app.ledger(COMPANY).customers)
    assert server.log.count(status=429) == 3


def test_a_503_burst_with_retry_after_is_waited_out(server, make_connector):
    connector = make_connector(server)
    server.app.inject_errors(3, status=503, retry_after_s=0.01)
    records = _records(connector, CUSTOMERS, since=None)
    assert len(records) == len(server.app.ledger(COMPANY).customers)
    assert server.log.count(fault="injected_503") == 3


def test_the_budget_is_six_thousand_per_five_minutes_and_five_in_flight(server, make_connector):
    connector = make_connector(server, requests_per_five_minutes=6000)
    limiter = connector.rate_limiter
    assert (limiter.max_requests, limiter.per_seconds, limiter.max_in_flight) == (6000, 300.0, 5)


@pytest.mark.parametrize(
    ("override", "message"),
    [
        ({"page_size": 20_001}, "page_size must be between 1 and 20000"),
        ({"max_in_flight": 6}, "max_in_flight must be between 1 and 5"),
    ],
)
def test_settings_beyond_the_service_limits_are_refused(server, override, message, make_connector):
    with pytest.raises(ConfigurationError, match=message):
        make_connector(server, **override)


def _sync_and_normalize(connector, tmp_path, **kwargs) -> Warehouse:
    warehouse = Warehouse(tmp_path / "w.duckdb")
    landing = LandingZone(tmp_path / "landing")
    sync_connection(connector, warehouse=warehouse, landing=landing, **kwargs)
    normalize(
        warehouse,
        connection_id="test",
        source=connector.source,
        streams=connector.streams,
        mappings=connector.mappings,
    )
    return warehouse


def _states(warehouse: Warehouse) -> dict[str, tuple[str, bool]]:
    with warehouse.connect(read_only=True) as conn:
        rows = conn.execute(
            "SELECT payment_id, status, deleted_at IS NOT NULL FROM canonical.payments"
        ).fetchall()
    return {payment_id: (status, deleted) for payment_id, status, deleted in rows}


def test_a_journal_posted_while_a_sync_runs_is_known_posted_by_the_next(
    server, tmp_path, make_connector
):
    """Posted after the invoices were listed, before the lines were: the lines vanish while
    the invoices look unchanged, so the payments are vanished until the next sync reads the
    invoices' lower remaining amounts."""
    connector = make_connector(server)
    _sync_and_normalize(connector, tmp_path)
    posted: list = []

    def post_before_the_lines(phase: str, stream: str) -> None:
        if stream == PAYMENT_JOURNALS.name and not posted:
            posted.extend(server.app.post_journal(COMPANY, "BANKRCPT"))

    # One stream after another, so that the invoices are surely listed before the journal lines.
    warehouse = _sync_and_normalize(
        connector, tmp_path, on_phase=post_before_the_lines, streams_side_by_side=False
    )
    numbers = {line.payment.payment_number for line in posted}
    assert numbers and {_states(warehouse)[n] for n in numbers} == {("pending", True)}

    warehouse = _sync_and_normalize(connector, tmp_path)
    states = _states(warehouse)
    assert {states[n] for n in numbers} == {("posted", False)}
    assert {s for n, s in states.items() if n not in numbers} == {("pending", False)}


@pytest.mark.parametrize("negative", [True, False])
def test_payment_amounts_are_positive_whichever_sign_the_journal_uses(
    bc_sandbox,
    tmp_path,
    negative,
    make_connector,
):
    server = bc_sandbox(companies=(COMPANY,), ledger_size=SIZE, negative_payment_amounts=negative)
    warehouse = _sync_and_normalize(make_connector(server), tmp_path)
    with warehouse.connect(read_only=True) as conn:
        amounts = dict(conn.execute("SELECT payment_id, amount FROM canonical.payments").fetchall())
        applied = conn.execute(
            "SELECT sum(amount_applied) FROM canonical.payment_applications"
        ).fetchone()[0]
    ledger = server.app.ledger(COMPANY)
    served = {p.payment_id for p in ledger.payments if p.status != "void"}
    assert amounts == {
        p.payment_number: p.amount for p in ledger.payments if p.payment_id in served
    }
    assert applied == sum(
        (a.amount_applied for a in ledger.applications if a.payment_id in served), Decimal(0)
    )


def test_keys_are_listed_with_select_id_for_the_deletion_check(server, make_connector):
    connector = make_connector(server)
    server.log.reset()
    keys = [record for page in connector.extract_keys(SALES_INVOICES) for record in page.records]
    assert {tuple(record) for record in keys} == {("@odata.etag", "id")}
    assert len(keys) == len(server.app.ledger(COMPANY).invoices)
    [request] = server.log.records(path_prefix="/v2.0/")
    assert request.query["$select"] == ["id"]
    assert connector.extract_keys(PAYMENT_LINES) is None


def test_records_are_fetched_by_id_a_few_dozen_a_request(server, make_connector):
    connector = make_connector(server)
    everything = {
        record["id"]: record for record in _records(connector, SALES_INVOICES, since=None)
    }
    wanted = sorted(everything)[: IDS_PER_FILTER + 5]
    unknown = "00000000-0000-4000-8000-000000000000"  # deleted since it was listed
    server.log.reset()

    pages = list(connector.extract_by_ids(SALES_INVOICES, [*wanted, unknown]))

    # 25 a page: the first 40 ids take two pages (the next link keeps the filter).
    assert [page.number for page in pages] == [1, 2, 3]
    fetched = [record for page in pages for record in page.records]
    assert sorted(fetched, key=lambda record: record["id"]) == [everything[i] for i in wanted]
    filters = [r.query["$filter"][0] for r in server.log.records(path_prefix="/v2.0/")]
    assert [f.count(" or ") + 1 for f in filters] == [IDS_PER_FILTER, IDS_PER_FILTER, 6]
    with pytest.raises(PayloadError, match="not a GUID"):
        connector.extract_by_ids(SALES_INVOICES, ["1 or true"])


def test_a_journal_deleted_since_the_journals_were_listed_has_no_lines(server, make_connector):
    connector = make_connector(server)
    journals = _journal_ids(connector)
    gone = "00000000-0000-4000-8000-000000000000"
    lines = _records(connector, PAYMENT_LINES, since=None, parent_ids=[gone, *journals])
    assert len(lines) == len(server.app.served_lines(COMPANY))
    assert server.log.count(status=404) == 1
