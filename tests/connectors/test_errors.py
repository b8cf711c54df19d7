from __future__ import annotations

import copy
import pickle

import pytest

from connectors.errors import (
    ApiError,
    AuthenticationError,
    ConfigurationError,
    ConnectorError,
    NotFoundError,
    PaginationError,
    PayloadError,
    RateLimitedError,
    ServerError,
    TransportError,
)

URL = "https://host/books/v3/invoices?organization_id=123&page=3"


def full_error() -> AuthenticationError:
    return AuthenticationError(
        "You are not authorized to perform this operation.",
        source="zoho_books",
        connection_id="acme-us",
        stream="invoices",
        method="GET",
        url=URL,
        status_code=401,
        body_excerpt='{"code":57,"message":"You are not authorized"}',
        hint="check ZOHO_BOOKS_REFRESH_TOKEN.",
    )


def test_message_names_everything_in_order() -> None:
    assert str(full_error()) == (
        f"zoho_books connection 'acme-us', stream invoices: GET {URL} answered 401: "
        "You are not authorized to perform this operation. "
        'Body: {"code":57,"message":"You are not authorized"}. '
        "Fix: check ZOHO_BOOKS_REFRESH_TOKEN"
    )


def test_message_omits_absent_parts() -> None:
    error = ConfigurationError("base URL is missing", source="carbon", connection_id="c1")
    assert str(error) == "carbon connection 'c1': base URL is missing"


def test_transport_error_message_has_url_but_no_status() -> None:
    error = TransportError(
        "ReadTimeout: timed out",
        source="simpro",
        connection_id="build-1",
        stream="customers",
        method="GET",
        url="https://b.simprosuite.com/api/v1.0/companies/0/customers/",
        hint="check network access",
    )
    assert str(error) == (
        "simpro connection 'build-1', stream customers: "
        "GET https://b.simprosuite.com/api/v1.0/companies/0/customers/: ReadTimeout: timed out. "
        "Fix: check network access"
    )


def test_with_stream_sets_a_missing_stream_and_returns_the_same_error() -> None:
    error = PayloadError("bad", source="carbon", connection_id="c1")
    assert error.with_stream("payments") is error
    assert error.stream == "payments"
    assert error.with_stream("invoices").stream == "payments"  # never overwritten
    assert "stream payments" in str(error)


def test_with_stream_in_a_stream_runner() -> None:
    def run_stream() -> None:
        try:
            raise PaginationError("loop", source="carbon", connection_id="c1")
        except ConnectorError as error:
            raise error.with_stream("customers") from None

    with pytest.raises(PaginationError, match="stream customers: loop"):
        run_stream()


@pytest.mark.parametrize(
    ("cls", "parent"),
    [
        (ConfigurationError, ConnectorError),
        (ApiError, ConnectorError),
        (AuthenticationError, ApiError),
        (NotFoundError, ApiError),
        (RateLimitedError, ApiError),
        (ServerError, ApiError),
        (TransportError, ConnectorError),
        (PaginationError, ConnectorError),
        (PayloadError, ConnectorError),
        (ConnectorError, Exception),
    ],
)
def test_hierarchy(cls: type[Exception], parent: type[Exception]) -> None:
    assert issubclass(cls, parent)


def test_errors_survive_pickle_and_copy() -> None:
    error = full_error()
    for clone in (pickle.loads(pickle.dumps(error)), copy.copy(error)):
        assert type(clone) is AuthenticationError
        assert str(clone) == str(error)
        assert clone.status_code == 401 and clone.stream == "invoices"
