"""What every report table and column means: stored as DuckDB comments, so an analyst who opens
the warehouse reads them with `SELECT * FROM duckdb_columns() WHERE schema_name = 'reports'`."""

from __future__ import annotations

__all__ = ["COLUMN_COMMENTS", "TABLE_COMMENTS"]

_BASE = " in the connection's base currency, at each document's own rate; NULL without a rate."

_SHARED = {
    "as_of": "The report date: documents and applications dated after it are left out.",
    "connection_id": "The configured account (a Zoho organization, a BC or Simpro company, …).",
    "source": "The system the records come from: zoho_books, business_central, simpro, carbon.",
    "customer_id": "The source's id of the customer.",
    "customer_name": "The customer's name; NULL when the source did not send the customer.",
    "currency_code": "ISO 4217 currency of the documents; amounts are in it unless named *_base.",
    "exchange_rate": "Document currency to the connection's base currency, as the source gave it.",
    "base_currency": (
        "The connection's base currency, inferred as the currency of its documents whose rate to "
        "the base is exactly 1."
    ),
    "invoice_id": "The source's id of the invoice.",
    "payment_id": "The source's id of the payment.",
}

_AGING = {
    "bucket_edges": (
        "Where the periods end, in days: period_1 is 1 to edges[1] days, period_k is "
        "edges[k-1]+1 to edges[k], older is beyond edges[4]. Default [30, 60, 90, 120]."
    ),
    "aging_basis": "What invoices age from: due_date (default) or issue_date.",
    "open_invoice_count": "Receivable invoices with a non-zero open balance.",
    "current": "Open balance not yet past its aging date (not due, or due today).",
    "period_1": "Open balance 1 to edges[1] days past its aging date (1-30 by default).",
    "period_2": "Open balance edges[1]+1 to edges[2] days past (31-60 by default).",
    "period_3": "Open balance edges[2]+1 to edges[3] days past (61-90 by default).",
    "period_4": "Open balance edges[3]+1 to edges[4] days past (91-120 by default).",
    "older": "Open balance more than edges[4] days past (over 120 by default).",
    "total": "All open balance: current + period_1..period_4 + older.",
    "current_base": "current" + _BASE,
    "period_1_base": "period_1" + _BASE,
    "period_2_base": "period_2" + _BASE,
    "period_3_base": "period_3" + _BASE,
    "period_4_base": "period_4" + _BASE,
    "older_base": "older" + _BASE,
    "total_base": "total" + _BASE,
}

TABLE_COMMENTS = {
    "invoice_balances": (
        "One row per invoice as of a date (issued on or before it): total, applied, credits and "
        "write-offs, the computed open balance, the source's own balance and the difference, "
        "derived status and aging. Any date: reports.invoice_balances_at(DATE)."
    ),
    "customer_balances": (
        "One row per connection, customer and currency: invoiced, applied, open, unapplied cash, "
        "net, overdue, and what the source says. Any date: reports.customer_balances_at(DATE)."
    ),
    "ar_aging": (
        "Open receivables per connection, customer and currency by age at as_of. Any date, edges "
        "and basis: reports.ar_aging_at(DATE, edges := [30, 60, 90, 120], basis := 'due_date')."
    ),
    "ar_aging_daily": (
        "ar_aging as of each day (one Dagster partition per day): how receivables moved."
    ),
    "unapplied_payments": (
        "Payments with money not applied to any invoice by as_of, and over-applied ones. "
        "Any date: reports.unapplied_payments_at(DATE)."
    ),
    "reconciliation_exceptions": (
        "One row per finding that does not reconcile at as_of: kind, keys, expected, actual, "
        "difference. Any date: reports.reconciliation_exceptions_at(DATE)."
    ),
}

_INVOICE_BALANCES = {
    "invoice_number": "The invoice's human-readable number.",
    "source_status": "The status the source gave: draft, open, paid, partially_paid or void.",
    "receivable": "False for draft and void invoices, which carry no open balance.",
    "derived_status": (
        "From the computed open balance: paid (0), partially_paid (0 < open < total), open "
        "(nothing applied, credited or written off), overpaid (open < 0), draft or void."
    ),
    "issue_date": "The invoice date; invoices issued after as_of are not in the report.",
    "due_date": "When payment is due; an invoice without one is due on its issue date.",
    "total_amount": "The invoice total, tax included.",
    "applied_amount": (
        "Payments applied by as_of: applications of posted or pending payments (not void, not "
        "vanished) dated on or before as_of, by the application's date, else the payment's. "
        "Nothing for a void invoice, nor from a payment in another currency (held out: see "
        "reconciliation_exceptions)."
    ),
    "pending_applied": (
        "The part of applied_amount from pending payments (BC journal lines, Carbon drafts): "
        "money received that the source does not yet count in its balance."
    ),
    "credits_applied": "Credit notes applied to the invoice.",
    "write_off_amount": "Amount written off.",
    "open_balance": (
        "total_amount - applied_amount - credits_applied - write_off_amount; 0 for draft and void "
        "invoices. Negative when overpaid."
    ),
    "source_balance": "What the source says is still owed, as of the last sync.",
    "expected_source_balance": (
        "What the source's balance should be by everything synced: the open balance with every "
        "synced application, plus pending applications (which the source does not count)."
    ),
    "balance_delta": (
        "source_balance - expected_source_balance: 0 when the source agrees with its own "
        "documents. Measured at the sync, whatever as_of is, as the source's balance is."
    ),
    "days_past_due": "as_of - due_date in days while a positive balance is open; else 0.",
    "age_days": "As days_past_due, but from the aging basis (due date or issue date).",
    "aging_bucket": "current, 1-30, 31-60, 61-90, 91-120 or over_120 (labels follow the edges).",
    "payment_count": "Distinct payments applied by as_of.",
    "first_payment_date": "Earliest application date by as_of.",
    "last_payment_date": "Latest application date by as_of.",
    "total_amount_base": "total_amount" + _BASE,
    "applied_amount_base": "applied_amount" + _BASE,
    "open_balance_base": "open_balance" + _BASE,
}

_CUSTOMER_BALANCES = {
    "invoice_count": "Receivable invoices in scope (issued by as_of, not draft or void).",
    "open_invoice_count": "Of those, invoices with a non-zero open balance.",
    "payment_count": "Payments in scope: posted or pending, dated on or before as_of.",
    "invoiced": "Sum of total_amount of receivable invoices.",
    "applied": "Sum of their applied_amount.",
    "credits_and_write_offs": "Sum of their credits_applied + write_off_amount.",
    "open_balance": "Sum of their open_balance.",
    "unapplied_cash": (
        "Money received by as_of not applied to an invoice (negative: over-applied); money "
        "applied to a void or vanished invoice is unapplied again."
    ),
    "net_balance": "open_balance - unapplied_cash: what the customer owes, net of cash on account.",
    "overdue": "Open balance of invoices past their due date.",
    "source_balance": "Sum of the invoices' source_balance.",
    "balance_delta": "Sum of the invoices' balance_delta.",
    "customer_source_balance": (
        "The source's own figure for the customer (Zoho outstanding_receivable_amount, BC "
        "balanceDue, Simpro AmountOwing), on the row in the customer's currency; else NULL."
    ),
    "customer_balance_delta": (
        "customer_source_balance - the expected_source_balance of all the customer's receivable "
        "invoices in that currency, by everything synced."
    ),
    "invoiced_base": "invoiced" + _BASE,
    "open_balance_base": "open_balance" + _BASE,
    "unapplied_cash_base": "unapplied_cash" + _BASE,
    "net_balance_base": "net_balance" + _BASE,
    "overdue_base": "overdue" + _BASE,
    "quarantined_documents": (
        "The customer's invoices (issued by as_of, not draft or void) and payments (dated by "
        "as_of, not void) in this currency that are in quarantine (canonical.rejected_records)."
    ),
    "quarantined_amount": (
        "What those documents would change net_balance by if they loaded: each invoice what it "
        "leaves open (less what live payments in its currency applied to it), less each "
        "payment's amount. net_balance + quarantined_amount is what the source's own documents "
        "net to."
    ),
}

_UNAPPLIED_PAYMENTS = {
    "payment_number": "The payment's human-readable number.",
    "payment_date": "When the payment was received.",
    "payment_status": "posted, or pending (received, not yet posted at the source).",
    "kind": "unapplied (nothing applied), partially_applied or over_applied.",
    "amount": "The payment amount.",
    "applied_amount": (
        "Applied by as_of to invoices, known or not, except void or vanished ones (that money "
        "is unapplied again) and ones in another currency (held_amount)."
    ),
    "held_amount": (
        "Applied by as_of to invoices in another currency: held out of both balances until the "
        "source corrects it (a currency_mismatch exception each)."
    ),
    "unapplied_amount": "amount - applied_amount - held_amount; negative when over-applied.",
    "source_unapplied_amount": "What the source says is unapplied, where it says.",
    "application_count": "Applications by as_of.",
    "days_since_payment": "as_of - payment_date in days.",
    "method": "How it was paid.",
    "reference": "The payment's reference (cheque number, transfer reference, …).",
    "amount_base": "amount" + _BASE,
    "unapplied_amount_base": "unapplied_amount" + _BASE,
}

_EXCEPTIONS = {
    "kind": (
        "orphan_application, over_applied_invoice, over_applied_payment, balance_mismatch, "
        "currency_mismatch, applied_to_void_invoice, unknown_customer, duplicate_payment or "
        "record_vanished."
    ),
    "entity": "What the finding is about: application, invoice, payment or customer.",
    "customer_id": "The customer concerned, where known.",
    "invoice_id": "The invoice concerned, if any.",
    "payment_id": "The payment concerned, if any.",
    "currency_code": "Currency of expected, actual and difference.",
    "expected": "What reconciliation expects (e.g. the balance the documents leave).",
    "actual": "What was found (e.g. the balance the source reports).",
    "difference": "actual - expected, where both are amounts.",
    "detail": "The finding in words.",
}


def _with_shared(columns: dict[str, str]) -> dict[str, str]:
    return {**_SHARED, **columns}


COLUMN_COMMENTS: dict[str, dict[str, str]] = {
    "invoice_balances": _with_shared(_INVOICE_BALANCES),
    "customer_balances": _with_shared(_CUSTOMER_BALANCES),
    "ar_aging": _with_shared(_AGING),
    "ar_aging_daily": _with_shared(_AGING),
    "unapplied_payments": _with_shared(_UNAPPLIED_PAYMENTS),
    "reconciliation_exceptions": _with_shared(_EXCEPTIONS),
}
