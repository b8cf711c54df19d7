"""Ledger entities as Business Central API v2.0 JSON objects.

Conventions (as the real API): ids are lowercase GUIDs, an unset reference the empty GUID;
money is a JSON number carrying the ledger's exact `Decimal` digits; timestamps are UTC with `Z`
and milliseconds (`2020-08-21T00:25:58.337Z`); dates `YYYY-MM-DD`, `0001-01-01` for none;
missing text is "". Every entity carries an `@odata.etag` that changes when the entity does.
"""

from __future__ import annotations

import base64
import hashlib
from datetime import UTC, datetime
from decimal import Decimal
from typing import TYPE_CHECKING

from sandbox import jsonbody
from sandbox.business_central.ids import bc_id, named_id
from sandbox.ledger import Customer, Invoice

if TYPE_CHECKING:
    from sandbox.business_central.companydata import CompanyData, Line

EMPTY_GUID = "00000000-0000-0000-0000-000000000000"
NO_DATE = "0001-01-01"
JOURNALS_CREATED = datetime(2024, 1, 2, 9, 0, tzinfo=UTC)
SYSTEM_VERSION = "26.0.30643.32481"


def timestamp(moment: datetime) -> str:
    return moment.astimezone(UTC).isoformat(timespec="milliseconds").replace("+00:00", "Z")


def with_etag(entity: dict[str, object]) -> dict[str, object]:
    digest = hashlib.blake2b(jsonbody.dumps(entity), digest_size=12).digest()
    token = base64.b64encode(b"'" + digest.hex().encode() + b"'").decode()
    return {"@odata.etag": f'W/"{token}"', **entity}


def company(company_id: str, name: str) -> dict[str, object]:
    return with_etag(
        {
            "id": company_id,
            "systemVersion": SYSTEM_VERSION,
            "timestamp": int(hashlib.blake2b(name.encode(), digest_size=3).hexdigest(), 16),
            "name": name,
            "displayName": name,
            "businessProfileId": "",
            "systemCreatedAt": timestamp(JOURNALS_CREATED),
            "systemCreatedBy": EMPTY_GUID,
            "systemModifiedAt": timestamp(JOURNALS_CREATED),
            "systemModifiedBy": EMPTY_GUID,
        }
    )


def customer(c: Customer, data: CompanyData) -> dict[str, object]:
    return with_etag(
        {
            "id": bc_id(data.company_id, "customer", c.customer_id),
            "number": c.number,
            "displayName": c.name,
            "type": "Company" if c.kind == "company" else "Person",
            "addressLine1": "",
            "addressLine2": "",
            "city": "",
            "state": "",
            "country": "",
            "postalCode": c.postal_code or "",
            "phoneNumber": c.phone or "",
            "email": c.email or "",
            "website": c.website or "",
            "salespersonCode": "",
            "balanceDue": data.customer_balance.get(c.customer_id, Decimal("0.00")),
            "creditLimit": c.credit_limit if c.credit_limit is not None else Decimal(0),
            "taxLiable": False,
            "taxAreaId": EMPTY_GUID,
            "taxAreaDisplayName": "",
            "taxRegistrationNumber": c.tax_id or "",
            "currencyId": _currency_id(c.currency_code, data),
            "currencyCode": c.currency_code,
            "paymentTermsId": named_id(data.company_id, f"terms:{c.payment_terms_days}"),
            "shipmentMethodId": EMPTY_GUID,
            "paymentMethodId": EMPTY_GUID,
            "blocked": "All" if c.status == "inactive" else " ",
            "lastModifiedDateTime": timestamp(c.updated_at),
        }
    )


def invoice_status(inv: Invoice, remaining: Decimal) -> str:
    """BC's vocabulary: posted invoices are Open until their remaining amount is 0."""
    if inv.status == "draft":
        return "Draft"
    if inv.status == "void":
        return "Canceled"
    return "Paid" if remaining <= 0 else "Open"


def invoice(inv: Invoice, data: CompanyData) -> dict[str, object]:
    remaining = data.remaining[inv.invoice_id]
    owner = data.customers.get(inv.customer_id)
    return with_etag(
        {
            "id": bc_id(data.company_id, "invoice", inv.invoice_id),
            "number": inv.invoice_number,
            "externalDocumentNumber": "",
            "invoiceDate": inv.issue_date.isoformat(),
            "postingDate": inv.issue_date.isoformat() if inv.status != "draft" else NO_DATE,
            "dueDate": inv.due_date.isoformat(),
            "customerPurchaseOrderReference": "",
            "customerId": bc_id(data.company_id, "customer", inv.customer_id),
            "customerNumber": owner.number if owner else "",
            "customerName": owner.name if owner else "",
            "billToCustomerId": bc_id(data.company_id, "customer", inv.customer_id),
            "currencyId": _currency_id(inv.currency_code, data),
            "currencyCode": inv.currency_code,
            "orderId": EMPTY_GUID,
            "orderNumber": "",
            "paymentTermsId": EMPTY_GUID,
            "salesperson": "",
            "pricesIncludeTax": False,
            "remainingAmount": remaining,
            "discountAmount": Decimal(0),
            "discountAppliedBeforeTax": True,
            "totalAmountExcludingTax": inv.subtotal,
            "totalTaxAmount": inv.tax_amount,
            "totalAmountIncludingTax": inv.total_amount,
            "status": invoice_status(inv, remaining),
            "lastModifiedDateTime": timestamp(data.invoice_modified(inv.invoice_id)),
            "phoneNumber": "",
            "email": "",
        }
    )


def invoice_lines(inv: Invoice, data: CompanyData) -> list[dict[str, object]]:
    """An invoice's lines: the ledger keeps totals only, so one service line carries them."""
    tax_percent = (
        (inv.tax_amount * 100 / inv.subtotal).quantize(Decimal("0.01"))
        if inv.subtotal
        else Decimal(0)
    )
    line_id = bc_id(data.company_id, "invoice_line", inv.invoice_id)
    return [
        with_etag(
            {
                "id": line_id,
                "documentId": bc_id(data.company_id, "invoice", inv.invoice_id),
                "sequence": 10000,
                "itemId": EMPTY_GUID,
                "accountId": named_id(data.company_id, "account:sales"),
                "lineType": "Account",
                "lineObjectNumber": "6110",
                "description": f"Services, invoice {inv.invoice_number}",
                "unitOfMeasureCode": "",
                "quantity": Decimal(1),
                "unitPrice": inv.subtotal,
                "discountAmount": Decimal(0),
                "discountPercent": Decimal(0),
                "discountAppliedBeforeTax": True,
                "amountExcludingTax": inv.subtotal,
                "taxCode": "",
                "taxPercent": tax_percent,
                "totalTaxAmount": inv.tax_amount,
                "amountIncludingTax": inv.total_amount,
                "invoiceDiscountAllocation": Decimal(0),
                "netAmount": inv.subtotal,
                "netTaxAmount": inv.tax_amount,
                "netAmountIncludingTax": inv.total_amount,
                "shipmentDate": inv.issue_date.isoformat(),
            }
        )
    ]


def credit_memo(number: int, inv: Invoice, amount: Decimal, data: CompanyData) -> dict[str, object]:
    """A posted credit memo applied to `inv`: how BC carries an invoice's credits and write-offs."""
    owner = data.customers.get(inv.customer_id)
    return with_etag(
        {
            "id": bc_id(data.company_id, "credit_memo", number),
            "number": f"CM{number:07d}",
            "externalDocumentNumber": "",
            "creditMemoDate": inv.issue_date.isoformat(),
            "postingDate": inv.issue_date.isoformat(),
            "dueDate": inv.issue_date.isoformat(),
            "customerId": bc_id(data.company_id, "customer", inv.customer_id),
            "customerNumber": owner.number if owner else "",
            "customerName": owner.name if owner else "",
            "currencyId": _currency_id(inv.currency_code, data),
            "currencyCode": inv.currency_code,
            "pricesIncludeTax": False,
            "discountAmount": Decimal(0),
            "totalAmountExcludingTax": amount,
            "totalTaxAmount": Decimal(0),
            "totalAmountIncludingTax": amount,
            "status": "Paid",
            "lastModifiedDateTime": timestamp(inv.created_at),
            "invoiceId": bc_id(data.company_id, "invoice", inv.invoice_id),
            "invoiceNumber": inv.invoice_number,
            "customerReturnReasonId": EMPTY_GUID,
        }
    )


def journal(index: int, data: CompanyData) -> dict[str, object]:
    return with_etag(
        {
            "id": data.journal_ids[index],
            "code": data.journals[index].code,
            "displayName": data.journals[index].display_name,
            "balancingAccountId": EMPTY_GUID,
            "balancingAccountNumber": "",
            "lastModifiedDateTime": timestamp(JOURNALS_CREATED),
        }
    )


def payment_line(line: Line, data: CompanyData) -> dict[str, object]:
    payment = line.payment
    owner = data.customers.get(payment.customer_id)
    inv = data.invoices.get(line.invoice_id) if line.invoice_id is not None else None
    return with_etag(
        {
            "id": line.line_id,
            "journalId": data.journal_ids[line.journal],
            "journalDisplayName": data.journals[line.journal].code,
            "lineNumber": line.line_number,
            "customerId": bc_id(data.company_id, "customer", payment.customer_id),
            "customerNumber": owner.number if owner else "",
            "postingDate": payment.payment_date.isoformat(),
            "documentNumber": payment.payment_number,
            "externalDocumentNumber": payment.reference or "",
            "amount": -line.amount if data.negative_amounts else line.amount,
            "appliesToInvoiceId": (
                bc_id(data.company_id, "invoice", line.invoice_id)
                if line.invoice_id is not None
                else EMPTY_GUID
            ),
            "appliesToInvoiceNumber": inv.invoice_number if inv else "",
            "description": owner.name if owner else "",
            "comment": "",
            "lastModifiedDateTime": timestamp(payment.updated_at),
        }
    )


def _currency_id(code: str, data: CompanyData) -> str:
    """Local currency is the empty GUID, as in BC; the code is still reported."""
    if code == data.ledger.base_currency:
        return EMPTY_GUID
    return named_id(data.company_id, f"currency:{code}")
