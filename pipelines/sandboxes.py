"""Embedded sandboxes: local servers started in this process for `sandbox: embedded` connections.

Each embedded account gets its own server on a free loopback port, started on first use and
kept for the life of the process. Its ledger is generated from the account's name (the
connection id), or read from the connection's `sandbox_ledger`. The connector only ever sees a
base URL and credentials. Each source's sandbox says how (`sandbox/<source>/embedded.py`).
"""

from __future__ import annotations

import threading
from pathlib import Path
from typing import Any

from pipelines.config import ConfigError, ConnectionConfig
from pipelines.registry import SANDBOXES
from sandbox.replay import LedgerFileError, Replay, load_replay
from sandbox.server import SandboxServer

__all__ = ["embedded_settings", "ledger_file", "serve_ledger"]

_lock = threading.Lock()
_servers: dict[tuple[str, str, str], SandboxServer[Any]] = {}


def embedded_settings(connection: ConnectionConfig) -> dict[str, object]:
    """The connector settings that reach the connection's embedded account, its server started
    on first use (one per account and ledger file)."""
    sandbox = SANDBOXES[connection.source]
    ledger = connection.sandbox_ledger
    key = (connection.source, connection.id, str(ledger.resolve()) if ledger else "")
    with _lock:
        server = _servers.get(key)
        if server is None:
            replay = ledger_file(ledger, source=connection.source) if ledger else None
            server = _servers[key] = sandbox.start(connection.id, replay)
    return sandbox.settings(server, connection.id)


def ledger_file(path: Path, source: str | None = None) -> Replay:
    """The ledger file at `path` (of `source`, if given); a ConfigError if it cannot be served."""
    try:
        return load_replay(path, source=source)
    except LedgerFileError as error:
        raise ConfigError(str(error)) from None


def serve_ledger(replay: Replay) -> tuple[SandboxServer[Any], str]:
    """The sandbox of a ledger file's source on its fixed port, serving the file."""
    sandbox = SANDBOXES[replay.source]
    return sandbox.serve((replay.account,), sandbox.port, replay)
