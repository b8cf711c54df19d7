"""The Zoho sandbox in tests: its test OAuth client and a connections-file entry reaching it."""

from __future__ import annotations

from sandbox.server import SandboxServer
from sandbox.testing import TEST_REQUESTS_PER_MINUTE, SandboxTesting

from .app import ZohoBooksApp, start_zoho_sandbox
from .config import OAuthClient, ZohoConfig

__all__ = ["TESTING", "ZOHO_CLIENT", "zoho_connection"]

ZOHO_CLIENT = OAuthClient(
    client_id="1000.TESTCLIENT",
    client_secret="test-secret-7f3a9",
    refresh_token="1000.test-refresh",
)

# `zoho_sandbox(organizations=(...), ledger_size={...}, ...)`
TESTING = SandboxTesting(
    fixture="zoho_sandbox",
    start=start_zoho_sandbox,
    config_type=ZohoConfig,
    defaults={
        "client": ZOHO_CLIENT,
        "rate_limit": TEST_REQUESTS_PER_MINUTE,
        "daily_cap": 10_000_000,
    },
    environment={
        "ZOHO_CLIENT_ID": ZOHO_CLIENT.client_id,
        "ZOHO_CLIENT_SECRET": ZOHO_CLIENT.client_secret,
        "ZOHO_REFRESH_TOKEN": ZOHO_CLIENT.refresh_token,
    },
)


def zoho_connection(server: SandboxServer[ZohoBooksApp], org: str, **extra: object) -> dict:
    return {
        "id": org,
        "source": "zoho_books",
        "organization_id": server.app.organization_id(org),
        "api_url": f"{server.url}/books/v3",
        "accounts_url": server.url,
        "requests_per_minute": TEST_REQUESTS_PER_MINUTE,
        **extra,
    }
