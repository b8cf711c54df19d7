"""A chain: runs of one project against a sandbox of its own, each killed at its target, the
source changed after each, then a run that completes; and the reference, the same runs and
changes never killed.

After the last run the landing zone must be empty and the warehouse must equal the ledger's
ground truth (`benchmarks.truth`) and the reference's warehouse (`benchmarks.warehouse_diff`:
everything when the source never changed, what the warehouse says now when it did).
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from datetime import date, datetime
from pathlib import Path
from typing import Any

from benchmarks.kill_anywhere.launch import Launcher, Project
from benchmarks.kill_anywhere.runs import STARTUP, Run
from benchmarks.kill_anywhere.targets import Target
from benchmarks.proof_sources import ACCOUNT, SourceUnderTest
from benchmarks.source_changes import ChangeKind, change, change_kinds, posts_unread_lines
from benchmarks.truth import truth_differences
from benchmarks.warehouse_diff import Snapshot, differences, row_count, snapshot, state
from sandbox.faults import FaultConfig
from sandbox.server import SandboxServer

__all__ = ["ChainSpec", "Played", "play", "rows_compared", "unlike_reference"]

EXTRACTING_S = 0.25  # a timed kill this soon after a request counts as one while extracting
AFTER_REQUESTS = "land/load/normalize/report"  # a timed kill after the requests had stopped


@dataclass(frozen=True)
class ChainSpec:
    source: SourceUnderTest
    reconcile_each_sync: bool  # ids listed every sync, so deletions are among the changes
    size: Mapping[str, int]
    latency_s: float
    change_times: tuple[datetime, ...]  # when each change is made, one per run but the last
    as_of: date

    @property
    def kinds(self) -> tuple[ChangeKind, ...]:
        return change_kinds(self.source, deletes=self.reconcile_each_sync)


@dataclass
class Played:
    """What a chain (or its reference) did and left."""

    runs: list[Run] = field(default_factory=list)
    hits: list[str] = field(default_factory=list)  # what each killed run was doing
    changes: list[ChangeKind | None] = field(default_factory=list)  # after each run
    snapshot: Snapshot | None = None
    compared: int = 0  # rows compared with the truth
    problems: list[str] = field(default_factory=list)

    @property
    def killed(self) -> list[tuple[int, Run, str]]:
        """(run number, run, what it was doing) of each killed run."""
        kills = [(number, run) for number, run in enumerate(self.runs, start=1) if run.killed]
        return [(number, run, hit) for (number, run), hit in zip(kills, self.hits, strict=True)]


def play(
    spec: ChainSpec,
    root: Path,
    launcher: Launcher,
    targets: Sequence[Target | None],
    changes: Sequence[ChangeKind | None] | None = None,
) -> Played:
    """Run the chain: one run per target (None: not killed), the source changed after each
    (`changes`, else the spec's kinds in turn), then a run that completes."""
    played = Played()
    server = spec.source.start(spec.size, FaultConfig(latency_s=spec.latency_s))
    try:
        project = Project.create(
            root,
            spec.source,
            server,
            as_of=spec.as_of,
            reconcile_each_sync=spec.reconcile_each_sync,
        )
        for step, target in enumerate(targets):
            run = launcher.run(project, target)
            played.runs.append(run)
            if run.killed:
                played.hits.append(_hit(run, server, phased=launcher.phased))
            elif run.exit_code != 0:
                played.problems.append(f"run {step + 1} failed:\n{_tail(run)}")
                return played
            kind = changes[step] if changes is not None else _planned(spec, step, server, project)
            if kind is not None:
                change(spec.source, server, kind, step=step, at=spec.change_times[step])
            played.changes.append(kind)
        final = launcher.run(project)
        played.runs.append(final)
        if final.exit_code != 0:
            played.problems.append(f"the resuming run failed:\n{_tail(final)}")
            return played
        played.problems += [f"left in the landing zone: {p}" for p in project.landing_leftovers()]
        played.snapshot = snapshot(project.warehouse)
        problems, played.compared = truth_differences(
            project.warehouse,
            spec.source.ledger(server),
            ids=spec.source.ids(server),
            connection_id=ACCOUNT,
            as_of=spec.as_of,
        )
        played.problems += [f"unlike the ground truth: {problem}" for problem in problems]
        return played
    finally:
        server.stop()


def unlike_reference(reference: Played, played: Played) -> list[str]:
    """How the chain's warehouse differs from its reference's."""
    if reference.snapshot is None or played.snapshot is None:
        return []
    expected, actual = reference.snapshot, played.snapshot
    if any(played.changes):
        expected, actual = state(expected), state(actual)
    found = differences(expected, actual)
    return [f"unlike the never-killed run: {difference}" for difference in found]


def rows_compared(played: Played) -> int:
    return played.compared + row_count(played.snapshot or {})


def _planned(
    spec: ChainSpec, step: int, server: SandboxServer[Any], project: Project
) -> ChangeKind | None:
    """The spec's change for the step; none where it would post journal lines never read."""
    kind = spec.kinds[step % len(spec.kinds)]
    if kind == "posted" and posts_unread_lines(server, step, project.warehouse):
        return None
    return kind


def _hit(run: Run, server: SandboxServer[Any], *, phased: bool) -> str:
    """The phase the kill hit: the last phase line; for a run without them (a timed kill),
    from the requests the sandbox had answered it."""
    if run.events:
        return run.events[-1].phase
    if phased or run.killed_at is None:
        return STARTUP
    killed_at = run.killed_at
    arrivals = [r.at for r in server.log.records() if run.started <= r.at <= killed_at]
    if not arrivals:
        return STARTUP
    return "extract" if killed_at - arrivals[-1] < EXTRACTING_S else AFTER_REQUESTS


def _tail(run: Run, lines: int = 40) -> str:
    return "\n".join(run.output.splitlines()[-lines:])
