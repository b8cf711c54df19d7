"""Carbon payloads → canonical rows (declarative; see models.mapping).

* Customers carry their payment terms through `customerPayment.paymentTermId` →
  `paymentTerm.daysDue`. Carbon keeps e-mail addresses on customer contacts, has no credit
  limit, balance or built-in active flag on a customer, and its customers are organisations.
* Invoices come from the `salesInvoices` view. Its `balance` (what Carbon says is owed) comes from
  a division in invoice currency, so it is rounded to the canonical 4 places instead of
  quarantined. A settlement's discount and write-off reduce what is owed without consuming
  money: `credits_applied` is what Posted credit memos applied plus the discounts of Posted
  settlements, `write_off_amount` their write-offs.
* Payments are Receipts from a customer: Draft is `pending` (received, not posted: the view's
  balance does not count it yet), Posted `posted`, Voided `void`. Carbon records no bank charges.
* Applications are the settlements from a payment to a sales invoice (`appliedAmount`, on the
  settlement's own `appliedDate`); a settlement that vanished (only a draft's can be deleted)
  applies nothing.
"""

from __future__ import annotations

from models import mapping as m
from models.schema import CUSTOMERS, INVOICES, PAYMENT_APPLICATIONS, PAYMENTS

from .settings import TIMESTAMP_FORMATS


def _changed_at() -> m.Field:
    """`updatedAt`, or `createdAt` while the row was never edited."""
    return m.coalesce(
        m.timestamp("updatedAt", formats=TIMESTAMP_FORMATS),
        m.timestamp("createdAt", formats=TIMESTAMP_FORMATS, required=True),
    )


CUSTOMER_MAPPING = m.Mapping(
    table=CUSTOMERS,
    stream="customer",
    relation=(
        "SELECT c.connection_id, c.record_id, c.payload AS p, t.payload AS t, c.vanished_at "
        "FROM {customer} c "
        "LEFT JOIN {customer_payment} s ON s.connection_id = c.connection_id "
        "AND s.record_id = c.record_id AND s.vanished_at IS NULL "
        "LEFT JOIN {payment_term} t ON t.connection_id = c.connection_id "
        "AND t.record_id = (s.payload ->> '$.paymentTermId') AND t.vanished_at IS NULL"
    ),
    fields={
        "customer_id": m.text("id", required=True),
        "customer_number": m.text("readableId"),
        "name": m.text("name", required=True),
        "kind": m.const("company"),
        "email": m.const(None),
        "phone": m.text("phone"),
        "tax_id": m.const(None),
        "postal_code": m.const(None),
        "website": m.text("website"),
        "currency_code": m.currency("currencyCode", required=False),
        "payment_terms_days": m.integer("daysDue", alias="t"),
        "credit_limit": m.const(None),
        "status": m.const(None),
        "source_balance": m.const(None),
        "created_at": m.timestamp("createdAt", formats=TIMESTAMP_FORMATS),
        "updated_at": _changed_at(),
    },
)

# The view's computed status. A "Return" document is a credit note; an invoice with "Credit Note
# Issued" was reversed by one, so nothing on it is receivable any more.
INVOICE_STATUSES = {
    "draft": "draft",
    "pending": "open",
    "submitted": "open",
    "overdue": "open",
    "partially paid": "partially_paid",
    "paid": "paid",
    "voided": "void",
    "return": "credit_note",
    "credit note issued": "void",
}

# Per invoice, what Posted credit memos and Posted settlements take off besides money applied.
_APPLIED, _DISCOUNT, _WRITE_OFF = (
    m.exact_money(f"(s.payload ->> '$.{name}')")
    for name in ("appliedAmount", "discountAmount", "writeOffAmount")
)
_UNREADABLE = " OR ".join(
    f"(s.payload ->> '$.{name}' IS NOT NULL AND {value} IS NULL)"
    for name, value in (
        ("appliedAmount", _APPLIED),
        ("discountAmount", _DISCOUNT),
        ("writeOffAmount", _WRITE_OFF),
    )
)
_ADJUSTMENTS = (
    "SELECT s.connection_id, (s.payload ->> '$.targetSalesInvoiceId') AS invoice_id, "
    "sum(CASE WHEN (s.payload ->> '$.memoId') IS NOT NULL "
    f"THEN coalesce({_APPLIED}, 0) ELSE 0 END + coalesce({_DISCOUNT}, 0)) AS credits, "
    f"sum(coalesce({_WRITE_OFF}, 0)) AS write_offs, "
    f"count(*) FILTER (WHERE {_UNREADABLE}) AS unreadable "
    "FROM {invoice_settlement} s "
    "LEFT JOIN {payment} pay ON pay.connection_id = s.connection_id "
    "AND pay.record_id = (s.payload ->> '$.paymentId') AND pay.vanished_at IS NULL "
    "LEFT JOIN {memo} mem ON mem.connection_id = s.connection_id "
    "AND mem.record_id = (s.payload ->> '$.memoId') AND mem.vanished_at IS NULL "
    "WHERE s.vanished_at IS NULL "
    "AND coalesce(pay.payload ->> '$.status', (mem.payload ->> '$.status')) = 'Posted' "
    "GROUP BY ALL"
)

INVOICE_MAPPING = m.Mapping(
    table=INVOICES,
    stream="sales_invoices",
    relation=(
        "SELECT i.connection_id, i.record_id, i.payload AS p, i.vanished_at, "
        "coalesce(a.credits, 0) AS credits, coalesce(a.write_offs, 0) AS write_offs, "
        "coalesce(a.unreadable, 0) AS unreadable_adjustments "
        "FROM {sales_invoices} i "
        f"LEFT JOIN ({_ADJUSTMENTS}) a "
        "ON a.connection_id = i.connection_id AND a.invoice_id = i.record_id"
    ),
    fields={
        "invoice_id": m.text("id", required=True),
        "invoice_number": m.text("invoiceId"),
        "customer_id": m.text("customerId", required=True),
        "status": m.enum("status", INVOICE_STATUSES),
        "issue_date": m.date("dateIssued"),
        "due_date": m.date("dateDue", required=False),
        "currency_code": m.currency("currencyCode"),
        "exchange_rate": m.rate("exchangeRate"),
        "subtotal": m.money("subtotal", required=False),
        "tax_amount": m.money("totalTax", required=False, default_zero=True),
        "total_amount": m.money("totalAmount", non_negative=True),
        "credits_applied": m.sql(
            "CAST(credits AS DECIMAL(18,4))",
            m.check(
                "unreadable_adjustments > 0",
                "'a settlement of this invoice has an amount that is not an exact DECIMAL(18,4)'",
            ),
        ),
        "write_off_amount": m.sql("CAST(write_offs AS DECIMAL(18,4))"),
        "source_balance": m.rounded_money("balance"),
        "updated_at": _changed_at(),
    },
)

PAYMENT_MAPPING = m.Mapping(
    table=PAYMENTS,
    stream="payment",
    relation="SELECT connection_id, record_id, payload AS p, vanished_at FROM {payment}",
    fields={
        "payment_id": m.text("id", required=True),
        "payment_number": m.text("paymentId"),
        "customer_id": m.text("customerId", required=True),
        "payment_date": m.date("paymentDate"),
        "currency_code": m.currency("currencyCode"),
        "exchange_rate": m.rate("exchangeRate"),
        "amount": m.money("totalAmount", non_negative=True),
        "bank_charges": m.sql("0::DECIMAL(18,4)"),
        "method": m.const(None),
        "reference": m.text("reference"),
        "status": m.enum("status", {"draft": "pending", "posted": "posted", "voided": "void"}),
        "source_unapplied_amount": m.const(None),
        "updated_at": _changed_at(),
    },
)

APPLICATION_MAPPING = m.Mapping(
    table=PAYMENT_APPLICATIONS,
    stream="invoice_settlement",
    relation=(
        "SELECT connection_id, record_id, payload AS p, vanished_at FROM {invoice_settlement} "
        "WHERE (payload ->> '$.paymentId') IS NOT NULL AND vanished_at IS NULL"
    ),
    fields={
        "application_id": m.sql("record_id"),
        "payment_id": m.text("paymentId", required=True),
        "invoice_id": m.text("targetSalesInvoiceId", required=True),
        "amount_applied": m.money("appliedAmount", non_negative=True),
        "applied_date": m.date("appliedDate", required=False),
    },
)

MAPPINGS: tuple[m.Mapping, ...] = (
    CUSTOMER_MAPPING,
    INVOICE_MAPPING,
    PAYMENT_MAPPING,
    APPLICATION_MAPPING,
)
