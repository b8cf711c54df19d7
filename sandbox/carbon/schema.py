"""The Carbon tables and views the sandbox serves, with their column types (SOURCES.md §1.2).

Only what a receivables extractor touches is modelled; column names and types follow Carbon's
generated Supabase types. `salesInvoice` is the table whose stored totals and status go stale;
`salesInvoices` is the view that computes them (read this one).
"""

from __future__ import annotations

from collections.abc import Mapping

from sandbox.carbon.postgrest import (
    BOOLEAN,
    DATE,
    INTEGER,
    JSONB,
    NUMERIC,
    TEXT,
    TEXT_ARRAY,
    TIMESTAMPTZ,
    PgType,
    enum,
)

PAYMENT_TYPE = enum("paymentType", "Receipt", "Disbursement")
PAYMENT_STATUS = enum("paymentStatus", "Draft", "Posted", "Voided")
MEMO_DIRECTION = enum("memoDirection", "Credit", "Debit")
MEMO_STATUS = enum("memoStatus", "Draft", "Posted", "Voided")
SALES_INVOICE_STATUS = enum(
    "salesInvoiceStatus",
    "Draft",
    "Pending",
    "Submitted",
    "Return",
    "Credit Note Issued",
    "Paid",
    "Partially Paid",
    "Overdue",
    "Voided",
)
CALCULATION_METHOD = enum("paymentTermCalculationMethod", "Net", "End of Month", "Day of Month")

_AUDIT: dict[str, PgType] = {
    "createdAt": TIMESTAMPTZ,
    "createdBy": TEXT,
    "updatedAt": TIMESTAMPTZ,
    "updatedBy": TEXT,
}

COMPANY: dict[str, PgType] = {
    "id": TEXT,
    "name": TEXT,
    "baseCurrencyCode": TEXT,
    "countryCode": TEXT,
    **_AUDIT,
}

CUSTOMER: dict[str, PgType] = {
    "id": TEXT,
    "readableId": TEXT,
    "name": TEXT,
    "customerTypeId": TEXT,
    "customerStatusId": TEXT,
    "accountManagerId": TEXT,
    "salesContactId": TEXT,
    "assignee": TEXT,
    "logo": TEXT,
    "companyId": TEXT,
    "currencyCode": TEXT,
    "taxPercent": NUMERIC,
    "phone": TEXT,
    "fax": TEXT,
    "website": TEXT,
    "tags": TEXT_ARRAY,
    "defaultCc": TEXT_ARRAY,
    "customFields": JSONB,
    "intercompanyCompanyId": TEXT,
    "embedding": TEXT,
    **_AUDIT,
}

CUSTOMER_PAYMENT: dict[str, PgType] = {
    "customerId": TEXT,
    "companyId": TEXT,
    "invoiceCustomerId": TEXT,
    "invoiceCustomerLocationId": TEXT,
    "invoiceCustomerContactId": TEXT,
    "paymentTermId": TEXT,
    "updatedAt": TIMESTAMPTZ,
    "updatedBy": TEXT,
}

PAYMENT_TERM: dict[str, PgType] = {
    "id": TEXT,
    "name": TEXT,
    "daysDue": INTEGER,
    "daysDiscount": INTEGER,
    "discountPercentage": NUMERIC,
    "calculationMethod": CALCULATION_METHOD,
    "active": BOOLEAN,
    "companyId": TEXT,
    **_AUDIT,
}

SALES_INVOICE: dict[str, PgType] = {
    "id": TEXT,
    "invoiceId": TEXT,
    "status": SALES_INVOICE_STATUS,
    "customerId": TEXT,
    "invoiceCustomerId": TEXT,
    "invoiceCustomerLocationId": TEXT,
    "invoiceCustomerContactId": TEXT,
    "customerReference": TEXT,
    "paymentTermId": TEXT,
    "postingDate": DATE,
    "dateIssued": DATE,
    "dateDue": DATE,
    "datePaid": DATE,
    "currencyCode": TEXT,
    "exchangeRate": NUMERIC,
    "exchangeRateUpdatedAt": TIMESTAMPTZ,
    "subtotal": NUMERIC,
    "totalDiscount": NUMERIC,
    "totalAmount": NUMERIC,
    "totalTax": NUMERIC,
    "locationId": TEXT,
    "opportunityId": TEXT,
    "shipmentId": TEXT,
    "assignee": TEXT,
    "companyId": TEXT,
    "customFields": JSONB,
    "tags": TEXT_ARRAY,
    **_AUDIT,
}

# The view: the table's columns with status as computed text, plus computed totals and balance.
SALES_INVOICES: dict[str, PgType] = {
    **SALES_INVOICE,
    "status": TEXT,
    "baseStatus": SALES_INVOICE_STATUS,
    "invoiceTotal": NUMERIC,
    "balance": NUMERIC,
    "lines": JSONB,
    "paymentTermName": TEXT,
    "needsReview": BOOLEAN,
}

PAYMENT: dict[str, PgType] = {
    "id": TEXT,
    "paymentId": TEXT,
    "paymentType": PAYMENT_TYPE,
    "status": PAYMENT_STATUS,
    "customerId": TEXT,
    "supplierId": TEXT,
    "paymentDate": DATE,
    "postingDate": DATE,
    "currencyCode": TEXT,
    "exchangeRate": NUMERIC,
    "totalAmount": NUMERIC,
    "bankAccount": TEXT,
    "reference": TEXT,
    "memo": TEXT,
    "journalId": TEXT,
    "postedAt": TIMESTAMPTZ,
    "postedBy": TEXT,
    "voidedAt": TIMESTAMPTZ,
    "voidedBy": TEXT,
    "companyId": TEXT,
    "customFields": JSONB,
    **_AUDIT,
}

INVOICE_SETTLEMENT: dict[str, PgType] = {
    "id": TEXT,
    "paymentId": TEXT,
    "memoId": TEXT,
    "targetSalesInvoiceId": TEXT,
    "targetPurchaseInvoiceId": TEXT,
    "targetMemoId": TEXT,
    "appliedAmount": NUMERIC,
    "discountAmount": NUMERIC,
    "writeOffAmount": NUMERIC,
    "sourceAmount": NUMERIC,
    "sourceExchangeRate": NUMERIC,
    "targetExchangeRate": NUMERIC,
    "fxGainLossAmount": NUMERIC,
    "appliedDate": DATE,
    "companyId": TEXT,
    "createdAt": TIMESTAMPTZ,
    "createdBy": TEXT,
}

MEMO: dict[str, PgType] = {
    "id": TEXT,
    "memoId": TEXT,
    "direction": MEMO_DIRECTION,
    "status": MEMO_STATUS,
    "customerId": TEXT,
    "supplierId": TEXT,
    "memoDate": DATE,
    "amount": NUMERIC,
    "currencyCode": TEXT,
    "exchangeRate": NUMERIC,
    "postedAt": TIMESTAMPTZ,
    "companyId": TEXT,
    **_AUDIT,
}

TABLES: Mapping[str, Mapping[str, PgType]] = {
    "company": COMPANY,
    "customer": CUSTOMER,
    "customerPayment": CUSTOMER_PAYMENT,
    "paymentTerm": PAYMENT_TERM,
    "salesInvoice": SALES_INVOICE,
    "salesInvoices": SALES_INVOICES,
    "payment": PAYMENT,
    "invoiceSettlement": INVOICE_SETTLEMENT,
    "memo": MEMO,
}
