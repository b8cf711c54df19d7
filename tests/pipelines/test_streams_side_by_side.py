"""Streams side by side (`streams_side_by_side`, issue 16 item 2): a connection's independent
streams are extracted at the same time. The warehouse they leave is the one a sync of one
stream after another leaves; the loads never overlap; a failing stream stops the others and
the sync raises its error as one stream after another would; nothing outlives the sync."""

from __future__ import annotations

import signal
import threading
import time
from collections.abc import Callable, Iterator, Sequence
from contextlib import contextmanager
from datetime import datetime, timedelta
from pathlib import Path
from typing import Any

import duckdb
import pytest

from benchmarks.warehouse_diff import differences, snapshot
from connectors.errors import ConnectorError
from connectors.pagination import Page
from connectors.streams import Connector, Stream
from models.landing import LandingZone
from models.warehouse import Warehouse
from pipelines.config import ConnectionConfig
from pipelines.sources import open_connector
from pipelines.steps import rebuild_canonical
from pipelines.sync import StreamOutcome, sync_connection
from pipelines.sync_errors import StreamDeadlineError
from sandbox.business_central.testing import bc_connection
from sandbox.carbon.testing import carbon_connection
from sandbox.faults import FaultConfig
from sandbox.simpro.testing import simpro_connection
from sandbox.zoho_books.testing import zoho_connection
from tests.project import Project

SIZE = {"customers": 12, "invoices": 60, "payments": 40}
ZOHO = "/books/v3"
CONNECTIONS: dict[str, tuple[str, Callable[..., dict[str, Any]]]] = {
    "zoho_books": ("zoho_sandbox", zoho_connection),
    "simpro": ("simpro_sandbox", simpro_connection),
    "carbon": ("carbon_sandbox", carbon_connection),
    "business_central": ("bc_sandbox", bc_connection),
}


def _company(source: str) -> str:
    return f"side-{source.replace('_', '-')}"


def _sandbox(request: pytest.FixtureRequest, source: str, **config: object) -> Any:
    fixture, _ = CONNECTIONS[source]
    key = "organizations" if source == "zoho_books" else "companies"
    return request.getfixturevalue(fixture)(
        **{key: (_company(source),)}, ledger_size=SIZE, **config
    )


def _connected(
    make_project: Callable[..., Project], server: Any, source: str, name: str, **settings: object
) -> Project:
    _, connection = CONNECTIONS[source]
    return make_project([connection(server, _company(source), **settings)], name=name)


@contextmanager
def _connector(project: Project) -> Iterator[tuple[Connector, ConnectionConfig]]:
    [settings] = project.config.connections
    connector = open_connector(settings)
    try:
        yield connector, settings
    finally:
        connector.close()


def _sync(project: Project, **options: Any) -> list[StreamOutcome]:
    config = project.config
    with _connector(project) as (connector, _):
        return sync_connection(
            connector,
            warehouse=Warehouse(config.warehouse),
            landing=LandingZone(config.landing),
            **options,
        )


def _rebuilt(project: Project) -> dict[str, list[tuple[object, ...]]]:
    config = project.config
    rebuild_canonical(Warehouse(config.warehouse), config.connections)
    return snapshot(Path(config.warehouse))


def _sync_threads() -> list[threading.Thread]:
    return [t for t in threading.enumerate() if t.name.startswith("ledgersync-")]


@pytest.mark.parametrize("source", sorted(CONNECTIONS))
def test_side_by_side_and_one_by_one_leave_the_same_warehouse(
    request: pytest.FixtureRequest, make_project: Callable[..., Project], source: str
) -> None:
    server = _sandbox(request, source)
    side = _connected(make_project, server, source, "side")
    one = _connected(make_project, server, source, "one", streams_side_by_side=False)

    for _ in range(2):  # a first sync, then an incremental one
        side_outcomes = _sync(side, streams_side_by_side=True)
        one_outcomes = _sync(one, streams_side_by_side=False)
        assert [o.stream for o in side_outcomes] == [o.stream for o in one_outcomes]
        assert [(o.records, o.inserted, o.updated) for o in side_outcomes] == [
            (o.records, o.inserted, o.updated) for o in one_outcomes
        ]

    assert differences(_rebuilt(one), _rebuilt(side)) == []
    assert _sync_threads() == []


def test_the_streams_have_requests_in_flight_at_once(
    request: pytest.FixtureRequest, make_project: Callable[..., Project]
) -> None:
    """Each response is 50 ms late: two requests of different streams that arrive within 50 ms
    of each other were in flight together. One stream after another, none are (a stream's
    first request follows the previous stream's last response)."""
    latency = 0.05
    server = _sandbox(request, "zoho_books")
    server.faults = FaultConfig(latency_s=latency)

    def overlapping() -> set[frozenset[str]]:
        lists = ("/contacts", "/invoices", "/customerpayments")
        served = server.log.records(where=lambda r: r.path.removeprefix(ZOHO) in lists)
        return {
            frozenset({a.path, b.path})
            for i, a in enumerate(served)
            for b in served[i + 1 :]
            if a.path != b.path and abs(a.at - b.at) < latency
        }

    one = _connected(make_project, server, "zoho_books", "one", page_size=10)
    _sync(one, streams_side_by_side=False)
    assert overlapping() == set()

    server.log.reset()
    side = _connected(make_project, server, "zoho_books", "side", page_size=10)
    _sync(side, streams_side_by_side=True)
    assert frozenset({f"{ZOHO}/invoices", f"{ZOHO}/customerpayments"}) in overlapping()


def test_loads_never_overlap(
    request: pytest.FixtureRequest,
    make_project: Callable[..., Project],
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    """Every warehouse write of the sync (positions, loads, derived records) holds the one
    connection open at a time; the streams meanwhile extract."""
    server = _sandbox(request, "simpro")
    server.faults = FaultConfig(latency_s=0.02)
    open_now, most, writes = 0, 0, 0
    lock = threading.Lock()
    connect = Warehouse.connect

    @contextmanager
    def counted(self: Warehouse, **kwargs: Any) -> Iterator[duckdb.DuckDBPyConnection]:
        nonlocal open_now, most, writes
        with lock:
            open_now, writes = open_now + 1, writes + 1
            most = max(most, open_now)
        try:
            with connect(self, **kwargs) as conn:
                yield conn
        finally:
            with lock:
                open_now -= 1

    monkeypatch.setattr(Warehouse, "connect", counted)
    outcomes = _sync(_connected(make_project, server, "simpro", "side"))

    assert len(outcomes) == 5 and all(o.records for o in outcomes)
    assert writes >= 2 * len(outcomes)  # each stream's position and its load at least
    assert most == 1


def _failing_invoices(connector: Connector) -> None:
    """Invoices fail (the sandbox answers them with errors); payments wait after their first
    page until invoices have failed, so the failure meets them halfway."""
    extract = connector.extract
    failed = threading.Event()

    def extract_(
        stream: Stream, *, since: datetime | None, parent_ids: Sequence[str] = ()
    ) -> Iterator[Page]:
        pages = extract(stream, since=since, parent_ids=parent_ids)
        if stream.name == "invoices":
            try:
                yield from pages
            except ConnectorError:
                failed.set()
                raise
            return
        for number, page in enumerate(pages, start=1):
            if stream.name == "customerpayments" and number == 2:
                assert failed.wait(30)
                time.sleep(0.5)  # time for the sync to stop the stream at its next page
            yield page

    connector.extract = extract_  # type: ignore[method-assign]


def _failure(project: Project, *, side_by_side: bool) -> BaseException:
    config = project.config
    with _connector(project) as (connector, _):
        _failing_invoices(connector)
        with pytest.raises(ConnectorError) as raised:
            sync_connection(
                connector,
                warehouse=Warehouse(config.warehouse),
                landing=LandingZone(config.landing),
                streams_side_by_side=side_by_side,
            )
    return raised.value


def test_a_failing_stream_stops_the_others_and_its_error_is_raised(
    request: pytest.FixtureRequest, make_project: Callable[..., Project]
) -> None:
    server = _sandbox(request, "zoho_books")
    settings = {"max_attempts": 1, "page_size": 5}
    one = _connected(make_project, server, "zoho_books", "one", **settings)
    side = _connected(make_project, server, "zoho_books", "side", **settings)

    server.faults = FaultConfig(error_rate=1.0, paths=(f"{ZOHO}/invoices",))
    one_by_one = _failure(one, side_by_side=False)
    server.faults = FaultConfig(error_rate=1.0, paths=(f"{ZOHO}/invoices",))
    side_by_side = _failure(side, side_by_side=True)

    assert type(side_by_side) is type(one_by_one)
    assert str(side_by_side) == str(one_by_one)
    assert "stream invoices" in str(side_by_side)
    # Payments stopped halfway: nothing of theirs loaded, no cursor, nothing left landed.
    assert side.query("SELECT count(*) FROM raw.zoho_books__customerpayments") == [(0,)]
    assert ("customerpayments",) not in side.query("SELECT stream FROM sync.cursors")
    landing = LandingZone(side.config.landing)
    assert landing.ready_batches(_company("zoho_books"), "customerpayments") == []
    pages_asked = server.log.count(path=f"{ZOHO}/customerpayments")
    assert pages_asked < len(server.app.ledger(_company("zoho_books")).payments) // 5
    assert _sync_threads() == []

    # What the failure left behind does not stand in the way: the next sync completes.
    server.faults = FaultConfig()
    assert all(o.records for o in _sync(side)[:3])


def test_a_stream_past_its_deadline_stops_the_sync_side_by_side(
    request: pytest.FixtureRequest, make_project: Callable[..., Project]
) -> None:
    """Each invoice page takes a second: the second one comes past the deadline, while the
    other streams (two pages at most, at once) are long done."""
    server = _sandbox(request, "zoho_books")
    server.faults = FaultConfig(latency_s=1.0, paths=(f"{ZOHO}/invoices",))
    side = _connected(make_project, server, "zoho_books", "side", page_size=20)

    with pytest.raises(StreamDeadlineError) as raised:
        _sync(side, stream_deadline=timedelta(seconds=1.5))

    assert "stream invoices: the stream's sync passed its deadline of 1.5 s" in str(raised.value)
    [(invoices,)] = side.query("SELECT count(*) FROM raw.zoho_books__invoices")
    assert 20 <= invoices < SIZE["invoices"]
    assert f"the {invoices} records fetched before it are loaded" in str(raised.value)
    assert ("invoices",) not in side.query("SELECT stream FROM sync.cursors")
    assert _sync_threads() == []


def test_an_interrupt_stops_every_stream_and_leaves_no_thread(
    request: pytest.FixtureRequest, make_project: Callable[..., Project]
) -> None:
    """Ctrl-C while the streams page: the interrupt propagates once every stream has stopped,
    nothing half-landed stays, and the next sync completes."""
    server = _sandbox(request, "zoho_books")
    server.faults = FaultConfig(latency_s=0.02)
    side = _connected(make_project, server, "zoho_books", "side", page_size=5)
    interrupted: list[str] = []

    def interrupt_on_a_later_page(phase: str, stream: str) -> None:
        pages = server.log.count(path=f"{ZOHO}/invoices")
        if phase == "extract" and pages >= 3 and not interrupted:
            interrupted.append(stream)
            signal.pthread_kill(threading.main_thread().ident or 0, signal.SIGINT)

    with pytest.raises(KeyboardInterrupt):
        _sync(side, on_phase=interrupt_on_a_later_page)

    assert interrupted and _sync_threads() == []
    assert side.query("SELECT count(*) FROM raw.zoho_books__invoices") == [(0,)]
    landing = LandingZone(side.config.landing)
    assert landing.ready_batches(_company("zoho_books"), "invoices") == []
    assert [o.stream for o in _sync(side)] == [
        "contacts",
        "invoices",
        "customerpayments",
        "customerpayment_details",
    ]
