"""Zoho Accounts' refresh-token grant and the access tokens it issues.

Bad credentials are answered HTTP 200 with an `error` field, as Zoho does; too many grants in a
window (when `token_limit` is set) get HTTP 400 "Access Denied", which is why clients must cache
access tokens. With `rotate_refresh_tokens`, each grant answers with a new refresh token and
revokes the one it used.
"""

from __future__ import annotations

import hashlib
import threading
from collections.abc import Mapping

from sandbox.ratewindow import RateWindow
from sandbox.zoho_books.config import ZohoConfig

SCOPE = (
    "ZohoBooks.contacts.READ ZohoBooks.invoices.READ "
    "ZohoBooks.customerpayments.READ ZohoBooks.settings.READ"
)
TOO_MANY_GRANTS = {
    "error": "Access Denied",
    "error_description": (
        "You have made too many requests continuously. Please try again after some time."
    ),
    "status": "failure",
}


class TokenStore:
    def __init__(self, config: ZohoConfig) -> None:
        self._client = config.client
        self._expires_in = config.expires_in
        self._clock = config.clock
        self._grants = (
            RateWindow(config.token_limit, config.token_window_s, clock=config.clock)
            if config.token_limit is not None
            else None
        )
        self._rotate = config.rotate_refresh_tokens
        self._lock = threading.Lock()
        self._expiry: dict[str, float] = {}
        self.refresh_token = config.client.refresh_token  # the one the next grant must bring
        self._rotated: list[str] = []
        self.requests = 0  # token endpoint calls, good or bad

    def grant(
        self, form: Mapping[str, str | None], api_domain: str
    ) -> tuple[int, dict[str, object]]:
        """HTTP status and body for a POST to /oauth/v2/token."""
        with self._lock:
            self.requests += 1
            serial = self.requests
        client = self._client
        if form.get("grant_type") != "refresh_token":
            return 200, {"error": "unsupported_grant_type"}
        if form.get("client_id") != client.client_id:
            return 200, {"error": "invalid_client"}
        if form.get("client_secret") != client.client_secret:
            return 200, {"error": "invalid_client_secret"}
        if form.get("refresh_token") != self.refresh_token:
            return 200, {"error": "invalid_code"}
        if self._grants is not None and not self._grants.hit(client.client_id).allowed:
            return 400, dict(TOO_MANY_GRANTS)
        digest = hashlib.sha256(f"{client.client_id}:{serial}".encode()).hexdigest()
        token = f"1000.{digest[:32]}.{digest[32:]}"
        body: dict[str, object] = {
            "access_token": token,
            "scope": SCOPE,
            "api_domain": api_domain,
            "token_type": "Bearer",
            "expires_in": self._expires_in,
        }
        with self._lock:
            if form.get("refresh_token") != self.refresh_token:  # rotated by a concurrent grant
                return 200, {"error": "invalid_code"}
            self._expiry[token] = self._clock() + self._expires_in
            if self._rotate:
                rotated = hashlib.sha256(f"refresh:{token}".encode()).hexdigest()
                self.refresh_token = f"1000.{rotated[:32]}.{rotated[32:]}"
                self._rotated.append(self.refresh_token)
                body["refresh_token"] = self.refresh_token
        return 200, body

    def issued(self) -> list[str]:
        """Every access and rotated refresh token granted so far (for tests that look for
        leaked secrets)."""
        with self._lock:
            return [*self._expiry, *self._rotated]

    def is_valid(self, token: str) -> bool:
        with self._lock:
            expiry = self._expiry.get(token)
        return expiry is not None and self._clock() < expiry
