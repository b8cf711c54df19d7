"""Embedded sandboxes: local servers started in this process for `sandbox: embedded` connections.

Each embedded account gets its own server on a free loopback port, started on first use and
kept for the life of the process. Its ledger is generated from the account's name (the
connection id). The connector only ever sees a base URL and credentials.
"""

from __future__ import annotations

import threading
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

from pipelines.config import ConfigError
from sandbox.business_central.app import start_business_central_sandbox
from sandbox.business_central.config import BusinessCentralConfig
from sandbox.carbon.app import start_carbon_sandbox
from sandbox.carbon.config import CarbonConfig
from sandbox.replay import LedgerFileError, Replay, load_replay
from sandbox.server import SandboxServer
from sandbox.simpro.app import start_simpro_sandbox
from sandbox.simpro.config import SimproConfig
from sandbox.zoho_books.app import start_zoho_sandbox
from sandbox.zoho_books.config import OAuthClient, ZohoConfig

__all__ = [
    "EMBEDDED_REQUESTS_PER_MINUTE",
    "BusinessCentralAccount",
    "business_central_account",
    "CarbonAccount",
    "carbon_account",
    "serve_carbon",
    "serve_business_central",
    "serve_ledger",
    "ledger_file",
    "SERVE",
    "EMBEDDED_REQUESTS_PER_SECOND",
    "SimproAccount",
    "serve_simpro",
    "simpro_account",
    "ZohoBooksAccount",
    "serve_zoho_books",
    "zoho_books_account",
]

# The embedded sandboxes allow more than the real services so the demo finishes in seconds;
# connections to them are configured with the same budget, so no 429 is ever needed.
EMBEDDED_REQUESTS_PER_MINUTE = 60_000
EMBEDDED_REQUESTS_PER_SECOND = 1_000
# Every embedded ledger also has payments whose applications its source does not serve, so the
# demo has cash to apply (sandbox/cash_cases.py).
EMBEDDED_LEDGER = {"cash_cases": 22}

_lock = threading.Lock()
_servers: dict[tuple[str, str, str], SandboxServer] = {}


@dataclass(frozen=True)
class ZohoBooksAccount:
    api_url: str
    accounts_url: str
    organization_id: str
    client_id: str
    client_secret: str
    refresh_token: str


def serve_zoho_books(
    accounts: tuple[str, ...], port: int, replay: Replay | None = None
) -> tuple[SandboxServer, str]:
    """A Zoho sandbox on a fixed port, and how to talk to it with curl; with `replay`, its
    first account serves that ledger file."""
    client = OAuthClient()
    replays = {accounts[0]: replay} if replay else {}
    config = ZohoConfig(organizations=accounts, client=client, replays=replays)
    server = start_zoho_sandbox(config, port=port)
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


def _embedded(
    source: str, account: str, start: Callable[[], SandboxServer], ledger: Path | None = None
) -> SandboxServer:
    """The account's embedded server (one per ledger file it serves), started by `start` on
    first use."""
    key = (source, account, str(ledger.resolve()) if ledger else "")
    with _lock:
        server = _servers.get(key)
        if server is None:
            server = _servers[key] = start()
    return server


def zoho_books_account(account: str, ledger: Path | None = None) -> ZohoBooksAccount:
    """The account's organization; with `ledger`, serving that ledger file."""
    client = OAuthClient()
    replays = {account: ledger_file(ledger, source="zoho_books")} if ledger else {}
    config = ZohoConfig(
        organizations=(account,),
        client=client,
        rate_limit=EMBEDDED_REQUESTS_PER_MINUTE,
        daily_cap=10_000_000,
        ledger_size=EMBEDDED_LEDGER,
        replays=replays,
    )
    server = _embedded("zoho_books", account, lambda: start_zoho_sandbox(config), ledger)
    return ZohoBooksAccount(
        api_url=f"{server.url}/books/v3",
        accounts_url=server.url,
        organization_id=server.app.organization_id(account),
        client_id=client.client_id,
        client_secret=client.client_secret,
        refresh_token=client.refresh_token,
    )


@dataclass(frozen=True)
class BusinessCentralAccount:
    api_url: str  # + /{tenant}/{environment}/api/v2.0
    authority_url: str  # + /{tenant}/oauth2/v2.0/token
    tenant: str
    environment: str
    company_id: str
    client_id: str
    client_secret: str


def serve_business_central(
    accounts: tuple[str, ...], port: int, replay: Replay | None = None
) -> tuple[SandboxServer, str]:
    """A Business Central sandbox (one company per account) on a fixed port, and curl; with
    `replay`, its first company serves that ledger file."""
    config = BusinessCentralConfig(
        companies=accounts, replays={accounts[0]: replay} if replay else {}
    )
    server = start_business_central_sandbox(config, port=port)
    api = f"{server.url}/v2.0/{config.tenant}/{config.environment}/api/v2.0"
    company = server.app.company_id(accounts[0])
    guide = (
        f"TOKEN=$(curl -s -X POST {server.url}/{config.tenant}/oauth2/v2.0/token "
        f"-d grant_type=client_credentials -d client_id={config.app.client_id} "
        f"-d client_secret={config.app.client_secret} "
        "-d scope=https://api.businesscentral.dynamics.com/.default | python3 -c 'import json,"
        'sys; print(json.load(sys.stdin)["access_token"])\')\n'
        f'curl -s -H "Authorization: Bearer $TOKEN" -H "Prefer: odata.maxpagesize=5" '
        f'"{api}/companies({company})/salesInvoices"'
    )
    return server, guide


def business_central_account(account: str, ledger: Path | None = None) -> BusinessCentralAccount:
    """One company, named after the account, on its own server; with `ledger`, serving that
    ledger file."""
    replays = {account: ledger_file(ledger, source="business_central")} if ledger else {}
    config = BusinessCentralConfig(
        companies=(account,),
        rate_limit=EMBEDDED_REQUESTS_PER_MINUTE * 5,
        ledger_size=EMBEDDED_LEDGER,
        replays=replays,
    )
    server = _embedded(
        "business_central", account, lambda: start_business_central_sandbox(config), ledger
    )
    return BusinessCentralAccount(
        api_url=f"{server.url}/v2.0",
        authority_url=server.url,
        tenant=config.tenant,
        environment=config.environment,
        company_id=server.app.company_id(account),
        client_id=config.app.client_id,
        client_secret=config.app.client_secret,
    )


@dataclass(frozen=True)
class SimproAccount:
    build_url: str  # + /api/v1.0
    company_id: int
    api_key: str


def serve_simpro(
    accounts: tuple[str, ...], port: int, replay: Replay | None = None
) -> tuple[SandboxServer, str]:
    """A Simpro build (one company per account) on a fixed port, and curl; with `replay`, its
    first company serves that ledger file."""
    config = SimproConfig(companies=accounts, replays={accounts[0]: replay} if replay else {})
    server = start_simpro_sandbox(config, port=port)
    guide = (
        f'curl -s -H "Authorization: Bearer {config.api_keys[0]}" '
        f'"{server.url}/api/v1.0/companies/0/customerPayments/'
        '?columns=ID,Payment,Invoices,DateModified&pageSize=5"'
    )
    return server, guide


def simpro_account(account: str, ledger: Path | None = None) -> SimproAccount:
    """One company, named after the account, on its own build; with `ledger`, serving that
    ledger file."""
    replays = {account: ledger_file(ledger, source="simpro")} if ledger else {}
    config = SimproConfig(
        companies=(account,),
        rate_limit=EMBEDDED_REQUESTS_PER_SECOND,
        ledger_size=EMBEDDED_LEDGER,
        replays=replays,
    )
    server = _embedded("simpro", account, lambda: start_simpro_sandbox(config), ledger)
    return SimproAccount(build_url=server.url, company_id=0, api_key=config.api_keys[0])


@dataclass(frozen=True)
class CarbonAccount:
    api_url: str
    api_key: str


def serve_carbon(
    accounts: tuple[str, ...], port: int, replay: Replay | None = None
) -> tuple[SandboxServer, str]:
    """A Carbon sandbox (one company and API key per account) on a fixed port, and curl; with
    `replay`, its first company serves that ledger file."""
    replays = {accounts[0]: replay} if replay else {}
    server = start_carbon_sandbox(CarbonConfig(companies=accounts, replays=replays), port=port)
    guide = (
        f'curl -s -H "Authorization: Bearer {server.app.api_key(accounts[0])}" '
        '-H "Prefer: count=exact" -D - '
        f'"{server.url}/salesInvoices?select=id,invoiceId,status,balance&order=id.asc&limit=5"'
    )
    return server, guide


def carbon_account(account: str, ledger: Path | None = None) -> CarbonAccount:
    """One company, named after the account, on its own server; with `ledger`, serving that
    ledger file."""
    replays = {account: ledger_file(ledger, source="carbon")} if ledger else {}
    config = CarbonConfig(
        companies=(account,),
        rate_limit=EMBEDDED_REQUESTS_PER_MINUTE,
        ledger_size=EMBEDDED_LEDGER,
        replays=replays,
    )
    server = _embedded("carbon", account, lambda: start_carbon_sandbox(config), ledger)
    return CarbonAccount(api_url=server.url, api_key=server.app.api_key(account))


def ledger_file(path: Path, source: str | None = None) -> Replay:
    """The ledger file at `path` (of `source`, if given); a ConfigError if it cannot be served."""
    try:
        return load_replay(path, source=source)
    except LedgerFileError as error:
        raise ConfigError(str(error)) from None


def serve_ledger(replay: Replay) -> tuple[SandboxServer, str]:
    """The sandbox of a ledger file's source on its fixed port, serving the file."""
    port, serve = SERVE[replay.source]
    return serve((replay.account,), port, replay)


# `ledgersync sandbox serve`: source → (fixed port, server starter).
SERVE = {
    "zoho_books": (8801, serve_zoho_books),
    "business_central": (8802, serve_business_central),
    "simpro": (8803, serve_simpro),
    "carbon": (8804, serve_carbon),
}
