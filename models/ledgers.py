"""The stored ledgers (`ledgers.invoice_ledger`, `ledgers.payment_ledger`, and the applications
reconciliation reports one by one, `ledgers.held_applications`), kept up to date from what
changed in the canonical tables since they were written.

A ledger row depends on its document, the applications to or from it (with their payment or
invoice), its customer's name, its connection's base currency and the as-of date (and, for the
invoice ledger, the aging edges and basis). Normalization records which documents its rebuild
changed (`log_changes`, called by `models.normalize` while a stored ledger exists) in
`ledgers.changes`, each rebuild under a new sequence number; a refresh (`refresh_ledger`)
recomputes the rows of the documents changed since the sequence number its ledger was written
at, and of the documents those depend on:

- an invoice's row: the invoice, and the invoices a changed payment applies to (its status,
  date or currency decide what its applications count), and those of a changed customer;
- a payment's row: the payment, and the payments applied to a changed invoice (its status,
  currency or existence decide whether an application is held), and those of a changed customer;
- a held application's row: those of the payments whose rows are recomputed (the application
  itself is recorded as its payments, its payment's and invoice's changes as above).

A changed application is recorded as both its invoices and both its payments (before and after).
A ledger is rebuilt whole instead when it cannot be sure: the first time, when the as-of date,
the edges or basis, the ledger SQL or the canonical schema differ from when it was written, when
a connection's base currency moved, or when so much changed that a rebuild is as quick.

Canonical tables are written by normalization only; a writer that bypasses it must call
`log_changes` (for the quarantine, `log_quarantine_changes`) itself, or drop the ledgers' state
(`forget_ledgers`) so the next refresh rebuilds. The state table also records what the reports
grouped by customer were written at (`models.customer_scope`).
"""

from __future__ import annotations

import hashlib
import json
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import date
from functools import cache
from typing import Literal

import duckdb
import sqlalchemy as sa
from duckdb_engine import Dialect

from models.queries import scalar, table_exists
from models.schema import CANONICAL_TABLES, REJECTED_RECORDS
from models.sql_template import load_template

__all__ = [
    "LEDGERS",
    "TOUCHED_CUSTOMERS",
    "Ledger",
    "Refresh",
    "customer_column",
    "forget_ledgers",
    "forget_report_state",
    "ledger_query",
    "live_applications_query",
    "log_changes",
    "log_quarantine_changes",
    "prune_changes",
    "refresh_ledger",
    "report_state_holds",
    "save_report_state",
    "written_at",
]

LEDGERS = "ledgers"  # the schema of the stored ledgers, their state and the change log
Ledger = Literal["invoice_ledger", "payment_ledger", "held_applications"]
Refresh = Literal["rebuilt", "incremental"]

_STATE = f"{LEDGERS}.state"
# The customers whose ledger rows a refresh replaced, before and after (NULL where a row names
# none): created by the first incremental refresh of a report write, dropped at its end.
TOUCHED_CUSTOMERS = "temp.ledger_touched_customers"
_CHANGES = f"{LEDGERS}.changes"
# Beyond this share of a ledger's rows changed, recomputing them costs about a rebuild.
_REBUILD_ABOVE = 0.2
# The documents a changed canonical row touches: (document, its id column), before and after.
_TOUCHES: dict[str, tuple[tuple[str, str], ...]] = {
    "customers": (("customer", "customer_id"),),
    "invoices": (("invoice", "invoice_id"),),
    "payments": (("payment", "payment_id"),),
    "payment_applications": (("invoice", "invoice_id"), ("payment", "payment_id")),
}


@dataclass(frozen=True, slots=True)
class _State:
    """What a stored ledger was computed for, and the last change it includes."""

    as_of: date
    aging: str  # the invoice ledger's edges and basis, as JSON; empty for the payment ledger
    version: str  # of the SQL and canonical schema it was computed with
    base_currencies: str  # every connection's base currency, as text
    through_seq: int

    def same_basis(self, other: _State) -> bool:
        return (self.as_of, self.aging, self.version, self.base_currencies) == (
            other.as_of,
            other.aging,
            other.version,
            other.base_currencies,
        )


def log_changes(
    conn: duckdb.DuckDBPyConnection, table: sa.Table, connection_id: str, new_rows: str
) -> None:
    """Record in `ledgers.changes` the documents whose rows of the canonical `table` differ
    between what it holds for the connection now and `new_rows` (a relation with its columns,
    bar connection_id and source), which are about to replace them. Nothing is recorded while no
    stored ledger would read it."""
    if table.name not in _TOUCHES or not _exists(conn, "changes"):
        return
    columns = [c for c in table.columns if c.name not in ("connection_id", "source")]
    key = next(c.name for c in table.primary_key.columns if c.name != "connection_id")
    compiler = Dialect().type_compiler_instance
    new = ", ".join(f"CAST({c.name} AS {compiler.process(c.type)}) AS {c.name}" for c in columns)
    differs = " OR ".join(f"o.{c.name} IS DISTINCT FROM n.{c.name}" for c in columns)
    touched = " UNION ALL ".join(
        f"SELECT '{document}' AS document, unnest([o.{column}, n.{column}]) AS document_id "
        f"FROM changed_rows"
        for document, column in _TOUCHES[table.name]
    )
    names = ", ".join(c.name for c in columns)
    conn.execute(
        f"""
        INSERT INTO {_CHANGES} (seq, connection_id, document, document_id)
        WITH o AS (SELECT {names} FROM {table.schema}.{table.name}
                   WHERE connection_id = $connection_id),
             n AS (SELECT {new} FROM {new_rows}),
             changed_rows AS (SELECT o, n FROM o FULL JOIN n ON o.{key} = n.{key}
                              WHERE {differs})
        SELECT DISTINCT $seq, $connection_id, document, document_id
        FROM ({touched})
        WHERE document_id IS NOT NULL
        """,
        {"connection_id": connection_id, "seq": _next_seq(conn)},
    )


def refresh_ledger(
    conn: duckdb.DuckDBPyConnection,
    ledger: Ledger,
    as_of: date,
    edges: Sequence[int],
    basis: str,
) -> Refresh:
    """Bring `ledgers.<ledger>` to `as_of` (and the edges and basis): recompute the rows of the
    documents changed since it was written, or all of it when it cannot be sure."""
    conn.execute(f"CREATE SCHEMA IF NOT EXISTS {LEDGERS}")
    _ensure_bookkeeping(conn)
    conn.execute(
        "CREATE OR REPLACE TEMP TABLE ledger_base_currencies AS FROM reports.base_currencies()"
    )
    aging = json.dumps({"edges": list(edges), "basis": basis}) if ledger == "invoice_ledger" else ""
    wanted = _State(as_of, aging, _version(), _base_currencies(conn), _last_seq(conn))
    stored = _stored_state(conn, ledger)
    params = {"as_of": as_of, "edges": list(edges), "basis": basis}
    if stored is not None and stored.same_basis(wanted) and _table_exists(conn, ledger):
        if _changed_documents(conn, stored.through_seq) <= _REBUILD_ABOVE * _documents(
            conn, ledger
        ):
            _recompute_changed(conn, ledger, stored.through_seq, params)
            _save_state(conn, ledger, wanted)
            return "incremental"
    query = ledger_query(ledger, base_currencies="temp.ledger_base_currencies")
    conn.execute(f"CREATE OR REPLACE TEMP MACRO {ledger}_now(as_of, edges, basis) AS TABLE {query}")
    conn.execute(
        f"CREATE OR REPLACE TABLE {LEDGERS}.{ledger} AS "
        f"FROM {ledger}_now($as_of::DATE, $edges, $basis)",
        params,
    )
    _save_state(conn, ledger, wanted)
    return "rebuilt"


def log_quarantine_changes(
    conn: duckdb.DuckDBPyConnection, connection_id: str, new_rows: str
) -> None:
    """Record in `ledgers.changes`, as changed customers, whose quarantined documents differ
    between `canonical.rejected_records` now and `new_rows` (its columns), about to replace the
    connection's rows: what quarantine holds back counts in their report rows."""
    if not _exists(conn, "changes"):
        return
    columns = ("document", "document_id", "customer_id", "currency_code", "document_date", "amount")
    names = ", ".join(("stream", "record_id", *columns))
    differs = " OR ".join(f"o.{c} IS DISTINCT FROM n.{c}" for c in columns)
    conn.execute(
        f"""
        INSERT INTO {_CHANGES} (seq, connection_id, document, document_id)
        WITH o AS (SELECT {names} FROM canonical.rejected_records
                   WHERE connection_id = $connection_id),
             n AS (SELECT {names} FROM {new_rows}),
             changed_rows AS (SELECT o, n FROM o FULL JOIN n
                              ON o.stream = n.stream AND o.record_id = n.record_id
                              WHERE {differs})
        SELECT DISTINCT $seq, $connection_id, 'customer', customer_id
        FROM (SELECT unnest([o.customer_id, n.customer_id]) AS customer_id FROM changed_rows)
        WHERE customer_id IS NOT NULL
        """,
        {"connection_id": connection_id, "seq": _next_seq(conn)},
    )


def written_at(conn: duckdb.DuckDBPyConnection, name: str) -> int | None:
    """The last change a stored ledger (or a report, `reports.<name>`) includes, if stored."""
    if not _exists(conn, "state"):
        return None
    row = conn.execute(f"SELECT through_seq FROM {_STATE} WHERE ledger = ?", [name]).fetchone()
    return None if row is None else int(row[0])


def report_state_holds(
    conn: duckdb.DuckDBPyConnection, report: str, as_of: date, aging: str, sql: str
) -> bool:
    """Whether `reports.<report>` was written for this as-of date, aging (JSON, or empty), the
    report's `sql`, the ledgers' version and the base currencies of the last ledger refresh."""
    stored = _stored_state(conn, f"reports.{report}") if _exists(conn, "state") else None
    return stored is not None and stored.same_basis(_report_state(conn, as_of, aging, sql))


def save_report_state(
    conn: duckdb.DuckDBPyConnection, report: str, as_of: date, aging: str, sql: str
) -> None:
    """Record that `reports.<report>` now holds every change so far (`report_state_holds`)."""
    _ensure_bookkeeping(conn)
    _save_state(conn, f"reports.{report}", _report_state(conn, as_of, aging, sql))


def forget_report_state(conn: duckdb.DuckDBPyConnection, report: str) -> None:
    """`reports.<report>` was written from something else than the stored ledgers: its next
    write is a whole one."""
    if _exists(conn, "state"):
        conn.execute(f"DELETE FROM {_STATE} WHERE ledger = ?", [f"reports.{report}"])


def _report_state(conn: duckdb.DuckDBPyConnection, as_of: date, aging: str, sql: str) -> _State:
    version = hashlib.sha256(f"{_version()}\n{sql}".encode()).hexdigest()[:16]
    return _State(as_of, aging, version, _base_currencies(conn), _last_seq(conn))


def prune_changes(conn: duckdb.DuckDBPyConnection) -> None:
    """Drop the changes every stored ledger includes; forget a ledger so far behind that its
    next refresh rebuilds it anyway, so that it holds no changes back."""
    if not _exists(conn, "state"):
        return
    conn.execute(
        f"DELETE FROM {_STATE} s WHERE (SELECT count(*) FROM {_CHANGES} c "
        f"WHERE c.seq > s.through_seq) > $limit",
        {"limit": _REBUILD_ABOVE * _documents(conn, "invoice_ledger", "payment_ledger")},
    )
    # A report is rewritten in part only right after its ledgers' refresh: it keeps no changes.
    conn.execute(
        f"DELETE FROM {_CHANGES} WHERE seq <= (SELECT coalesce(min(through_seq), "
        f"(SELECT max(seq) FROM {_CHANGES})) FROM {_STATE} WHERE ledger NOT LIKE 'reports.%')"
    )


def forget_ledgers(conn: duckdb.DuckDBPyConnection) -> None:
    """Make the next refresh of every stored ledger a rebuild."""
    if _exists(conn, "state"):
        conn.execute(f"DELETE FROM {_STATE}")


def live_applications_query(applications: str) -> str:
    """`reports.live_applications()`'s query over `applications` (a table or subquery)."""
    return load_template("models.sql", "live_applications").render(applications=applications)


def ledger_query(
    ledger: Ledger, scope: str | None = None, base_currencies: str = "reports.base_currencies()"
) -> str:
    """A ledger's query (its macro's body: it reads as_of, and the invoice ledger edges and
    basis) over the canonical tables, or over the documents in the table `scope` alone."""
    spec = _SPECS[ledger]
    applications = "canonical.payment_applications"
    if scope is None:
        live_applications = "reports.live_applications()"
    else:
        applications = _within(applications, scope, spec.key)
        live_applications = f"({live_applications_query(applications)})"
    if ledger == "held_applications":
        return load_template("models.sql", ledger).render(applications=applications)
    documents = spec.documents if scope is None else _within(spec.documents, scope, spec.key)
    return load_template("models.sql", ledger).render(
        live_applications=live_applications,
        base_currencies=base_currencies,
        **{spec.documents.removeprefix("canonical."): documents},
    )


@dataclass(frozen=True, slots=True)
class _Spec:
    documents: str  # the canonical table of the documents its rows are of
    key: str  # the document id its rows are replaced by
    scope: str  # which documents' rows to recompute: the name of a query in _SCOPES
    customer: str  # the column naming the customer whose report rows a row counts in


_SPECS: dict[Ledger, _Spec] = {
    "invoice_ledger": _Spec("canonical.invoices", "invoice_id", "invoices", "customer_id"),
    "payment_ledger": _Spec("canonical.payments", "payment_id", "payments", "customer_id"),
    "held_applications": _Spec(
        "canonical.payment_applications", "payment_id", "payments", "payment_customer_id"
    ),
}


def customer_column(ledger: Ledger) -> str:
    """The column of a ledger's rows naming the customer whose report rows they count in."""
    return _SPECS[ledger].customer


def _within(table: str, scope: str, key: str) -> str:
    return f"(FROM {table} SEMI JOIN {scope} USING (connection_id, {key}))"


def _recompute_changed(
    conn: duckdb.DuckDBPyConnection,
    ledger: Ledger,
    through_seq: int,
    params: dict[str, object],
) -> None:
    """Replace the rows of the documents changed since `through_seq`, and of those depending on
    them, with their rows now."""
    spec = _SPECS[ledger]
    scope = f"temp.{ledger}_scope"
    conn.execute(
        f"CREATE OR REPLACE TEMP TABLE {ledger}_scope AS {_SCOPES[spec.scope]}",
        {"through_seq": through_seq},
    )
    query = ledger_query(ledger, scope, base_currencies="temp.ledger_base_currencies")
    conn.execute(
        f"CREATE OR REPLACE TEMP MACRO {ledger}_changed(as_of, edges, basis) AS TABLE {query}"
    )
    table = f"{LEDGERS}.{ledger}"
    replaced = f"{table} t SEMI JOIN {scope} s USING (connection_id, {spec.key})"
    conn.execute(
        f"CREATE TEMP TABLE IF NOT EXISTS {TOUCHED_CUSTOMERS.removeprefix('temp.')} "
        "(connection_id VARCHAR, customer_id VARCHAR)"
    )
    touched = f"INSERT INTO {TOUCHED_CUSTOMERS} SELECT DISTINCT t.connection_id, t.{spec.customer}"
    conn.execute(f"{touched} FROM {replaced}")  # whose rows they were
    conn.execute(
        f"DELETE FROM {table} t USING {scope} s "
        f"WHERE t.connection_id = s.connection_id AND t.{spec.key} = s.{spec.key}"
    )
    conn.execute(
        f"INSERT INTO {table} BY NAME FROM {ledger}_changed($as_of::DATE, $edges, $basis)", params
    )
    conn.execute(f"{touched} FROM {replaced}")  # whose rows they are now


# The documents whose rows to recompute: those changed since `$through_seq`, and those depending
# on one that did (see the module's docstring).
_CHANGED = f"(FROM {_CHANGES} WHERE seq > $through_seq)"


def _scope(document: str, other: str) -> str:
    """The `document`s (invoice or payment) changed, applied to or from a changed `other`, or of
    a changed customer."""
    key = f"{document}_id"
    return f"""
        SELECT connection_id, document_id AS {key} FROM {_CHANGED} WHERE document = '{document}'
        UNION
        SELECT a.connection_id, a.{key} FROM canonical.payment_applications a
        SEMI JOIN {_CHANGED} c ON c.document = '{other}' AND c.connection_id = a.connection_id
                              AND c.document_id = a.{other}_id
        UNION
        SELECT d.connection_id, d.{key} FROM canonical.{document}s d
        SEMI JOIN {_CHANGED} c ON c.document = 'customer' AND c.connection_id = d.connection_id
                              AND c.document_id = d.customer_id
        """


_SCOPES = {
    "invoices": _scope("invoice", "payment"),
    "payments": _scope("payment", "invoice"),
}


def _ensure_bookkeeping(conn: duckdb.DuckDBPyConnection) -> None:
    conn.execute(
        f"CREATE TABLE IF NOT EXISTS {_STATE} (ledger VARCHAR NOT NULL, as_of DATE NOT NULL, "
        "aging VARCHAR NOT NULL, version VARCHAR NOT NULL, base_currencies VARCHAR NOT NULL, "
        "through_seq BIGINT NOT NULL)"
    )
    conn.execute(
        f"CREATE TABLE IF NOT EXISTS {_CHANGES} (seq BIGINT NOT NULL, "
        "connection_id VARCHAR NOT NULL, document VARCHAR NOT NULL, document_id VARCHAR NOT NULL)"
    )


def _stored_state(conn: duckdb.DuckDBPyConnection, ledger: str) -> _State | None:
    row = conn.execute(
        f"SELECT as_of, aging, version, base_currencies, through_seq FROM {_STATE} "
        "WHERE ledger = ?",
        [ledger],
    ).fetchone()
    return None if row is None else _State(*row)


def _save_state(conn: duckdb.DuckDBPyConnection, ledger: str, state: _State) -> None:
    conn.execute(f"DELETE FROM {_STATE} WHERE ledger = ?", [ledger])
    conn.execute(
        f"INSERT INTO {_STATE} VALUES (?, ?, ?, ?, ?, ?)",
        [ledger, state.as_of, state.aging, state.version, state.base_currencies, state.through_seq],
    )


def _last_seq(conn: duckdb.DuckDBPyConnection) -> int:
    """The last sequence number given to a rebuild's changes (0 before any)."""
    return int(
        scalar(
            conn,
            f"SELECT greatest((SELECT coalesce(max(seq), 0) FROM {_CHANGES}), "
            f"(SELECT coalesce(max(through_seq), 0) FROM {_STATE}))",
        )
    )


def _next_seq(conn: duckdb.DuckDBPyConnection) -> int:
    return _last_seq(conn) + 1 if _exists(conn, "state") else 1


def _changed_documents(conn: duckdb.DuckDBPyConnection, through_seq: int) -> int:
    return int(scalar(conn, f"SELECT count(*) FROM {_CHANGES} WHERE seq > ?", [through_seq]))


def _documents(conn: duckdb.DuckDBPyConnection, *ledgers: Ledger) -> int:
    """How many documents the ledgers' rows are of."""
    counts = " + ".join(f"(SELECT count(*) FROM {_SPECS[ledger].documents})" for ledger in ledgers)
    return int(scalar(conn, f"SELECT {counts}"))


def _base_currencies(conn: duckdb.DuckDBPyConnection) -> str:
    return str(
        scalar(
            conn,
            "SELECT coalesce(string_agg(connection_id || '=' || coalesce(base_currency, ''), ','"
            " ORDER BY connection_id), '') FROM temp.ledger_base_currencies",
        )
    )


def _table_exists(conn: duckdb.DuckDBPyConnection, ledger: Ledger) -> bool:
    return _exists(conn, ledger)


def _exists(conn: duckdb.DuckDBPyConnection, table: str) -> bool:
    return table_exists(conn, LEDGERS, table)


@cache
def _version() -> str:
    """A digest of what a ledger's rows are computed with: its SQL and the canonical tables (and
    the quarantine, which the reports grouped by customer read)."""
    from models.warehouse import table_ddl

    texts = [
        load_template("models.sql", name).text for name in ("common", "live_applications", *_SPECS)
    ]
    # The quarantine too: a change of its columns recreates it empty, unlogged.
    texts += [table_ddl(table) for table in (*CANONICAL_TABLES, REJECTED_RECORDS)]
    return hashlib.sha256("\n".join(texts).encode()).hexdigest()[:16]
