"""The canonical schema: one definition that the DDL, the normalizer and the docs all use.

Tables are SQLAlchemy Core objects so that analysts can reflect them through duckdb-engine and
the DDL is generated rather than written twice. Every canonical row is keyed by
`(connection_id, <entity>_id)`; money is DECIMAL(18,4), exchange rates DECIMAL(18,8),
timestamps TIMESTAMPTZ in UTC.
"""

from __future__ import annotations

from typing import Any

import sqlalchemy as sa

__all__ = [
    "CANONICAL",
    "CANONICAL_TABLES",
    "CUSTOMERS",
    "INVOICES",
    "MONEY",
    "PAYMENTS",
    "PAYMENT_APPLICATIONS",
    "RATE",
    "REJECTED_RECORDS",
    "metadata",
]

CANONICAL = "canonical"
MONEY = sa.Numeric(18, 4)
RATE = sa.Numeric(18, 8)
UTC_TIMESTAMP = sa.DateTime(timezone=True)

metadata = sa.MetaData(schema=CANONICAL)


def _keys(entity: str) -> list[sa.Column[Any]]:
    return [
        sa.Column("connection_id", sa.Text, primary_key=True, comment="The configured account."),
        sa.Column("source", sa.Text, nullable=False, comment="The system: zoho_books, …"),
        sa.Column(f"{entity}_id", sa.Text, primary_key=True, comment="The source's own id."),
    ]


def _lifecycle() -> list[sa.Column[Any]]:
    return [
        sa.Column("updated_at", UTC_TIMESTAMP, comment="Last change in the source (UTC)."),
        sa.Column(
            "deleted_at",
            UTC_TIMESTAMP,
            comment="When ledgersync saw the record vanish from the source (UTC).",
        ),
    ]


CUSTOMERS = sa.Table(
    "customers",
    metadata,
    *_keys("customer"),
    sa.Column("customer_number", sa.Text, comment="Human-readable number, if the source has one."),
    sa.Column("name", sa.Text, nullable=False),
    sa.Column("kind", sa.Text, comment="company or person."),
    sa.Column("email", sa.Text),
    sa.Column("phone", sa.Text),
    sa.Column(
        "tax_id", sa.Text, comment="Tax or VAT registration number, where the source has one."
    ),
    sa.Column("postal_code", sa.Text, comment="Postcode of the customer's address, if any."),
    sa.Column("website", sa.Text),
    sa.Column("currency_code", sa.Text, comment="ISO 4217 currency the customer is billed in."),
    sa.Column("payment_terms_days", sa.Integer),
    sa.Column("credit_limit", MONEY),
    sa.Column("status", sa.Text, comment="active or inactive."),
    sa.Column(
        "source_balance",
        MONEY,
        comment="What the source says the customer owes (Zoho outstanding_receivable_amount, …).",
    ),
    sa.Column("created_at", UTC_TIMESTAMP),
    *_lifecycle(),
    comment="One row per customer per connection.",
)

INVOICES = sa.Table(
    "invoices",
    metadata,
    *_keys("invoice"),
    sa.Column("invoice_number", sa.Text),
    sa.Column("customer_id", sa.Text, nullable=False),
    sa.Column(
        "status",
        sa.Text,
        nullable=False,
        comment="draft, open, paid, partially_paid, void or credit_note.",
    ),
    sa.Column("issue_date", sa.Date, nullable=False),
    sa.Column("due_date", sa.Date),
    sa.Column("currency_code", sa.Text, nullable=False),
    sa.Column(
        "exchange_rate", RATE, comment="Document currency to the connection's base currency."
    ),
    sa.Column("subtotal", MONEY),
    sa.Column("tax_amount", MONEY),
    sa.Column("total_amount", MONEY, nullable=False),
    sa.Column("credits_applied", MONEY, nullable=False),
    sa.Column("write_off_amount", MONEY, nullable=False),
    sa.Column("source_balance", MONEY, comment="What the source says is still owed."),
    *_lifecycle(),
    comment="One row per invoice per connection, amounts in document currency.",
)

PAYMENTS = sa.Table(
    "payments",
    metadata,
    *_keys("payment"),
    sa.Column("payment_number", sa.Text),
    sa.Column("customer_id", sa.Text, nullable=False),
    sa.Column("payment_date", sa.Date, nullable=False),
    sa.Column("currency_code", sa.Text, nullable=False),
    sa.Column("exchange_rate", RATE),
    sa.Column("amount", MONEY, nullable=False),
    sa.Column(
        "bank_charges",
        MONEY,
        comment="Fees on the payment; NULL where the source has not told them (a Zoho payment "
        "whose detail was not fetched).",
    ),
    sa.Column("method", sa.Text),
    sa.Column("reference", sa.Text),
    sa.Column("status", sa.Text, nullable=False, comment="posted, pending or void."),
    sa.Column(
        "source_unapplied_amount", MONEY, comment="What the source says is not applied, if it says."
    ),
    *_lifecycle(),
    comment="Customer payments (cash received), amounts in document currency.",
)

PAYMENT_APPLICATIONS = sa.Table(
    "payment_applications",
    metadata,
    sa.Column("connection_id", sa.Text, primary_key=True),
    sa.Column("source", sa.Text, nullable=False),
    sa.Column("application_id", sa.Text, primary_key=True, comment="The source's id of the line."),
    sa.Column("payment_id", sa.Text, nullable=False),
    sa.Column("invoice_id", sa.Text, nullable=False),
    sa.Column("amount_applied", MONEY, nullable=False),
    sa.Column(
        "applied_date", sa.Date, comment="The application's own date, where the source has one."
    ),
    comment="Money from one payment applied to one invoice.",
)

REJECTED_RECORDS = sa.Table(
    "rejected_records",
    metadata,
    sa.Column("connection_id", sa.Text, primary_key=True),
    sa.Column("source", sa.Text, nullable=False),
    sa.Column("stream", sa.Text, primary_key=True),
    sa.Column("record_id", sa.Text, primary_key=True),
    sa.Column("reason", sa.Text, nullable=False, comment="Why the record could not be loaded."),
    sa.Column("payload", sa.JSON, comment="The record as received."),
    sa.Column("first_seen_at", UTC_TIMESTAMP, nullable=False),
    sa.Column("last_seen_at", UTC_TIMESTAMP, nullable=False),
    # What a quarantined invoice or payment holds back from the balances, as far as it was read.
    sa.Column("document", sa.Text, comment="invoice or payment; NULL for other records."),
    sa.Column("document_id", sa.Text, comment="The invoice's or payment's id."),
    sa.Column("customer_id", sa.Text, comment="Whose balance the document would change."),
    sa.Column("currency_code", sa.Text, comment="The document's currency."),
    sa.Column("document_date", sa.Date, comment="Its issue or payment date."),
    sa.Column(
        "amount",
        MONEY,
        comment=(
            "What it would owe or pay: an invoice's total less credits and write-offs, a "
            "payment's amount; NULL for draft and void documents, which change no balance."
        ),
    ),
    comment="Quarantine: records that failed mapping; they load once the source corrects them.",
)

CANONICAL_TABLES: tuple[sa.Table, ...] = (
    CUSTOMERS,
    INVOICES,
    PAYMENTS,
    PAYMENT_APPLICATIONS,
)
