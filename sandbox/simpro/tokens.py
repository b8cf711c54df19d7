"""Simpro's OAuth2 token endpoint (`POST {build}/oauth2/token`, client-credentials grant) and
the access tokens it issues. Bad client credentials are HTTP 400 `invalid_client`, not 401."""

from __future__ import annotations

import hashlib
import threading
from collections.abc import Callable, Mapping

from sandbox.simpro.config import OAuthClient


class TokenStore:
    def __init__(self, client: OAuthClient, expires_in: int, clock: Callable[[], float]) -> None:
        self._client = client
        self._expires_in = expires_in
        self._clock = clock
        self._lock = threading.Lock()
        self._expiry: dict[str, float] = {}
        self.requests = 0  # token endpoint calls, good or bad

    def grant(self, form: Mapping[str, str | None]) -> tuple[int, dict[str, object]]:
        """HTTP status and body for a token request."""
        with self._lock:
            self.requests += 1
            serial = self.requests
        if form.get("grant_type") != "client_credentials":
            return 400, {
                "error": "unsupported_grant_type",
                "error_description": "The authorization grant type is not supported.",
            }
        if (form.get("client_id"), form.get("client_secret")) != (
            self._client.client_id,
            self._client.client_secret,
        ):
            return 400, {
                "error": "invalid_client",
                "error_description": "Client authentication failed.",
            }
        token = hashlib.sha256(f"{self._client.client_id}:{serial}".encode()).hexdigest()
        with self._lock:
            self._expiry[token] = self._clock() + self._expires_in
        return 200, {
            "access_token": token,
            "token_type": "Bearer",
            "expires_in": self._expires_in,
            "scope": None,
        }

    def is_valid(self, token: str) -> bool:
        with self._lock:
            expiry = self._expiry.get(token)
        return expiry is not None and self._clock() < expiry
