"""The source-neutral sandbox framework: routing, logging, faults, quotas, JSON text."""

from __future__ import annotations

import json
from collections.abc import Iterator
from decimal import Decimal

import httpx
import pytest

from sandbox import jsonbody
from sandbox.faults import FaultConfig
from sandbox.ratewindow import DAY_S, RateWindow, daily_cap
from sandbox.routing import App, Request, Response, retry_after_value
from sandbox.server import SandboxServer


class ToyApp(App):
    """A minimal source: a few data routes and one auth route."""

    def __init__(self) -> None:
        super().__init__()
        add = self.router.add
        add("GET", "/items", self._items)
        add("GET", "/items/{item_id}", self._echo)
        add("GET", "/companies({company_id})/customers", self._echo)
        add("POST", "/token", self._echo, data=False)
        add("GET", "/paging", self._paging)
        add("GET", "/boom", self._boom)

    def account_of(self, request: Request) -> str | None:
        return request.header("X-Account")

    def not_found(self, request: Request) -> Response:
        return Response.json({"missing": request.path}, status=404)

    def _items(self, request: Request) -> Response:
        return Response.json({"items": [{"id": 1, "amount": Decimal("16.30")}]})

    def _echo(self, request: Request) -> Response:
        return Response.json(
            {
                "params": request.path_params,
                "query": request.query,
                "form": request.form,
                "account": request.account,
            }
        )

    def _paging(self, request: Request) -> Response:
        applied = []
        if request.faults.duplicate_rows:
            applied.append("duplicate_rows")
        if request.faults.modify_while_paging:
            applied.append("modify_while_paging")
        request.applied_faults.extend(applied)
        return Response.json({"applied": applied})

    def _boom(self, request: Request) -> Response:
        raise RuntimeError("handler bug")


@pytest.fixture
def server() -> Iterator[SandboxServer[ToyApp]]:
    with SandboxServer(ToyApp()) as running:
        yield running


@pytest.fixture
def client(server: SandboxServer[ToyApp]) -> Iterator[httpx.Client]:
    with httpx.Client(base_url=server.url, timeout=5) as http:
        yield http


class FakeClock:
    def __init__(self) -> None:
        self.now = 1000.0

    def __call__(self) -> float:
        return self.now


# -- routing and requests ------------------------------------------------------------------


def test_path_params_query_multidict_form_and_account(client: httpx.Client) -> None:
    got = client.get("/items/a%2Fb", params={"x": ["1", "2"], "y": ""}).json()
    assert got["params"] == {"item_id": "a/b"}
    assert got["query"] == {"x": ["1", "2"], "y": [""]}

    got = client.get("/companies(c-42)/customers", headers={"X-Account": "acme"}).json()
    assert got["params"] == {"company_id": "c-42"}
    assert got["account"] == "acme"

    got = client.post("/token", data={"grant_type": "refresh_token", "scope": ["a", "b"]}).json()
    assert got["form"] == {"grant_type": ["refresh_token"], "scope": ["a", "b"]}


def test_unknown_route_and_wrong_method_use_the_apps_not_found(client: httpx.Client) -> None:
    for response in (client.get("/nope"), client.delete("/items"), client.get("/items/")):
        assert response.status_code == 404
        assert "missing" in response.json()


def test_handler_exception_becomes_the_apps_500(
    client: httpx.Client, capsys: pytest.CaptureFixture[str]
) -> None:
    response = client.get("/boom")
    assert response.status_code == 500
    assert response.json() == {"error": "Internal Server Error"}
    assert "handler bug" in capsys.readouterr().err


def test_decimal_money_is_written_with_its_exact_digits(client: httpx.Client) -> None:
    response = client.get("/items")
    assert response.text == '{"items":[{"id":1,"amount":16.30}]}'
    assert response.headers["content-type"] == "application/json;charset=UTF-8"
    assert response.json(parse_float=Decimal)["items"][0]["amount"] == Decimal("16.30")


def test_jsonbody_dumps() -> None:
    payload = {
        "a": Decimal("0.10"),
        "b": Decimal("-12345678901234567890.123456789"),
        "c": Decimal("1E+3"),
        "d": [1, 2.5, True, None, 'é"x'],
        "e": (),
    }
    text = jsonbody.dumps(payload).decode()
    assert text == (
        '{"a":0.10,"b":-12345678901234567890.123456789,"c":1000,'
        '"d":[1,2.5,true,null,"é\\"x"],"e":[]}'
    )
    assert json.loads(text)["d"][4] == 'é"x'
    with pytest.raises(ValueError):
        jsonbody.dumps({"x": Decimal("NaN")})
    with pytest.raises(TypeError):
        jsonbody.dumps({1: "x"})
    with pytest.raises(TypeError):
        jsonbody.dumps(object())


# -- server lifecycle and connections --------------------------------------------------------


def test_connections_are_kept_alive(server: SandboxServer[ToyApp]) -> None:
    with httpx.Client(base_url=server.url) as first, httpx.Client(base_url=server.url) as second:
        for _ in range(3):
            first.get("/items")
        second.get("/items")
    connections = [r.connection for r in server.log.records()]
    assert connections[:3] == [connections[0]] * 3
    assert connections[3] != connections[0]


def test_start_stop_restart_and_context_manager() -> None:
    server = SandboxServer(ToyApp())
    with pytest.raises(RuntimeError):
        _ = server.url
    for _ in range(3):
        server.start()
        with pytest.raises(RuntimeError):
            server.start()
        idle = httpx.Client(base_url=server.url)  # left open: stop() must not wait for it
        assert idle.get("/items").status_code == 200
        url = server.url
        server.stop()
        server.stop()  # idempotent
        with pytest.raises(httpx.TransportError):
            httpx.get(f"{url}/items", timeout=2)
        idle.close()
    with SandboxServer(ToyApp()) as running:
        assert running.url.startswith("http://127.0.0.1:")


def test_stop_interrupts_a_delayed_response() -> None:
    server = SandboxServer(ToyApp(), faults=FaultConfig(latency_s=60)).start()
    with httpx.Client(base_url=server.url, timeout=0.2) as http:
        with pytest.raises(httpx.ReadTimeout):
            http.get("/items")
    server.stop()  # returns without waiting out the 60 s


# -- request log ------------------------------------------------------------------------------


def test_request_log_records_filters_counts_and_resets(
    server: SandboxServer[ToyApp], client: httpx.Client
) -> None:
    client.get("/items", headers={"X-Account": "a"})
    client.get("/items/7", params={"q": "1"}, headers={"X-Account": "b"})
    client.post("/token")
    client.get("/nope")
    log = server.log
    assert len(log) == 4
    assert [r.path for r in log.records()] == ["/items", "/items/7", "/token", "/nope"]
    assert log.count(method="GET") == 3
    assert log.count(path_prefix="/items") == 2
    assert log.count(status=404) == 1
    assert log.count(account="b") == 1
    (record,) = log.records(path="/items/7")
    assert (record.method, record.query, record.status, record.account) == (
        "GET",
        {"q": ["1"]},
        200,
        "b",
    )
    assert log.count(where=lambda r: r.account is None) == 2
    log.reset()
    assert len(log) == 0 and log.count() == 0


# -- faults -------------------------------------------------------------------------------------


def test_error_rate_answers_5xx_on_data_routes_only(
    server: SandboxServer[ToyApp], client: httpx.Client
) -> None:
    server.faults = FaultConfig(error_rate=1.0, seed=3)
    statuses = {client.get("/items").status_code for _ in range(20)}
    assert statuses <= {500, 502, 503} and len(statuses) > 1
    assert client.post("/token").status_code == 200
    faulted = server.log.records(where=lambda r: bool(r.faults))
    assert [r.faults[0] for r in faulted] == [f"error_{r.status}" for r in faulted]
    assert len(faulted) == 20

    server.faults = FaultConfig(error_rate=1.0, include_auth=True)
    assert client.post("/token").status_code in (500, 502, 503)


def test_faults_are_deterministic_for_a_seed() -> None:
    def statuses(seed: int) -> list[int]:
        with SandboxServer(ToyApp(), faults=FaultConfig(error_rate=0.5, seed=seed)) as srv:
            with httpx.Client(base_url=srv.url) as http:
                return [http.get("/items").status_code for _ in range(30)]

    first = statuses(11)
    assert first == statuses(11)
    assert 200 in first and set(first) - {200}
    assert first != statuses(12)


def test_burst_429_with_and_without_retry_after(
    server: SandboxServer[ToyApp], client: httpx.Client
) -> None:
    server.faults = FaultConfig(burst_429=2, retry_after_s=0.25)
    first, second, third = (client.get("/items") for _ in range(3))
    assert (first.status_code, second.status_code, third.status_code) == (429, 429, 200)
    assert first.headers["Retry-After"] == "1"
    assert first.json() == {"error": "Too Many Requests"}
    assert server.log.count(fault="burst_429") == 2

    server.faults = FaultConfig(burst_429=1, retry_after_s=None)  # a new config restarts the burst
    assert client.post("/token").status_code == 200  # auth routes do not use up the burst
    throttled = client.get("/items")
    assert throttled.status_code == 429 and "Retry-After" not in throttled.headers
    assert client.get("/items").status_code == 200


def test_truncated_body_has_matching_content_length(
    server: SandboxServer[ToyApp], client: httpx.Client
) -> None:
    whole = client.get("/items").content
    server.faults = FaultConfig(truncate_rate=1.0)
    cut = client.get("/items")
    assert cut.status_code == 200
    assert cut.content == whole[: len(whole) // 2]
    assert int(cut.headers["content-length"]) == len(cut.content)
    with pytest.raises(json.JSONDecodeError):
        cut.json()
    assert client.get("/nope").status_code == 404  # errors are not truncated; connection still fine
    assert server.log.count(fault="truncate") == 1


def test_slow_responses_outlast_a_client_timeout(server: SandboxServer[ToyApp]) -> None:
    server.faults = FaultConfig(slow_rate=1.0, slow_s=30)
    with httpx.Client(base_url=server.url, timeout=0.2) as http:
        with pytest.raises(httpx.ReadTimeout):
            http.get("/items")
        assert http.post("/token").status_code == 200  # not eligible: answered at once
    assert server.log.count(fault="slow") == 1


def test_slow_body_sends_headers_then_one_byte_at_a_time(server: SandboxServer[ToyApp]) -> None:
    server.faults = FaultConfig(slow_body_rate=1.0, slow_body_byte_s=0.01)
    with httpx.Client(base_url=server.url, timeout=5) as http:
        with http.stream("GET", "/items") as response:
            assert response.status_code == 200
            chunks = list(response.iter_raw())
    assert b"".join(chunks) == b'{"items":[{"id":1,"amount":16.30}]}'
    assert max(len(chunk) for chunk in chunks) == 1
    assert server.log.count(fault="slow_body") == 1


def test_paging_knobs_reach_the_app_and_the_log(
    server: SandboxServer[ToyApp], client: httpx.Client
) -> None:
    assert client.get("/paging").json() == {"applied": []}
    server.faults = FaultConfig(duplicate_rows_rate=1.0, modify_while_paging=1.0)
    assert client.get("/paging").json() == {"applied": ["duplicate_rows", "modify_while_paging"]}
    assert server.log.count(fault="duplicate_rows") == 1
    assert server.log.count(fault="modify_while_paging") == 1


def test_fault_config_validates() -> None:
    with pytest.raises(ValueError):
        FaultConfig(error_rate=1.5)
    with pytest.raises(ValueError):
        FaultConfig(latency_s=-1)
    with pytest.raises(ValueError):
        FaultConfig(retry_after_s=-0.1)


def test_retry_after_value() -> None:
    assert retry_after_value(2) == "2"
    assert retry_after_value(2.0) == "2"
    assert retry_after_value(0.25) == "1"  # delay-seconds are whole: rounded up
    assert retry_after_value(1.5004) == "2"
    assert retry_after_value(3.0000000001) == "3"  # float noise is not a second more
    assert retry_after_value(0) == "0"


# -- quotas ---------------------------------------------------------------------------------------


def test_fixed_window_counts_per_key_and_starts_over() -> None:
    clock = FakeClock()
    window = RateWindow(2, 10.0, clock=clock)
    assert window.hit("a").remaining == 1
    clock.now += 4
    assert window.hit("a").allowed
    blocked = window.hit("a")
    assert (blocked.allowed, blocked.remaining, blocked.reset_s) == (False, 0, 6.0)
    assert window.hit("b").allowed  # keys are independent
    clock.now += 6
    assert window.peek("a").allowed and window.peek("a").remaining == 2
    assert window.hit("a").remaining == 1


def test_sliding_window_frees_slots_one_by_one() -> None:
    clock = FakeClock()
    window = RateWindow(2, 10.0, sliding=True, clock=clock)
    window.hit("k")
    clock.now += 4
    window.hit("k")
    blocked = window.hit("k")
    assert not blocked.allowed and blocked.reset_s == 6.0
    clock.now += 6  # the first hit expires, the second is still in the window
    assert window.hit("k").allowed
    assert not window.hit("k").allowed
    window.reset()
    assert window.peek("k").remaining == 2


def test_rejected_and_peeked_requests_are_not_counted() -> None:
    window = RateWindow(1, 10.0, clock=FakeClock())
    window.peek("k")
    assert window.hit("k").allowed
    for _ in range(3):
        assert not window.hit("k").allowed
    assert window.peek("k").remaining == 0


def test_daily_cap() -> None:
    clock = FakeClock()
    cap = daily_cap(3, clock=clock)
    assert [cap.hit("org").allowed for _ in range(4)] == [True, True, True, False]
    clock.now += 3600
    assert cap.peek("org").reset_s == DAY_S - 3600
    clock.now += DAY_S
    assert cap.hit("org").allowed
