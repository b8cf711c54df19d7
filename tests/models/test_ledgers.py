"""The stored ledgers refreshed from what changed equal a rebuild, exactly.

Each change is made as normalization makes it: the connection's new rows of a canonical table
are computed, `log_changes` records the documents they change, and they replace the old ones.
After each refresh every ledger and report row is compared with the macros, which compute
everything from the canonical tables, and with a rebuild of the stored ledgers.
"""

from __future__ import annotations

import random
from collections.abc import Callable, Iterator
from datetime import date, timedelta
from pathlib import Path

import duckdb
import pytest

import models.reports
from models.ledgers import Refresh, forget_ledgers, log_changes, log_quarantine_changes
from models.reports import REPORTS, Aging, materialize_reports
from models.schema import CUSTOMERS, INVOICES, PAYMENT_APPLICATIONS, PAYMENTS
from models.warehouse import Warehouse
from sandbox.generator import generate_ledger
from tests.models.test_reports import CONNECTION, load_ledger

SEED = 20261206
TABLES = {t.name: t for t in (CUSTOMERS, INVOICES, PAYMENTS, PAYMENT_APPLICATIONS)}
LEDGERS = ("invoice_ledger", "payment_ledger", "held_applications")
GROUPED = ["customer_balances", "ar_aging", "reconciliation_exceptions"]  # rewritten in part
INCREMENTAL = ["incremental"] * len(LEDGERS)
REBUILT = ["rebuilt"] * len(LEDGERS)
AGED = ("invoice_balances", "ar_aging")  # the reports that take edges and basis
DEFAULT_AGING = Aging()
LEDGER = generate_ledger("harbour", customers=40, invoices=400, payments=350)
AS_OF = LEDGER.as_of

Statement = tuple[str, list[object]]
Change = Callable[[duckdb.DuckDBPyConnection, random.Random], None]


@pytest.fixture
def conn(tmp_path: Path) -> Iterator[duckdb.DuckDBPyConnection]:
    """A warehouse file holding a generated ledger, its reports materialized once."""
    warehouse = Warehouse(tmp_path / "warehouse.duckdb")
    warehouse.ensure_schema()
    with warehouse.connect() as connection:
        load_ledger(connection, LEDGER)
        materialize_reports(connection, AS_OF)
        yield connection


@pytest.fixture
def refreshes(monkeypatch: pytest.MonkeyPatch) -> list[Refresh]:
    """How each stored ledger was refreshed, in order."""
    seen: list[Refresh] = []
    refresh = models.reports.refresh_ledger

    def recording(*args: object, **kwargs: object) -> Refresh:
        seen.append(refresh(*args, **kwargs))  # type: ignore[arg-type]
        return seen[-1]

    monkeypatch.setattr(models.reports, "refresh_ledger", recording)
    return seen


@pytest.fixture
def scoped(monkeypatch: pytest.MonkeyPatch) -> list[str]:
    """The grouped reports rewritten for the touched customers alone, in order."""
    seen: list[str] = []
    rewrite = models.reports._rewrite_scope

    def recording(conn: duckdb.DuckDBPyConnection, name: str, params: dict[str, object]) -> int:
        seen.append(name)
        return rewrite(conn, name, params)

    monkeypatch.setattr(models.reports, "_rewrite_scope", recording)
    return seen


# --- changes, made as normalization makes them ----------------------------------------------


def rebuild(conn: duckdb.DuckDBPyConnection, table: str, *statements: Statement) -> None:
    """Replace the connection's rows of canonical.<table> with themselves changed by the
    statements (run against `next_rows`), recording the changed documents first."""
    conn.execute(
        "CREATE OR REPLACE TEMP TABLE next_rows AS SELECT * EXCLUDE (connection_id, source) "
        f"FROM canonical.{table} WHERE connection_id = ?",
        [CONNECTION],
    )
    for sql, params in statements:
        conn.execute(sql, params)
    log_changes(conn, TABLES[table], CONNECTION, "temp.next_rows")
    conn.execute(f"DELETE FROM canonical.{table} WHERE connection_id = ?", [CONNECTION])
    conn.execute(
        f"INSERT INTO canonical.{table} BY NAME "
        "SELECT ? AS connection_id, 'ledger' AS source, * FROM next_rows",
        [CONNECTION],
    )


def requarantine(conn: duckdb.DuckDBPyConnection, *statements: Statement) -> None:
    """Replace the connection's quarantine with itself changed by the statements (run against
    `next_rejects`), recording whose quarantined documents changed first."""
    conn.execute(
        "CREATE OR REPLACE TEMP TABLE next_rejects AS FROM canonical.rejected_records "
        "WHERE connection_id = ?",
        [CONNECTION],
    )
    for sql, params in statements:
        conn.execute(sql, params)
    log_quarantine_changes(conn, CONNECTION, "temp.next_rejects")
    conn.execute("DELETE FROM canonical.rejected_records WHERE connection_id = ?", [CONNECTION])
    conn.execute("INSERT INTO canonical.rejected_records FROM next_rejects")


def pick(conn: duckdb.DuckDBPyConnection, rng: random.Random, sql: str) -> str:
    ids = sorted(row[0] for row in conn.execute(sql).fetchall())
    return rng.choice(ids)


def any_invoice(conn: duckdb.DuckDBPyConnection, rng: random.Random) -> str:
    return pick(conn, rng, "SELECT invoice_id FROM canonical.invoices")


def any_payment(conn: duckdb.DuckDBPyConnection, rng: random.Random) -> str:
    return pick(conn, rng, "SELECT payment_id FROM canonical.payments")


def any_customer(conn: duckdb.DuckDBPyConnection, rng: random.Random) -> str:
    return pick(conn, rng, "SELECT customer_id FROM canonical.customers")


def new_invoice(conn: duckdb.DuckDBPyConnection, rng: random.Random) -> None:
    copied, new_id = any_invoice(conn, rng), f"new-{rng.randrange(10**9)}"
    rebuild(
        conn,
        "invoices",
        (
            "INSERT INTO next_rows SELECT * REPLACE (? AS invoice_id, 'open' AS status, "
            "total_amount + 10 AS total_amount) FROM next_rows WHERE invoice_id = ?",
            [new_id, copied],
        ),
    )


def changed_amount(conn: duckdb.DuckDBPyConnection, rng: random.Random) -> None:
    invoice_id = any_invoice(conn, rng)
    rebuild(
        conn,
        "invoices",
        (
            "UPDATE next_rows SET total_amount = total_amount + 12.34 WHERE invoice_id = ?",
            [invoice_id],
        ),
    )


def new_application(conn: duckdb.DuckDBPyConnection, rng: random.Random) -> None:
    payment_id, invoice_id = any_payment(conn, rng), any_invoice(conn, rng)
    rebuild(
        conn,
        "payment_applications",
        (
            "INSERT INTO next_rows (application_id, payment_id, invoice_id, amount_applied) "
            "VALUES (?, ?, ?, 3.21)",
            [f"new-{rng.randrange(10**9)}", payment_id, invoice_id],
        ),
    )


def removed_application(conn: duckdb.DuckDBPyConnection, rng: random.Random) -> None:
    application_id = pick(conn, rng, "SELECT application_id FROM canonical.payment_applications")
    rebuild(
        conn,
        "payment_applications",
        ("DELETE FROM next_rows WHERE application_id = ?", [application_id]),
    )


def moved_application(conn: duckdb.DuckDBPyConnection, rng: random.Random) -> None:
    """An application now from another payment to another invoice."""
    application_id = pick(conn, rng, "SELECT application_id FROM canonical.payment_applications")
    payment_id, invoice_id = any_payment(conn, rng), any_invoice(conn, rng)
    rebuild(
        conn,
        "payment_applications",
        (
            "UPDATE next_rows SET payment_id = ?, invoice_id = ? WHERE application_id = ?",
            [payment_id, invoice_id, application_id],
        ),
    )


def void_invoice(conn: duckdb.DuckDBPyConnection, rng: random.Random) -> None:
    invoice_id = any_invoice(conn, rng)
    rebuild(
        conn,
        "invoices",
        ("UPDATE next_rows SET status = 'void' WHERE invoice_id = ?", [invoice_id]),
    )


def vanished_invoice(conn: duckdb.DuckDBPyConnection, rng: random.Random) -> None:
    invoice_id = any_invoice(conn, rng)
    rebuild(
        conn,
        "invoices",
        (
            "UPDATE next_rows SET deleted_at = TIMESTAMPTZ '2026-07-01 00:00:00+00' "
            "WHERE invoice_id = ?",
            [invoice_id],
        ),
    )


def quarantined_invoice(conn: duckdb.DuckDBPyConnection, rng: random.Random) -> None:
    """Gone from the canonical table (its record no longer maps)."""
    invoice_id = any_invoice(conn, rng)
    rebuild(conn, "invoices", ("DELETE FROM next_rows WHERE invoice_id = ?", [invoice_id]))


def quarantined_invoice_held_back(conn: duckdb.DuckDBPyConnection, rng: random.Random) -> None:
    """An open invoice no longer maps: quarantine holds back what it leaves open."""
    invoice_id = pick(
        conn,
        rng,
        "SELECT invoice_id FROM canonical.invoices WHERE status NOT IN ('draft', 'void') "
        "AND invoice_id IN (SELECT invoice_id FROM canonical.payment_applications)",
    )
    _quarantine_invoice(conn, invoice_id)


def _quarantine_invoice(conn: duckdb.DuckDBPyConnection, invoice_id: str) -> None:
    quarantined = (
        "INSERT INTO next_rejects SELECT connection_id, source, 'invoices', invoice_id, "
        "'total_amount is not a number', NULL, now(), now(), 'invoice', invoice_id, "
        "customer_id, currency_code, issue_date, total_amount - credits_applied - "
        "write_off_amount FROM canonical.invoices WHERE connection_id = ? AND invoice_id = ?"
    )
    requarantine(conn, (quarantined, [CONNECTION, invoice_id]))
    rebuild(conn, "invoices", ("DELETE FROM next_rows WHERE invoice_id = ?", [invoice_id]))


def void_payment(conn: duckdb.DuckDBPyConnection, rng: random.Random) -> None:
    payment_id = any_payment(conn, rng)
    rebuild(
        conn,
        "payments",
        ("UPDATE next_rows SET status = 'void' WHERE payment_id = ?", [payment_id]),
    )


def quarantined_payment(conn: duckdb.DuckDBPyConnection, rng: random.Random) -> None:
    payment_id = any_payment(conn, rng)
    rebuild(conn, "payments", ("DELETE FROM next_rows WHERE payment_id = ?", [payment_id]))


def new_payment(conn: duckdb.DuckDBPyConnection, rng: random.Random) -> None:
    copied, new_id = any_payment(conn, rng), f"new-{rng.randrange(10**9)}"
    rebuild(
        conn,
        "payments",
        (
            "INSERT INTO next_rows SELECT * REPLACE (? AS payment_id, 'posted' AS status) "
            "FROM next_rows WHERE payment_id = ?",
            [new_id, copied],
        ),
    )


def payment_redated(conn: duckdb.DuckDBPyConnection, rng: random.Random) -> None:
    """A payment moved across the as-of date, one way or the other."""
    payment_id = any_payment(conn, rng)
    days = rng.choice([-40, 40])
    rebuild(
        conn,
        "payments",
        (
            "UPDATE next_rows SET payment_date = payment_date + ?::INTEGER WHERE payment_id = ?",
            [days, payment_id],
        ),
    )


def payment_in_other_currency(conn: duckdb.DuckDBPyConnection, rng: random.Random) -> None:
    payment_id = any_payment(conn, rng)
    rebuild(
        conn,
        "payments",
        (
            "UPDATE next_rows SET currency_code = 'XTS', exchange_rate = 0.5 WHERE payment_id = ?",
            [payment_id],
        ),
    )


def renamed_customer(conn: duckdb.DuckDBPyConnection, rng: random.Random) -> None:
    customer_id = any_customer(conn, rng)
    rebuild(
        conn,
        "customers",
        (
            "UPDATE next_rows SET name = name || ' Ltd', source_balance = source_balance + 1 "
            "WHERE customer_id = ?",
            [customer_id],
        ),
    )


def quarantined_customer(conn: duckdb.DuckDBPyConnection, rng: random.Random) -> None:
    customer_id = any_customer(conn, rng)
    rebuild(conn, "customers", ("DELETE FROM next_rows WHERE customer_id = ?", [customer_id]))


def invoice_moves_customer(conn: duckdb.DuckDBPyConnection, rng: random.Random) -> None:
    invoice_id, customer_id = any_invoice(conn, rng), any_customer(conn, rng)
    rebuild(
        conn,
        "invoices",
        ("UPDATE next_rows SET customer_id = ? WHERE invoice_id = ?", [customer_id, invoice_id]),
    )


def payment_moves_customer(conn: duckdb.DuckDBPyConnection, rng: random.Random) -> None:
    payment_id, customer_id = any_payment(conn, rng), any_customer(conn, rng)
    rebuild(
        conn,
        "payments",
        ("UPDATE next_rows SET customer_id = ? WHERE payment_id = ?", [customer_id, payment_id]),
    )


CHANGES: dict[str, Change] = {
    change.__name__: change
    for change in (
        new_invoice,
        changed_amount,
        new_application,
        removed_application,
        moved_application,
        void_invoice,
        vanished_invoice,
        quarantined_invoice,
        quarantined_invoice_held_back,
        void_payment,
        quarantined_payment,
        new_payment,
        payment_redated,
        payment_in_other_currency,
        renamed_customer,
        quarantined_customer,
        invoice_moves_customer,
        payment_moves_customer,
    )
}


# --- comparing with a rebuild ---------------------------------------------------------------


def stored(conn: duckdb.DuckDBPyConnection) -> dict[str, list[tuple[object, ...]]]:
    tables = [f"ledgers.{ledger}" for ledger in LEDGERS] + [f"reports.{r}" for r in REPORTS]
    return {table: conn.execute(f"FROM {table} ORDER BY ALL").fetchall() for table in tables}


def computed(
    conn: duckdb.DuckDBPyConnection, as_of: date, aging: Aging
) -> dict[str, list[tuple[object, ...]]]:
    """What the macros compute from the canonical tables, in the stored tables' names."""
    aged = ", edges := $edges, basis := $basis"
    params = {"as_of": as_of, **aging.params()}
    sources = {
        "ledgers.invoice_ledger": f"reports.invoice_ledger_at($as_of{aged})",
        "ledgers.payment_ledger": "reports.payment_ledger_at($as_of)",
        "ledgers.held_applications": "reports.held_applications_at($as_of)",
    } | {f"reports.{r}": f"reports.{r}_at($as_of{aged if r in AGED else ''})" for r in REPORTS}
    return {
        table: conn.execute(
            f"FROM {source} ORDER BY ALL", {k: v for k, v in params.items() if f"${k}" in source}
        ).fetchall()
        for table, source in sources.items()
    }


def assert_equal_to_a_rebuild(
    conn: duckdb.DuckDBPyConnection, as_of: date = AS_OF, aging: Aging = DEFAULT_AGING
) -> None:
    refreshed = stored(conn)
    assert refreshed == computed(conn, as_of, aging)
    forget_ledgers(conn)
    materialize_reports(conn, as_of, aging)
    assert stored(conn) == refreshed


# --- tests ----------------------------------------------------------------------------------


@pytest.mark.parametrize("kind", CHANGES)
def test_a_refresh_after_each_kind_of_change_equals_a_rebuild(
    conn, refreshes, scoped, kind
) -> None:
    rng = random.Random(SEED)
    for _ in range(3):
        CHANGES[kind](conn, rng)
    materialize_reports(conn, AS_OF)
    assert refreshes == INCREMENTAL
    assert scoped == GROUPED
    assert_equal_to_a_rebuild(conn)


def test_random_changes_refreshed_one_after_another_equal_a_rebuild(
    conn, refreshes, scoped
) -> None:
    print(f"seed {SEED}")
    rng = random.Random(SEED)
    for _ in range(8):
        for _ in range(rng.randrange(1, 6)):
            rng.choice(list(CHANGES.values()))(conn, rng)
        materialize_reports(conn, AS_OF)
        assert refreshes[-3:] == INCREMENTAL
        assert scoped[-3:] == GROUPED
        assert stored(conn) == computed(conn, AS_OF, DEFAULT_AGING)
    assert_equal_to_a_rebuild(conn)


def test_what_quarantine_holds_back_follows_payments_of_other_customers(
    conn, scoped, refreshes
) -> None:
    """An invoice in quarantine is sent again with another total, paid by another customer's
    payment, which is then dated after as_of, and maps again: the invoice's customer's rows
    follow each step."""
    invoice_id, customer_id, currency = conn.execute(
        "SELECT invoice_id, customer_id, currency_code FROM canonical.invoices "
        "WHERE status NOT IN ('draft', 'void') ORDER BY invoice_id LIMIT 1"
    ).fetchone()
    payment_id = conn.execute(
        "SELECT payment_id FROM canonical.payments WHERE customer_id <> ? AND currency_code = ? "
        "AND status = 'posted' AND payment_date <= ? ORDER BY payment_id LIMIT 1",
        [customer_id, currency, AS_OF],
    ).fetchone()[0]
    conn.execute(
        "CREATE TEMP TABLE original_invoice AS FROM canonical.invoices WHERE invoice_id = ?",
        [invoice_id],
    )
    _quarantine_invoice(conn, invoice_id)
    materialize_reports(conn, AS_OF)
    resent = "UPDATE next_rejects SET amount = amount + 100 WHERE record_id = ?"
    requarantine(conn, (resent, [invoice_id]))  # still broken, with another total
    materialize_reports(conn, AS_OF)
    assert stored(conn) == computed(conn, AS_OF, DEFAULT_AGING)
    paid = (
        "INSERT INTO next_rows (application_id, payment_id, invoice_id, amount_applied) "
        "VALUES ('paid-by-another', ?, ?, 7.00)"
    )
    rebuild(conn, "payment_applications", (paid, [payment_id, invoice_id]))
    materialize_reports(conn, AS_OF)
    assert stored(conn) == computed(conn, AS_OF, DEFAULT_AGING)
    later = "UPDATE next_rows SET payment_date = ?::DATE + 1 WHERE payment_id = ?"
    rebuild(conn, "payments", (later, [AS_OF, payment_id]))
    materialize_reports(conn, AS_OF)
    assert stored(conn) == computed(conn, AS_OF, DEFAULT_AGING)
    requarantine(conn, ("DELETE FROM next_rejects WHERE record_id = ?", [invoice_id]))
    restored = (
        "INSERT INTO next_rows SELECT * EXCLUDE (connection_id, source) FROM original_invoice"
    )
    rebuild(conn, "invoices", (restored, []))
    materialize_reports(conn, AS_OF)
    assert refreshes == INCREMENTAL * 5
    assert scoped == GROUPED * 5
    assert_equal_to_a_rebuild(conn)


def test_nothing_changed_changes_nothing(conn, refreshes) -> None:
    before = stored(conn)
    materialize_reports(conn, AS_OF)
    assert refreshes == INCREMENTAL
    assert stored(conn) == before


def test_another_date_or_aging_rebuilds_what_depends_on_it(conn, refreshes) -> None:
    earlier, aging = AS_OF - timedelta(days=45), Aging((10, 20, 45, 200), "issue_date")
    changed_amount(conn, random.Random(SEED))
    materialize_reports(conn, AS_OF, aging)
    # Only the invoice ledger ages.
    assert refreshes == ["rebuilt", "incremental", "incremental"]
    materialize_reports(conn, earlier, aging)
    assert refreshes[3:] == REBUILT
    assert_equal_to_a_rebuild(conn, earlier, aging)


def test_a_moved_base_currency_rebuilds(conn, refreshes) -> None:
    rebuild(conn, "invoices", ("UPDATE next_rows SET exchange_rate = 1, currency_code = 'ZZZ'", []))
    materialize_reports(conn, AS_OF)
    assert refreshes == REBUILT
    assert_equal_to_a_rebuild(conn)


def test_a_ledger_the_report_does_not_write_keeps_its_changes_for_later(conn, refreshes) -> None:
    rng = random.Random(SEED)
    void_payment(conn, rng)
    materialize_reports(conn, AS_OF, names=["invoice_balances"])
    changed_amount(conn, rng)
    materialize_reports(conn, AS_OF)
    assert refreshes == ["incremental", *INCREMENTAL]
    assert_equal_to_a_rebuild(conn)


VANISHED = "TIMESTAMPTZ '2026-07-01 00:00:00+00'"
UNAPPLIED_PAYMENT = (
    "SELECT payment_id FROM canonical.payments WHERE payment_date <= ? "
    "AND payment_id NOT IN (SELECT payment_id FROM canonical.payment_applications) "
    "ORDER BY payment_id LIMIT 1"
)
ISSUED_INVOICE = (
    "SELECT invoice_id FROM canonical.invoices WHERE issue_date <= ? ORDER BY invoice_id LIMIT 1"
)
# Two changes, each refreshed, to a document no ledger holds a row of after the first: only
# reconciliation_exceptions (record_vanished) shows it.
WITHOUT_LEDGER_ROWS = {
    "a void payment vanishes": (
        UNAPPLIED_PAYMENT,
        ("payments", "UPDATE next_rows SET status = 'void' WHERE payment_id = ?"),
        ("payments", f"UPDATE next_rows SET deleted_at = {VANISHED} WHERE payment_id = ?"),
    ),
    "a vanished void payment comes back": (
        UNAPPLIED_PAYMENT,
        (
            "payments",
            f"UPDATE next_rows SET status = 'void', deleted_at = {VANISHED} WHERE payment_id = ?",
        ),
        ("payments", "UPDATE next_rows SET deleted_at = NULL WHERE payment_id = ?"),
    ),
    "a vanished invoice moves to another customer": (
        ISSUED_INVOICE,
        ("invoices", f"UPDATE next_rows SET deleted_at = {VANISHED} WHERE invoice_id = ?"),
        (
            "invoices",
            "UPDATE next_rows SET total_amount = total_amount + 1, customer_id = "
            "(SELECT min(customer_id) FROM next_customers WHERE customer_id <> "
            "(SELECT customer_id FROM next_rows WHERE invoice_id = $1)) WHERE invoice_id = $1",
        ),
    ),
}


@pytest.mark.parametrize("case", WITHOUT_LEDGER_ROWS)
def test_a_document_without_ledger_rows_still_moves_its_findings(conn, scoped, case) -> None:
    query, *steps = WITHOUT_LEDGER_ROWS[case]
    (document_id,) = conn.execute(query, [AS_OF]).fetchone()
    conn.execute("CREATE OR REPLACE TEMP TABLE next_customers AS FROM canonical.customers")
    for table, sql in steps:
        rebuild(conn, table, (sql, [document_id]))
        materialize_reports(conn, AS_OF)
        assert stored(conn) == computed(conn, AS_OF, DEFAULT_AGING)
    assert scoped == GROUPED * 2
    assert_equal_to_a_rebuild(conn)


def test_a_report_written_from_temporary_ledgers_is_next_written_whole(conn, scoped) -> None:
    """Written alone, for another date, customer_balances reads ledgers it computes for itself:
    its next write cannot start from those rows."""
    materialize_reports(conn, AS_OF - timedelta(days=30), names=["customer_balances"])
    changed_amount(conn, random.Random(SEED))
    materialize_reports(conn, AS_OF)
    assert scoped == ["ar_aging", "reconciliation_exceptions"]
    assert_equal_to_a_rebuild(conn)


def test_changes_are_recorded_only_while_ledgers_are_stored(tmp_path) -> None:
    warehouse = Warehouse(tmp_path / "warehouse.duckdb")
    warehouse.ensure_schema()
    with warehouse.connect() as connection:
        load_ledger(connection, generate_ledger("harbour", customers=5, invoices=20, payments=10))
        changed_amount(connection, random.Random(SEED))
        assert not connection.execute(
            "SELECT count(*) FROM duckdb_tables() WHERE schema_name = 'ledgers'"
        ).fetchone()[0]
        materialize_reports(connection, AS_OF)
        changed_amount(connection, random.Random(SEED))
        assert connection.execute("SELECT count(*) FROM ledgers.changes").fetchone() == (1,)
        materialize_reports(connection, AS_OF)
        assert connection.execute("SELECT count(*) FROM ledgers.changes").fetchone() == (0,)
