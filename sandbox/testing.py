"""How the tests start a source's sandbox and write connections to it.

Each `sandbox/<source>/testing.py` holds the test credentials its sandbox accepts, a
`<source>_connection(server, account, **extra)` entry for a connections file, and a
`SandboxTesting` from which tests/conftest.py makes the source's sandbox fixture.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from typing import Any

from sandbox.faults import FaultConfig
from sandbox.server import SandboxServer

__all__ = ["TEST_REQUESTS_PER_MINUTE", "TEST_REQUESTS_PER_SECOND", "SandboxTesting"]

# Generous enough that a test's sync never waits on the client-side budget.
TEST_REQUESTS_PER_MINUTE = 100_000
TEST_REQUESTS_PER_SECOND = 2_000

Server = SandboxServer[Any]


def _nothing(server: Server) -> dict[str, str]:
    return {}


@dataclass(frozen=True)
class SandboxTesting:
    """The fixture `fixture`: `fixture(faults=None, **config)` starts a sandbox from
    `config_type(**defaults)` with the test's keywords overriding the defaults, sets the
    environment variables `server_environment(server)` names, and stops it after the test.
    `environment` holds the test credentials a project's connections read by default."""

    fixture: str
    start: Callable[..., Server]
    config_type: Callable[..., object]
    defaults: Mapping[str, object]
    environment: Mapping[str, str]
    server_environment: Callable[[Server], dict[str, str]] = field(default=_nothing)

    def start_one(self, faults: FaultConfig | None = None, **config: object) -> Server:
        return self.start(self.config_type(**{**self.defaults, **config}), faults=faults)
