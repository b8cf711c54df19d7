"""Simpro payloads → canonical rows (declarative; see models.mapping).

- Customers come from two lists sharing one ID space; the kind is the list a record is in.
- An invoice's credits are its credit notes (`creditNotes/`, matched by `InvoiceNo`); a `Void`
  credit note voids it. Simpro has no write-off (one is entered as a credit note), so
  write_off_amount is 0. A draft is an invoice at Stage "Pending". `Total.Paid` is read as
  everything settled, so the source's balance is `IncTax - Paid`, and 0 on a draft or voided
  invoice.
- A payment has no customer, currency or total of its own: its customer and currency are its
  first invoice line's. Its total is its lines plus `FinanceCharge`, a fee charged on the
  payment, not customer credit: the amount is the sum of its lines (the money credited to the
  customer) and the fee is its bank_charges. Simpro allocates a payment to invoices in full,
  so no Simpro payment carries unapplied cash. A zero line applies nothing and is not an
  application.
  `Payment.Status` exists on US builds only: Failed is void, Pending is pending, Complete (or
  no status) is posted. Lines have no id or date: an application is keyed
  `<payment ID>:<line number>` (unique even if two lines name one invoice) and dated by its
  payment.
- Currencies come as a code or as an object `{ID, Name}` (the swagger has both); either works.
"""

from __future__ import annotations

from models import mapping as m
from models.schema import CUSTOMERS, INVOICES, PAYMENT_APPLICATIONS, PAYMENTS

from .settings import TIMESTAMP_FORMATS


def _currency_of(json: str) -> str:
    """`{"Currency": code}` from a currency given as a code or as an object `{ID, Name}`."""
    return f"json_object('Currency', coalesce({json} ->> '$.ID', ({json} ->> '$')))"


def _decimal(json: str, path: str) -> str:
    return m.exact_money(f"({json} ->> '{path}')")


_CUSTOMER_CURRENCY = _currency_of("(p -> '$.Profile.Currency')")
_INVOICE_CURRENCY = _currency_of("(i.payload -> '$.Currency')")
_PAYMENT_CURRENCY = _currency_of("(payload -> '$.Invoices[0].Invoice.Currency')")


CUSTOMER_MAPPING = m.Mapping(
    table=CUSTOMERS,
    stream="customers",
    relation=(
        "SELECT connection_id, record_id, p, vanished_at, kind, "
        f"{_CUSTOMER_CURRENCY} AS currency FROM ("
        "SELECT connection_id, record_id, payload AS p, vanished_at, 'company' AS kind "
        "FROM {customer_companies} UNION ALL "
        "SELECT connection_id, record_id, payload AS p, vanished_at, 'person' AS kind "
        "FROM {customer_individuals})"
    ),
    fields={
        "customer_id": m.text("ID", required=True),
        "customer_number": m.const(None),
        "name": m.sql(
            m.template(
                "CASE kind WHEN 'company' THEN nullif(trim({company}), '') "
                "ELSE nullif(trim(concat_ws(' ', trim({given}), trim({family}))), '') END",
                company=m.at("CompanyName"),
                given=m.at("GivenName"),
                family=m.at("FamilyName"),
            )
        ),
        "kind": m.sql("kind"),
        "email": m.text("Email"),
        "phone": m.text("Phone"),
        "tax_id": m.text("EIN"),
        "postal_code": m.text("Address.PostalCode"),
        "website": m.const(None),
        "currency_code": m.currency("Currency", required=False, alias="currency"),
        "payment_terms_days": m.integer("Banking.PaymentTerms.Days"),
        "credit_limit": m.money("Banking.CreditLimit", required=False, non_negative=True),
        "status": m.enum("Archived", {"false": "active", "true": "inactive"}),
        "source_balance": m.money("AmountOwing", required=False),
        "created_at": m.timestamp("DateCreated", formats=TIMESTAMP_FORMATS),
        "updated_at": m.timestamp("DateModified", formats=TIMESTAMP_FORMATS, required=True),
    },
)

_STAGE = m.at("Stage")
_DRAFT = m.expr("(", _STAGE, " = 'Pending')")
_PAID = m.money("Total.Paid", required=False, default_zero=True)
_INC_TAX = m.money("Total.IncTax", non_negative=True)
_EX_TAX = m.money("Total.ExTax", required=False)

INVOICE_MAPPING = m.Mapping(
    table=INVOICES,
    stream="customer_invoices",
    relation=(
        "SELECT i.connection_id, i.record_id, i.payload AS p, i.vanished_at, "
        f"{_INVOICE_CURRENCY} AS currency, "
        "coalesce(n.credited, 0::DECIMAL(18,4)) AS credited, coalesce(n.voided, false) AS voided, "
        "coalesce(n.unreadable, 0) AS unreadable_notes "
        "FROM {customer_invoices} i LEFT JOIN ("
        "SELECT connection_id, (payload ->> '$.InvoiceNo') AS invoice_no, "
        f"sum({_decimal('payload', '$.Total.IncTax')}) "
        "FILTER (WHERE (payload ->> '$.Type') <> 'Void') AS credited, "
        "bool_or(payload ->> '$.Type' = 'Void') AS voided, "
        f"count(*) FILTER (WHERE {_decimal('payload', '$.Total.IncTax')} IS NULL) AS unreadable "
        "FROM {credit_notes} "
        "WHERE vanished_at IS NULL AND coalesce(payload ->> '$.Stage', 'Approved') = 'Approved' "
        "GROUP BY ALL) n ON n.connection_id = i.connection_id AND n.invoice_no = i.record_id"
    ),
    fields={
        "invoice_id": m.text("ID", required=True),
        "invoice_number": m.text("ID"),
        "customer_id": m.text("Customer.ID", required=True),
        "status": m.sql(
            m.template(
                "CASE WHEN {draft} THEN 'draft' WHEN voided THEN 'void' "
                "WHEN {is_credit} = 'true' THEN 'credit_note' WHEN {is_paid} = 'true' THEN 'paid' "
                "WHEN {paid} > 0 THEN 'partially_paid' ELSE 'open' END",
                draft=_DRAFT,
                is_credit=m.at("IsCredit"),
                is_paid=m.at("IsPaid"),
                paid=_PAID.value,
            ),
            m.check(
                m.expr(_STAGE, " NOT IN ('Approved', 'Pending')"),
                m.expr("'Stage is not known: ' || ", _STAGE),
            ),
        ),
        "issue_date": m.date("DateIssued"),
        "due_date": m.date("DueDate", required=False),
        "currency_code": m.currency("Currency", alias="currency"),
        "exchange_rate": m.const(None),
        "subtotal": _EX_TAX,
        "tax_amount": m.sql(
            m.expr("coalesce(", _INC_TAX.value, " - ", _EX_TAX.value, ", 0::DECIMAL(18,4))"),
            *_INC_TAX.checks,
        ),
        "total_amount": _INC_TAX,
        "credits_applied": m.sql(
            "credited",
            m.check(
                "unreadable_notes > 0",
                "'a credit note of this invoice has no readable Total.IncTax'",
            ),
        ),
        "write_off_amount": m.sql("0::DECIMAL(18,4)"),
        "source_balance": m.sql(
            m.template(
                "CASE WHEN {draft} OR voided THEN 0::DECIMAL(18,4) ELSE {total} - {paid} END",
                draft=_DRAFT,
                total=_INC_TAX.value,
                paid=_PAID.value,
            ),
            *_PAID.checks,
        ),
        "updated_at": m.timestamp("DateModified", formats=TIMESTAMP_FORMATS, required=True),
    },
)

_LINES = "TRY_CAST(json_extract(payload, '$.Invoices') AS JSON[])"
# Over a payment's line amounts: their sum, and what would make that sum wrong.
_LINE_TOTALS = (
    "struct_pack(total := sum(TRY_CAST(amount AS DECIMAL(18,4))), "
    "exact := sum(TRY_CAST(amount AS DECIMAL(38,12))), "
    "unreadable := count(*) FILTER (WHERE TRY_CAST(amount AS DECIMAL(38,12)) IS NULL))"
)
_FINANCE_CHARGE = m.money("Payment.FinanceCharge", required=False, default_zero=True)
_STATUSES = {"complete": "posted", "pending": "pending", "failed": "void"}
_STATUS = m.at("Payment.Status")
_WHENS = " ".join(f"WHEN '{k}' THEN '{v}'" for k, v in _STATUSES.items())
_KNOWN = ", ".join(repr(k) for k in _STATUSES)
_FIRST_CUSTOMER = m.at("Customer.ID", alias="first_invoice")

PAYMENT_MAPPING = m.Mapping(
    table=PAYMENTS,
    stream="customer_payments",
    relation=(
        "SELECT connection_id, record_id, payload AS p, vanished_at, "
        "payload -> '$.Invoices[0].Invoice' AS first_invoice, "
        f"{_PAYMENT_CURRENCY} AS currency, "
        f"(SELECT {_LINE_TOTALS} FROM unnest(json_extract_string(payload, "
        "'$.Invoices[*].Amount')) AS lines(amount)) AS lines "
        "FROM {customer_payments}"
    ),
    fields={
        "payment_id": m.with_checks(
            m.text("ID", required=True),
            m.check(
                m.expr(m.type_of("Invoices"), " NOT IN ('ARRAY', 'NULL')"),
                m.expr("'Invoices is not a list: ' || left(", m.at("Invoices"), ", 60)"),
            ),
        ),
        "payment_number": m.text("ID"),
        "customer_id": m.sql(
            _FIRST_CUSTOMER,
            m.check(
                m.expr(_FIRST_CUSTOMER, " IS NULL"),
                "'no invoice line names the customer (Invoices[].Invoice.Customer.ID)'",
            ),
        ),
        "payment_date": m.date("Payment.Date"),
        "currency_code": m.currency("Currency", alias="currency"),
        "exchange_rate": m.const(None),
        "amount": m.sql(
            "coalesce(lines.total, 0::DECIMAL(18,4))",
            m.check("lines.unreadable > 0", "'an invoice line has no numeric Amount'"),
            m.check(
                "lines.exact <> lines.total",
                "'an invoice line Amount has more than 4 decimal places'",
            ),
            m.check("lines.total < 0", "'the invoice lines add up to less than 0'"),
        ),
        "bank_charges": _FINANCE_CHARGE,
        "method": m.text("Payment.PaymentMethod.Name"),
        "reference": m.text("Payment.CheckNo"),
        "status": m.sql(
            m.template(
                f"CASE WHEN {{status}} IS NULL THEN 'posted' ELSE (CASE lower({{status}}) {_WHENS} "
                "END) END",
                status=_STATUS,
            ),
            m.check(
                m.template(
                    f"{{status}} IS NOT NULL AND lower({{status}}) NOT IN ({_KNOWN})",
                    status=_STATUS,
                ),
                m.template("'Payment.Status is not known: ' || {status}", status=_STATUS),
            ),
        ),
        "source_unapplied_amount": m.const(None),
        "updated_at": m.timestamp("DateModified", formats=TIMESTAMP_FORMATS, required=True),
    },
)

APPLICATION_MAPPING = m.Mapping(
    table=PAYMENT_APPLICATIONS,
    stream="customer_payments",
    relation=(
        "SELECT connection_id, record_id || ':' || line AS record_id, p, parent, vanished_at "
        "FROM (SELECT connection_id, record_id, payload AS parent, vanished_at, "
        f"unnest({_LINES}) AS p, generate_subscripts({_LINES}, 1) AS line "
        "FROM {customer_payments}) "
        "WHERE coalesce(TRY_CAST(p ->> '$.Amount' AS DECIMAL(38,12)), 1) <> 0"
    ),
    fields={
        "application_id": m.sql("record_id"),
        "payment_id": m.text("ID", required=True, alias="parent"),
        "invoice_id": m.text("Invoice.ID", required=True),
        "amount_applied": m.money("Amount"),
        "applied_date": m.date("Payment.Date", alias="parent"),
    },
)

MAPPINGS: tuple[m.Mapping, ...] = (
    CUSTOMER_MAPPING,
    INVOICE_MAPPING,
    PAYMENT_MAPPING,
    APPLICATION_MAPPING,
)
