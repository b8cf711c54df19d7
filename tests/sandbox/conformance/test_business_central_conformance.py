"""The Business Central sandbox against the OData v4 / API v2.0 contract, with plain httpx.

A generic client's way in: the service document, then `$metadata` (parsed with the standard
library's XML parser), then every entity set paged through `@odata.nextLink`, each row checked
against the properties and types the CSDL declares, then the query options.
"""

from __future__ import annotations

import re
import xml.etree.ElementTree as ET
from collections.abc import Callable, Iterator
from decimal import Decimal
from typing import Any

import httpx
import pytest

from sandbox.business_central.app import BusinessCentralApp
from sandbox.business_central.testing import BC_APP
from sandbox.server import SandboxServer

COMPANY = "CRONUS Conformance"
SIZE = {"customers": 12, "invoices": 60, "payments": 30}  # credit memos among them
EDM = "{http://docs.oasis-open.org/odata/ns/edm}"
_GUID = re.compile(r"^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$")
_DATE = re.compile(r"^\d{4}-\d{2}-\d{2}$")
_TIME = re.compile(r"^\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2}(\.\d+)?Z$")
# How each Edm type looks in JSON (OData JSON format v4.0, §7.1).
JSON_TYPES: dict[str, Callable[[Any], bool]] = {
    "Edm.Guid": lambda v: isinstance(v, str) and bool(_GUID.match(v)),
    "Edm.String": lambda v: isinstance(v, str),
    "Edm.Decimal": lambda v: isinstance(v, Decimal | int) and not isinstance(v, bool),
    "Edm.Date": lambda v: isinstance(v, str) and bool(_DATE.match(v)),
    "Edm.DateTimeOffset": lambda v: isinstance(v, str) and bool(_TIME.match(v)),
    "Edm.Boolean": lambda v: isinstance(v, bool),
    "Edm.Int32": lambda v: isinstance(v, int) and not isinstance(v, bool),
    "Edm.Int64": lambda v: isinstance(v, int) and not isinstance(v, bool),
}


class OData:
    """A bearer-token httpx client for one environment's API root."""

    def __init__(self, server: SandboxServer[BusinessCentralApp]) -> None:
        config = server.app.config
        token = httpx.post(
            f"{server.url}/{config.tenant}/oauth2/v2.0/token",
            data={
                "grant_type": "client_credentials",
                "client_id": BC_APP.client_id,
                "client_secret": BC_APP.client_secret,
                "scope": "https://api.businesscentral.dynamics.com/.default",
            },
        ).json()["access_token"]
        self.root = f"{server.url}/v2.0/{config.tenant}/{config.environment}/api/v2.0"
        self.company = f"companies({server.app.company_id(COMPANY)})"
        self.http = httpx.Client(headers={"Authorization": f"Bearer {token}"}, timeout=10)

    def get(self, path: str, **params: Any) -> httpx.Response:
        return self.http.get(f"{self.root}/{path}", params=params)

    def json(self, response: httpx.Response) -> dict[str, Any]:
        assert response.status_code == 200, response.text
        body: dict[str, Any] = response.json(parse_float=Decimal)
        return body

    def pages(self, path: str, page_size: int = 7, **params: Any) -> list[list[dict[str, Any]]]:
        """Every page of a collection, following @odata.nextLink as a client must."""
        headers = {"Prefer": f"odata.maxpagesize={page_size}"}
        body = self.json(self.http.get(f"{self.root}/{path}", params=params, headers=headers))
        pages = [body["value"]]
        while "@odata.nextLink" in body:
            body = self.json(self.http.get(body["@odata.nextLink"], headers=headers))
            pages.append(body["value"])
        return pages

    def rows(self, path: str, **params: Any) -> list[dict[str, Any]]:
        return [row for page in self.pages(path, **params) for row in page]


@pytest.fixture
def odata(bc_sandbox: Callable[..., SandboxServer[BusinessCentralApp]]) -> Iterator[OData]:
    client = OData(bc_sandbox(companies=(COMPANY,), ledger_size=SIZE))
    yield client
    client.http.close()


def _schema(odata: OData) -> tuple[dict[str, dict[str, str]], dict[str, str], dict[str, set[str]]]:
    """From $metadata: properties (name → Edm type) per entity type, the entity type of each
    entity set, and the navigation properties per entity type."""
    response = odata.get("$metadata")
    assert response.status_code == 200
    assert response.headers["content-type"].startswith("application/xml")
    root = ET.fromstring(response.content)
    properties, navigation = {}, {}
    for entity in root.iter(f"{EDM}EntityType"):
        name = entity.attrib["Name"]
        properties[name] = {
            p.attrib["Name"]: p.attrib["Type"] for p in entity.iter(f"{EDM}Property")
        }
        navigation[name] = {n.attrib["Name"] for n in entity.iter(f"{EDM}NavigationProperty")}
        keys = [k.attrib["Name"] for k in entity.iter(f"{EDM}PropertyRef")]
        assert keys == ["id"]
    sets = {
        s.attrib["Name"]: s.attrib["EntityType"].removeprefix("Microsoft.NAV.")
        for s in root.iter(f"{EDM}EntitySet")
    }
    return properties, sets, navigation


def _conforms(row: dict[str, Any], properties: dict[str, str]) -> None:
    assert isinstance(row.pop("@odata.etag"), str)
    assert set(row) == set(properties), set(row) ^ set(properties)
    for name, value in row.items():
        assert JSON_TYPES[properties[name]](value), (name, properties[name], value)


def test_the_service_document_lists_the_entity_sets_metadata_declares(odata: OData) -> None:
    for path in ("", "/"):
        document = odata.json(odata.http.get(odata.root + path))
        assert document["@odata.context"] == f"{odata.root}/$metadata"
        names = {s["name"] for s in document["value"]}
        assert names == set(_schema(odata)[1])
        assert {s["kind"] for s in document["value"]} == {"EntitySet"}


@pytest.mark.parametrize(
    "collection",
    ["customers", "salesInvoices", "salesCreditMemos", "customerPaymentJournals"],
)
def test_every_row_of_every_page_is_what_metadata_declares(odata: OData, collection: str) -> None:
    properties, sets, _ = _schema(odata)
    rows = odata.rows(f"{odata.company}/{collection}")
    assert rows
    for row in rows:
        _conforms(row, properties[sets[collection]])


def test_companies_and_payment_lines_conform_too(odata: OData) -> None:
    properties, sets, _ = _schema(odata)
    for row in odata.rows("companies"):
        _conforms(row, properties[sets["companies"]])
    journals = odata.rows(f"{odata.company}/customerPaymentJournals")
    lines = [
        row
        for journal in journals
        for row in odata.rows(
            f"{odata.company}/customerPaymentJournals({journal['id']})/customerPayments"
        )
    ]
    assert lines
    for row in lines:
        _conforms(row, properties[sets["customerPayments"]])


def test_expand_customer_and_lines_with_nested_select(odata: OData) -> None:
    properties, _, navigation = _schema(odata)
    assert navigation["salesInvoice"] >= {"customer", "salesInvoiceLines"}
    customers = {c["id"]: c for c in odata.rows(f"{odata.company}/customers")}
    invoices = odata.rows(
        f"{odata.company}/salesInvoices", **{"$expand": "customer,salesInvoiceLines"}
    )
    for invoice in invoices:
        assert invoice["customer"] == customers[invoice["customerId"]]
        (line,) = invoice.pop("salesInvoiceLines")
        _conforms(dict(line), properties["salesInvoiceLine"])
        assert line["documentId"] == invoice["id"]
        assert line["amountIncludingTax"] == invoice["totalAmountIncludingTax"]
        assert line["amountExcludingTax"] == invoice["totalAmountExcludingTax"]
        invoice.pop("customer")
        _conforms(invoice, properties["salesInvoice"])
    thin = odata.rows(
        f"{odata.company}/salesInvoices",
        **{"$select": "number", "$expand": "customer($select=displayName)"},
    )
    assert {tuple(r) for r in thin} == {("@odata.etag", "number", "customer")}
    assert {tuple(r["customer"]) for r in thin} == {("@odata.etag", "displayName")}


def test_orderby_top_skip_and_count_with_server_paging(odata: OData) -> None:
    every = odata.rows(f"{odata.company}/salesInvoices")
    by_total = sorted(every, key=lambda r: (-r["totalAmountIncludingTax"], r["number"]))
    pages = odata.pages(
        f"{odata.company}/salesInvoices",
        page_size=4,
        **{"$orderby": "totalAmountIncludingTax desc,number", "$skip": "3", "$top": "10"},
    )
    assert [len(p) for p in pages] == [4, 4, 2]
    assert [r["id"] for p in pages for r in p] == [r["id"] for r in by_total[3:13]]
    counted = odata.json(
        odata.get(f"{odata.company}/salesInvoices", **{"$count": "true", "$top": "2"})
    )
    assert counted["@odata.count"] == len(every) and len(counted["value"]) == 2
    assert "@odata.count" not in odata.json(odata.get(f"{odata.company}/salesInvoices"))
    assert odata.rows(f"{odata.company}/salesInvoices", **{"$top": "0"}) == []
    assert odata.rows(f"{odata.company}/salesInvoices", **{"$skip": str(len(every))}) == []


def test_an_exact_multiple_has_no_next_link_after_its_last_full_page(odata: OData) -> None:
    count = len(odata.rows(f"{odata.company}/customers"))
    size = next(n for n in range(count // 2, 1, -1) if count % n == 0)
    pages = odata.pages(f"{odata.company}/customers", page_size=size)
    assert [len(p) for p in pages] == [size] * (count // size)


def test_error_bodies_are_odata_errors(odata: OData) -> None:
    for response, status, code in (
        (
            odata.get(f"{odata.company}/salesInvoices", **{"$orderby": "nothing"}),
            400,
            "BadRequest_PropertyNotFound",
        ),
        (
            odata.get("companies(00000000-0000-0000-0000-000000000001)/customers"),
            404,
            "BadRequest_NotFound",
        ),
        (httpx.get(f"{odata.root}/companies"), 401, "Authentication_InvalidCredentials"),
    ):
        assert response.status_code == status
        error = response.json()["error"]
        assert error["code"] == code and "CorrelationId" in error["message"]
