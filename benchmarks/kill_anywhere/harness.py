"""Chains of killed runs per source and entry point, planned from one seed, run in lanes."""

from __future__ import annotations

import random
import sys
import threading
import time
from collections.abc import Callable, Iterator, Mapping, Sequence
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from pathlib import Path

from benchmarks.kill_anywhere.chains import ChainSpec, Played, play, rows_compared, unlike_reference
from benchmarks.kill_anywhere.launch import Launcher
from benchmarks.kill_anywhere.outcome import Kill, Outcome
from benchmarks.kill_anywhere.targets import Target, draw_target, phases_in_turn
from benchmarks.proof_sources import SIZES, SOURCES, SourceUnderTest
from benchmarks.source_changes import ChangeKind

__all__ = ["kill_anywhere"]

_ROUNDS = 5  # a run that finishes before its kill point lands no kill: top up this often


def kill_anywhere(
    workdir: Path,
    *,
    kills: Mapping[str, int],
    sources: Sequence[str] = tuple(SOURCES),
    size: str = "small",
    seed: int | None = None,
    per_chain: int = 4,
    lanes: int = 2,
    latency_s: float = 0.004,
    log: Callable[[str], None] = print,
) -> Outcome:
    """`kills`: per entry point, the kills wanted on each source. The outcome lists any failure."""
    seed = random.SystemRandom().randrange(2**32) if seed is None else seed
    outcome = Outcome(seed=seed, size=size)
    log(f"kill-anywhere: seed={seed} kills={dict(kills)} sources={list(sources)} size={size}")
    started = time.monotonic()
    rng = random.Random(seed)
    now = datetime.now(UTC).replace(microsecond=0)
    # The changes are made at fixed moments in the recent past, the same for every chain and
    # its reference, so both sandboxes serve the same records.
    times = tuple(now - timedelta(minutes=10) + timedelta(seconds=30 * i) for i in range(per_chain))
    switch_interval = sys.getswitchinterval()
    sys.setswitchinterval(0.0002)  # the watcher must act on a phase line within a millisecond
    try:
        for entry_point, wanted in kills.items():
            launcher = Launcher(entry_point)
            for name in sources:
                specs = {
                    each: ChainSpec(SOURCES[name], each, SIZES[size], latency_s, times, now.date())
                    for each in (False, True)
                }
                _Source(outcome, rng, workdir / name / entry_point, specs, launcher, log).run(
                    wanted, per_chain, lanes
                )
    finally:
        sys.setswitchinterval(switch_interval)
    outcome.seconds = time.monotonic() - started
    log(outcome.summary())
    return outcome


@dataclass
class _Source:
    """The chains of one source through one entry point."""

    outcome: Outcome
    rng: random.Random
    root: Path
    specs: dict[bool, ChainSpec]  # by reconcile_each_sync
    launcher: Launcher
    log: Callable[[str], None]

    def __post_init__(self) -> None:
        self._lock = threading.Lock()
        self._references: dict[tuple[bool, tuple[ChangeKind | None, ...]], Played] = {}
        self._kills = 0
        self._replays = 0

    @property
    def source(self) -> SourceUnderTest:
        return self.specs[False].source

    @property
    def label(self) -> str:
        return f"{self.source.name} {self.launcher.entry_point}"

    def run(self, wanted: int, per_chain: int, lanes: int) -> None:
        if wanted <= 0:
            return
        first = {each: self._reference(each, None, per_chain) for each in (False, True)}
        if any(reference.problems for reference in first.values()):
            return
        phases = phases_in_turn(self.rng, phased=self.launcher.phased)
        chains = 0
        failed_before = len(self.outcome.failures)  # another source's failure stops not this one
        for _ in range(_ROUNDS):
            missing = wanted - self._kills
            if missing <= 0 or len(self.outcome.failures) > failed_before:
                break
            planned = []
            for _ in range(0, missing, per_chain):
                each = chains % 2 == 1
                planned.append((chains, each, self._targets(phases, first[each], per_chain)))
                chains += 1
            self.outcome.chains += len(planned)
            with ThreadPoolExecutor(max_workers=lanes) as pool:
                for future in [pool.submit(self._chain, *chain) for chain in planned]:
                    future.result()

    def _targets(self, phases: Iterator[str], reference: Played, count: int) -> list[Target]:
        """Drawn before the chain runs, so that the seed decides them: run i of a chain is
        aimed by run i of the reference (the first a full sync, the others incremental)."""
        return [draw_target(self.rng, next(phases), reference.runs[i]) for i in range(count)]

    def _reference(
        self, each: bool, changes: tuple[ChangeKind | None, ...] | None, runs: int
    ) -> Played:
        key = (each, changes) if changes is not None else None
        with self._lock:
            found = self._references.get(key) if key else None
            serial, self._replays = self._replays, self._replays + 1
        if found is not None:
            return found
        mode = "ids every sync" if each else "ids daily"
        root = self.root / f"reference-{serial:02d}"
        played = play(self.specs[each], root, self.launcher, [None] * runs, changes)
        with self._lock:
            self._references[(each, tuple(played.changes))] = played
            self.outcome.runs += len(played.runs)
            self.outcome.failures += [
                f"{self.label} never killed ({mode}, changes {played.changes}): {problem}"
                for problem in played.problems
            ]
        return played

    def _chain(self, index: int, each: bool, targets: list[Target]) -> None:
        played = play(self.specs[each], self.root / f"chain-{index:03d}", self.launcher, targets)
        problems = list(played.problems)
        if not problems:
            reference = self._reference(each, tuple(played.changes), len(targets))
            problems += unlike_reference(reference, played)
        kills = [
            Kill(
                self.source.name,
                self.launcher.entry_point,
                index,
                number,
                targets[number - 1],
                hit,
                run.last_line,
            )
            for number, run, hit in played.killed
        ]
        with self._lock:
            self._kills += len(kills)
            self.outcome.kills += kills
            self.outcome.runs += len(played.runs)
            self.outcome.changes.update(kind for kind in played.changes if kind)
            self.outcome.rows_compared += rows_compared(played)
            context = f"{self.label} chain {index} (kills {[str(t) for t in targets]})"
            self.outcome.failures += [f"{context}: {problem}" for problem in problems]
            for kill in kills:
                self.log(f"  {kill}")
