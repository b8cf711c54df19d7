"""Every report over the synced invoices and payments, with applications scaled to a target count.

A copy of the benchmark's warehouse keeps its canonical invoices, payments and customers as
synced. Its `payment_applications` are replaced by `--applications` synthetic rows (a quarter of
each payment spread over its customer's invoices in its currency) and the invoices' source
balances restated to match, so findings stay as few as in a real ledger: a sync that fetched
every payment's detail would cost one request per payment. A report's cost depends on the row
counts and the joins, not on the amounts, so the timing holds; the balances mean nothing here.

Prints one JSON line: the DuckDB seconds of each step of `models.reports.materialize_reports`
(the two shared ledgers, each report, the commit), each report's rows, and the CPU seconds of
all of it (on a loaded machine the wall time says little). It runs on its own against any
warehouse a sync wrote, e.g. the benchmark's `<out>/work/ledgersync/warehouse.duckdb`.
"""

from __future__ import annotations

import argparse
import json
import shutil
import time
from datetime import date
from pathlib import Path
from typing import Any

import duckdb

from models.reports import install_report_macros, materialize_reports
from models.warehouse import Warehouse

_SYNTHETIC_APPLICATIONS = """
INSERT INTO canonical.payment_applications
    (connection_id, source, application_id, payment_id, invoice_id, amount_applied, applied_date)
WITH pay AS (
    SELECT connection_id, source, payment_id, customer_id, currency_code, payment_date, amount,
           row_number() OVER (PARTITION BY connection_id, customer_id, currency_code
                              ORDER BY payment_id) - 1 AS n
    FROM canonical.payments
),
inv AS (
    SELECT connection_id, customer_id, currency_code, invoice_id,
           row_number() OVER own - 1 AS n, count(*) OVER own AS invoices
    FROM canonical.invoices
    WINDOW own AS (PARTITION BY connection_id, customer_id, currency_code ORDER BY invoice_id)
)
SELECT p.connection_id, p.source, p.payment_id || ':' || part, p.payment_id, i.invoice_id,
       round(p.amount / ($per_payment * 4), 2), p.payment_date
FROM pay p
CROSS JOIN range($per_payment) AS parts(part)
JOIN inv i
  ON i.connection_id = p.connection_id AND i.customer_id = p.customer_id
 AND i.currency_code = p.currency_code AND i.n = (p.n * $per_payment + part) % i.invoices
ORDER BY p.payment_id, part
LIMIT $applications
"""
# What the source would then report as owed, so balances reconcile as in a real ledger.
_CONSISTENT_SOURCE_BALANCES = """
UPDATE canonical.invoices SET source_balance = CASE
    WHEN status IN ('draft', 'void') THEN 0
    ELSE total_amount - credits_applied - write_off_amount - coalesce((
        SELECT sum(a.amount_applied) FROM canonical.payment_applications a
        WHERE a.connection_id = invoices.connection_id AND a.invoice_id = invoices.invoice_id
    ), 0)
END
"""


def timed_reports(conn: duckdb.DuckDBPyConnection, as_of: date) -> dict[str, dict[str, float]]:
    """Every report as of `as_of`: seconds per step of `materialize_reports`, rows per report."""
    seconds: dict[str, float] = {}
    current: list[tuple[str, float]] = []

    def on_step(step: str) -> None:
        now = time.perf_counter()
        if current:
            name, since = current.pop()
            seconds[name] = now - since
        current.append((step, now))

    rows = materialize_reports(conn, as_of, install=False, on_step=on_step)
    on_step("")
    return {step: {"rows": rows.get(step), "seconds": s} for step, s in seconds.items()}


def run(warehouse_path: Path, work: Path, applications: int, as_of: date) -> dict[str, Any]:
    copy = work / "scaled.duckdb"  # not reports.duckdb: that name would shadow the schema
    shutil.copyfile(warehouse_path, copy)
    warehouse = Warehouse(copy)
    with warehouse.connect() as conn:
        (payments,) = conn.execute("SELECT count(*) FROM canonical.payments").fetchone()
        # One more than the even share: a payment whose customer has no invoice in its currency
        # applies nothing.
        per_payment = 1 + -(-applications // max(payments, 1))
        conn.execute("DELETE FROM canonical.payment_applications")
        conn.execute(
            _SYNTHETIC_APPLICATIONS, {"per_payment": per_payment, "applications": applications}
        )
        conn.execute(_CONSISTENT_SOURCE_BALANCES)
        counts = conn.execute(
            "SELECT (SELECT count(*) FROM canonical.invoices), "
            "(SELECT count(*) FROM canonical.payments), "
            "(SELECT count(*) FROM canonical.payment_applications)"
        ).fetchone()
        install_report_macros(conn)
        cpu = time.process_time()  # every thread's: DuckDB's workers included
        reports = timed_reports(conn, as_of)
        cpu_s = time.process_time() - cpu
    copy.unlink()
    return {
        "invoices": counts[0],
        "payments": counts[1],
        "applications": counts[2],
        "reports": reports,
        "seconds": sum(r["seconds"] for r in reports.values()),
        "cpu_s": cpu_s,
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--warehouse", type=Path, required=True)
    parser.add_argument("--work", type=Path, required=True)
    parser.add_argument("--applications", type=int, required=True)
    parser.add_argument("--as-of", type=date.fromisoformat, required=True)
    args = parser.parse_args()
    args.work.mkdir(parents=True, exist_ok=True)
    print(json.dumps(run(args.warehouse, args.work, args.applications, args.as_of)))


if __name__ == "__main__":
    main()
