"""Ledger entities as Zoho Books v3 JSON objects.

Conventions (as the real API): ids are numeric strings; money is a JSON number carrying the
ledger's exact `Decimal` digits (the app's encoder never goes through float); timestamps are in
the organization's offset without a colon (`2025-04-09T11:25:54-0400`); dates are `YYYY-MM-DD`;
missing strings are "". A customer without a credit limit has no `credit_limit` field.
"""

from __future__ import annotations

from datetime import date, datetime
from decimal import ROUND_HALF_UP, Decimal

from sandbox.ledger import Application, Customer, Invoice, Payment
from sandbox.zoho_books.ids import zoho_id
from sandbox.zoho_books.orgdata import OrgData

_CENT = Decimal("0.01")
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
    row: dict[str, object] = {
        "contact_id": zoho_id(org.org_id, "contact", customer.customer_id),
        "contact_number": customer.number,
        "contact_name": customer.name,
        "company_name": customer.name if customer.kind == "company" else "",
        "contact_type": "customer",
        "customer_sub_type": "business" if customer.kind == "company" else "individual",
        "status": customer.status,
        "email": customer.email or "",
        "phone": customer.phone or "",
        "currency_code": customer.currency_code,
        "payment_terms": terms,
        "payment_terms_label": f"Net {terms}" if terms else "Due on Receipt",
        "outstanding_receivable_amount": org.outstanding.get(customer.customer_id, Decimal("0.00")),
        "created_time": timestamp(customer.created_at, org),
        "last_modified_time": timestamp(customer.updated_at, org),
    }
    if customer.credit_limit is not None:
        row["credit_limit"] = customer.credit_limit
    return row


def invoice(inv: Invoice, org: OrgData) -> dict[str, object]:
    last_payment = org.last_payment_date.get(inv.invoice_id)
    return {
        "invoice_id": zoho_id(org.org_id, "invoice", inv.invoice_id),
        "invoice_number": inv.invoice_number,
        "customer_id": zoho_id(org.org_id, "contact", inv.customer_id),
        "customer_name": _customer_name(inv.customer_id, org),
        "status": invoice_status(inv, org.ledger.as_of),
        "date": inv.issue_date.isoformat(),
        "due_date": inv.due_date.isoformat(),
        "currency_code": inv.currency_code,
        "exchange_rate": inv.exchange_rate,
        "sub_total": inv.subtotal,
        "tax_total": inv.tax_amount,
        "total": inv.total_amount,
        "balance": inv.source_balance,
        "credits_applied": inv.credits_applied,
        "write_off_amount": inv.write_off_amount,
        "last_payment_date": last_payment.isoformat() if last_payment else "",
        "created_time": timestamp(inv.created_at, org),
        "last_modified_time": timestamp(inv.updated_at, org),
    }


def payment_row(payment: Payment, org: OrgData) -> dict[str, object]:
    """A /customerpayments list row: invoice numbers only, no `invoices` array."""
    applications = org.applications.get(payment.payment_id, [])
    unused = payment.amount - sum((a.amount_applied for a in applications), Decimal(0))
    numbers = (org.invoice(a.invoice_id) for a in applications)
    return {
        "payment_id": zoho_id(org.org_id, "payment", payment.payment_id),
        "payment_number": payment.payment_number,
        "payment_mode": PAYMENT_MODES.get(payment.method, payment.method),
        "date": payment.payment_date.isoformat(),
        "customer_id": zoho_id(org.org_id, "contact", payment.customer_id),
        "customer_name": _customer_name(payment.customer_id, org),
        "amount": payment.amount,
        "bcy_amount": _base(payment.amount, payment),
        "unused_amount": unused,
        "bcy_unused_amount": _base(unused, payment),
        "invoice_numbers": ",".join(inv.invoice_number for inv in numbers if inv is not None),
        "reference_number": payment.reference or "",
        "description": "",
        "currency_code": payment.currency_code,
        "exchange_rate": payment.exchange_rate,
        "created_time": timestamp(payment.created_at, org),
        "last_modified_time": timestamp(payment.updated_at, org),
    }


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
