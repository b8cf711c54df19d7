"""Keep secrets out of URLs, error messages and body excerpts.

Three layers, applied by `connectors.http.ApiClient` to everything it puts in an error:

* `redact_url` blanks the values of query parameters whose *name* looks secret (a token passed
  as ``?access_token=``) and the password of ``user:password@host``;
* `Redactor` blanks secrets known by *value* (the client secret, the current access token), also
  in their URL-encoded form, wherever they appear;
* `body_excerpt` additionally blanks JSON string fields with secret-looking names (a token
  endpoint echoing ``"access_token": "..."``) and then truncates, so a secret cut in half by the
  truncation was already gone.
"""

from __future__ import annotations

import re
import threading
from collections.abc import Iterable
from urllib.parse import quote, unquote_plus, urlsplit, urlunsplit

__all__ = ["EXCERPT_CHARS", "REDACTED", "Redactor", "body_excerpt", "is_secret_name", "redact_url"]

REDACTED = "REDACTED"
EXCERPT_CHARS = 300

# Names compared after lower-casing and dropping everything but letters and digits, so
# "api-key", "API_KEY" and "apiKey" are one name. Cursor-like names ("$skiptoken", "page_token")
# are not secrets and stay readable: they are what a paging error needs to show.
_SECRET_NAMES = frozenset(
    {
        "token",
        "accesstoken",
        "refreshtoken",
        "idtoken",
        "authtoken",
        "sessiontoken",
        "clientsecret",
        "secret",
        "key",
        "apikey",
        "accesskey",
        "secretkey",
        "privatekey",
        "password",
        "passwd",
        "pwd",
        "code",
        "signature",
        "sig",
        "auth",
        "authorization",
        "credential",
        "credentials",
        "assertion",
        "clientassertion",
        "carbonkey",
    }
)
_SECRET_SUFFIXES = ("secret", "password", "apikey", "accesstoken", "refreshtoken", "signature")
# In JSON bodies these names are error codes and record keys (PostgREST's "code": "PGRST301",
# BC's "error": {"code": ...}), which a diagnosis needs; in a query string they are secrets.
_NOT_SECRET_IN_JSON = frozenset({"code", "key"})

_JSON_STRING_FIELD = re.compile(r'"([A-Za-z0-9_\-]+)"(\s*:\s*)"(?:[^"\\]|\\.)*"')


def is_secret_name(name: str) -> bool:
    """Whether a parameter or field name looks like it carries a secret."""
    folded = re.sub(r"[^a-z0-9]", "", name.lower())
    return folded in _SECRET_NAMES or folded.endswith(_SECRET_SUFFIXES)


def redact_url(url: str) -> str:
    """Return `url` with secret-looking query values and any userinfo password replaced.

    Everything else is kept byte for byte, so the result still shows the page or link that failed.
    """
    parts = urlsplit(url)
    netloc = parts.netloc
    if "@" in netloc:
        userinfo, _, host = netloc.rpartition("@")
        user, has_password, _ = userinfo.partition(":")
        netloc = f"{user}:{REDACTED}@{host}" if has_password else netloc
    query = "&".join(_redact_pair(pair) for pair in parts.query.split("&")) if parts.query else ""
    return urlunsplit((parts.scheme, netloc, parts.path, query, parts.fragment))


def _redact_pair(pair: str) -> str:
    name, has_value, _ = pair.partition("=")
    if has_value and is_secret_name(unquote_plus(name)):
        return f"{name}={REDACTED}"
    return pair


class Redactor:
    """Replaces known secret strings (and their URL-encoded forms) with ``REDACTED``.

    Thread-safe; secrets may be added while other threads format errors.
    """

    def __init__(self, secrets: Iterable[str | None] = ()) -> None:
        self._lock = threading.Lock()
        self._secrets: set[str] = set()
        for secret in secrets:
            self.add(secret)

    def add(self, secret: str | None) -> None:
        """Remember `secret`; empty values are ignored."""
        if not secret:
            return
        with self._lock:
            self._secrets.add(secret)
            self._secrets.add(quote(secret, safe=""))

    def __call__(self, text: str) -> str:
        with self._lock:
            # Longest first, so a secret that contains another is replaced whole.
            secrets = sorted(self._secrets, key=len, reverse=True)
        for secret in secrets:
            text = text.replace(secret, REDACTED)
        return text


def body_excerpt(
    body: bytes | str, *, redactor: Redactor | None = None, limit: int = EXCERPT_CHARS
) -> str:
    """A redacted, single-line, at most `limit`-character excerpt of a response body."""
    # Only the head can reach the excerpt; the slack keeps any secret that starts there whole
    # (Entra access tokens run to a few kilobytes), so it is still recognised and replaced.
    head = body[: limit + 8192]
    text = head.decode("utf-8", errors="replace") if isinstance(head, bytes) else head
    text = _JSON_STRING_FIELD.sub(_redact_json_field, text)
    if redactor is not None:
        text = redactor(text)
    text = " ".join(text.split())
    return text if len(text) <= limit else text[: limit - 1] + "…"


def _redact_json_field(match: re.Match[str]) -> str:
    name, separator = match.group(1), match.group(2)
    if name.lower() not in _NOT_SECRET_IN_JSON and is_secret_name(name):
        return f'"{name}"{separator}"{REDACTED}"'
    return match.group(0)
