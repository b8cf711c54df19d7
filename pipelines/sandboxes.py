"""Embedded sandboxes: local servers started in this process for `sandbox: embedded` connections.

Each embedded account gets its own server on a free loopback port, started on first use and
kept for the life of the process. Its ledger is generated from the account's name (the
connection id). The connector only ever sees a base URL and credentials.
"""

from __future__ import annotations

import threading
from dataclasses import dataclass

from sandbox.server import SandboxServer
from sandbox.zoho_books.app import start_zoho_sandbox
from sandbox.zoho_books.config import OAuthClient, ZohoConfig

__all__ = [
    "EMBEDDED_REQUESTS_PER_MINUTE",
    "SERVE",
    "ZohoBooksAccount",
    "serve_zoho_books",
    "zoho_books_account",
]

# The embedded sandboxes allow more than the real services so the demo finishes in seconds;
# connections to them are configured with the same budget, so no 429 is ever needed.
EMBEDDED_REQUESTS_PER_MINUTE = 60_000

_lock = threading.Lock()
_servers: dict[tuple[str, str], SandboxServer] = {}


@dataclass(frozen=True)
class ZohoBooksAccount:
    api_url: str
    accounts_url: str
    organization_id: str
    client_id: str
    client_secret: str
    refresh_token: str


def serve_zoho_books(accounts: tuple[str, ...], port: int) -> tuple[SandboxServer, str]:
    """A Zoho sandbox on a fixed port, and how to talk to it with curl."""
    client = OAuthClient()
    server = start_zoho_sandbox(ZohoConfig(organizations=accounts, client=client), port=port)
    org = server.app.organization_id(accounts[0])
    guide = (
        f"TOKEN=$(curl -s -X POST {server.url}/oauth/v2/token -d grant_type=refresh_token "
        f"-d refresh_token={client.refresh_token} -d client_id={client.client_id} "
        f"-d client_secret={client.client_secret} | python3 -c 'import json,sys; "
        'print(json.load(sys.stdin)["access_token"])\')\n'
        f'curl -s -H "Authorization: Zoho-oauthtoken $TOKEN" '
        f'"{server.url}/books/v3/invoices?organization_id={org}&per_page=5"'
    )
    return server, guide


def zoho_books_account(account: str) -> ZohoBooksAccount:
    client = OAuthClient()
    with _lock:
        server = _servers.get(("zoho_books", account))
        if server is None:
            server = start_zoho_sandbox(
                ZohoConfig(
                    organizations=(account,),
                    client=client,
                    rate_limit=EMBEDDED_REQUESTS_PER_MINUTE,
                    daily_cap=10_000_000,
                )
            )
            _servers[("zoho_books", account)] = server
    return ZohoBooksAccount(
        api_url=f"{server.url}/books/v3",
        accounts_url=server.url,
        organization_id=server.app.organization_id(account),
        client_id=client.client_id,
        client_secret=client.client_secret,
        refresh_token=client.refresh_token,
    )


# `ledgersync sandbox serve`: source → (fixed port, server starter).
SERVE = {
    "zoho_books": (8801, serve_zoho_books),
}
