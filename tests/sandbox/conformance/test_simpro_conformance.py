"""The Simpro sandbox against the API v1.0 contract (the vendor's swagger), with plain httpx.

What an SDK written from the swagger does: list `customers/` with its documented default
columns, follow `_href`, page with `page`/`pageSize` until `Result-Pages`, ask for `columns`.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from decimal import Decimal
from typing import Any

import httpx
import pytest

from sandbox.server import SandboxServer
from sandbox.simpro.app import SimproApp
from sandbox.simpro.testing import SIMPRO_API_KEY

SIZE = {"customers": 23, "invoices": 40, "payments": 30}
COLLECTIONS = (
    "customers/",
    "customers/companies/",
    "customers/individuals/",
    "customerInvoices/",
    "creditNotes/",
    "customerPayments/",
)


class Build:
    def __init__(self, server: SandboxServer[SimproApp]) -> None:
        self.base = f"{server.url}/api/v1.0"
        self.http = httpx.Client(
            base_url=f"{self.base}/companies/0/",
            headers={"Authorization": f"Bearer {SIMPRO_API_KEY}"},
            timeout=10,
        )

    def pages(self, path: str, **params: Any) -> list[list[dict[str, Any]]]:
        """Every page, as `Result-Pages` counts them."""
        pages, number = [], 1
        while True:
            response = self.http.get(path, params={**params, "page": number})
            assert response.status_code == 200, response.text
            pages.append(response.json(parse_float=Decimal))
            if number >= int(response.headers["Result-Pages"]):
                assert sum(map(len, pages)) == int(response.headers["Result-Total"])
                return pages
            number += 1


@pytest.fixture
def build(simpro_sandbox: Callable[..., SandboxServer[SimproApp]]) -> Iterator[Build]:
    client = Build(simpro_sandbox(ledger_size=SIZE))
    yield client
    client.http.close()


def test_customers_lists_everyone_with_the_documented_default_columns(build: Build) -> None:
    rows = [row for page in build.pages("customers/", pageSize=5) for row in page]
    assert {tuple(row) for row in rows} == {
        ("ID", "_href", "CompanyName", "GivenName", "FamilyName")
    }
    companies = [r for p in build.pages("customers/companies/") for r in p]
    individuals = [r for p in build.pages("customers/individuals/") for r in p]
    assert sorted(r["ID"] for r in rows) == sorted(r["ID"] for r in companies + individuals)
    for row in rows:
        followed = httpx.get(
            f"{build.base.removesuffix('/api/v1.0')}{row['_href']}",
            headers=build.http.headers,
            params={"columns": "ID"},
        )
        assert followed.status_code == 200 and followed.json() == {"ID": row["ID"]}


@pytest.mark.parametrize("path", ["customers/companies/", "customers/individuals/"])
def test_kind_lists_carry_href_by_default(build: Build, path: str) -> None:
    for row in build.pages(path)[0]:
        assert row["_href"] == f"/api/v1.0/companies/0/{path}{row['ID']}"


@pytest.mark.parametrize("path", COLLECTIONS)
def test_a_collection_needs_its_slash_and_a_record_must_not_have_one(
    build: Build, path: str
) -> None:
    missing = build.http.get(path.rstrip("/"))
    assert missing.status_code == 404 and missing.json()["errors"][0]["message"] == "Invalid route"
    if path != "customers/":
        first = build.pages(path, columns="ID")[0][0]["ID"]
        assert build.http.get(f"{path}{first}", params={"columns": "ID"}).status_code == 200
        assert build.http.get(f"{path}{first}/").status_code == 404


def test_an_exact_multiple_ends_on_a_full_page_and_past_it_is_empty(build: Build) -> None:
    total = int(build.http.get("customerInvoices/").headers["Result-Total"])
    size = next(n for n in range(total // 2, 1, -1) if total % n == 0)
    pages = build.pages("customerInvoices/", pageSize=size, columns="ID")
    assert [len(p) for p in pages] == [size] * (total // size)
    past = build.http.get("customerInvoices/", params={"pageSize": size, "page": len(pages) + 1})
    assert past.status_code == 200 and past.json() == []


def test_query_options_columns_orderby_filters_search_and_limit(build: Build) -> None:
    rows = [
        r
        for p in build.pages("customerInvoices/", columns="ID,Total,IsPaid", orderby="-ID")
        for r in p
    ]
    assert [r["ID"] for r in rows] == sorted((r["ID"] for r in rows), reverse=True)
    assert {tuple(r) for r in rows} == {("ID", "Total", "IsPaid")}
    paid = build.pages("customerInvoices/", columns="ID,IsPaid", IsPaid="true")
    assert {r["IsPaid"] for p in paid for r in p} == {True}
    some = build.pages("customerInvoices/", columns="ID", ID=f"in({rows[0]['ID']},{rows[1]['ID']})")
    assert sorted(r["ID"] for p in some for r in p) == sorted([rows[0]["ID"], rows[1]["ID"]])
    either = build.pages(
        "customerInvoices/", columns="ID", search="any", ID=str(rows[0]["ID"]), IsPaid="false"
    )
    assert rows[0]["ID"] in {r["ID"] for p in either for r in p}
    assert len(build.pages("customerInvoices/", columns="ID", limit=3)[0]) == 3


def test_payment_totals_are_their_lines_plus_finance_charge(build: Build) -> None:
    for row in (
        r for p in build.pages("customerPayments/", columns="ID,Payment,Invoices") for r in p
    ):
        assert row["Invoices"], "every Simpro payment is allocated to an invoice"
        assert all(line["Amount"] > 0 for line in row["Invoices"])
        assert row["Payment"]["FinanceCharge"] >= 0


@pytest.mark.parametrize(
    ("params", "path"),
    [
        ({"columns": "ID,Nope"}, "columns"),
        ({"orderby": "Nope"}, "orderby"),
        ({"pageSize": "0"}, "pageSize"),
    ],
)
def test_a_bad_query_is_a_422_with_an_errors_body(
    build: Build, params: dict[str, str], path: str
) -> None:
    response = build.http.get("customerInvoices/", params=params)
    assert response.status_code == 422
    (error,) = response.json()["errors"]
    assert error["path"] == path and set(error) == {"path", "message", "value"}


def test_no_credential_is_a_401_with_an_errors_body(build: Build) -> None:
    response = httpx.get(f"{build.base}/companies/0/customers/")
    assert response.status_code == 401 and "errors" in response.json()
