"""Which failed DuckLake writes are lost races that `Warehouse.write` runs again."""

from __future__ import annotations

import duckdb
import pytest

from models.ducklake import is_write_conflict


def _raised_while_rolling_back(commit_error: duckdb.Error) -> duckdb.Error:
    """A failed COMMIT ends the transaction: the caller's ROLLBACK then fails in its context."""
    rollback_error = duckdb.TransactionException("cannot rollback - no transaction is active")
    rollback_error.__context__ = commit_error
    return rollback_error


@pytest.mark.parametrize(
    "commit_error",
    [
        duckdb.TransactionException(
            "Transaction conflict - attempting to insert into table that has been dropped"
        ),
        duckdb.TransactionException(
            "Failed to commit DuckLake transaction: Failed to write new snapshot to DuckLake: "
            'duplicate key value violates unique constraint "ducklake_snapshot_pkey"'
        ),
    ],
    ids=["conflict", "snapshot id taken after DuckLake's own retries"],
)
def test_a_lost_commit_race_is_run_again(commit_error: duckdb.Error) -> None:
    assert is_write_conflict(commit_error)
    assert is_write_conflict(_raised_while_rolling_back(commit_error))


def test_other_failures_are_not() -> None:
    assert not is_write_conflict(duckdb.ConstraintException("NOT NULL constraint failed"))
    assert not is_write_conflict(
        duckdb.IOException('duplicate key value violates unique constraint "orders_pkey"')
    )
