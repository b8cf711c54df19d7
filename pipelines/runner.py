"""Run the project's Dagster jobs in this process: what the command line does.

Runs go to the instance given (the command line passes the project's, `pipelines.instance`), else
to the one in `$DAGSTER_HOME` when it is set, else to an ephemeral one. Running in-process keeps
embedded sandboxes (threads of this process) reachable.
"""

from __future__ import annotations

import re
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from datetime import date
from pathlib import Path

import dagster as dg

from pipelines.config import LedgersyncConfig
from pipelines.connection_partitions import register_connections
from pipelines.defs.ingest import NO_RETRY_TAG
from pipelines.defs.jobs import REPORTS_JOB
from pipelines.defs.reports import REPORTS_OP
from pipelines.instance import open_instance
from pipelines.location import build_definitions

__all__ = ["RunOutcome", "run_reports", "run_syncs"]


@dataclass(frozen=True, slots=True)
class RunOutcome:
    name: str  # a connection id, or the reports job
    run_id: str
    success: bool
    error: str | None
    metadata: dict[str, dict[str, object]]  # asset key → metadata values


@contextmanager
def _instance(given: dg.DagsterInstance | None) -> Iterator[dg.DagsterInstance]:
    """The caller's instance (the caller closes it), or one opened and closed here."""
    if given is not None:
        yield given
        return
    with open_instance() as instance:
        yield instance


def _logging(log_level: str) -> dict[str, object]:
    return {"loggers": {"console": {"config": {"log_level": log_level}}}}


def run_syncs(
    config: LedgersyncConfig,
    config_path: Path,
    *,
    connection_ids: list[str] | None = None,
    full_refresh: bool = False,
    log_level: str = "WARNING",
    instance: dg.DagsterInstance | None = None,
) -> list[RunOutcome]:
    """One run per connection; a failing connection does not stop the others."""
    defs = build_definitions(config_path)
    outcomes = []
    with _instance(instance) as recording:
        register_connections(recording, config)
        for connection in config.connections:
            if connection_ids and connection.id not in connection_ids:
                continue
            job = defs.resolve_job_def(f"sync_{connection.source}")
            result = job.execute_in_process(
                partition_key=connection.id,
                instance=recording,
                raise_on_error=False,
                run_config={
                    "ops": {
                        f"{connection.source}_sync": {"config": {"full_refresh": full_refresh}}
                    },
                    **_logging(log_level),
                },
                tags={"connection": connection.id, NO_RETRY_TAG: "true"},
            )
            outcomes.append(_outcome(connection.id, result))
    return outcomes


def run_reports(
    config_path: Path,
    *,
    as_of: date,
    log_level: str = "WARNING",
    instance: dg.DagsterInstance | None = None,
) -> RunOutcome:
    defs = build_definitions(config_path)
    with _instance(instance) as recording:
        result = defs.resolve_job_def(REPORTS_JOB).execute_in_process(
            instance=recording,
            raise_on_error=False,
            run_config={
                "ops": {
                    REPORTS_OP: {"config": {"as_of": as_of.isoformat()}},
                },
                **_logging(log_level),
            },
        )
        return _outcome(REPORTS_JOB, result)


def _outcome(name: str, result: dg.ExecuteInProcessResult) -> RunOutcome:
    error = None
    if not result.success:
        failures = result.get_step_failure_events()
        error = (
            "; ".join(_failure_message(event) for event in failures)
            if failures
            else "the run failed"
        )
    metadata = {
        event.asset_key.to_user_string(): {
            key: value.value for key, value in event.materialization.metadata.items()
        }
        for event in result.get_asset_materialization_events()
        if event.asset_key
    }
    return RunOutcome(name, result.run_id, result.success, error, metadata)


def _failure_message(event: dg.DagsterEvent) -> str:
    """The error's own message: ledgersync's errors say everything without their class name;
    anyone else's keep it (`duckdb.IOException: ...`)."""
    error = event.step_failure_data.error
    while error is not None and error.cause is not None and error.cls_name in _WRAPPERS:
        error = error.cause
    if error is None:
        return "unknown error"
    return _OWN_CLASS.sub("", error.message.strip(), count=1)


# `Failure`: how the ingest asset says an error is not worth retrying (its cause is the error).
_WRAPPERS = frozenset(
    {"DagsterExecutionStepExecutionError", "DagsterUserCodeExecutionError", "Failure"}
)
_OWN_CLASS = re.compile(r"^(?:connectors|models|pipelines|sandbox)(?:\.\w+)+: ")
