"""A source that rotates refresh tokens revokes the old one at every grant: each sync, in its
own process, must start from the newest, kept in the `tokens:` directory and nowhere shown."""

from __future__ import annotations

import os
import stat
import subprocess
import sys
from pathlib import Path

from sandbox.zoho_books.testing import zoho_connection

SIZE = {"customers": 3, "invoices": 6, "payments": 4}
# What a sync run does for its connections (`pipelines.run_once` without the reports).
SYNC = """
import sys
from pathlib import Path
from pipelines.config import load_config
from pipelines.run_once import sync_connections
failures = sync_connections(load_config(Path(sys.argv[1])))
sys.exit("\\n".join(failures) or None)
"""


def _sync_in_a_new_process(config_path: Path) -> str:
    root = Path(__file__).resolve().parents[2]
    finished = subprocess.run(
        [sys.executable, "-c", SYNC, str(config_path)],
        env={**os.environ, "PYTHONPATH": str(root)},
        capture_output=True,
        text=True,
        timeout=300,
    )
    assert finished.returncode == 0, finished.stderr[-3000:]
    return finished.stdout + finished.stderr


def test_rotated_refresh_tokens_carry_over_between_processes(zoho_sandbox, make_project):
    server = zoho_sandbox(organizations=("rotating",), ledger_size=SIZE, rotate_refresh_tokens=True)
    project = make_project([zoho_connection(server, "rotating")])
    configured = server.app.tokens.refresh_token

    output = "".join(_sync_in_a_new_process(project.config_path) for _ in range(2))

    [stored] = project.config.tokens.glob("*.json")
    newest = server.app.tokens.refresh_token
    assert newest != configured  # the source rotated it, twice: the second grant used the first
    assert newest in stored.read_text()
    assert stat.S_IMODE(stored.stat().st_mode) == 0o600
    rotated = [t for t in server.app.tokens.issued() if t.startswith("1000.") and t != newest]
    assert all(token not in output for token in (configured, newest, *rotated))
