"""Many connections synced through Dagster's run queue into one DuckLake, checked against truth.

    python -m benchmarks.scale_run --connections 24 --concurrency 8
    python -m benchmarks.scale_run --connections 24 --concurrency 1     # one at a time

N Zoho organizations (small generated ledgers) are served by one sandbox in this process. A
Dagster instance of its own (deploy/dagster.yaml: storage in PostgreSQL, the queued run
coordinator, here with `max_concurrent_runs` set to `--concurrency`) and a `dagster-daemon`
run the `sync_zoho_books` job for every connection (a partition each) as one job backfill; the
warehouse is a DuckLake whose catalog and the instance share a scratch PostgreSQL database,
dropped afterwards (the server: 127.0.0.1:5432, database `test`, as in the tests). When every
run has finished, the reports are built and each connection is compared with its ledger's
truth (`benchmarks.truth`). Prints one JSON line: wall time from submission to the last run's
end, runs per minute, failed runs (those that failed before any step started: launch failures;
those whose step failed on a lock, a busy connection or a commit conflict), retried steps,
connections differing from their truth, and each run's peak memory (the run worker and its step
process together, sampled every 0.5 s). `DAGSTER_GRPC_TIMEOUT_SECONDS` bounds a run's launch
through the code server (Dagster's default: 60 s).
"""

from __future__ import annotations

import argparse
import json
import os
import re
import signal
import statistics
import subprocess
import sys
import tempfile
import time
import uuid
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import dagster as dg
import psycopg2
import yaml

from benchmarks.truth import IdMap, truth_differences
from pipelines.config import load_config
from pipelines.connection_partitions import register_connections
from pipelines.runner import run_reports
from sandbox.server import SandboxServer
from sandbox.zoho_books.app import ZohoBooksApp
from sandbox.zoho_books.ids import Kind, zoho_id
from sandbox.zoho_books.testing import TESTING, zoho_connection

__all__ = ["main"]

ROOT = Path(__file__).resolve().parent.parent
PG = {"host": "127.0.0.1", "port": "5432", "user": "postgres"}
JOB = "sync_zoho_books"
SIZE = {"customers": 5, "invoices": 20, "payments": 15}
# The code server starts each run's worker as a multiprocessing child; the worker starts a
# process per step.
_CODE_SERVER = b"api\0grpc"
_SPAWNED = b"spawn_main"


@contextmanager
def scratch_database() -> Iterator[str]:
    name = f"ledgersync_scale_{uuid.uuid4().hex[:10]}"
    _admin(f"CREATE DATABASE {name}")
    try:
        yield name
    finally:
        _admin(f"DROP DATABASE {name} WITH (FORCE)")


def _admin(statement: str) -> None:
    conn = psycopg2.connect(dbname="test", connect_timeout=5, **PG)
    conn.autocommit = True
    try:
        with conn.cursor() as cursor:
            cursor.execute(statement)
    finally:
        conn.close()


def write_project(
    work: Path, server: SandboxServer[ZohoBooksApp], orgs: list[str], database: str
) -> Path:
    catalog = f"postgresql://{PG['user']}@{PG['host']}:{PG['port']}/{database}"
    path = work / "connections.yaml"
    path.write_text(
        yaml.safe_dump(
            {
                "warehouse": {
                    "ducklake": {"catalog": catalog, "data_path": "lake", "metadata_schema": "lake"}
                },
                "landing": "landing",
                "connections": [zoho_connection(server, org) for org in orgs],
            }
        )
    )
    return path


def write_instance(home: Path, concurrency: int) -> None:
    """deploy/dagster.yaml with at most `concurrency` runs at once."""
    config = yaml.safe_load((ROOT / "deploy" / "dagster.yaml").read_text())
    config["concurrency"]["runs"]["max_concurrent_runs"] = concurrency
    home.mkdir(parents=True, exist_ok=True)
    (home / "dagster.yaml").write_text(yaml.safe_dump(config))


def write_workspace(work: Path) -> Path:
    path = work / "workspace.yaml"
    module = {
        "module_name": "pipelines.definitions",
        "working_directory": str(ROOT),
        "location_name": "ledgersync",
    }
    path.write_text(yaml.safe_dump({"load_from": [{"python_module": module}]}))
    return path


@contextmanager
def daemon(workspace: Path) -> Iterator[subprocess.Popen[bytes]]:
    """`dagster-daemon run` (the run queue, the backfills, the sensors) in its own session."""
    log = open(workspace.parent / "daemon.log", "wb")  # noqa: SIM115 - closed below
    process = subprocess.Popen(
        [str(Path(sys.executable).with_name("dagster-daemon")), "run", "-w", str(workspace)],
        stdout=log,
        stderr=subprocess.STDOUT,
        start_new_session=True,
    )
    try:
        yield process
    finally:
        process.send_signal(signal.SIGTERM)
        try:
            process.wait(timeout=60)
        except subprocess.TimeoutExpired:
            os.killpg(process.pid, signal.SIGKILL)
            process.wait()
        log.close()


def submit_backfill(workspace: Path, partitions: list[str]) -> None:
    subprocess.run(
        [
            str(Path(sys.executable).with_name("dagster")),
            "job",
            "backfill",
            "-w",
            str(workspace),
            "-j",
            JOB,
            "--partitions",
            ",".join(partitions),
            "--noprompt",
        ],
        check=True,
        capture_output=True,
    )


class MemorySampler:
    """Each run worker's process tree's resident memory, sampled: the highest sum seen."""

    def __init__(self) -> None:
        self.peaks: dict[int, int] = {}  # run worker pid → bytes

    def sample(self) -> None:
        children: dict[int, list[int]] = {}
        parents: dict[int, int] = {}
        commands: dict[int, bytes] = {}
        for entry in Path("/proc").iterdir():
            if not entry.name.isdigit():
                continue
            try:
                status = (entry / "status").read_text()
                commands[int(entry.name)] = (entry / "cmdline").read_bytes()
            except OSError:
                continue
            parent = re.search(r"^PPid:\s+(\d+)", status, re.M)
            if parent:
                parents[int(entry.name)] = int(parent.group(1))
                children.setdefault(int(parent.group(1)), []).append(int(entry.name))
        workers = [
            pid
            for pid, command in commands.items()
            if _SPAWNED in command and _CODE_SERVER in commands.get(parents.get(pid, 0), b"")
        ]
        for worker in workers:
            total = sum(_rss(pid) for pid in _tree(worker, children))
            self.peaks[worker] = max(self.peaks.get(worker, 0), total)


def _tree(pid: int, children: dict[int, list[int]]) -> Iterator[int]:
    yield pid
    for child in children.get(pid, []):
        yield from _tree(child, children)


def _rss(pid: int) -> int:
    try:
        status = Path(f"/proc/{pid}/status").read_text()
    except OSError:
        return 0
    found = re.search(r"^VmRSS:\s+(\d+) kB", status, re.M)
    return int(found.group(1)) * 1024 if found else 0


def wait_for_runs(
    instance: dg.DagsterInstance, count: int, sampler: MemorySampler, timeout_s: float
) -> list[dg.DagsterRun]:
    deadline = time.monotonic() + timeout_s
    while time.monotonic() < deadline:
        sampler.sample()
        runs = instance.get_runs(dg.RunsFilter(job_name=JOB))
        if len(runs) >= count and all(run.is_finished for run in runs):
            return list(runs)
        time.sleep(0.5)
    raise TimeoutError(f"the runs did not all finish within {timeout_s:.0f} s")


def measure(connections: int, concurrency: int, timeout_s: float) -> dict[str, object]:
    orgs = [f"scale-{i:04d}" for i in range(connections)]
    sandbox = {"organizations": tuple(orgs), "ledger_size": SIZE, "rate_limit": 100_000}
    with (
        tempfile.TemporaryDirectory() as work_dir,
        TESTING.start_one(None, **sandbox) as server,
        scratch_database() as database,
    ):
        work = Path(work_dir)
        config_path = write_project(work, server, orgs, database)
        write_instance(work / "dagster_home", concurrency)
        workspace = write_workspace(work)
        os.environ.update(TESTING.environment)
        os.environ.update(
            DAGSTER_HOME=str(work / "dagster_home"),
            LEDGERSYNC_CONFIG=str(config_path),
            DAGSTER_PG_HOST=PG["host"],
            DAGSTER_PG_PORT=PG["port"],
            DAGSTER_PG_DB=database,
            DAGSTER_PG_USERNAME=PG["user"],
            DAGSTER_PG_PASSWORD="",
        )
        project = load_config(config_path)
        sampler = MemorySampler()
        with dg.DagsterInstance.get() as instance, daemon(workspace):
            register_connections(instance, project)
            started = time.perf_counter()
            submit_backfill(workspace, orgs)
            runs = wait_for_runs(instance, connections, sampler, timeout_s)
            wall = time.perf_counter() - started
            retried = sum(
                _events(instance, run, dg.DagsterEventType.STEP_UP_FOR_RETRY) for run in runs
            )
            failed = [run for run in runs if run.is_failure]
            never_started = [
                run for run in failed if not _events(instance, run, dg.DagsterEventType.STEP_START)
            ]
            lock_failures = sum(_lock_failure(instance, run) for run in failed)
        as_of = server.app.ledger(orgs[0]).as_of
        reports = run_reports(config_path, as_of=as_of)
        warehouse = project.open_warehouse()
        differing = {}
        for org in orgs:
            problems, _ = truth_differences(
                warehouse,
                server.app.ledger(org),
                ids=_ids(server, org),
                connection_id=org,
                as_of=as_of,
            )
            if problems:
                differing[org] = problems[:2]
    peaks = sorted(sampler.peaks.values())
    return {
        "connections": connections,
        "concurrency": concurrency,
        "runs": len(runs),
        "failed_runs": len(failed),
        "failed_before_a_step_started": len(never_started),
        "lock_failures": lock_failures,
        "retried_steps": retried,
        "reports_succeeded": reports.success,
        "differing_from_truth": differing,
        "wall_s": round(wall, 1),
        "runs_per_minute": round(len(runs) / wall * 60, 2),
        "runs_sampled": len(peaks),
        "peak_mib_per_run_median": round(statistics.median(peaks) / 2**20, 1) if peaks else None,
        "peak_mib_per_run_max": round(peaks[-1] / 2**20, 1) if peaks else None,
    }


_ZOHO_KIND: dict[str, Kind] = {"customer": "contact", "invoice": "invoice", "payment": "payment"}


def _events(instance: dg.DagsterInstance, run: dg.DagsterRun, kind: dg.DagsterEventType) -> int:
    return len(instance.get_records_for_run(run.run_id, of_type=kind).records)


def _lock_failure(instance: dg.DagsterInstance, run: dg.DagsterRun) -> bool:
    """A step of the run failed on the warehouse's or a connection's lock, or a commit conflict."""
    records = instance.get_records_for_run(
        run.run_id, of_type=dg.DagsterEventType.STEP_FAILURE
    ).records
    text = " ".join(str(record.event_log_entry.dagster_event) for record in records).lower()
    return any(word in text for word in ("lock", "conflict", "busy"))


def _ids(server: SandboxServer[ZohoBooksApp], org: str) -> IdMap:
    organization = server.app.organization_id(org)
    return lambda kind, ledger_id: zoho_id(organization, _ZOHO_KIND[kind], ledger_id)


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--connections", type=int, default=24)
    parser.add_argument("--concurrency", type=int, default=8)
    parser.add_argument("--timeout-s", type=float, default=3600.0)
    arguments = parser.parse_args(argv)
    print(json.dumps(measure(arguments.connections, arguments.concurrency, arguments.timeout_s)))


if __name__ == "__main__":
    main()
