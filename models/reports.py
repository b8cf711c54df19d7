"""Reconciliation reports: SQL over the canonical tables, each for an explicit as-of date.

Every report is a DuckDB table macro, `reports.<name>_at(as_of, ...)`, so an analyst can ask for
any date; materializing the reports stores one as-of date in the tables `reports.<name>`, with
the comments of `models.report_docs`. `reports.ar_aging_daily` keeps one aging snapshot per day.
The rules are DESIGN.md's "Reconciliation"; `sandbox.truth` is their independent yardstick.

Each report's query (`models/sql/<name>.sql`, a `models.sql_template`) reads up to three inputs,
named by placeholders: `{invoice_ledger}` (every invoice with its applications, balances and
aging at as_of), `{payment_ledger}` (every payment in scope with what it had applied) and
`{held_applications}` (the applications reconciliation reports one by one); its WITH clause
opens with `{inputs}`. The macro fills `{inputs}` with the inputs it reads, as materialized
CTEs; `materialize_reports` computes them once, as tables, for all the reports it writes, and
fills `{inputs}` with nothing: the applications are the bulk of the work, and five reports would
otherwise read them seven times.

The two per-document reports are one row per ledger row, filtered: `invoice_balances` (the issued
invoices) and `unapplied_payments` (the payments with money not applied). Copying a million rows
into each cost more than computing the ledgers, so the ledgers themselves are stored
(`ledgers.invoice_ledger`, `ledgers.payment_ledger`) and those two reports are views over them,
with the reports' comments; the other reports are tables. The stored ledgers (and
`ledgers.held_applications`, while reconciliation_exceptions is written) are refreshed from what
changed since they were written (`models.ledgers`); the reports grouped by customer are then
rewritten for the customers those changes touched alone (`models.customer_scope`). A DuckLake
keeps no stored ledgers, and computes them whole each time.
"""

from __future__ import annotations

import json
import logging
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass
from datetime import date
from typing import Literal, TypeVar, get_args

import duckdb

from models.customer_scope import (
    GROUPED,
    SCOPE,
    scope_customers,
    scoped_ledger,
    within_scope,
)
from models.ducklake import in_ducklake
from models.ledgers import (
    LEDGERS,
    TOUCHED_CUSTOMERS,
    Ledger,
    Refresh,
    forget_report_state,
    ledger_query,
    live_applications_query,
    prune_changes,
    refresh_ledger,
    report_state_holds,
    save_report_state,
    written_at,
)
from models.queries import memory_bytes, quote, scalar, settings, table_exists
from models.report_docs import COLUMN_COMMENTS, TABLE_COMMENTS
from models.sql_template import SqlTemplate, load_template
from models.transaction import transaction

__all__ = [
    "AGING_HISTORY",
    "REPORTS",
    "Aging",
    "AgingBasis",
    "EXCEPTION_KINDS",
    "ExceptionKind",
    "install_report_macros",
    "materialize_reports",
    "reports_memory_limit",
    "snapshot_aging",
]

REPORTS = (
    "invoice_balances",
    "customer_balances",
    "ar_aging",
    "unapplied_payments",
    "reconciliation_exceptions",
)
AGING_HISTORY = "ar_aging_daily"
_AGED = frozenset({"invoice_balances", "ar_aging"})  # the reports that take edges and basis
# What a report query reads, by these names.
_INPUTS: tuple[Ledger, ...] = ("invoice_ledger", "payment_ledger", "held_applications")
# The reports stored as views over one stored ledger each: report → the ledger it shows.
_VIEWS: dict[str, Ledger] = {
    "invoice_balances": "invoice_ledger",
    "unapplied_payments": "payment_ledger",
}

# Writing the reports joins the applications with the invoices and the payments, and DuckDB
# cannot spill what those joins hold: a million of each ran out of memory under 400 and 500 MB,
# not under 600 MB, which cost no time (15.5 s; unbounded, DuckDB keeps up to 80% of the
# machine's memory and reached 1.2 GiB). So the bound grows with the documents.
_MEMORY_PER_DOCUMENT = 320  # bytes per invoice and payment
_MEMORY_FLOOR = 256 * 2**20
_log = logging.getLogger(__name__)
_T = TypeVar("_T")

AgingBasis = Literal["due_date", "issue_date"]
# The kinds of finding in reports.reconciliation_exceptions (its query: models/sql/).
ExceptionKind = Literal[
    "orphan_application",
    "over_applied_invoice",
    "over_applied_payment",
    "balance_mismatch",
    "currency_mismatch",
    "applied_to_void_invoice",
    "unknown_customer",
    "duplicate_payment",
    "record_vanished",
]
EXCEPTION_KINDS: tuple[ExceptionKind, ...] = get_args(ExceptionKind)


@dataclass(frozen=True, slots=True)
class Aging:
    """Aging buckets: current, then periods ending at each of the four edges (days), then older."""

    edges: tuple[int, int, int, int] = (30, 60, 90, 120)
    basis: AgingBasis = "due_date"

    def __post_init__(self) -> None:
        edges = self.edges
        if (
            len(edges) != 4
            or edges[0] < 1
            or any(a >= b for a, b in zip(edges, edges[1:], strict=False))
        ):
            raise ValueError(f"aging edges must be four increasing day counts above 0, not {edges}")
        if self.basis not in ("due_date", "issue_date"):
            raise ValueError(f"aging basis must be due_date or issue_date, not {self.basis!r}")

    @property
    def labels(self) -> tuple[str, ...]:
        """Bucket labels, as in `aging_bucket`: current, 1-30, 31-60, 61-90, 91-120, over_120."""
        e = self.edges
        periods = [f"1-{e[0]}", *(f"{a + 1}-{b}" for a, b in zip(e, e[1:], strict=False))]
        return ("current", *periods, f"over_{e[-1]}")

    def params(self) -> dict[str, object]:
        return {"edges": list(self.edges), "basis": self.basis}


def install_report_macros(conn: duckdb.DuckDBPyConnection) -> None:
    conn.execute(load_template("models.sql", "common").render())
    conn.execute(
        "CREATE OR REPLACE MACRO reports.live_applications() AS TABLE\n"
        + live_applications_query("canonical.payment_applications")
    )
    conn.execute(
        "CREATE OR REPLACE MACRO reports.invoice_ledger_at(\n"
        "    as_of, edges := '[30, 60, 90, 120]', basis := 'due_date'\n"
        ") AS TABLE\n" + ledger_query("invoice_ledger")
    )
    for ledger in ("payment_ledger", "held_applications"):
        conn.execute(
            f"CREATE OR REPLACE MACRO reports.{ledger}_at(as_of) AS TABLE\n" + ledger_query(ledger)
        )
    commented = not in_ducklake(conn)  # DuckLake keeps no comments on macros
    for name in REPORTS:
        conn.execute(_report_macro(name))
        if commented:
            comment = quote(TABLE_COMMENTS[name])
            conn.execute(f"COMMENT ON MACRO TABLE reports.{name}_at IS {comment}")


def materialize_reports(
    conn: duckdb.DuckDBPyConnection,
    as_of: date,
    aging: Aging | None = None,
    names: Iterable[str] = REPORTS,
    *,
    install: bool = True,
    on_step: Callable[[str], None] = lambda step: None,
) -> dict[str, int]:
    """Store the named reports as of `as_of` in `reports.<name>`, in one transaction, so the
    tables always agree with each other; return each one's row count.

    The macros live in the warehouse file: a caller that writes reports for several days
    installs them once and passes `install=False` after that. `on_step` is called as each step
    starts: an input's name, a report's name, then "commit".

    DuckDB's memory is bounded while they are written (`reports_memory_limit`); should that
    bound prove too tight, they are written again without it, with a warning.
    """
    names = list(names)
    unknown = [name for name in names if name not in REPORTS]
    if unknown:
        raise ValueError(f"unknown report {unknown[0]!r}; reports are {REPORTS}")
    if install:
        install_report_macros(conn)
    rows = _bounded(conn, lambda: _write_reports(conn, names, as_of, aging or Aging(), on_step))
    return {name: int(count) for name, count in rows.items()}


def _bounded(conn: duckdb.DuckDBPyConnection, write: Callable[[], _T]) -> _T:
    """`write()` in one transaction under the reports' memory bound (`reports_memory_limit`)
    where it is below the limit already set, and again under that limit, with a warning, should
    it run out of memory under the bound. Tables are written in parallel, rows in any order:
    each report's readers order what they read."""
    previous = str(scalar(conn, "SELECT current_setting('memory_limit')"))
    bound = reports_memory_limit(conn)
    if memory_bytes(bound) < memory_bytes(previous):
        with settings(conn, preserve_insertion_order=False, memory_limit=bound):
            try:
                with transaction(conn):
                    return write()
            except duckdb.Error as error:
                if not _out_of_memory(error):
                    raise
                _log.warning(
                    "writing the reports ran out of memory under DuckDB's memory_limit of %s "
                    "(%s); writing them again under %s",
                    bound,
                    str(error).splitlines()[0],
                    previous,
                )
    with settings(conn, preserve_insertion_order=False), transaction(conn):
        return write()


def _out_of_memory(error: duckdb.Error) -> bool:
    """Whether the write ran out of memory: in a statement, or in its commit (which ends the
    transaction, so the rollback raises in turn, `models.transaction`)."""
    return isinstance(error, duckdb.OutOfMemoryException) or isinstance(
        error.__context__, duckdb.OutOfMemoryException
    )


def reports_memory_limit(conn: duckdb.DuckDBPyConnection) -> str:
    """DuckDB's memory bound for writing the reports: `_MEMORY_PER_DOCUMENT` per invoice and
    payment, and no less than `_MEMORY_FLOOR`."""
    documents = scalar(
        conn,
        "SELECT (SELECT count(*) FROM canonical.invoices) "
        "+ (SELECT count(*) FROM canonical.payments)",
    )
    return f"{max(_MEMORY_FLOOR, _MEMORY_PER_DOCUMENT * int(documents)) // 2**20}MiB"


def _write_reports(
    conn: duckdb.DuckDBPyConnection,
    names: Sequence[str],
    as_of: date,
    aging: Aging,
    on_step: Callable[[str], None],
) -> dict[str, int]:
    """Each report from its inputs, computed once; row counts.

    An input is stored in `ledgers` when a report written now is a view over it (or, for
    held_applications, reads it), and brought up to date from what changed since it was written
    (`models.ledgers`); otherwise it is a temporary table, and the stored ledger keeps the date
    its views were written for. A report grouped by customer whose inputs were all brought up
    to date that way is rewritten for the customers they touched alone (`models.customer_scope`).
    """
    # DuckLake keeps no comments on a view's columns: there the reports stay tables.
    views: dict[str, Ledger] = {} if in_ducklake(conn) else _VIEWS
    params = {"as_of": as_of, **aging.params()}
    stored = {views[name] for name in names if name in views}
    if views and "reconciliation_exceptions" in names:
        stored.add("held_applications")  # read by that report alone
    where: dict[str, str] = {t: f"{LEDGERS}.{t}" if t in stored else f"temp.{t}" for t in _INPUTS}
    written = {table: written_at(conn, table) for table in stored}
    refreshed: dict[Ledger, Refresh] = {}
    for table in _INPUTS:
        if any(_reads(name, table) for name in names):
            on_step(table)
            if table in stored:
                refreshed[table] = refresh_ledger(conn, table, as_of, aging.edges, aging.basis)
                continue
            source = _input(table, "$as_of", ", edges := $edges, basis := $basis")
            sql = f"CREATE OR REPLACE TEMP TABLE {where[table]} AS FROM {source}"
            conn.execute(sql, {k: v for k, v in params.items() if f"${k}" in sql})
    kept = {name: _kept_since(conn, name, as_of, aging, written, refreshed) for name in names}
    incremental = {name: since for name, since in kept.items() if since is not None}
    if incremental:
        scope_customers(conn, min(incremental.values()))  # before the changes are pruned
    if stored:
        prune_changes(conn)
    rows = {}
    for name in names:
        on_step(name)
        if name in views:
            rows[name] = _write_view(conn, name, where)
        elif name in incremental:
            rows[name] = _rewrite_scope(conn, name, params)
        else:
            rows[name] = _write_table(conn, name, where, params)
        if name in GROUPED:
            _record_report_state(conn, name, as_of, aging, stored)
        if name not in incremental:
            _comment(conn, name, "VIEW" if name in views else "TABLE")
    for temporary in (*(f"temp.{t}" for t in _INPUTS), TOUCHED_CUSTOMERS, SCOPE):
        conn.execute(f"DROP TABLE IF EXISTS {temporary}")
    on_step("commit")
    return rows


def _kept_since(
    conn: duckdb.DuckDBPyConnection,
    name: str,
    as_of: date,
    aging: Aging,
    written: dict[Ledger, int | None],
    refreshed: dict[Ledger, Refresh],
) -> int | None:
    """The change a grouped report was written at, if it may be rewritten for the customers
    touched since: every input it reads was refreshed from that change on, and it was written
    for this as-of date, aging and SQL (`models.ledgers.report_state_holds`)."""
    if name not in GROUPED or not table_exists(conn, "reports", name):
        return None
    since = written_at(conn, f"reports.{name}")
    if since is None or any(
        refreshed.get(table) != "incremental" or written.get(table) != since
        for table in _inputs_of(name)
    ):
        return None
    if not report_state_holds(conn, name, as_of, _aging_text(name, aging), _template(name).text):
        return None
    return since


def _record_report_state(
    conn: duckdb.DuckDBPyConnection, name: str, as_of: date, aging: Aging, stored: set[Ledger]
) -> None:
    """Remember what a grouped report was written from, if that was the stored ledgers alone."""
    if all(table in stored for table in _inputs_of(name)):
        save_report_state(conn, name, as_of, _aging_text(name, aging), _template(name).text)
    else:
        forget_report_state(conn, name)


def _aging_text(name: str, aging: Aging) -> str:
    return json.dumps(aging.params()) if name in _AGED else ""


def _rewrite_scope(conn: duckdb.DuckDBPyConnection, name: str, params: dict[str, object]) -> int:
    """Replace the report's rows of the customers in `SCOPE` (and those naming none) with
    their rows now, computed from those customers' ledger rows; its row count."""
    scoped: dict[str, str] = {table: scoped_ledger(table) for table in _INPUTS}
    conn.execute(
        f"CREATE OR REPLACE TEMP MACRO {name}_of_scope(as_of, edges, basis) AS TABLE "
        f"{_query(name, inputs='', where=scoped)}"
    )
    conn.execute(f"DELETE FROM reports.{name} r WHERE {within_scope('r')}")
    conn.execute(
        f"INSERT INTO reports.{name} BY NAME "
        f"FROM {name}_of_scope($as_of::DATE, $edges, $basis) r WHERE {within_scope('r')}",
        params,
    )
    return int(scalar(conn, f"SELECT count(*) FROM reports.{name}"))


def _write_table(
    conn: duckdb.DuckDBPyConnection,
    name: str,
    where: dict[str, str],
    params: dict[str, object],
) -> int:
    # A temporary macro over the query: its inputs resolve to the tables computed for it.
    conn.execute(
        f"CREATE OR REPLACE TEMP MACRO {name}_of_ledgers(as_of, edges, basis) AS TABLE "
        f"{_query(name, inputs='', where=where)}"
    )
    _drop(conn, name, "VIEW")
    return int(
        scalar(
            conn,
            f"CREATE OR REPLACE TABLE reports.{name} AS "
            f"FROM {name}_of_ledgers($as_of::DATE, $edges, $basis)",
            params,
        )
    )


def _write_view(conn: duckdb.DuckDBPyConnection, name: str, where: dict[str, str]) -> int:
    """The report as a view over its stored ledger: its query reads nothing but the ledger."""
    _drop(conn, name, "TABLE")  # written as a table by earlier versions
    conn.execute(f"CREATE OR REPLACE VIEW reports.{name} AS {_query(name, inputs='', where=where)}")
    return int(scalar(conn, f"SELECT count(*) FROM reports.{name}"))


def _drop(conn: duckdb.DuckDBPyConnection, name: str, kind: Literal["TABLE", "VIEW"]) -> None:
    """Drop reports.<name> if it is of that kind (DuckDB refuses to drop a view as a table)."""
    found = scalar(
        conn,
        "SELECT count(*) FROM information_schema.tables WHERE table_catalog = current_database() "
        "AND table_schema = 'reports' AND table_name = ? AND table_type = ?",
        [name, "VIEW" if kind == "VIEW" else "BASE TABLE"],
    )
    if found:
        conn.execute(f"DROP {kind} reports.{name}")


def snapshot_aging(
    conn: duckdb.DuckDBPyConnection,
    day: date,
    aging: Aging | None = None,
    *,
    install: bool = True,
) -> int:
    """Replace day's rows of `reports.ar_aging_daily` with the aging as of that day.

    A table left by a version whose aging columns differ is rebuilt empty: history is derived
    from the canonical tables, so a backfill restores it. `install` as in `materialize_report`;
    the memory bound as there.
    """
    if install:
        install_report_macros(conn)
    params = _params("ar_aging", day, aging)
    return _bounded(conn, lambda: _write_aging_snapshot(conn, day, params))


def _write_aging_snapshot(
    conn: duckdb.DuckDBPyConnection, day: date, params: dict[str, object]
) -> int:
    table = f"reports.{AGING_HISTORY}"
    wanted = _columns(conn, f"{_select('ar_aging')} LIMIT 0", params)
    if _table_columns(conn, AGING_HISTORY) != wanted:
        conn.execute(f"CREATE OR REPLACE TABLE {table} AS {_select('ar_aging')} LIMIT 0", params)
        _comment(conn, AGING_HISTORY)
    conn.execute(f"DELETE FROM {table} WHERE as_of = $as_of", {"as_of": day})
    return int(scalar(conn, f"INSERT INTO {table} BY NAME {_select('ar_aging')}", params))


def _template(name: str) -> SqlTemplate:
    return load_template("models.sql", name)


def _reads(name: str, table: str) -> bool:
    return table in _template(name).placeholders


def _inputs_of(name: str) -> list[Ledger]:
    return [table for table in _INPUTS if _reads(name, table)]


def _query(name: str, *, inputs: str, where: dict[str, str] | None = None) -> str:
    """The report's query, `inputs` opening its WITH clause, reading each input by its name or
    from where `where` says it is."""
    read = {table: (where or {}).get(table, table) for table in _INPUTS if _reads(name, table)}
    return _template(name).render(inputs=inputs, **read)


def _report_macro(name: str) -> str:
    """`reports.<name>_at`: the report's query, its inputs computed first as materialized CTEs."""
    aged = name in _AGED
    parameters = "as_of, edges := '[30, 60, 90, 120]', basis := 'due_date'" if aged else "as_of"
    aging = ", edges := edges, basis := basis" if aged else ""
    inputs = "".join(
        f"{table} AS MATERIALIZED (FROM {_input(table, 'as_of', aging)}),\n"
        for table in _INPUTS
        if _reads(name, table)
    )
    return (
        f"CREATE OR REPLACE MACRO reports.{name}_at({parameters}) AS TABLE\n"
        f"{_query(name, inputs=inputs)}"
    )


def _input(table: str, as_of: str, aging: str) -> str:
    """The table function computing a report input, for the SQL expressions given."""
    if table == "invoice_ledger":
        return f"reports.invoice_ledger_at({as_of}::DATE{aging})"
    return f"reports.{table}_at({as_of}::DATE)"


def _select(name: str) -> str:
    aged = ", edges := $edges, basis := $basis" if name in _AGED else ""
    return f"SELECT * FROM reports.{name}_at($as_of::DATE{aged})"


def _params(name: str, as_of: date, aging: Aging | None) -> dict[str, object]:
    params: dict[str, object] = {"as_of": as_of}
    if name in _AGED:
        params |= (aging or Aging()).params()
    return params


def _columns(conn: duckdb.DuckDBPyConnection, sql: str, params: dict[str, object]) -> list[str]:
    return [column[0] for column in conn.execute(sql, params).description]


def _table_columns(conn: duckdb.DuckDBPyConnection, name: str) -> list[str]:
    rows = conn.execute(
        "SELECT column_name FROM information_schema.columns "
        "WHERE table_schema = 'reports' AND table_name = ? ORDER BY ordinal_position",
        [name],
    ).fetchall()
    return [row[0] for row in rows]


def _comment(
    conn: duckdb.DuckDBPyConnection, name: str, kind: Literal["TABLE", "VIEW"] = "TABLE"
) -> None:
    conn.execute(f"COMMENT ON {kind} reports.{name} IS {quote(TABLE_COMMENTS[name])}")
    documented = COLUMN_COMMENTS[name]
    for column in _table_columns(conn, name):
        if column in documented:
            conn.execute(
                f"COMMENT ON COLUMN reports.{name}.{column} IS {quote(documented[column])}"
            )
