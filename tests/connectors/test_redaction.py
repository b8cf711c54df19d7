from __future__ import annotations

import pytest

from connectors.redaction import REDACTED, Redactor, body_excerpt, is_secret_name, redact_url


@pytest.mark.parametrize(
    "name",
    [
        "token",
        "access_token",
        "refresh_token",
        "client_secret",
        "secret",
        "key",
        "api_key",
        "apikey",
        "API-Key",
        "password",
        "code",
        "signature",
        "X-Amz-Signature",
        "apiKey",
    ],
)
def test_secret_names(name: str) -> None:
    assert is_secret_name(name)


@pytest.mark.parametrize(
    "name", ["organization_id", "page", "per_page", "$skiptoken", "order", "limit", "columns"]
)
def test_ordinary_names(name: str) -> None:
    assert not is_secret_name(name)


def test_redact_url_blanks_only_secret_values() -> None:
    url = (
        "https://host/v3/invoices?organization_id=123&access_token=abc%2Fdef&page=3"
        "&client_secret=s3cr3t&$skiptoken='x'&flag"
    )
    assert redact_url(url) == (
        "https://host/v3/invoices?organization_id=123&access_token=REDACTED&page=3"
        "&client_secret=REDACTED&$skiptoken='x'&flag"
    )


def test_redact_url_blanks_userinfo_password() -> None:
    assert redact_url("https://svc:hunter2@host/api?page=1") == (
        f"https://svc:{REDACTED}@host/api?page=1"
    )


def test_redact_url_leaves_a_plain_url_alone() -> None:
    url = "https://api.businesscentral.dynamics.com/v2.0/t/production/api/v2.0/companies"
    assert redact_url(url) == url


def test_redactor_replaces_known_secrets_and_their_url_encoding() -> None:
    redactor = Redactor(["s3cr3t/+=", None, ""])
    redactor.add("tok-123")
    text = "secret s3cr3t/+= encoded s3cr3t%2F%2B%3D token tok-123 tok-12"
    assert redactor(text) == f"secret {REDACTED} encoded {REDACTED} token {REDACTED} tok-12"


def test_redactor_prefers_the_longest_secret() -> None:
    redactor = Redactor(["abc", "abcdef"])
    assert redactor("xabcdefx") == f"x{REDACTED}x"


def test_body_excerpt_truncates_flattens_and_redacts_before_truncating() -> None:
    secret = "S" * 40
    body = ("x" * 280 + secret + "y" * 100).encode()
    excerpt = body_excerpt(body, redactor=Redactor([secret]))
    assert len(excerpt) == 300 and excerpt.endswith("…")
    assert "S" not in excerpt and REDACTED[:10] in excerpt
    assert body_excerpt(b"line one\n   line two") == "line one line two"


def test_body_excerpt_blanks_secret_json_fields_but_keeps_error_codes() -> None:
    body = b'{"access_token": "eyJ.abc", "code": "PGRST301", "message": "JWT expired"}'
    assert body_excerpt(body) == (
        '{"access_token": "REDACTED", "code": "PGRST301", "message": "JWT expired"}'
    )


def test_body_excerpt_survives_invalid_utf8() -> None:
    assert body_excerpt(b"\xff\xfe ok") == "\ufffd\ufffd ok"
