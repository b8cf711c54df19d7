"""Faults at a larger size than CI runs: many syncs of every source under every fault knob.

    python -m benchmarks.fault_soak --runs 5 --size medium [--sources simpro carbon] [--seed N]

For each source (`--sources`, default all four), each of `--runs` rounds serves a fresh
ledger with every knob of `benchmarks.fault_knobs` on at once, each at a setting drawn from
the seed (5xx, 429 bursts with or without Retry-After, responses slower than the timeout,
truncated JSON, rows repeated across pages, rows modified, deleted and inserted while the client
pages, …), and one invoice is served with a pasted attachment over `max_record_bytes` (it must be
quarantined, not wedge the sync). Every sync also lists the ids. The sync must finish; then the
source shortens the oversized invoice, and after one calm sync (which picks up rows modified
during the first) the warehouse must equal the ledger's ground truth to the cent
(`benchmarks.truth`), and its live raw records and cursors must equal those of a sync that never
saw a fault. Every other round then makes one
fault persistent on one listing: the sync must fail naming source, connection, stream and cause,
and the next calm sync must resume to exact truth. The seed is printed first; the figures
(rounds, faults injected per source and kind, rows compared) last.
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
from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import yaml

from benchmarks.fault_knobs import PERSISTENT, TRANSIENT, fault_kind, transient_faults
from benchmarks.proof_sources import ACCOUNT, SIZES, SOURCES, SourceUnderTest
from benchmarks.source_changes import touch_invoice
from benchmarks.truth import truth_differences
from benchmarks.warehouse_diff import differences, snapshot, state
from pipelines.config import load_config
from pipelines.run_once import rebuild, sync_connections
from sandbox.faults import FaultConfig
from sandbox.generator import latest_change
from sandbox.server import SandboxServer

__all__ = ["Figures", "fault_soak", "main"]

# Short timeouts and backoffs so that retries cost milliseconds, and enough attempts to
# outlast the faults. Every sync lists the ids too, so what the source deleted while a sync
# paged shows in the next one (by default a listing of ids comes once a day).
PATIENT = {
    "page_size": 25,
    "timeout_s": 0.3,
    "max_attempts": 10,
    "retry_backoff_s": 0.01,
    "full_key_reconciliation_hours": 0,
}
OVERSIZED_BYTES = 2 * 2**20  # over the default max_record_bytes (1 MiB)


@dataclass
class Figures:
    seed: int
    rounds: Counter[str] = field(default_factory=Counter)  # by source
    persistent: Counter[str] = field(default_factory=Counter)  # rounds with one, by source
    faults: dict[str, Counter[str]] = field(default_factory=dict)  # by source, then kind
    rows_compared: int = 0
    failures: list[str] = field(default_factory=list)
    seconds: float = 0.0

    def summary(self) -> str:
        lines = [
            f"fault-soak seed={self.seed}: {sum(self.rounds.values())} rounds "
            f"({sum(self.persistent.values())} with a persistent fault); "
            f"{self.rows_compared} rows compared; {len(self.failures)} failures; "
            f"{self.seconds:.1f}s"
        ]
        for source, faults in sorted(self.faults.items()):
            kinds = ", ".join(f"{kind} {faults[kind]}" for kind in sorted({*TRANSIENT, *faults}))
            lines.append(
                f"  {source}: {self.rounds[source]} rounds ({self.persistent[source]} "
                f"persistent); faults injected: {kinds}"
            )
        return "\n".join(lines)


def fault_soak(
    workdir: Path,
    *,
    runs: int,
    size: str,
    seed: int | None = None,
    sources: Sequence[str] = tuple(SOURCES),
) -> Figures:
    seed = random.SystemRandom().randrange(2**32) if seed is None else seed
    figures = Figures(seed=seed)
    print(f"fault-soak: seed={seed} runs={runs} size={size} sources={list(sources)}", flush=True)
    rng = random.Random(seed)
    started = time.monotonic()
    for name in sources:
        source = SOURCES[name]
        figures.faults[name] = Counter()
        for number in range(runs):
            server = source.start(SIZES[size], None)
            try:
                os.environ.update(source.env(server))
                root = workdir / name / f"round-{number:03d}"
                _Round(figures, rng, root, source, server).run(persistent=number % 2 == 1)
            finally:
                server.stop()
            print(f"  {name} round {number + 1}: {figures.faults[name].total()} faults so far")
    figures.seconds = time.monotonic() - started
    print(figures.summary(), flush=True)
    return figures


@dataclass
class _Round:
    figures: Figures
    rng: random.Random
    root: Path
    source: SourceUnderTest
    server: SandboxServer[Any]

    def run(self, *, persistent: bool) -> None:
        name = self.source.name
        self.figures.rounds[name] += 1
        oversized = self.rng.choice(self.source.ledger(self.server).invoices).invoice_id
        self.server.faults = self._oversizing(transient_faults(self.rng), oversized)
        faulted = self._project("faulted")
        failures = sync_connections(load_config(faulted))
        self._count_faults()
        if failures:
            self._fail(f"{self.server.faults}: {failure}" for failure in failures)
            return
        if persistent:
            self.figures.persistent[name] += 1
            if not self._persistent_fault(faulted):
                return
        self.server.faults = FaultConfig()
        ledger = self.source.ledger(self.server)
        at = latest_change(ledger).replace(microsecond=0) + timedelta(seconds=1)
        touch_invoice(self.source, self.server, oversized, at=at)  # the note shortened
        self._sync_and_compare(faulted)
        calm = self._project("calm")
        if sync_connections(load_config(calm)):
            self._fail(["a sync without faults failed"])
            return
        found = differences(_raw_and_cursors(calm), _raw_and_cursors(faulted))
        self._fail(f"unlike a sync without faults: {difference}" for difference in found)

    def _oversizing(self, faults: FaultConfig, invoice_id: int) -> FaultConfig:
        """`faults` with one invoice served with a pasted attachment in its own listing, as
        the source holds it until it is shortened before the calm sync."""
        listing = self.source.listings(self.server)[self.source.invoice_listing]
        served_id = self.source.ids(self.server)("invoice", invoice_id)
        return dataclasses.replace(
            faults,
            oversized_record=(self.source.invoice_key, served_id),
            oversized_bytes=OVERSIZED_BYTES,
            oversized_paths=(listing,),
        )

    def _persistent_fault(self, path: Path) -> bool:
        """One fault on every request for one listing: the sync must fail saying where and why."""
        stream, prefix = self.rng.choice(sorted(self.source.listings(self.server).items()))
        causes, faults = self.rng.choice(PERSISTENT)
        self.server.faults = dataclasses.replace(faults, paths=(prefix,))
        failures = sync_connections(load_config(path))
        self._count_faults()
        where = f"{self.source.name} connection '{ACCOUNT}', stream {stream}: "
        if len(failures) == 1 and where in failures[0] and any(c in failures[0] for c in causes):
            return True
        self._fail([f"a persistent fault ({causes[0]}) on {stream} gave {failures}"])
        return False

    def _sync_and_compare(self, path: Path) -> None:
        config = load_config(path)
        failures = sync_connections(config)
        if failures:
            self._fail(failures)
            return
        as_of = datetime.now(UTC).date()
        rebuild(config, as_of=as_of)
        problems, compared = truth_differences(
            config.warehouse,
            self.source.ledger(self.server),
            ids=self.source.ids(self.server),
            connection_id=ACCOUNT,
            as_of=as_of,
        )
        self.figures.rows_compared += compared
        self._fail(f"unlike the ground truth: {problem}" for problem in problems)

    def _count_faults(self) -> None:
        counts = self.figures.faults[self.source.name]
        for record in self.server.log.records():
            counts.update(fault_kind(label) for label in record.faults)
        self.server.log.reset()

    def _fail(self, problems: Any) -> None:
        self.figures.failures += [f"{self.source.name} ({self.root.name}): {p}" for p in problems]

    def _project(self, name: str) -> Path:
        root = self.root / name
        root.mkdir(parents=True)
        path = root / "connections.yaml"
        config = {
            "warehouse": "ledgersync.duckdb",
            "landing": "landing",
            "connections": [self.source.connection(self.server, **PATIENT)],
        }
        path.write_text(yaml.safe_dump(config))
        return path


def _raw_and_cursors(path: Path) -> dict[str, list[tuple[object, ...]]]:
    """Live raw records and cursors, without histories. A record the source deleted while a
    sync paged was stored and then marked vanished, and one it modified was stored in both
    versions, where a sync that never saw a fault saw neither."""
    tables = state(snapshot(load_config(path).warehouse)).items()
    # A raw table's last column compared is whether the record vanished (`vanished_at` is set).
    live = {t: [r for r in rows if r[-1] is not True] for t, rows in tables if t.startswith("raw.")}
    return {**live, **{t: rows for t, rows in tables if t == "sync.cursors"}}


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(
        prog="python -m benchmarks.fault_soak",
        description=__doc__,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    parser.add_argument("--runs", type=int, default=5, help="rounds per source")
    parser.add_argument("--size", choices=sorted(SIZES), default="medium")
    parser.add_argument("--sources", nargs="+", choices=sorted(SOURCES), default=list(SOURCES))
    parser.add_argument("--seed", type=int)
    args = parser.parse_args(argv)
    with tempfile.TemporaryDirectory(prefix="fault-soak-") as scratch:
        figures = fault_soak(
            Path(scratch), runs=args.runs, size=args.size, seed=args.seed, sources=args.sources
        )
    for failure in figures.failures:
        print(f"FAILED: {failure}", file=sys.stderr)
    return 1 if figures.failures else 0


if __name__ == "__main__":
    sys.exit(main())
