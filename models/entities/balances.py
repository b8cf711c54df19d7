"""Consolidated receivables per entity: `reports.entity_balances` and `reports.entity_aging`.

Amounts are summed per entity in each document currency, and in one reporting currency: as
they are where the document is in it; else each document at its own rate to its connection's
base currency (as every report does), then the connection's sum at one rate from the base
currency to the reporting currency; else, for a source that gives documents no rate to its
base (Business Central, Simpro), at one rate from the document currency. The rate is the latest
on or before the as-of date of:

1. the rates the user supplies (`canonical.exchange_rates`, loaded from the rates file named in
   connections.yaml, or written by the user), else
2. the rates the sources expose: documents of a connection whose base currency is the
   reporting currency carry the rate from their currency to it.

A conversion without a rate is never guessed (no inverse, no cross rate): its reporting amount
is NULL and `missing_rates` says which connection lacks which rate.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import date
from decimal import Decimal
from importlib import resources

import duckdb

from models.reports import Aging, install_report_macros
from models.transaction import transaction

__all__ = ["ExchangeRate", "materialize_entity_reports", "replace_exchange_rates"]

ENTITY_REPORTS = ("entity_balances", "entity_aging")
_RATES_DDL = """
CREATE TABLE IF NOT EXISTS canonical.exchange_rates (
    rate_date DATE NOT NULL,
    from_currency VARCHAR NOT NULL,
    to_currency VARCHAR NOT NULL,
    rate DECIMAL(18, 8) NOT NULL
)"""
_REPORTING_RATES = """
CREATE OR REPLACE TEMP TABLE reporting_rates AS
WITH bases AS (SELECT connection_id, base_currency FROM reports.base_currencies()),
documents AS (
    SELECT connection_id, issue_date AS rate_date, currency_code, exchange_rate
    FROM canonical.invoices WHERE deleted_at IS NULL
    UNION ALL
    SELECT connection_id, payment_date, currency_code, exchange_rate
    FROM canonical.payments WHERE deleted_at IS NULL
),
candidates AS (
    SELECT 0 AS preference, rate_date, from_currency, rate, 'rates you supplied' AS rate_source
    FROM canonical.exchange_rates
    WHERE to_currency = $reporting
    UNION ALL
    SELECT 1, d.rate_date, d.currency_code, d.exchange_rate, 'documents of ' || d.connection_id
    FROM documents d JOIN bases b USING (connection_id)
    WHERE b.base_currency = $reporting AND d.currency_code <> b.base_currency
      AND d.exchange_rate IS NOT NULL
)
SELECT from_currency, rate, rate_date, rate_source
FROM candidates
WHERE rate_date <= $as_of::DATE AND from_currency <> $reporting
QUALIFY row_number() OVER (
    PARTITION BY from_currency ORDER BY preference, rate_date DESC, rate_source, rate
) = 1
"""


@dataclass(frozen=True, slots=True)
class ExchangeRate:
    """1 `from_currency` = `rate` `to_currency` on `day`."""

    day: date
    from_currency: str
    to_currency: str
    rate: Decimal


def replace_exchange_rates(conn: duckdb.DuckDBPyConnection, rates: Sequence[ExchangeRate]) -> None:
    """Make `canonical.exchange_rates` hold exactly these rates."""
    conn.execute(_RATES_DDL)
    conn.execute("DELETE FROM canonical.exchange_rates")
    if rates:
        conn.executemany(
            "INSERT INTO canonical.exchange_rates (rate_date, from_currency, to_currency, rate) "
            "VALUES (?, ?, ?, ?)",
            [(r.day, r.from_currency, r.to_currency, r.rate) for r in rates],
        )


def materialize_entity_reports(
    conn: duckdb.DuckDBPyConnection,
    as_of: date,
    reporting_currency: str,
    aging: Aging | None = None,
) -> dict[str, int]:
    """Write both entity reports as of `as_of`, in one transaction; their row counts."""
    aging = aging or Aging()
    install_report_macros(conn)
    conn.execute(_RATES_DDL)
    params = {"as_of": as_of, "reporting": reporting_currency, "edges": list(aging.edges)}
    with transaction(conn):
        conn.execute(
            "CREATE OR REPLACE TEMP TABLE invoice_ledger AS "
            "FROM reports.invoice_ledger_at($as_of::DATE, edges := $edges, basis := $basis)",
            {"as_of": as_of, "edges": list(aging.edges), "basis": aging.basis},
        )
        conn.execute(
            "CREATE OR REPLACE TEMP TABLE payment_ledger AS "
            "FROM reports.payment_ledger_at($as_of::DATE)",
            {"as_of": as_of},
        )
        conn.execute(_REPORTING_RATES, {"as_of": as_of, "reporting": reporting_currency})
        for statement in _REPORTS_SQL.split(";\n"):
            if statement.strip():
                used = {k: v for k, v in params.items() if f"${k}" in statement}
                conn.execute(statement, used or None)
        temporary = ("invoice_ledger", "payment_ledger", "reporting_rates", "entity_documents")
        for table in (*temporary, "entity_sums", "entity_parts"):
            conn.execute(f"DROP TABLE IF EXISTS temp.{table}")
    counts = {}
    for name in ENTITY_REPORTS:
        (counts[name],) = conn.execute(f"SELECT count(*) FROM reports.{name}").fetchone() or (0,)
    return counts


_REPORTS_SQL = resources.files("models.entities").joinpath("reports.sql").read_text()
