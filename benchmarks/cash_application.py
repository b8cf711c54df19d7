"""Cash application measured against generated ledgers whose true applications are hidden.

    python -m benchmarks.cash_application              # accuracy on the evaluation seeds
    python -m benchmarks.cash_application --calibrate  # refit the calibration on the training seeds
    python -m benchmarks.cash_application --speed      # 100k unapplied payments, 1M open invoices

Each seed is one ledger (`generate_ledger("cash-<split>-<n>", cash_cases=...)`) loaded straight
into canonical tables; suggestions are computed as of its as_of date and compared with
`Ledger.cash_cases`. A suggestion is right when it names exactly the true invoices with exactly
the true amounts settled. Training seeds (`cash-train-*`) fit `calibration.csv`; the figures are
measured on evaluation seeds (`cash-eval-*`), never used for fitting. The payments the generator
leaves on account (no invoice to find) count too: any candidate for them is wrong.
"""

from __future__ import annotations

import argparse
import sys
import tempfile
import time
from collections import Counter, defaultdict
from dataclasses import dataclass, field
from datetime import UTC, datetime
from decimal import Decimal
from pathlib import Path

import duckdb

from models.cash_application import CashApplicationSettings, suggest_cash_applications
from models.cash_application.calibration import CALIBRATION_FILE, write_calibration
from models.reports import install_report_macros
from models.warehouse import Warehouse
from sandbox.canonical_rows import load_canonical
from sandbox.cash_cases import CASE_MIX
from sandbox.generator import generate_ledger
from sandbox.ledger import Ledger

CONNECTION = "books"
LEDGER_SIZE = {"customers": 40, "invoices": 500, "payments": 300, "cash_cases": 110}
SPEED_SIZE = {"customers": 100_000, "invoices": 1_000_000, "payments": 0, "cash_cases": 100_000}
_CALIBRATION = Path(__file__).resolve().parent.parent / "models/cash_application" / CALIBRATION_FILE
_BINS = (Decimal("0.5"), Decimal("0.8"), Decimal("0.9"), Decimal("0.95"), Decimal("0.99"))


@dataclass
class Tally:
    """Counts per case kind ("on_account" for payments with no true application)."""

    cases: Counter[str] = field(default_factory=Counter)
    covered: Counter[str] = field(default_factory=Counter)
    top1: Counter[str] = field(default_factory=Counter)
    auto: Counter[str] = field(default_factory=Counter)
    auto_right: Counter[str] = field(default_factory=Counter)
    bins: dict[int, list[tuple[Decimal, bool]]] = field(default_factory=lambda: defaultdict(list))
    outcomes: list[tuple[str, bool]] = field(default_factory=list)


def warehouse_of(directory: Path, ledger: Ledger) -> duckdb.DuckDBPyConnection:
    """A fresh warehouse file holding the ledger's canonical rows and the report macros."""
    warehouse = Warehouse(directory / f"{ledger.account}.duckdb")
    warehouse.ensure_schema()
    conn = duckdb.connect(str(warehouse.path))
    conn.execute("SET TimeZone = 'UTC'")
    load_canonical(conn, ledger, CONNECTION)
    install_report_macros(conn)
    return conn


def truth_of(ledger: Ledger) -> dict[str, tuple[str, frozenset[tuple[str, Decimal]]]]:
    """payment_id -> (case kind, the true (invoice_id, amount settled) pairs)."""
    return {
        str(case.payment_id): (
            case.kind,
            frozenset((str(i), amount) for i, amount in case.applications),
        )
        for case in ledger.cash_cases
    }


def score(conn: duckdb.DuckDBPyConnection, ledger: Ledger, tally: Tally) -> None:
    """Add one ledger's suggestions, compared with its truth, to the tally."""
    truth = truth_of(ledger)
    rows = conn.execute(
        "SELECT payment_id, rank, confidence, band, invoice_ids, settles, evidence_class "
        "FROM reports.cash_application_suggestions WHERE payer_kind = 'payment'"
    ).fetchall()
    by_payment: dict[str, list[tuple[object, ...]]] = defaultdict(list)
    for row in rows:
        by_payment[row[0]].append(row)
    for payment_id in {*truth, *by_payment}:
        kind, applications = truth.get(payment_id, ("on_account", frozenset()))
        tally.cases[kind] += 1
        candidates = sorted(by_payment.get(payment_id, []), key=lambda r: r[1])
        for _, rank, confidence, band, ids, settles, evidence_class in candidates:
            right = frozenset(zip(ids, settles, strict=True)) == applications
            tally.outcomes.append((evidence_class, right))
            if rank == 1:
                tally.covered[kind] += 1
                tally.top1[kind] += right
                tally.bins[sum(confidence >= edge for edge in _BINS)].append((confidence, right))
                if band == "auto":
                    tally.auto[kind] += 1
                    tally.auto_right[kind] += right


def measure(split: str, seeds: int, settings: CashApplicationSettings) -> Tally:
    tally = Tally()
    with tempfile.TemporaryDirectory() as tmp:
        for n in range(seeds):
            ledger = generate_ledger(f"cash-{split}-{n}", **LEDGER_SIZE)
            conn = warehouse_of(Path(tmp), ledger)
            try:
                suggest_cash_applications(conn, ledger.as_of, settings)
                score(conn, ledger, tally)
            finally:
                conn.close()
    return tally


def report(tally: Tally, seeds: int, settings: CashApplicationSettings) -> str:
    kinds = [*CASE_MIX, "on_account"]
    planted = list(CASE_MIX)
    lines = [
        f"### Cash application ({datetime.now(UTC):%Y-%m-%d %H:%M} UTC)",
        "",
        f"`python -m benchmarks.cash_application`: {seeds} evaluation ledgers (`cash-eval-0`…), "
        f"each {LEDGER_SIZE}; auto band at confidence ≥ {settings.auto_min_confidence}. "
        "A suggestion is right when its invoices and amounts are exactly the hidden truth's; "
        "on_account payments have no true application, so every suggestion for them is wrong.",
        "",
        "| case | payments | coverage | top-1 accuracy | auto coverage | auto precision |",
        "|---|---|---|---|---|---|",
    ]

    def row(name: str, chosen: list[str]) -> str:
        cases = sum(tally.cases[k] for k in chosen)
        covered = sum(tally.covered[k] for k in chosen)
        top1 = sum(tally.top1[k] for k in chosen)
        auto = sum(tally.auto[k] for k in chosen)
        right = sum(tally.auto_right[k] for k in chosen)
        return (
            f"| {name} | {cases} | {_pct(covered, cases)} | {_pct(top1, cases)} | "
            f"{_pct(auto, cases)} | {_pct(right, auto)} |"
        )

    lines += [row(kind, [kind]) for kind in kinds]
    lines.append(row("**all hidden payments**", planted))
    lines.append(row("all unapplied payments", kinds))
    lines += [
        "",
        "Calibration of the top suggestion (all unapplied payments): predicted vs observed.",
        "",
        "| confidence | suggestions | mean predicted | observed right |",
        "|---|---|---|---|",
    ]
    edges = ("0", *map(str, _BINS), "1")
    for b in range(len(_BINS) + 1):
        found = tally.bins.get(b, [])
        if not found:
            continue
        mean = sum(c for c, _ in found) / len(found)
        right = sum(r for _, r in found)
        lines.append(
            f"| [{edges[b]}, {edges[b + 1]}{']' if b == len(_BINS) else ')'} | {len(found)} | "
            f"{mean:.3f} | {_pct(right, len(found))} |"
        )
    return "\n".join(lines) + "\n"


def speed(settings: CashApplicationSettings) -> str:
    started = time.perf_counter()
    ledger = generate_ledger("cash-speed", **SPEED_SIZE)
    generated = time.perf_counter() - started
    with tempfile.TemporaryDirectory() as tmp:
        conn = warehouse_of(Path(tmp), ledger)
        try:
            payments, invoices = _sizes(conn, ledger)
            started = time.perf_counter()
            run = suggest_cash_applications(conn, ledger.as_of, settings)
            seconds = time.perf_counter() - started
            tally = Tally()
            score(conn, ledger, tally)
        finally:
            conn.close()
    hidden = list(CASE_MIX)
    cases = sum(tally.cases[k] for k in hidden)
    top1 = sum(tally.top1[k] for k in hidden)
    return (
        f"### Cash application speed ({datetime.now(UTC):%Y-%m-%d %H:%M} UTC)\n\n"
        f"`python -m benchmarks.cash_application --speed`: {payments:,} unapplied payments "
        f"against {invoices:,} open invoices ({SPEED_SIZE['customers']:,} customers): "
        f"**{seconds:.1f} s** for `suggest_cash_applications` (both ledgers, the search, the "
        f"report table: {run.rows:,} rows for {run.payments:,} payments; set searches not done "
        f"in the time budget: {run.subset_targets_skipped:,}). Top-1 accuracy on the "
        f"{cases:,} hidden payments: {_pct(top1, cases)}. (Generating the ledger took "
        f"{generated:.0f} s, not counted.)\n"
    )


def _sizes(conn: duckdb.DuckDBPyConnection, ledger: Ledger) -> tuple[int, int]:
    (payments,) = conn.execute(
        "SELECT count(*) FROM reports.payment_ledger_at(?) WHERE unapplied_amount > 0",
        [ledger.as_of],
    ).fetchone() or (0,)
    (invoices,) = conn.execute(
        "SELECT count(*) FROM reports.invoice_ledger_at(?) WHERE issued AND open_balance > 0",
        [ledger.as_of],
    ).fetchone() or (0,)
    return int(payments), int(invoices)


def _pct(part: int, whole: int) -> str:
    return f"{100 * part / whole:.1f}%" if whole else "–"


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--calibrate", action="store_true", help="refit calibration.csv")
    parser.add_argument("--speed", action="store_true", help="the 100k x 1M speed run")
    parser.add_argument("--seeds", type=int, default=20, help="ledgers per split")
    parser.add_argument("--results", type=Path, help="append the results to this file")
    args = parser.parse_args(argv)
    settings = CashApplicationSettings()
    if args.calibrate:
        tally = measure("train", args.seeds, settings)
        classes = write_calibration(_CALIBRATION, tally.outcomes)
        print(f"{_CALIBRATION}: {classes} evidence classes from {len(tally.outcomes)} candidates")
        return 0
    text = (
        speed(settings)
        if args.speed
        else report(measure("eval", args.seeds, settings), args.seeds, settings)
    )
    print(text)
    if args.results:
        with args.results.open("a") as out:
            out.write("\n" + text)
    return 0


if __name__ == "__main__":
    sys.exit(main())
