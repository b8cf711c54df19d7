"""Ledger files: loading them exactly, and the sandboxes serving them, with plain httpx."""

from __future__ import annotations

import dataclasses
from collections.abc import Callable
from decimal import Decimal
from pathlib import Path

import httpx
import pytest

from pipelines import sandboxes
from pipelines.registry import SANDBOXES
from sandbox.business_central.app import BusinessCentralApp
from sandbox.business_central.testing import BC_APP
from sandbox.carbon.app import CarbonApp
from sandbox.replay import LedgerFileError, load_replay
from sandbox.server import SandboxServer
from sandbox.simpro.app import SimproApp
from sandbox.simpro.testing import SIMPRO_API_KEY
from sandbox.zoho_books.app import ZohoBooksApp
from sandbox.zoho_books.testing import ZOHO_CLIENT

ORG = "replayed-books"
LEDGERS = Path(__file__).parents[1] / "fixtures" / "ledgers"
SAMPLE = LEDGERS / "zoho-books-customerpayments-sample.yaml"
CARBON = LEDGERS / "carbon-customer-sample.yaml"
SIMPRO = LEDGERS / "simpro-customerpayments-sample.yaml"
VERBATIM = (
    '{"code":0, "message":"success", "contacts":[{"contact_id":"1","x":1.10}], "page_context":{}}'
)


def _file(tmp_path: Path, text: str, name: str = "ledger.yaml") -> Path:
    path = tmp_path / name
    path.write_text(text)
    return path


LEDGER = f"""
format: 1
source: zoho_books
account: {ORG}
base_currency: EUR
lists:
  contacts:
    - {{contact_id: "1", contact_name: A}}
    - {{contact_id: "2", contact_name: B, last_modified_time: 2026-01-02T00:00:00+0000}}
    - {{contact_id: "3", contact_name: C, last_modified_time: 2026-03-02T00:00:00+0000}}
  invoices:
    - {{invoice_id: "9", total: 100.10, balance: 0.10, date: 2026-01-05}}
records:
  customerpayments:
    "7": {{payment_id: "7", amount: 12.30}}
verbatim:
  - list: contacts
    page: 1
    text: '{VERBATIM}'
  - record: customerpayments
    id: "8"
    body: {{code: 0, message: success, payment: {{payment_id: "8", amount: 5.00}}}}
"""


def test_numbers_keep_their_digits_and_dates_their_text(tmp_path: Path) -> None:
    replay = load_replay(_file(tmp_path, LEDGER))
    (invoice,) = replay.rows("invoices")
    assert invoice == {
        "invoice_id": "9",
        "total": Decimal("100.10"),
        "balance": Decimal("0.10"),
        "date": "2026-01-05",
    }
    assert replay.record("customerpayments", "7") == {"payment_id": "7", "amount": Decimal("12.30")}
    assert replay.pages[("contacts", 1)] == VERBATIM.encode()
    assert replay.responses[("customerpayments", "8")] == (
        b'{"code":0,"message":"success","payment":{"payment_id":"8","amount":5.00}}'
    )
    as_json = _file(
        tmp_path,
        '{"format": 1, "source": "simpro", "account": "x", "lists": '
        '{"customerPayments": [{"ID": 3, "Amount": 1.570}]}}',
        "ledger.json",
    )
    assert load_replay(as_json).rows("customerPayments") == [{"ID": 3, "Amount": Decimal("1.570")}]


@pytest.mark.parametrize(
    ("text", "message"),
    [
        ("[1, 2]", "the file must hold a mapping"),
        ("format: 2\nsource: zoho_books\naccount: x\n", "format must be 1"),
        ("format: 1\nsource: xero\naccount: x\n", "source 'xero' is not one of"),
        ("format: 1\nsource: zoho_books\n", "'account'"),
        (
            "format: 1\nsource: zoho_books\naccount: x\nverbatim: [{page: 1, text: x}]\n",
            "verbatim entry 1 names neither a list nor a record",
        ),
        ("format: 1\nsource: zoho_books\naccount: x\nlists: {a: [}\n", "not valid YAML or JSON"),
    ],
)
def test_a_bad_file_names_itself_and_the_fix(tmp_path: Path, text: str, message: str) -> None:
    path = _file(tmp_path, text)
    with pytest.raises(LedgerFileError) as error:
        load_replay(path)
    assert str(error.value).startswith(f"{path}: ") and message in str(error.value)
    with pytest.raises(LedgerFileError, match="a ledger file of zoho_books, not simpro"):
        load_replay(_file(tmp_path, LEDGER), source="simpro")


class Zoho:
    def __init__(self, server: SandboxServer[ZohoBooksApp]) -> None:
        token = httpx.post(
            f"{server.url}/oauth/v2/token",
            data={
                "grant_type": "refresh_token",
                "refresh_token": ZOHO_CLIENT.refresh_token,
                "client_id": ZOHO_CLIENT.client_id,
                "client_secret": ZOHO_CLIENT.client_secret,
            },
        ).json()["access_token"]
        self.url = f"{server.url}/books/v3"
        self.org_id = server.app.organization_id(ORG)
        self.headers = {"Authorization": f"Zoho-oauthtoken {token}"}

    def get(self, path: str, **params: object) -> httpx.Response:
        params = {"organization_id": self.org_id, **params}
        return httpx.get(f"{self.url}{path}", params=params, headers=self.headers)


def test_the_zoho_sandbox_serves_a_ledger_file_with_paging_around_its_verbatim_pages(
    tmp_path: Path, zoho_sandbox: Callable[..., SandboxServer[ZohoBooksApp]]
) -> None:
    replay = load_replay(_file(tmp_path, LEDGER))
    zoho = Zoho(zoho_sandbox(organizations=(ORG,), replays={ORG: replay}))
    assert zoho.get("/contacts", per_page=2).content == VERBATIM.encode()  # page 1, as written
    second = zoho.get("/contacts/", per_page=2, page=2).json()
    assert [r["contact_id"] for r in second["contacts"]] == ["3"]  # the file's rows around it
    assert second["page_context"]["has_more_page"] is False
    since = zoho.get("/contacts", per_page=1, page=2, last_modified_time="2026-02-01T00:00:00+0000")
    assert [r["contact_id"] for r in since.json()["contacts"]] == ["3"]  # "1" has no time: kept
    # Read from a modified time on (as ledgersync reads contacts): in that order, not verbatim.
    newest = zoho.get(
        "/contacts",
        per_page=2,
        sort_column="last_modified_time",
        last_modified_time="2026-01-01T00:00:00+0000",
    ).json()
    assert [r["contact_id"] for r in newest["contacts"]] == ["1", "2"]  # no time sorts first
    assert zoho.get("/invoices").json()["invoices"][0]["total"] == 100.10
    assert '"total":100.10' in zoho.get("/invoices").text
    assert zoho.get("/customerpayments/7").json()["payment"] == {"payment_id": "7", "amount": 12.30}
    assert zoho.get("/customerpayments/8").content == replay.responses[("customerpayments", "8")]
    assert zoho.get("/customerpayments/6").json()["code"] == 1002
    assert zoho.get("/customerpayments").json()["customerpayments"] == []
    organization = httpx.get(f"{zoho.url}/organizations", headers=zoho.headers).json()
    assert organization["organizations"][0]["currency_code"] == "EUR"
    assert (
        httpx.get(f"{zoho.url}/contacts", params={"organization_id": zoho.org_id}).status_code
        == 401
    )


def test_sandbox_serve_ledger_serves_the_file_on_its_source_port(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    sandbox = SANDBOXES["zoho_books"]
    monkeypatch.setitem(SANDBOXES, "zoho_books", dataclasses.replace(sandbox, port=0))
    server, guide = sandboxes.serve_ledger(sandboxes.ledger_file(SAMPLE))
    try:
        account = server.app.config.organizations[0]
        assert account == "Bowman sample books"
        assert server.app.config.replays[account].pages
        assert "curl" in guide
    finally:
        server.stop()


def test_the_carbon_sandbox_serves_a_ledger_file_with_postgrest_around_it(
    carbon_sandbox: Callable[..., SandboxServer[CarbonApp]],
) -> None:
    replay = load_replay(CARBON)
    server = carbon_sandbox(companies=("co",), replays={"co": replay})
    headers = {"Authorization": f"Bearer {server.app.api_key('co')}", "Prefer": "count=exact"}
    first = httpx.get(f"{server.url}/customer", params={"limit": 10}, headers=headers)
    assert first.content == replay.pages[("customer", 1)]  # verbatim, headers computed
    assert first.headers["Content-Range"] == "0-0/1"
    # A verbatim page is what the source answered for that page, whatever the request names.
    picked = httpx.get(
        f"{server.url}/customer",
        params={"select": "id,taxPercent", "name": "eq.Example", "order": "id"},
        headers=headers,
    )
    assert picked.content == first.content
    # Around it, PostgREST over the file's rows.
    past = httpx.get(f"{server.url}/customer", params={"offset": 1}, headers=headers)
    assert (past.status_code, past.json(), past.headers["Content-Range"]) == (206, [], "*/1")
    nothing = httpx.get(f"{server.url}/payment", headers=headers)
    assert (nothing.json(), nothing.headers["Content-Range"]) == ([], "*/0")


def test_the_simpro_sandbox_serves_a_ledger_file_projected_and_paged(
    simpro_sandbox: Callable[..., SandboxServer[SimproApp]],
) -> None:
    replay = load_replay(SIMPRO)
    server = simpro_sandbox(companies=("co",), replays={"co": replay})
    with httpx.Client(
        base_url=f"{server.url}/api/v1.0/companies/0/",
        headers={"Authorization": f"Bearer {SIMPRO_API_KEY}"},
    ) as http:
        thin = http.get("customerPayments/")
        assert set(thin.json()[0]) == {"ID", "Payment"}  # the default columns
        assert (thin.headers["Result-Total"], thin.headers["Result-Pages"]) == ("1", "1")
        wide = http.get("customerPayments/", params={"columns": "ID,Invoices,DateModified"}).json()
        assert wide[0]["Invoices"][0]["Amount"] == 1.57 and set(wide[0]) == {
            "ID",
            "Invoices",
            "DateModified",
        }
        assert http.get("customerPayments/0").content == replay.responses[("customerPayments", "0")]
        assert http.get("customerPayments/5").status_code == 404
        assert http.get("customerInvoices/").json() == []


def test_the_business_central_sandbox_serves_a_ledger_file_with_odata_around_it(
    tmp_path: Path, bc_sandbox: Callable[..., SandboxServer[BusinessCentralApp]]
) -> None:
    journal = "7a1b3c5d-2e4f-4a6b-8c0d-1e2f3a4b5c6d"
    replay = load_replay(
        _file(
            tmp_path,
            f"""
format: 1
source: business_central
account: co
lists:
  customers:
    - {{id: c1, number: "10", lastModifiedDateTime: "2026-01-02T00:00:00Z"}}
    - {{id: c2, number: "20", lastModifiedDateTime: "2026-03-02T00:00:00Z"}}
    - {{id: c3, number: "30"}}
  customerPaymentJournals: [{{id: {journal}, code: CASH}}]
  customerPayments:
    - {{id: l1, journalId: {journal}, amount: 10.50}}
    - {{id: l2, journalId: 00000000-0000-0000-0000-000000000001, amount: 1.00}}
verbatim:
  - {{list: salesInvoices, page: 1, text: '{{"value": []}}'}}
""",
        )
    )
    server = bc_sandbox(companies=("co",), replays={"co": replay})
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
    api = f"{server.url}/v2.0/{config.tenant}/{config.environment}/api/v2.0"
    company = f"{api}/companies({server.app.company_id('co')})"
    with httpx.Client(headers={"Authorization": f"Bearer {token}"}) as http:

        def value(path: str, **params: str) -> list[dict[str, object]]:
            response = http.get(f"{company}/{path}", params=params)
            assert response.status_code == 200, response.text
            return response.json()["value"]

        assert [c["id"] for c in value("customers")] == ["c1", "c2", "c3"]
        newer = value("customers", **{"$filter": "lastModifiedDateTime gt 2026-02-01T00:00:00Z"})
        assert [c["id"] for c in newer] == ["c2"]  # c3 has no time: older than any
        assert value("customers", **{"$select": "number", "$orderby": "number desc"}) == [
            {"number": "30"},
            {"number": "20"},
            {"number": "10"},
        ]
        assert http.get(f"{company}/salesInvoices").content == b'{"value": []}'
        lines = value(f"customerPaymentJournals({journal})/customerPayments")
        assert lines == [{"id": "l1", "journalId": journal, "amount": 10.50}]
        unknown = http.get(
            f"{company}/customerPaymentJournals(00000000-0000-0000-0000-000000000009)/customerPayments"
        )
        assert unknown.status_code == 404
        assert http.get(f"{company}/customers", params={"$expand": "x"}).status_code == 400
