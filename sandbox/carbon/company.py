"""One company's ledger rendered into queryable tables, built once per ledger."""

from __future__ import annotations

import copy
from collections.abc import Mapping
from datetime import UTC, datetime, time, timedelta

from sandbox.carbon import render
from sandbox.carbon.postgrest import Table
from sandbox.carbon.schema import TABLES
from sandbox.ledger import Ledger


class CompanyData:
    def __init__(self, name: str, ledger: Ledger, drafts: frozenset[int]) -> None:
        unknown = drafts - {p.payment_id for p in ledger.payments if p.status == "posted"}
        if unknown:
            raise ValueError(f"draft payments must be posted payments of the ledger: {unknown}")
        self.name = name
        self.ledger = ledger
        self.drafts = drafts
        rows = render.tables(name, ledger, drafts)
        self.tables: Mapping[str, Table] = {
            table: Table(table, columns, rows[table]) for table, columns in TABLES.items()
        }
        self.latest_change = max(
            (
                moment
                for table in self.tables.values()
                for row in table.rows
                for moment in (row.get("createdAt"), row.get("updatedAt"))
                if moment is not None
            ),
            default=datetime.combine(ledger.as_of, time(), UTC),
        )

    def with_bumped(self, table: str, row_id: object) -> CompanyData:
        """A copy where the row with `id` `row_id` of `table` was just edited: its `updatedAt`
        is one second after the newest change in the company. Row order does not change."""
        old = self.tables[table]
        if "updatedAt" not in old.columns:
            return self
        bumped_at = self.latest_change.replace(microsecond=0) + timedelta(seconds=1)
        rows = [
            {**row, "updatedAt": bumped_at, "updatedBy": render.USER}
            if row.get("id") == row_id
            else row
            for row in old.rows
        ]
        clone = copy.copy(self)
        clone.tables = {**self.tables, table: Table(table, old.columns, rows)}
        clone.latest_change = bumped_at
        return clone
