"""Faults at a larger size than CI runs: many syncs under random mixes of the sandbox's faults.

    python -m benchmarks.fault_soak --runs 20 --size medium [--seed N]

Each round serves a fresh Zoho Books ledger with a random mix of every fault knob (5xx, 429
bursts with or without Retry-After, responses slower than the timeout, truncated JSON, rows
repeated across pages, rows modified while the client pages). The sync must finish; after one
calm sync (which picks up rows modified during the first) the warehouse must equal the ledger's
ground truth to the cent, and its raw tables and cursors must equal those of a sync that never
saw a fault. Every other round then makes one fault persistent on one listing: the sync must fail
naming source, connection, stream and cause, and the next calm sync must resume to exact truth.
All choices come from one seed, printed first; the figures (rounds, faults injected by kind,
rows compared) are printed last.
"""

from __future__ import annotations

import argparse
import dataclasses
import os
import random
import sys
import tempfile
import time
from collections import Counter
from dataclasses import dataclass, field
from pathlib import Path

import yaml

from benchmarks.kill_anywhere import SIZES
from benchmarks.warehouse_diff import differences, snapshot
from benchmarks.zoho_truth import truth_differences
from pipelines.config import load_config
from pipelines.run_once import rebuild, sync_connections
from sandbox.faults import FaultConfig
from sandbox.server import SandboxServer
from sandbox.zoho_books.app import ZohoBooksApp, start_zoho_sandbox
from sandbox.zoho_books.config import OAuthClient, ZohoConfig

__all__ = ["Figures", "fault_soak", "main"]

ORG = "fault-soak"
CLIENT = OAuthClient(
    client_id="1000.FAULTSOAK", client_secret="fault-soak-secret", refresh_token="1000.soak"
)
PATIENT = {"page_size": 25, "timeout_s": 0.3, "max_attempts": 10, "retry_backoff_s": 0.01}
LISTS = ("contacts", "invoices", "customerpayments")


@dataclass
class Figures:
    seed: int
    rounds: int = 0
    persistent: int = 0
    faults: Counter[str] = field(default_factory=Counter)
    rows_compared: int = 0
    failures: list[str] = field(default_factory=list)
    seconds: float = 0.0

    def summary(self) -> str:
        faults = ", ".join(f"{kind} {n}" for kind, n in sorted(self.faults.items()))
        return (
            f"fault-soak seed={self.seed}: {self.rounds} rounds ({self.persistent} with a "
            f"persistent fault); faults injected: {faults}; {self.rows_compared} rows compared; "
            f"{len(self.failures)} failures; {self.seconds:.1f}s"
        )


def fault_soak(workdir: Path, *, runs: int, size: str, seed: int | None = None) -> Figures:
    seed = random.SystemRandom().randrange(2**32) if seed is None else seed
    figures = Figures(seed=seed)
    print(f"fault-soak: seed={seed} runs={runs} size={size}", flush=True)
    rng = random.Random(seed)
    os.environ.update(
        ZOHO_CLIENT_ID=CLIENT.client_id,
        ZOHO_CLIENT_SECRET=CLIENT.client_secret,
        ZOHO_REFRESH_TOKEN=CLIENT.refresh_token,
    )
    started = time.monotonic()
    for number in range(runs):
        with start_zoho_sandbox(
            ZohoConfig(
                organizations=(ORG,),
                client=CLIENT,
                rate_limit=10**7,
                daily_cap=10**9,
                ledger_size=SIZES[size],
            )
        ) as server:
            root = workdir / f"round-{number:03d}"
            _round(figures, rng, root, server, persistent=number % 2 == 1)
        print(f"  round {number + 1}: {sum(figures.faults.values())} faults so far", flush=True)
    figures.seconds = time.monotonic() - started
    print(figures.summary(), flush=True)
    return figures


def _round(
    figures: Figures,
    rng: random.Random,
    root: Path,
    server: SandboxServer[ZohoBooksApp],
    *,
    persistent: bool,
) -> None:
    figures.rounds += 1
    server.faults = FaultConfig(
        seed=rng.randrange(2**32),
        error_rate=rng.uniform(0.0, 0.1),
        burst_429=rng.randint(0, 5),
        retry_after_s=rng.choice([None, 0.02, 0.1]),
        slow_rate=rng.uniform(0.0, 0.04),
        slow_s=1.0,
        truncate_rate=rng.uniform(0.0, 0.1),
        duplicate_rows_rate=rng.uniform(0.0, 0.5),
        modify_while_paging=rng.uniform(0.0, 0.5),
    )
    faulted = _project(root / "faulted", server)
    failures = sync_connections(load_config(faulted))
    _count_faults(figures, server)
    if failures:
        figures.failures += [f"{server.faults}: {failure}" for failure in failures]
        return
    if persistent:
        figures.persistent += 1
        if not _persistent_fault(figures, rng, faulted, server):
            return
    server.faults = FaultConfig()
    _sync_and_compare(figures, faulted, server)
    calm = _project(root / "calm", server)
    if sync_connections(load_config(calm)):
        figures.failures.append("a sync without faults failed")
        return
    for difference in differences(_raw_and_cursors(calm), _raw_and_cursors(faulted)):
        figures.failures.append(f"unlike a sync without faults: {difference}")


def _persistent_fault(
    figures: Figures, rng: random.Random, path: Path, server: SandboxServer[ZohoBooksApp]
) -> bool:
    """One fault on every request for one listing: the sync must fail saying where and why."""
    listing = rng.choice(LISTS)
    cause, faults = rng.choice(
        [
            ("answered 50", FaultConfig(error_rate=1.0)),
            ("answered 429", FaultConfig(burst_429=10**6, retry_after_s=3600)),
            ("ReadTimeout", FaultConfig(slow_rate=1.0, slow_s=1.0)),
            ("the body is not valid JSON", FaultConfig(truncate_rate=1.0)),
        ]
    )
    server.faults = dataclasses.replace(faults, paths=(f"/books/v3/{listing}",))
    failures = sync_connections(load_config(path))
    _count_faults(figures, server)
    where = f"zoho_books connection '{ORG}', stream {listing}: "
    if len(failures) == 1 and where in failures[0] and cause in failures[0]:
        return True
    figures.failures.append(f"a persistent fault ({cause}) on {listing} gave {failures}")
    return False


def _sync_and_compare(figures: Figures, path: Path, server: SandboxServer[ZohoBooksApp]) -> None:
    config = load_config(path)
    failures = sync_connections(config)
    if failures:
        figures.failures += failures
        return
    ledger = server.app.ledger(ORG)
    rebuild(config, as_of=ledger.as_of)
    problems, compared = truth_differences(
        config.warehouse, ledger, org_id=server.app.organization_id(ORG), connection_id=ORG
    )
    figures.rows_compared += compared
    figures.failures += problems


def _count_faults(figures: Figures, server: SandboxServer[ZohoBooksApp]) -> None:
    for record in server.log.records():
        figures.faults.update(
            "error_5xx" if label.startswith("error_") else label for label in record.faults
        )
    server.log.reset()


def _raw_and_cursors(path: Path) -> dict[str, list[tuple[object, ...]]]:
    tables = snapshot(load_config(path).warehouse).items()
    return {t: rows for t, rows in tables if t.startswith("raw.") or t == "sync.cursors"}


def _project(root: Path, server: SandboxServer[ZohoBooksApp], **settings: object) -> Path:
    root.mkdir(parents=True)
    connection = {
        "id": ORG,
        "source": "zoho_books",
        "organization_id": server.app.organization_id(ORG),
        "api_url": f"{server.url}/books/v3",
        "accounts_url": server.url,
        "requests_per_minute": 10**7,
        **PATIENT,
        **settings,
    }
    path = root / "connections.yaml"
    config = {"warehouse": "ledgersync.duckdb", "landing": "landing", "connections": [connection]}
    path.write_text(yaml.safe_dump(config))
    return path


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m benchmarks.fault_soak", description=__doc__)
    parser.add_argument("--runs", type=int, default=20)
    parser.add_argument("--size", choices=sorted(SIZES), default="medium")
    parser.add_argument("--seed", type=int)
    args = parser.parse_args(argv)
    with tempfile.TemporaryDirectory(prefix="fault-soak-") as scratch:
        figures = fault_soak(Path(scratch), runs=args.runs, size=args.size, seed=args.seed)
    for failure in figures.failures:
        print(f"FAILED: {failure}", file=sys.stderr)
    return 1 if figures.failures else 0


if __name__ == "__main__":
    sys.exit(main())
