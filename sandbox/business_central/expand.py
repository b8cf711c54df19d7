"""`$expand` for the Business Central sandbox: a row's navigation properties, rendered inline."""

from __future__ import annotations

from sandbox.business_central import render
from sandbox.business_central.companydata import LINES, CompanyData, Row
from sandbox.business_central.odata import Expansion, parse_select


def expanded(
    collection: str, row: Row, expansions: list[Expansion], data: CompanyData
) -> dict[str, object]:
    """The navigation properties `expansions` name, each as a body or a list of bodies."""
    values: dict[str, object] = {}
    for expansion in expansions:
        name = expansion.navigation
        if name == "customer":
            body = data.customer_bodies.get(str(row.body["customerId"]))
            values[name] = None if body is None else _selected(body, expansion, "customer")
        elif name == "salesInvoiceLines":
            lines = render.invoice_lines(data.invoices[row.key], data)
            values[name] = [_selected(line, expansion, "salesInvoiceLine") for line in lines]
        elif name == "customerPayments":
            values[name] = [
                _selected(line.body, expansion, "customerPayment")
                for line in data.rows[LINES]
                if line.journal_id == row.body["id"]
            ]
    return values


def _selected(body: dict[str, object], expansion: Expansion, entity: str) -> dict[str, object]:
    if expansion.select is None:
        return body
    fields = parse_select(",".join(expansion.select), entity, tuple(body)[1:])
    return {"@odata.etag": body["@odata.etag"], **{name: body[name] for name in fields}}
