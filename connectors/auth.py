"""httpx authentication for the four sources.

* `StaticTokenAuth`: a fixed API key (Carbon, Simpro API keys).
* `OAuth2RefreshTokenAuth`: refresh-token grant (Zoho Books, Simpro OAuth).
* `OAuth2ClientCredentialsAuth`: client-credentials grant (Business Central via Entra ID).

The OAuth2 classes fetch the access token *through the auth flow* (so the token request uses the
same client, transport and timeouts as the API), cache it until shortly before it expires, and on
a 401 from the API refresh once and resend. They are thread-safe: concurrent requests that find
no valid token wait for one refresh instead of each starting their own (Zoho answers too-frequent
refreshes with "Access Denied").

Token endpoint failures surface as `TokenError` (refused: fatal) or `TokenEndpointUnavailable`
(429/5xx: retriable); transport errors propagate as httpx raises them. `connectors.http.ApiClient`
turns these into `AuthenticationError`, retries or `TransportError`, with source and connection.

Every auth class has ``secrets()``: the strings an error message must never contain.
"""

from __future__ import annotations

import threading
import time
from collections.abc import Callable, Generator
from typing import Any, Protocol, runtime_checkable

import httpx
import orjson

from connectors.redaction import body_excerpt
from connectors.token_store import RefreshTokenFile

__all__ = [
    "OAuth2Auth",
    "OAuth2ClientCredentialsAuth",
    "OAuth2RefreshTokenAuth",
    "SecretSource",
    "StaticTokenAuth",
    "TokenEndpointUnavailable",
    "TokenError",
]


@runtime_checkable
class SecretSource(Protocol):
    def secrets(self) -> list[str]:
        """Secret strings to redact from anything shown to a person."""
        ...


class TokenError(Exception):
    """The token endpoint refused to issue a token (bad client secret, revoked refresh token...).

    `error` is the OAuth error code (``invalid_client``, ``invalid_client_secret``,
    ``invalid_code``...), `description` the endpoint's explanation if any.
    """

    def __init__(self, *, error: str, description: str | None, status_code: int, url: str) -> None:
        self.error = error
        self.description = description
        self.status_code = status_code
        self.url = url
        detail = f"{error}: {description}" if description else error
        super().__init__(f"token endpoint {url} answered {status_code}: {detail}")


class TokenEndpointUnavailable(Exception):
    """The token endpoint answered 429 or 5xx; worth retrying (after `retry_after`, if given)."""

    def __init__(self, *, status_code: int, retry_after: str | None, url: str) -> None:
        self.status_code = status_code
        self.retry_after = retry_after
        self.url = url
        super().__init__(f"token endpoint {url} answered {status_code}")


class StaticTokenAuth(httpx.Auth):
    """A fixed credential in one header: ``Authorization: Bearer <token>`` by default.

    With ``scheme=None`` the header value is the bare token (``carbon-key: crbn_...``).
    """

    def __init__(
        self, token: str, *, header: str = "Authorization", scheme: str | None = "Bearer"
    ) -> None:
        if not token:
            raise ValueError("token is empty")
        self._token = token
        self._header = header
        self._value = f"{scheme} {token}" if scheme else token

    def auth_flow(self, request: httpx.Request) -> Generator[httpx.Request, httpx.Response, None]:
        request.headers[self._header] = self._value
        yield request

    def secrets(self) -> list[str]:
        return [self._token]


class OAuth2Auth(httpx.Auth):
    """Base of the OAuth2 grants: token cache, refresh on expiry and on 401, token errors.

    Subclasses provide the grant's form fields in `_grant()`. Sync clients only: the lock is held
    across the token request, which a sync flow can do safely (httpx closes the flow, releasing
    it, even when the token request fails).
    """

    requires_response_body = True

    def __init__(
        self,
        *,
        token_url: str,
        client_id: str,
        client_secret: str,
        scheme: str,
        expiry_margin_s: float,
        clock: Callable[[], float],
    ) -> None:
        if not client_id or not client_secret:
            raise ValueError("client_id and client_secret must not be empty")
        self.token_url = token_url
        self.client_id = client_id
        self._client_secret = client_secret
        self._scheme = scheme
        self._expiry_margin_s = expiry_margin_s
        self._clock = clock
        self._lock = threading.Lock()
        self._access_token: str | None = None
        self._expires_at = float("-inf")
        self.token_requests = 0  # token requests sent so far, for tests and metrics

    def _grant(self) -> dict[str, str]:
        raise NotImplementedError

    def secrets(self) -> list[str]:
        return [s for s in (self._client_secret, self._access_token) if s]

    def auth_flow(self, request: httpx.Request) -> Generator[httpx.Request, httpx.Response, None]:
        raise NotImplementedError("OAuth2 auth holds a thread lock: use a sync httpx.Client")

    def sync_auth_flow(
        self, request: httpx.Request
    ) -> Generator[httpx.Request, httpx.Response, None]:
        fetched = False
        with self._lock:
            if self._access_token is None or self._clock() >= self._expires_at:
                yield from self._fetch_token(request)
                fetched = True
            token = self._access_token
        request.headers["Authorization"] = f"{self._scheme} {token}"
        response = yield request
        if response.status_code != 401 or fetched:
            return
        # The cached token was refused (revoked, or expired early). Refresh unless another
        # thread already did while this request was out, then resend once.
        with self._lock:
            if self._access_token == token:
                yield from self._fetch_token(request)
            token = self._access_token
        request.headers["Authorization"] = f"{self._scheme} {token}"
        yield request

    def _fetch_token(
        self, request: httpx.Request
    ) -> Generator[httpx.Request, httpx.Response, None]:
        self.token_requests += 1
        timeout = request.extensions.get("timeout")
        token_request = httpx.Request(
            "POST",
            self.token_url,
            data=self._grant(),
            headers={"Accept": "application/json"},
            extensions={"timeout": timeout} if timeout is not None else {},
        )
        response = yield token_request
        response.read()
        self._accept(response)

    def _accept(self, response: httpx.Response) -> None:
        status = response.status_code
        if status == 429 or status >= 500:
            raise TokenEndpointUnavailable(
                status_code=status,
                retry_after=response.headers.get("Retry-After"),
                url=self.token_url,
            )
        try:
            body: Any = orjson.loads(response.content)
        except orjson.JSONDecodeError:
            body = None
        # Zoho reports refusals with HTTP 200 and {"error": ...}; Entra and Simpro with 400/401.
        if isinstance(body, dict) and body.get("error"):
            description = body.get("error_description")
            raise TokenError(
                error=str(body["error"]),
                description=str(description) if description else None,
                status_code=status,
                url=self.token_url,
            )
        if (
            not response.is_success
            or not isinstance(body, dict)
            or not isinstance(body.get("access_token"), str)
            or not body["access_token"]
        ):
            raise TokenError(
                error="unexpected token response",
                description=body_excerpt(response.content) or None,
                status_code=status,
                url=self.token_url,
            )
        self._store(body)

    def _store(self, body: dict[str, Any]) -> None:
        self._access_token = body["access_token"]
        try:
            expires_in: float | None = float(body["expires_in"])  # Entra v1 sends a string
        except (KeyError, TypeError, ValueError):
            expires_in = None
        if expires_in is None:
            self._expires_at = float("inf")  # no stated lifetime: keep it until a 401
        else:
            # Never let the margin eat more than half the lifetime of a short-lived token.
            lifetime = max(expires_in - self._expiry_margin_s, expires_in / 2)
            self._expires_at = self._clock() + lifetime


class OAuth2RefreshTokenAuth(OAuth2Auth):
    """Refresh-token grant; Zoho's ``Authorization: Zoho-oauthtoken <token>`` by default.

    A refresh token returned alongside the access token (rotation) replaces the old one, and
    is saved to `stored` (`connectors.token_store`) when given, where the next process finds it.
    """

    def __init__(
        self,
        *,
        token_url: str,
        client_id: str,
        client_secret: str,
        refresh_token: str,
        scheme: str = "Zoho-oauthtoken",
        expiry_margin_s: float = 60,
        clock: Callable[[], float] = time.time,
        stored: RefreshTokenFile | None = None,
    ) -> None:
        super().__init__(
            token_url=token_url,
            client_id=client_id,
            client_secret=client_secret,
            scheme=scheme,
            expiry_margin_s=expiry_margin_s,
            clock=clock,
        )
        if not refresh_token:
            raise ValueError("refresh_token must not be empty")
        self._configured_refresh_token = refresh_token
        self._stored = stored
        self._refresh_token = stored.newest(refresh_token) if stored else refresh_token

    def _fetch_token(
        self, request: httpx.Request
    ) -> Generator[httpx.Request, httpx.Response, None]:
        if self._stored is None:
            yield from super()._fetch_token(request)
            return
        # From reading the newest token to saving its successor, no other grant of the line.
        with self._stored.held(self._configured_refresh_token):
            yield from super()._fetch_token(request)

    def _grant(self) -> dict[str, str]:
        if self._stored is not None:
            # Another connection of the same grant, or another process, may have rotated it.
            self._refresh_token = self._stored.newest(self._configured_refresh_token)
        return {
            "grant_type": "refresh_token",
            "refresh_token": self._refresh_token,
            "client_id": self.client_id,
            "client_secret": self._client_secret,
        }

    def _store(self, body: dict[str, Any]) -> None:
        super()._store(body)
        rotated = body.get("refresh_token")
        if not isinstance(rotated, str) or not rotated or rotated == self._refresh_token:
            return
        self._refresh_token = rotated
        if self._stored is not None:
            self._stored.save(self._configured_refresh_token, rotated)

    def secrets(self) -> list[str]:
        return [*super().secrets(), self._configured_refresh_token, self._refresh_token]


class OAuth2ClientCredentialsAuth(OAuth2Auth):
    """Client-credentials grant, e.g. Entra ID for Business Central
    (``scope="https://api.businesscentral.dynamics.com/.default"``)."""

    def __init__(
        self,
        *,
        token_url: str,
        client_id: str,
        client_secret: str,
        scope: str | None,
        scheme: str = "Bearer",
        expiry_margin_s: float = 60,
        clock: Callable[[], float] = time.time,
    ) -> None:
        super().__init__(
            token_url=token_url,
            client_id=client_id,
            client_secret=client_secret,
            scheme=scheme,
            expiry_margin_s=expiry_margin_s,
            clock=clock,
        )
        self.scope = scope

    def _grant(self) -> dict[str, str]:
        form = {
            "grant_type": "client_credentials",
            "client_id": self.client_id,
            "client_secret": self._client_secret,
        }
        if self.scope:
            form["scope"] = self.scope
        return form
