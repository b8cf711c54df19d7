"""The Business Central sandbox embedded in ledgersync: `sandbox: embedded` connections and
`sandbox serve`."""

from __future__ import annotations

from sandbox.embedded import EMBEDDED_LEDGER, EMBEDDED_REQUESTS_PER_MINUTE, EmbeddedSandbox
from sandbox.replay import Replay
from sandbox.server import SandboxServer

from .app import BusinessCentralApp, start_business_central_sandbox
from .config import BusinessCentralConfig
from .testing import TESTING

__all__ = ["EMBEDDED"]


def _start(account: str, replay: Replay | None) -> SandboxServer[BusinessCentralApp]:
    """One company, named after the account, on its own server."""
    config = BusinessCentralConfig(
        companies=(account,),
        rate_limit=EMBEDDED_REQUESTS_PER_MINUTE * 5,
        ledger_size=EMBEDDED_LEDGER,
        replays={account: replay} if replay else {},
    )
    return start_business_central_sandbox(config)


def _settings(server: SandboxServer[BusinessCentralApp], account: str) -> dict[str, object]:
    config = server.app.config
    return {
        "tenant": config.tenant,
        "environment": config.environment,
        "client_id": config.app.client_id,
        "client_secret": config.app.client_secret,
        "company_id": server.app.company_id(account),
        "api_url": f"{server.url}/v2.0",
        "authority_url": server.url,
        "requests_per_five_minutes": EMBEDDED_REQUESTS_PER_MINUTE * 5,
    }


def _serve(
    accounts: tuple[str, ...], port: int, replay: Replay | None
) -> tuple[SandboxServer[BusinessCentralApp], str]:
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


EMBEDDED = EmbeddedSandbox(
    source="business_central",
    port=8802,
    start=_start,
    settings=_settings,
    serve=_serve,
    testing=TESTING,
)
