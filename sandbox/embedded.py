"""What each source's sandbox offers the rest of the project, in one hook.

`sandbox/<source>/embedded.py` exports `EMBEDDED`: how one account of a `sandbox: embedded`
connection is served (and which connector settings reach it), the fixed port and curl guide of
`ledgersync sandbox serve`, and how the tests start the sandbox (`sandbox.testing`).
`pipelines/registry.py` pairs it with the source's connector spec.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from sandbox.replay import Replay
from sandbox.server import SandboxServer
from sandbox.testing import SandboxTesting

__all__ = [
    "EMBEDDED_LEDGER",
    "EMBEDDED_REQUESTS_PER_MINUTE",
    "EMBEDDED_REQUESTS_PER_SECOND",
    "EmbeddedSandbox",
]

# The embedded sandboxes allow more than the real services so the demo finishes in seconds;
# connections to them are given the same budget, so no 429 is ever needed.
EMBEDDED_REQUESTS_PER_MINUTE = 60_000
EMBEDDED_REQUESTS_PER_SECOND = 1_000
# Every embedded ledger also has payments whose applications its source does not serve, so the
# demo has cash to apply (sandbox/cash_cases.py).
EMBEDDED_LEDGER = {"cash_cases": 22}

Server = SandboxServer[Any]


@dataclass(frozen=True)
class EmbeddedSandbox:
    """One source's sandbox.

    `start(account, replay)` starts a server for one account (serving the ledger file `replay`
    if given, else a ledger generated from the account's name) with the embedded budget;
    `settings(server, account)` are the connector settings that reach that account on it,
    request budget included. `serve(accounts, port, replay)` starts the sandbox of
    `ledgersync sandbox serve` (its first account serving `replay`) and says how to curl it.
    """

    source: str
    port: int  # `ledgersync sandbox serve`'s fixed port
    start: Callable[[str, Replay | None], Server]
    settings: Callable[[Server, str], dict[str, object]]
    serve: Callable[[tuple[str, ...], int, Replay | None], tuple[Server, str]]
    testing: SandboxTesting
