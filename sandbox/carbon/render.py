"""One company's `Ledger` as Carbon rows (typed Python values; `postgrest` writes the JSON).

How the ledger maps onto Carbon's tables:

* a Customer is a `customer` row plus its `customerPayment` settings row, whose `paymentTermId`
  names one `paymentTerm` per distinct number of days due;
* an Invoice is a `salesInvoices` view row (computed totals, `balance`, status) and a
  `salesInvoice` table row whose stored totals are those set when the header was created (0) and
  whose status is the base one: reading the table instead of the view gets stale numbers;
* a Payment is a `payment` row of type Receipt: Posted, Voided, or Draft for the payment ids
  given as drafts (money received but not posted yet); each Application is an
  `invoiceSettlement` from its payment;
* an invoice's credits_applied and write_off_amount are one Posted credit `memo` settled on the
  invoice, with appliedAmount = credits_applied and writeOffAmount = write_off_amount (a Carbon
  settlement's discount and write-off reduce the open balance without consuming money);
* one supplier Disbursement per 20 payments, settled on a purchase invoice: rows the extractor's
  filters (`paymentType=eq.Receipt`, `targetSalesInvoiceId=not.is.null`) must leave out.

`updatedAt` is null until a row's first edit, as in Carbon: a customer changed after its
creation carries its change time; a receivable invoice never does (posting a payment changes the
view's balance, not the invoice); a voided invoice or payment carries its void time, a posted
payment its posting time (its creation, unless it was posted from draft later), a draft none.
Settlements have only `createdAt`.

The view's `balance` is the ledger's source balance plus what draft payments apply to the
invoice (Carbon counts only Posted settlements), written like PostgreSQL writes the division
behind it (16 decimal places) for foreign-currency invoices.
"""

from __future__ import annotations

from collections import defaultdict
from dataclasses import dataclass, field
from datetime import UTC, date, datetime, time, timedelta
from decimal import ROUND_HALF_UP, Decimal
from typing import Any

from sandbox.carbon.ids import Kind, carbon_id, company_id
from sandbox.generator import PAYMENT_TERMS_DAYS
from sandbox.ledger import Application, Customer, Invoice, Ledger, Payment

Row = dict[str, Any]

USER = "usr_sandbox_api"
_CENT = Decimal("0.01")
_VIEW_SCALE = Decimal(1).scaleb(-16)
_ZERO = Decimal("0.00")
DISBURSEMENT_EVERY = 20


@dataclass
class _Company:
    name: str
    ledger: Ledger
    drafts: frozenset[int]
    customers: dict[int, Customer] = field(init=False)
    invoices: dict[int, Invoice] = field(init=False)
    payments: dict[int, Payment] = field(init=False)
    draft_applied: dict[int, Decimal] = field(init=False)
    last_settled: dict[int, date] = field(init=False)

    def __post_init__(self) -> None:
        self.customers = {c.customer_id: c for c in self.ledger.customers}
        self.invoices = {i.invoice_id: i for i in self.ledger.invoices}
        self.payments = {p.payment_id: p for p in self.ledger.payments}
        self.draft_applied = defaultdict(lambda: _ZERO)
        self.last_settled = {}
        for app in self.ledger.applications:
            if app.payment_id in self.drafts:
                self.draft_applied[app.invoice_id] += app.amount_applied
            elif self.payments[app.payment_id].status == "posted":
                last = self.last_settled.get(app.invoice_id)
                if last is None or app.applied_date > last:
                    self.last_settled[app.invoice_id] = app.applied_date

    def id(self, kind: Kind, ledger_id: int) -> str:
        return carbon_id(self.name, kind, ledger_id)

    @property
    def company_id(self) -> str:
        return company_id(self.name)


def tables(name: str, ledger: Ledger, drafts: frozenset[int]) -> dict[str, list[Row]]:
    """Every table's rows, in creation order (PostgREST's order when none is asked for)."""
    c = _Company(name, ledger, drafts)
    by_created = sorted(ledger.invoices, key=lambda i: (i.created_at, i.invoice_id))
    credited = [i for i in by_created if _has_adjustments(i)]
    payments = sorted(ledger.payments, key=lambda p: (p.created_at, p.payment_id))
    applications = sorted(
        ledger.applications,
        key=lambda a: (c.payments[a.payment_id].created_at, a.application_id),
    )
    customers = sorted(ledger.customers, key=lambda cu: (cu.created_at, cu.customer_id))
    disbursements = _disbursements(c)
    return {
        "company": [_company(c)],
        "customer": [_customer(cu, c) for cu in customers],
        "customerPayment": [_customer_payment(cu, c) for cu in customers],
        "paymentTerm": _payment_terms(c),
        "salesInvoice": [_invoice_table(i, c) for i in by_created],
        "salesInvoices": [_invoice_view(i, c) for i in by_created],
        "payment": [_payment(p, c) for p in payments] + [row for row, _ in disbursements],
        "invoiceSettlement": [_settlement(a, c) for a in applications]
        + [_memo_settlement(i, c) for i in credited]
        + [settlement for _, settlement in disbursements],
        "memo": [_memo(i, c) for i in credited],
    }


def _audit(created: datetime, updated: datetime | None) -> Row:
    return {
        "createdAt": created,
        "createdBy": USER,
        "updatedAt": updated,
        "updatedBy": USER if updated is not None else None,
    }


def _edited(created: datetime, updated: datetime) -> datetime | None:
    return updated if updated > created else None


def _company(c: _Company) -> Row:
    founded = datetime.combine(c.ledger.as_of - timedelta(days=3 * 365), time(9), UTC)
    return {
        "id": c.company_id,
        "name": c.name,
        "baseCurrencyCode": c.ledger.base_currency,
        "countryCode": "US",
        **_audit(founded, None),
    }


def _customer(customer: Customer, c: _Company) -> Row:
    return {
        "id": c.id("customer", customer.customer_id),
        "readableId": customer.number,
        "name": customer.name,
        "customerTypeId": None,
        "customerStatusId": None,
        "accountManagerId": None,
        "salesContactId": None,
        "assignee": None,
        "logo": None,
        "companyId": c.company_id,
        "currencyCode": customer.currency_code,
        "taxPercent": Decimal("0"),
        "phone": customer.phone,
        "fax": None,
        "website": customer.website,
        "tags": [],
        "defaultCc": [],
        "customFields": {},
        "intercompanyCompanyId": None,
        "embedding": None,
        **_audit(customer.created_at, _edited(customer.created_at, customer.updated_at)),
    }


def _customer_payment(customer: Customer, c: _Company) -> Row:
    return {
        "customerId": c.id("customer", customer.customer_id),
        "companyId": c.company_id,
        "invoiceCustomerId": c.id("customer", customer.customer_id),
        "invoiceCustomerLocationId": None,
        "invoiceCustomerContactId": None,
        "paymentTermId": c.id("payment_term", customer.payment_terms_days),
        "updatedAt": None,
        "updatedBy": None,
    }


def term_name(days: int) -> str:
    return f"Net {days}" if days else "Due on Receipt"


def _payment_terms(c: _Company) -> list[Row]:
    created = datetime.combine(c.ledger.as_of - timedelta(days=3 * 365), time(9, 5), UTC)
    days_used = {customer.payment_terms_days for customer in c.ledger.customers}
    return [
        {
            "id": c.id("payment_term", days),
            "name": term_name(days),
            "daysDue": days,
            "daysDiscount": 0,
            "discountPercentage": Decimal("0"),
            "calculationMethod": "Net",
            "active": True,
            "companyId": c.company_id,
            **_audit(created, None),
        }
        for days in sorted(days_used | set(PAYMENT_TERMS_DAYS))
    ]


def _has_adjustments(invoice: Invoice) -> bool:
    receivable = invoice.status not in ("draft", "void")
    return receivable and (invoice.credits_applied > 0 or invoice.write_off_amount > 0)


_BASE_STATUS = {"draft": "Draft", "void": "Voided"}


def _invoice_table(invoice: Invoice, c: _Company) -> Row:
    """The table row: base status, and the totals stored when the header was created."""
    customer_id = c.id("customer", invoice.customer_id)
    terms = c.customers[invoice.customer_id].payment_terms_days
    voided = _edited(invoice.created_at, invoice.updated_at) if invoice.status == "void" else None
    return {
        "id": c.id("invoice", invoice.invoice_id),
        "invoiceId": invoice.invoice_number,
        "status": _BASE_STATUS.get(invoice.status, "Submitted"),
        "customerId": customer_id,
        "invoiceCustomerId": customer_id,
        "invoiceCustomerLocationId": None,
        "invoiceCustomerContactId": None,
        "customerReference": None,
        "paymentTermId": c.id("payment_term", terms),
        "postingDate": invoice.issue_date if invoice.status != "draft" else None,
        "dateIssued": invoice.issue_date,
        "dateDue": invoice.due_date,
        "datePaid": None,
        "currencyCode": invoice.currency_code,
        "exchangeRate": invoice.exchange_rate,
        "exchangeRateUpdatedAt": invoice.created_at,
        "subtotal": _ZERO,
        "totalDiscount": _ZERO,
        "totalAmount": _ZERO,
        "totalTax": _ZERO,
        "locationId": None,
        "opportunityId": None,
        "shipmentId": None,
        "assignee": None,
        "companyId": c.company_id,
        "customFields": {},
        "tags": [],
        **_audit(invoice.created_at, voided),
    }


def _invoice_view(invoice: Invoice, c: _Company) -> Row:
    row = _invoice_table(invoice, c)
    draft = c.draft_applied.get(invoice.invoice_id, _ZERO)
    balance = invoice.source_balance + draft if invoice.status not in _BASE_STATUS else _ZERO
    status = _view_status(invoice, balance, draft, c.ledger.as_of)
    paid = c.last_settled.get(invoice.invoice_id) if status == "Paid" else None
    if invoice.exchange_rate != 1:
        balance = balance.quantize(_VIEW_SCALE)
    return {
        **row,
        "status": status,
        "baseStatus": row["status"],
        "datePaid": paid,
        "subtotal": invoice.subtotal,
        "totalTax": invoice.tax_amount,
        "totalAmount": invoice.total_amount,
        "invoiceTotal": invoice.total_amount,
        "balance": balance,
        "lines": [
            {
                "id": c.id("invoice", invoice.invoice_id) + "-1",
                "invoiceLineType": "Part",
                "quantity": 1,
                "unitPrice": invoice.subtotal,
                "itemId": None,
            }
        ],
        "paymentTermName": term_name(c.customers[invoice.customer_id].payment_terms_days),
        "needsReview": False,
    }


def _view_status(invoice: Invoice, balance: Decimal, draft: Decimal, as_of: date) -> str:
    if invoice.status in _BASE_STATUS:
        return _BASE_STATUS[invoice.status]
    if draft:  # the ledger counts the draft as applied; the view counts only Posted settlements
        paid, settled = balance <= 0, balance < invoice.total_amount
    else:
        paid, settled = invoice.status == "paid", invoice.status == "partially_paid"
    if paid:
        return "Paid"
    if invoice.due_date < as_of:
        return "Overdue"
    return "Partially Paid" if settled else "Submitted"


def _payment_number(payment_id: int, day: date) -> str:
    return f"PAY-{day:%Y}-{day:%m}-{payment_id:06d}"


def _payment(payment: Payment, c: _Company) -> Row:
    draft = payment.payment_id in c.drafts
    void = payment.status == "void"
    status = "Draft" if draft else "Voided" if void else "Posted"
    posted_at = None if draft else payment.created_at if void else payment.updated_at
    updated = None if draft else payment.updated_at
    return {
        "id": c.id("payment", payment.payment_id),
        "paymentId": _payment_number(payment.payment_id, payment.payment_date),
        "paymentType": "Receipt",
        "status": status,
        "customerId": c.id("customer", payment.customer_id),
        "supplierId": None,
        "paymentDate": payment.payment_date,
        "postingDate": None if draft else payment.payment_date,
        "currencyCode": payment.currency_code,
        "exchangeRate": payment.exchange_rate,
        "totalAmount": payment.amount,
        "bankAccount": None,
        "reference": payment.reference,
        "memo": None,
        "journalId": None,
        "postedAt": posted_at,
        "postedBy": USER if posted_at else None,
        "voidedAt": payment.updated_at if void else None,
        "voidedBy": USER if void else None,
        "companyId": c.company_id,
        "customFields": {},
        **_audit(payment.created_at, updated),
    }


def _settlement(application: Application, c: _Company) -> Row:
    payment = c.payments[application.payment_id]
    invoice = c.invoices.get(application.invoice_id)
    target_rate = invoice.exchange_rate if invoice else payment.exchange_rate
    applied = application.amount_applied
    return {
        "id": c.id("settlement", application.application_id),
        "paymentId": c.id("payment", application.payment_id),
        "memoId": None,
        "targetSalesInvoiceId": c.id("invoice", application.invoice_id),
        "targetPurchaseInvoiceId": None,
        "targetMemoId": None,
        "appliedAmount": applied,
        "discountAmount": _ZERO,
        "writeOffAmount": _ZERO,
        "sourceAmount": applied,
        "sourceExchangeRate": payment.exchange_rate,
        "targetExchangeRate": target_rate,
        "fxGainLossAmount": _base(applied * (payment.exchange_rate - target_rate)),
        "appliedDate": application.applied_date,
        "companyId": c.company_id,
        "createdAt": payment.created_at,
        "createdBy": USER,
    }


def _memo_created(invoice: Invoice) -> datetime:
    return invoice.created_at + timedelta(minutes=5)


def _memo(invoice: Invoice, c: _Company) -> Row:
    created = _memo_created(invoice)
    return {
        "id": c.id("memo", invoice.invoice_id),
        "memoId": f"CR-{invoice.invoice_id:06d}",
        "direction": "Credit",
        "status": "Posted",
        "customerId": c.id("customer", invoice.customer_id),
        "supplierId": None,
        "memoDate": invoice.issue_date,
        "amount": invoice.credits_applied + invoice.write_off_amount,
        "currencyCode": invoice.currency_code,
        "exchangeRate": invoice.exchange_rate,
        "postedAt": created,
        "companyId": c.company_id,
        **_audit(created, created),
    }


def _memo_settlement(invoice: Invoice, c: _Company) -> Row:
    return {
        "id": c.id("memo_settlement", invoice.invoice_id),
        "paymentId": None,
        "memoId": c.id("memo", invoice.invoice_id),
        "targetSalesInvoiceId": c.id("invoice", invoice.invoice_id),
        "targetPurchaseInvoiceId": None,
        "targetMemoId": None,
        "appliedAmount": invoice.credits_applied,
        "discountAmount": _ZERO,
        "writeOffAmount": invoice.write_off_amount,
        "sourceAmount": invoice.credits_applied + invoice.write_off_amount,
        "sourceExchangeRate": invoice.exchange_rate,
        "targetExchangeRate": invoice.exchange_rate,
        "fxGainLossAmount": _ZERO,
        "appliedDate": invoice.issue_date,
        "companyId": c.company_id,
        "createdAt": _memo_created(invoice),
        "createdBy": USER,
    }


def _disbursements(c: _Company) -> list[tuple[Row, Row]]:
    """Supplier payments and their settlements on purchase invoices (not receivables)."""
    rows = []
    for k in range(1, len(c.ledger.payments) // DISBURSEMENT_EVERY + 1):
        day = c.ledger.as_of - timedelta(days=7 * k)
        created = datetime.combine(day, time(15, 30), UTC)
        amount = Decimal(1000 + 37 * k).quantize(_CENT)
        payment_id = c.id("supplier_payment", k)
        payment = {
            "id": payment_id,
            "paymentId": f"PAY-{day:%Y}-{day:%m}-S{k:05d}",
            "paymentType": "Disbursement",
            "status": "Posted",
            "customerId": None,
            "supplierId": f"sup_{k:04d}",
            "paymentDate": day,
            "postingDate": day,
            "currencyCode": c.ledger.base_currency,
            "exchangeRate": Decimal("1"),
            "totalAmount": amount,
            "bankAccount": None,
            "reference": f"BILL-{k:05d}",
            "memo": None,
            "journalId": None,
            "postedAt": created,
            "postedBy": USER,
            "voidedAt": None,
            "voidedBy": None,
            "companyId": c.company_id,
            "customFields": {},
            **_audit(created, created),
        }
        settlement = {
            "id": c.id("supplier_settlement", k),
            "paymentId": payment_id,
            "memoId": None,
            "targetSalesInvoiceId": None,
            "targetPurchaseInvoiceId": f"pinv_{k:04d}",
            "targetMemoId": None,
            "appliedAmount": amount,
            "discountAmount": _ZERO,
            "writeOffAmount": _ZERO,
            "sourceAmount": amount,
            "sourceExchangeRate": Decimal("1"),
            "targetExchangeRate": Decimal("1"),
            "fxGainLossAmount": _ZERO,
            "appliedDate": day,
            "companyId": c.company_id,
            "createdAt": created,
            "createdBy": USER,
        }
        rows.append((payment, settlement))
    return rows


def _base(amount: Decimal) -> Decimal:
    return amount.quantize(_CENT, rounding=ROUND_HALF_UP)
