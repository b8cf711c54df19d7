"""The Carbon connector against the Carbon sandbox: paging under max-rows, both ways to send
the key, incremental PostgREST filters, re-reads by id, key listings, errors and the budget."""

from __future__ import annotations

import math
from collections.abc import Callable, Iterator
from datetime import UTC, datetime, timedelta
from typing import Any

import httpx
import pytest

from connectors.carbon import settings
from connectors.carbon.connector import CarbonConnector, CarbonSettings
from connectors.errors import ApiError, AuthenticationError, ConfigurationError
from connectors.ratelimit import RateLimiter
from connectors.streams import Stream
from sandbox.carbon.app import CarbonApp, start_carbon_sandbox
from sandbox.carbon.config import CarbonConfig
from sandbox.faults import FaultConfig
from sandbox.server import SandboxServer
from tests.connectors.probes import InFlightProbe

COMPANY = "cedar-works"
SIZE = {"customers": 12, "invoices": 60, "payments": 50}

Start = Callable[..., SandboxServer[CarbonApp]]


@pytest.fixture
def start() -> Iterator[Start]:
    servers: list[SandboxServer[CarbonApp]] = []

    def start(faults: FaultConfig | None = None, **config: Any) -> SandboxServer[CarbonApp]:
        config.setdefault("companies", (COMPANY,))
        config.setdefault("ledger_size", SIZE)
        config.setdefault("rate_limit", 100_000)
        server = start_carbon_sandbox(CarbonConfig(**config), faults=faults)
        servers.append(server)
        return server

    yield start
    for server in servers:
        server.stop()


@pytest.fixture
def connect() -> Iterator[Callable[..., CarbonConnector]]:
    connectors: list[CarbonConnector] = []

    def connect(server: SandboxServer[CarbonApp], **options: Any) -> CarbonConnector:
        options.setdefault("api_key", server.app.api_key(COMPANY))
        options.setdefault("api_url", server.url)
        options.setdefault("requests_per_minute", 100_000)
        connector = CarbonConnector(CarbonSettings(connection_id="cedar", **options))
        connectors.append(connector)
        return connector

    yield connect
    for connector in connectors:
        connector.close()


def read(connector: CarbonConnector, stream: Stream, since: datetime | None = None) -> list[dict]:
    return [r for page in connector.extract(stream, since=since) for r in page.records]


def rows(server: SandboxServer[CarbonApp], table: str, keep=lambda row: True) -> list[dict]:
    return [row for row in server.app.rows(COMPANY, table) if keep(row)]


def receipt(row: dict) -> bool:
    return row["paymentType"] == "Receipt" and row["customerId"] is not None


def test_a_max_rows_cap_smaller_than_the_page_loses_nothing(start, connect) -> None:
    server = start(max_rows=7)
    connector = connect(server, page_size=25)
    expected = {
        settings.CUSTOMERS: rows(server, "customer"),
        settings.PAYMENTS: rows(server, "payment", receipt),
        settings.INVOICES: rows(server, "salesInvoices"),
    }
    for stream, wanted in expected.items():
        got = read(connector, stream)
        assert sorted(r["id"] for r in got) == sorted(r["id"] for r in wanted), stream.name
    invoices = len(expected[settings.INVOICES])
    # Page 1 brings 7; each later page starts one row early (the overlap) and brings 6 more.
    assert server.log.count(path="/salesInvoices") == 1 + math.ceil((invoices - 7) / 6)
    assert all(r.query["limit"] == ["25"] for r in server.log.records(path="/salesInvoices")[:1])


def test_the_hosted_api_takes_a_bearer_and_self_hosted_a_carbon_key(start, connect) -> None:
    server = start()
    hosted = connect(server)
    self_hosted = connect(server, api_url=f"{server.url}/rest/v1", self_hosted=True)
    name = f"company {COMPANY!r} ({server.app.company_id(COMPANY)})"
    assert hosted.check().startswith(name)
    assert self_hosted.check().startswith(name)
    assert read(hosted, settings.CUSTOMERS) == read(self_hosted, settings.CUSTOMERS)


def test_a_wrong_key_is_named_and_never_shown(start, connect) -> None:
    server = start()
    wrong = "crbn_" + "0" * 40
    with pytest.raises(AuthenticationError) as hosted:
        connect(server, api_key=wrong).check()
    assert "Invalid API key [code 401]" in str(hosted.value)
    assert wrong not in str(hosted.value)
    # Self-hosted PostgREST answers an unknown key with no rows (row-level security).
    self_hosted = connect(server, api_key=wrong, api_url=f"{server.url}/rest/v1", self_hosted=True)
    with pytest.raises(ConfigurationError, match="the API key reads no company"):
        self_hosted.check()


def test_a_filter_error_surfaces_postgrests_message(start, connect, monkeypatch) -> None:
    endpoint = settings.Endpoint("payment", filters=(("paymentType", "eq.Refund"),))
    monkeypatch.setitem(settings.ENDPOINTS, "payment", endpoint)
    with pytest.raises(ApiError) as failure:
        read(connect(start()), settings.PAYMENTS)
    assert failure.value.status_code == 400
    assert 'invalid input value for enum "paymentType": "Refund" [code 22P02]' in str(failure.value)


def test_incremental_reads_ask_for_rows_changed_or_created_since(start, connect) -> None:
    server = start()
    connector = connect(server)
    payments = rows(server, "payment", receipt)
    since = sorted(p["updatedAt"] or p["createdAt"] for p in payments)[-5]

    got = read(connector, settings.PAYMENTS, since=since)

    assert sorted(r["id"] for r in got) == sorted(
        p["id"] for p in payments if (p["updatedAt"] or p["createdAt"]) >= since
    )
    [request] = server.log.records(path="/payment")
    moment = since.astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%S.%fZ")
    assert request.query["or"] == [
        f"(updatedAt.gte.{moment},and(updatedAt.is.null,createdAt.gte.{moment}))"
    ]
    assert (request.query["paymentType"], request.query["customerId"]) == (
        ["eq.Receipt"],
        ["not.is.null"],
    )
    assert request.query["order"] == ["id.asc"]


def test_settlements_of_what_changed_come_in_chunks_of_ids(start, connect) -> None:
    """The sync names the payments and memos that changed (from the warehouse); their
    settlements are read by id, a hundred ids to a request."""
    server = start(ledger_size={"customers": 20, "invoices": 200, "payments": 230})
    connector = connect(server)
    payments = read(connector, settings.PAYMENTS, since=datetime(2000, 1, 1, tzinfo=UTC))
    assert len(payments) == 230

    later = datetime.now(UTC) + timedelta(days=1)  # no settlement is that new
    changed = [p["id"] for p in payments]
    settlements = [
        r
        for page in connector.extract(settings.SETTLEMENTS, since=later, parent_ids=changed)
        for r in page.records
    ]

    read_ids = {p["id"] for p in payments}
    expected = rows(
        server,
        "invoiceSettlement",
        lambda s: s["paymentId"] in read_ids and s["targetSalesInvoiceId"] is not None,
    )
    assert sorted(s["id"] for s in settlements) == sorted(s["id"] for s in expected)
    listings = server.log.records(path="/invoiceSettlement")
    assert len(listings) == math.ceil(230 / settings.MAX_IDS_PER_FILTER)
    for listing in listings:
        clause = listing.query["or"][0].split("paymentId.in.(")[1].split(")")[0]
        assert clause.count(",") < settings.MAX_IDS_PER_FILTER


def test_past_a_thousand_ids_one_full_listing_is_cheaper(start, connect) -> None:
    server = start(ledger_size={"customers": 20, "invoices": 300, "payments": 1_050})
    connector = connect(server)
    assert len(read(connector, settings.PAYMENTS, since=datetime(2000, 1, 1, tzinfo=UTC))) == 1_050

    changed = [p["id"] for p in rows(server, "payment")]
    settlements = [
        r
        for page in connector.extract(
            settings.SETTLEMENTS, since=datetime.now(UTC), parent_ids=changed
        )
        for r in page.records
    ]

    to_invoices = rows(server, "invoiceSettlement", lambda s: s["targetSalesInvoiceId"] is not None)
    assert len(settlements) == len(to_invoices)
    listings = server.log.records(path="/invoiceSettlement")
    assert len(listings) == math.ceil(len(to_invoices) / 1000)  # Carbon's max-rows
    assert not any("or" in listing.query or "paymentId" in listing.query for listing in listings)


def test_the_deletion_check_lists_keys_alone(start, connect) -> None:
    server = start()
    connector = connect(server)
    pages = list(connector.extract_keys(settings.CUSTOMER_PAYMENTS))
    keys = [r for page in pages for r in page.records]
    assert keys == [
        {"customerId": row["customerId"]}
        for row in sorted(rows(server, "customerPayment"), key=lambda r: r["customerId"])
    ]
    [request] = server.log.records(path="/customerPayment")
    assert request.query["select"] == ["customerId"]


def test_records_are_fetched_by_id_under_the_streams_filters(start, connect, monkeypatch) -> None:
    monkeypatch.setattr("connectors.carbon.connector.MAX_IDS_PER_FILTER", 20)
    server = start()
    connector = connect(server)
    receipts = {row["id"]: row for row in read(connector, settings.PAYMENTS)}
    others = [row["id"] for row in rows(server, "payment") if row["id"] not in receipts]
    wanted = sorted([*sorted(receipts)[:23], *others[:2]])
    assert len(wanted) == 25
    server.log.reset()

    got = [r for page in connector.extract_by_ids(settings.PAYMENTS, wanted) for r in page.records]

    # Only receipts of a customer: what the stream's own listing reads.
    assert got == [receipts[i] for i in wanted if i in receipts]
    assert len(got) == 23
    requests = server.log.records(path="/payment")
    assert [r.query["id"][0].count(",") + 1 for r in requests] == [20, 5]
    assert all(r.query["paymentType"] == ["eq.Receipt"] for r in requests)


def test_a_429_waits_for_retry_after_and_succeeds(start, connect) -> None:
    server = start(faults=FaultConfig(burst_429=2, retry_after_s=0.01))
    customers = read(connect(server), settings.CUSTOMERS)
    assert len(customers) == SIZE["customers"]
    assert server.log.count(status=429) == 2


def test_carbons_real_budget_on_simulated_time_sees_no_429(start, connect, clock) -> None:
    """60 requests a minute on both sides, on one simulated clock: over a hundred requests
    take more than a simulated minute and the sandbox never has to refuse one."""
    size = {"customers": 5, "invoices": 130, "payments": 20}
    server = start(rate_limit=60, clock=clock, max_rows=1, ledger_size=size)
    limiter = RateLimiter(max_requests=60, per_seconds=60.0, clock=clock, sleep=clock.sleep)
    connector = CarbonConnector(
        CarbonSettings(
            connection_id="cedar",
            api_key=server.app.api_key(COMPANY),
            api_url=server.url,
            max_concurrent_requests=1,
        ),
        rate_limiter=limiter,
    )
    started = clock()
    try:
        invoices = read(connector, settings.INVOICES)
    finally:
        connector.close()
    assert len(invoices) == 130
    assert server.log.count(status=429) == 0
    assert clock() - started >= 2 * 60.0


def test_timestamps_and_settings(start, connect) -> None:
    connector = connect(start())
    assert connector.parse_timestamp("2026-05-01T12:34:56.5+00:00") == datetime(
        2026, 5, 1, 12, 34, 56, 500_000, tzinfo=UTC
    )
    assert connector.parse_timestamp("2026-01-01T00:00:00Z") == datetime(2026, 1, 1, tzinfo=UTC)
    with pytest.raises(ConfigurationError, match="page_size must be between 1 and 10000"):
        CarbonConnector(CarbonSettings(connection_id="x", api_key="crbn_x", page_size=0))
    assert "crbn_" not in repr(CarbonSettings(connection_id="x", api_key="crbn_secret"))


@pytest.mark.parametrize("in_flight", [0, 17])
def test_pages_in_flight_are_checked(in_flight: int) -> None:
    with pytest.raises(ConfigurationError, match="max_concurrent_requests must be between 1 and"):
        CarbonConnector(
            CarbonSettings(connection_id="x", api_key="crbn_x", max_concurrent_requests=in_flight)
        )


@pytest.mark.parametrize("in_flight", [None, 3])
def test_max_concurrent_requests_pages_are_in_flight_at_once(in_flight: int | None) -> None:
    """After the first page, each page waits at a barrier until `expected` requests are being
    served together: fewer in flight would break the barrier and fail the listing; the peak shows
    that no more were."""
    expected = in_flight or settings.CONCURRENT_REQUESTS
    total = 2 + 2 * expected

    def page(request: httpx.Request) -> httpx.Response:
        # Page 1 is rows 0-1; each later one overlaps the one before by a row: n-1, n.
        offset, limit = int(request.url.params["offset"]), int(request.url.params["limit"])
        ids = list(range(offset, min(offset + limit, total)))
        return httpx.Response(
            200,
            json=[{"id": i} for i in ids],
            headers={"Content-Range": f"{offset}-{ids[-1]}/{total}"},
        )

    probe = InFlightProbe(expected, page)
    chosen = {} if in_flight is None else {"max_concurrent_requests": in_flight}
    connector = CarbonConnector(
        CarbonSettings(
            connection_id="cedar",
            api_key="crbn_in_flight",
            api_url="https://carbon.test",
            page_size=2,
            requests_per_minute=100_000,
            **chosen,
        ),
        transport=httpx.MockTransport(probe),
    )
    try:
        got = read(connector, settings.PAYMENT_TERMS)
    finally:
        connector.close()
    assert [r["id"] for r in got] == list(range(total))
    assert probe.peak == expected
