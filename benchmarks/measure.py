"""Run each client in its own process: its wall time, its peak RSS, and the JSON it reports.

Peak RSS is the kernel's high-water mark of the child (`wait4`'s `ru_maxrss`), so one client's
memory never hides in another's, and the page server's is never counted.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
import time
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any

__all__ = ["ChildRun", "ChildFailed", "ServerStats", "page_server", "run_child"]

ROOT = Path(__file__).resolve().parent.parent


class ChildFailed(RuntimeError):
    pass


@dataclass(frozen=True)
class ChildRun:
    name: str
    result: dict[str, Any]  # the child's last line of standard output, as JSON
    wall_s: float
    peak_rss_mib: float


@dataclass
class ServerStats:
    url: str
    requests: int = 0
    cpu_s: float = 0.0


def _environment() -> dict[str, str]:
    env = dict(os.environ)
    env["PYTHONPATH"] = os.pathsep.join(p for p in (str(ROOT), env.get("PYTHONPATH")) if p)
    return env


def run_child(name: str, module: str, args: list[str], *, log_dir: Path) -> ChildRun:
    """`python -m module args`; its standard error goes to `log_dir/name.log`."""
    log_dir.mkdir(parents=True, exist_ok=True)
    log_path = log_dir / f"{name}.log"
    started = time.perf_counter()
    with open(log_path, "wb") as log:
        child = subprocess.Popen(
            [sys.executable, "-m", module, *args],
            stdout=subprocess.PIPE,
            stderr=log,
            cwd=ROOT,
            env=_environment(),
        )
        assert child.stdout is not None
        with child.stdout:
            output = child.stdout.read()
        _, status, usage = os.wait4(child.pid, 0)
        child.returncode = os.waitstatus_to_exitcode(status)
    wall = time.perf_counter() - started
    lines = output.decode().strip().splitlines()
    if child.returncode != 0 or not lines:
        tail = log_path.read_text(errors="replace")[-3000:]
        raise ChildFailed(f"{name} exited with {child.returncode}; {log_path} ends:\n{tail}")
    return ChildRun(name, json.loads(lines[-1]), wall, usage.ru_maxrss / 1024)


@contextmanager
def page_server(dataset_dir: Path) -> Iterator[ServerStats]:
    """The pre-rendered Zoho pages served from a separate process."""
    server = subprocess.Popen(
        [
            sys.executable,
            "-m",
            "benchmarks.pageserver",
            str(dataset_dir),
        ],
        stdin=subprocess.PIPE,
        stdout=subprocess.PIPE,
        cwd=ROOT,
        env=_environment(),
    )
    assert server.stdin is not None and server.stdout is not None
    try:
        url = server.stdout.readline().decode().strip()
        if not url.startswith("http"):
            raise ChildFailed(f"the page server did not start (it said {url!r})")
        stats = ServerStats(url)
        yield stats
        server.stdin.close()
        final = json.loads(server.stdout.readline() or b"{}")
        stats.requests, stats.cpu_s = final.get("requests", 0), final.get("cpu_s", 0.0)
        server.wait(timeout=30)
    finally:
        if server.poll() is None:
            server.kill()
            server.wait()
        server.stdin.close()
        server.stdout.close()
