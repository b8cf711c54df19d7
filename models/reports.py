"""Reconciliation reports: SQL over the canonical tables, each for an explicit as-of date.

Every report is a DuckDB table macro, `reports.<name>_at(as_of, ...)`, so an analyst can ask for
any date; materializing a report stores one as-of date in the table `reports.<name>`, with the
comments of `models.report_docs`. `reports.ar_aging_daily` keeps one aging snapshot per day.
The rules are DESIGN.md's "Reconciliation"; `sandbox.truth` is their independent yardstick.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date
from importlib import resources
from typing import Literal

import duckdb

from models.report_docs import COLUMN_COMMENTS, TABLE_COMMENTS

__all__ = [
    "AGING_HISTORY",
    "REPORTS",
    "Aging",
    "AgingBasis",
    "install_report_macros",
    "materialize_report",
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
_SQL_FILES = ("common", *REPORTS)

AgingBasis = Literal["due_date", "issue_date"]


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
    for name in _SQL_FILES:
        conn.execute(resources.files("models.sql").joinpath(f"{name}.sql").read_text())
    for name in REPORTS:
        conn.execute(f"COMMENT ON MACRO TABLE reports.{name}_at IS {_quote(TABLE_COMMENTS[name])}")


def materialize_report(
    conn: duckdb.DuckDBPyConnection,
    name: str,
    as_of: date,
    aging: Aging | None = None,
    *,
    install: bool = True,
) -> int:
    """Store the report as of `as_of` in `reports.<name>`; return its row count.

    The macros live in the warehouse file: a caller that writes several reports (or days)
    installs them once and passes `install=False` after that.
    """
    if name not in REPORTS:
        raise ValueError(f"unknown report {name!r}; reports are {REPORTS}")
    if install:
        install_report_macros(conn)
    conn.execute("BEGIN TRANSACTION")
    try:
        conn.execute(
            f"CREATE OR REPLACE TABLE reports.{name} AS {_select(name)}",
            _params(name, as_of, aging),
        )
        _comment(conn, name)
        conn.execute("COMMIT")
    except BaseException:
        conn.execute("ROLLBACK")
        raise
    (rows,) = conn.execute(f"SELECT count(*) FROM reports.{name}").fetchone()
    return int(rows)


def snapshot_aging(
    conn: duckdb.DuckDBPyConnection,
    day: date,
    aging: Aging | None = None,
    *,
    install: bool = True,
) -> int:
    """Replace day's rows of `reports.ar_aging_daily` with the aging as of that day.

    A table left by a version whose aging columns differ is rebuilt empty: history is derived
    from the canonical tables, so a backfill restores it. `install` as in `materialize_report`.
    """
    if install:
        install_report_macros(conn)
    table = f"reports.{AGING_HISTORY}"
    params = _params("ar_aging", day, aging)
    conn.execute("BEGIN TRANSACTION")
    try:
        wanted = _columns(conn, f"{_select('ar_aging')} LIMIT 0", params)
        if _table_columns(conn, AGING_HISTORY) != wanted:
            conn.execute(
                f"CREATE OR REPLACE TABLE {table} AS {_select('ar_aging')} LIMIT 0", params
            )
            _comment(conn, AGING_HISTORY)
        conn.execute(f"DELETE FROM {table} WHERE as_of = $as_of", {"as_of": day})
        (rows,) = conn.execute(f"INSERT INTO {table} {_select('ar_aging')}", params).fetchone()
        conn.execute("COMMIT")
    except BaseException:
        conn.execute("ROLLBACK")
        raise
    return int(rows)


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


def _comment(conn: duckdb.DuckDBPyConnection, name: str) -> None:
    conn.execute(f"COMMENT ON TABLE reports.{name} IS {_quote(TABLE_COMMENTS[name])}")
    documented = COLUMN_COMMENTS[name]
    for column in _table_columns(conn, name):
        if column in documented:
            conn.execute(
                f"COMMENT ON COLUMN reports.{name}.{column} IS {_quote(documented[column])}"
            )


def _quote(text: str) -> str:
    return "'" + text.replace("'", "''") + "'"
