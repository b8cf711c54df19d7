"""Entra ID's client-credentials grant (`POST /{tenant}/oauth2/v2.0/token`) and its tokens.

Refusals are Entra-shaped: `{"error", "error_description": "AADSTS…: …", "error_codes", …}`,
HTTP 401 for a wrong client secret, 400 for the rest.
"""

from __future__ import annotations

import base64
import hashlib
import threading
import uuid
from collections.abc import Mapping
from datetime import UTC, datetime

from sandbox.business_central.config import BusinessCentralConfig

SCOPE = "https://api.businesscentral.dynamics.com/.default"


class TokenStore:
    def __init__(self, config: BusinessCentralConfig) -> None:
        self._config = config
        self._lock = threading.Lock()
        self._expiry: dict[str, float] = {}
        self.requests = 0  # token endpoint calls, good or bad

    def grant(self, tenant: str, form: Mapping[str, str | None]) -> tuple[int, dict[str, object]]:
        """HTTP status and body for a POST to /{tenant}/oauth2/v2.0/token."""
        with self._lock:
            self.requests += 1
            serial = self.requests
        config, app = self._config, self._config.app
        if tenant != config.tenant:
            return _refusal(
                400,
                "invalid_request",
                90002,
                f"Tenant '{tenant}' not found. Check to make sure you have the correct tenant ID "
                "and are signing into the correct cloud.",
            )
        if form.get("grant_type") != "client_credentials":
            return _refusal(
                400,
                "unsupported_grant_type",
                70003,
                f"The app requested an unsupported grant type '{form.get('grant_type') or ''}'.",
            )
        if form.get("client_id") != app.client_id:
            return _refusal(
                400,
                "unauthorized_client",
                700016,
                f"Application with identifier '{form.get('client_id') or ''}' was not found in "
                f"the directory '{tenant}'.",
            )
        if form.get("client_secret") != app.client_secret:
            return _refusal(
                401,
                "invalid_client",
                7000215,
                "Invalid client secret provided. Ensure the secret being sent in the request is "
                f"the client secret value, not the client secret ID, for a secret added to app "
                f"'{app.client_id}'.",
            )
        if form.get("scope") != SCOPE:
            return _refusal(
                400,
                "invalid_scope",
                1002012,
                f"The provided value for scope {form.get('scope') or ''} is not valid. Client "
                "credential flows must have a scope value with /.default suffixed to the "
                "resource identifier (application ID URI).",
            )
        token = _jwt_like(app.client_id, serial)
        with self._lock:
            self._expiry[token] = config.clock() + config.expires_in
        return 200, {
            "token_type": "Bearer",
            "expires_in": config.expires_in,
            "ext_expires_in": config.expires_in,
            "access_token": token,
        }

    def is_valid(self, token: str) -> bool:
        with self._lock:
            expiry = self._expiry.get(token)
        return expiry is not None and self._config.clock() < expiry

    def expire_all(self) -> None:
        """Every token issued so far stops working (as if its hour were up)."""
        with self._lock:
            self._expiry.clear()


def _refusal(status: int, error: str, code: int, message: str) -> tuple[int, dict[str, object]]:
    trace, correlation = uuid.uuid4(), uuid.uuid4()
    stamp = datetime.now(UTC).strftime("%Y-%m-%d %H:%M:%SZ")
    return status, {
        "error": error,
        "error_description": f"AADSTS{code}: {message} Trace ID: {trace} Correlation ID: "
        f"{correlation} Timestamp: {stamp}",
        "error_codes": [code],
        "timestamp": stamp,
        "trace_id": str(trace),
        "correlation_id": str(correlation),
    }


def _jwt_like(client_id: str, serial: int) -> str:
    """Three base64url parts, as an Entra access token looks (the sandbox never decodes it)."""

    def part(text: str) -> str:
        return base64.urlsafe_b64encode(text.encode()).decode().rstrip("=")

    signature = hashlib.sha256(f"{client_id}:{serial}".encode()).hexdigest()
    return ".".join(
        (
            part('{"typ":"JWT","alg":"RS256"}'),
            part(f'{{"aud":"https://api.businesscentral.dynamics.com","appid":"{client_id}"}}'),
            part(signature),
        )
    )
