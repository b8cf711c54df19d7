"""Dependent records derived from their parents' list rows (`connectors.streams.ChildDerivation`).

A sync with a derivation in use takes three steps over the parents whose dependent record is
pending (`models.raw.pending_children_sql`):

1. `to_fetch_first`: the parents whose list row cannot settle their record are fetched first,
   so that what they say is in the warehouse for step 2;
2. `derive`: the candidates the warehouse confirms are stored as derived records, in one
   transaction, but for a sample drawn from their ids (`sample_share` of them):
   those are fetched, with the unconfirmed ones, and the sync compares them with what was
   derived;
3. on any difference, `turn_derivation_off` records it for the connection, and every derived
   record is pending again (fetched) from then on.

Derived records live in the dependent stream's raw table beside the fetched ones, marked by
`DERIVED_FROM` in their payload, so the mappings read both alike and a later fetch replaces one.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from datetime import datetime
from typing import TYPE_CHECKING, Any

import duckdb
import orjson

from models.queries import scalar
from models.raw import RAW_COLUMNS, RawStream, pending_children_sql
from models.transaction import transaction

if TYPE_CHECKING:
    from connectors.streams import ChildDerivation

__all__ = [
    "Derived",
    "derivation_off",
    "derive",
    "mark_unrefreshed_vanished",
    "to_fetch_first",
    "turn_derivation_off",
]

_STORED_BY = "derived"  # the batch_id of a derived record: no landed batch holds it
# A record's draw for the verification sample, uniform in [0, 1) and fixed by its id.
_DRAW = "CAST('0x' || left(md5(c.record_id), 8) AS UBIGINT) / 4294967296.0"


@dataclass(frozen=True, slots=True)
class Derived:
    stored: int  # records derived from list rows and stored
    inserted: int  # of which new or changed
    unconfirmed: list[str]  # candidates the warehouse did not confirm: to fetch
    sample: dict[str, dict[str, Any]]  # derived (not stored) to verify by a fetch, by record id


def derivation_off(conn: duckdb.DuckDBPyConnection, connection_id: str, stream: str) -> bool:
    return bool(
        scalar(
            conn,
            "SELECT count(*) FROM sync.derivations_off WHERE connection_id = ? AND stream = ?",
            [connection_id, stream],
        )
    )


def turn_derivation_off(
    conn: duckdb.DuckDBPyConnection, connection_id: str, stream: str, reason: str
) -> None:
    conn.execute(
        "INSERT INTO sync.derivations_off (connection_id, stream, turned_off_at, reason) "
        "SELECT ?, ?, now(), ? WHERE NOT EXISTS ("
        "SELECT 1 FROM sync.derivations_off WHERE connection_id = ? AND stream = ?)",
        [connection_id, stream, reason, connection_id, stream],
    )


def to_fetch_first(
    conn: duckdb.DuckDBPyConnection,
    derivation: ChildDerivation,
    raw_tables: Mapping[str, str],
    *,
    connection_id: str,
    parent: RawStream,
    child: RawStream,
    refetch_before: datetime | None,
) -> list[str]:
    """The pending parents that are no candidates: their records are fetched, whatever else."""
    _candidates(conn, derivation, raw_tables, connection_id, parent, child, refetch_before)
    rows = conn.execute(
        "SELECT record_id FROM pending WHERE record_id NOT IN (SELECT record_id FROM candidates) "
        "ORDER BY record_id"
    ).fetchall()
    return [row[0] for row in rows]


def derive(
    conn: duckdb.DuckDBPyConnection,
    derivation: ChildDerivation,
    raw_tables: Mapping[str, str],
    *,
    connection_id: str,
    parent: RawStream,
    child: RawStream,
    refetch_before: datetime | None,
    sample_share: float,
) -> Derived:
    """Store the confirmed candidates' records but the sample's; say which to fetch, and what
    the sample's were derived as."""
    params = {"connection_id": connection_id}
    with transaction(conn):
        _candidates(conn, derivation, raw_tables, connection_id, parent, child, refetch_before)
        conn.execute(
            "CREATE OR REPLACE TEMP TABLE confirmed AS "
            "SELECT c.record_id, c.payload, md5(c.payload::VARCHAR) AS payload_md5, "
            f"{_DRAW} AS draw "
            f"FROM candidates c JOIN ({derivation.confirmed.format(**raw_tables)}) k "
            "USING (record_id)",
            params,
        )
        # The sample: the records whose draw falls under the share. Drawn from the id, it is the
        # same however syncs group the changes (a killed sync's rerun, two runs compared), which
        # "at least one a sync" would not be; not stored, a sampled record stays pending until
        # its fetch is loaded.
        conn.execute(
            "CREATE OR REPLACE TEMP TABLE sampled AS SELECT record_id, payload FROM confirmed "
            "WHERE draw < $share",
            {"share": sample_share},
        )
        conn.execute("DELETE FROM confirmed WHERE record_id IN (SELECT record_id FROM sampled)")
        inserted = _store(conn, child.table, connection_id)
        stored = int(scalar(conn, "SELECT count(*) FROM confirmed"))
        unconfirmed = [
            row[0]
            for row in conn.execute(
                "SELECT record_id FROM candidates WHERE record_id NOT IN "
                "(SELECT record_id FROM confirmed UNION ALL SELECT record_id FROM sampled) "
                "ORDER BY record_id"
            ).fetchall()
        ]
        sample = {
            record_id: orjson.loads(payload)
            for record_id, payload in conn.execute(
                "SELECT record_id, payload::VARCHAR FROM sampled"
            ).fetchall()
        }
    return Derived(stored, inserted, unconfirmed, sample)


def mark_unrefreshed_vanished(
    conn: duckdb.DuckDBPyConnection, child: RawStream, connection_id: str, before: datetime
) -> int:
    """After a full refresh of a dependent stream (fetched and derived in several steps): the
    records none of the steps stored again belong to parents that are gone."""
    count = scalar(
        conn,
        f"UPDATE {child.table} SET vanished_at = now() "
        "WHERE connection_id = ? AND vanished_at IS NULL AND fetched_at < ?",
        [connection_id, before],
    )
    return int(count)


def _candidates(
    conn: duckdb.DuckDBPyConnection,
    derivation: ChildDerivation,
    raw_tables: Mapping[str, str],
    connection_id: str,
    parent: RawStream,
    child: RawStream,
    refetch_before: datetime | None,
) -> None:
    params = {"connection_id": connection_id}
    pending = pending_children_sql(
        parent, child, refetch_before=refetch_before, derived_pending=False
    )
    conn.execute(f"CREATE OR REPLACE TEMP TABLE pending AS {pending}", params)
    conn.execute(
        f"CREATE OR REPLACE TEMP TABLE candidates AS {derivation.candidates.format(**raw_tables)}",
        params,
    )


def _store(conn: duckdb.DuckDBPyConnection, table: str, connection_id: str) -> int:
    """Upsert the confirmed records as the loader upserts fetched ones: an unchanged record is
    only marked fetched now; a changed one replaces the stored one. Returns how many were new or
    changed."""
    params = {"connection_id": connection_id}
    conn.execute(
        f"""
        UPDATE {table} r SET fetched_at = now(), vanished_at = NULL
        FROM confirmed c
        WHERE r.connection_id = $connection_id AND r.record_id = c.record_id
          AND r.payload_md5 = c.payload_md5
        """,
        params,
    )
    conn.execute(
        f"""
        DELETE FROM {table} r
        WHERE r.connection_id = $connection_id AND r.record_id IN (
            SELECT c.record_id FROM confirmed c JOIN {table} s
              ON s.connection_id = $connection_id AND s.record_id = c.record_id
            WHERE s.payload_md5 <> c.payload_md5
        )
        """,
        params,
    )
    inserted = scalar(
        conn,
        f"""
        INSERT INTO {table} ({RAW_COLUMNS})
        SELECT $connection_id, c.record_id, c.payload, c.payload_md5, $stored_by, now(), now(),
               NULL
        FROM confirmed c
        WHERE NOT EXISTS (
            SELECT 1 FROM {table} r
            WHERE r.connection_id = $connection_id AND r.record_id = c.record_id
        )
        """,
        {**params, "stored_by": _STORED_BY},
    )
    return int(inserted)
