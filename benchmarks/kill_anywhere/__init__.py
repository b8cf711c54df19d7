"""Kill a real sync anywhere, run it again, and compare the warehouse with one never killed.

    python -m benchmarks.kill_anywhere --kills 300 --size medium           # the larger run
    python -m benchmarks.kill_anywhere --kills 30 --seed 1234 --spawn       # fresh interpreters

What runs is `pipelines.run_once` (the sync, normalize and report functions the Dagster assets
call) in a child process, against a Zoho Books sandbox served from this process with a little
latency per response. The child writes a line before each phase (extract, land, load, normalize,
report); the harness waits for a chosen line, lets a random fraction of that phase's duration in
an undisturbed run pass, and sends SIGKILL. One kill in eight instead comes at a random moment of
the whole run, start-up included. Which phase a kill hit is read back from the last line the
child wrote.

A chain starts from an empty warehouse. Its first run is killed somewhere in a full sync, each
following run (which resumes the work) is killed too, `--per-chain` kills in all, and a last run
completes. The warehouse must then equal the one a never-killed sync left (every table of raw,
canonical, reports and sync, see `benchmarks.warehouse_diff`, cursors included) and the landing
zone must be empty. The phases to kill in are taken in turn so that all are hit; the rest
(which occurrence, what fraction) is drawn from one seed, printed first.

Children are forked from a forkserver that imported ledgersync once, so a run starts in
milliseconds rather than a second; `--spawn` starts each as `python -m pipelines.run_once`.
(A script that calls `kill_anywhere` needs the usual `if __name__ == "__main__":` guard of
multiprocessing: each child imports the script's main module.)
"""

from __future__ import annotations

import argparse
import math
import multiprocessing
import os
import random
import select
import signal
import subprocess
import sys
import tempfile
import threading
import time
from collections import Counter
from collections.abc import Callable, Iterator
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from multiprocessing.connection import Connection
from pathlib import Path
from typing import Protocol

import yaml

from benchmarks.warehouse_diff import Snapshot, differences, row_count, snapshot
from sandbox.faults import FaultConfig
from sandbox.server import SandboxServer
from sandbox.zoho_books.app import ZohoBooksApp, start_zoho_sandbox
from sandbox.zoho_books.config import OAuthClient, ZohoConfig

__all__ = ["PHASES", "SIZES", "Outcome", "kill_anywhere", "main"]

PHASES = ("extract", "land", "load", "normalize", "report")
ANYTIME = "anytime"  # a kill at a random moment of the whole run
STARTUP = "startup"  # what a kill before the first phase line hit
SIZES = {
    "small": {"customers": 6, "invoices": 30, "payments": 24},
    "medium": {"customers": 30, "invoices": 250, "payments": 220},
    "large": {"customers": 200, "invoices": 3000, "payments": 2500},
}
ORG = "kill-anywhere"
CLIENT = OAuthClient(
    client_id="1000.KILLANYWHERE",
    client_secret="kill-anywhere-secret",
    refresh_token="1000.kill-anywhere-refresh",
)
PAGE_SIZE = 10  # many pages, so kills land between pages as well as within them
RUN_TIMEOUT_S = 300.0
_ROUNDS = 5


@dataclass(frozen=True, slots=True)
class Event:
    phase: str
    what: str
    at: float  # seconds since the child started


@dataclass(frozen=True, slots=True)
class Run:
    events: tuple[Event, ...]
    exit_code: int
    seconds: float
    output: str

    @property
    def killed(self) -> bool:
        return self.exit_code == -signal.SIGKILL

    @property
    def hit(self) -> str:
        return self.events[-1].phase if self.events else STARTUP

    def duration_after(self, index: int) -> float:
        end = self.events[index + 1].at if index + 1 < len(self.events) else self.seconds
        return max(0.0, end - self.events[index].at)


@dataclass(frozen=True, slots=True)
class Target:
    """Kill after the `occurrence`-th (0-based) line of `phase`, `delay_s` later; or, for
    ANYTIME, `delay_s` after the child starts."""

    phase: str
    occurrence: int
    delay_s: float

    def __str__(self) -> str:
        if self.phase == ANYTIME:
            return f"at {self.delay_s:.3f}s"
        return f"{self.phase} #{self.occurrence + 1} +{self.delay_s * 1000:.1f}ms"


@dataclass(frozen=True, slots=True)
class Kill:
    chain: int
    run: int
    target: Target
    hit: str
    line: str


@dataclass
class Outcome:
    seed: int
    size: str
    kills: list[Kill] = field(default_factory=list)
    chains: int = 0
    runs: int = 0
    rows_compared: int = 0
    failures: list[str] = field(default_factory=list)
    seconds: float = 0.0

    def by_phase(self) -> Counter[str]:
        return Counter(kill.hit for kill in self.kills)

    def summary(self) -> str:
        phases = ", ".join(f"{p} {n}" for p, n in sorted(self.by_phase().items()))
        return (
            f"kill-anywhere seed={self.seed} size={self.size}: {len(self.kills)} kills in "
            f"{self.chains} chains ({self.runs} runs); kills by phase: {phases}; "
            f"{self.rows_compared} rows compared; {len(self.failures)} failures; "
            f"{self.seconds:.1f}s"
        )


class _Child(Protocol):
    pid: int
    output: int  # file descriptor of the child's stdout and stderr

    def exit_code(self) -> int | None: ...

    def wait(self) -> int: ...


def kill_anywhere(
    workdir: Path,
    *,
    kills: int,
    size: str = "small",
    seed: int | None = None,
    per_chain: int = 4,
    lanes: int = 2,
    spawn: bool = False,
    latency_s: float = 0.004,
    log: Callable[[str], None] = print,
) -> Outcome:
    """Run the chains (see the module docstring); the outcome lists any failure."""
    seed = random.SystemRandom().randrange(2**32) if seed is None else seed
    outcome = Outcome(seed=seed, size=size)
    log(f"kill-anywhere: seed={seed} kills={kills} size={size} per_chain={per_chain}")
    started = time.monotonic()
    launcher = _Launcher(spawn=spawn)
    switch_interval = sys.getswitchinterval()
    sys.setswitchinterval(0.0002)  # the watcher must act on a phase line within a millisecond
    try:
        with start_zoho_sandbox(
            ZohoConfig(
                organizations=(ORG,),
                client=CLIENT,
                rate_limit=10**7,
                daily_cap=10**9,
                ledger_size=SIZES[size],
            ),
            faults=FaultConfig(latency_s=latency_s),
        ) as server:
            _run_chains(outcome, workdir, server, launcher, kills, per_chain, lanes, log)
    finally:
        sys.setswitchinterval(switch_interval)
    outcome.seconds = time.monotonic() - started
    log(outcome.summary())
    return outcome


def _run_chains(
    outcome: Outcome,
    workdir: Path,
    server: SandboxServer[ZohoBooksApp],
    launcher: _Launcher,
    kills: int,
    per_chain: int,
    lanes: int,
    log: Callable[[str], None],
) -> None:
    as_of = server.app.ledger(ORG).as_of.isoformat()
    reference = _Project.create(workdir / "reference", server, as_of)
    full = launcher.run(reference)
    expected = snapshot(reference.warehouse)
    incremental = launcher.run(reference)
    outcome.runs += 2
    for run in (full, incremental):
        if run.exit_code != 0:
            raise RuntimeError(f"the never-killed sync failed:\n{run.output}")
    outcome.failures += [
        f"a second, never-killed sync changed the warehouse: {d}"
        for d in differences(expected, snapshot(reference.warehouse))
    ]
    rng = random.Random(outcome.seed)
    phases = _phases_in_turn(rng)
    lock = threading.Lock()

    def run_chain(index: int, targets: list[Target]) -> None:
        project = _Project.create(workdir / f"chain-{index:03d}", server, as_of)
        result = _run_chain(index, targets, project, launcher)
        with lock:
            outcome.kills += result.kills
            outcome.runs += result.runs
            outcome.rows_compared += row_count(result.snapshot or {})
            outcome.failures += result.failures(expected)
            for kill in result.kills:
                log(f"  chain {kill.chain} run {kill.run}: {kill.target} → {kill.line}")

    # A run that finishes before its kill point lands no kill: top up until enough have.
    for _ in range(_ROUNDS):
        missing = kills - len(outcome.kills)
        if missing <= 0 or outcome.failures:
            break
        chains = _plan(rng, phases, missing, per_chain, full, incremental)
        first = outcome.chains
        outcome.chains += len(chains)
        with ThreadPoolExecutor(max_workers=lanes) as pool:
            futures = [
                pool.submit(run_chain, first + i, targets) for i, targets in enumerate(chains)
            ]
            for future in futures:
                future.result()


def _plan(
    rng: random.Random,
    phases: Iterator[str],
    kills: int,
    per_chain: int,
    full: Run,
    incremental: Run,
) -> list[list[Target]]:
    """Targets for chains, drawn before they run so that the seed decides them.

    A chain's first run is a full sync (targets from `full`); later runs resume, so they are
    at least an incremental sync (targets from `incremental`, whose every phase they reach)."""
    chains = []
    for start in range(0, kills, per_chain):
        count = min(per_chain, kills - start)
        chains.append(
            [_target(rng, next(phases), full if i == 0 else incremental) for i in range(count)]
        )
    return chains


def _phases_in_turn(rng: random.Random) -> Iterator[str]:
    """Every phase once per turn, in random order, and a kill at any moment; landing (whose
    moments are the briefest) and loading (whose transaction is the most delicate) twice."""
    while True:
        turn = [*PHASES, "land", "load", ANYTIME]
        rng.shuffle(turn)
        yield from turn


def _target(rng: random.Random, phase: str, reference: Run) -> Target:
    if phase == ANYTIME:
        return Target(ANYTIME, 0, rng.uniform(0.0, reference.seconds))
    indexes = [i for i, event in enumerate(reference.events) if event.phase == phase]
    occurrence = rng.randrange(len(indexes))
    return Target(phase, occurrence, rng.random() * reference.duration_after(indexes[occurrence]))


@dataclass
class _ChainResult:
    kills: list[Kill]
    runs: int
    snapshot: Snapshot | None
    problems: list[str]

    def failures(self, expected: Snapshot) -> list[str]:
        found = list(self.problems)
        if self.snapshot is not None:
            found += differences(expected, self.snapshot)
        return [f"chain with kills {[str(k.target) for k in self.kills]}: {f}" for f in found]


def _run_chain(
    index: int, targets: list[Target], project: _Project, launcher: _Launcher
) -> _ChainResult:
    kills: list[Kill] = []
    runs = 0
    for number, target in enumerate(targets, start=1):
        run = launcher.run(project, target)
        runs += 1
        if not run.killed:
            if run.exit_code != 0:
                return _ChainResult(kills, runs, None, [f"run {number} failed:\n{run.output}"])
            break  # finished before the kill point: the chain is complete
        line = run.events[-1] if run.events else None
        text = f"{line.phase} {line.what}" if line else STARTUP
        kills.append(Kill(index, number, target, run.hit, text))
    final = launcher.run(project)
    runs += 1
    if final.exit_code != 0:
        return _ChainResult(kills, runs, None, [f"the resuming run failed:\n{final.output}"])
    problems = [f"left in the landing zone: {path}" for path in project.landing_leftovers()]
    return _ChainResult(kills, runs, snapshot(project.warehouse), problems)


@dataclass(frozen=True)
class _Project:
    root: Path
    as_of: str

    @classmethod
    def create(cls, root: Path, server: SandboxServer[ZohoBooksApp], as_of: str) -> _Project:
        root.mkdir(parents=True)
        connection = {
            "id": ORG,
            "source": "zoho_books",
            "organization_id": server.app.organization_id(ORG),
            "api_url": f"{server.url}/books/v3",
            "accounts_url": server.url,
            "requests_per_minute": 10**7,
            "page_size": PAGE_SIZE,
        }
        config = {
            "warehouse": "data/ledgersync.duckdb",
            "landing": "data/landing",
            "connections": [connection],
        }
        (root / "connections.yaml").write_text(yaml.safe_dump(config))
        return cls(root, as_of)

    @property
    def warehouse(self) -> Path:
        return self.root / "data" / "ledgersync.duckdb"

    @property
    def argv(self) -> list[str]:
        return ["--config", str(self.root / "connections.yaml"), "--as-of", self.as_of]

    def landing_leftovers(self) -> list[Path]:
        landing = self.root / "data" / "landing"
        return sorted(p for p in landing.rglob("*") if p.is_file() and p.name != "sync.lock")


_ENV = {
    "ZOHO_CLIENT_ID": CLIENT.client_id,
    "ZOHO_CLIENT_SECRET": CLIENT.client_secret,
    "ZOHO_REFRESH_TOKEN": CLIENT.refresh_token,
}


def _forked_child(argv: list[str], env: dict[str, str], output: Connection) -> None:
    """The child's body: stdout and stderr into the pipe, then the product's entry point."""
    os.environ.update(env)
    os.dup2(output.fileno(), 1)
    os.dup2(output.fileno(), 2)
    output.close()
    from pipelines.run_once import main as run_once_main

    sys.exit(run_once_main(argv))


class _Forked:
    def __init__(self, context: multiprocessing.context.BaseContext, project: _Project) -> None:
        reader, writer = context.Pipe(duplex=False)
        self._process = context.Process(
            target=_forked_child, args=(project.argv, _ENV, writer), daemon=True
        )
        self._process.start()
        writer.close()
        self._reader = reader
        self.pid = self._process.pid or 0
        self.output = reader.fileno()

    def exit_code(self) -> int | None:
        return self._process.exitcode

    def wait(self) -> int:
        self._process.join(RUN_TIMEOUT_S)
        self._reader.close()
        if self._process.exitcode is None:
            self._process.kill()
            self._process.join()
            raise TimeoutError(f"a sync ran longer than {RUN_TIMEOUT_S:.0f}s")
        return self._process.exitcode


class _Spawned:
    def __init__(self, project: _Project) -> None:
        self._process = subprocess.Popen(
            [sys.executable, "-m", "pipelines.run_once", *project.argv],
            stdout=subprocess.PIPE,
            stderr=subprocess.STDOUT,
            env={**os.environ, **_ENV},
            cwd=project.root,
        )
        self.pid = self._process.pid
        assert self._process.stdout is not None
        self.output = self._process.stdout.fileno()

    def exit_code(self) -> int | None:
        return self._process.poll()

    def wait(self) -> int:
        try:
            code = self._process.wait(RUN_TIMEOUT_S)
        except subprocess.TimeoutExpired:
            self._process.kill()
            raise TimeoutError(f"a sync ran longer than {RUN_TIMEOUT_S:.0f}s") from None
        finally:
            assert self._process.stdout is not None
            self._process.stdout.close()
        return code


class _Launcher:
    def __init__(self, *, spawn: bool) -> None:
        self._spawn = spawn
        self._serial = 0
        self._lock = threading.Lock()
        if not spawn:
            self._context = multiprocessing.get_context("forkserver")
            self._context.set_forkserver_preload(["pipelines.run_once", __name__])

    def run(self, project: _Project, target: Target | None = None) -> Run:
        with self._lock:
            self._serial += 1
            serial = self._serial
        started = time.monotonic()
        child: _Child = _Spawned(project) if self._spawn else _Forked(self._context, project)
        run = _watch(child, target, started)
        (project.root / f"run-{serial:04d}.log").write_text(run.output)
        return run


def _watch(child: _Child, target: Target | None, started: float) -> Run:
    """Follow the child's phase lines as they come; send SIGKILL at the target."""
    events: list[Event] = []
    counts: Counter[str] = Counter()
    received = bytearray()
    pending = b""
    kill_at = started + target.delay_s if target and target.phase == ANYTIME else None
    while True:
        wait = 0.05 if kill_at is None else max(0.0, min(0.05, kill_at - time.monotonic()))
        readable, _, _ = select.select([child.output], [], [], wait)
        chunk = os.read(child.output, 65536) if readable else b""
        now = time.monotonic()
        received += chunk
        *lines, pending = (pending + chunk).split(b"\n")
        for line in lines:
            event = _event(line.decode(errors="replace"), now - started)
            if event is None:
                continue
            events.append(event)
            counts[event.phase] += 1
            if (
                target
                and kill_at is None
                and event.phase == target.phase
                and counts[event.phase] == target.occurrence + 1
            ):
                kill_at = now + target.delay_s
        if kill_at is not None and time.monotonic() >= kill_at:
            _sigkill(child.pid)
            kill_at = math.inf
        if readable and not chunk:
            break  # end of output: the child is gone
        if not readable and child.exit_code() is not None:
            break
    exit_code = child.wait()
    return Run(
        tuple(events), exit_code, time.monotonic() - started, received.decode(errors="replace")
    )


def _event(line: str, at: float) -> Event | None:
    parts = line.split(" ", 2)
    if len(parts) >= 2 and parts[0] == "phase":
        return Event(parts[1], parts[2] if len(parts) > 2 else "", at)
    return None


def _sigkill(pid: int) -> None:
    try:
        os.kill(pid, signal.SIGKILL)
    except ProcessLookupError:
        pass  # it had just finished


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m benchmarks.kill_anywhere", description=__doc__)
    parser.add_argument("--kills", type=int, default=300)
    parser.add_argument("--size", choices=sorted(SIZES), default="medium")
    parser.add_argument("--seed", type=int)
    parser.add_argument("--per-chain", type=int, default=4)
    parser.add_argument("--lanes", type=int, default=2)
    parser.add_argument("--spawn", action="store_true", help="python -m per run, not a fork")
    parser.add_argument("--workdir", type=Path, help="keep projects and logs here")
    args = parser.parse_args(argv)
    with tempfile.TemporaryDirectory(prefix="kill-anywhere-") as scratch:
        outcome = kill_anywhere(
            args.workdir or Path(scratch),
            kills=args.kills,
            size=args.size,
            seed=args.seed,
            per_chain=args.per_chain,
            lanes=args.lanes,
            spawn=args.spawn,
        )
    for failure in outcome.failures:
        print(f"FAILED: {failure}", file=sys.stderr)
    missing = set(PHASES) - set(outcome.by_phase())
    if missing:
        print(f"FAILED: no kill hit {sorted(missing)}", file=sys.stderr)
    return 1 if outcome.failures or missing else 0
