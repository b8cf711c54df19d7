"""The report SQL on small warehouses written by hand, on generated ledgers against the truth, and
its invariants under hypothesis.

Hand-written cases insert canonical rows directly: one case per derived status, aging edge and
exception kind. Generated ledgers are loaded into the canonical tables as a source would map them
(without any source in between) and every report is compared with `sandbox.truth` to the cent.
"""

from __future__ import annotations

import re
from collections.abc import Iterator
from datetime import UTC, date, datetime, timedelta
from decimal import Decimal
from pathlib import Path

import duckdb
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

import models
from models.reports import (
    EXCEPTION_KINDS,
    REPORTS,
    Aging,
    install_report_macros,
    materialize_reports,
    reports_memory_limit,
    snapshot_aging,
)
from models.schema import CANONICAL_TABLES, REJECTED_RECORDS
from models.warehouse import Warehouse, table_ddl
from sandbox.generator import generate_ledger, record_payment, void_invoice
from sandbox.ledger import Ledger
from sandbox.truth import (
    customer_truth,
    expected_exceptions,
    invoice_truth,
    payment_truth,
)

D = date(2026, 6, 30)
CONNECTION = "books"


# --- writing canonical rows -----------------------------------------------------------------


def customer(conn, customer_id="c1", *, currency="USD", source_balance=None, deleted_at=None):
    conn.execute(
        "INSERT INTO canonical.customers (connection_id, source, customer_id, name, currency_code, "
        "source_balance, deleted_at) VALUES (?, 'test', ?, ?, ?, ?, ?)",
        [CONNECTION, customer_id, f"Customer {customer_id}", currency, source_balance, deleted_at],
    )


def invoice(
    conn,
    invoice_id,
    *,
    customer_id="c1",
    total="100.00",
    status="open",
    issued=date(2026, 5, 1),
    due=date(2026, 5, 31),
    currency="USD",
    rate="1",
    credits="0",
    write_off="0",
    source_balance=None,
    deleted_at=None,
):
    conn.execute(
        "INSERT INTO canonical.invoices (connection_id, source, invoice_id, invoice_number, "
        "customer_id, status, issue_date, due_date, currency_code, exchange_rate, total_amount, "
        "credits_applied, write_off_amount, source_balance, deleted_at) "
        "VALUES (?, 'test', ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)",
        [
            CONNECTION,
            invoice_id,
            f"INV-{invoice_id}",
            customer_id,
            status,
            issued,
            due,
            currency,
            rate,
            total,
            credits,
            write_off,
            source_balance,
            deleted_at,
        ],
    )


def payment(
    conn,
    payment_id,
    *,
    customer_id="c1",
    amount="100.00",
    paid=date(2026, 6, 1),
    currency="USD",
    rate="1",
    status="posted",
    reference=None,
    deleted_at=None,
):
    conn.execute(
        "INSERT INTO canonical.payments (connection_id, source, payment_id, payment_number, "
        "customer_id, payment_date, currency_code, exchange_rate, amount, bank_charges, "
        "reference, status, deleted_at) VALUES (?, 'test', ?, ?, ?, ?, ?, ?, ?, 0, ?, ?, ?)",
        [
            CONNECTION,
            payment_id,
            f"PAY-{payment_id}",
            customer_id,
            paid,
            currency,
            rate,
            amount,
            reference,
            status,
            deleted_at,
        ],
    )


def apply(conn, payment_id, invoice_id, amount, applied=None):
    (count,) = conn.execute("SELECT count(*) FROM canonical.payment_applications").fetchone()
    conn.execute(
        "INSERT INTO canonical.payment_applications VALUES (?, 'test', ?, ?, ?, ?, ?)",
        [CONNECTION, f"a{count + 1}", payment_id, invoice_id, amount, applied],
    )


def rows(conn, sql, params=None) -> list[dict[str, object]]:
    cursor = conn.execute(sql, params)
    names = [column[0] for column in cursor.description]
    return [dict(zip(names, row, strict=True)) for row in cursor.fetchall()]


def by_key(conn, report, key, as_of=D, **named) -> dict[str, dict[str, object]]:
    args = "".join(f", {name} := ${name}" for name in named)
    found = rows(
        conn, f"SELECT * FROM reports.{report}_at($as_of{args})", {"as_of": as_of, **named}
    )
    return {row[key]: row for row in found}


def exceptions(conn, as_of=D) -> list[tuple[object, ...]]:
    return conn.execute(
        "SELECT kind, entity, customer_id, invoice_id, payment_id, expected, actual, difference "
        "FROM reports.reconciliation_exceptions_at(?)",
        [as_of],
    ).fetchall()


def _in_memory() -> duckdb.DuckDBPyConnection:
    conn = duckdb.connect()
    conn.execute("SET TimeZone = 'UTC'")
    for schema in ("canonical", "reports"):
        conn.execute(f"CREATE SCHEMA {schema}")
    for table in (*CANONICAL_TABLES, REJECTED_RECORDS):
        conn.execute(table_ddl(table))
    install_report_macros(conn)
    return conn


@pytest.fixture
def scratch() -> Iterator[duckdb.DuckDBPyConnection]:
    """An in-memory warehouse that a property test empties before each example."""
    connection = _in_memory()
    yield connection
    connection.close()


def _empty(conn: duckdb.DuckDBPyConnection) -> duckdb.DuckDBPyConnection:
    for table in CANONICAL_TABLES:
        conn.execute(f"DELETE FROM {table.schema}.{table.name}")
    return conn


@pytest.fixture
def conn() -> Iterator[duckdb.DuckDBPyConnection]:
    connection = _in_memory()
    yield connection
    connection.close()


@pytest.fixture
def warehouse_conn(tmp_path: Path) -> Iterator[duckdb.DuckDBPyConnection]:
    """The warehouse file as ledgersync creates it."""
    warehouse = Warehouse(tmp_path / "warehouse.duckdb")
    warehouse.ensure_schema()
    with warehouse.connect() as connection:
        yield connection


# --- invoice balances -----------------------------------------------------------------------


def test_each_derived_status(conn):
    customer(conn)
    invoice(conn, "open")
    invoice(conn, "partly")
    invoice(conn, "credited", credits="40.00")
    invoice(conn, "paid")
    invoice(conn, "over")
    invoice(conn, "draft", status="draft")
    invoice(conn, "void", status="void")
    payment(conn, "p1", amount="400.00")
    apply(conn, "p1", "partly", "30.00")
    apply(conn, "p1", "paid", "100.00")
    apply(conn, "p1", "over", "120.00")
    apply(conn, "p1", "void", "50.00")

    found = by_key(conn, "invoice_balances", "invoice_id")
    assert {k: (r["derived_status"], r["open_balance"]) for k, r in found.items()} == {
        "open": ("open", Decimal("100.0000")),
        "partly": ("partially_paid", Decimal("70.0000")),
        "credited": ("partially_paid", Decimal("60.0000")),
        "paid": ("paid", Decimal("0.0000")),
        "over": ("overpaid", Decimal("-20.0000")),
        "draft": ("draft", Decimal("0.0000")),
        "void": ("void", Decimal("0.0000")),
    }
    assert found["over"]["payment_count"] == 1
    assert not found["void"]["receivable"]


def test_as_of_leaves_out_later_invoices_applications_and_void_payments(conn):
    customer(conn)
    invoice(conn, "i1")
    invoice(conn, "later", issued=date(2026, 7, 1))
    payment(conn, "p1", amount="60.00", paid=date(2026, 6, 1))
    apply(conn, "p1", "i1", "25.00")  # dated by its payment
    apply(conn, "p1", "i1", "35.00", applied=date(2026, 7, 15))
    payment(conn, "voided", status="void")
    apply(conn, "voided", "i1", "10.00")
    payment(conn, "gone", deleted_at=datetime(2026, 6, 2, tzinfo=UTC))
    apply(conn, "gone", "i1", "10.00")

    at_d = by_key(conn, "invoice_balances", "invoice_id")
    assert list(at_d) == ["i1"]
    assert (at_d["i1"]["applied_amount"], at_d["i1"]["open_balance"]) == (
        Decimal("25.0000"),
        Decimal("75.0000"),
    )
    assert (at_d["i1"]["first_payment_date"], at_d["i1"]["last_payment_date"]) == (
        date(2026, 6, 1),
        date(2026, 6, 1),
    )
    later = by_key(conn, "invoice_balances", "invoice_id", as_of=date(2026, 7, 31))
    assert later["i1"]["open_balance"] == Decimal("40.0000")
    before = by_key(conn, "invoice_balances", "invoice_id", as_of=date(2026, 5, 31))
    assert before["i1"]["applied_amount"] == 0


def test_pending_payments_count_as_received_and_the_source_balance_leaves_them_out(conn):
    customer(conn)
    invoice(conn, "i1", source_balance="100.00")  # the source has not posted the payment yet
    payment(conn, "p1", amount="40.00", status="pending")
    apply(conn, "p1", "i1", "40.00")

    row = by_key(conn, "invoice_balances", "invoice_id")["i1"]
    assert row["applied_amount"] == row["pending_applied"] == Decimal("40.0000")
    assert row["open_balance"] == Decimal("60.0000")
    assert row["expected_source_balance"] == Decimal("100.0000")
    assert row["balance_delta"] == 0
    assert exceptions(conn) == []


def test_balance_delta_is_measured_at_the_sync_whatever_the_as_of_date(conn):
    customer(conn)
    invoice(conn, "i1", source_balance="30.00")
    payment(conn, "p1", amount="70.00", paid=date(2026, 7, 10))
    apply(conn, "p1", "i1", "70.00")

    for as_of in (D, date(2026, 7, 31)):
        row = by_key(conn, "invoice_balances", "invoice_id", as_of=as_of)["i1"]
        assert (row["expected_source_balance"], row["balance_delta"]) == (Decimal("30.0000"), 0)


@pytest.mark.parametrize(
    ("days_overdue", "bucket"),
    [(-5, "current"), (0, "current"), (1, "1-30"), (30, "1-30"), (31, "31-60"), (90, "61-90")]
    + [(91, "91-120"), (120, "91-120"), (121, "over_120")],
)
def test_aging_buckets_by_days_past_due(conn, days_overdue, bucket):
    customer(conn)
    invoice(conn, "i1", issued=D - timedelta(days=200), due=D - timedelta(days=days_overdue))
    row = by_key(conn, "invoice_balances", "invoice_id")["i1"]
    assert (row["days_past_due"], row["aging_bucket"]) == (max(days_overdue, 0), bucket)


def test_aging_edges_and_basis_are_parameters(conn):
    customer(conn)
    invoice(conn, "i1", issued=D - timedelta(days=50), due=D - timedelta(days=20))
    invoice(conn, "no_due_date", issued=D - timedelta(days=3), due=None)

    by_due = by_key(conn, "invoice_balances", "invoice_id", edges=[7, 14, 21, 28])
    assert by_due["i1"]["aging_bucket"] == "15-21"
    assert by_due["no_due_date"]["aging_bucket"] == "1-7"  # due on issue
    by_issue = by_key(conn, "invoice_balances", "invoice_id", basis="issue_date")
    assert (by_issue["i1"]["age_days"], by_issue["i1"]["aging_bucket"]) == (50, "31-60")
    assert by_issue["i1"]["days_past_due"] == 20

    aging = by_key(conn, "ar_aging", "customer_id", edges=[7, 14, 21, 28], basis="issue_date")["c1"]
    assert (aging["older"], aging["period_1"], aging["total"]) == (100, 100, 200)
    assert aging["bucket_edges"] == [7, 14, 21, 28]
    for wrong in ({"edges": [30, 20, 90, 120]}, {"edges": [30, 60]}, {"basis": "paid_date"}):
        with pytest.raises(duckdb.InvalidInputException):
            by_key(conn, "ar_aging", "customer_id", **wrong)


def test_aging_labels_follow_the_edges():
    assert Aging().labels == ("current", "1-30", "31-60", "61-90", "91-120", "over_120")
    assert Aging((15, 30, 45, 60)).labels[1:3] == ("1-15", "16-30")
    for edges in ((30, 60, 90), (0, 30, 60, 90), (30, 30, 60, 90)):
        with pytest.raises(ValueError, match="four increasing"):
            Aging(edges)  # type: ignore[arg-type]


# --- customer balances, unapplied payments, base currency -----------------------------------


def test_customer_balances_per_currency_with_unapplied_cash_and_the_customers_own_balance(conn):
    customer(conn, "c1", source_balance="150.00")
    invoice(conn, "i1", due=D - timedelta(days=10))
    invoice(conn, "i2", total="80.00", due=D + timedelta(days=10))
    invoice(conn, "i3", total="90.00", currency="EUR", rate="1.1")
    payment(conn, "p1", amount="50.00")
    apply(conn, "p1", "i2", "30.00")
    payment(conn, "p2", amount="20.00", currency="EUR", rate="1.1")

    found = {
        r["currency_code"]: r
        for r in rows(conn, "SELECT * FROM reports.customer_balances_at(?)", [D])
    }
    usd, eur = found["USD"], found["EUR"]
    assert (usd["invoiced"], usd["applied"], usd["open_balance"]) == (180, 30, 150)
    assert (usd["unapplied_cash"], usd["net_balance"], usd["overdue"]) == (20, 130, 100)
    assert (usd["customer_source_balance"], usd["customer_balance_delta"]) == (150, 0)
    assert (eur["open_balance"], eur["unapplied_cash"], eur["net_balance"]) == (90, 20, 70)
    assert eur["customer_source_balance"] is None  # the customer's balance is in its currency
    assert eur["net_balance_base"] == Decimal("77.0000")
    assert usd["base_currency"] == eur["base_currency"] == "USD"


def test_base_amounts_need_a_known_rate(conn):
    customer(conn)
    invoice(conn, "i1", currency="GBP", rate="1.27123456", total="10.00")
    invoice(conn, "i2", currency="NZD", rate=None)
    found = by_key(conn, "invoice_balances", "invoice_id")
    assert found["i1"]["open_balance_base"] == Decimal("12.7123")  # rounded to 4 places
    assert found["i2"]["open_balance_base"] is None
    nzd = rows(
        conn, "SELECT * FROM reports.customer_balances_at(?) WHERE currency_code = 'NZD'", [D]
    )
    assert nzd[0]["open_balance_base"] is None
    assert nzd[0]["base_currency"] is None  # no document at rate 1: the base is unknown


def test_base_amounts_of_millions_at_a_rate_are_exact_in_every_report(warehouse_conn):
    """2,500,000.00 at 1.1 is 2,750,000.0000 in base: beyond what DECIMAL(18,4) times
    DECIMAL(18,8) can hold, which once made every report fail."""
    conn = warehouse_conn
    customer(conn)
    invoice(conn, "big", currency="EUR", rate="1.10000000", total="2500000.00", due=D)
    invoice(conn, "usd", total="1000000.00", due=D)
    payment(conn, "p1", amount="1500000.00", currency="EUR", rate="1.10000000")
    apply(conn, "p1", "big", "1000000.00")

    rows_written = materialize_reports(conn, D)

    assert rows_written["invoice_balances"] == 2
    big = by_key(conn, "invoice_balances", "invoice_id")["big"]
    assert (big["total_amount_base"], big["applied_amount_base"], big["open_balance_base"]) == (
        Decimal("2750000.0000"),
        Decimal("1100000.0000"),
        Decimal("1650000.0000"),
    )
    eur = rows(conn, "SELECT * FROM reports.customer_balances WHERE currency_code = 'EUR'")[0]
    assert (eur["invoiced_base"], eur["open_balance_base"], eur["unapplied_cash_base"]) == (
        Decimal("2750000.0000"),
        Decimal("1650000.0000"),
        Decimal("550000.0000"),
    )
    assert eur["net_balance_base"] == Decimal("1100000.0000")
    aging = rows(conn, "SELECT * FROM reports.ar_aging ORDER BY currency_code")
    assert [(a["currency_code"], a["total_base"]) for a in aging] == [
        ("EUR", Decimal("1650000.0000")),
        ("USD", Decimal("1000000.0000")),
    ]
    unapplied = rows(conn, "SELECT * FROM reports.unapplied_payments")[0]
    assert (unapplied["amount_base"], unapplied["unapplied_amount_base"]) == (
        Decimal("1650000.0000"),
        Decimal("550000.0000"),
    )


def test_unapplied_payments_by_kind(conn):
    customer(conn)
    invoice(conn, "i1", total="500.00")
    payment(conn, "untouched", amount="10.00")
    payment(conn, "partly", amount="50.00")
    apply(conn, "partly", "i1", "20.00")
    payment(conn, "fully", amount="20.00")
    apply(conn, "fully", "i1", "20.00")
    payment(conn, "over", amount="20.00")
    apply(conn, "over", "i1", "25.00")
    payment(conn, "void", status="void")
    payment(conn, "future", paid=D + timedelta(days=1))

    found = by_key(conn, "unapplied_payments", "payment_id")
    assert {k: (r["kind"], r["unapplied_amount"]) for k, r in found.items()} == {
        "untouched": ("unapplied", Decimal("10.0000")),
        "partly": ("partially_applied", Decimal("30.0000")),
        "over": ("over_applied", Decimal("-5.0000")),
    }


# --- exceptions, one kind at a time ---------------------------------------------------------


def test_a_consistent_ledger_has_no_exceptions(conn):
    customer(conn)
    invoice(conn, "i1", source_balance="40.00")
    payment(conn, "p1", amount="60.00", reference="TRF-1")
    apply(conn, "p1", "i1", "60.00")
    assert exceptions(conn) == []


def test_orphan_applications(conn):
    customer(conn)
    payment(conn, "p1", amount="60.00")
    apply(conn, "p1", "missing", "60.00")
    apply(conn, "unknown_payment", "missing", "5.00", applied=D)
    apply(conn, "unknown_payment", "missing", "5.00", applied=D + timedelta(days=1))
    assert exceptions(conn) == [
        ("orphan_application", "application", "c1", "missing", "p1", 0, 60, 60),
        ("orphan_application", "application", None, "missing", "unknown_payment", 0, 5, 5),
    ]


def test_over_applied_invoice(conn):
    customer(conn)
    invoice(conn, "i1", credits="10.00", source_balance="0.00")
    payment(conn, "p1", amount="95.00")
    apply(conn, "p1", "i1", "95.00")
    assert exceptions(conn) == [
        ("balance_mismatch", "invoice", "c1", "i1", None, -5, 0, 5),
        ("over_applied_invoice", "invoice", "c1", "i1", None, 90, 95, 5),
    ]


def test_over_applied_payment(conn):
    customer(conn)
    invoice(conn, "i1")
    invoice(conn, "i2")
    payment(conn, "p1", amount="50.00")
    apply(conn, "p1", "i1", "30.00")
    apply(conn, "p1", "i2", "30.00")
    assert exceptions(conn) == [
        ("over_applied_payment", "payment", "c1", None, "p1", 50, 60, 10),
    ]


def test_balance_mismatch(conn):
    customer(conn)
    invoice(conn, "i1", source_balance="45.00", write_off="5.00")
    payment(conn, "p1", amount="55.00")
    apply(conn, "p1", "i1", "55.00")
    assert exceptions(conn) == [("balance_mismatch", "invoice", "c1", "i1", None, 40, 45, 5)]


def test_currency_mismatch(conn):
    customer(conn)
    invoice(conn, "i1", currency="EUR")
    payment(conn, "p1", amount="100.00")
    apply(conn, "p1", "i1", "100.00")
    assert exceptions(conn) == [
        ("currency_mismatch", "application", "c1", "i1", "p1", None, 100, None),
    ]


def test_payment_for_an_unknown_customer(conn):
    payment(conn, "p1", customer_id="stranger", amount="12.00")
    assert exceptions(conn) == [
        ("unknown_customer", "payment", "stranger", None, "p1", None, 12, None),
    ]


def test_possible_duplicate_payment(conn):
    customer(conn)
    payment(conn, "p1", reference="CHQ-7")
    payment(conn, "p2", reference="CHQ-7")  # the later copy is the finding
    payment(conn, "p3")  # no reference: nothing to match on
    payment(conn, "p4")
    payment(conn, "p5", reference="CHQ-7", amount="99.00")
    assert exceptions(conn) == [
        ("duplicate_payment", "payment", "c1", None, "p2", None, 100, None),
    ]


def test_records_vanished_from_the_source(conn):
    seen = datetime(2026, 6, 15, tzinfo=UTC)
    customer(conn)
    customer(conn, "c2", deleted_at=seen)
    invoice(conn, "i1", deleted_at=seen)
    payment(conn, "p1", deleted_at=seen)
    payment(conn, "p2", paid=D + timedelta(days=3), deleted_at=seen)
    found = exceptions(conn)
    assert [(kind, entity, c, i, p) for kind, entity, c, i, p, *_ in found] == [
        ("record_vanished", "customer", "c2", None, None),
        ("record_vanished", "invoice", "c1", "i1", None),
        ("record_vanished", "payment", "c1", None, "p1"),
    ]
    assert by_key(conn, "invoice_balances", "invoice_id") == {}


def test_an_application_to_a_vanished_invoice_is_unapplied_cash_again(conn):
    customer(conn)
    invoice(conn, "i1", deleted_at=datetime(2026, 6, 15, tzinfo=UTC))
    payment(conn, "p1", amount="100.00")
    apply(conn, "p1", "i1", "60.00")
    assert by_key(conn, "unapplied_payments", "payment_id")["p1"]["unapplied_amount"] == 100
    assert ("applied_to_void_invoice", "application", "c1", "i1", "p1", 0, 60, 60) in exceptions(
        conn
    )


# --- materialized tables --------------------------------------------------------------------


def test_materialized_reports_hold_one_date_and_document_every_column(warehouse_conn):
    conn = warehouse_conn
    customer(conn)
    invoice(conn, "i1", due=D - timedelta(days=40))
    assert materialize_reports(conn, D) == {
        "invoice_balances": 1,
        "customer_balances": 1,
        "ar_aging": 1,
        "unapplied_payments": 0,
        "reconciliation_exceptions": 0,
    }
    columns = rows(
        conn,
        "SELECT table_name, column_name, comment FROM duckdb_columns() "
        "WHERE schema_name = 'reports'",
    )
    assert {c["table_name"] for c in columns} == set(REPORTS)
    undocumented = [(c["table_name"], c["column_name"]) for c in columns if not c["comment"]]
    assert undocumented == []
    assert conn.execute("SELECT DISTINCT as_of FROM reports.ar_aging").fetchall() == [(D,)]
    assert conn.execute("SELECT period_2 FROM reports.ar_aging").fetchall() == [(100,)]
    with pytest.raises(ValueError, match="unknown report"):
        materialize_reports(conn, D, names=["ar_aging_daily"])


def test_materialized_reports_equal_their_macros(conn):
    """`materialize_reports` shares one computation of the ledgers between the reports; each
    table must hold exactly what its macro returns, whatever the date, edges and basis."""
    ledger = generate_ledger("harbour", customers=30, invoices=300, payments=250)
    load_ledger(conn, ledger)
    for as_of, aging in (
        (ledger.as_of, Aging()),
        (ledger.as_of - timedelta(days=60), Aging((10, 20, 45, 200), "issue_date")),
    ):
        counts = materialize_reports(conn, as_of, aging)
        for name in REPORTS:
            named = (
                ", edges := $edges, basis := $basis"
                if name in ("invoice_balances", "ar_aging")
                else ""
            )
            params = {"as_of": as_of, **(aging.params() if named else {})}
            table = conn.execute(f"SELECT * FROM reports.{name} ORDER BY ALL").fetchall()
            macro = conn.execute(
                f"SELECT * FROM reports.{name}_at($as_of{named}) ORDER BY ALL", params
            ).fetchall()
            assert table == macro, name
            assert counts[name] == len(table) > 0, name


def test_materializing_some_reports_leaves_the_others(conn):
    ledger = generate_ledger("harbour", customers=10, invoices=60, payments=40)
    load_ledger(conn, ledger)
    materialize_reports(conn, ledger.as_of)
    earlier = ledger.as_of - timedelta(days=30)
    materialize_reports(conn, earlier, names=["ar_aging"])
    dates = {
        name: conn.execute(f"SELECT DISTINCT as_of FROM reports.{name}").fetchall()
        for name in REPORTS
    }
    assert dates == {name: [(ledger.as_of,)] for name in REPORTS} | {"ar_aging": [(earlier,)]}


def _bounds(conn: duckdb.DuckDBPyConnection) -> tuple[object, object, object]:
    """The memory limit as set and as DuckDB's buffer pool enforces it, and insertion order."""
    return conn.execute(
        "SELECT current_setting('memory_limit'), "
        "(SELECT memory_limit FROM pragma_database_size()), "
        "current_setting('preserve_insertion_order')"
    ).fetchone()


def test_reports_are_written_under_a_memory_bound_that_grows_with_the_documents(
    warehouse_conn, monkeypatch
):
    conn = warehouse_conn
    ledger = generate_ledger("harbour", customers=10, invoices=60, payments=40)
    load_ledger(conn, ledger)
    documents = conn.execute(
        "SELECT (SELECT count(*) FROM canonical.invoices) "
        "+ (SELECT count(*) FROM canonical.payments)"
    ).fetchone()[0]
    assert reports_memory_limit(conn) == "256MiB"  # the floor
    monkeypatch.setattr(models.reports, "_MEMORY_PER_DOCUMENT", 4 * 2**20)
    assert reports_memory_limit(conn) == f"{4 * documents}MiB"
    before = _bounds(conn)
    during = set()
    materialize_reports(conn, ledger.as_of, on_step=lambda step: during.add(_bounds(conn)))
    assert during == {(f"{4 * documents}.0 MiB", f"{4 * documents}.0 MiB", False)}
    assert _bounds(conn) == before


def test_reports_that_run_out_of_memory_under_the_bound_are_written_without_it(
    warehouse_conn, monkeypatch, caplog
):
    conn = warehouse_conn
    ledger = generate_ledger("harbour", customers=10, invoices=60, payments=40)
    load_ledger(conn, ledger)
    expected = materialize_reports(conn, ledger.as_of)
    written = {
        name: conn.execute(f"FROM reports.{name} ORDER BY ALL").fetchall() for name in REPORTS
    }
    conn.execute("DELETE FROM ledgers.state")  # the next write computes everything again
    before = _bounds(conn)
    monkeypatch.setattr(models.reports, "reports_memory_limit", lambda conn: "8MiB")
    with caplog.at_level("WARNING", logger="models.reports"):
        assert materialize_reports(conn, ledger.as_of) == expected
        assert snapshot_aging(conn, ledger.as_of) == expected["ar_aging"]
    out_of_memory = "ran out of memory under DuckDB's memory_limit of 8MiB"
    assert caplog.text.count(out_of_memory) == 2  # the reports, then the aging snapshot
    assert {
        name: conn.execute(f"FROM reports.{name} ORDER BY ALL").fetchall() for name in REPORTS
    } == written
    assert _bounds(conn) == before


def test_per_document_reports_show_the_stored_ledgers_as_materialized(warehouse_conn):
    """invoice_balances and unapplied_payments are views over the stored ledgers: they replace
    the tables an earlier version wrote, keep every comment, and show what was materialized,
    not what the canonical tables say after it."""
    conn = warehouse_conn
    ledger = generate_ledger("harbour", customers=10, invoices=60, payments=40)
    load_ledger(conn, ledger)
    for name in ("invoice_balances", "unapplied_payments"):
        conn.execute(f"CREATE TABLE reports.{name} AS SELECT 1 AS written_by_an_old_version")
    materialize_reports(conn, ledger.as_of)
    kinds = conn.execute(
        "SELECT table_name, table_type FROM information_schema.tables "
        "WHERE table_schema = 'reports' ORDER BY ALL"
    ).fetchall()
    assert kinds == [
        ("ar_aging", "BASE TABLE"),
        ("customer_balances", "BASE TABLE"),
        ("invoice_balances", "VIEW"),
        ("reconciliation_exceptions", "BASE TABLE"),
        ("unapplied_payments", "VIEW"),
    ]
    before = {
        name: conn.execute(f"SELECT * FROM reports.{name} ORDER BY ALL").fetchall()
        for name in ("invoice_balances", "unapplied_payments")
    }
    assert all(before.values())
    conn.execute("UPDATE canonical.customers SET name = 'Renamed'")
    conn.execute("DELETE FROM canonical.payment_applications")
    after = {
        name: conn.execute(f"SELECT * FROM reports.{name} ORDER BY ALL").fetchall()
        for name in before
    }
    assert after == before
    comments = conn.execute(
        "SELECT table_name, count(*) FILTER (WHERE comment IS NULL) FROM duckdb_columns() "
        "WHERE schema_name = 'reports' GROUP BY ALL ORDER BY ALL"
    ).fetchall()
    assert comments == [(name, 0) for name in sorted(REPORTS)]


def test_aging_snapshots_replace_only_their_day(warehouse_conn):
    conn = warehouse_conn
    customer(conn)
    invoice(conn, "i1", due=D - timedelta(days=40))
    earlier = D - timedelta(days=20)
    assert snapshot_aging(conn, D) == snapshot_aging(conn, earlier) == 1
    first = conn.execute("SELECT * FROM reports.ar_aging_daily ORDER BY as_of").fetchall()
    assert snapshot_aging(conn, D) == 1
    assert conn.execute("SELECT * FROM reports.ar_aging_daily ORDER BY as_of").fetchall() == first
    by_day = conn.execute(
        "SELECT as_of, period_1, period_2 FROM reports.ar_aging_daily ORDER BY as_of"
    ).fetchall()
    assert by_day == [(earlier, 100, 0), (D, 0, 100)]


# --- generated ledgers against the truth ----------------------------------------------------


def _insert(conn, sql: str, values: list[tuple[object, ...]]) -> None:
    if values:
        conn.executemany(sql, values)


def load_ledger(conn, ledger: Ledger, connection_id: str = CONNECTION) -> None:
    """Canonical rows as a source would map the ledger (ids are the ledger's, as text)."""
    source_balance = {c.customer_id: Decimal(0) for c in ledger.customers}
    for inv in ledger.invoices:
        if inv.status not in ("draft", "void"):
            source_balance[inv.customer_id] += inv.source_balance
    _insert(
        conn,
        "INSERT INTO canonical.customers (connection_id, source, customer_id, name, "
        "currency_code, source_balance) VALUES (?, 'ledger', ?, ?, ?, ?)",
        [
            (
                connection_id,
                str(c.customer_id),
                c.name,
                c.currency_code,
                source_balance[c.customer_id],
            )
            for c in ledger.customers
        ],
    )
    _insert(
        conn,
        "INSERT INTO canonical.invoices (connection_id, source, invoice_id, invoice_number, "
        "customer_id, status, issue_date, due_date, currency_code, exchange_rate, total_amount, "
        "credits_applied, write_off_amount, source_balance) "
        "VALUES (?, 'ledger', ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)",
        [
            (connection_id, str(i.invoice_id), i.invoice_number, str(i.customer_id), i.status)
            + (i.issue_date, i.due_date, i.currency_code, i.exchange_rate, i.total_amount)
            + (i.credits_applied, i.write_off_amount, i.source_balance)
            for i in ledger.invoices
        ],
    )
    _insert(
        conn,
        "INSERT INTO canonical.payments (connection_id, source, payment_id, payment_number, "
        "customer_id, payment_date, currency_code, exchange_rate, amount, bank_charges, "
        "reference, status) VALUES (?, 'ledger', ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)",
        [
            (connection_id, str(p.payment_id), p.payment_number, str(p.customer_id))
            + (p.payment_date, p.currency_code, p.exchange_rate, p.amount, p.bank_charges)
            + (p.reference, p.status)
            for p in ledger.payments
        ],
    )
    _insert(
        conn,
        "INSERT INTO canonical.payment_applications VALUES (?, 'ledger', ?, ?, ?, ?, ?)",
        [
            (connection_id, str(a.application_id), str(a.payment_id), str(a.invoice_id))
            + (a.amount_applied, a.applied_date)
            for a in ledger.applications
        ],
    )


def assert_reports_equal_truth(conn, ledger: Ledger, as_of: date) -> None:
    invoices = {
        int(r["invoice_id"]): r
        for r in rows(conn, "SELECT * FROM reports.invoice_balances_at(?)", [as_of])
    }
    assert {
        k: (r["total_amount"], r["applied_amount"], r["open_balance"], r["derived_status"])
        + (r["days_past_due"], r["aging_bucket"], r["balance_delta"])
        for k, r in invoices.items()
    } == {
        k: (t.total_amount, t.applied, t.open_balance, t.status, t.days_past_due)
        + (t.aging_bucket, t.balance_delta)
        for k, t in invoice_truth(ledger, as_of).items()
    }

    truth = customer_truth(ledger, as_of)
    customers = rows(conn, "SELECT * FROM reports.customer_balances_at(?)", [as_of])
    assert {
        (int(r["customer_id"]), r["currency_code"]): (
            r["invoiced"],
            r["applied"],
            r["credits_and_write_offs"],
            r["open_balance"],
            r["unapplied_cash"],
            r["net_balance"],
            r["overdue"],
            r["source_balance"],
            r["balance_delta"],
        )
        for r in customers
    } == {
        key: (t.invoiced, t.applied, t.credits_and_write_offs, t.open, t.unapplied_cash)
        + (t.net, t.overdue, t.source_balance, t.balance_delta)
        for key, t in truth.items()
    }

    open_pairs = {
        (t.customer_id, t.currency_code)
        for t in invoice_truth(ledger, as_of).values()
        if t.receivable and t.open_balance != 0
    }
    aging = rows(conn, "SELECT * FROM reports.ar_aging_at(?)", [as_of])
    columns = ("current", "period_1", "period_2", "period_3", "period_4", "older")
    assert {
        (int(r["customer_id"]), r["currency_code"]): tuple(r[c] for c in columns) for r in aging
    } == {key: tuple(truth[key].aging.values()) for key in open_pairs}

    unapplied = rows(conn, "SELECT * FROM reports.unapplied_payments_at(?)", [as_of])
    assert {
        int(r["payment_id"]): (r["amount"], r["applied_amount"], r["unapplied_amount"])
        for r in unapplied
    } == {
        pid: (t.amount, t.applied, t.unapplied)
        for pid, t in payment_truth(ledger, as_of).items()
        if t.unapplied != 0
    }


def found_exceptions(conn, as_of: date) -> list[tuple[str, int]]:
    found = conn.execute(
        "SELECT kind, CASE WHEN entity = 'invoice' THEN invoice_id ELSE payment_id END "
        "FROM reports.reconciliation_exceptions_at(?)",
        [as_of],
    ).fetchall()
    return sorted({(kind, int(entity)) for kind, entity in found})


def test_a_generated_ledger_equals_the_truth_at_every_horizon(conn):
    ledger = generate_ledger("northwind", customers=40, invoices=400, payments=350)
    load_ledger(conn, ledger)
    for days_back in (0, 30, 95, 420):
        assert_reports_equal_truth(conn, ledger, ledger.as_of - timedelta(days=days_back))
    assert found_exceptions(conn, ledger.as_of) == expected_exceptions(ledger)
    assert {kind for kind, _ in expected_exceptions(ledger)} == {
        "balance_mismatch",
        "duplicate_payment",
        "orphan_application",
    }


@settings(
    max_examples=15,
    deadline=None,
    database=None,
    suppress_health_check=[HealthCheck.function_scoped_fixture],
)
@given(
    account=st.text(min_size=1, max_size=12),
    invoices=st.integers(0, 60),
    payments=st.integers(0, 60),
    days_back=st.integers(-5, 420),
)
def test_any_generated_ledger_equals_the_truth(scratch, account, invoices, payments, days_back):
    conn = _empty(scratch)
    ledger = generate_ledger(account, customers=6, invoices=invoices, payments=payments)
    load_ledger(conn, ledger)
    assert_reports_equal_truth(conn, ledger, ledger.as_of - timedelta(days=days_back))
    assert found_exceptions(conn, ledger.as_of) == expected_exceptions(ledger)


# --- invariants under hypothesis -------------------------------------------------------------

_money = st.decimals(min_value=0, max_value=1000, places=2)
_day = st.integers(0, 90).map(lambda n: date(2026, 4, 1) + timedelta(days=n))


@st.composite
def books(draw) -> dict[str, list[tuple[object, ...]]]:
    """Arbitrary canonical rows: any statuses, currencies, unknown ids, missing dates."""
    customers = [f"c{n}" for n in range(draw(st.integers(1, 3)))]
    invoices = []
    for n in range(draw(st.integers(0, 6))):
        issued = draw(_day)
        invoices.append(
            (
                f"i{n}",
                draw(st.sampled_from([*customers, "stranger"])),
                draw(st.sampled_from(["open", "paid", "partially_paid", "draft", "void"])),
                issued,
                issued + timedelta(days=draw(st.integers(0, 60))),
                draw(st.sampled_from(["USD", "EUR"])),
                draw(_money),
                draw(st.sampled_from([Decimal(0), Decimal("5.00")])),
            )
        )
    payments = [
        (
            f"p{n}",
            draw(st.sampled_from([*customers, "stranger"])),
            draw(_day),
            draw(st.sampled_from(["USD", "EUR"])),
            draw(_money),
            draw(st.sampled_from(["posted", "posted", "pending", "void"])),
        )
        for n in range(draw(st.integers(0, 6)))
    ]
    targets = [i[0] for i in invoices] + ["missing"]
    applications = [
        (
            draw(st.sampled_from([p[0] for p in payments])),
            draw(st.sampled_from(targets)),
            draw(_money),
            draw(st.one_of(st.none(), _day)),
        )
        for _ in range(draw(st.integers(0, 8)) if payments else 0)
    ]
    return {
        "customers": customers,
        "invoices": invoices,
        "payments": payments,
        "apps": applications,
    }


_RATES = {"USD": "1", "EUR": "1.1"}  # USD is the base


def load_books(conn, data) -> None:
    for customer_id in data["customers"]:
        customer(conn, customer_id)
    for i, cust, status, issued, due, currency, total, credits in data["invoices"]:
        invoice(
            conn,
            i,
            customer_id=cust,
            status=status,
            issued=issued,
            due=due,
            currency=currency,
            rate=_RATES[currency],
            total=total,
            credits=min(credits, total),
        )
    for p, cust, paid, currency, amount, status in data["payments"]:
        payment(
            conn,
            p,
            customer_id=cust,
            paid=paid,
            currency=currency,
            rate=_RATES[currency],
            amount=amount,
            status=status,
        )
    for p, i, amount, applied in data["apps"]:
        apply(conn, p, i, amount, applied)


def open_balances(conn, as_of) -> dict[str, Decimal]:
    return dict(
        conn.execute(
            "SELECT invoice_id, open_balance FROM reports.invoice_balances_at(?)", [as_of]
        ).fetchall()
    )


# Examples share one in-memory warehouse that each empties first; no example database on disk.
_PROPERTY = settings(
    max_examples=30,
    deadline=None,
    database=None,
    suppress_health_check=[HealthCheck.too_slow, HealthCheck.function_scoped_fixture],
)


@_PROPERTY
@given(data=books(), amounts=st.lists(_money, min_size=1, max_size=3), as_of=_day, paid=_day)
def test_applying_a_payment_never_increases_an_open_balance(scratch, data, amounts, as_of, paid):
    conn = _empty(scratch)
    load_books(conn, data)
    before = open_balances(conn, as_of)
    payment(conn, "new", paid=paid, amount=sum(amounts))
    invoice_ids = [i[0] for i in data["invoices"]] or ["missing"]
    for n, amount in enumerate(amounts):
        apply(conn, "new", invoice_ids[n % len(invoice_ids)], amount)
    after = open_balances(conn, as_of)
    assert after.keys() == before.keys()
    assert all(after[k] <= before[k] for k in before)


@_PROPERTY
@given(data=books(), as_of=_day)
def test_customer_balances_are_invoice_balances_less_unapplied_cash(scratch, data, as_of):
    conn = _empty(scratch)
    load_books(conn, data)
    (customers_net, customers_open, customers_unapplied) = conn.execute(
        "SELECT coalesce(sum(net_balance), 0), coalesce(sum(open_balance), 0), "
        "coalesce(sum(unapplied_cash), 0) FROM reports.customer_balances_at(?)",
        [as_of],
    ).fetchone()
    (invoices_open,) = conn.execute(
        "SELECT coalesce(sum(open_balance), 0) FROM reports.invoice_balances_at(?)", [as_of]
    ).fetchone()
    (unapplied,) = conn.execute(
        "SELECT coalesce(sum(unapplied_amount), 0) FROM reports.unapplied_payments_at(?)", [as_of]
    ).fetchone()
    assert customers_open == invoices_open
    assert customers_unapplied == unapplied
    assert customers_net == invoices_open - unapplied
    (aging_total,) = conn.execute(
        "SELECT coalesce(sum(total), 0) FROM reports.ar_aging_at(?)", [as_of]
    ).fetchone()
    assert aging_total == invoices_open


@settings(_PROPERTY, max_examples=15)
@given(data=books(), amount=_money, days_before=st.integers(1, 60))
def test_an_as_of_date_before_a_payment_excludes_it(scratch, data, amount, days_before):
    """Everything but what is measured over all synced documents whatever the as-of date: the
    comparison with the source's balance, and the base currency inferred from the rates."""
    paid = date(2026, 7, 1)
    as_of = paid - timedelta(days=days_before)
    queries = {
        "invoice_balances": "* EXCLUDE (expected_source_balance, balance_delta, base_currency)",
        "customer_balances": "* EXCLUDE (balance_delta, customer_balance_delta, base_currency)",
        "ar_aging": "* EXCLUDE (base_currency)",
        "unapplied_payments": "* EXCLUDE (base_currency)",
    }

    def snapshot(conn) -> dict[str, list[tuple[object, ...]]]:
        found = {
            name: conn.execute(
                f"SELECT {columns} FROM reports.{name}_at(?) ORDER BY ALL", [as_of]
            ).fetchall()
            for name, columns in queries.items()
        }
        found["exceptions"] = conn.execute(
            "SELECT * FROM reports.reconciliation_exceptions_at(?) "
            "WHERE kind <> 'balance_mismatch' ORDER BY ALL",
            [as_of],
        ).fetchall()
        return found

    conn = _empty(scratch)
    load_books(conn, data)
    before = snapshot(conn)
    payment(conn, "late", paid=paid, amount=amount, reference="LATE")
    for i in data["invoices"][:2]:
        apply(conn, "late", i[0], amount / 2)  # applied on the payment's date
    assert snapshot(conn) == before


def test_a_recorded_payment_moves_the_truth_and_the_reports_alike(conn):
    ledger = generate_ledger("globex", customers=10, invoices=80, payments=60)
    target = next(i for i in ledger.invoices if i.status == "open")
    ledger, _ = record_payment(
        ledger,
        customer_id=target.customer_id,
        applications=[(target.invoice_id, Decimal("10.00")), (10_000, Decimal("1.00"))],
        payment_date=ledger.as_of,
        at=datetime.combine(ledger.as_of, datetime.min.time(), UTC),
        unapplied=Decimal("2.50"),
        reference="REF-1",
    )
    load_ledger(conn, ledger)
    assert_reports_equal_truth(conn, ledger, ledger.as_of)
    assert found_exceptions(conn, ledger.as_of) == expected_exceptions(ledger)


def test_exception_kinds_are_the_ones_the_query_finds():
    sql = (Path(models.__file__).parent / "sql" / "reconciliation_exceptions.sql").read_text()
    found = set(re.findall(r"connection_id, (?:\w+\.)?source, '(\w+)'", sql))
    assert found == set(EXCEPTION_KINDS)


# --- money never vanishes, never appears from nowhere -----------------------------------------


def test_money_applied_to_an_invoice_voided_after_it_was_paid_is_the_payments_again(conn):
    ledger = generate_ledger("voided-after-paid", customers=8, invoices=60, payments=50)
    paid = next(i for i in ledger.invoices if i.status == "paid")
    posted = {p.payment_id for p in ledger.payments if p.status == "posted"}
    returned = {
        a.payment_id: a.amount_applied
        for a in ledger.applications
        if a.invoice_id == paid.invoice_id and a.payment_id in posted
    }
    before = payment_truth(ledger, ledger.as_of)
    voided = void_invoice(ledger, paid.invoice_id, at=datetime(2026, 10, 31, 12, tzinfo=UTC))

    after = payment_truth(voided, voided.as_of)
    assert {pid: after[pid].unapplied - before[pid].unapplied for pid in returned} == returned
    load_ledger(conn, voided)
    assert_reports_equal_truth(conn, voided, voided.as_of)
    assert found_exceptions(conn, voided.as_of) == expected_exceptions(voided)
    found = {
        (r["payment_id"], r["actual"])
        for r in rows(
            conn,
            "SELECT * FROM reports.reconciliation_exceptions_at(?) "
            "WHERE kind = 'applied_to_void_invoice'",
            [voided.as_of],
        )
    }
    assert found == {(str(pid), amount) for pid, amount in returned.items()}


def test_a_payment_applied_across_currencies_is_held_out_of_both_balances(conn):
    ledger = generate_ledger("across-currencies", customers=8, invoices=60, payments=50)
    target = next(i for i in ledger.invoices if i.status == "open")
    held, on_account = Decimal("20.00"), Decimal("5.00")
    foreign = next(
        c
        for c in ("EUR", "USD", "GBP")
        if all(
            d.currency_code != c
            for d in (*ledger.invoices, *ledger.payments)
            if d.customer_id == target.customer_id
        )
    )
    # The same payment, all of it applied across currencies, or with some left on account.
    fully, partly = (
        record_payment(
            ledger,
            customer_id=target.customer_id,
            applications=[(target.invoice_id, held)],
            payment_date=ledger.as_of,
            at=datetime.combine(ledger.as_of, datetime.min.time(), UTC),
            unapplied=unapplied,
            currency_code=foreign,
        )
        for unapplied in (Decimal(0), on_account)
    )
    payment = partly[1]
    fully, partly = fully[0], partly[0]

    for changed in (fully, partly):
        invoices = invoice_truth(changed, changed.as_of)
        assert invoices[target.invoice_id].open_balance == target.total_amount - (
            target.credits_applied + target.write_off_amount
        )
        assert payment_truth(changed, changed.as_of)[payment.payment_id].held == held
        conn = _empty(conn)
        load_ledger(conn, changed)
        assert_reports_equal_truth(conn, changed, changed.as_of)
        assert found_exceptions(conn, changed.as_of) == expected_exceptions(changed)
        mismatches = rows(
            conn,
            "SELECT * FROM reports.reconciliation_exceptions_at(?) "
            "WHERE kind = 'currency_mismatch'",
            [changed.as_of],
        )
        assert [(r["payment_id"], r["actual"]) for r in mismatches] == [
            (str(payment.payment_id), held)
        ]
    # All of the payment held: no balance row in a currency the customer never invoiced in;
    # what was not applied is cash on account in the payment's currency, as any payment's.
    assert (target.customer_id, foreign) not in customer_truth(fully, fully.as_of)
    assert customer_truth(partly, partly.as_of)[(target.customer_id, foreign)].unapplied_cash == (
        on_account
    )
