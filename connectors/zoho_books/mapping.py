"""Zoho Books payloads → canonical rows (declarative; see models.mapping)."""

from __future__ import annotations

from models import mapping as m
from models.raw import DERIVED_FROM
from models.schema import CUSTOMERS, INVOICES, PAYMENT_APPLICATIONS, PAYMENTS

from .settings import TIMESTAMP_FORMAT

_TIMESTAMPS = (TIMESTAMP_FORMAT,)

_ONE_TABLE = "SELECT connection_id, record_id, payload AS p, vanished_at FROM {%s}"

CUSTOMER_MAPPING = m.Mapping(
    table=CUSTOMERS,
    stream="contacts",
    relation=_ONE_TABLE % "contacts",
    fields={
        "customer_id": m.text("contact_id", required=True),
        "customer_number": m.text("contact_number"),
        "name": m.first_text("company_name", "contact_name", required=True),
        "kind": m.sql(
            m.template(
                "CASE {sub_type} WHEN 'individual' THEN 'person' ELSE 'company' END",
                sub_type=m.at("customer_sub_type"),
            )
        ),
        "email": m.text("email"),
        "phone": m.text("phone"),
        "tax_id": m.const(None),
        "postal_code": m.const(None),
        "website": m.text("website"),
        "currency_code": m.currency("currency_code"),
        "payment_terms_days": m.integer("payment_terms"),
        "credit_limit": m.money("credit_limit", required=False, non_negative=True),
        "status": m.enum("status", {"active": "active", "inactive": "inactive"}),
        "source_balance": m.money("outstanding_receivable_amount", required=False),
        "created_at": m.timestamp("created_time", formats=_TIMESTAMPS),
        "updated_at": m.timestamp("last_modified_time", formats=_TIMESTAMPS, required=True),
    },
)

INVOICE_STATUSES = {
    "draft": "draft",
    "sent": "open",
    "viewed": "open",
    "unpaid": "open",
    "overdue": "open",
    "pending": "open",
    "partially_paid": "partially_paid",
    "paid": "paid",
    "void": "void",
}

INVOICE_MAPPING = m.Mapping(
    table=INVOICES,
    stream="invoices",
    relation=_ONE_TABLE % "invoices",
    fields={
        "invoice_id": m.text("invoice_id", required=True),
        "invoice_number": m.text("invoice_number"),
        "customer_id": m.text("customer_id", required=True),
        "status": m.enum("status", INVOICE_STATUSES),
        "issue_date": m.date("date"),
        "due_date": m.date("due_date", required=False),
        "currency_code": m.currency("currency_code"),
        "exchange_rate": m.rate("exchange_rate"),
        "subtotal": m.money("sub_total", required=False),
        "tax_amount": m.money("tax_total", required=False, default_zero=True),
        "total_amount": m.money("total", non_negative=True),
        "credits_applied": m.money(
            "credits_applied", required=False, non_negative=True, default_zero=True
        ),
        "write_off_amount": m.money(
            "write_off_amount", required=False, non_negative=True, default_zero=True
        ),
        "source_balance": m.money("balance", required=False),
        "updated_at": m.timestamp("last_modified_time", formats=_TIMESTAMPS, required=True),
    },
)

# Zoho deletes payments rather than voiding them: every payment it serves is posted. The
# vendor's own list and detail samples carry neither currency_code nor last_modified_time: the
# currency is then the customer's (a Zoho payment is in its customer's currency), and a
# payment without a modified time loads without one. Only the detail tells the bank charges:
# they are unknown (NULL) for a payment whose applications were derived from its list row
# (connectors.zoho_books.derivation) or whose detail is not in yet.
_CHARGES = m.money("bank_charges", alias="d", required=False, default_zero=True)
_CHARGES_KNOWN = m.expr("d IS NOT NULL AND ", m.at(DERIVED_FROM, alias="d"), " IS NULL")
PAYMENT_MAPPING = m.Mapping(
    table=PAYMENTS,
    stream="customerpayments",
    relation=(
        "SELECT l.connection_id, l.record_id, l.payload AS p, d.payload AS d, l.vanished_at, "
        "json_object('currency_code', coalesce(l.payload ->> '$.currency_code', "
        "d.payload ->> '$.currency_code', c.payload ->> '$.currency_code')) AS currency "
        "FROM {customerpayments} l LEFT JOIN {customerpayment_details} d "
        "ON d.connection_id = l.connection_id AND d.record_id = l.record_id "
        "LEFT JOIN {contacts} c "
        "ON c.connection_id = l.connection_id AND c.record_id = (l.payload ->> '$.customer_id')"
    ),
    fields={
        "payment_id": m.text("payment_id", required=True),
        "payment_number": m.text("payment_number"),
        "customer_id": m.text("customer_id", required=True),
        "payment_date": m.date("date"),
        "currency_code": m.currency("currency_code", alias="currency"),
        "exchange_rate": m.rate("exchange_rate"),
        "amount": m.money("amount", non_negative=True),
        "bank_charges": m.sql(
            m.expr("CASE WHEN ", _CHARGES_KNOWN, " THEN ", _CHARGES.value, " END"), *_CHARGES.checks
        ),
        "method": m.text("payment_mode"),
        "reference": m.text("reference_number"),
        "status": m.const("posted"),
        "source_unapplied_amount": m.money("unused_amount", required=False),
        "updated_at": m.timestamp("last_modified_time", formats=_TIMESTAMPS),
    },
)

# A payment applies to an invoice once (its detail has one line per invoice), so payment and
# invoice name the application, whether it was fetched or derived from the list row (which has
# no invoice_payment_id): the id does not change when a derived application is fetched.
_DETAIL_LINES = "TRY_CAST(json_extract(payload, '$.invoices') AS JSON[])"


def _of_a_line(field: m.Field) -> m.Field:
    """`field`, read from a detail line: a detail whose lines are unreadable has no line to
    check (it is quarantined for that alone)."""
    guarded = (
        m.check(m.expr("NOT unreadable AND (", c.failed, ")"), c.reason) for c in field.checks
    )
    return m.Field(field.value, tuple(guarded))


APPLICATION_MAPPING = m.Mapping(
    table=PAYMENT_APPLICATIONS,
    stream="customerpayment_details",
    relation=(
        "SELECT connection_id, record_id || ':' || coalesce(p ->> '$.invoice_id', '#' || line) "
        "AS record_id, p, parent, vanished_at, false AS unreadable FROM ("
        "SELECT connection_id, record_id, payload AS parent, vanished_at, "
        f"unnest({_DETAIL_LINES}) AS p, generate_subscripts({_DETAIL_LINES}, 1) AS line "
        "FROM {customerpayment_details}) "
        "UNION ALL "
        "SELECT connection_id, record_id, NULL, payload, vanished_at, true "
        "FROM {customerpayment_details} "
        f"WHERE json_type(payload, '$.invoices') NOT IN ('ARRAY', 'NULL')"
    ),
    fields={
        "application_id": m.sql("record_id"),
        "payment_id": m.text("payment_id", required=True, alias="parent"),
        "invoice_id": m.with_checks(
            _of_a_line(m.text("invoice_id", required=True)),
            m.check(
                "unreadable",
                m.expr(
                    "'invoices is not a list: ' || left(", m.at("invoices", alias="parent"), ", 60)"
                ),
            ),
        ),
        "amount_applied": _of_a_line(m.money("amount_applied")),
        # Zoho's application lines carry the invoice's date, not their own: use the payment's.
        "applied_date": m.date("date", alias="parent"),
    },
)

MAPPINGS: tuple[m.Mapping, ...] = (
    CUSTOMER_MAPPING,
    INVOICE_MAPPING,
    PAYMENT_MAPPING,
    APPLICATION_MAPPING,
)
