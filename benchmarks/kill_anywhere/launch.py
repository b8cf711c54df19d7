"""The runs a chain kills, through each entry point users have, in a project of their own.

- `run_once`: `pipelines.run_once` (the functions the Dagster assets call, in one process),
  forked from a forkserver that imported ledgersync once, so a run starts in milliseconds; it
  writes a line before each phase, so kills can be aimed at phases;
- `run_once-spawn`: the same as `python -m pipelines.run_once`, a fresh interpreter per run;
- `cli`: `ledgersync sync`, the command line (Dagster runs in its process), forked the same way
  from a forkserver that imported the command (Dagster with it): the command's own code from
  its argument parsing on, without the seconds a fresh interpreter spends importing;
- `cli-spawn`: the `ledgersync` executable, a fresh interpreter per run;
- `dagster`: `dagster job execute` of the connection's sync job (its partition), then of the
  report job, against a DAGSTER_HOME of the project's own, as a deployment runs them.

Every run but `run_once`'s is in a process group of its own, and a kill takes the whole group
(the Dagster executor's step processes with it), as a machine that dies would.
"""

from __future__ import annotations

import json
import multiprocessing
import os
import subprocess
import sys
import threading
import time
from dataclasses import dataclass
from datetime import date
from multiprocessing.connection import Connection
from pathlib import Path
from typing import Any

import dagster as dg
import yaml

from benchmarks.kill_anywhere.runs import Child, Run, sigkill, watch
from benchmarks.kill_anywhere.targets import Target
from benchmarks.proof_sources import ACCOUNT, SourceUnderTest
from pipelines.config import load_config
from pipelines.connection_partitions import register_connections
from pipelines.defs.jobs import REPORTS_JOB
from pipelines.defs.reports import REPORTS_OP
from sandbox.server import SandboxServer

__all__ = ["ENTRY_POINTS", "PHASED", "Launcher", "Project"]

ENTRY_POINTS = ("run_once", "run_once-spawn", "cli", "cli-spawn", "dagster")
FORKED = {"run_once": "pipelines.run_once", "cli": "pipelines.cli"}  # the module preloaded
PHASED = frozenset({"run_once", "run_once-spawn"})  # they write phase lines
PAGE_SIZE = 10  # many pages, so kills land between pages as well as within them
RUN_TIMEOUT_S = 600.0
_BIN = Path(sys.executable).parent


@dataclass(frozen=True)
class Project:
    """A ledgersync project with one connection to a sandbox, in a directory of its own."""

    root: Path
    source: str
    env: dict[str, str]
    as_of: date  # the reports' date: today (UTC), which is what `ledgersync sync` uses

    @classmethod
    def create(
        cls,
        root: Path,
        source: SourceUnderTest,
        server: SandboxServer[Any],
        *,
        as_of: date,
        reconcile_each_sync: bool,
    ) -> Project:
        """`reconcile_each_sync`: list every stream's ids on every sync (deletions show at once)."""
        settings: dict[str, object] = {"page_size": PAGE_SIZE}
        if reconcile_each_sync:
            settings["full_key_reconciliation_hours"] = 0
        config = {
            "warehouse": "data/ledgersync.duckdb",
            "landing": "data/landing",
            "connections": [source.connection(server, **settings)],
        }
        (root / "dagster").mkdir(parents=True)
        (root / "dagster" / "dagster.yaml").write_text("")
        (root / "connections.yaml").write_text(yaml.safe_dump(config))
        # `dagster job execute` runs a partition the instance knows (the connection_partitions
        # sensor adds them in a deployment).
        with dg.DagsterInstance.from_config(str(root / "dagster")) as instance:
            register_connections(instance, load_config(root / "connections.yaml"))
        reports = {"ops": {REPORTS_OP: {"config": {"as_of": as_of.isoformat()}}}}
        (root / "reports.yaml").write_text(yaml.safe_dump(reports))
        return cls(root, source.name, source.env(server), as_of)

    @property
    def config_path(self) -> Path:
        return self.root / "connections.yaml"

    @property
    def warehouse(self) -> Path:
        return self.root / "data" / "ledgersync.duckdb"

    def landing_leftovers(self) -> list[Path]:
        landing = self.root / "data" / "landing"
        return sorted(p for p in landing.rglob("*") if p.is_file() and p.name != "sync.lock")

    def argv(self, entry_point: str) -> list[str]:
        config = str(self.config_path)
        if entry_point.startswith("run_once"):
            return ["--config", config, "--as-of", self.as_of.isoformat()]
        if entry_point.startswith("cli"):
            return [str(_BIN / "ledgersync"), "sync", "--config", config]
        dagster = f"{_BIN / 'dagster'} job execute -m pipelines.definitions"
        partition = json.dumps({"dagster/partition": ACCOUNT})
        return [
            "sh",
            "-c",
            f"{dagster} -j sync_{self.source} --tags '{partition}' && "
            "echo 'phase report all' && "
            f"{dagster} -j {REPORTS_JOB} -c {self.root / 'reports.yaml'}",
        ]

    def environment(self) -> dict[str, str]:
        return {
            **os.environ,
            **self.env,
            "DAGSTER_HOME": str(self.root / "dagster"),
            "LEDGERSYNC_CONFIG": str(self.config_path),
        }


def _forked_child(
    entry_point: str, argv: list[str], env: dict[str, str], cwd: Path, output: Connection
) -> None:
    """The child's body: stdout and stderr into the pipe, then the product's entry point (the
    command in a process group of its own, in the project's directory, as a shell starts it)."""
    os.environ.update(env)
    os.dup2(output.fileno(), 1)
    os.dup2(output.fileno(), 2)
    output.close()
    if entry_point == "run_once":
        from pipelines.run_once import main as run_once_main

        sys.exit(run_once_main(argv))
    os.setsid()
    os.chdir(cwd)
    from pipelines.cli import app

    app(argv[1:], prog_name="ledgersync")


class _Forked:
    def __init__(
        self, context: multiprocessing.context.BaseContext, entry_point: str, project: Project
    ) -> None:
        reader, writer = context.Pipe(duplex=False)
        env = project.env if entry_point == "run_once" else project.environment()
        args = (entry_point, project.argv(entry_point), env, project.root, writer)
        self._process = context.Process(  # type: ignore[attr-defined]
            target=_forked_child, args=args, daemon=True
        )
        self._process.start()
        writer.close()
        self._reader = reader
        self._group = entry_point != "run_once"
        self.pid: int = self._process.pid or 0
        self.output = reader.fileno()

    def exit_code(self) -> int | None:
        code: int | None = self._process.exitcode
        return code

    def kill(self) -> None:
        if self._group:
            sigkill(os.killpg, self.pid)
        sigkill(os.kill, self.pid)  # also if it was killed before it made its group

    def wait(self) -> int:
        self._process.join(RUN_TIMEOUT_S)
        self._reader.close()
        if self._process.exitcode is None:
            self._process.kill()
            self._process.join()
            raise TimeoutError(f"a sync ran longer than {RUN_TIMEOUT_S:.0f}s")
        code: int = self._process.exitcode
        return code


class _Command:
    """A command in a process group of its own."""

    def __init__(self, argv: list[str], project: Project) -> None:
        self._process = subprocess.Popen(
            argv,
            stdout=subprocess.PIPE,
            stderr=subprocess.STDOUT,
            env=project.environment(),
            cwd=project.root,
            start_new_session=True,
        )
        self.pid = self._process.pid
        assert self._process.stdout is not None
        self.output = self._process.stdout.fileno()

    def exit_code(self) -> int | None:
        return self._process.poll()

    def kill(self) -> None:
        sigkill(os.killpg, self.pid)

    def wait(self) -> int:
        try:
            code = self._process.wait(RUN_TIMEOUT_S)
        except subprocess.TimeoutExpired:
            self.kill()
            raise TimeoutError(f"a sync ran longer than {RUN_TIMEOUT_S:.0f}s") from None
        finally:
            assert self._process.stdout is not None
            self._process.stdout.close()
        return code


class Launcher:
    """Starts and follows runs through one entry point; each run's output goes to a log file
    in its project."""

    def __init__(self, entry_point: str) -> None:
        if entry_point not in ENTRY_POINTS:
            raise ValueError(f"entry point {entry_point!r} is not one of {ENTRY_POINTS}")
        self.entry_point = entry_point
        self._serial = 0
        self._lock = threading.Lock()
        if entry_point in FORKED:
            self._context = multiprocessing.get_context("forkserver")
            # One forkserver serves every launcher of this process: it imports both.
            self._context.set_forkserver_preload([*FORKED.values(), __name__])

    @property
    def phased(self) -> bool:
        return self.entry_point in PHASED

    def run(self, project: Project, target: Target | None = None) -> Run:
        with self._lock:
            self._serial += 1
            serial = self._serial
        started = time.monotonic()
        run = watch(self._start(project), target, started)
        (project.root / f"run-{serial:04d}.log").write_text(run.output)
        return run

    def _start(self, project: Project) -> Child:
        if self.entry_point in FORKED:
            return _Forked(self._context, self.entry_point, project)
        if self.entry_point == "run_once-spawn":
            argv = [sys.executable, "-m", "pipelines.run_once", *project.argv("run_once")]
            return _Command(argv, project)
        return _Command(project.argv(self.entry_point), project)  # cli-spawn, dagster
