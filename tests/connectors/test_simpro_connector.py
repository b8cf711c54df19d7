"""The Simpro connector against the sandbox (and, for the build's time zone, a fake API)."""

from __future__ import annotations

import threading
from collections.abc import Callable, Iterator
from datetime import UTC, date, datetime, timedelta
from typing import Any

import httpx
import pytest

from connectors.errors import ApiError, AuthenticationError, ConfigurationError, PayloadError
from connectors.pagination import Page
from connectors.ratelimit import shared_rate_limiter
from connectors.simpro.connector import SimproConnector, SimproSettings
from connectors.simpro.settings import COLLECTIONS, CONCURRENT_REQUESTS, IDS_PER_FILTER, STREAMS
from sandbox.faults import FaultConfig
from sandbox.server import SandboxServer
from sandbox.simpro.app import SimproApp
from sandbox.simpro.ids import ledger_id, simpro_id
from sandbox.simpro.testing import SIMPRO_API_KEY, SIMPRO_CLIENT
from sandbox.testing import TEST_REQUESTS_PER_SECOND
from tests.connectors.probes import InFlightProbe

STREAM = {stream.name: stream for stream in STREAMS}
SMALL = {"customers": 6, "invoices": 30, "payments": 20}

Connect = Callable[..., SimproConnector]


@pytest.fixture
def connect() -> Iterator[Connect]:
    """`connect(server_or_url, **settings)`: a connector with the test API key, closed after."""
    opened: list[SimproConnector] = []

    def make(server: SandboxServer[SimproApp] | str, **settings: Any) -> SimproConnector:
        settings.setdefault("connection_id", "summit")
        settings.setdefault("api_key", SIMPRO_API_KEY)
        settings.setdefault("requests_per_second", TEST_REQUESTS_PER_SECOND)
        url = server if isinstance(server, str) else server.url
        connector = SimproConnector(SimproSettings(build_url=url, **settings))
        opened.append(connector)
        return connector

    yield make
    for connector in opened:
        connector.close()


def records(pages: Iterator[Page]) -> list[dict[str, Any]]:
    return [record for page in pages for record in page.records]


def test_both_timestamp_forms_parse_to_the_same_instant(connect: Connect) -> None:
    connector = connect("https://timestamps.simprosuite.com")
    rfc3339 = connector.parse_timestamp("2026-08-30T09:12:44+10:00")
    short = connector.parse_timestamp("2026-08-30 09:12:44+10")
    assert rfc3339 == short == datetime(2026, 8, 29, 23, 12, 44, tzinfo=UTC)
    assert connector.parse_timestamp("2026-08-30 09:12:44+05:30").utcoffset() == timedelta(
        hours=5, minutes=30
    )
    with pytest.raises(ValueError, match="no UTC offset"):
        connector.parse_timestamp("2026-08-30 09:12:44")


@pytest.mark.parametrize(
    ("since", "expected"),
    [
        (datetime(2026, 7, 1, 13, 30, tzinfo=UTC), date(2026, 6, 30)),  # 23:30 on 1 July (+10)
        (datetime(2026, 7, 1, 14, 30, tzinfo=UTC), date(2026, 7, 1)),  # 00:30 on 2 July
        (datetime(2026, 12, 1, 13, 30, tzinfo=UTC), date(2026, 12, 1)),  # 00:30 on 2 Dec (+11)
    ],
)
def test_the_modified_filter_is_the_day_before_in_the_build_zone(
    simpro_sandbox, connect: Connect, since: datetime, expected: date
) -> None:
    connector = connect(simpro_sandbox(timezone="Australia/Sydney"))
    assert connector.modified_after(since) == expected


@pytest.mark.parametrize(
    ("company", "expected"),
    [
        ({"Timezone": "Asia/Kolkata", "TimezoneOffset": "+05:30"}, date(2026, 7, 1)),
        ({"Timezone": "Mars/Olympus", "TimezoneOffset": "+05:30"}, date(2026, 7, 1)),
        ({"TimezoneOffset": "-04:00"}, date(2026, 6, 30)),
        ({}, date(2026, 6, 30)),  # unknown: two days back covers every offset
    ],
)
def test_the_build_zone_falls_back_to_its_offset_then_to_slack(
    connect: Connect, company: dict[str, str], expected: date
) -> None:
    def api(request: httpx.Request) -> httpx.Response:
        assert request.url.path == "/api/v1.0/companies/0"
        return httpx.Response(200, json={"ID": 0, "Name": "Summit", **company})

    connector = SimproConnector(
        SimproSettings(
            connection_id="summit",
            build_url="https://zones.simprosuite.com/api/v1.0/",
            company_id=0,
            api_key=SIMPRO_API_KEY,
            requests_per_second=TEST_REQUESTS_PER_SECOND,
        ),
        transport=httpx.MockTransport(api),
    )
    try:
        assert connector.modified_after(datetime(2026, 7, 2, 3, 0, tzinfo=UTC)) == expected
    finally:
        connector.close()


def test_lists_ask_for_the_mapped_columns_in_id_order(simpro_sandbox, connect: Connect) -> None:
    server = simpro_sandbox(ledger_size=SMALL)
    connector = connect(server, page_size=8)
    for stream in STREAMS:
        assert records(connector.extract(stream, since=None))
    since = datetime(2026, 10, 1, tzinfo=UTC)
    list(connector.extract(STREAM["customer_payments"], since=since))
    lists = server.log.records(path_prefix="/api/v1.0/companies/0/")
    assert {r.path.removeprefix("/api/v1.0/companies/0/") for r in lists} == {
        path for path, _ in COLLECTIONS.values()
    }
    for request in lists:
        path = request.path.removeprefix("/api/v1.0/companies/0/")
        (columns,) = [cols for p, cols in COLLECTIONS.values() if p == path]
        assert request.query["columns"] == [",".join(columns)]
        assert (request.query["orderby"], request.query["pageSize"]) == (["ID"], ["8"])
    assert lists[-1].query["DateModified"] == ["gt(2026-09-30)"]


def test_concurrent_paging_gets_every_record_exactly_once(simpro_sandbox, connect: Connect):
    server = simpro_sandbox(ledger_size={"customers": 10, "invoices": 300, "payments": 10})
    got = records(connect(server, page_size=7).extract(STREAM["customer_invoices"], since=None))
    assert [ledger_id("invoice", r["ID"]) for r in got] == list(range(1, 301))
    assert len({r.connection for r in server.log.records(path_prefix="/api/")}) > 1


@pytest.mark.parametrize("incremental", [False, True])
def test_paging_gets_every_record_exactly_once_while_records_change(
    simpro_sandbox, connect: Connect, incremental: bool
) -> None:
    server = simpro_sandbox(
        ledger_size={"customers": 10, "invoices": 200, "payments": 10},
        faults=FaultConfig(modify_while_paging=0.5, seed=11),
    )
    connector = connect(server, page_size=7)
    since = datetime(2026, 7, 1, tzinfo=UTC) if incremental else None
    day = connector.modified_after(since).isoformat() if since else None
    expected = httpx.get(
        f"{server.url}/api/v1.0/companies/0/customerInvoices/",
        params={
            "columns": "ID",
            "pageSize": 250,
            **({"DateModified": f"gt({day})"} if day else {}),
        },
        headers={"Authorization": f"Bearer {SIMPRO_API_KEY}"},
    ).json()
    assert 40 < len(expected) < 250
    got = records(connector.extract(STREAM["customer_invoices"], since=since))
    assert [r["ID"] for r in got] == [r["ID"] for r in expected]
    assert server.log.count(fault="modify_while_paging") > 3


def test_an_unknown_column_fails_with_a_message_naming_it(simpro_sandbox, connect: Connect):
    server = simpro_sandbox(ledger_size=SMALL, unknown_columns=frozenset({"AmountOwing"}))
    with pytest.raises(ApiError) as caught:
        list(connect(server).extract(STREAM["customer_companies"], since=None))
    assert caught.value.status_code == 422
    assert "Invalid columns found: AmountOwing" in str(caught.value)
    assert "older build may lack a column" in str(caught.value)


def test_the_only_company_of_a_build_is_found(simpro_sandbox, connect: Connect) -> None:
    server = simpro_sandbox(companies=("summit",), ledger_size=SMALL)
    connector = connect(server)
    assert "company 'summit' (ID 0)" in connector.check()
    assert server.log.count(path="/api/v1.0/companies/") == 1


def test_a_multi_company_build_needs_a_pinned_company(simpro_sandbox, connect: Connect) -> None:
    server = simpro_sandbox(companies=("summit", "harbour"), ledger_size=SMALL)
    with pytest.raises(ConfigurationError, match=r"2 companies \(0 \(summit\), 1 \(harbour\)\)"):
        list(connect(server).extract(STREAM["customer_invoices"], since=None))
    pinned = connect(server, company_id=1)
    got = records(pinned.extract(STREAM["customer_invoices"], since=None))
    invoices = server.app.ledger("harbour").invoices
    assert [ledger_id("invoice", r["ID"]) for r in got] == [i.invoice_id for i in invoices]
    assert "company 'harbour' (ID 1)" in pinned.check()
    assert "base currency" in pinned.check() and "Australia/Sydney" in pinned.check()


def test_oauth_client_credentials(simpro_sandbox, connect: Connect) -> None:
    server = simpro_sandbox(ledger_size=SMALL)
    oauth = {"api_key": None, "client_id": SIMPRO_CLIENT.client_id}
    connector = connect(server, client_secret=SIMPRO_CLIENT.client_secret, **oauth)
    for stream in STREAMS:
        list(connector.extract(stream, since=None))
    assert server.app.token_requests == 1
    refused = connect(server, client_secret="wrong", **oauth)
    with pytest.raises(AuthenticationError, match="invalid_client") as caught:
        refused.check()
    assert "wrong" not in str(caught.value)


def test_credentials_and_page_size_are_checked(connect: Connect) -> None:
    url = "https://settings.simprosuite.com"
    with pytest.raises(ConfigurationError, match="either an API key or an OAuth client"):
        connect(url, client_id="x", client_secret="y")
    with pytest.raises(ConfigurationError, match="either an API key"):
        connect(url, api_key=None)
    with pytest.raises(ConfigurationError, match="page_size must be between 1 and 250"):
        connect(url, page_size=251)


@pytest.mark.parametrize("in_flight", [0, 17])
def test_pages_in_flight_are_checked(connect: Connect, in_flight: int) -> None:
    with pytest.raises(ConfigurationError, match="max_concurrent_requests must be between 1 and"):
        connect("https://settings.simprosuite.com", max_concurrent_requests=in_flight)


@pytest.mark.parametrize("in_flight", [None, 3])
def test_max_concurrent_requests_pages_are_in_flight_at_once(in_flight: int | None) -> None:
    """After page 1, each page waits at a barrier until `expected` requests are being served
    together: fewer in flight would break the barrier and fail the listing; the peak shows that
    no more were."""
    expected = in_flight or CONCURRENT_REQUESTS
    pages = 1 + 2 * expected

    def page(request: httpx.Request) -> httpx.Response:
        """Two consecutive IDs a page, one on the last: no gap to read again by ID."""
        number = int(request.url.params["page"])
        rows = [{"ID": 2 * number - 1}, {"ID": 2 * number}][: 1 if number == pages else 2]
        return httpx.Response(200, json=rows, headers={"Result-Pages": str(pages)})

    probe = InFlightProbe(expected, page)
    chosen = {} if in_flight is None else {"max_concurrent_requests": in_flight}
    connector = SimproConnector(
        SimproSettings(
            connection_id="summit",
            build_url="https://in-flight.simprosuite.com",
            company_id=0,
            api_key=SIMPRO_API_KEY,
            page_size=2,
            requests_per_second=TEST_REQUESTS_PER_SECOND,
            **chosen,
        ),
        transport=httpx.MockTransport(probe),
    )
    try:
        got = records(connector.extract(STREAM["customer_invoices"], since=None))
    finally:
        connector.close()
    assert [r["ID"] for r in got] == list(range(1, 2 * pages))
    assert probe.peak == expected


def test_two_companies_on_one_build_share_ten_requests_a_second(
    simpro_sandbox, connect: Connect
) -> None:
    """Both connections at Simpro's real budget, extracting at once, against the build's real
    limit: never a 429."""
    server = simpro_sandbox(
        companies=("summit", "harbour"),
        ledger_size={"customers": 4, "invoices": 30, "payments": 15},
        rate_limit=10,
    )
    connectors = [
        connect(
            server,
            connection_id=name,
            company_id=server.app.company_id(name),
            page_size=5,
            requests_per_second=10,
        )
        for name in ("summit", "harbour")
    ]
    fetched: dict[str, int] = {}

    def sync(connector: SimproConnector) -> None:
        fetched[connector.connection_id] = sum(
            len(records(connector.extract(stream, since=None))) for stream in STREAMS
        )

    threads = [threading.Thread(target=sync, args=(c,)) for c in connectors]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()

    assert server.log.count(status=429) == 0
    requests = len(server.log.records(path_prefix="/api/"))
    assert requests > 20
    shared = shared_rate_limiter(f"simpro:{server.url}", max_requests=10, per_seconds=1.0)
    assert shared.started == requests
    assert set(fetched) == {"summit", "harbour"} and all(fetched.values())


def test_connections_to_one_build_must_share_one_budget(simpro_sandbox, connect: Connect):
    server = simpro_sandbox(ledger_size=SMALL)
    connect(server, requests_per_second=10)
    with pytest.raises(ConfigurationError, match="the same requests_per_second"):
        connect(server, requests_per_second=20)


def test_a_429_is_retried_after_its_retry_after(simpro_sandbox, connect: Connect) -> None:
    server = simpro_sandbox(ledger_size=SMALL, faults=FaultConfig(burst_429=2, retry_after_s=0.05))
    got = records(connect(server).extract(STREAM["customer_payments"], since=None))
    assert len(got) == len(server.app.ledger(server.app.config.companies[0]).payments)
    assert server.log.count(status=429) == 2


def test_key_listings_carry_ids_alone(simpro_sandbox, connect: Connect) -> None:
    server = simpro_sandbox(ledger_size={"customers": 6, "invoices": 260, "payments": 20})
    got = records(connect(server, page_size=10).extract_keys(STREAM["customer_invoices"]))
    assert [ledger_id("invoice", r["ID"]) for r in got] == list(range(1, 261))
    assert all(set(r) == {"ID"} for r in got)
    lists = server.log.records(path="/api/v1.0/companies/0/customerInvoices/")
    assert [r.query["pageSize"] for r in lists] == [["250"], ["250"], ["250"]]
    # The IDs between the two pages' (none now) are asked for again: a delete could have
    # moved a row there.
    assert lists[2].query["ID"] == [f"between({simpro_id('invoice', 250) + 1},2511)"]


def test_records_are_fetched_by_id_a_hundred_a_request(simpro_sandbox, connect: Connect) -> None:
    server = simpro_sandbox(ledger_size={"customers": 6, "invoices": 120, "payments": 20})
    connector = connect(server, page_size=10)
    stream = STREAM["customer_invoices"]
    everything = {str(r["ID"]): r for r in records(connector.extract(stream, since=None))}
    wanted = sorted(everything, key=int)[: IDS_PER_FILTER + 5]
    server.log.reset()

    got = records(connector.extract_by_ids(stream, [*wanted, "999999"]))

    assert sorted(got, key=lambda r: r["ID"]) == [everything[i] for i in wanted]
    lists = server.log.records(path="/api/v1.0/companies/0/customerInvoices/")
    assert [r.query["ID"][0].count(",") + 1 for r in lists] == [IDS_PER_FILTER, 6]
    with pytest.raises(PayloadError, match="not a whole number"):
        connector.extract_by_ids(stream, ["1),gt(0"])
