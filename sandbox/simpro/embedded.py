"""The Simpro sandbox embedded in ledgersync: `sandbox: embedded` connections and
`sandbox serve`."""

from __future__ import annotations

from sandbox.embedded import EMBEDDED_LEDGER, EMBEDDED_REQUESTS_PER_SECOND, EmbeddedSandbox
from sandbox.replay import Replay
from sandbox.server import SandboxServer

from .app import SimproApp, start_simpro_sandbox
from .config import SimproConfig
from .testing import TESTING

__all__ = ["EMBEDDED"]


def _start(account: str, replay: Replay | None) -> SandboxServer[SimproApp]:
    """One company, named after the account, on its own build."""
    config = SimproConfig(
        companies=(account,),
        rate_limit=EMBEDDED_REQUESTS_PER_SECOND,
        ledger_size=EMBEDDED_LEDGER,
        replays={account: replay} if replay else {},
    )
    return start_simpro_sandbox(config)


def _settings(server: SandboxServer[SimproApp], account: str) -> dict[str, object]:
    return {
        "build_url": server.url,
        "company_id": server.app.company_id(account),
        "api_key": server.app.config.api_keys[0],
        "requests_per_second": EMBEDDED_REQUESTS_PER_SECOND,
    }


def _serve(
    accounts: tuple[str, ...], port: int, replay: Replay | None
) -> tuple[SandboxServer[SimproApp], str]:
    config = SimproConfig(companies=accounts, replays={accounts[0]: replay} if replay else {})
    server = start_simpro_sandbox(config, port=port)
    guide = (
        f'curl -s -H "Authorization: Bearer {config.api_keys[0]}" '
        f'"{server.url}/api/v1.0/companies/0/customerPayments/'
        '?columns=ID,Payment,Invoices,DateModified&pageSize=5"'
    )
    return server, guide


EMBEDDED = EmbeddedSandbox(
    source="simpro",
    port=8803,
    start=_start,
    settings=_settings,
    serve=_serve,
    testing=TESTING,
)
