"""Rebuild a connection's canonical rows from its raw tables, in one transaction.

Each `Mapping` becomes one query: every field typed, every failed check collected into a
`reason`. Rows without a reason replace the connection's canonical rows; rows with one go to
`canonical.rejected_records` together with the records the loader refused (conflicting
duplicates, missing ids). A record leaves quarantine as soon as its raw version maps cleanly.
While stored report ledgers exist, the documents whose rows a rebuild changes are recorded for
their incremental refresh (`models.ledgers.log_changes`).
"""

from __future__ import annotations

from collections.abc import Mapping as MappingType
from collections.abc import Sequence
from dataclasses import dataclass

import duckdb

from models.expressions import Ref, TextAt, expr, literal
from models.ledgers import log_changes, log_quarantine_changes
from models.mapping import Check, Field, Mapping
from models.queries import scalar
from models.transaction import transaction

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
        fields_given["deleted_at"] = Field(expr("vanished_at"))
    mapping = Mapping(mapping.table, mapping.stream, mapping.relation, fields_given)
    missing = set(columns) - set(mapping.fields)
    extra = set(mapping.fields) - set(columns)
    if missing or extra:
        raise ValueError(
            f"mapping for {mapping.table.name}: missing {sorted(missing)}, unknown {sorted(extra)}"
        )
    fields = {name: _with_not_null_check(mapping, name) for name in columns}
    paths = _JsonReads()
    values = ",\n        ".join(
        f"{f.value.render(paths.read)} AS {name}" for name, f in fields.items()
    )
    reasons = ", ".join(
        f"CASE WHEN {check.failed.render(paths.read)} THEN {check.reason.render(paths.read)} END"
        for f in fields.values()
        for check in f.checks
    )
    relation = mapping.relation.format(**raw_tables)
    return f"""
    SELECT connection_id, record_id, p, vanished_at,
        {values},
        nullif(concat_ws('; ', {reasons}), '') AS reason
    FROM (
        SELECT *, {paths.extractions()} FROM ({relation}) WHERE connection_id = $connection_id
    ) AS src
    """


class _JsonReads:
    """Reads each JSON path a mapping refers to once per record, not once per use.

    DuckDB parses a JSON document anew for every `->>` and `json_type`, and a mapping reads a
    dozen paths several times each (value and checks): ~100 parses per record. One
    `json_extract(alias, [path, ...])` per alias parses once and yields every path's value;
    `->> '$'` and `json_type` on that small value give what they gave on the whole document.
    """

    def __init__(self) -> None:
        self._paths: dict[str, list[str]] = {}

    def read(self, ref: Ref) -> str:
        """SQL for `ref`, over the extracted value of its path."""
        slot = self._slot(ref.alias, ref.path.render())
        return f"({slot} ->> '$')" if isinstance(ref, TextAt) else f"json_type({slot})"

    def extractions(self) -> str:
        """The select-list items computing every path's value, or a constant."""
        items = [
            f"json_extract({alias}, [{', '.join(map(_literal, paths))}]) AS {_values_of(alias)}"
            for alias, paths in self._paths.items()
        ]
        return ", ".join(items) or "NULL AS no_json_paths"

    def _slot(self, alias: str, path: str) -> str:
        paths = self._paths.setdefault(alias, [])
        if path not in paths:
            paths.append(path)
        return f"{_values_of(alias)}[{paths.index(path) + 1}]"


def _values_of(alias: str) -> str:
    return f"json_values__{alias}"


def _literal(path: str) -> str:
    return f"'{path}'"  # JsonPath keys hold no quote


def _with_not_null_check(mapping: Mapping, name: str) -> Field:
    field = mapping.fields[name]
    if mapping.table.columns[name].nullable:
        return field
    derived = Check(expr(field.value, " IS NULL"), literal(f"{name} could not be derived"))
    return Field(field.value, (*field.checks, derived))


def normalize_connection(
    conn: duckdb.DuckDBPyConnection,
    *,
    connection_id: str,
    source: str,
    mappings: Sequence[Mapping],
    raw_tables: MappingType[str, str],
) -> list[NormalizeResult]:
    with transaction(conn):
        conn.execute(
            "CREATE OR REPLACE TEMP TABLE quarantine_now "
            "(stream VARCHAR, record_id VARCHAR, reason VARCHAR, payload JSON, document VARCHAR, "
            "document_id VARCHAR, customer_id VARCHAR, currency_code VARCHAR, "
            "document_date DATE, amount DECIMAL(18, 4))"
        )
        results = [
            _rebuild_table(conn, mapping, connection_id, source, raw_tables) for mapping in mappings
        ]
        _refresh_quarantine(conn, connection_id, source)
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
    # The payload is kept only for rows that go to quarantine: the rest never need it again.
    conn.execute(
        "CREATE OR REPLACE TEMP TABLE mapped AS SELECT * REPLACE "
        f"(CASE WHEN reason IS NOT NULL THEN p END AS p) FROM ({select_sql(mapping, raw_tables)})",
        params,
    )
    log_changes(conn, mapping.table, connection_id, "(FROM mapped WHERE reason IS NULL)")
    conn.execute(f"DELETE FROM {table} WHERE connection_id = $connection_id", params)
    columns = [c.name for c in mapping.table.columns]
    selected = ", ".join("$source" if name == "source" else name for name in columns)
    loaded = scalar(
        conn,
        f"INSERT INTO {table} ({', '.join(columns)}) SELECT {selected} FROM mapped "
        "WHERE reason IS NULL",
        {"source": source},
    )
    # A bad record the source has since deleted is no longer waiting for a fix.
    held_back = _HELD_BACK.get(mapping.table.name, _NOTHING_HELD_BACK)
    rejected = scalar(
        conn,
        f"INSERT INTO quarantine_now ({_QUARANTINE_COLUMNS}) "
        f"SELECT $stream, record_id, reason, p, {held_back} "
        "FROM mapped WHERE reason IS NOT NULL AND vanished_at IS NULL",
        {"stream": mapping.stream},
    )
    return NormalizeResult(mapping.table.name, int(loaded), int(rejected))


# What a quarantined document holds back from its customer's balance, from whatever of it could
# be read: document, document_id, customer_id, currency_code, document_date, amount.
_HELD_BACK = {
    "invoices": (
        "'invoice', invoice_id, customer_id, currency_code, issue_date, "
        "CASE WHEN status IS DISTINCT FROM 'draft' AND status IS DISTINCT FROM 'void' "
        "THEN total_amount - coalesce(credits_applied, 0) - coalesce(write_off_amount, 0) END"
    ),
    "payments": (
        "'payment', payment_id, customer_id, currency_code, payment_date, "
        "CASE WHEN status IS DISTINCT FROM 'void' THEN amount END"
    ),
}
_NOTHING_HELD_BACK = "NULL, NULL, NULL, NULL, NULL, NULL"
_QUARANTINE_COLUMNS = (
    "stream, record_id, reason, payload, document, document_id, customer_id, currency_code, "
    "document_date, amount"
)


def _refresh_quarantine(conn: duckdb.DuckDBPyConnection, connection_id: str, source: str) -> None:
    """Replace the connection's quarantine with what is rejected now, keeping first_seen_at."""
    params = {"connection_id": connection_id, "source": source}
    conn.execute(
        f"""
        INSERT INTO quarantine_now ({_QUARANTINE_COLUMNS})
        SELECT stream, record_id, reason, payload, {_NOTHING_HELD_BACK} FROM sync.load_rejects
        WHERE connection_id = $connection_id
        """,
        {"connection_id": connection_id},
    )
    conn.execute(
        """
        CREATE OR REPLACE TEMP TABLE quarantine_merged AS
        SELECT $connection_id AS connection_id, $source AS source, q.stream, q.record_id,
               string_agg(q.reason, '; ') AS reason, any_value(q.payload) AS payload,
               coalesce(min(old.first_seen_at), now()) AS first_seen_at, now() AS last_seen_at,
               any_value(q.document) AS document, any_value(q.document_id) AS document_id,
               any_value(q.customer_id) AS customer_id,
               any_value(q.currency_code) AS currency_code,
               any_value(q.document_date) AS document_date, any_value(q.amount) AS amount
        FROM quarantine_now q
        LEFT JOIN canonical.rejected_records old
          ON old.connection_id = $connection_id AND old.stream = q.stream
         AND old.record_id = q.record_id
        GROUP BY q.stream, q.record_id
        """,
        params,
    )
    log_quarantine_changes(conn, connection_id, "quarantine_merged")
    conn.execute(
        "DELETE FROM canonical.rejected_records WHERE connection_id = $connection_id",
        {"connection_id": connection_id},
    )
    conn.execute("INSERT INTO canonical.rejected_records BY NAME SELECT * FROM quarantine_merged")
