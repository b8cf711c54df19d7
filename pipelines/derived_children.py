"""Sync a dependent stream whose records are derived from the parent's list rows where that is
exact (`connectors.streams.ChildDerivation`), fetching only the rest, and verifying continuously.

1. The pending parents that are no candidates are fetched, landed and loaded first.
2. The candidates the warehouse confirms are stored as derived records (`models.derivation`).
3. The unconfirmed candidates are fetched, with a sample of the confirmed ones
   (`sample_share` of them, drawn from their ids: the same in any run).
4. A sampled record whose fetched version differs from what was derived turns derivation off
   for the connection (`sync.derivations_off`), with a warning, and every derived record of the
   connection is fetched at once. From then on the stream fetches every record.

A full refresh fetches or derives every record again; what none of the steps stored again then
belongs to a parent that is gone and is marked vanished, as one complete listing would (unless a
fetched batch was set aside: its records were not stored again, yet are not gone).
"""

from __future__ import annotations

import logging
from collections.abc import Callable, Iterable, Iterator, Mapping
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from duckdb import DuckDBPyConnection

from connectors.pagination import Page
from connectors.streams import ChildDerivation, Connector, Stream
from models.derivation import (
    derivation_off,
    derive,
    mark_unrefreshed_vanished,
    to_fetch_first,
    turn_derivation_off,
)
from models.landing import LandedBatch
from models.queries import scalar
from models.raw import LoadResult, RawStream, ensure_raw_table, pending_children
from models.warehouse import BULK_MEMORY_LIMIT, Warehouse
from pipelines.sync_errors import SetAsideBatch

__all__ = ["DerivedChildren", "sync_derived_children"]

log = logging.getLogger(__name__)

# Lands the pages of one extraction as one batch and loads it (or sets it aside).
Fetched = tuple[LandedBatch, LoadResult | SetAsideBatch]
FetchBatch = Callable[[Iterable[Page]], Fetched]


@dataclass(frozen=True, slots=True)
class DerivedChildren:
    batches: list[Fetched]  # every fetch, in order
    derived: int  # records derived from list rows and stored, not fetched since
    inserted: int  # of the derived, how many were new or changed
    vanished: int
    warnings: tuple[str, ...]


def sync_derived_children(
    connector: Connector,
    stream: Stream,
    derivation: ChildDerivation,
    *,
    sample_share: float,
    parent: RawStream,
    raw_tables: Mapping[str, RawStream],
    warehouse: Warehouse,
    everything: bool,
    fetch: FetchBatch,
) -> DerivedChildren | None:
    """The stream synced with its derivation; None where the connection turned it off (the
    caller then fetches every pending record, derived ones included)."""
    connection_id = connector.connection_id
    child = stream.raw(connector.source)
    tables = {name: raw.table for name, raw in raw_tables.items()}

    def first_fetches(conn: DuckDBPyConnection) -> tuple[datetime, list[str]] | None:
        for raw in raw_tables.values():
            ensure_raw_table(conn, raw)
        if derivation_off(conn, connection_id, stream.name):
            return None
        started: datetime = scalar(conn, "SELECT now()")
        ids = to_fetch_first(
            conn,
            derivation,
            tables,
            connection_id=connection_id,
            parent=parent,
            child=child,
            refetch_before=started if everything else None,
        )
        return started, ids

    # Both steps run the derivation's SQL over every parent's list row: bounded like a load.
    position = warehouse.write(first_fetches, memory_limit=BULK_MEMORY_LIMIT)
    if position is None:
        return None
    started, first = position
    refetch_before = started if everything else None
    batches = [fetch(connector.extract(stream, since=None, parent_ids=first))] if first else []

    derived = warehouse.write(
        lambda conn: derive(
            conn,
            derivation,
            tables,
            connection_id=connection_id,
            parent=parent,
            child=child,
            refetch_before=refetch_before,
            sample_share=sample_share,
        ),
        memory_limit=BULK_MEMORY_LIMIT,
    )
    fetched_sample: dict[str, dict[str, Any]] = {}
    to_fetch = sorted({*derived.unconfirmed, *derived.sample})
    if to_fetch:
        pages = connector.extract(stream, since=None, parent_ids=to_fetch)
        id_key = stream.id_path.removeprefix("$.")
        batches.append(fetch(_capture(pages, id_key, derived.sample.keys(), fetched_sample)))

    warnings: list[str] = []
    differing = sorted(
        record_id
        for record_id, record in fetched_sample.items()
        if not derivation.same(derived.sample[record_id], record)
    )
    if differing:
        reason = (
            f"{len(differing)} of {len(fetched_sample)} {stream.name} records fetched to verify "
            f"differ from what their {stream.parent} list rows implied (first: {differing[0]})"
        )
        warnings.append(
            f"{connector.source} connection {connection_id}: {reason}. Derivation is now off "
            f"for this connection: every derived record is fetched again now, and every "
            f"{stream.name} record is fetched from now on (to try deriving again, delete its "
            "row from sync.derivations_off)."
        )
        log.warning(warnings[-1])

        def off_and_derived(conn: DuckDBPyConnection) -> list[str]:
            turn_derivation_off(conn, connection_id, stream.name, reason)
            return pending_children(
                conn, connection_id, parent, child, refetch_before=refetch_before
            )

        refetch = warehouse.write(off_and_derived)
        if refetch:
            batches.append(fetch(connector.extract(stream, since=None, parent_ids=refetch)))

    vanished = 0
    # A batch set aside stored nothing again, so its records would look gone: only a full
    # refresh whose every fetch loaded may mark the rest vanished.
    if everything and not any(isinstance(result, SetAsideBatch) for _, result in batches):
        vanished = warehouse.write(
            lambda conn: mark_unrefreshed_vanished(conn, child, connection_id, started)
        )
    still_derived = 0 if differing else derived.stored  # after a difference, all are fetched
    return DerivedChildren(batches, still_derived, derived.inserted, vanished, tuple(warnings))


def _capture(
    pages: Iterable[Page],
    id_key: str,
    wanted: Iterable[str],
    captured: dict[str, dict[str, Any]],
) -> Iterator[Page]:
    """The pages as they come, keeping the records whose id is wanted."""
    wanted_ids = set(wanted)
    for page in pages:
        for record in page.records:
            record_id = record.get(id_key) if isinstance(record, dict) else None
            if isinstance(record_id, str) and record_id in wanted_ids:
                captured[record_id] = record
        yield page
