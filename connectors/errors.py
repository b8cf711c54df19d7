"""Errors raised by connectors.

One hierarchy, so a caller can write ``except ConnectorError``::

    ConnectorError
     ├── ConfigurationError    missing secret, bad base URL, bad setting, foreign-host link
     ├── ApiError              an HTTP status the retry loop will not, or can no longer, retry
     │    ├── AuthenticationError   401/403, token endpoint refusals
     │    ├── NotFoundError         404
     │    ├── RateLimitedError      429 beyond the retry budget, or a Retry-After too long to wait
     │    └── ServerError           5xx beyond the retry budget
     ├── TransportError        connect/read errors and timeouts beyond the retry budget
     ├── PaginationError       a paging loop, or paging that contradicts itself
     └── PayloadError          a body that is not JSON, or not the expected shape

Every error names the source, the connection and, once known, the stream, so its message alone
says where to look. Attributes are set by keyword; values must already be redacted (see
`connectors.redaction`): an error never redacts for you.
"""

from __future__ import annotations

from typing import Any, Self

__all__ = [
    "ApiError",
    "AuthenticationError",
    "ConfigurationError",
    "ConnectorError",
    "NotFoundError",
    "PaginationError",
    "PayloadError",
    "RateLimitedError",
    "ServerError",
    "TransportError",
]


class ConnectorError(Exception):
    """Base class; ``str(error)`` is a complete one-line diagnosis.

    Example: ``zoho_books connection 'acme-us', stream invoices: GET https://host/books/v3/invoices
    ?organization_id=123&page=3 answered 401: You are not authorized. Body: {...}. Fix: ...``
    """

    def __init__(
        self,
        message: str,
        *,
        source: str,
        connection_id: str,
        stream: str | None = None,
        method: str | None = None,
        url: str | None = None,
        status_code: int | None = None,
        body_excerpt: str | None = None,
        hint: str | None = None,
    ) -> None:
        super().__init__(message)
        self.message = message
        self.source = source
        self.connection_id = connection_id
        self.stream = stream
        self.method = method
        self.url = url
        self.status_code = status_code
        self.body_excerpt = body_excerpt
        self.hint = hint

    def with_stream(self, stream: str) -> Self:
        """Set the stream name unless one is already set; returns the same error.

        For a stream runner: ``except ConnectorError as e: raise e.with_stream(name)``.
        """
        if self.stream is None:
            self.stream = stream
        return self

    def __str__(self) -> str:
        where = f"{self.source} connection {self.connection_id!r}"
        if self.stream:
            where += f", stream {self.stream}"
        what = self.message.rstrip(". ")
        if self.url:
            request = f"{self.method} {self.url}" if self.method else self.url
            if self.status_code is not None:
                request += f" answered {self.status_code}"
            what = f"{request}: {what}"
        text = f"{where}: {what}"
        if self.body_excerpt:
            text += f". Body: {self.body_excerpt}"
        if self.hint:
            text += f". Fix: {self.hint.rstrip('. ')}"
        return text

    def __reduce__(self) -> tuple[Any, ...]:
        # The keyword-only constructor defeats Exception's default pickling (and copy.copy);
        # rebuild from the attributes so errors survive process and thread-pool boundaries.
        return (_rebuild, (type(self), self.message, dict(self.__dict__)))


def _rebuild(cls: type[ConnectorError], message: str, state: dict[str, Any]) -> ConnectorError:
    error = cls.__new__(cls)
    Exception.__init__(error, message)
    error.__dict__.update(state)
    return error


class ConfigurationError(ConnectorError):
    """The connection is misconfigured: a missing secret, a bad base URL or setting."""


class ApiError(ConnectorError):
    """The API answered with a status that is not retried (any more)."""


class AuthenticationError(ApiError):
    """401/403 from the API, or the token endpoint refused the credentials."""


class NotFoundError(ApiError):
    """404: wrong base URL, organization, company or path."""


class RateLimitedError(ApiError):
    """429 after the retry budget, or the source asked to wait longer than we may."""


class ServerError(ApiError):
    """5xx after the retry budget."""


class TransportError(ConnectorError):
    """The request never got an answer (connect/read error, timeout) within the retry budget."""


class PaginationError(ConnectorError):
    """Paging looped (a repeated page, token or link) or contradicted itself."""


class PayloadError(ConnectorError):
    """The body is not JSON, or not the shape the stream expects."""
