"""The Simpro sandbox in tests: its test API key and OAuth client, and a connections-file entry
reaching one company of a build."""

from __future__ import annotations

from sandbox.server import SandboxServer
from sandbox.testing import TEST_REQUESTS_PER_SECOND, SandboxTesting

from .app import SimproApp, start_simpro_sandbox
from .config import OAuthClient, SimproConfig

__all__ = ["SIMPRO_API_KEY", "SIMPRO_CLIENT", "TESTING", "simpro_connection"]

SIMPRO_API_KEY = "test-simpro-key-5e2d"
SIMPRO_CLIENT = OAuthClient("test-simpro-client", "test-simpro-secret-91c4")

# `simpro_sandbox(companies=(...), ledger_size={...}, ...)`
TESTING = SandboxTesting(
    fixture="simpro_sandbox",
    start=start_simpro_sandbox,
    config_type=SimproConfig,
    defaults={
        "api_keys": (SIMPRO_API_KEY,),
        "client": SIMPRO_CLIENT,
        "rate_limit": TEST_REQUESTS_PER_SECOND,
    },
    environment={
        "SIMPRO_API_KEY": SIMPRO_API_KEY,
        "SIMPRO_CLIENT_ID": SIMPRO_CLIENT.client_id,
        "SIMPRO_CLIENT_SECRET": SIMPRO_CLIENT.client_secret,
    },
)


def simpro_connection(server: SandboxServer[SimproApp], company: str, **extra: object) -> dict:
    """A connection to one company of a sandbox build; its name must be a valid connection id."""
    return {
        "id": company,
        "source": "simpro",
        "build_url": server.url,
        "company_id": server.app.company_id(company),
        "requests_per_second": TEST_REQUESTS_PER_SECOND,
        **extra,
    }
