"""Raw tables: every record as the source sent it, one row per (connection, record id).

(The landed pages are the bytes as received; here each record is DuckDB JSON, whose numbers are
exact up to 15 significant digits — see models.mapping for how longer ones are quarantined.)

A landed batch is loaded in ONE transaction that upserts its records, records the batch id and
advances the stream's cursor. Loading the same batch again is a no-op, and a batch killed before
its commit leaves no trace, so a sync killed anywhere and run again neither loses nor doubles rows.

Within a batch, the same id twice with identical content is one record (sources repeat rows
across pages). The same id twice with different content is, where the stream has a cursor field
and the copies' values of it differ, a record modified while the client paged: the newest copy
wins. Otherwise it is quarantined until the source sends one version again. Records the batch's
manifest lists as rejected while it landed (too large to load: `models.oversized`) are
quarantined with their reason the same way, and count as listed.

A batch that is a complete listing (`full_refresh`) also marks the records it lacks as
vanished (`vanished_at`), and clears what the loader had quarantined for them; a record that
comes back is live again. A `keys_only` batch is a complete listing of ids alone: it marks
vanished and live again the same way, and stores no payload and moves no cursor. The ids it
lists that the warehouse lacks, holds as vanished, and has not quarantined are kept in
`sync.unfetched` until a batch brings their records (the sync fetches them by id at once:
`pipelines.sync`), so a listing repairs gaps as well as deletions.

A stream that keeps history moves each superseded version, in the same transaction, to
`<table>__history` with the interval it was current (`valid_from`, `valid_to`).
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from datetime import datetime

import duckdb

from models.landed_records import LandedRecords
from models.landing import LandedBatch, batch_started_at
from models.queries import scalar
from models.transaction import transaction

__all__ = [
    "DERIVED_FROM",
    "RAW_COLUMNS",
    "LoadResult",
    "RawStream",
    "changed_since_listed",
    "cursor_of",
    "ensure_raw_table",
    "last_complete_listing",
    "load_batch",
    "pending_children",
    "pending_children_sql",
    "resolve_unfetched",
    "unfetched",
]

# The payload key that marks a dependent record derived from its parent's list row, not fetched
# (connectors.streams.ChildDerivation); its value names the parent stream.
DERIVED_FROM = "ledgersync_derived_from"
# A raw table's columns, in the order `ensure_raw_table` creates them.
RAW_COLUMNS = (
    "connection_id, record_id, payload, payload_md5, batch_id, changed_at, fetched_at, vanished_at"
)
_IDENTIFIER = re.compile(r"^[a-z][a-z0-9_]*$")
_NO_ID = "<no id> "  # quarantine key prefix of a record without an id
# Of a record's copies in one batch, the newest (by its cursor field) is kept.
_NEWEST_FIRST = "changed DESC NULLS LAST, payload_md5"


@dataclass(frozen=True, slots=True)
class RawStream:
    """Where a stream's records live in a landed page and in the warehouse."""

    source: str
    name: str
    records_path: str  # JSON path of the record list in a landed page: "$.invoices", "$[*].payment"
    id_path: str  # JSON path of the record id within a record: "$.invoice_id"
    keep_history: bool = False
    cursor_path: str | None = None  # JSON path of the record's last-modified time, if it has one

    @property
    def table(self) -> str:
        for part in (self.source, self.name):
            if not _IDENTIFIER.match(part):
                raise ValueError(f"not a safe identifier for a raw table: {part!r}")
        return f"raw.{self.source}__{self.name}"

    @property
    def history_table(self) -> str:
        return f"{self.table}__history"


@dataclass(frozen=True, slots=True)
class LoadResult:
    batch_id: str
    records: int
    inserted: int
    updated: int
    rejected: int
    vanished: int = 0
    already_loaded: bool = False


def ensure_raw_table(conn: duckdb.DuckDBPyConnection, stream: RawStream) -> None:
    conn.execute(
        f"""
        CREATE TABLE IF NOT EXISTS {stream.table} (
            connection_id VARCHAR NOT NULL,
            record_id VARCHAR NOT NULL,
            payload JSON NOT NULL,
            payload_md5 VARCHAR NOT NULL,
            batch_id VARCHAR NOT NULL,
            changed_at TIMESTAMPTZ NOT NULL,
            fetched_at TIMESTAMPTZ NOT NULL,
            vanished_at TIMESTAMPTZ
        )"""
    )
    if stream.keep_history:
        conn.execute(
            f"""
            CREATE TABLE IF NOT EXISTS {stream.history_table} (
                connection_id VARCHAR NOT NULL,
                record_id VARCHAR NOT NULL,
                payload JSON NOT NULL,
                valid_from TIMESTAMPTZ NOT NULL,
                valid_to TIMESTAMPTZ NOT NULL
            )"""
        )


def cursor_of(conn: duckdb.DuckDBPyConnection, connection_id: str, stream: str) -> datetime | None:
    row = conn.execute(
        "SELECT cursor FROM sync.cursors WHERE connection_id = ? AND stream = ?",
        [connection_id, stream],
    ).fetchone()
    return row[0] if row else None


def last_complete_listing(
    conn: duckdb.DuckDBPyConnection, connection_id: str, stream: str
) -> datetime | None:
    """When a complete listing (of records or of ids) of the stream was last loaded."""
    loaded_at: datetime | None = scalar(
        conn,
        "SELECT max(loaded_at) FROM sync.batches "
        "WHERE connection_id = ? AND stream = ? AND full_refresh",
        [connection_id, stream],
    )
    return loaded_at


def pending_children(
    conn: duckdb.DuckDBPyConnection,
    connection_id: str,
    parent: RawStream,
    child: RawStream,
    *,
    everything: bool = False,
    refetch_before: datetime | None = None,
    derived_pending: bool = True,
) -> list[str]:
    """Parent records whose dependent record (e.g. a payment's detail) is missing or older.

    With `everything`, all live parents: a full refresh fetches every dependent record again.
    """
    conn.execute(
        pending_children_sql(
            parent,
            child,
            everything=everything,
            refetch_before=refetch_before,
            derived_pending=derived_pending,
        ),
        {"connection_id": connection_id},
    )
    return [row[0] for row in conn.fetchall()]


def pending_children_sql(
    parent: RawStream,
    child: RawStream,
    *,
    everything: bool = False,
    refetch_before: datetime | None = None,
    derived_pending: bool = True,
) -> str:
    """SQL (for `$connection_id`) of the live parents whose dependent record must be fetched
    or derived: it is missing, older than its parent, or (with `everything`) any; with
    `refetch_before`, one stored before that moment (a full refresh still under way). A record
    derived from the parent's list row is pending while `derived_pending` (derivation is not in
    use for the connection: it fetches every record)."""
    stale = ["c.record_id IS NULL", "c.fetched_at < p.changed_at"]
    if everything:
        stale.append("true")
    if refetch_before is not None:
        stale.append(f"c.fetched_at < '{refetch_before.isoformat()}'::TIMESTAMPTZ")
    if derived_pending:
        stale.append(f"(c.payload ->> '$.{DERIVED_FROM}') IS NOT NULL")
    return f"""
        SELECT p.record_id
        FROM {parent.table} p
        LEFT JOIN {child.table} c
          ON c.connection_id = p.connection_id AND c.record_id = p.record_id
        WHERE p.connection_id = $connection_id AND p.vanished_at IS NULL
          AND ({" OR ".join(stale)})
        ORDER BY p.record_id
        """


def changed_since_listed(
    conn: duckdb.DuckDBPyConnection,
    connection_id: str,
    stream: str,
    changed: tuple[RawStream, ...],
    through: tuple[RawStream, tuple[str, ...], str] | None = None,
    named_at: tuple[tuple[RawStream, str], ...] = (),
) -> list[str]:
    """Ids of the `changed` streams' records stored (or found vanished) since the listing that
    last moved `stream`'s cursor began: a batch a killed run landed may load later, its records
    as old as its start, and a batch that moves no cursor (a listing of ids, records fetched by
    id, a listing cut at its deadline) may not have read them again. With `through` = (raw
    stream, id columns, target column), the target values of its records whose id columns name
    one of them; with `named_at` = ((raw stream, JSON path), …), the ids the changed records
    name at those paths (see `connectors.streams.Reread`)."""
    moved_by = conn.execute(
        "SELECT batch_id FROM sync.cursors WHERE connection_id = ? AND stream = ?",
        [connection_id, stream],
    ).fetchone()
    if moved_by is None:
        return []  # never listed: its first sync lists everything
    params = {"connection_id": connection_id, "since": batch_started_at(moved_by[0])}
    recent = (
        "WHERE connection_id = $connection_id AND (changed_at > $since OR vanished_at > $since)"
    )
    if named_at:
        named = " UNION ALL ".join(
            f"SELECT {_named_ids(path)} AS id FROM {raw.table} {recent}" for raw, path in named_at
        )
        query = f"SELECT DISTINCT id FROM ({named}) WHERE id IS NOT NULL ORDER BY 1"
        return [row[0] for row in conn.execute(query, params).fetchall()]
    union = " UNION ".join(f"SELECT record_id FROM {raw.table} {recent}" for raw in changed)
    if through is None:
        query = f"SELECT DISTINCT record_id FROM ({union}) ORDER BY 1"
    else:
        raw, columns, target = through
        matches = " OR ".join(
            f"(payload ->> '{column}') IN (SELECT record_id FROM changed)" for column in columns
        )
        query = (
            f"WITH changed AS ({union}) SELECT DISTINCT (payload ->> '{target}') AS id "
            f"FROM {raw.table} WHERE connection_id = $connection_id AND vanished_at IS NULL "
            f"AND ({matches}) AND id IS NOT NULL ORDER BY 1"
        )
    return [row[0] for row in conn.execute(query, params).fetchall()]


def _named_ids(path: str) -> str:
    """The SQL for the ids a payload names at a JSON path; a `[*]` path names a list of them."""
    text = f"json_extract_string(payload, '{path}')"  # declared paths hold no quote
    return f"unnest({text})" if "[*]" in path else text


def unfetched(conn: duckdb.DuckDBPyConnection, connection_id: str, stream: str) -> list[str]:
    """Ids the stream's last complete listing of ids found missing, not yet fetched."""
    rows = conn.execute(
        "SELECT record_id FROM sync.unfetched WHERE connection_id = ? AND stream = ? "
        "ORDER BY record_id",
        [connection_id, stream],
    ).fetchall()
    return [row[0] for row in rows]


def resolve_unfetched(
    conn: duckdb.DuckDBPyConnection, connection_id: str, stream: str, ids: list[str]
) -> None:
    """`ids` were asked for by id: those the source no longer had are not asked for again."""
    conn.execute(
        "DELETE FROM sync.unfetched WHERE connection_id = ? AND stream = ? "
        "AND list_contains(?, record_id)",
        [connection_id, stream, ids],
    )


def load_batch(
    conn: duckdb.DuckDBPyConnection, batch: LandedBatch, stream: RawStream
) -> LoadResult:
    """Load one landed batch into its raw table and advance the cursor, atomically."""
    ensure_raw_table(conn, stream)
    with transaction(conn):
        done = _already_loaded(conn, batch)
        if done is not None:
            return done
        _stage_landed_rejects(conn, batch)
        params = {"connection_id": batch.connection_id, "stream": stream.name}
        records = LandedRecords(batch, stream.records_path, stream.id_path, stream.cursor_path)
        if batch.keys_only:
            _stage_incoming(conn, records)
            result = _load_keys(conn, batch, stream, params)
        else:
            result = _load_records(conn, batch, stream, records, params)
        _drop_staged(conn)
    return result


# The session temp tables one load stages, each created (replacing any a failed load left) by
# the step named beside it before a later step reads it, and dropped when the load ends.
_INCOMING = "load_incoming"  # _stage_incoming: every copy of every record in the batch
_LANDED_REJECTS = "load_landed_rejects"  # _stage_landed_rejects: the manifest's rejects
_CONFLICTS = "load_conflicts"  # _quarantine_conflicts: ids whose copies disagree
_NEW_REJECTS = "load_new_rejects"  # _quarantine_conflicts: what this batch quarantines
_REPEATED = "load_repeated"  # _insert_first_load: ids that came more than once
_BATCH_ROWS = "load_batch_rows"  # _stage_batch_rows: one accepted version of each record
_STAGED = (_INCOMING, _LANDED_REJECTS, _CONFLICTS, _NEW_REJECTS, _REPEATED, _BATCH_ROWS)


def _already_loaded(conn: duckdb.DuckDBPyConnection, batch: LandedBatch) -> LoadResult | None:
    """The result recorded for the batch, if it was loaded before: loading it again is a no-op."""
    done = conn.execute(
        "SELECT records, inserted, updated, rejected, vanished FROM sync.batches "
        "WHERE batch_id = ?",
        [batch.batch_id],
    ).fetchone()
    if done is None:
        return None
    records, inserted, updated, rejected, vanished = done
    return LoadResult(
        batch.batch_id, records, inserted, updated, rejected, vanished, already_loaded=True
    )


def _stage_incoming(conn: duckdb.DuckDBPyConnection, records: LandedRecords) -> None:
    """Every record of the landed pages, with its id, checksum and cursor value."""
    conn.execute(
        f"CREATE OR REPLACE TEMP TABLE {_INCOMING} "
        "(record_id VARCHAR, payload JSON, payload_md5 VARCHAR, changed TIMESTAMPTZ)"
    )
    if records.batch.pages:
        _scan_records(
            conn,
            records,
            f"""
            INSERT INTO {_INCOMING} (record_id, payload, payload_md5, changed)
            SELECT record_id, payload, payload_md5, TRY_CAST(changed AS TIMESTAMPTZ)
            FROM landed_records
            """,
        )
    _stage_without_id(conn, records)


def _scan_records(
    conn: duckdb.DuckDBPyConnection,
    records: LandedRecords,
    query: str,
    params: dict[str, str] | None = None,
) -> int:
    """Run `query` over the batch's records as the view `landed_records` (read once, as DuckDB
    scans it); the rows it changed."""
    # Registered in the transaction: a failed load's rollback unregisters it too.
    conn.register("landed_records", records.reader())
    changed = int(scalar(conn, query, params))
    conn.unregister("landed_records")
    return changed


def _stage_without_id(conn: duckdb.DuckDBPyConnection, records: LandedRecords) -> None:
    """The records without an id (known once the batch was read), to be quarantined."""
    if records.without_id:
        conn.executemany(
            f"INSERT INTO {_INCOMING} (record_id, payload, payload_md5, changed) "
            "VALUES (NULL, ?, ?, TRY_CAST(? AS TIMESTAMPTZ))",
            [[r.payload, r.payload_md5, r.changed] for r in records.without_id],
        )


def _stage_landed_rejects(conn: duckdb.DuckDBPyConnection, batch: LandedBatch) -> None:
    """The records the batch's manifest lists as rejected while landing."""
    conn.execute(
        f"CREATE OR REPLACE TEMP TABLE {_LANDED_REJECTS} "
        "(record_id VARCHAR, reason VARCHAR, payload JSON)"
    )
    if batch.rejects:
        conn.executemany(
            f"INSERT INTO {_LANDED_REJECTS} (record_id, reason, payload) VALUES (?, ?, ?)",
            [[r.record_id, r.reason, r.payload] for r in batch.rejects],
        )


def _drop_staged(conn: duckdb.DuckDBPyConnection) -> None:
    for table in _STAGED:
        conn.execute(f"DROP TABLE IF EXISTS temp.{table}")


def _load_records(
    conn: duckdb.DuckDBPyConnection,
    batch: LandedBatch,
    stream: RawStream,
    records: LandedRecords,
    params: dict[str, str],
) -> LoadResult:
    """A batch of records: quarantine what cannot be told apart, store the rest, and (for a
    complete listing) mark what it lacks vanished."""
    first_load = scalar(
        conn,
        f"SELECT NOT EXISTS (SELECT 1 FROM {stream.table} WHERE connection_id = ?)",
        [batch.connection_id],
    )
    if first_load:
        _insert_first_load(conn, batch, stream, records)
    else:
        _stage_incoming(conn, records)
    rejected = _quarantine_conflicts(conn, params, stream)
    if first_load:
        inserted, updated = _keep_one_copy(conn, batch, stream, params), 0
    else:
        inserted, updated = _merge_batch(conn, batch, stream, params)
    vanished = 0
    if batch.full_refresh:
        if not first_load:
            vanished = _mark_vanished(conn, batch, stream.table)
        _clear_resolved_rejects(conn, params)
    _clear_fetched(conn, batch, params)
    _ask_again_for_conflicts(conn, params)
    _advance_cursor(conn, batch)
    _record_batch(conn, batch, stream, inserted, updated, rejected, vanished)
    return LoadResult(batch.batch_id, batch.records, inserted, updated, rejected, vanished)


def _insert_first_load(
    conn: duckdb.DuckDBPyConnection, batch: LandedBatch, stream: RawStream, records: LandedRecords
) -> None:
    """The connection's first rows in the table: nothing to compare with, replace or mark
    vanished, so the batch's records stream straight in, payloads never staged. Then only the
    ids the source repeated are taken out again (with their copies' content, for
    `_quarantine_conflicts` and `_keep_one_copy`); the rest are staged as id and checksum."""
    connection = {"connection_id": batch.connection_id}
    if batch.pages:
        _scan_records(
            conn,
            records,
            f"""
            INSERT INTO {stream.table} ({RAW_COLUMNS})
            SELECT $connection_id, record_id, payload, payload_md5, $batch_id, now(), now(), NULL
            FROM landed_records
            """,
            {**connection, "batch_id": batch.batch_id},
        )
    conn.execute(
        f"CREATE OR REPLACE TEMP TABLE {_REPEATED} AS SELECT record_id FROM {stream.table} "
        "WHERE connection_id = $connection_id GROUP BY record_id HAVING count(*) > 1",
        connection,
    )
    conn.execute(
        f"""
        CREATE OR REPLACE TEMP TABLE {_INCOMING} AS
        SELECT record_id, NULL::JSON AS payload, payload_md5, NULL::TIMESTAMPTZ AS changed
        FROM {stream.table} WHERE connection_id = $connection_id
          AND record_id NOT IN (SELECT record_id FROM {_REPEATED})
        UNION ALL
        SELECT record_id, payload, payload_md5, TRY_CAST(payload ->> $cursor_path AS TIMESTAMPTZ)
        FROM {stream.table} WHERE connection_id = $connection_id
          AND record_id IN (SELECT record_id FROM {_REPEATED})
        """,
        {**connection, "cursor_path": stream.cursor_path},
    )
    conn.execute(
        f"DELETE FROM {stream.table} WHERE connection_id = $connection_id "
        f"AND record_id IN (SELECT record_id FROM {_REPEATED})",
        connection,
    )
    _stage_without_id(conn, records)


def _keep_one_copy(
    conn: duckdb.DuckDBPyConnection,
    batch: LandedBatch,
    stream: RawStream,
    params: dict[str, str],
) -> int:
    """Of the ids a first load brought more than once, the newest copy goes back in (none of an
    id quarantined); the number of records the first load stored."""
    conn.execute(
        "DELETE FROM sync.load_rejects WHERE connection_id = $connection_id "
        f"AND stream = $stream AND record_id IN (SELECT record_id FROM {_INCOMING}) "
        f"AND record_id NOT IN (SELECT record_id FROM {_CONFLICTS})",
        params,
    )
    connection = {"connection_id": batch.connection_id}
    conn.execute(
        f"""
        INSERT INTO {stream.table} ({RAW_COLUMNS})
        SELECT DISTINCT ON (record_id)
               $connection_id, record_id, payload, payload_md5, $batch_id, now(), now(), NULL
        FROM {_INCOMING}
        WHERE record_id IN (SELECT record_id FROM {_REPEATED})
          AND record_id NOT IN (SELECT record_id FROM {_CONFLICTS})
        ORDER BY record_id, {_NEWEST_FIRST}
        """,
        {**connection, "batch_id": batch.batch_id},
    )
    stored = scalar(
        conn,
        f"SELECT count(*) FROM {stream.table} WHERE connection_id = $connection_id",
        connection,
    )
    return int(stored)


def _merge_batch(
    conn: duckdb.DuckDBPyConnection,
    batch: LandedBatch,
    stream: RawStream,
    params: dict[str, str],
) -> tuple[int, int]:
    """Store the batch beside the connection's earlier rows: a changed record replaces its
    stored version (kept in history where the stream keeps it), an unchanged one is marked
    fetched, a new one is inserted. Returns (inserted, updated)."""
    _stage_batch_rows(conn)
    # Records the source now sends in one version leave quarantine.
    conn.execute(
        "DELETE FROM sync.load_rejects WHERE connection_id = $connection_id "
        f"AND stream = $stream AND record_id IN (SELECT record_id FROM {_BATCH_ROWS})",
        params,
    )
    connection = {"connection_id": batch.connection_id}
    updated = int(scalar(conn, f"SELECT count(*) FROM ({_changed_ids(stream)})", connection))
    if stream.keep_history:
        _archive_changed(conn, stream, connection)
    conn.execute(
        f"DELETE FROM {stream.table} "
        f"WHERE connection_id = $connection_id AND record_id IN ({_changed_ids(stream)})",
        connection,
    )
    conn.execute(
        f"""
        UPDATE {stream.table} SET fetched_at = now(), vanished_at = NULL
        WHERE connection_id = $connection_id
          AND record_id IN (SELECT record_id FROM {_BATCH_ROWS})
        """,
        connection,
    )
    inserted_or_changed = int(
        scalar(
            conn,
            f"""
            INSERT INTO {stream.table} ({RAW_COLUMNS})
            SELECT $connection_id, b.record_id, b.payload, b.payload_md5, $batch_id,
                   now(), now(), NULL
            FROM {_BATCH_ROWS} b
            WHERE NOT EXISTS (
                SELECT 1 FROM {stream.table} r
                WHERE r.connection_id = $connection_id AND r.record_id = b.record_id
            )
            """,
            {**connection, "batch_id": batch.batch_id},
        )
    )
    return inserted_or_changed - updated, updated


def _stage_batch_rows(conn: duckdb.DuckDBPyConnection) -> None:
    """One version of each record the batch brought and did not quarantine: the newest.

    Only the few ids that came more than once are sorted to choose one; sorting every payload
    of a full refresh did not fit in the bulk memory limit."""
    conn.execute(
        f"""
        CREATE OR REPLACE TEMP TABLE {_BATCH_ROWS} AS
        WITH repeated_ids AS (
            SELECT record_id FROM {_INCOMING} WHERE record_id IS NOT NULL
            GROUP BY record_id HAVING count(*) > 1
        ),
        newest_of_repeated AS (
            SELECT DISTINCT ON (record_id) record_id, payload, payload_md5
            FROM {_INCOMING} SEMI JOIN repeated_ids USING (record_id)
            WHERE record_id NOT IN (SELECT record_id FROM {_CONFLICTS})
            ORDER BY record_id, {_NEWEST_FIRST}
        )
        SELECT record_id, payload, payload_md5
        FROM {_INCOMING} ANTI JOIN repeated_ids USING (record_id)
        WHERE record_id IS NOT NULL
        UNION ALL
        SELECT record_id, payload, payload_md5 FROM newest_of_repeated
        """
    )


def _changed_ids(stream: RawStream) -> str:
    """SQL (for `$connection_id`) of the stored records the batch brings with new content."""
    return f"""
        SELECT b.record_id FROM {_BATCH_ROWS} b JOIN {stream.table} r
          ON r.connection_id = $connection_id AND r.record_id = b.record_id
        WHERE r.payload_md5 <> b.payload_md5
        """


def _archive_changed(
    conn: duckdb.DuckDBPyConnection, stream: RawStream, connection: dict[str, str]
) -> None:
    """Each version the batch supersedes, with the interval it was current."""
    conn.execute(
        f"""
        INSERT INTO {stream.history_table}
            (connection_id, record_id, payload, valid_from, valid_to)
        SELECT r.connection_id, r.record_id, r.payload, r.changed_at, now()
        FROM {stream.table} r JOIN {_BATCH_ROWS} b
          ON r.connection_id = $connection_id AND r.record_id = b.record_id
        WHERE r.payload_md5 <> b.payload_md5
        """,
        connection,
    )


def _clear_resolved_rejects(conn: duckdb.DuckDBPyConnection, params: dict[str, str]) -> None:
    """What the loader quarantined and a complete listing no longer shows is resolved."""
    conn.execute(
        "DELETE FROM sync.load_rejects WHERE connection_id = $connection_id "
        f"AND stream = $stream AND record_id NOT IN (SELECT record_id FROM {_NEW_REJECTS})",
        params,
    )


def _load_keys(
    conn: duckdb.DuckDBPyConnection,
    batch: LandedBatch,
    stream: RawStream,
    params: dict[str, str],
) -> LoadResult:
    """A complete listing of ids: mark what it lacks vanished and what it has live again, and
    note what it has that the warehouse lacks (or holds as vanished) to be fetched; what was
    noted before and is no longer listed is not fetched."""
    conn.execute(
        "DELETE FROM sync.unfetched WHERE connection_id = $connection_id AND stream = $stream "
        f"AND record_id NOT IN (SELECT record_id FROM {_INCOMING} WHERE record_id IS NOT NULL)",
        params,
    )
    conn.execute(
        f"""
        INSERT INTO sync.unfetched (connection_id, stream, record_id, listed_at)
        SELECT DISTINCT $connection_id, $stream, i.record_id, now() FROM {_INCOMING} i
        WHERE i.record_id IS NOT NULL
          AND NOT EXISTS (
            SELECT 1 FROM {stream.table} r
            WHERE r.connection_id = $connection_id AND r.record_id = i.record_id
              AND r.vanished_at IS NULL)
          AND NOT EXISTS (
            SELECT 1 FROM sync.load_rejects q
            WHERE q.connection_id = $connection_id AND q.stream = $stream
              AND q.record_id = i.record_id)
          AND NOT EXISTS (
            SELECT 1 FROM sync.unfetched u
            WHERE u.connection_id = $connection_id AND u.stream = $stream
              AND u.record_id = i.record_id)
        """,
        params,
    )
    conn.execute(
        f"""
        UPDATE {stream.table} SET vanished_at = NULL
        WHERE connection_id = $connection_id AND vanished_at IS NOT NULL
          AND record_id IN (SELECT record_id FROM {_INCOMING})
        """,
        {"connection_id": batch.connection_id},
    )
    vanished = _mark_vanished(conn, batch, stream.table)
    conn.execute(
        "DELETE FROM sync.load_rejects WHERE connection_id = $connection_id "
        "AND stream = $stream AND NOT starts_with(record_id, $no_id) "
        f"AND record_id NOT IN (SELECT record_id FROM {_INCOMING} WHERE record_id IS NOT NULL)",
        {**params, "no_id": _NO_ID},
    )
    _record_batch(conn, batch, stream, 0, 0, 0, vanished)
    return LoadResult(batch.batch_id, batch.records, 0, 0, 0, vanished)


def _clear_fetched(
    conn: duckdb.DuckDBPyConnection, batch: LandedBatch, params: dict[str, str]
) -> None:
    """The ids waiting to be fetched that the batch brought (all of them, if it is complete)."""
    conn.execute(
        "DELETE FROM sync.unfetched WHERE connection_id = $connection_id AND stream = $stream "
        f"AND ($full_refresh OR record_id IN (SELECT record_id FROM {_INCOMING}))",
        {**params, "full_refresh": batch.full_refresh},
    )


def _ask_again_for_conflicts(conn: duckdb.DuckDBPyConnection, params: dict[str, str]) -> None:
    """An id that came in copies differing without a newer modified time stays quarantined, and
    the next sync asks the source for it by id: a record that changed while the listing read it
    twice (a balance that moves without a newer modified time, between two overlapping pages)
    comes back alone and leaves quarantine, even though the cursor has passed it."""
    conn.execute(
        f"""
        INSERT INTO sync.unfetched (connection_id, stream, record_id, listed_at)
        SELECT $connection_id, $stream, c.record_id, now() FROM {_CONFLICTS} c
        WHERE NOT EXISTS (
            SELECT 1 FROM sync.unfetched u
            WHERE u.connection_id = $connection_id AND u.stream = $stream
              AND u.record_id = c.record_id)
        """,
        params,
    )


def _record_batch(
    conn: duckdb.DuckDBPyConnection,
    batch: LandedBatch,
    stream: RawStream,
    inserted: int,
    updated: int,
    rejected: int,
    vanished: int,
) -> None:
    conn.execute(
        "INSERT INTO sync.batches (batch_id, connection_id, stream, pages, records, inserted, "
        "updated, rejected, vanished, full_refresh, loaded_at) "
        "VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, now())",
        [
            batch.batch_id,
            batch.connection_id,
            stream.name,
            batch.pages,
            batch.records,
            inserted,
            updated,
            rejected,
            vanished,
            batch.full_refresh,
        ],
    )


def _mark_vanished(conn: duckdb.DuckDBPyConnection, batch: LandedBatch, table: str) -> int:
    """A complete listing proves absence: what it lacks has vanished from the source. (A record
    left out of the pages as too large to load was listed.)"""
    count = scalar(
        conn,
        f"""
        UPDATE {table} SET vanished_at = now()
        WHERE connection_id = $connection_id AND vanished_at IS NULL
          AND record_id NOT IN (SELECT record_id FROM {_INCOMING} WHERE record_id IS NOT NULL)
          AND record_id NOT IN (SELECT record_id FROM {_LANDED_REJECTS})
        """,
        {"connection_id": batch.connection_id},
    )
    return int(count)


def _quarantine_conflicts(
    conn: duckdb.DuckDBPyConnection, params: dict[str, str], stream: RawStream
) -> int:
    # Copies that differ conflict unless exactly one version carries the newest cursor value
    # (and every copy has one): that is a record modified while the client paged.
    conn.execute(
        f"""
        CREATE OR REPLACE TEMP TABLE {_CONFLICTS} AS
        WITH repeated_ids AS (  -- the few ids that came more than once; the payloads stay behind
            SELECT record_id FROM {_INCOMING} WHERE record_id IS NOT NULL
            GROUP BY record_id HAVING count(*) > 1
        ),
        copies AS (
            SELECT record_id, payload, payload_md5,
                   coalesce(changed = max(changed) OVER same_id, false)
                     AND count(changed) OVER same_id = count(*) OVER same_id AS newest
            FROM {_INCOMING} SEMI JOIN repeated_ids USING (record_id)
            WINDOW same_id AS (PARTITION BY record_id)
        )
        SELECT record_id, count(*) AS copies, any_value(payload) AS payload
        FROM copies
        GROUP BY record_id
        HAVING count(DISTINCT payload_md5) > 1
           AND count(DISTINCT payload_md5) FILTER (WHERE newest) <> 1
        """
    )
    reason_for_missing_id = f"the record has no id at {stream.id_path}"
    conn.execute(
        f"""
        CREATE OR REPLACE TEMP TABLE {_NEW_REJECTS} AS
        SELECT record_id,
               'the id ' || record_id || ' came ' || copies
                 || ' times with different content in one sync' AS reason,
               payload
        FROM {_CONFLICTS}
        UNION ALL
        SELECT $no_id || payload_md5, $reason_for_missing_id, any_value(payload)
        FROM {_INCOMING} WHERE record_id IS NULL GROUP BY payload_md5
        UNION ALL
        SELECT record_id, any_value(reason), any_value(payload)
        FROM {_LANDED_REJECTS} WHERE record_id NOT IN (SELECT record_id FROM {_CONFLICTS})
        GROUP BY record_id
        """,
        {"reason_for_missing_id": reason_for_missing_id, "no_id": _NO_ID},
    )
    conn.execute(
        f"""
        MERGE INTO sync.load_rejects old
        USING {_NEW_REJECTS} n
          ON old.connection_id = $connection_id AND old.stream = $stream
         AND old.record_id = n.record_id
        WHEN MATCHED THEN UPDATE SET reason = n.reason, payload = n.payload, last_seen_at = now()
        WHEN NOT MATCHED THEN INSERT
            (connection_id, stream, record_id, reason, payload, first_seen_at, last_seen_at)
        VALUES ($connection_id, $stream, n.record_id, n.reason, n.payload, now(), now())
        """,
        params,
    )
    count = scalar(conn, f"SELECT count(*) FROM {_NEW_REJECTS}")
    return int(count)


def _advance_cursor(conn: duckdb.DuckDBPyConnection, batch: LandedBatch) -> None:
    """The cursor moves forward only, except that a full refresh restates it."""
    if batch.cursor is None and not batch.full_refresh:
        return
    conn.execute(
        """
        MERGE INTO sync.cursors c
        USING (SELECT $cursor::TIMESTAMPTZ AS cursor) n
          ON c.connection_id = $connection_id AND c.stream = $stream
        WHEN MATCHED THEN UPDATE SET
            cursor = CASE WHEN $full_refresh THEN n.cursor ELSE greatest(c.cursor, n.cursor) END,
            batch_id = $batch_id
        WHEN NOT MATCHED THEN INSERT (connection_id, stream, cursor, batch_id)
        VALUES ($connection_id, $stream, n.cursor, $batch_id)
        """,
        {
            "connection_id": batch.connection_id,
            "stream": batch.stream,
            "cursor": batch.cursor,
            "batch_id": batch.batch_id,
            "full_refresh": batch.full_refresh,
        },
    )
