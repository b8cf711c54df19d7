"""Rebuild a connection's canonical rows from its raw tables, in one transaction.

Each `Mapping` becomes one query: every field typed, every failed check collected into a
`reason`. Rows without a reason replace the connection's canonical rows; rows with one go to
`canonical.rejected_records` together with the records the loader refused (conflicting
duplicates, missing ids). A record leaves quarantine as soon as its raw version maps cleanly.
"""

from __future__ import annotations

from collections.abc import Mapping as MappingType
from collections.abc import Sequence
from dataclasses import dataclass

import duckdb

from models.mapping import Check, Field, Mapping

__all__ = ["NormalizeResult", "normalize_connection", "select_sql"]

# Filled by the engine; a mapping may still define `deleted_at` itself (e.g. a vanished
# Business Central payment line that was posted is not deleted).
_ENGINE_COLUMNS = ("connection_id", "source")


@dataclass(frozen=True, slots=True)
class NormalizeResult:
    table: str
    loaded: int
    rejected: int


def select_sql(mapping: Mapping, raw_tables: MappingType[str, str]) -> str:
    """The typed, checked rows of one mapping for connection `$connection_id`."""
    columns = [c.name for c in mapping.table.columns if c.name not in _ENGINE_COLUMNS]
    fields_given = dict(mapping.fields)
    if "deleted_at" in columns and "deleted_at" not in fields_given:
        fields_given["deleted_at"] = Field("vanished_at")
    mapping = Mapping(mapping.table, mapping.stream, mapping.relation, fields_given)
    missing = set(columns) - set(mapping.fields)
    extra = set(mapping.fields) - set(columns)
    if missing or extra:
        raise ValueError(
            f"mapping for {mapping.table.name}: missing {sorted(missing)}, unknown {sorted(extra)}"
        )
    fields = {name: _with_not_null_check(mapping, name) for name in columns}
    values = ",\n        ".join(f"{f.value} AS {name}" for name, f in fields.items())
    reasons = ", ".join(
        f"CASE WHEN {check.failed} THEN {check.reason} END"
        for f in fields.values()
        for check in f.checks
    )
    relation = mapping.relation.format(**raw_tables)
    return f"""
    SELECT connection_id, record_id, p, vanished_at,
        {values},
        nullif(concat_ws('; ', {reasons}), '') AS reason
    FROM ({relation}) AS src
    WHERE connection_id = $connection_id
    """


def _with_not_null_check(mapping: Mapping, name: str) -> Field:
    field = mapping.fields[name]
    if mapping.table.columns[name].nullable:
        return field
    derived = Check(f"{field.value} IS NULL", f"'{name} could not be derived'")
    return Field(field.value, (*field.checks, derived))


def normalize_connection(
    conn: duckdb.DuckDBPyConnection,
    *,
    connection_id: str,
    source: str,
    mappings: Sequence[Mapping],
    raw_tables: MappingType[str, str],
) -> list[NormalizeResult]:
    conn.execute("BEGIN TRANSACTION")
    try:
        conn.execute(
            "CREATE OR REPLACE TEMP TABLE quarantine_now "
            "(stream VARCHAR, record_id VARCHAR, reason VARCHAR, payload JSON)"
        )
        results = [
            _rebuild_table(conn, mapping, connection_id, source, raw_tables) for mapping in mappings
        ]
        _refresh_quarantine(conn, connection_id, source)
        conn.execute("COMMIT")
    except BaseException:
        conn.execute("ROLLBACK")
        raise
    return results


def _rebuild_table(
    conn: duckdb.DuckDBPyConnection,
    mapping: Mapping,
    connection_id: str,
    source: str,
    raw_tables: MappingType[str, str],
) -> NormalizeResult:
    table = f"{mapping.table.schema}.{mapping.table.name}"
    params = {"connection_id": connection_id}
    conn.execute(
        f"CREATE OR REPLACE TEMP TABLE mapped AS {select_sql(mapping, raw_tables)}", params
    )
    conn.execute(f"DELETE FROM {table} WHERE connection_id = $connection_id", params)
    columns = [c.name for c in mapping.table.columns]
    selected = ", ".join("$source" if name == "source" else name for name in columns)
    (loaded,) = conn.execute(
        f"INSERT INTO {table} ({', '.join(columns)}) SELECT {selected} FROM mapped "
        "WHERE reason IS NULL",
        {"source": source},
    ).fetchone()
    (rejected,) = conn.execute(
        "INSERT INTO quarantine_now SELECT $stream, record_id, reason, p FROM mapped "
        "WHERE reason IS NOT NULL",
        {"stream": mapping.stream},
    ).fetchone()
    return NormalizeResult(mapping.table.name, int(loaded), int(rejected))


def _refresh_quarantine(conn: duckdb.DuckDBPyConnection, connection_id: str, source: str) -> None:
    """Replace the connection's quarantine with what is rejected now, keeping first_seen_at."""
    params = {"connection_id": connection_id, "source": source}
    conn.execute(
        """
        INSERT INTO quarantine_now
        SELECT stream, record_id, reason, payload FROM sync.load_rejects
        WHERE connection_id = $connection_id
        """,
        {"connection_id": connection_id},
    )
    conn.execute(
        """
        CREATE OR REPLACE TEMP TABLE quarantine_merged AS
        SELECT $connection_id AS connection_id, $source AS source, q.stream, q.record_id,
               string_agg(q.reason, '; ') AS reason, any_value(q.payload) AS payload,
               coalesce(min(old.first_seen_at), now()) AS first_seen_at, now() AS last_seen_at
        FROM quarantine_now q
        LEFT JOIN canonical.rejected_records old
          ON old.connection_id = $connection_id AND old.stream = q.stream
         AND old.record_id = q.record_id
        GROUP BY q.stream, q.record_id
        """,
        params,
    )
    conn.execute(
        "DELETE FROM canonical.rejected_records WHERE connection_id = $connection_id",
        {"connection_id": connection_id},
    )
    conn.execute("INSERT INTO canonical.rejected_records SELECT * FROM quarantine_merged")
