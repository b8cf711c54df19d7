"""Ledger entities as Zoho Books v3 JSON objects.

Conventions (as the real API): ids are numeric strings; money is a JSON number carrying the
ledger's exact `Decimal` digits (the app's encoder never goes through float); timestamps are in
the organization's offset without a colon (`2025-04-09T11:25:54-0400`); dates are `YYYY-MM-DD`.

Every list row carries the vendor's documented key set for its list (the keys of the sample
responses and OpenAPI documents of Zoho Books API v3, plus the keys named in SOURCES.md §3.3),
with "" or 0 where the ledger has no value: keys are never left out, so a client that reads
any documented key finds it. Only `credit_limit` (not in the list key set) is absent for a
customer without one. docs/sandbox-contracts.md lists the keys.
"""

from __future__ import annotations

from datetime import date, datetime
from decimal import ROUND_HALF_UP, Decimal

from sandbox.ledger import Application, Customer, Invoice, Payment
from sandbox.zoho_books.ids import currency_id, zoho_id
from sandbox.zoho_books.orgdata import OrgData

_CENT = Decimal("0.01")
_ZERO = Decimal("0.00")
# The deposit account a payment goes to, by payment mode: (ledger number, name).
_CASH_ACCOUNT, _UNDEPOSITED = (2, "Petty Cash"), (1, "Undeposited Funds")
# Zoho shows payment modes by display name; other ledger methods are passed through.
PAYMENT_MODES = {
    "bank_transfer": "Bank Transfer",
    "check": "Check",
    "credit_card": "Credit Card",
    "ach": "ACH",
    "cash": "Cash",
}


def timestamp(moment: datetime, org: OrgData) -> str:
    return moment.astimezone(org.zone.tzinfo).strftime("%Y-%m-%dT%H:%M:%S%z")


def invoice_status(invoice: Invoice, as_of: date) -> str:
    """Zoho's vocabulary: an open invoice is "sent", or "overdue" once its due date has passed
    at the ledger's as_of. A partially paid invoice stays "partially_paid" when overdue."""
    if invoice.status == "open":
        return "overdue" if invoice.due_date < as_of else "sent"
    return invoice.status


def organization(org: OrgData, *, is_default: bool) -> dict[str, object]:
    return {
        "organization_id": org.org_id,
        "name": org.name,
        "is_default_org": is_default,
        "is_org_active": True,
        "currency_code": org.ledger.base_currency,
        "time_zone": org.zone.name,
        "price_precision": 2,
        "language_code": "en",
    }


def contact(customer: Customer, org: OrgData) -> dict[str, object]:
    terms = customer.payment_terms_days
    person = customer.kind == "person"
    first, _, last = customer.name.partition(" ") if person else ("", "", "")
    row: dict[str, object] = {
        "contact_id": zoho_id(org.org_id, "contact", customer.customer_id),
        "contact_name": customer.name,
        "company_name": "" if person else customer.name,
        "contact_type": "customer",
        "status": customer.status,
        "payment_terms": terms,
        "payment_terms_label": f"Net {terms}" if terms else "Due on Receipt",
        "currency_id": currency_id(org.org_id, customer.currency_code),
        "currency_code": customer.currency_code,
        "outstanding_receivable_amount": org.outstanding.get(customer.customer_id, _ZERO),
        "outstanding_payable_amount": _ZERO,
        "unused_credits_receivable_amount": org.unused_credits.get(customer.customer_id, _ZERO),
        "unused_credits_payable_amount": _ZERO,
        "first_name": first,
        "last_name": last,
        "email": customer.email or "",
        "phone": customer.phone or "",
        "mobile": "",
        "gst_treatment": "",
        "gst_no": "",
        "place_of_contact": "",
        "contact_number": customer.number,
        "customer_sub_type": "individual" if person else "business",
        "created_time": timestamp(customer.created_at, org),
        "last_modified_time": timestamp(customer.updated_at, org),
    }
    if customer.credit_limit is not None:
        row["credit_limit"] = customer.credit_limit
    return row


def due_days(inv: Invoice, as_of: date) -> str:
    """The list's due_days text for an invoice still to be paid; "" otherwise."""
    if invoice_status(inv, as_of) not in ("sent", "overdue", "partially_paid"):
        return ""
    days = (inv.due_date - as_of).days
    if days == 0:
        return "Due Today"
    return f"Due in {days} day(s)" if days > 0 else f"Overdue by {-days} day(s)"


def invoice(inv: Invoice, org: OrgData) -> dict[str, object]:
    last_payment = org.last_payment_date.get(inv.invoice_id)
    return {
        "invoice_id": zoho_id(org.org_id, "invoice", inv.invoice_id),
        "ach_payment_initiated": False,
        "customer_name": _customer_name(inv.customer_id, org),
        "customer_id": zoho_id(org.org_id, "contact", inv.customer_id),
        "status": invoice_status(inv, org.ledger.as_of),
        "invoice_number": inv.invoice_number,
        "reference_number": "",
        "date": inv.issue_date.isoformat(),
        "due_date": inv.due_date.isoformat(),
        "due_days": due_days(inv, org.ledger.as_of),
        "currency_id": currency_id(org.org_id, inv.currency_code),
        "schedule_time": "",
        "currency_code": inv.currency_code,
        "is_viewed_by_client": False,
        "has_attachment": False,
        "client_viewed_time": "",
        "sub_total": inv.subtotal,
        "tax_total": inv.tax_amount,
        "total": inv.total_amount,
        "balance": inv.source_balance,
        "credits_applied": inv.credits_applied,
        "created_time": timestamp(inv.created_at, org),
        "last_modified_time": timestamp(inv.updated_at, org),
        "is_emailed": False,
        "reminders_sent": 0,
        "last_reminder_sent_date": "",
        "payment_expected_date": "",
        "last_payment_date": last_payment.isoformat() if last_payment else "",
        "custom_fields": [],
        "documents": [],
        "location_id": "",
        "location_name": "",
        "salesperson_id": "",
        "salesperson_name": "",
        "shipping_charge": _ZERO,
        "adjustment": _ZERO,
        "write_off_amount": inv.write_off_amount,
        "exchange_rate": inv.exchange_rate,
    }


def payment_row(payment: Payment, org: OrgData) -> dict[str, object]:
    """A /customerpayments list row: invoice numbers only, no `invoices` array."""
    applications = org.applications.get(payment.payment_id, [])
    unused = payment.amount - sum((a.amount_applied for a in applications), Decimal(0))
    numbers = (org.invoice(a.invoice_id) for a in applications)
    invoice_numbers = ",".join(inv.invoice_number for inv in numbers if inv is not None)
    account_number, account_name = _CASH_ACCOUNT if payment.method == "cash" else _UNDEPOSITED
    return {
        "payment_id": zoho_id(org.org_id, "payment", payment.payment_id),
        "payment_number": payment.payment_number,
        "invoice_numbers": invoice_numbers,
        "invoice_number": invoice_numbers,
        "date": payment.payment_date.isoformat(),
        "payment_mode": payment_mode(payment),
        "amount": payment.amount,
        "bcy_amount": _base(payment.amount, payment),
        "unused_amount": unused,
        "bcy_unused_amount": _base(unused, payment),
        "account_id": zoho_id(org.org_id, "account", account_number),
        "account_name": account_name,
        "description": "",
        "reference_number": payment.reference or "",
        "customer_id": zoho_id(org.org_id, "contact", payment.customer_id),
        "customer_name": _customer_name(payment.customer_id, org),
        "location_id": "",
        "location_name": "",
        "currency_code": payment.currency_code,
        "exchange_rate": payment.exchange_rate,
        "created_time": timestamp(payment.created_at, org),
        "last_modified_time": timestamp(payment.updated_at, org),
    }


def payment_mode(payment: Payment) -> str:
    return PAYMENT_MODES.get(payment.method, payment.method)


def payment_detail(payment: Payment, org: OrgData) -> dict[str, object]:
    """GET /customerpayments/{id}: the list row plus bank charges and the applications."""
    applications = org.applications.get(payment.payment_id, [])
    return {
        **payment_row(payment, org),
        "bank_charges": payment.bank_charges,
        "invoices": [_applied_invoice(a, org) for a in applications],
    }


def _applied_invoice(application: Application, org: OrgData) -> dict[str, object]:
    """One application. Its invoice may be missing from the ledger (an orphan): the id then
    matches no /invoices row, and the invoice's own fields are absent."""
    inv = org.invoice(application.invoice_id)
    row: dict[str, object] = {
        "invoice_id": zoho_id(org.org_id, "invoice", application.invoice_id),
        "invoice_payment_id": zoho_id(org.org_id, "invoice_payment", application.application_id),
        "invoice_number": inv.invoice_number if inv else "",
        "amount_applied": application.amount_applied,
        "date": application.applied_date.isoformat(),
    }
    if inv is not None:
        row |= {
            "total": inv.total_amount,
            "balance": inv.source_balance,
            "due_date": inv.due_date.isoformat(),
        }
    return row


def _customer_name(customer_id: int, org: OrgData) -> str:
    customer = org.customer(customer_id)
    return customer.name if customer else ""


def _base(amount: Decimal, payment: Payment) -> Decimal:
    """In the organization's base currency, to the cent."""
    return (amount * payment.exchange_rate).quantize(_CENT, rounding=ROUND_HALF_UP)
