from __future__ import annotations

import threading
import time
from collections import deque
from collections.abc import Callable
from pathlib import Path
from typing import Any
from urllib.parse import parse_qsl

import httpx
import pytest

from connectors.auth import (
    OAuth2ClientCredentialsAuth,
    OAuth2RefreshTokenAuth,
    StaticTokenAuth,
)
from connectors.errors import AuthenticationError, ServerError
from connectors.http import ApiClient
from connectors.token_store import TokenStore

TOKEN_URL = "https://accounts.test/oauth/v2/token"
CLIENT_SECRET = "client-s3cret-value"
REFRESH_TOKEN = "1000.refresh-t0ken-value"

MakeClient = Callable[..., ApiClient]


class FakeOAuthApi:
    """A token endpoint on accounts.test plus an API that accepts only tokens it issued and
    has not revoked. `token_script` holds canned token-endpoint answers (or exceptions to
    raise) used before it falls back to issuing ``tok-1``, ``tok-2``..."""

    def __init__(self, *token_script: httpx.Response | Exception, expires_in: Any = 3600) -> None:
        self.token_script = deque(token_script)
        self.expires_in = expires_in
        self.issued = 0
        self.valid: set[str] = set()
        self.token_forms: list[dict[str, str]] = []
        self.api_authorizations: list[str | None] = []
        self.lock = threading.Lock()

    def __call__(self, request: httpx.Request) -> httpx.Response:
        if request.url.host == "accounts.test":
            return self.token_endpoint(request)
        authorization = request.headers.get("Authorization")
        with self.lock:
            self.api_authorizations.append(authorization)
            valid = authorization is not None and authorization.split(" ")[-1] in self.valid
        if not valid:
            return httpx.Response(401, json={"code": 57, "message": "You are not authorized"})
        return httpx.Response(200, json={"code": 0, "message": "success"})

    def token_endpoint(self, request: httpx.Request) -> httpx.Response:
        assert request.method == "POST"
        with self.lock:
            self.token_forms.append(dict(parse_qsl(request.content.decode())))
            if self.token_script:
                answer = self.token_script.popleft()
                if isinstance(answer, Exception):
                    raise answer
                return answer
            self.issued += 1
            token = f"tok-{self.issued}"
            self.valid.add(token)
        for _ in range(50):  # let other threads run while this refresh is in flight
            time.sleep(0)
        body = {"access_token": token, "token_type": "Bearer", "api_domain": "https://api.test"}
        if self.expires_in is not None:
            body["expires_in"] = self.expires_in
        return httpx.Response(200, json=body)

    def revoke_all(self) -> None:
        self.valid.clear()


def refresh_auth(clock: Any, **kwargs: Any) -> OAuth2RefreshTokenAuth:
    return OAuth2RefreshTokenAuth(
        token_url=TOKEN_URL,
        client_id="1000.CLIENTID",
        client_secret=CLIENT_SECRET,
        refresh_token=REFRESH_TOKEN,
        clock=clock,
        **kwargs,
    )


# -- static tokens -----------------------------------------------------------------------------


def test_static_token_sends_a_bearer_header(make_client: MakeClient) -> None:
    seen: list[httpx.Request] = []

    def api(request: httpx.Request) -> httpx.Response:
        seen.append(request)
        return httpx.Response(200, json=[])

    auth = StaticTokenAuth("crbn_abc")
    make_client(api, auth=auth).get_json("item")
    assert seen[0].headers["Authorization"] == "Bearer crbn_abc"
    assert auth.secrets() == ["crbn_abc"]


def test_static_token_without_scheme_is_the_bare_header_value(make_client: MakeClient) -> None:
    seen: list[httpx.Request] = []

    def api(request: httpx.Request) -> httpx.Response:
        seen.append(request)
        return httpx.Response(200, json=[])

    make_client(api, auth=StaticTokenAuth("crbn_abc", header="carbon-key", scheme=None)).get_json(
        "item"
    )
    assert seen[0].headers["carbon-key"] == "crbn_abc"
    assert "Authorization" not in seen[0].headers


def test_empty_credentials_are_refused_at_construction() -> None:
    with pytest.raises(ValueError):
        StaticTokenAuth("")
    with pytest.raises(ValueError):
        OAuth2RefreshTokenAuth(
            token_url=TOKEN_URL, client_id="id", client_secret="s", refresh_token=""
        )
    with pytest.raises(ValueError):
        OAuth2ClientCredentialsAuth(
            token_url=TOKEN_URL, client_id="id", client_secret="", scope=None
        )


# -- token fetch and cache ---------------------------------------------------------------------


def test_refresh_token_grant_fetches_once_and_caches(make_client: MakeClient, clock: Any) -> None:
    api = FakeOAuthApi()
    auth = refresh_auth(clock)
    client = make_client(api, auth=auth)
    for _ in range(3):
        client.get_json("invoices")
    assert auth.token_requests == 1
    assert api.token_forms == [
        {
            "grant_type": "refresh_token",
            "refresh_token": REFRESH_TOKEN,
            "client_id": "1000.CLIENTID",
            "client_secret": CLIENT_SECRET,
        }
    ]
    assert api.api_authorizations == ["Zoho-oauthtoken tok-1"] * 3
    assert client.request_count == 3  # token requests are not API requests


def test_token_is_refreshed_shortly_before_it_expires(make_client: MakeClient, clock: Any) -> None:
    api = FakeOAuthApi()
    auth = refresh_auth(clock)  # margin 60 s, token lives 3600 s
    client = make_client(api, auth=auth)
    client.get_json("invoices")
    clock.advance(3600 - 60 - 1)
    client.get_json("invoices")
    assert auth.token_requests == 1
    clock.advance(1)
    client.get_json("invoices")
    assert auth.token_requests == 2
    assert api.api_authorizations[-1] == "Zoho-oauthtoken tok-2"


def test_expires_in_may_be_a_string(make_client: MakeClient, clock: Any) -> None:
    auth = refresh_auth(clock)
    client = make_client(FakeOAuthApi(expires_in="3599"), auth=auth)
    client.get_json("invoices")
    clock.advance(3000)
    client.get_json("invoices")
    assert auth.token_requests == 1
    clock.advance(600)
    client.get_json("invoices")
    assert auth.token_requests == 2


def test_without_expires_in_the_token_is_kept_until_refused(
    make_client: MakeClient, clock: Any
) -> None:
    api = FakeOAuthApi(expires_in=None)
    auth = refresh_auth(clock)
    client = make_client(api, auth=auth)
    client.get_json("invoices")
    clock.advance(10 * 86400)
    client.get_json("invoices")
    assert auth.token_requests == 1


def test_concurrent_requests_share_one_refresh(make_client: MakeClient, clock: Any) -> None:
    api = FakeOAuthApi()
    auth = refresh_auth(clock)
    client = make_client(api, auth=auth)
    start = threading.Barrier(8, timeout=10)
    errors: list[BaseException] = []

    def worker() -> None:
        try:
            start.wait()
            for _ in range(5):
                client.get_json("invoices")
        except BaseException as exc:  # pragma: no cover - reported below
            errors.append(exc)

    threads = [threading.Thread(target=worker) for _ in range(8)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert not errors
    assert auth.token_requests == 1
    assert client.request_count == 40


def test_rotated_refresh_token_is_used_next_time(make_client: MakeClient, clock: Any) -> None:
    api = FakeOAuthApi(
        httpx.Response(200, json={"access_token": "a1", "expires_in": 100, "refresh_token": "r2"}),
        httpx.Response(200, json={"access_token": "a2", "expires_in": 100}),
    )
    api.valid |= {"a1", "a2"}
    auth = refresh_auth(clock)
    client = make_client(api, auth=auth)
    client.get_json("invoices")
    clock.advance(100)
    client.get_json("invoices")
    assert [form["refresh_token"] for form in api.token_forms] == [REFRESH_TOKEN, "r2"]
    assert set(auth.secrets()) == {CLIENT_SECRET, "a2", REFRESH_TOKEN, "r2"}


def test_a_rotated_refresh_token_is_stored_for_the_next_client(
    make_client: MakeClient, clock: Any, tmp_path: Path
) -> None:
    api = FakeOAuthApi(
        httpx.Response(200, json={"access_token": "a1", "expires_in": 100, "refresh_token": "r2"}),
        httpx.Response(200, json={"access_token": "a2", "expires_in": 100}),
    )
    api.valid |= {"a1", "a2"}
    stored = TokenStore(tmp_path).for_connection("zoho_books", "acme-us")
    make_client(api, auth=refresh_auth(clock, stored=stored)).get_json("invoices")

    # A new client (as a new process would make) starts from the rotated token.
    make_client(api, auth=refresh_auth(clock, stored=stored)).get_json("invoices")

    assert [form["refresh_token"] for form in api.token_forms] == [REFRESH_TOKEN, "r2"]


def test_a_client_already_running_uses_the_token_another_connection_rotated(
    make_client: MakeClient, clock: Any, tmp_path: Path
) -> None:
    """Two organizations of one grant: the source revokes the token the first one rotated away,
    so the second, built before the rotation, must ask with the new one."""
    api = FakeOAuthApi(
        httpx.Response(200, json={"access_token": "a1", "expires_in": 100, "refresh_token": "r2"}),
        httpx.Response(200, json={"access_token": "a2", "expires_in": 100}),
    )
    api.valid |= {"a1", "a2"}
    store = TokenStore(tmp_path)
    second = make_client(
        api, auth=refresh_auth(clock, stored=store.for_connection("zoho_books", "acme-eu"))
    )
    make_client(
        api, auth=refresh_auth(clock, stored=store.for_connection("zoho_books", "acme-us"))
    ).get_json("invoices")

    second.get_json("invoices")

    assert [form["refresh_token"] for form in api.token_forms] == [REFRESH_TOKEN, "r2"]


class RotatingTokenEndpoint:
    """A token endpoint that rotates the refresh token at every grant and refuses the old one,
    as Zoho answers (HTTP 200, `invalid_code`), slowly enough for grants to overlap."""

    def __init__(self) -> None:
        self.current = REFRESH_TOKEN
        self.spent: list[str] = []
        self.lock = threading.Lock()

    def __call__(self, request: httpx.Request) -> httpx.Response:
        if request.url.host != "accounts.test":
            return httpx.Response(200, json={"code": 0, "message": "success"})
        asked = dict(parse_qsl(request.content.decode()))["refresh_token"]
        time.sleep(0.02)  # the grant is in flight: another process could send the same token
        with self.lock:
            if asked != self.current:
                return httpx.Response(200, json={"error": "invalid_code"})
            self.spent.append(asked)
            self.current = f"1000.rotated-{len(self.spent)}"
            return httpx.Response(
                200,
                json={"access_token": f"a{len(self.spent)}", "refresh_token": self.current},
            )


def test_grants_of_one_line_at_once_each_spend_the_token_the_last_one_rotated_to(
    make_client: MakeClient, clock: Any, tmp_path: Path
) -> None:
    """Four processes' clients of one rotating grant start at once: each grant waits for the
    one before it, reads the token that one rotated to, and none is refused; the store keeps
    the token the source will accept next."""
    endpoint = RotatingTokenEndpoint()
    store = TokenStore(tmp_path)
    clients = [
        make_client(
            endpoint, auth=refresh_auth(clock, stored=store.for_connection("zoho_books", name))
        )
        for name in ("acme-us", "acme-eu", "acme-uk", "acme-au")
    ]
    start = threading.Barrier(len(clients), timeout=10)
    errors: list[BaseException] = []

    def sync(client: ApiClient) -> None:
        try:
            start.wait()
            client.get_json("invoices")
        except BaseException as exc:
            errors.append(exc)

    threads = [threading.Thread(target=sync, args=(client,)) for client in clients]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()

    assert errors == []
    assert endpoint.spent == [REFRESH_TOKEN, *(f"1000.rotated-{n}" for n in range(1, 4))]
    assert store.for_connection("zoho_books", "any").newest(REFRESH_TOKEN) == endpoint.current


# -- 401 from the API --------------------------------------------------------------------------


def test_401_with_a_cached_token_refreshes_and_resends_once(
    make_client: MakeClient, clock: Any
) -> None:
    api = FakeOAuthApi()
    auth = refresh_auth(clock)
    client = make_client(api, auth=auth)
    client.get_json("invoices")
    api.revoke_all()
    body, response = client.get_json("invoices")
    assert response.status_code == 200 and body["code"] == 0
    assert auth.token_requests == 2
    assert api.api_authorizations == [
        "Zoho-oauthtoken tok-1",
        "Zoho-oauthtoken tok-1",
        "Zoho-oauthtoken tok-2",
    ]


def test_401_with_a_token_fetched_for_this_request_is_not_refreshed(
    make_client: MakeClient, clock: Any
) -> None:
    api = FakeOAuthApi(httpx.Response(200, json={"access_token": "never-valid", "expires_in": 60}))
    auth = refresh_auth(clock)
    client = make_client(api, auth=auth)
    with pytest.raises(AuthenticationError) as caught:
        client.get_json("invoices", stream="invoices")
    assert auth.token_requests == 1
    assert caught.value.status_code == 401
    assert "never-valid" not in str(caught.value)


def test_401_after_refresh_fails_without_a_second_refresh(
    make_client: MakeClient, clock: Any
) -> None:
    api = FakeOAuthApi()
    auth = refresh_auth(clock)
    client = make_client(api, auth=auth)
    client.get_json("invoices")

    def always_401(request: httpx.Request) -> httpx.Response:
        if request.url.host == "accounts.test":
            return api.token_endpoint(request)
        return httpx.Response(401, json={"code": 57, "message": "You are not authorized"})

    client2 = make_client(always_401, auth=auth)
    with pytest.raises(AuthenticationError, match="answered 401: You are not authorized"):
        client2.get_json("invoices")
    assert auth.token_requests == 2


# -- token endpoint refusals -------------------------------------------------------------------


def test_zoho_refusal_with_http_200(make_client: MakeClient, clock: Any) -> None:
    api = FakeOAuthApi(httpx.Response(200, json={"error": "invalid_client_secret"}))
    client = make_client(api, auth=refresh_auth(clock))
    with pytest.raises(AuthenticationError) as caught:
        client.get_json("invoices", stream="invoices")
    error = caught.value
    assert error.status_code == 200
    assert error.url == TOKEN_URL and error.method == "POST"
    assert "invalid_client_secret" in str(error)
    assert "stream invoices" in str(error)
    assert error.hint and "client secret" in error.hint
    assert CLIENT_SECRET not in str(error) and REFRESH_TOKEN not in str(error)
    assert api.api_authorizations == []  # the API was never called


def test_zoho_too_many_refreshes_is_reported_not_retried(
    make_client: MakeClient, clock: Any, sleeps: list[float]
) -> None:
    body = {
        "error": "Access Denied",
        "error_description": "You have made too many requests continuously.",
        "status": "failure",
    }
    client = make_client(FakeOAuthApi(httpx.Response(400, json=body)), auth=refresh_auth(clock))
    with pytest.raises(AuthenticationError, match="Access Denied \\(You have made too many"):
        client.get_json("invoices")
    assert sleeps == []


def test_entra_invalid_client(make_client: MakeClient, clock: Any) -> None:
    body = {
        "error": "invalid_client",
        "error_description": "AADSTS7000215: Invalid client secret provided.",
    }
    api = FakeOAuthApi(httpx.Response(401, json=body))
    auth = OAuth2ClientCredentialsAuth(
        token_url="https://accounts.test/tenant/oauth2/v2.0/token",
        client_id="app-id",
        client_secret=CLIENT_SECRET,
        scope="https://api.businesscentral.dynamics.com/.default",
        clock=clock,
    )
    client = make_client(api, auth=auth, source="business_central", connection_id="contoso")
    with pytest.raises(AuthenticationError) as caught:
        client.get_json("companies")
    assert caught.value.status_code == 401
    assert "invalid_client (AADSTS7000215: Invalid client secret provided)" in str(caught.value)
    assert api.token_forms == [
        {
            "grant_type": "client_credentials",
            "client_id": "app-id",
            "client_secret": CLIENT_SECRET,
            "scope": "https://api.businesscentral.dynamics.com/.default",
        }
    ]
    assert CLIENT_SECRET not in str(caught.value)


def test_simpro_invalid_client_is_a_400(make_client: MakeClient, clock: Any) -> None:
    api = FakeOAuthApi(httpx.Response(400, json={"error": "invalid_client"}))
    auth = OAuth2ClientCredentialsAuth(
        token_url="https://accounts.test/oauth2/token",
        client_id="id",
        client_secret=CLIENT_SECRET,
        scope=None,
        clock=clock,
    )
    client = make_client(api, auth=auth, source="simpro", connection_id="build-1")
    with pytest.raises(AuthenticationError, match="answered 400: .*invalid_client") as caught:
        client.get_json("companies/")
    assert "scope" not in api.token_forms[0]
    assert caught.value.source == "simpro"


def test_a_token_response_without_a_token_is_refused(make_client: MakeClient, clock: Any) -> None:
    api = FakeOAuthApi(httpx.Response(200, text="<html>login</html>"))
    client = make_client(api, auth=refresh_auth(clock))
    with pytest.raises(AuthenticationError, match="unexpected token response.*<html>login"):
        client.get_json("invoices")


# -- token endpoint outages are retried --------------------------------------------------------


def test_token_endpoint_5xx_and_transport_errors_are_retried(
    make_client: MakeClient, clock: Any, sleeps: list[float]
) -> None:
    api = FakeOAuthApi(
        httpx.Response(503, text="busy"),
        httpx.ConnectError("connection refused"),
        httpx.Response(429, headers={"Retry-After": "2"}),
    )
    auth = refresh_auth(clock)
    client = make_client(api, auth=auth)
    body, _ = client.get_json("invoices")
    assert body["code"] == 0
    assert auth.token_requests == 4
    assert len(sleeps) == 3 and sleeps[-1] == 2.0


def test_token_endpoint_down_beyond_the_budget(make_client: MakeClient, clock: Any) -> None:
    api = FakeOAuthApi(*[httpx.Response(502) for _ in range(6)])
    client = make_client(api, auth=refresh_auth(clock))
    with pytest.raises(ServerError, match="token endpoint is unavailable .gave up after 6"):
        client.get_json("invoices")
