"""The Carbon sandbox in tests: each company's API key in an environment variable of its own,
and a connections-file entry naming it."""

from __future__ import annotations

import re

from sandbox.server import SandboxServer
from sandbox.testing import TEST_REQUESTS_PER_MINUTE, SandboxTesting

from .app import CarbonApp, start_carbon_sandbox
from .config import CarbonConfig

__all__ = ["TESTING", "carbon_connection", "carbon_key_env"]


def carbon_key_env(company: str) -> str:
    return "CARBON_KEY_" + re.sub(r"[^A-Z0-9]", "_", company.upper())


def _keys(server: SandboxServer[CarbonApp]) -> dict[str, str]:
    return {
        carbon_key_env(company): server.app.api_key(company)
        for company in server.app.config.companies
    }


# `carbon_sandbox(companies=(...), ledger_size={...}, ...)`; each company's API key is put in
# the environment variable `carbon_key_env(company)` names.
TESTING = SandboxTesting(
    fixture="carbon_sandbox",
    start=start_carbon_sandbox,
    config_type=CarbonConfig,
    defaults={"rate_limit": TEST_REQUESTS_PER_MINUTE},
    environment={},
    server_environment=_keys,
)


def carbon_connection(server: SandboxServer[CarbonApp], company: str, **extra: object) -> dict:
    """A connection to one sandbox company; its name must be a valid connection id."""
    return {
        "id": company,
        "source": "carbon",
        "api_url": server.url,
        "api_key_env": carbon_key_env(company),
        "requests_per_minute": TEST_REQUESTS_PER_MINUTE,
        **extra,
    }
