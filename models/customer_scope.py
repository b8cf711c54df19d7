"""The reports grouped by customer, refreshed for the customers whose rows may have changed.

Each row of `customer_balances`, `ar_aging` and `reconciliation_exceptions` is one customer's
(or names none), and follows from that customer's rows of the stored ledgers, its
`canonical.customers` row, its quarantined documents with the applications to its quarantined
invoices, its connection's base currency and the as-of date (and the aging). So when every
stored ledger a report reads was refreshed from what changed since the report was written, at
the same as-of date, aging, SQL and base currencies, only the rows of these customers are
computed again (`models.reports` decides when):

- those whose ledger rows the refresh replaced, before and after (`TOUCHED_CUSTOMERS`);
- those changed since, which includes their quarantined documents
  (`models.ledgers.log_quarantine_changes`);
- those of the quarantined invoices a changed invoice document (an application to it) or a
  changed payment applied to them names;
- those a changed invoice or payment names now, and those whose reconciliation findings name it:
  a document that no ledger holds a row of (void, vanished, not yet due) still makes a
  `record_vanished` finding, read from the canonical tables.

Rows that name no customer are always computed again: there are few.
"""

from __future__ import annotations

import duckdb

from models.ledgers import LEDGERS, TOUCHED_CUSTOMERS, Ledger, customer_column
from models.queries import table_exists

__all__ = [
    "GROUPED",
    "SCOPE",
    "scope_customers",
    "scoped_ledger",
    "within_scope",
]

GROUPED = frozenset({"customer_balances", "ar_aging", "reconciliation_exceptions"})
SCOPE = "temp.report_customers"  # (connection_id, customer_id): whose rows to compute again


def scope_customers(conn: duckdb.DuckDBPyConnection, since: int) -> None:
    """Fill `SCOPE` with the customers whose rows in a grouped report written at change `since`
    may differ now (the module's list). Run after the ledger refreshes and before the changes
    they include are pruned."""
    changes = f"(FROM {LEDGERS}.changes WHERE seq > $since)"
    named = [
        _named_by_changed(f"canonical.{document}s", document, changes)
        for document in ("invoice", "payment")
    ]
    if table_exists(conn, "reports", "reconciliation_exceptions"):
        named += [
            _named_by_changed("reports.reconciliation_exceptions", document, changes)
            for document in ("invoice", "payment")
        ]
    also_named = "".join(f" UNION ALL {query}" for query in named)
    conn.execute(
        f"""
        CREATE OR REPLACE TEMP TABLE {SCOPE.removeprefix("temp.")} AS
        SELECT DISTINCT connection_id, customer_id FROM (
            SELECT connection_id, customer_id FROM {TOUCHED_CUSTOMERS}
            UNION ALL
            SELECT connection_id, document_id FROM {changes} WHERE document = 'customer'
            UNION ALL
            SELECT r.connection_id, r.customer_id
            FROM canonical.rejected_records r
            SEMI JOIN (
                SELECT connection_id, document_id AS invoice_id FROM {changes}
                WHERE document = 'invoice'
                UNION ALL
                SELECT a.connection_id, a.invoice_id FROM canonical.payment_applications a
                SEMI JOIN {changes} c
                  ON c.document = 'payment' AND c.connection_id = a.connection_id
                 AND c.document_id = a.payment_id
            ) t ON t.connection_id = r.connection_id AND t.invoice_id = r.document_id
            WHERE r.document = 'invoice'
            {also_named}
        )
        WHERE customer_id IS NOT NULL
        """,
        {"since": since},
    )


def _named_by_changed(table: str, document: str, changes: str) -> str:
    """The customers of `table`'s rows naming a changed `document` (invoice or payment)."""
    return (
        f"SELECT t.connection_id, t.customer_id FROM {table} t SEMI JOIN {changes} c "
        f"ON c.document = '{document}' AND c.connection_id = t.connection_id "
        f"AND c.document_id = t.{document}_id"
    )


def scoped_ledger(ledger: Ledger) -> str:
    """The stored ledger's rows of the customers in `SCOPE`, and those naming none."""
    table, customer = f"{LEDGERS}.{ledger}", customer_column(ledger)
    return (
        f"(FROM {table} x SEMI JOIN {SCOPE} s "
        f"ON s.connection_id = x.connection_id AND s.customer_id = x.{customer} "
        f"UNION ALL FROM {table} WHERE {customer} IS NULL)"
    )


def within_scope(alias: str) -> str:
    """A condition on a report row `alias`: it is a customer's in `SCOPE`, or names none."""
    return (
        f"({alias}.customer_id IS NULL OR EXISTS (SELECT 1 FROM {SCOPE} s "
        f"WHERE s.connection_id = {alias}.connection_id AND s.customer_id = {alias}.customer_id))"
    )
