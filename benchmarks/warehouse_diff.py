"""The whole warehouse as comparable data, minus what legitimately differs between equal runs.

Two syncs that saw the same source must leave the same warehouse; these columns record *when*
or *in which batch* ledgersync did something, so they differ between two equal runs and are left
out of the comparison:

- `batch_id`, `changed_at`, `fetched_at` (raw tables, `sync.cursors`): the batch and time a
  record was stored or last seen. A killed run and its successor store a record in a different
  batch, at a different time, than a run never killed.
- `loaded_at` (`sync.batches`), `first_seen_at`, `last_seen_at` (quarantine), `valid_from`,
  `valid_to` (raw history tables): times.
- `ledgers.changes` (the whole table) and `through_seq` (`ledgers.state`): the report ledgers'
  change log and how far a refresh has read it count normalizations, and a killed run and its
  successor normalize more often than a run never killed; the ledgers themselves are compared.
- `vanished_at` and `deleted_at` are times too, but whether they are set is data: they are
  compared as "is set"; so is the time a reconciliation exception's `detail` quotes for it.

`sync.batches` holds one row per loaded batch, and a run killed and resumed loads more batches
(some of them empty) than one never killed, so it is compared per connection and stream: the
records inserted, updated, quarantined and marked vanished over all batches, and the number of
complete listings. Equal sums mean no record was lost or stored twice.

When the source changed while syncs were being killed, a killed run may never have stored a
version of a record that a run never killed did (it changed before the rerun read it): the
history tables and the batch totals then legitimately differ, and `state` leaves them out.
What the warehouse says now (raw records, cursors, canonical tables, reports) must not.
"""

from __future__ import annotations

from collections.abc import Mapping
from pathlib import Path

import duckdb

__all__ = [
    "BOOKKEEPING",
    "OBSERVED_AT",
    "Snapshot",
    "differences",
    "row_count",
    "snapshot",
    "state",
]

BOOKKEEPING = frozenset(
    {
        "batch_id",
        "changed_at",
        "fetched_at",
        "loaded_at",
        "first_seen_at",
        "last_seen_at",
        "valid_from",
        "valid_to",
        "through_seq",
    }
)
_CHANGE_LOG = "ledgers.changes"
OBSERVED_AT = frozenset({"vanished_at", "deleted_at"})
SCHEMAS = ("raw", "canonical", "reports", "ledgers", "sync")
_BATCH_TOTALS = """
    SELECT connection_id, stream, sum(inserted), sum(updated), sum(rejected), sum(vanished),
           count(*) FILTER (WHERE full_refresh)
    FROM sync.batches GROUP BY ALL ORDER BY ALL
"""

Snapshot = Mapping[str, list[tuple[object, ...]]]  # "schema.table" → sorted rows


def snapshot(warehouse: Path) -> dict[str, list[tuple[object, ...]]]:
    """Every table of the warehouse's schemas, rows sorted, bookkeeping columns left out."""
    conn = duckdb.connect(str(warehouse), read_only=True)
    try:
        conn.execute("SET TimeZone = 'UTC'")
        tables = conn.execute(
            "SELECT table_schema, table_name FROM information_schema.tables "
            "WHERE list_contains(?, table_schema) AND table_type = 'BASE TABLE' ORDER BY ALL",
            [list(SCHEMAS)],
        ).fetchall()
        result = {}
        for schema, table in tables:
            name = f"{schema}.{table}"
            if name != _CHANGE_LOG:
                result[name] = conn.execute(_select(conn, schema, table)).fetchall()
        return result
    finally:
        conn.close()


def _select(conn: duckdb.DuckDBPyConnection, schema: str, table: str) -> str:
    if (schema, table) == ("sync", "batches"):
        return _BATCH_TOTALS
    columns = [
        row[0]
        for row in conn.execute(
            "SELECT column_name FROM information_schema.columns "
            "WHERE table_schema = ? AND table_name = ? ORDER BY ordinal_position",
            [schema, table],
        ).fetchall()
    ]
    selected = [_column(schema, table, c) for c in columns if c not in BOOKKEEPING]
    return f'SELECT {", ".join(selected)} FROM "{schema}"."{table}" ORDER BY ALL'


def state(snap: Snapshot) -> dict[str, list[tuple[object, ...]]]:
    """The snapshot without the record histories and the batch totals (see above)."""
    return {
        t: rows for t, rows in snap.items() if not t.endswith("__history") and t != "sync.batches"
    }


def _column(schema: str, table: str, column: str) -> str:
    if column in OBSERVED_AT:
        return f'"{column}" IS NOT NULL AS "{column}"'
    if (schema, table, column) == ("reports", "reconciliation_exceptions", "detail"):
        return r"regexp_replace(detail, '\(noticed [^)]*\)', '(noticed)') AS detail"
    return f'"{column}"'


def row_count(snap: Snapshot) -> int:
    return sum(len(table) for table in snap.values())


def differences(expected: Snapshot, actual: Snapshot, *, limit: int = 5) -> list[str]:
    """What differs, table by table, with a few example rows; empty when equal."""
    found = []
    for name in sorted(set(expected) | set(actual)):
        if name not in actual:
            found.append(f"{name}: missing")
            continue
        if name not in expected:
            found.append(f"{name}: unexpected table")
            continue
        want, got = expected[name], actual[name]
        if want == got:
            continue
        missing = [row for row in want if row not in got]
        extra = [row for row in got if row not in want]
        found.append(
            f"{name}: {len(want)} rows expected, {len(got)} found; "
            f"missing {missing[:limit]}; unexpected {extra[:limit]}"
        )
    return found
