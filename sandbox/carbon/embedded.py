"""The Carbon sandbox embedded in ledgersync: `sandbox: embedded` connections and
`sandbox serve`."""

from __future__ import annotations

from sandbox.embedded import EMBEDDED_LEDGER, EMBEDDED_REQUESTS_PER_MINUTE, EmbeddedSandbox
from sandbox.replay import Replay
from sandbox.server import SandboxServer

from .app import CarbonApp, start_carbon_sandbox
from .config import CarbonConfig
from .testing import TESTING

__all__ = ["EMBEDDED"]


def _start(account: str, replay: Replay | None) -> SandboxServer[CarbonApp]:
    """One company, named after the account, on its own server."""
    config = CarbonConfig(
        companies=(account,),
        rate_limit=EMBEDDED_REQUESTS_PER_MINUTE,
        ledger_size=EMBEDDED_LEDGER,
        replays={account: replay} if replay else {},
    )
    return start_carbon_sandbox(config)


def _settings(server: SandboxServer[CarbonApp], account: str) -> dict[str, object]:
    return {
        "api_key": server.app.api_key(account),
        "api_url": server.url,
        "requests_per_minute": EMBEDDED_REQUESTS_PER_MINUTE,
    }


def _serve(
    accounts: tuple[str, ...], port: int, replay: Replay | None
) -> tuple[SandboxServer[CarbonApp], str]:
    replays = {accounts[0]: replay} if replay else {}
    server = start_carbon_sandbox(CarbonConfig(companies=accounts, replays=replays), port=port)
    guide = (
        f'curl -s -H "Authorization: Bearer {server.app.api_key(accounts[0])}" '
        '-H "Prefer: count=exact" -D - '
        f'"{server.url}/salesInvoices?select=id,invoiceId,status,balance&order=id.asc&limit=5"'
    )
    return server, guide


EMBEDDED = EmbeddedSandbox(
    source="carbon",
    port=8804,
    start=_start,
    settings=_settings,
    serve=_serve,
    testing=TESTING,
)
