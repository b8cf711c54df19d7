from __future__ import annotations

import random
import threading
from collections.abc import Callable, Iterable
from datetime import UTC, datetime
from email.utils import format_datetime
from typing import Any

import httpx
import pytest

from connectors.auth import StaticTokenAuth
from connectors.errors import (
    ApiError,
    AuthenticationError,
    ConfigurationError,
    NotFoundError,
    PayloadError,
    RateLimitedError,
    ServerError,
    TransportError,
)
from connectors.http import ApiClient, RetryPolicy, retry_after_seconds
from connectors.ratelimit import RateLimiter

MakeClient = Callable[..., ApiClient]


class Script:
    """A fake API answering from a script: each item is a response, an exception to raise, or
    a callable of the request. The last item repeats forever."""

    def __init__(self, *answers: httpx.Response | Exception | Callable[..., httpx.Response]):
        self.answers = list(answers)
        self.requests: list[httpx.Request] = []

    def __call__(self, request: httpx.Request) -> httpx.Response:
        self.requests.append(request)
        answer = self.answers.pop(0) if len(self.answers) > 1 else self.answers[0]
        if isinstance(answer, Exception):
            raise answer
        if isinstance(answer, httpx.Response):
            return answer
        return answer(request)


def ok(body: Any = None) -> httpx.Response:
    return httpx.Response(200, json={"ok": True} if body is None else body)


# -- URLs -------------------------------------------------------------------------------------


@pytest.mark.parametrize("base_url", ["not a url", "ftp://host/api", "/relative/path", ""])
def test_bad_base_url_is_a_configuration_error(make_client: MakeClient, base_url: str) -> None:
    with pytest.raises(ConfigurationError, match="base URL"):
        make_client(Script(ok()), base_url=base_url)


def test_paths_join_the_base_url_with_default_params(make_client: MakeClient) -> None:
    api = Script(ok())
    client = make_client(api, default_params={"organization_id": "123"})
    client.get_json("/invoices", params={"page": 2})
    client.get_json("contacts")
    assert [str(r.url) for r in api.requests] == [
        "https://api.test/books/v3/invoices?organization_id=123&page=2",
        "https://api.test/books/v3/contacts?organization_id=123",
    ]
    assert api.requests[0].headers["Accept"] == "application/json"


def test_absolute_url_on_the_base_host_is_sent_verbatim(make_client: MakeClient) -> None:
    api = Script(ok())
    client = make_client(api, default_params={"organization_id": "123"})
    link = "https://api.test/books/v3/companies(1)/customers?$skiptoken='a%2Fb+c'&aid=FIN"
    client.get_json(link)
    assert str(api.requests[0].url) == link


@pytest.mark.parametrize(
    "link",
    [
        "https://evil.test/books/v3/invoices",
        "http://api.test/books/v3/invoices",  # scheme downgrade
        "https://api.test:8443/books/v3/invoices",
        "https://api.test.evil.test/books/v3/invoices",
    ],
)
def test_absolute_url_on_another_host_is_refused(make_client: MakeClient, link: str) -> None:
    api = Script(ok())
    client = make_client(api, auth=StaticTokenAuth("s3cret-token"))
    with pytest.raises(ConfigurationError, match="refusing to send credentials") as caught:
        client.get_json(link, stream="invoices")
    assert api.requests == []
    assert caught.value.stream == "invoices"


# -- retries ------------------------------------------------------------------------------------


def test_5xx_is_retried_with_jittered_exponential_backoff(
    make_client: MakeClient, sleeps: list[float]
) -> None:
    api = Script(
        httpx.Response(500), httpx.Response(502), httpx.Response(503), httpx.Response(504), ok()
    )
    client = make_client(api, retry=RetryPolicy(rng=random.Random(1)))
    body, response = client.get_json("invoices")
    assert body == {"ok": True} and response.status_code == 200
    assert client.request_count == 5
    assert len(sleeps) == 4
    for attempt, slept in enumerate(sleeps, start=1):
        assert 0 <= slept <= 0.5 * 2 ** (attempt - 1)
    expected = random.Random(1)
    assert sleeps == [expected.uniform(0, 0.5 * 2**n) for n in range(4)]


def test_backoff_is_capped() -> None:
    policy = RetryPolicy(backoff_initial_s=1, backoff_max_s=30, rng=random.Random(3))
    assert all(policy.backoff(attempt) <= 30 for attempt in range(1, 200))


def test_429_with_retry_after_seconds_waits_as_asked(
    make_client: MakeClient, sleeps: list[float]
) -> None:
    api = Script(httpx.Response(429, headers={"Retry-After": "7"}), ok())
    make_client(api).get_json("invoices")
    assert sleeps == [7.0]


def test_retry_after_http_date() -> None:
    now = datetime(2026, 8, 30, 12, 0, 0, tzinfo=UTC)
    in_90_s = format_datetime(datetime(2026, 8, 30, 12, 1, 30, tzinfo=UTC), usegmt=True)
    assert in_90_s == "Sun, 30 Aug 2026 12:01:30 GMT"
    assert retry_after_seconds(in_90_s, now=now) == 90
    assert retry_after_seconds("Sun, 30 Aug 2026 11:00:00 GMT", now=now) == 0
    assert retry_after_seconds("120", now=now) == 120
    assert retry_after_seconds("1.5") == 1.5
    assert retry_after_seconds("soon") is None
    assert retry_after_seconds(None) is None


def test_503_with_a_retry_after_date_is_honoured(
    make_client: MakeClient, sleeps: list[float]
) -> None:
    past = "Wed, 21 Oct 2015 07:28:00 GMT"
    api = Script(httpx.Response(503, headers={"Retry-After": past}), ok())
    make_client(api).get_json("invoices")
    assert sleeps == [0.0]


def test_too_long_retry_after_fails_at_once(make_client: MakeClient, sleeps: list[float]) -> None:
    body = {"code": 45, "message": "You have reached the maximum number of API calls for the day."}
    api = Script(httpx.Response(429, headers={"Retry-After": "3600"}, json=body))
    client = make_client(api)
    with pytest.raises(RateLimitedError) as caught:
        client.get_json("invoices", stream="invoices")
    assert client.request_count == 1 and sleeps == []
    message = str(caught.value)
    assert "asked to wait 3600 s (Retry-After: 3600)" in message
    assert "maximum number of API calls for the day" in message
    assert "rerun after 3600 s" in message


def test_retry_after_pauses_the_shared_rate_limiter(
    make_client: MakeClient, sleeps: list[float], clock: Any
) -> None:
    limiter = RateLimiter(max_requests=100, per_seconds=1.0, clock=clock, sleep=clock.sleep)
    other_client = make_client(Script(ok()), rate_limiter=limiter)
    api = Script(httpx.Response(429, headers={"Retry-After": "12"}), ok())
    client = make_client(api, rate_limiter=limiter)
    client.get_json("invoices")
    assert sleeps == []  # the wait happened in the limiter, for every sharer
    assert clock.sleeps == [pytest.approx(12)]
    paused_at = clock()
    limiter.pause_until(clock() + 5)
    other_client.get_json("contacts")
    assert clock() - paused_at == pytest.approx(5)
    assert limiter.started == 3


def test_5xx_beyond_the_budget_names_the_attempts(
    make_client: MakeClient, sleeps: list[float]
) -> None:
    api = Script(httpx.Response(503, json={"code": 1000, "message": "Internal error"}))
    client = make_client(api, default_params={"organization_id": "123"})
    with pytest.raises(ServerError) as caught:
        client.get_json("invoices", params={"page": 3}, stream="invoices")
    assert client.request_count == 6 and len(sleeps) == 5
    assert str(caught.value) == (
        "zoho_books connection 'acme-us', stream invoices: GET "
        "https://api.test/books/v3/invoices?organization_id=123&page=3 answered 503: "
        "Internal error (gave up after 6 attempts). "
        'Body: {"code":1000,"message":"Internal error"}. '
        "Fix: the source is failing or overloaded: rerun later"
    )


def test_429_beyond_the_budget(make_client: MakeClient) -> None:
    client = make_client(Script(httpx.Response(429)), retry=RetryPolicy(max_attempts=3))
    with pytest.raises(RateLimitedError, match="gave up after 3 attempts"):
        client.get_json("invoices")
    assert client.request_count == 3


@pytest.mark.parametrize(
    "failure",
    [
        httpx.ConnectError("connection refused"),
        httpx.ReadTimeout("timed out"),
        httpx.ConnectTimeout("timed out"),
        httpx.RemoteProtocolError("peer closed connection without sending complete message body"),
        httpx.ReadError("connection reset"),
    ],
)
def test_transport_errors_are_retried(make_client: MakeClient, failure: Exception) -> None:
    client = make_client(Script(failure, failure, ok()))
    body, _ = client.get_json("invoices")
    assert body == {"ok": True} and client.request_count == 3


def test_transport_errors_beyond_the_budget(make_client: MakeClient) -> None:
    client = make_client(Script(httpx.ReadTimeout("timed out")))
    with pytest.raises(TransportError) as caught:
        client.get_json("invoices", stream="invoices")
    assert str(caught.value).startswith(
        "zoho_books connection 'acme-us', stream invoices: GET https://api.test/books/v3/invoices"
        ": ReadTimeout: timed out (gave up after 6 attempts). Fix: check network access to api.test"
    )
    assert isinstance(caught.value.__cause__, httpx.ReadTimeout)


def test_a_truncated_json_body_is_retried(make_client: MakeClient) -> None:
    client = make_client(Script(httpx.Response(200, content=b'{"invoices": [{"id"'), ok()))
    body, _ = client.get_json("invoices")
    assert body == {"ok": True} and client.request_count == 2


def test_invalid_json_beyond_the_budget_is_a_payload_error(make_client: MakeClient) -> None:
    client = make_client(Script(httpx.Response(200, content=b"<html>maintenance</html>")))
    with pytest.raises(PayloadError, match="not valid JSON.*gave up after 6.*<html>maintenance"):
        client.get_json("invoices")


def test_request_does_not_parse_the_body(make_client: MakeClient) -> None:
    client = make_client(Script(httpx.Response(200, content=b"not json")))
    assert client.request("GET", "export.csv").content == b"not json"
    assert client.request_count == 1


# -- status mapping -----------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("status", "cls", "hint_part"),
    [
        (401, AuthenticationError, "credential environment variable"),
        (403, AuthenticationError, "lacks permission"),
        (404, NotFoundError, "check the base URL (https://api.test/books/v3)"),
        (400, ApiError, "filters and parameters"),
        (422, ApiError, "filters and parameters"),
        (413, ApiError, "lower this stream's page size"),
        (501, ServerError, "rerun later"),
    ],
)
def test_non_retriable_statuses_fail_at_once(
    make_client: MakeClient, status: int, cls: type[ApiError], hint_part: str
) -> None:
    client = make_client(Script(httpx.Response(status, json={"message": "nope"})))
    with pytest.raises(cls) as caught:
        client.get_json("invoices")
    assert type(caught.value) is cls
    assert caught.value.status_code == status
    assert caught.value.hint and hint_part in caught.value.hint
    assert f"answered {status}: nope" in str(caught.value)
    assert client.request_count == 1


def test_redirects_are_not_followed(make_client: MakeClient) -> None:
    api = Script(httpx.Response(301, headers={"Location": "https://api.test/books/v4/invoices"}))
    with pytest.raises(ApiError, match="redirects to https://api.test/books/v4/invoices"):
        make_client(api).get_json("invoices")
    assert len(api.requests) == 1


@pytest.mark.parametrize(
    ("body", "message"),
    [
        ({"code": 1002, "message": "Invoice does not exist."}, "Invoice does not exist"),
        (
            {"error": {"code": "BadRequest_NotFound", "message": "The resource was not found."}},
            "The resource was not found",
        ),
        ({"code": "PGRST205", "message": "Could not find the table", "hint": None}, "Could not"),
        ({"errors": [{"path": "columns", "message": "Invalid columns found"}]}, "Invalid columns"),
        ({"error": "invalid_request", "error_description": "Bad filter"}, "Bad filter"),
        ({"error": "invalid_request"}, "invalid_request"),
        ([1, 2], "Not Found"),
    ],
)
def test_the_sources_own_message_is_sniffed(
    make_client: MakeClient, body: Any, message: str
) -> None:
    client = make_client(Script(httpx.Response(404, json=body)))
    with pytest.raises(NotFoundError, match=f"answered 404: {message}"):
        client.get_json("invoices")


def test_a_custom_error_message_extractor_wins(make_client: MakeClient) -> None:
    def zoho_message(response: httpx.Response) -> str:
        return f"Zoho code {response.json()['code']}"

    client = make_client(
        Script(httpx.Response(400, json={"code": 57, "message": "x"})), error_message=zoho_message
    )
    with pytest.raises(ApiError, match="answered 400: Zoho code 57"):
        client.get_json("invoices")


# -- redaction ----------------------------------------------------------------------------------

TOKEN = "crbn_s3cretkeyvalue"


def error_texts(error: BaseException) -> Iterable[str]:
    yield str(error)
    yield repr(error)
    yield from (str(value) for value in vars(error).values())


def test_no_secret_reaches_an_error(make_client: MakeClient) -> None:
    echo = {"message": f"bad key {TOKEN}", "detail": "x" * 250 + TOKEN}
    api = Script(httpx.Response(401, json=echo))
    client = make_client(
        api, auth=StaticTokenAuth(TOKEN), default_params={"api_key": "k3y-in-query"}
    )
    with pytest.raises(AuthenticationError) as caught:
        client.get_json("items", params={"order": "id.asc"})
    assert api.requests[0].headers["Authorization"] == f"Bearer {TOKEN}"
    for text in error_texts(caught.value):
        assert TOKEN not in text and "k3y-in-query" not in text
    assert "api_key=REDACTED" in str(caught.value)
    assert "bad key REDACTED" in str(caught.value)


def test_no_secret_in_transport_errors(make_client: MakeClient) -> None:
    api = Script(httpx.ConnectError(f"failed for {TOKEN}"))
    client = make_client(api, auth=StaticTokenAuth(TOKEN), retry=RetryPolicy(max_attempts=2))
    with pytest.raises(TransportError) as caught:
        client.get_json(f"items?token={TOKEN}")
    for text in error_texts(caught.value):
        assert TOKEN not in text


def test_redact_url(make_client: MakeClient) -> None:
    client = make_client(Script(ok()), auth=StaticTokenAuth(TOKEN))
    assert client.redact_url(f"https://api.test/x?a=1&sig=abc&q={TOKEN}") == (
        "https://api.test/x?a=1&sig=REDACTED&q=REDACTED"
    )


# -- client plumbing ----------------------------------------------------------------------------


def test_request_count_is_exact_under_threads(make_client: MakeClient) -> None:
    client = make_client(Script(ok()))

    def worker() -> None:
        for _ in range(25):
            client.get_json("invoices")

    threads = [threading.Thread(target=worker) for _ in range(8)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert client.request_count == 200


def test_context_manager_closes_the_http_client() -> None:
    with ApiClient(
        source="carbon",
        connection_id="c1",
        base_url="https://api.test/rest/v1",
        transport=httpx.MockTransport(Script(ok())),
    ) as client:
        client.get_json("item")
    with pytest.raises(RuntimeError):
        client.get_json("item")


def test_per_request_headers_and_methods(make_client: MakeClient) -> None:
    api = Script(httpx.Response(204))
    client = make_client(api, headers={"Data-Access-Intent": "ReadOnly"})
    response = client.request("DELETE", "things/1", headers={"If-Match": "*"})
    assert response.status_code == 204
    request = api.requests[0]
    assert request.method == "DELETE"
    assert request.headers["If-Match"] == "*"
    assert request.headers["Data-Access-Intent"] == "ReadOnly"
