"""Connections as Dagster dynamic partitions: one partitions definition per source.

The partition keys live in the Dagster instance, not in the code, so adding a connection to the
connections file needs no code change and no reload: the `connection_partitions` sensor (or, for
the command line, `register_connections`) makes each source's keys match the file.
"""

from __future__ import annotations

import dagster as dg

from pipelines.config import LedgersyncConfig
from pipelines.registry import SOURCES

__all__ = ["partition_requests", "partitions_name", "partitions_of", "register_connections"]

PartitionRequest = dg.AddDynamicPartitionsRequest | dg.DeleteDynamicPartitionsRequest


def partitions_name(source: str) -> str:
    return f"{source}_connections"


def partitions_of(source: str) -> dg.DynamicPartitionsDefinition:
    """The partitions of a source's ingest assets: its connections' ids."""
    return dg.DynamicPartitionsDefinition(name=partitions_name(source))


def partition_requests(
    instance: dg.DagsterInstance, config: LedgersyncConfig
) -> list[PartitionRequest]:
    """What turns each source's partition keys in `instance` into the file's connection ids."""
    requests: list[PartitionRequest] = []
    for source in SOURCES:
        name = partitions_name(source)
        present = set(instance.get_dynamic_partitions(name))
        wanted = [c.id for c in config.of_source(source)]
        added = [key for key in wanted if key not in present]
        removed = sorted(present - set(wanted))
        if added:
            requests.append(dg.AddDynamicPartitionsRequest(name, added))
        if removed:
            requests.append(dg.DeleteDynamicPartitionsRequest(name, removed))
    return requests


def register_connections(instance: dg.DagsterInstance, config: LedgersyncConfig) -> None:
    """Add the file's connections to `instance` as partitions, where a run is about to sync them
    without the sensor (the command line); connections no longer in the file are left alone."""
    for request in partition_requests(instance, config):
        if isinstance(request, dg.AddDynamicPartitionsRequest):
            instance.add_dynamic_partitions(request.partitions_def_name, request.partition_keys)
