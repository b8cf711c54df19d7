"""Cash application suggestions against the generator's hidden truth, case type by case type, and
their invariants; reference parsing on hand-written rows."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import date
from decimal import Decimal
from pathlib import Path

import duckdb
import pytest

from models.cash_application import CashApplicationSettings, suggest_cash_applications
from models.reports import install_report_macros
from models.warehouse import Warehouse
from sandbox.canonical_rows import load_canonical
from sandbox.cash_cases import CASE_MIX
from sandbox.generator import generate_ledger
from sandbox.ledger import CashCase, CashCaseKind, Ledger

CONNECTION = "books"
# Kinds whose true application the search always ranks first on this ledger; the others have
# a rival as good as the truth (ambiguous), or sometimes one that looks better.
ALWAYS_FIRST: tuple[CashCaseKind, ...] = (
    "exact_single",
    "reference_only",
    "no_remittance",
    "several_exact",
    "partial",
    "early_discount",
    "related_customer",
    "other_currency",
    "issued_later",
)


def _warehouse(path: Path, ledger: Ledger) -> duckdb.DuckDBPyConnection:
    warehouse = Warehouse(path)
    warehouse.ensure_schema()
    conn = duckdb.connect(str(path))
    load_canonical(conn, ledger, CONNECTION)
    install_report_macros(conn)
    return conn


@pytest.fixture(scope="module")
def ledger() -> Ledger:
    return generate_ledger("cash-test", customers=30, invoices=300, payments=200, cash_cases=88)


@pytest.fixture(scope="module")
def suggested(
    ledger: Ledger, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[duckdb.DuckDBPyConnection]:
    conn = _warehouse(tmp_path_factory.mktemp("cash") / "w.duckdb", ledger)
    suggest_cash_applications(conn, ledger.as_of)
    yield conn
    conn.close()


def _candidates(conn: duckdb.DuckDBPyConnection, payment_id: int) -> list[dict[str, object]]:
    cursor = conn.execute(
        "SELECT * FROM reports.cash_application_suggestions "
        "WHERE payer_kind = 'payment' AND payment_id = ? ORDER BY rank",
        [str(payment_id)],
    )
    names = [d[0] for d in cursor.description]
    return [dict(zip(names, row, strict=True)) for row in cursor.fetchall()]


def _applies(candidate: dict[str, object]) -> set[tuple[str, Decimal]]:
    return set(zip(candidate["invoice_ids"], candidate["settles"], strict=True))  # type: ignore[call-overload]


def _truth(case: CashCase) -> set[tuple[str, Decimal]]:
    return {(str(i), amount) for i, amount in case.applications}


def _cases(ledger: Ledger, kind: CashCaseKind) -> list[CashCase]:
    cases = [c for c in ledger.cash_cases if c.kind == kind]
    assert len(cases) == 4 * CASE_MIX[kind]
    return cases


@pytest.mark.parametrize("kind", ALWAYS_FIRST)
def test_the_top_suggestion_is_the_hidden_application_exactly(
    ledger: Ledger, suggested: duckdb.DuckDBPyConnection, kind: CashCaseKind
) -> None:
    for case in _cases(ledger, kind):
        top = _candidates(suggested, case.payment_id)[0]
        assert _applies(top) == _truth(case), (case, top["evidence"])
        assert top["adjustment"] == case.adjustment
        assert top["evidence"]


@pytest.mark.parametrize("kind", ["bank_charge", "overpayment"])
def test_the_hidden_application_is_among_the_candidates(
    ledger: Ledger, suggested: duckdb.DuckDBPyConnection, kind: CashCaseKind
) -> None:
    for case in _cases(ledger, kind):
        found = [c for c in _candidates(suggested, case.payment_id) if _applies(c) == _truth(case)]
        assert len(found) == 1, case
        assert found[0]["adjustment"] == case.adjustment


def test_an_ambiguous_payment_gets_both_invoices_and_no_confidence_it_cannot_have(
    ledger: Ledger, suggested: duckdb.DuckDBPyConnection
) -> None:
    for case in _cases(ledger, "ambiguous"):
        first, second = _candidates(suggested, case.payment_id)[:2]
        assert _truth(case) in (_applies(first), _applies(second))
        assert first["rivals"] == second["rivals"] == 1
        assert first["band"] != "auto" and Decimal("0.3") < first["confidence"] < Decimal("0.7")


def test_evidence_columns_say_what_the_case_is(
    ledger: Ledger, suggested: duckdb.DuckDBPyConnection
) -> None:
    expected = {
        "exact_single": ("named", "exact", "same"),
        "no_remittance": ("none", "exact", "same"),
        "several_exact": ("none", "subset", "same"),
        "early_discount": ("none", "discount", "same"),
        "other_currency": (None, "converted", "same"),
        "issued_later": ("none", "exact", "same"),
    }
    for kind, (reference, amount, customer) in expected.items():
        for case in _cases(ledger, kind):  # type: ignore[arg-type]
            top = _candidates(suggested, case.payment_id)[0]
            assert reference in (None, top["reference_match"])
            assert (top["amount_match"], top["customer_match"]) == (amount, customer)
    for case in _cases(ledger, "related_customer"):
        assert _candidates(suggested, case.payment_id)[0]["customer_match"] in ("related", "other")


def test_suggestions_keep_the_invariants(
    ledger: Ledger, suggested: duckdb.DuckDBPyConnection
) -> None:
    broken = suggested.execute(
        """
        WITH lines AS (
            SELECT s.*, unnest(invoice_ids) AS invoice_id, unnest(settles) AS settle
            FROM reports.cash_application_suggestions s
        )
        SELECT 'over open balance', l.payment_id, l.rank FROM lines l
        JOIN reports.invoice_ledger_at(?) i
          ON i.connection_id = l.connection_id AND i.invoice_id = l.invoice_id
        WHERE l.settle <= 0 OR l.settle > i.open_balance
        UNION ALL
        SELECT 'over unapplied', payment_id, rank FROM reports.cash_application_suggestions
        WHERE payment_amount_used > unapplied_amount OR left_unapplied < 0
        UNION ALL
        SELECT 'invoice twice', payment_id, rank FROM reports.cash_application_suggestions
        WHERE len(invoice_ids) <> len(list_distinct(invoice_ids))
        UNION ALL
        SELECT 'auto below first', payment_id, rank FROM reports.cash_application_suggestions
        WHERE band = 'auto' AND rank <> 1
        """,
        [ledger.as_of],
    ).fetchall()
    assert broken == []
    ranks = suggested.execute(
        "SELECT payment_id, list(rank ORDER BY rank) FROM reports.cash_application_suggestions "
        "GROUP BY payment_id"
    ).fetchall()
    assert all(r == list(range(1, len(r) + 1)) for _, r in ranks)


def test_every_unapplied_payment_is_suggested_for_and_nothing_is_written_back(
    ledger: Ledger, tmp_path: Path
) -> None:
    conn = _warehouse(tmp_path / "w.duckdb", ledger)
    canonical = "SELECT * FROM canonical.{} ORDER BY ALL"
    tables = ("customers", "invoices", "payments", "payment_applications")
    before = {t: conn.execute(canonical.format(t)).fetchall() for t in tables}
    run = suggest_cash_applications(conn, ledger.as_of)
    assert {t: conn.execute(canonical.format(t)).fetchall() for t in tables} == before
    unapplied = conn.execute(
        "SELECT count(*) FROM reports.unapplied_payments_at(?) WHERE unapplied_amount > 0",
        [ledger.as_of],
    ).fetchone()
    # Every payment with cash to apply whose customer has an open invoice gets a suggestion.
    assert run.payments <= unapplied[0]  # type: ignore[index]
    assert run.payments >= len(ledger.cash_cases)
    assert run.subset_targets_skipped == 0


def test_an_earlier_as_of_date_knows_nothing_of_later_payments(
    ledger: Ledger, suggested: duckdb.DuckDBPyConnection
) -> None:
    early = date(2026, 6, 30)
    suggest_cash_applications(suggested, early)
    try:
        late = suggested.execute(
            "SELECT count(*) FROM reports.cash_application_suggestions "
            "WHERE payment_date > ? OR as_of <> ?",
            [early, early],
        ).fetchone()
        assert late == (0,)
    finally:
        suggest_cash_applications(suggested, ledger.as_of)


# --- references, on hand-written rows ---------------------------------------------------------


def _hand_written(
    tmp_path: Path, reference: str | None, amount: str = "123.45", *, credit: bool = False
) -> dict[str, object]:
    """One customer with invoices INV-000042 (100.00) and INV-000043 (200.00), and a payment
    (or, with `credit`, a credit note) of `amount`."""
    warehouse = Warehouse(tmp_path / "w.duckdb")
    warehouse.ensure_schema()
    conn = duckdb.connect(str(warehouse.path))
    conn.execute(
        "INSERT INTO canonical.customers (connection_id, source, customer_id, name, "
        "currency_code) VALUES ('c', 'test', 'k', 'Kestrel Foods', 'USD')"
    )
    documents = [("42", "open", "100.00"), ("43", "open", "200.00")]
    for number, status, total in documents + ([("CN1", "credit_note", f"-{amount}")] * credit):
        conn.execute(
            "INSERT INTO canonical.invoices (connection_id, source, invoice_id, invoice_number, "
            "customer_id, status, issue_date, due_date, currency_code, exchange_rate, "
            "total_amount, credits_applied, write_off_amount) VALUES ('c', 'test', ?, ?, 'k', "
            "?, DATE '2026-05-01', DATE '2026-05-31', 'USD', 1, ?, 0, 0)",
            [number, f"INV-0000{number}", status, total],
        )
    if not credit:
        conn.execute(
            "INSERT INTO canonical.payments (connection_id, source, payment_id, customer_id, "
            "payment_date, currency_code, exchange_rate, amount, bank_charges, reference, status) "
            "VALUES ('c', 'test', 'p', 'k', DATE '2026-06-01', 'USD', 1, ?, 0, ?, 'posted')",
            [amount, reference],
        )
    install_report_macros(conn)
    suggest_cash_applications(conn, date(2026, 6, 30))
    cursor = conn.execute("SELECT * FROM reports.cash_application_suggestions WHERE rank = 1")
    names = [d[0] for d in cursor.description]
    (row,) = cursor.fetchall()
    conn.close()
    return dict(zip(names, row, strict=True))


@pytest.mark.parametrize(
    ("reference", "match"),
    [
        ("INV-000042", "named"),
        ("inv 42", "named"),
        ("INV000042", "named"),
        ("Invoice #42", "named"),
        ("inv/0042", "named"),
        ("payment for INV-42, thanks", "named"),
        ("42", "digits"),
        ("#000042", "digits"),
    ],
)
def test_references_name_invoices_however_they_are_typed(
    tmp_path: Path, reference: str, match: str
) -> None:
    top = _hand_written(tmp_path, reference)
    assert (top["invoice_numbers"], top["reference_match"]) == (["INV-000042"], match)
    assert top["amount_match"] == "over_small" and top["left_unapplied"] == Decimal("23.45")


@pytest.mark.parametrize("reference", ["TRF-0000042", "CHQ 42", "PAY-42"])
def test_a_reference_with_another_prefix_names_nothing(tmp_path: Path, reference: str) -> None:
    top = _hand_written(tmp_path, reference, amount="50.00")
    assert top["reference_match"] == "none" and top["amount_match"] == "oldest_first"
    assert top["invoice_numbers"] == ["INV-000042"] and top["settles"] == [Decimal("50.00")]


def test_a_reference_naming_several_invoices_that_sum_to_the_amount(tmp_path: Path) -> None:
    top = _hand_written(tmp_path, "INV-000042 + INV 43", amount="300.00")
    assert top["invoice_numbers"] == ["INV-000042", "INV-000043"]
    assert (top["amount_match"], top["reference_match"]) == ("subset", "named")


def test_an_open_credit_note_is_applied_like_cash(tmp_path: Path) -> None:
    top = _hand_written(tmp_path, None, amount="200.00", credit=True)
    assert (top["payer_kind"], top["payment_id"], top["unapplied_amount"]) == (
        "credit_note",
        "CN1",
        Decimal("200.00"),
    )
    assert top["invoice_numbers"] == ["INV-000043"] and top["amount_match"] == "exact"


def test_settings_are_checked() -> None:
    with pytest.raises(ValueError, match="auto_min_confidence"):
        CashApplicationSettings(auto_min_confidence=Decimal("1.5"))
