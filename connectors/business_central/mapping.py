"""Business Central payloads → canonical rows (declarative; see models.mapping).

Payments. BC's API serves customer payments only as *unposted* journal lines, one invoice per
line (`appliesToInvoiceId`); a receipt split over several invoices is several lines sharing a
`documentNumber`. So a canonical payment is a document number's lines (a line without one is a
payment of its own), its amount the sum of the lines' amounts (sign normalized: journals may hold
receipts as negative amounts), and each line with an invoice is an application.

Posting a journal deletes its lines and lowers the remaining amounts of the invoices they applied
to. ledgersync keeps every line it has seen, and decides per line:

- live: still listed → the payment is `pending` (the invoice's remainingAmount ignores it);
- posted: vanished, and the remaining amount of its invoice fell, between the line's last sighting
  and any later version of the invoice, by at least the lines that vanished from that invoice at
  the same moment; a vanished line without an invoice (or with one ledgersync does not have)
  counts as posted when a line of its journal that vanished at the same moment was posted;
- vanished: otherwise (deleted, not posted) → the payment gets `deleted_at`, which reconciliation
  reports as a record vanished from the source.

A payment is `posted` once all its lines are posted, and vanished if any line vanished unposted.
"""

from __future__ import annotations

from models import mapping as m
from models.schema import CUSTOMERS, INVOICES, PAYMENT_APPLICATIONS, PAYMENTS

from .settings import EMPTY_GUID, TIMESTAMP_FORMATS

_ONE_TABLE = "SELECT connection_id, record_id, payload AS p, vanished_at FROM {%s}"


def _local_rate(alias: str) -> m.Field:
    """BC's API carries no exchange rate, but a document in the company's local currency (its
    `currencyId` the empty GUID) is at 1 to it: the base currency is then known, and local
    documents have base amounts. Foreign ones stay without a rate."""
    local = m.expr("(", m.at("currencyId", alias=alias), f" = '{EMPTY_GUID}')")
    return m.sql(m.expr("if(", local, ", 1, NULL)::DECIMAL(18, 8)"))


def _dropping(field: m.Field, empty: str) -> m.Field:
    """`field`, NULL where BC writes its "no value" (a 0 credit limit, a 0001-01-01 date)."""
    return m.Field(m.expr("nullif(", field.value, f", {empty})"), field.checks)


CUSTOMER_MAPPING = m.Mapping(
    table=CUSTOMERS,
    stream="customers",
    relation=_ONE_TABLE % "customers",
    fields={
        "customer_id": m.text("id", required=True),
        "customer_number": m.text("number"),
        "name": m.text("displayName", required=True),
        "kind": m.enum("type", {"company": "company", "person": "person"}),
        "email": m.text("email"),
        "phone": m.text("phoneNumber"),
        "tax_id": m.text("taxRegistrationNumber"),
        "postal_code": m.text("postalCode"),
        "website": m.text("website"),
        "currency_code": m.currency("currencyCode"),
        "payment_terms_days": m.const(None),  # BC names terms by id (paymentTermsId) only
        "credit_limit": _dropping(
            m.money("creditLimit", required=False, non_negative=True), "0::DECIMAL(18,4)"
        ),
        # `blocked`: " " (not), Ship (may still be invoiced), Invoice, All.
        "status": m.enum(
            "blocked", {"": "active", "ship": "active", "invoice": "inactive", "all": "inactive"}
        ),
        "source_balance": m.money("balanceDue", required=False),
        "created_at": m.const(None),
        "updated_at": m.timestamp("lastModifiedDateTime", formats=TIMESTAMP_FORMATS, required=True),
    },
)

INVOICE_STATUSES = {
    "": "draft",
    "draft": "draft",
    "in review": "draft",
    "open": "open",
    "paid": "paid",
    "canceled": "void",
    "corrective": "void",  # cancelled by a corrective credit memo
}
_STATUS = m.enum("status", INVOICE_STATUSES)
_TOTAL = m.money("totalAmountIncludingTax", non_negative=True)
_REMAINING = m.money("remainingAmount", required=False)

# Credits and write-offs reach an invoice as posted credit memos linked to it (`invoiceId`).
_CREDIT_AMOUNT = m.exact_money("(payload ->> '$.totalAmountIncludingTax')")
INVOICE_MAPPING = m.Mapping(
    table=INVOICES,
    stream="sales_invoices",
    relation=(
        "SELECT i.connection_id, i.record_id, i.payload AS p, i.vanished_at, c.credited, "
        "c.bad_credits FROM {sales_invoices} i LEFT JOIN ("
        "SELECT connection_id, (payload ->> '$.invoiceId') AS invoice_id, "
        f"sum({_CREDIT_AMOUNT}) AS credited, "
        f"count(*) FILTER (WHERE {_CREDIT_AMOUNT} IS NULL) AS bad_credits "
        "FROM {sales_credit_memos} "
        "WHERE vanished_at IS NULL AND (payload ->> '$.status') IN ('Open', 'Paid') "
        "GROUP BY ALL) c ON c.connection_id = i.connection_id AND c.invoice_id = i.record_id"
    ),
    fields={
        "invoice_id": m.text("id", required=True),
        "invoice_number": m.text("number"),
        "customer_id": m.text("customerId", required=True),
        "status": m.sql(
            m.template(
                "CASE WHEN {status} = 'open' AND {remaining} < {total} THEN 'partially_paid' "
                "ELSE {status} END",
                status=_STATUS.value,
                remaining=_REMAINING.value,
                total=_TOTAL.value,
            ),
            *_STATUS.checks,
        ),
        "issue_date": m.date("invoiceDate"),
        "due_date": _dropping(m.date("dueDate", required=False), "DATE '0001-01-01'"),
        "currency_code": m.currency("currencyCode"),
        "exchange_rate": _local_rate("p"),
        "subtotal": m.money("totalAmountExcludingTax", required=False),
        "tax_amount": m.money("totalTaxAmount", required=False, default_zero=True),
        "total_amount": _TOTAL,
        "credits_applied": m.sql(
            "coalesce(credited, 0)::DECIMAL(18,4)",
            m.check(
                "coalesce(bad_credits, 0) > 0",
                "'a credit memo of this invoice has a total that is not a number'",
            ),
        ),
        "write_off_amount": m.sql("0::DECIMAL(18,4)"),
        "source_balance": _REMAINING,
        "updated_at": m.timestamp("lastModifiedDateTime", formats=TIMESTAMP_FORMATS, required=True),
    },
)

_LINE_AMOUNT = m.money("amount")
# Missing, not a number, or not an exact DECIMAL(18,4).
_LINE_AMOUNT_BAD = m.template(
    "{text} IS NULL OR NOT {is_number} OR {exact} IS NULL "
    "OR TRY_CAST({text} AS DECIMAL(38,12)) <> {exact}",
    text=m.at("amount"),
    is_number=m.is_number("amount"),
    exact=_LINE_AMOUNT.value,
)
_CUSTOMER = m.text("customerId", required=True)
_LINE_MODIFIED = m.timestamp("lastModifiedDateTime", formats=TIMESTAMP_FORMATS, required=True)

# Every line ever seen, with its payment (document) and its state: live, posted or vanished.
_LINES = f"""
WITH lines AS (
    SELECT connection_id, record_id, p, fetched_at, vanished_at,
           {_LINE_AMOUNT.value.render()} AS amount,
           {_LINE_AMOUNT_BAD.render()} AS bad_amount,
           {_LINE_MODIFIED.value.render()} AS modified,
           nullif(nullif(trim(p ->> '$.appliesToInvoiceId'), ''), '{EMPTY_GUID}') AS invoice_id,
           coalesce(nullif(trim(p ->> '$.documentNumber'), ''), record_id) AS payment_id,
           (p ->> '$.journalId') AS journal_id,
           TRY_CAST(p ->> '$.lineNumber' AS BIGINT) AS line_number
    FROM (SELECT *, payload AS p FROM {{customer_payments}})
),
invoice_versions AS (
    SELECT connection_id, record_id, changed_at AS valid_from, NULL::TIMESTAMPTZ AS valid_to,
           TRY_CAST(payload ->> '$.remainingAmount' AS DECIMAL(18,4)) AS remaining
    FROM {{sales_invoices}}
    UNION ALL
    SELECT connection_id, record_id, valid_from, valid_to,
           TRY_CAST(payload ->> '$.remainingAmount' AS DECIMAL(18,4))
    FROM {{sales_invoices}}__history
),
vanished_together AS (
    SELECT connection_id, invoice_id, vanished_at, max(fetched_at) AS last_seen,
           sum(abs(amount)) AS amount
    FROM lines WHERE vanished_at IS NOT NULL AND invoice_id IS NOT NULL
    GROUP BY connection_id, invoice_id, vanished_at
),
settled AS (
    SELECT g.connection_id, g.invoice_id, g.vanished_at,
           coalesce(max(v.remaining) FILTER (WHERE v.valid_from <= g.last_seen)
                    - min(v.remaining) >= any_value(g.amount), false) AS posted
    FROM vanished_together g
    JOIN invoice_versions v
      ON v.connection_id = g.connection_id AND v.record_id = g.invoice_id
     AND (v.valid_to IS NULL OR v.valid_to > g.last_seen)
    GROUP BY g.connection_id, g.invoice_id, g.vanished_at
),
posted_journals AS (
    SELECT DISTINCT l.connection_id, l.journal_id, l.vanished_at
    FROM lines l JOIN settled s
      ON s.connection_id = l.connection_id AND s.invoice_id = l.invoice_id
     AND s.vanished_at = l.vanished_at
    WHERE s.posted
),
line_states AS (
    SELECT l.*,
           CASE WHEN l.vanished_at IS NULL THEN 'live'
                WHEN s.posted THEN 'posted'
                WHEN s.posted IS NULL AND j.journal_id IS NOT NULL THEN 'posted'
                ELSE 'vanished' END AS state
    FROM lines l
    LEFT JOIN settled s
      ON s.connection_id = l.connection_id AND s.invoice_id = l.invoice_id
     AND s.vanished_at = l.vanished_at
    LEFT JOIN posted_journals j
      ON j.connection_id = l.connection_id AND j.journal_id = l.journal_id
     AND j.vanished_at = l.vanished_at
)
"""

# Journal lines carry no currency: a payment is in its invoices' currency (BC requires the
# applied entry's), else its customer's; and local (rate 1) when that currency is.
PAYMENT_MAPPING = m.Mapping(
    table=PAYMENTS,
    stream="customer_payments",
    relation=_LINES
    + """
SELECT l.connection_id, l.payment_id AS record_id,
       arg_min(l.p, coalesce(l.line_number, 0)) AS p,
       json_object('currencyCode', coalesce(
           min(i.payload ->> '$.currencyCode'), min(c.payload ->> '$.currencyCode')),
                   'currencyId', coalesce(
           min(i.payload ->> '$.currencyId'), min(c.payload ->> '$.currencyId'))) AS x,
       sum(abs(l.amount)) AS amount,
       count(*) FILTER (WHERE l.bad_amount) AS bad_amounts,
       count(DISTINCT (l.p ->> '$.customerId')) AS customers,
       max(l.modified) AS updated_at,
       count(*) FILTER (WHERE l.modified IS NULL) AS bad_timestamps,
       CASE WHEN bool_and(l.state = 'posted') THEN 'posted' ELSE 'pending' END AS status,
       max(l.vanished_at) FILTER (WHERE l.state = 'vanished') AS deleted_at,
       max(l.vanished_at) AS vanished_at
FROM line_states l
LEFT JOIN {sales_invoices} i
  ON i.connection_id = l.connection_id AND i.record_id = l.invoice_id
LEFT JOIN {customers} c
  ON c.connection_id = l.connection_id AND c.record_id = (l.p ->> '$.customerId')
GROUP BY l.connection_id, l.payment_id
""",
    fields={
        "payment_id": m.sql("record_id"),
        "payment_number": m.text("documentNumber"),
        "customer_id": m.with_checks(
            _CUSTOMER,
            m.check("customers > 1", "'the lines of this document are for several customers'"),
        ),
        "payment_date": m.date("postingDate"),
        "currency_code": m.currency("currencyCode", alias="x"),
        "exchange_rate": _local_rate("x"),
        "amount": m.sql(
            "amount",
            m.check(
                "bad_amounts > 0",
                "'a line amount is missing, not a number or has more than 4 decimal places'",
            ),
        ),
        "bank_charges": m.sql("0::DECIMAL(18,4)"),
        "method": m.const(None),
        "reference": m.text("externalDocumentNumber"),
        "status": m.sql("status"),
        "source_unapplied_amount": m.const(None),
        "updated_at": m.sql(
            "updated_at",
            m.check("bad_timestamps > 0", "'a line lastModifiedDateTime is not a timestamp'"),
        ),
        "deleted_at": m.sql("deleted_at"),
    },
)

APPLICATION_MAPPING = m.Mapping(
    table=PAYMENT_APPLICATIONS,
    stream="customer_payments",
    relation=_LINES
    + "SELECT connection_id, record_id, p, vanished_at, payment_id FROM line_states "
    "WHERE invoice_id IS NOT NULL",
    fields={
        "application_id": m.sql("record_id"),
        "payment_id": m.sql("payment_id"),
        "invoice_id": m.text("appliesToInvoiceId", required=True),
        "amount_applied": m.Field(m.expr("abs(", _LINE_AMOUNT.value, ")"), _LINE_AMOUNT.checks),
        "applied_date": m.date("postingDate"),
    },
)

MAPPINGS: tuple[m.Mapping, ...] = (
    CUSTOMER_MAPPING,
    INVOICE_MAPPING,
    PAYMENT_MAPPING,
    APPLICATION_MAPPING,
)
