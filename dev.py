#!/usr/bin/env python3
"""Set up a virtual environment (once) and run the demo or the tests in it.

    python3 dev.py demo     # sync the embedded sandboxes end to end, print the balances
    python3 dev.py test     # ruff, mypy --strict, then the test suite: what CI runs

Anything after the command is passed on to the demo or to pytest (`python3 dev.py test -k zoho -x`;
with arguments, `test` skips the lint and type gates and runs just that selection). Tests run in
one pytest-xdist worker per CPU: most of their time is spent waiting on sandboxes, subprocesses
and PostgreSQL, and each keeps to its own temporary directory, ports and scratch schemas
(`python3 dev.py test -n 0 --pdb …` runs in one process). The environment in .venv is
reinstalled whenever pyproject.toml changes. Needs only Python 3.11+.
"""

from __future__ import annotations

import hashlib
import os
import subprocess
import sys
import venv
from pathlib import Path

ROOT = Path(__file__).resolve().parent
VENV = ROOT / ".venv"
BIN = VENV / ("Scripts" if os.name == "nt" else "bin")
STAMP = VENV / ".pyproject-sha256"
COMMANDS = {
    "demo": [str(BIN / "ledgersync"), "demo"],
    # worksteal: a worker that runs out takes queued tests from the other, so the few long tests
    # (kill-anywhere, the UI, fault soaks) do not leave one worker idle at the end.
    "test": [str(BIN / "python"), "-m", "pytest", "-n", "auto", "--dist", "worksteal"],
}
# Run before the whole suite (not before a selection): each must pass for `test` to pass.
GATES = {
    "test": [
        [str(BIN / "ruff"), "check", "."],
        [str(BIN / "ruff"), "format", "--check", "."],
        [str(BIN / "mypy")],
    ],
}


def ensure_environment() -> None:
    wanted = hashlib.sha256((ROOT / "pyproject.toml").read_bytes()).hexdigest()
    if STAMP.exists() and STAMP.read_text() == wanted:
        return
    if not (BIN / "python").exists():
        print(f"creating {VENV} …", flush=True)
        venv.create(VENV, with_pip=True)
    print("installing ledgersync and its pinned dependencies …", flush=True)
    pip = [str(BIN / "python"), "-m", "pip", "install", "--quiet", "--disable-pip-version-check"]
    subprocess.run([*pip, "--editable", f"{ROOT}[dev]"], check=True, cwd=ROOT)
    STAMP.write_text(wanted)


def main() -> int:
    if sys.version_info < (3, 11):  # noqa: UP036 - this script runs before the venv exists
        sys.exit(f"ledgersync needs Python 3.11 or newer; this is {sys.version.split()[0]}")
    if len(sys.argv) < 2 or sys.argv[1] not in COMMANDS:
        print(__doc__)
        return 2
    ensure_environment()
    name, extra = sys.argv[1], sys.argv[2:]
    for gate in [] if extra else GATES.get(name, []):
        print("$", Path(gate[0]).name, *gate[1:], flush=True)
        if returncode := subprocess.run(gate, cwd=ROOT).returncode:
            return returncode
    return subprocess.run([*COMMANDS[name], *extra], cwd=ROOT).returncode


if __name__ == "__main__":
    sys.exit(main())
