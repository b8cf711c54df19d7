"""The HTTP client every connector uses: rate budget, retries, error mapping, redaction.

`ApiClient.request` sends one logical request. Each attempt takes a slot from the connection's
`RateLimiter`; 429, 5xx (`RetryPolicy.retry_statuses`), transport errors and (in `get_json`) a
2xx body that is not JSON are retried with bounded exponential backoff and full jitter, or after
the source's ``Retry-After``. Anything else raises the matching `connectors.errors` class at once.
Error messages name source, connection, stream, method, URL, status, the source's own message, a
body excerpt and a fix, and never contain a secret known to the auth or a secret-looking query
value.

httpx itself only retries failed connects (`HTTPTransport(retries=n)`), hence this module.
"""

from __future__ import annotations

import random
import threading
import time
from collections import Counter
from collections.abc import Callable, Mapping
from contextlib import nullcontext
from dataclasses import dataclass, field
from datetime import UTC, datetime
from email.utils import parsedate_to_datetime
from types import TracebackType
from typing import Any, Self

import httpx
import orjson

from connectors.auth import SecretSource, TokenEndpointUnavailable, TokenError
from connectors.errors import (
    ApiError,
    AuthenticationError,
    ConfigurationError,
    ConnectorError,
    NotFoundError,
    PayloadError,
    RateLimitedError,
    ServerError,
    TransportError,
)
from connectors.ratelimit import UNAVAILABLE_HINT, BudgetUnavailableError, RateLimiter
from connectors.redaction import Redactor, body_excerpt, redact_url

__all__ = [
    "DEFAULT_RESPONSE_DEADLINE_S",
    "DEFAULT_RETRY",
    "DEFAULT_TIMEOUT",
    "ApiClient",
    "RetryPolicy",
    "retry_after_seconds",
]

DEFAULT_TIMEOUT = httpx.Timeout(30.0, connect=10.0)
# A response's headers and body together get this long: httpx's read timeout is per read, so a
# server trickling a byte at a time would otherwise hold a request without end.
DEFAULT_RESPONSE_DEADLINE_S = 300.0

# Failures worth another attempt. DecodingError is a truncated or corrupt compressed body.
_RETRIABLE_TRANSPORT = (
    httpx.TimeoutException,
    httpx.NetworkError,
    httpx.RemoteProtocolError,
    httpx.DecodingError,
)


@dataclass(frozen=True)
class RetryPolicy:
    """How many attempts a request gets, and how long to wait between them.

    Without ``Retry-After`` the wait before attempt n+1 is uniform in
    ``[0, min(backoff_max_s, backoff_initial_s * 2**(n-1))]`` ("full jitter": threads that failed
    together do not retry together). A ``Retry-After`` is honoured as given, up to
    `retry_after_max_s`; a longer one fails at once rather than stall a run for hours.
    """

    max_attempts: int = 6
    backoff_initial_s: float = 0.5
    backoff_max_s: float = 30.0
    retry_after_max_s: float = 300.0
    retry_statuses: frozenset[int] = frozenset({429, 500, 502, 503, 504})
    rng: random.Random = field(default_factory=random.Random, compare=False, repr=False)

    def backoff(self, attempt: int) -> float:
        """Seconds to wait after failed attempt number `attempt` (1-based)."""
        ceiling = min(self.backoff_max_s, self.backoff_initial_s * 2.0 ** min(attempt - 1, 30))
        return self.rng.uniform(0.0, ceiling)


DEFAULT_RETRY = RetryPolicy()


def retry_after_seconds(value: str | None, *, now: datetime | None = None) -> float | None:
    """Seconds to wait per a ``Retry-After`` value (delta-seconds or HTTP-date); None if absent
    or unreadable. A date in the past means no wait."""
    if not value or not value.strip():
        return None
    value = value.strip()
    try:
        return max(0.0, float(value))
    except ValueError:
        pass
    try:
        when = parsedate_to_datetime(value)
    except (TypeError, ValueError):
        return None
    if when.tzinfo is None:
        when = when.replace(tzinfo=UTC)
    return max(0.0, (when - (now or datetime.now(UTC))).total_seconds())


class _Retry(Exception):
    """Internal: this attempt failed in a way worth retrying; `final` is raised when out of
    attempts, `delay` overrides the backoff (from Retry-After)."""

    def __init__(self, final: ConnectorError, delay: float | None = None) -> None:
        self.final = final
        self.delay = delay


class ApiClient:
    """One connection's HTTP client: a base URL, credentials, a rate budget and a retry policy.

    Thread-safe: paginators call it from a thread pool; one `httpx.Client` (keep-alive
    connections) is shared. `error_message(response)` extracts the source's own error text; by
    default ``message``, ``error.message``, ``error_description`` or ``errors[0].message`` is
    taken from a JSON body.
    """

    def __init__(
        self,
        *,
        source: str,
        connection_id: str,
        base_url: str,
        auth: httpx.Auth | None = None,
        default_params: Mapping[str, Any] | None = None,
        headers: Mapping[str, str] | None = None,
        timeout: httpx.Timeout = DEFAULT_TIMEOUT,
        response_deadline_s: float = DEFAULT_RESPONSE_DEADLINE_S,
        retry: RetryPolicy = DEFAULT_RETRY,
        rate_limiter: RateLimiter | None = None,
        transport: httpx.BaseTransport | None = None,
        sleep: Callable[[float], None] = time.sleep,
        error_message: Callable[[httpx.Response], str | None] | None = None,
    ) -> None:
        self.source = source
        self.connection_id = connection_id
        self.retry = retry
        self.response_deadline_s = response_deadline_s
        self.rate_limiter = rate_limiter
        self._auth_secrets = auth if isinstance(auth, SecretSource) else None
        self._default_params = dict(default_params or {})
        self._sleep = sleep
        self._error_message = error_message or _sniff_error_message
        self._count_lock = threading.Lock()
        self._request_count = 0
        self._stream_requests: Counter[str | None] = Counter()
        try:
            base = httpx.URL(base_url)
        except httpx.InvalidURL as exc:
            raise self._config_error(
                f"base URL {redact_url(base_url)!r} is invalid: {exc}"
            ) from exc
        if base.scheme not in ("http", "https") or not base.host:
            raise self._config_error(
                f"base URL {redact_url(base_url)!r} must be an absolute http(s) URL"
            )
        self.base_url = base
        self._client = httpx.Client(
            base_url=base,
            auth=auth,
            headers={"Accept": "application/json", "User-Agent": "ledgersync", **(headers or {})},
            timeout=timeout,
            transport=transport,
        )

    @property
    def request_count(self) -> int:
        """HTTP requests sent to the API so far, retries included (token requests excluded)."""
        return self._request_count

    def stream_request_count(self, stream: str) -> int:
        """Of `request_count`, those sent for `stream` (its requests are told apart from
        those of streams synced at the same time)."""
        return self._stream_requests[stream]

    def close(self) -> None:
        self._client.close()

    def __enter__(self) -> Self:
        return self

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        self.close()

    def redact_url(self, url: str | httpx.URL) -> str:
        """`url` as it may appear in a message: secret query values and known secrets blanked."""
        return self._redactor()(redact_url(str(url)))

    def request(
        self,
        method: str,
        path_or_url: str,
        *,
        params: Mapping[str, Any] | None = None,
        headers: Mapping[str, str] | None = None,
        stream: str | None = None,
    ) -> httpx.Response:
        """Send a request with retries; returns the 2xx response (body read).

        `path_or_url` is relative to the base URL (default params added), or an absolute URL on
        the base URL's scheme and host (sent as given, e.g. an OData nextLink).
        """
        request = self._build(method, path_or_url, params, headers, stream)
        return self._send(request, stream, parse_json=False)[1]

    def get_json(
        self,
        path_or_url: str,
        *,
        params: Mapping[str, Any] | None = None,
        headers: Mapping[str, str] | None = None,
        stream: str | None = None,
    ) -> tuple[Any, httpx.Response]:
        """GET and parse the JSON body (orjson: floats are binary; parse money from
        ``response.content`` with Decimal). A truncated 2xx body is retried, then PayloadError."""
        request = self._build("GET", path_or_url, params, headers, stream)
        return self._send(request, stream, parse_json=True)

    # -- internals -------------------------------------------------------------------------

    def _build(
        self,
        method: str,
        path_or_url: str,
        params: Mapping[str, Any] | None,
        headers: Mapping[str, str] | None,
        stream: str | None,
    ) -> httpx.Request:
        url = httpx.URL(path_or_url)
        if url.is_absolute_url:
            base = self.base_url
            if (url.scheme, url.host, url.port) != (base.scheme, base.host, base.port):
                raise self._config_error(
                    f"refusing to send credentials to {self.redact_url(url)}: only "
                    f"{base.scheme}://{base.netloc.decode()} is allowed for this connection",
                    stream=stream,
                    hint="the API returned a link to another host; check the base URL",
                )
            merged = dict(params or {})
        else:
            merged = {**self._default_params, **(params or {})}
        return self._client.build_request(method, url, params=merged or None, headers=headers)

    def _send(
        self, request: httpx.Request, stream: str | None, *, parse_json: bool
    ) -> tuple[Any, httpx.Response]:
        try:
            return self._send_with_retries(request, stream, parse_json=parse_json)
        except BudgetUnavailableError as error:
            raise self._config_error(str(error), stream=stream, hint=UNAVAILABLE_HINT) from None

    def _send_with_retries(
        self, request: httpx.Request, stream: str | None, *, parse_json: bool
    ) -> tuple[Any, httpx.Response]:
        attempt = 0
        while True:
            attempt += 1
            try:
                return self._attempt(request, stream, parse_json)
            except _Retry as retry:
                error = retry.final
                if attempt >= self.retry.max_attempts:
                    error.message = (
                        f"{error.message.rstrip('. ')} (gave up after {attempt} attempts)"
                    )
                    raise error from retry.__cause__
                delay = self.retry.backoff(attempt) if retry.delay is None else retry.delay
                if retry.delay is not None and self.rate_limiter is not None:
                    # The budget is shared: make every sharer wait, and wait in the limiter.
                    self.rate_limiter.pause_until(self.rate_limiter.now() + delay)
                else:
                    self._sleep(delay)

    def _attempt(
        self, request: httpx.Request, stream: str | None, parse_json: bool
    ) -> tuple[Any, httpx.Response]:
        slot = self.rate_limiter.slot() if self.rate_limiter is not None else nullcontext()
        try:
            with slot:
                with self._count_lock:
                    self._request_count += 1
                    self._stream_requests[stream] += 1
                response = self._receive(request, stream)
        except TokenError as exc:
            raise self._token_refused(exc, stream) from None
        except TokenEndpointUnavailable as exc:
            final_cls = RateLimitedError if exc.status_code == 429 else ServerError
            final = final_cls(
                "the token endpoint is unavailable",
                **self._where(stream, "POST", exc.url),
                status_code=exc.status_code,
                hint="the identity provider is failing or throttling; rerun later",
            )
            raise self._retry_or_fail(final, exc.retry_after) from exc
        except _RETRIABLE_TRANSPORT as exc:
            raise _Retry(self._transport_error(request, exc, stream)) from exc
        except httpx.TransportError as exc:
            raise self._transport_error(request, exc, stream) from exc

        if response.is_success:
            if not parse_json:
                return None, response
            try:
                return orjson.loads(response.content), response
            except orjson.JSONDecodeError as exc:
                raise _Retry(
                    PayloadError(
                        f"the body is not valid JSON ({exc})",
                        **self._where(stream, request.method, request.url),
                        status_code=response.status_code,
                        body_excerpt=body_excerpt(response.content, redactor=self._redactor()),
                        hint="the response was truncated or is not JSON; check the base URL "
                        "points at the API, not a web page",
                    )
                ) from exc
        error = self._status_error(request, response, stream)
        if response.status_code in self.retry.retry_statuses:
            raise self._retry_or_fail(error, response.headers.get("Retry-After"))
        raise error

    def _receive(self, request: httpx.Request, stream: str | None) -> httpx.Response:
        """Send and read the whole response within `response_deadline_s`: no single read may
        wait longer than the deadline, and the body is read in chunks against the clock."""
        deadline = time.monotonic() + self.response_deadline_s
        timeout = dict(request.extensions.get("timeout") or {})
        read = timeout.get("read")
        timeout["read"] = (
            self.response_deadline_s if read is None else min(read, self.response_deadline_s)
        )
        request.extensions["timeout"] = timeout
        response = self._client.send(request, stream=True)
        try:
            chunks = []
            for chunk in response.iter_bytes():
                chunks.append(chunk)
                if time.monotonic() > deadline:
                    raise _Retry(self._deadline_error(request, stream))
            # What Response.read() does, with the clock checked between chunks.
            response._content = b"".join(chunks)
        finally:
            response.close()
        if time.monotonic() > deadline:
            raise _Retry(self._deadline_error(request, stream))
        return response

    def _deadline_error(self, request: httpx.Request, stream: str | None) -> TransportError:
        return TransportError(
            f"the response took longer than response_deadline_s={self.response_deadline_s:g} s "
            "(headers and body together)",
            **self._where(stream, request.method, request.url),
            hint=f"the source sends its response too slowly; raise response_deadline_s of "
            f"connection {self.connection_id!r} in the connections file if it is just slow",
        )

    def _retry_or_fail(
        self, error: ConnectorError, retry_after: str | None
    ) -> _Retry | ConnectorError:
        """A `_Retry`, or `error` itself if the source asked to wait longer than we may."""
        delay = retry_after_seconds(retry_after)
        if delay is not None and delay > self.retry.retry_after_max_s:
            error.message = (
                f"{error.message.rstrip('. ')}; the source asked to wait {delay:.0f} s "
                f"(Retry-After: {retry_after}), more than retry_after_max_s="
                f"{self.retry.retry_after_max_s:.0f} s"
            )
            error.hint = f"rerun after {delay:.0f} s, or when the source's quota resets"
            return error
        return _Retry(error, delay)

    def _status_error(
        self, request: httpx.Request, response: httpx.Response, stream: str | None
    ) -> ApiError:
        status = response.status_code
        redactor = self._redactor()
        message = self._error_message(response) or response.reason_phrase or "error"
        conn = f"connection {self.connection_id!r}"
        error_cls: type[ApiError] = ApiError
        if status in (401, 403):
            error_cls = AuthenticationError
            hint = (
                f"check the {self.source} credential environment variable(s) of {conn}: "
                "the credential is missing, mistyped, expired or revoked"
                if status == 401
                else f"the credential of {conn} lacks permission for this endpoint: check its "
                "scopes, module permissions and plan"
            )
        elif status == 404:
            error_cls = NotFoundError
            hint = (
                f"check the base URL ({self.redact_url(self.base_url)}) and the organization or "
                f"company id of {conn}, and the path of this stream"
            )
        elif status == 429:
            error_cls = RateLimitedError
            hint = "the source's rate limit or daily quota is exhausted: lower the request rate "
            hint += "(share one rate limiter across connections of one account) or rerun later"
        elif status >= 500:
            error_cls = ServerError
            hint = "the source is failing or overloaded: rerun later"
        elif 300 <= status < 400:
            location = self.redact_url(response.headers.get("Location", "?"))
            hint = f"the source redirects to {location}: set the base URL to the final address"
        elif status == 413:
            hint = "the page is too large: lower this stream's page size"
        else:
            hint = "the source rejected the request: check this stream's filters and parameters"
        return error_cls(
            redactor(message),
            **self._where(stream, request.method, request.url),
            status_code=status,
            body_excerpt=body_excerpt(response.content, redactor=redactor) or None,
            hint=redactor(hint),
        )

    def _token_refused(self, exc: TokenError, stream: str | None) -> AuthenticationError:
        redactor = self._redactor()
        message = f"the token endpoint refused the credentials: {redactor(exc.error)}"
        if exc.description:
            message += f" ({redactor(exc.description).rstrip('. ')})"
        return AuthenticationError(
            message,
            **self._where(stream, "POST", exc.url),
            status_code=exc.status_code,
            hint=f"check the OAuth client id, client secret and (if used) refresh token of "
            f"connection {self.connection_id!r}: they may be mistyped or revoked",
        )

    def _transport_error(
        self, request: httpx.Request, exc: httpx.RequestError, stream: str | None
    ) -> TransportError:
        return TransportError(
            self._redactor()(f"{type(exc).__name__}: {exc}" if str(exc) else type(exc).__name__),
            **self._where(stream, request.method, request.url),
            hint=f"check network access to {request.url.host}, or raise the timeout if the "
            "source is slow",
        )

    def _where(self, stream: str | None, method: str, url: str | httpx.URL) -> dict[str, Any]:
        return {
            "source": self.source,
            "connection_id": self.connection_id,
            "stream": stream,
            "method": method,
            "url": self.redact_url(url),
        }

    def _config_error(
        self, message: str, *, stream: str | None = None, hint: str | None = None
    ) -> ConfigurationError:
        return ConfigurationError(
            message,
            source=self.source,
            connection_id=self.connection_id,
            stream=stream,
            hint=hint,
        )

    def _redactor(self) -> Redactor:
        # Built per use: OAuth access tokens change during a run.
        return Redactor(self._auth_secrets.secrets() if self._auth_secrets is not None else ())


def _sniff_error_message(response: httpx.Response) -> str | None:
    """The error text of the common JSON error shapes: Zoho and PostgREST ``message``, OData
    ``error.message``, OAuth ``error_description``, Simpro-style ``errors[0].message``."""
    try:
        body = orjson.loads(response.content)
    except orjson.JSONDecodeError:
        return None
    if not isinstance(body, dict):
        return None
    error = body.get("error")
    errors = body.get("errors")
    first = errors[0] if isinstance(errors, list) and errors else None
    candidates = [
        body.get("message"),
        error.get("message") if isinstance(error, dict) else None,
        body.get("error_description"),
        first.get("message") if isinstance(first, dict) else None,
        error,
    ]
    return next((str(c) for c in candidates if isinstance(c, str) and c.strip()), None)
