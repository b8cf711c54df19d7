"""Request, Response, a tiny router and the `App` base class every sandbox builds on.

An app is source-specific (routes, auth, error bodies); everything here is source-neutral. Path
patterns use `{param}` placeholders, which may sit inside a segment, so OData-style
`/companies({company_id})/customers` works as well as `/customerpayments/{payment_id}`.
"""

from __future__ import annotations

import math
import re
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from http import HTTPStatus
from urllib.parse import unquote

from sandbox import jsonbody
from sandbox.faults import NO_FAULTS, FaultPlan

JSON_CONTENT_TYPE = "application/json;charset=UTF-8"


@dataclass(slots=True)
class Request:
    method: str
    path: str  # without the query string, still percent-encoded
    query: dict[str, list[str]]
    headers: dict[str, str]  # names in lower case
    body: bytes = b""
    form: dict[str, list[str]] = field(default_factory=dict)  # urlencoded body, if any
    path_params: dict[str, str] = field(default_factory=dict)  # percent-decoded
    account: str | None = None  # set from App.account_of before the handler runs
    faults: FaultPlan = NO_FAULTS  # this request's fault decisions
    applied_faults: list[str] = field(default_factory=list)  # app-applied faults, for the log

    def arg(self, name: str) -> str | None:
        """First value of a query parameter."""
        values = self.query.get(name)
        return values[0] if values else None

    def form_value(self, name: str) -> str | None:
        values = self.form.get(name)
        return values[0] if values else None

    def header(self, name: str) -> str | None:
        return self.headers.get(name.lower())


@dataclass(slots=True)
class Response:
    status: int = 200
    body: bytes = b""
    headers: dict[str, str] = field(default_factory=dict)

    @classmethod
    def json(
        cls, payload: object, status: int = 200, headers: Mapping[str, str] | None = None
    ) -> Response:
        """A JSON response; `Decimal` values keep their exact digits."""
        return cls(
            status, jsonbody.dumps(payload), {"Content-Type": JSON_CONTENT_TYPE, **(headers or {})}
        )

    @classmethod
    def raw(
        cls,
        body: bytes,
        status: int = 200,
        content_type: str = "application/octet-stream",
        headers: Mapping[str, str] | None = None,
    ) -> Response:
        return cls(status, body, {"Content-Type": content_type, **(headers or {})})


def retry_after_value(seconds: float) -> str:
    """Retry-After as RFC 9110 delay-seconds: a whole number, rounded up so a client that waits
    as told is never early (to the millisecond first, so float noise does not add a second)."""
    return str(math.ceil(round(seconds, 3)))


Handler = Callable[[Request], Response]


@dataclass(frozen=True, slots=True)
class Route:
    method: str
    pattern: str
    handler: Handler
    data: bool  # a data endpoint: faults apply (auth endpoints only when configured)
    regex: re.Pattern[str]


class Router:
    def __init__(self) -> None:
        self._routes: list[Route] = []

    def add(self, method: str, pattern: str, handler: Handler, *, data: bool = True) -> None:
        """Register `handler` for `method` on `pattern` (e.g. "/items/{item_id}")."""
        regex_parts = []
        for i, part in enumerate(re.split(r"\{(\w+)\}", pattern)):
            regex_parts.append(f"(?P<{part}>[^/]+)" if i % 2 else re.escape(part))
        regex = re.compile("".join(regex_parts))
        self._routes.append(Route(method.upper(), pattern, handler, data, regex))

    def match(self, method: str, path: str) -> tuple[Route, dict[str, str]] | None:
        for route in self._routes:
            if route.method != method:
                continue
            found = route.regex.fullmatch(path)
            if found:
                return route, {k: unquote(v) for k, v in found.groupdict().items()}
        return None


class App:
    """Base of a sandbox app: its router and the hooks where a source's wire contract differs."""

    def __init__(self) -> None:
        self.router = Router()

    def account_of(self, request: Request) -> str | None:
        """The account a request is for (logged, and available to handlers as request.account)."""
        return None

    def not_found(self, request: Request) -> Response:
        return Response.json({"error": "not found", "path": request.path}, status=404)

    def fault_response(self, request: Request, status: int) -> Response:
        """An injected 429 or 5xx (or a handler that raised: 500) in the source's error shape.
        The server adds Retry-After to injected 429s when configured."""
        return Response.json({"error": HTTPStatus(status).phrase}, status=status)
