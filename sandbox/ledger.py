"""The source-neutral ledger every sandbox serves.

A `Ledger` is one account's receivables (a Zoho organization, a BC or Simpro company, a Carbon
key): customers, invoices, payments and the applications of payments to invoices. Each sandbox
renders it in its own API's shape (ids, field names, time zones); `sandbox.generator` builds one
deterministically from the account's name, and `sandbox.truth` computes its true balances.

Ids are small integers, unique per entity within the account; every sandbox renders them in its
source's id style.
"""

from __future__ import annotations

import dataclasses
from dataclasses import dataclass
from datetime import date, datetime
from decimal import Decimal
from typing import Literal

CustomerKind = Literal["company", "person"]
CustomerStatus = Literal["active", "inactive"]
InvoiceStatus = Literal["draft", "open", "paid", "partially_paid", "void"]
PaymentStatus = Literal["posted", "void"]
AnomalyKind = Literal[
    "balance_mismatch",
    "orphan_application",
    "duplicate_payment",
    "applied_to_void_invoice",
    "currency_mismatch",
]
CashCaseKind = Literal[
    "exact_single",
    "reference_only",
    "no_remittance",
    "several_exact",
    "partial",
    "bank_charge",
    "early_discount",
    "overpayment",
    "related_customer",
    "ambiguous",
    "other_currency",
    "issued_later",
]


@dataclass(frozen=True, slots=True)
class Customer:
    customer_id: int
    number: str
    name: str
    kind: CustomerKind
    email: str | None
    phone: str | None
    currency_code: str
    payment_terms_days: int
    credit_limit: Decimal | None
    status: CustomerStatus
    created_at: datetime  # UTC, aware
    updated_at: datetime  # UTC, aware
    tax_id: str | None = None
    postal_code: str | None = None
    website: str | None = None
    party: str | None = None  # the truth: records of one real customer share it (never served)


@dataclass(frozen=True, slots=True)
class Invoice:
    invoice_id: int
    invoice_number: str
    customer_id: int
    status: InvoiceStatus  # as the source reports it at the ledger's as_of
    issue_date: date
    due_date: date
    currency_code: str
    exchange_rate: Decimal  # document currency -> account base currency, 8 places
    subtotal: Decimal
    tax_amount: Decimal
    total_amount: Decimal  # subtotal + tax_amount
    credits_applied: Decimal
    write_off_amount: Decimal
    source_balance: Decimal  # what the source says is still owed (anomalies disagree with truth)
    created_at: datetime
    updated_at: datetime


@dataclass(frozen=True, slots=True)
class Payment:
    payment_id: int
    payment_number: str
    customer_id: int
    payment_date: date
    currency_code: str
    exchange_rate: Decimal
    amount: Decimal
    bank_charges: Decimal
    method: str
    reference: str | None
    status: PaymentStatus
    created_at: datetime
    updated_at: datetime


@dataclass(frozen=True, slots=True)
class Application:
    """Money from one payment applied to one invoice (the invoice may not exist: an anomaly)."""

    application_id: int
    payment_id: int
    invoice_id: int
    amount_applied: Decimal
    applied_date: date


@dataclass(frozen=True, slots=True)
class Anomaly:
    """A deliberate inconsistency the reconciliation must report."""

    kind: AnomalyKind
    entity_id: int  # invoice_id for balance_mismatch, payment_id otherwise
    detail: str


@dataclass(frozen=True, slots=True)
class CashCase:
    """A payment whose true application the source does not serve (it shows as unapplied cash):
    the ground truth that cash application is measured against (`sandbox.cash_cases`)."""

    kind: CashCaseKind
    payment_id: int
    applications: tuple[tuple[int, Decimal], ...]  # (invoice_id, amount settled, invoice currency)
    adjustment: Decimal  # what closes the invoice beyond the cash: a bank charge or a discount


@dataclass(frozen=True, slots=True)
class Ledger:
    account: str
    base_currency: str
    as_of: date  # the ledger's "today": source balances are stated as of this day
    customers: tuple[Customer, ...]
    invoices: tuple[Invoice, ...]
    payments: tuple[Payment, ...]
    applications: tuple[Application, ...]
    anomalies: tuple[Anomaly, ...] = ()
    cash_cases: tuple[CashCase, ...] = ()  # hidden from every source

    def replace(self, **changes: object) -> Ledger:
        return dataclasses.replace(self, **changes)  # type: ignore[arg-type]
