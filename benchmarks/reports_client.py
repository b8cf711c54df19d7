"""Every report over the synced invoices and payments, with applications scaled to a target count.

A copy of the benchmark's warehouse keeps its canonical invoices, payments and customers as
synced. Its `payment_applications` are replaced by `--applications` synthetic rows (a quarter of
each payment spread over its customer's invoices in its currency) and the invoices' source
balances restated to match, so findings stay as few as in a real ledger: a sync that fetched
every payment's detail would cost one request per payment. A report's cost depends on the row
counts and the joins, not on the amounts, so the timing holds; the balances mean nothing here.

Prints one JSON line: the DuckDB seconds of each step of `models.reports.materialize_reports`
(the shared ledgers, each report, the commit), each report's rows, and the CPU seconds of
all of it (on a loaded machine the wall time says little). It runs on its own against any
warehouse a sync wrote, e.g. the benchmark's `<out>/work/ledgersync/warehouse.duckdb`.

With `--changed-percent P` it then changes that share of the documents as a sync would (each
canonical table rewritten by normalization's protocol: `models.ledgers.log_changes`, then the
rows replaced): P% of the customers renamed, of the invoices' and payments' amounts changed,
and the applications of P% of the payments changed; and times the incremental refresh of every
report that follows (`incremental` in the output, beside `changed_documents`).
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

from models.ledgers import forget_ledgers, log_changes
from models.queries import scalar
from models.reports import install_report_macros, materialize_reports
from models.schema import CANONICAL_TABLES
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
SELECT p.connection_id, p.source,
       -- Unique, as a source's are: a part may meet more than one invoice.
       p.payment_id || ':'
           || row_number() OVER (PARTITION BY p.payment_id ORDER BY part, i.invoice_id),
       p.payment_id, i.invoice_id, round(p.amount / ($per_payment * 4), 2), p.payment_date
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


# The change made to P% of each canonical table's rows, and the id that picks them.
_CHANGES = {
    "customers": ("name = name || ' (renamed)'", "customer_id"),
    "invoices": ("total_amount = total_amount + 1", "invoice_id"),
    "payments": ("amount = amount + 1", "payment_id"),
    "payment_applications": ("amount_applied = amount_applied + 0.01", "payment_id"),
}


def change_documents(conn: duckdb.DuckDBPyConnection, percent: float) -> tuple[int, float]:
    """Change `percent` of the documents, as normalization would: the documents recorded, and
    the seconds recording them took (what the change log adds to normalization)."""
    logging_s = 0.0
    connections = conn.execute(
        "SELECT DISTINCT connection_id, source FROM canonical.invoices"
    ).fetchall()
    for table in CANONICAL_TABLES:
        assignment, picked_by = _CHANGES[table.name]
        for connection_id, source in connections:
            params = {"connection_id": connection_id}
            conn.execute(
                "CREATE OR REPLACE TEMP TABLE next_rows AS SELECT * EXCLUDE (connection_id, "
                f"source) FROM canonical.{table.name} WHERE connection_id = $connection_id",
                params,
            )
            conn.execute(
                f"UPDATE next_rows SET {assignment} WHERE hash({picked_by}) % 10000 < $share",
                {"share": round(percent * 100)},
            )
            started = time.perf_counter()
            log_changes(conn, table, connection_id, "temp.next_rows")
            logging_s += time.perf_counter() - started
            conn.execute(
                f"DELETE FROM canonical.{table.name} WHERE connection_id = $connection_id", params
            )
            conn.execute(
                f"INSERT INTO canonical.{table.name} BY NAME SELECT $connection_id AS "
                "connection_id, $source AS source, * FROM next_rows",
                params | {"source": source},
            )
    return int(scalar(conn, "SELECT count(*) FROM ledgers.changes")), logging_s


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


def run(
    warehouse_path: Path,
    work: Path,
    applications: int,
    as_of: date,
    changed_percent: float | None = None,
) -> dict[str, Any]:
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
        forget_ledgers(conn)  # the applications were replaced behind normalization's back
        counts = conn.execute(
            "SELECT (SELECT count(*) FROM canonical.invoices), "
            "(SELECT count(*) FROM canonical.payments), "
            "(SELECT count(*) FROM canonical.payment_applications)"
        ).fetchone()
        install_report_macros(conn)
        cpu = time.process_time()  # every thread's: DuckDB's workers included
        reports = timed_reports(conn, as_of)
        cpu_s = time.process_time() - cpu
        incremental = (
            None if changed_percent is None else _incremental(conn, as_of, changed_percent)
        )
    copy.unlink()
    return {
        "invoices": counts[0],
        "payments": counts[1],
        "applications": counts[2],
        "reports": reports,
        "seconds": sum(r["seconds"] for r in reports.values()),
        "cpu_s": cpu_s,
        **({} if incremental is None else {"incremental": incremental}),
    }


def _incremental(conn: duckdb.DuckDBPyConnection, as_of: date, percent: float) -> dict[str, Any]:
    """Change `percent` of the documents, then time the refresh of every report."""
    started = time.perf_counter()
    changed, logging_s = change_documents(conn, percent)
    change_s = time.perf_counter() - started
    cpu = time.process_time()
    reports = timed_reports(conn, as_of)
    return {
        "changed_percent": percent,
        "changed_documents": changed,
        "change_s": change_s,
        "change_logging_s": logging_s,
        "reports": reports,
        "seconds": sum(r["seconds"] for r in reports.values()),
        "cpu_s": time.process_time() - cpu,
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--warehouse", type=Path, required=True)
    parser.add_argument("--work", type=Path, required=True)
    parser.add_argument("--applications", type=int, required=True)
    parser.add_argument("--as-of", type=date.fromisoformat, required=True)
    parser.add_argument(
        "--changed-percent",
        type=float,
        help="Then change this share of the documents and time the incremental refresh.",
    )
    args = parser.parse_args()
    args.work.mkdir(parents=True, exist_ok=True)
    result = run(args.warehouse, args.work, args.applications, args.as_of, args.changed_percent)
    print(json.dumps(result))


if __name__ == "__main__":
    main()
