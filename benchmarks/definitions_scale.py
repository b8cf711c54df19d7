"""What a deployment of many connections costs the Dagster UI and daemon: the code location's
load time, its peak memory, the size of the snapshot it sends them, and a sensor tick.

    python -m benchmarks.definitions_scale --connections 1000
    python -m benchmarks.definitions_scale --connections 1000 --code /path/to/an/older/checkout

Each measurement runs in a fresh process (its peak RSS is its own, `wait4`; `loaded_rss_mib` is
its high-water mark once loaded and snapshotted, before the ticks), which loads
`pipelines.definitions` the way a code server does, from a connections file of N embedded-sandbox
connections spread over the four sources. `--code` loads the project's packages from another
checkout instead (the baseline before connections became partitions: it has no sensors, so its
ticks are not measured). Prints one JSON line.
"""

from __future__ import annotations

import argparse
import json
import os
import resource
import sys
import tempfile
import time
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import TYPE_CHECKING

import yaml

from benchmarks.measure import run_child

if TYPE_CHECKING:
    from dagster import RepositoryDefinition

__all__ = ["main"]

SOURCES = ("zoho_books", "business_central", "simpro", "carbon")


def write_connections(path: Path, count: int) -> Path:
    connections = [
        {
            "id": f"{SOURCES[i % len(SOURCES)].replace('_', '-')}-{i:05d}",
            "source": SOURCES[i % len(SOURCES)],
            "sandbox": "embedded",
            "sync_cron": f"{i % 60} */6 * * *",
        }
        for i in range(count)
    ]
    path.write_text(yaml.safe_dump({"connections": connections}))
    return path


def measure_in_this_process(code: Path | None) -> dict[str, object]:
    """Run in the child: load, snapshot and (where the code has them) the two sensors' ticks."""
    if code is not None:
        sys.path.insert(0, str(code))
    started = time.perf_counter()
    from dagster._core.remote_representation.external_data import RepositorySnap
    from dagster_shared.serdes import serialize_value

    import pipelines.definitions

    imported = time.perf_counter()
    definitions = pipelines.definitions.defs()
    repository = definitions.get_repository_def()
    repository.load_all_definitions()
    loaded = time.perf_counter()
    snapshot = serialize_value(RepositorySnap.from_def(repository))
    snapped = time.perf_counter()
    figures: dict[str, object] = {
        "code": str(Path(pipelines.definitions.__file__).parents[1]),
        "import_s": round(imported - started, 3),
        "load_s": round(loaded - imported, 3),
        "snapshot_s": round(snapped - loaded, 3),
        "snapshot_kb": round(len(snapshot.encode()) / 1000, 1),
        "loaded_rss_mib": round(resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024, 1),
        "schedules": len(repository.schedule_defs),
        "sensors": len(repository.sensor_defs),
    }
    if repository.has_sensor_def("connection_partitions"):
        figures |= _ticks(repository)
    return figures


def _ticks(repository: RepositoryDefinition) -> dict[str, object]:
    """The partitions sensor's first tick (every connection added) and a tick with nothing to
    change, against an instance on disk; the syncs sensor's tick with every connection due."""
    import dagster as dg

    figures: dict[str, object] = {}
    with tempfile.TemporaryDirectory() as home, dg.DagsterInstance.local_temp(home) as instance:
        partitions = repository.get_sensor_def("connection_partitions")
        for name in ("first", "steady"):
            started = time.perf_counter()
            with dg.build_sensor_context(instance=instance, repository_def=repository) as context:
                result = partitions(context)
            for request in getattr(result, "dynamic_partitions_requests", None) or ():
                instance.add_dynamic_partitions(request.partitions_def_name, request.partition_keys)
            figures[f"partitions_tick_{name}_s"] = round(time.perf_counter() - started, 3)
        syncs = repository.get_sensor_def("connection_syncs")
        cursor = (datetime.now(UTC) - timedelta(hours=7)).isoformat()
        started = time.perf_counter()
        with dg.build_sensor_context(
            instance=instance, cursor=cursor, repository_def=repository
        ) as context:
            result = syncs(context)
        assert isinstance(result, dg.SensorResult)
        figures["syncs_tick_s"] = round(time.perf_counter() - started, 3)
        figures["syncs_requested"] = len(result.run_requests or [])
    return figures


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--connections", type=int, default=1000)
    parser.add_argument("--code", type=Path, help="load the packages from this checkout")
    parser.add_argument("--child", action="store_true", help=argparse.SUPPRESS)
    arguments = parser.parse_args(argv)
    if arguments.child:
        print(json.dumps(measure_in_this_process(arguments.code)))
        return
    with tempfile.TemporaryDirectory() as work:
        path = write_connections(Path(work) / "connections.yaml", arguments.connections)
        os.environ["LEDGERSYNC_CONFIG"] = str(path)
        extra = ["--code", str(arguments.code.resolve())] if arguments.code else []
        child = run_child(
            "definitions_scale",
            "benchmarks.definitions_scale",
            ["--child", *extra],
            log_dir=Path(work),
        )
    print(
        json.dumps(
            {
                "connections": arguments.connections,
                **child.result,
                "wall_s": round(child.wall_s, 3),
                "peak_rss_mib": round(child.peak_rss_mib, 1),
            }
        )
    )


if __name__ == "__main__":
    main()
