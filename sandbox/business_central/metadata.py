"""The Business Central sandbox's service document and CSDL (`…/api/v2.0/` and `$metadata`).

Entity types, their properties and types follow the v2.0 resource pages (api-reference/v2.0/
resources/dynamics_*.md: GUID → Edm.Guid, string → Edm.String, decimal → Edm.Decimal, date →
Edm.Date, datetime → Edm.DateTimeOffset, boolean → Edm.Boolean, integer → Edm.Int32), limited
to what the sandbox serves; the rows it renders carry exactly these properties (a conformance
test holds the two together). Namespace and container are BC's: `Microsoft.NAV`, `NAV`.
"""

from __future__ import annotations

from xml.sax.saxutils import quoteattr

NAMESPACE = "Microsoft.NAV"
_G, _S, _D = "Edm.Guid", "Edm.String", "Edm.Decimal"
_DATE, _TIME, _B, _I = "Edm.Date", "Edm.DateTimeOffset", "Edm.Boolean", "Edm.Int32"

# entity type -> ((property, Edm type), ...), in the order rows carry them
PROPERTIES: dict[str, tuple[tuple[str, str], ...]] = {
    "company": (
        ("id", _G),
        ("systemVersion", _S),
        ("timestamp", "Edm.Int64"),
        ("name", _S),
        ("displayName", _S),
        ("businessProfileId", _S),
        ("systemCreatedAt", _TIME),
        ("systemCreatedBy", _G),
        ("systemModifiedAt", _TIME),
        ("systemModifiedBy", _G),
    ),
    "customer": (
        ("id", _G),
        ("number", _S),
        ("displayName", _S),
        ("type", _S),
        ("addressLine1", _S),
        ("addressLine2", _S),
        ("city", _S),
        ("state", _S),
        ("country", _S),
        ("postalCode", _S),
        ("phoneNumber", _S),
        ("email", _S),
        ("website", _S),
        ("salespersonCode", _S),
        ("balanceDue", _D),
        ("creditLimit", _D),
        ("taxLiable", _B),
        ("taxAreaId", _G),
        ("taxAreaDisplayName", _S),
        ("taxRegistrationNumber", _S),
        ("currencyId", _G),
        ("currencyCode", _S),
        ("paymentTermsId", _G),
        ("shipmentMethodId", _G),
        ("paymentMethodId", _G),
        ("blocked", _S),
        ("lastModifiedDateTime", _TIME),
    ),
    "salesInvoice": (
        ("id", _G),
        ("number", _S),
        ("externalDocumentNumber", _S),
        ("invoiceDate", _DATE),
        ("postingDate", _DATE),
        ("dueDate", _DATE),
        ("customerPurchaseOrderReference", _S),
        ("customerId", _G),
        ("customerNumber", _S),
        ("customerName", _S),
        ("billToCustomerId", _G),
        ("currencyId", _G),
        ("currencyCode", _S),
        ("orderId", _G),
        ("orderNumber", _S),
        ("paymentTermsId", _G),
        ("salesperson", _S),
        ("pricesIncludeTax", _B),
        ("remainingAmount", _D),
        ("discountAmount", _D),
        ("discountAppliedBeforeTax", _B),
        ("totalAmountExcludingTax", _D),
        ("totalTaxAmount", _D),
        ("totalAmountIncludingTax", _D),
        ("status", _S),
        ("lastModifiedDateTime", _TIME),
        ("phoneNumber", _S),
        ("email", _S),
    ),
    "salesInvoiceLine": (
        ("id", _G),
        ("documentId", _G),
        ("sequence", _I),
        ("itemId", _G),
        ("accountId", _G),
        ("lineType", _S),
        ("lineObjectNumber", _S),
        ("description", _S),
        ("unitOfMeasureCode", _S),
        ("quantity", _D),
        ("unitPrice", _D),
        ("discountAmount", _D),
        ("discountPercent", _D),
        ("discountAppliedBeforeTax", _B),
        ("amountExcludingTax", _D),
        ("taxCode", _S),
        ("taxPercent", _D),
        ("totalTaxAmount", _D),
        ("amountIncludingTax", _D),
        ("invoiceDiscountAllocation", _D),
        ("netAmount", _D),
        ("netTaxAmount", _D),
        ("netAmountIncludingTax", _D),
        ("shipmentDate", _DATE),
    ),
    "salesCreditMemo": (
        ("id", _G),
        ("number", _S),
        ("externalDocumentNumber", _S),
        ("creditMemoDate", _DATE),
        ("postingDate", _DATE),
        ("dueDate", _DATE),
        ("customerId", _G),
        ("customerNumber", _S),
        ("customerName", _S),
        ("currencyId", _G),
        ("currencyCode", _S),
        ("pricesIncludeTax", _B),
        ("discountAmount", _D),
        ("totalAmountExcludingTax", _D),
        ("totalTaxAmount", _D),
        ("totalAmountIncludingTax", _D),
        ("status", _S),
        ("lastModifiedDateTime", _TIME),
        ("invoiceId", _G),
        ("invoiceNumber", _S),
        ("customerReturnReasonId", _G),
    ),
    "customerPaymentJournal": (
        ("id", _G),
        ("code", _S),
        ("displayName", _S),
        ("balancingAccountId", _G),
        ("balancingAccountNumber", _S),
        ("lastModifiedDateTime", _TIME),
    ),
    "customerPayment": (
        ("id", _G),
        ("journalId", _G),
        ("journalDisplayName", _S),
        ("lineNumber", _I),
        ("customerId", _G),
        ("customerNumber", _S),
        ("postingDate", _DATE),
        ("documentNumber", _S),
        ("externalDocumentNumber", _S),
        ("amount", _D),
        ("appliesToInvoiceId", _G),
        ("appliesToInvoiceNumber", _S),
        ("description", _S),
        ("comment", _S),
        ("lastModifiedDateTime", _TIME),
    ),
}

# entity type -> navigation property -> (target entity type, a collection?)
NAVIGATION: dict[str, dict[str, tuple[str, bool]]] = {
    "salesInvoice": {
        "customer": ("customer", False),
        "salesInvoiceLines": ("salesInvoiceLine", True),
    },
    "salesCreditMemo": {"customer": ("customer", False)},
    "customerPaymentJournal": {"customerPayments": ("customerPayment", True)},
    "customerPayment": {"customer": ("customer", False)},
}

# entity set -> entity type
ENTITY_SETS: dict[str, str] = {
    "companies": "company",
    "customers": "customer",
    "salesInvoices": "salesInvoice",
    "salesInvoiceLines": "salesInvoiceLine",
    "salesCreditMemos": "salesCreditMemo",
    "customerPaymentJournals": "customerPaymentJournal",
    "customerPayments": "customerPayment",
}


def service_document(metadata_url: str) -> dict[str, object]:
    return {
        "@odata.context": metadata_url,
        "value": [{"name": name, "kind": "EntitySet", "url": name} for name in ENTITY_SETS],
    }


def csdl() -> str:
    """The CSDL XML document (OData v4) describing every entity set served."""
    types = []
    for entity, properties in PROPERTIES.items():
        lines = [f'<EntityType Name="{entity}">', '<Key><PropertyRef Name="id"/></Key>']
        for name, edm in properties:
            nullable = ' Nullable="false"' if name == "id" else ""
            lines.append(f'<Property Name="{name}" Type="{edm}"{nullable}/>')
        for name, (target, many) in NAVIGATION.get(entity, {}).items():
            typed = f"Collection({NAMESPACE}.{target})" if many else f"{NAMESPACE}.{target}"
            contains = ' ContainsTarget="true"' if many else ""
            lines.append(f'<NavigationProperty Name={quoteattr(name)} Type="{typed}"{contains}/>')
        lines.append("</EntityType>")
        types.append("".join(lines))
    sets = "".join(
        f'<EntitySet Name="{name}" EntityType="{NAMESPACE}.{entity}"/>'
        for name, entity in ENTITY_SETS.items()
    )
    return (
        '<?xml version="1.0" encoding="utf-8"?>'
        '<edmx:Edmx Version="4.0" xmlns:edmx="http://docs.oasis-open.org/odata/ns/edmx">'
        "<edmx:DataServices>"
        f'<Schema Namespace="{NAMESPACE}" xmlns="http://docs.oasis-open.org/odata/ns/edm">'
        f"{''.join(types)}"
        f'<EntityContainer Name="NAV">{sets}</EntityContainer>'
        "</Schema></edmx:DataServices></edmx:Edmx>"
    )
