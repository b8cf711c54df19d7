"""Calibrated confidence: how often a candidate of each evidence class was the true application.

An evidence class is what the candidate rests on (reference match, amount match, customer
match), how many other candidates of the payment are as strong (0, 1, 2 or more), and whether it
is among the payment's strongest. `calibration.csv` counts, per class, the candidates seen and
those that were right on generated ledgers whose truth is known (`sandbox.cash_cases`); the
ledgers reported on are never among them (`benchmarks/cash_application.py` fits it on its own
seeds and measures on others). A class's confidence is (right + 1) / (seen + 2), so a rare class
is never sure; a class never seen falls back to its reference, amount and customer match alone.
"""

from __future__ import annotations

import csv
import io
from collections import Counter
from collections.abc import Iterable
from importlib import resources
from pathlib import Path

import duckdb

__all__ = ["CALIBRATION_FILE", "load_calibration", "write_calibration"]

CALIBRATION_FILE = "calibration.csv"
_COLUMNS = ("evidence_class", "candidates", "correct")


def load_calibration(conn: duckdb.DuckDBPyConnection, table: str) -> None:
    """The shipped calibration as temporary table `table`, with each class's confidence."""
    text = resources.files("models.cash_application").joinpath(CALIBRATION_FILE).read_text()
    rows = list(csv.DictReader(io.StringIO(text)))
    conn.execute(
        f"CREATE OR REPLACE TEMP TABLE {table} "
        "(evidence_class VARCHAR, candidates BIGINT, correct BIGINT, confidence DECIMAL(5, 4))"
    )
    if rows:
        conn.executemany(
            f"INSERT INTO {table} (evidence_class, candidates, correct, confidence) "
            "VALUES (?, ?, ?, (? + 1) / (? + 2))",
            [
                (r["evidence_class"], int(r["candidates"]), int(r["correct"]))
                + (int(r["correct"]), int(r["candidates"]))
                for r in rows
            ],
        )


def write_calibration(path: Path, outcomes: Iterable[tuple[str, bool]]) -> int:
    """Count (evidence class, was right) outcomes into a calibration file; return the classes."""
    seen: Counter[str] = Counter()
    right: Counter[str] = Counter()
    for evidence_class, correct in outcomes:
        seen[evidence_class] += 1
        right[evidence_class] += correct
    with path.open("w", newline="") as out:
        writer = csv.writer(out, lineterminator="\n")
        writer.writerow(_COLUMNS)
        for evidence_class in sorted(seen):
            writer.writerow((evidence_class, seen[evidence_class], right[evidence_class]))
    return len(seen)
