"""Ledger entities as Simpro API v1.0 JSON rows (every column; the app projects `columns=`).

Conventions (as the real API): ids are integers; money is a JSON number carrying the ledger's
exact `Decimal` digits; timestamps carry the build's offset, RFC 3339
(`2018-05-21T19:53:39+10:00`) or, on builds configured so, `2026-08-30 09:12:44+10`; dates
are `YYYY-MM-DD`; missing strings are "". Currency is a code on invoices and an object
`{ID, Name}` on customers and payment lines, as the swagger has it.
"""

from __future__ import annotations

from datetime import datetime, time
from decimal import Decimal
from typing import Any

import pycountry

from sandbox.ledger import Customer, Invoice, Payment
from sandbox.simpro.companydata import ZERO, Collection, CompanyData, CreditNote, Row
from sandbox.simpro.ids import simpro_id

PAYMENT_METHODS: dict[str, tuple[int, str]] = {
    "bank_transfer": (1, "Bank Transfer"),
    "check": (2, "Cheque"),
    "credit_card": (3, "Credit Card"),
    "ach": (4, "ACH"),
    "cash": (5, "Cash"),
}
# Simpro's invoice status codes are the build's own; these are a plausible set.
INVOICE_STATUS_CODES: dict[str, tuple[int, str]] = {
    "draft": (1, "Invoice : Pending Approval"),
    "open": (2, "Invoice : Issued"),
    "partially_paid": (3, "Invoice : Part Paid"),
    "paid": (4, "Invoice : Paid"),
    "void": (5, "Invoice : Void"),
}


# Every column of each collection, as `row` renders them (a build knows these).
_CUSTOMER = (
    "Phone Email Address EIN CustomerType AmountOwing Profile Banking Archived DateCreated"
    " DateModified"
)
_NAMES = ("ID", "_href", "CompanyName", "GivenName", "FamilyName")
COLUMNS: dict[Collection, tuple[str, ...]] = {
    "customers": _NAMES,
    "customer_companies": tuple(f"ID _href CompanyName {_CUSTOMER}".split()),
    "customer_individuals": tuple(f"ID _href GivenName FamilyName {_CUSTOMER}".split()),
    "customer_invoices": tuple(
        "ID RecurringInvoice Customer Jobs Stage Status Total Currency DateIssued IsCredit "
        "IsPaid IsRetainage DueDate DatePaid DateModified".split()
    ),
    "credit_notes": tuple(
        "ID Type Customer InvoiceNo Jobs Stage Total DateIssued DateCreated DateModified".split()
    ),
    "customer_payments": tuple("ID Payment Notes Invoices DateModified Exported".split()),
}
# What a list returns without `columns=`: thin rows, as in the swagger's list examples.
DEFAULT_COLUMNS: dict[Collection, tuple[str, ...]] = {
    "customers": _NAMES,
    "customer_companies": ("ID", "_href", "CompanyName"),
    "customer_individuals": ("ID", "_href", "GivenName", "FamilyName"),
    "customer_invoices": tuple(
        "ID RecurringInvoice Customer Jobs Total IsCredit IsPaid DueDate".split()
    ),
    "credit_notes": ("ID", "Customer", "InvoiceNo", "Jobs", "Stage", "Total"),
    "customer_payments": ("ID", "Payment"),
}


def row(collection: Collection, entity: Any, data: CompanyData) -> Row:
    if collection == "customers":
        return customer_summary(entity, data)
    if collection in ("customer_companies", "customer_individuals"):
        return customer(entity, data)
    if collection == "customer_invoices":
        return invoice(entity, data)
    if collection == "credit_notes":
        return credit_note(entity, data)
    return payment(entity, data)


def timestamp(moment: datetime, data: CompanyData) -> str:
    local = moment.astimezone(data.zone).replace(microsecond=0)
    if data.timestamp_style == "rfc3339":
        return local.isoformat()
    offset = local.strftime("%z")  # +1030
    short = offset[:3] if offset.endswith("00") else f"{offset[:3]}:{offset[3:]}"
    return f"{local:%Y-%m-%d %H:%M:%S}{short}"


def company(data: CompanyData) -> Row:
    """GET /companies/{ID}."""
    noon = datetime.combine(data.ledger.as_of, time(12), data.zone)
    offset = noon.strftime("%z")
    return {
        "ID": data.company_id,
        "Name": data.name,
        "Phone": "",
        "Email": "",
        "Timezone": data.zone.key,
        "TimezoneOffset": f"{offset[:3]}:{offset[3:]}",
        "Currency": data.ledger.base_currency,
        "DateModified": timestamp(noon, data),
    }


def customer_summary(c: Customer, data: CompanyData) -> Row:
    """A row of `customers/`, the list of every customer: both name forms, "" where unused."""
    return {"CompanyName": "", "GivenName": "", "FamilyName": ""} | customer(c, data)


def customer(c: Customer, data: CompanyData) -> Row:
    terms = c.payment_terms_days
    kind = "companies" if c.kind == "company" else "individuals"
    ref = customer_ref(c.customer_id, data)
    return {
        "ID": ref["ID"],
        "_href": f"/api/v1.0/companies/{data.company_id}/customers/{kind}/{ref['ID']}",
        **ref,
        "Phone": c.phone or "",
        "Email": c.email or "",
        "Address": {"Address": "", "City": "", "State": "", "PostalCode": c.postal_code or ""},
        "EIN": c.tax_id or "",
        "CustomerType": "Customer",
        "AmountOwing": data.owing.get(c.customer_id, ZERO),
        "Profile": {"Currency": currency(c.currency_code), "Notes": ""},
        "Banking": {
            "PaymentTermID": terms,
            "PaymentTerms": {"Days": terms, "Type": "Invoice"},
            "CreditLimit": c.credit_limit,
            "OnStop": False,
        },
        "Archived": c.status == "inactive",
        "DateCreated": timestamp(c.created_at, data),
        "DateModified": timestamp(c.updated_at, data),
    }


def customer_ref(customer_id: int, data: CompanyData) -> Row:
    """How a customer appears in its own row and inside invoices and payments."""
    ref: Row = {"ID": simpro_id("customer", customer_id)}
    found = data.customers.get(customer_id)
    if found is None:
        return ref
    if found.kind == "company":
        return ref | {"CompanyName": found.name}
    given, _, family = found.name.partition(" ")
    return ref | {"GivenName": given, "FamilyName": family}


def currency(code: str) -> Row:
    found = pycountry.currencies.get(alpha_3=code)
    return {"ID": code, "Name": found.name if found else code}


def invoice(inv: Invoice, data: CompanyData) -> Row:
    """`Total.Paid` is everything settled (payments and credit notes), so IncTax - Paid is the
    balance Simpro reports; nothing is settled on a draft or a voided invoice."""
    billed = inv.status not in ("draft", "void")
    last_paid = data.last_payment_date.get(inv.invoice_id)
    status_id, status_name = INVOICE_STATUS_CODES[inv.status]
    return {
        "ID": simpro_id("invoice", inv.invoice_id),
        "RecurringInvoice": False,
        "Customer": customer_ref(inv.customer_id, data),
        "Jobs": [],
        "Stage": "Pending" if inv.status == "draft" else "Approved",
        "Status": {"ID": status_id, "Name": status_name},
        "Total": {
            "ExTax": inv.subtotal,
            "IncTax": inv.total_amount,
            "Paid": inv.total_amount - inv.source_balance if billed else ZERO,
        },
        "Currency": inv.currency_code,
        "DateIssued": inv.issue_date.isoformat(),
        "IsCredit": False,
        "IsPaid": inv.status == "paid",
        "IsRetainage": False,
        "DueDate": inv.due_date.isoformat(),
        "DatePaid": last_paid.isoformat() if inv.status == "paid" and last_paid else None,
        "DateModified": timestamp(inv.updated_at, data),
    }


def credit_note(note: CreditNote, data: CompanyData) -> Row:
    inv = note.invoice
    return {
        "ID": simpro_id("credit_note", inv.invoice_id),
        "Type": note.type,
        "Customer": customer_ref(inv.customer_id, data),
        "InvoiceNo": simpro_id("invoice", inv.invoice_id),
        "Jobs": [],
        "Stage": "Approved",
        "Total": {
            "ExTax": note.amount,
            "Tax": ZERO,
            "IncTax": note.amount,
            "ReverseChargeTax": ZERO,
        },
        "DateIssued": inv.issue_date.isoformat(),
        "DateCreated": timestamp(inv.created_at, data),
        "DateModified": timestamp(inv.created_at, data),
    }


def payment(p: Payment, data: CompanyData) -> Row:
    """The invoice lines carry the amount; FinanceCharge is the fee on top of them (the
    ledger's bank charges). Every served payment applies something (see companydata)."""
    lines = [
        _line(a.invoice_id, a.amount_applied, p, data)
        for a in data.applications.get(p.payment_id, [])
    ]
    method_id, method = PAYMENT_METHODS.get(p.method, (99, p.method))
    details: Row = {
        "PaymentMethod": {"ID": method_id, "Name": method},
        "Status": "Failed" if p.status == "void" else "Complete",
        "DepositAccount": "Undeposited Funds",
        "Date": p.payment_date.isoformat(),
        "FinanceCharge": p.bank_charges,
        "CheckNo": p.reference or "",
        "Details": p.payment_number,
        "FinanceFeeBreakdown": [],
    }
    if not data.serve_payment_status:
        del details["Status"]
    return {
        "ID": simpro_id("payment", p.payment_id),
        "Payment": details,
        "Notes": "",
        "Invoices": lines,
        "DateModified": timestamp(p.updated_at, data),
        "Exported": False,
    }


def _line(invoice_id: int, amount: Decimal, p: Payment, data: CompanyData) -> Row:
    """One invoice line. Its invoice may be missing from the ledger (an orphan): the line then
    names the payment's customer and currency."""
    inv = data.invoices.get(invoice_id)
    return {
        "Invoice": {
            "ID": simpro_id("invoice", invoice_id),
            "Customer": customer_ref(inv.customer_id if inv else p.customer_id, data),
            "Jobs": [],
            "Currency": currency(inv.currency_code if inv else p.currency_code),
        },
        "Amount": amount,
    }
