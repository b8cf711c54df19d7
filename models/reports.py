"""Reconciliation reports: SQL over the canonical tables, each for an explicit as-of date.

Every report is a DuckDB table macro, `reports.<name>_at(as_of)`, so an analyst can ask for any
date; materializing a report stores one as-of date in the table `reports.<name>`.
"""

from __future__ import annotations

from datetime import date
from importlib import resources

import duckdb

__all__ = ["REPORTS", "install_report_macros", "materialize_report"]

REPORTS = ("invoice_balances",)


def install_report_macros(conn: duckdb.DuckDBPyConnection) -> None:
    for name in REPORTS:
        conn.execute(resources.files("models.sql").joinpath(f"{name}.sql").read_text())


def materialize_report(conn: duckdb.DuckDBPyConnection, name: str, as_of: date) -> int:
    """Store the report as of `as_of` in `reports.<name>`; return its row count."""
    if name not in REPORTS:
        raise ValueError(f"unknown report {name!r}; reports are {REPORTS}")
    install_report_macros(conn)
    conn.execute(
        f"CREATE OR REPLACE TABLE reports.{name} AS SELECT * FROM reports.{name}_at($as_of::DATE)",
        {"as_of": as_of},
    )
    (rows,) = conn.execute(f"SELECT count(*) FROM reports.{name}").fetchone()
    return int(rows)
