"""The Zoho sandbox embedded in ledgersync: `sandbox: embedded` connections and `sandbox serve`."""

from __future__ import annotations

from sandbox.embedded import EMBEDDED_LEDGER, EMBEDDED_REQUESTS_PER_MINUTE, EmbeddedSandbox
from sandbox.replay import Replay
from sandbox.server import SandboxServer

from .app import ZohoBooksApp, start_zoho_sandbox
from .config import OAuthClient, ZohoConfig
from .testing import TESTING

__all__ = ["EMBEDDED"]


def _start(account: str, replay: Replay | None) -> SandboxServer[ZohoBooksApp]:
    config = ZohoConfig(
        organizations=(account,),
        client=OAuthClient(),
        rate_limit=EMBEDDED_REQUESTS_PER_MINUTE,
        daily_cap=10_000_000,
        ledger_size=EMBEDDED_LEDGER,
        replays={account: replay} if replay else {},
    )
    return start_zoho_sandbox(config)


def _settings(server: SandboxServer[ZohoBooksApp], account: str) -> dict[str, object]:
    client = server.app.config.client
    return {
        "organization_id": server.app.organization_id(account),
        "client_id": client.client_id,
        "client_secret": client.client_secret,
        "refresh_token": client.refresh_token,
        "api_url": f"{server.url}/books/v3",
        "accounts_url": server.url,
        "requests_per_minute": EMBEDDED_REQUESTS_PER_MINUTE,
    }


def _serve(
    accounts: tuple[str, ...], port: int, replay: Replay | None
) -> tuple[SandboxServer[ZohoBooksApp], str]:
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


EMBEDDED = EmbeddedSandbox(
    source="zoho_books",
    port=8801,
    start=_start,
    settings=_settings,
    serve=_serve,
    testing=TESTING,
)
