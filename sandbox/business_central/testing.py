"""The Business Central sandbox in tests: its test app registration and a connections-file entry
reaching one of its companies."""

from __future__ import annotations

from sandbox.server import SandboxServer
from sandbox.testing import TEST_REQUESTS_PER_MINUTE, SandboxTesting

from .app import BusinessCentralApp, start_business_central_sandbox
from .config import BusinessCentralConfig, EntraApp

__all__ = ["BC_APP", "TESTING", "bc_connection"]

BC_APP = EntraApp(
    client_id="7e1c0d52-9b3a-4f8e-b6d1-0a2c4e6f8a10", client_secret="test~bc~secret~5c81"
)

# `bc_sandbox(companies=(...), ledger_size={...}, ...)`
TESTING = SandboxTesting(
    fixture="bc_sandbox",
    start=start_business_central_sandbox,
    config_type=BusinessCentralConfig,
    defaults={"app": BC_APP, "rate_limit": TEST_REQUESTS_PER_MINUTE * 5, "retry_after_5xx_s": 0.01},
    environment={"BC_CLIENT_ID": BC_APP.client_id, "BC_CLIENT_SECRET": BC_APP.client_secret},
)


def bc_connection(server: SandboxServer[BusinessCentralApp], company: str, **extra: object) -> dict:
    """A connection to one sandbox company; its name must be a valid connection id."""
    return {
        "id": company,
        "source": "business_central",
        "tenant": server.app.config.tenant,
        "environment": server.app.config.environment,
        "company_id": server.app.company_id(company),
        "api_url": f"{server.url}/v2.0",
        "authority_url": server.url,
        "requests_per_five_minutes": TEST_REQUESTS_PER_MINUTE * 5,
        **extra,
    }
