"""The Simpro sandbox, driven over HTTP with plain httpx against a hand-built ledger."""

from __future__ import annotations

import random
from collections.abc import Callable, Iterator
from datetime import UTC, date, datetime
from decimal import Decimal
from typing import Any, ClassVar
from zoneinfo import ZoneInfo

import httpx
import pytest

from sandbox.faults import FaultConfig
from sandbox.generator import generate_ledger
from sandbox.ledger import Application, Customer, Invoice, Ledger, Payment
from sandbox.server import SandboxServer
from sandbox.simpro import listing
from sandbox.simpro.app import SimproApp, start_simpro_sandbox
from sandbox.simpro.config import OAuthClient, SimproConfig
from sandbox.simpro.ids import ledger_id, simpro_id

ACME, GLOBEX = "Acme Plumbing", "Globex Electrical"
KEY = "test-key"
CLIENT = OAuthClient("test-client", "test-secret")
D = Decimal


def at(month: int, day: int, hour: int = 0, minute: int = 0) -> datetime:
    return datetime(2026, month, day, hour, minute, tzinfo=UTC)


def customer(cid: int, name: str, updated: datetime, **kw: Any) -> Customer:
    fields: dict[str, Any] = {
        "number": f"CUS-{cid}",
        "kind": "company",
        "email": f"ap@{cid}.example",
        "phone": "+61 7 3000 0000",
        "currency_code": "AUD",
        "payment_terms_days": 30,
        "credit_limit": D("5000.00"),
        "status": "active",
        "created_at": at(1, 5),
    }
    return Customer(cid, name=name, updated_at=updated, **(fields | kw))


def invoice(iid: int, total: str, balance: str, updated: datetime, **kw: Any) -> Invoice:
    fields: dict[str, Any] = {
        "invoice_number": f"INV-{iid}",
        "customer_id": 1,
        "status": "open",
        "issue_date": date(2026, 9, 1),
        "due_date": date(2026, 10, 1),
        "currency_code": "AUD",
        "exchange_rate": D("1.00000000"),
        "subtotal": D(total),
        "tax_amount": D("0.00"),
        "credits_applied": D("0.00"),
        "write_off_amount": D("0.00"),
        "created_at": at(9, 1, 9),
    }
    return Invoice(
        iid,
        total_amount=D(total),
        source_balance=D(balance),
        updated_at=updated,
        **(fields | kw),
    )


def payment(pid: int, amount: str, updated: datetime, **kw: Any) -> Payment:
    fields: dict[str, Any] = {
        "payment_number": f"PAY-{pid}",
        "customer_id": 1,
        "payment_date": date(2026, 10, 10),
        "currency_code": "AUD",
        "exchange_rate": D("1.00000000"),
        "bank_charges": D("0.00"),
        "method": "bank_transfer",
        "reference": f"TRF-{pid}",
        "status": "posted",
        "created_at": updated,
    }
    return Payment(pid, amount=D(amount), updated_at=updated, **(fields | kw))


def acme_ledger() -> Ledger:
    customers = (
        customer(1, "Acme Buyer Co", at(9, 1, 12)),
        customer(
            2,
            "Jane Doe",
            at(10, 15, 8, 30),
            kind="person",
            email=None,
            phone=None,
            currency_code="EUR",
            credit_limit=None,
            status="inactive",
        ),
        customer(3, "Lonely Pty Ltd", at(2, 1)),  # no invoices
    )
    invoices = (
        invoice(1, "1234.50", "1234.50", at(10, 1), subtotal=D("1125.00"), tax_amount=D("109.50")),
        invoice(
            2,
            "500.00",
            "340.00",
            at(10, 10, 1),
            status="partially_paid",
            credits_applied=D("50.00"),
            write_off_amount=D("10.00"),
        ),
        invoice(3, "200.00", "0.00", at(10, 12), status="paid", customer_id=2, currency_code="EUR"),
        invoice(4, "50.00", "0.00", at(9, 20), status="void"),
        invoice(5, "75.25", "0.00", at(9, 21), status="draft"),
    )
    payments = (
        payment(1, "150.00", at(10, 10, 1), bank_charges=D("2.50")),  # 50.00 unapplied
        payment(2, "200.00", at(10, 12), customer_id=2, currency_code="EUR", method="cash"),
        payment(3, "30.00", at(10, 11), status="void"),
        payment(4, "40.00", at(10, 13), reference=None),  # on account: applied to nothing
        payment(5, "25.00", at(10, 14), customer_id=3),  # on account, and no invoice to name
        payment(6, "30.00", at(10, 15)),  # applied to an invoice that does not exist
    )
    applications = (
        Application(1, 1, 2, D("100.00"), date(2026, 10, 10)),
        Application(2, 2, 3, D("200.00"), date(2026, 10, 12)),
        Application(3, 3, 1, D("30.00"), date(2026, 10, 11)),
        Application(4, 6, 999, D("30.00"), date(2026, 10, 15)),
    )
    return Ledger(ACME, "AUD", date(2026, 10, 31), customers, invoices, payments, applications)


class FakeClock:
    def __init__(self) -> None:
        self.now = 10_000.0

    def __call__(self) -> float:
        return self.now


class Simpro:
    """Plain httpx with an API key: what a connector does, minus everything clever. Every one
    made is closed after its test (`_clients_closed`)."""

    opened: ClassVar[list[Simpro]] = []

    def __init__(self, server: SandboxServer[SimproApp], credential: str = KEY) -> None:
        self.server = server
        self.http = httpx.Client(
            base_url=f"{server.url}/api/v1.0",
            headers={"Authorization": f"Bearer {credential}"},
            timeout=5,
        )
        self.opened.append(self)

    def get(self, path: str, company: int = 0, **params: Any) -> httpx.Response:
        return self.http.get(f"/companies/{company}/{path}", params=params)

    def rows(self, path: str, **params: Any) -> list[dict[str, Any]]:
        response = self.get(path, **params)
        assert response.status_code == 200, response.text
        return response.json()


@pytest.fixture
def clock() -> FakeClock:
    return FakeClock()


@pytest.fixture(autouse=True)
def _clients_closed(monkeypatch: pytest.MonkeyPatch) -> Iterator[None]:
    opened: list[Simpro] = []
    monkeypatch.setattr(Simpro, "opened", opened)
    yield
    for client in opened:
        client.http.close()


@pytest.fixture
def start(clock: FakeClock) -> Iterator[Callable[..., SandboxServer[SimproApp]]]:
    servers: list[SandboxServer[SimproApp]] = []

    def _start(faults: FaultConfig | None = None, **overrides: Any) -> SandboxServer[SimproApp]:
        config: dict[str, Any] = {
            "companies": (ACME, GLOBEX),
            "ledgers": {ACME: acme_ledger()},
            "ledger_size": {"customers": 3, "invoices": 4, "payments": 3},
            "api_keys": (KEY,),
            "client": CLIENT,
            "rate_limit": 1000,
            "clock": clock,
        }
        servers.append(start_simpro_sandbox(SimproConfig(**(config | overrides)), faults=faults))
        return servers[-1]

    yield _start
    for server in servers:
        server.stop()


@pytest.fixture
def simpro(start: Callable[..., SandboxServer[SimproApp]]) -> Iterator[Simpro]:
    yield Simpro(start())


def ids(rows: list[dict[str, Any]], kind: Any) -> list[int]:
    return [ledger_id(kind, row["ID"]) for row in rows]


# -- auth --------------------------------------------------------------------------------------


def test_api_keys_and_bearer_errors(simpro: Simpro) -> None:
    assert simpro.get("customerInvoices/").status_code == 200
    url = f"{simpro.server.url}/api/v1.0/companies/"
    missing = httpx.get(url)
    assert missing.status_code == 401
    assert missing.json()["errors"][0]["message"].startswith("No bearer token")
    wrong = httpx.get(url, headers={"Authorization": "Bearer not-a-key"})
    assert wrong.status_code == 401
    assert "invalid" in wrong.json()["errors"][0]["message"]


def test_oauth_client_credentials(simpro: Simpro, clock: FakeClock) -> None:
    token_url = f"{simpro.server.url}/oauth2/token"
    form = {
        "grant_type": "client_credentials",
        "client_id": CLIENT.client_id,
        "client_secret": CLIENT.client_secret,
    }
    granted = httpx.post(token_url, data=form).json()
    assert granted["token_type"] == "Bearer" and granted["expires_in"] == 3600
    with_token = Simpro(simpro.server, credential=granted["access_token"])
    assert with_token.get("customerPayments/").status_code == 200
    clock.now += 3600
    assert with_token.get("customerPayments/").status_code == 401
    refused = httpx.post(token_url, data=form | {"client_secret": "wrong"})
    assert (refused.status_code, refused.json()["error"]) == (400, "invalid_client")
    other_grant = httpx.post(token_url, data=form | {"grant_type": "password"})
    assert (other_grant.status_code, other_grant.json()["error"]) == (400, "unsupported_grant_type")
    assert simpro.server.app.token_requests == 3


# -- companies and routes ----------------------------------------------------------------------


def test_companies(simpro: Simpro) -> None:
    assert simpro.http.get("/companies/").json() == [
        {"ID": 0, "Name": ACME},
        {"ID": 1, "Name": GLOBEX},
    ]
    detail = simpro.http.get("/companies/0").json()
    assert detail["Name"] == ACME and detail["Currency"] == "AUD"
    assert (detail["Timezone"], detail["TimezoneOffset"]) == ("Australia/Sydney", "+11:00")
    missing = simpro.http.get("/companies/7")
    assert missing.status_code == 404 and missing.json()["errors"][0]["value"] == "7"


def test_a_trailing_slash_mistake_is_an_invalid_route(simpro: Simpro) -> None:
    payment_id = simpro_id("payment", 1)
    for wrong in ("customerPayments", f"customerPayments/{payment_id}/", "customerpayments/"):
        response = simpro.get(wrong)
        assert response.status_code == 404
        assert response.json()["errors"][0]["message"] == "Invalid route"
    assert simpro.get(f"customerPayments/{payment_id}").json()["ID"] == payment_id
    gone = simpro.get(f"customerPayments/{simpro_id('payment', 99)}")
    assert gone.status_code == 404
    assert gone.json()["errors"][0]["message"] == "Customer payment not found."


# -- listing: paging, columns, order, filters --------------------------------------------------


def test_paging_headers(simpro: Simpro) -> None:
    first = simpro.get("customerInvoices/", pageSize=2)
    assert [first.headers[h] for h in ("Result-Total", "Result-Pages", "Result-Count")] == [
        "5",
        "3",
        "2",
    ]
    pages = [simpro.rows("customerInvoices/", pageSize=2, page=n) for n in (1, 2, 3, 4)]
    assert [ids(page, "invoice") for page in pages] == [[1, 2], [3, 4], [5], []]
    assert simpro.get("customerInvoices/", pageSize=250).status_code == 200
    for bad in ({"pageSize": 251}, {"pageSize": 0}, {"page": "x"}):
        response = simpro.get("customerInvoices/", **bad)
        assert response.status_code == 422
        assert response.json()["errors"][0]["path"] in ("pageSize", "page")


def test_default_page_size(start: Callable[..., SandboxServer[SimproApp]]) -> None:
    client = Simpro(start(default_page_size=3))
    assert client.get("customerInvoices/").headers["Result-Count"] == "3"


def test_rows_are_thin_unless_columns_are_asked_for(simpro: Simpro) -> None:
    href = "/api/v1.0/companies/0/customers"
    assert simpro.rows("customers/companies/") == [
        {"ID": 11, "_href": f"{href}/companies/11", "CompanyName": "Acme Buyer Co"},
        {"ID": 31, "_href": f"{href}/companies/31", "CompanyName": "Lonely Pty Ltd"},
    ]
    assert simpro.rows("customers/individuals/") == [
        {"ID": 21, "_href": f"{href}/individuals/21", "GivenName": "Jane", "FamilyName": "Doe"}
    ]
    assert set(simpro.rows("customerPayments/")[0]) == {"ID", "Payment"}
    rows = simpro.rows("customerPayments/", columns="ID,DateModified,Invoices")
    assert list(rows[0]) == ["ID", "DateModified", "Invoices"]


def test_an_unknown_column_is_a_422_naming_it(simpro: Simpro) -> None:
    response = simpro.get("customerInvoices/", columns="ID,Balance,Totals")
    assert response.status_code == 422
    assert response.json() == {
        "errors": [
            {"path": "columns", "message": "Invalid columns found", "value": "Balance"},
            {"path": "columns", "message": "Invalid columns found", "value": "Totals"},
        ]
    }
    assert simpro.get("customerInvoices/", orderby="-Balance").status_code == 422
    assert simpro.get("customerInvoices/", Balance="gt(1)").status_code == 422


def test_a_build_without_a_column(start: Callable[..., SandboxServer[SimproApp]]) -> None:
    client = Simpro(start(unknown_columns=frozenset({"AmountOwing"})))
    response = client.get("customers/companies/", columns="ID,AmountOwing")
    assert response.json()["errors"][0]["value"] == "AmountOwing"


def test_orderby(simpro: Simpro) -> None:
    assert ids(simpro.rows("customerInvoices/", orderby="-ID"), "invoice") == [5, 4, 3, 2, 1]
    by_modified = simpro.rows("customerInvoices/", orderby="-DateModified")
    assert ids(by_modified, "invoice") == [3, 2, 1, 5, 4]
    by_currency = simpro.rows("customerInvoices/", orderby="Currency,-ID")
    assert ids(by_currency, "invoice") == [5, 4, 2, 1, 3]


@pytest.mark.parametrize(
    ("value", "expected"),
    [
        (str(simpro_id("invoice", 2)), [2]),
        (f"in({simpro_id('invoice', 1)},{simpro_id('invoice', 5)})", [1, 5]),
        (f"!in({simpro_id('invoice', 1)},{simpro_id('invoice', 5)})", [2, 3, 4]),
        (f"between({simpro_id('invoice', 2)},{simpro_id('invoice', 4)})", [2, 3, 4]),
        (f"gt({simpro_id('invoice', 3)})", [4, 5]),
        (f"ge({simpro_id('invoice', 3)})", [3, 4, 5]),
        (f"lt({simpro_id('invoice', 3)})", [1, 2]),
        (f"le({simpro_id('invoice', 3)})", [1, 2, 3]),
        (f"ne({simpro_id('invoice', 3)})", [1, 2, 4, 5]),
    ],
)
def test_id_filters(simpro: Simpro, value: str, expected: list[int]) -> None:
    assert ids(simpro.rows("customerInvoices/", ID=value), "invoice") == expected


def test_text_boolean_null_and_combined_filters(simpro: Simpro) -> None:
    rows = simpro.rows("customers/companies/", CompanyName="%buyer%")
    assert ids(rows, "customer") == [1]
    assert ids(simpro.rows("customerInvoices/", IsPaid="true"), "invoice") == [3]
    assert ids(simpro.rows("customerInvoices/", DatePaid="ne(null)"), "invoice") == [3]
    assert ids(simpro.rows("customerInvoices/", DatePaid="null"), "invoice") == [1, 2, 4, 5]
    both = {"IsPaid": "true", "Currency": "AUD"}
    assert ids(simpro.rows("customerInvoices/", **both), "invoice") == []
    assert ids(simpro.rows("customerInvoices/", search="any", **both), "invoice") == [1, 2, 3, 4, 5]
    assert simpro.get("customerInvoices/", Total="gt(1)").status_code == 422
    assert simpro.get("customerInvoices/", ID="gt(many)").status_code == 422


def test_date_modified_filter_takes_dates_and_compares_build_local_days(simpro: Simpro) -> None:
    # Invoice 2 was modified 2026-10-10 01:00 UTC, 12:00 on the 10th in Sydney (+11).
    after_9th = simpro.rows("customerInvoices/", DateModified="gt(2026-10-09)")
    assert ids(after_9th, "invoice") == [2, 3]
    assert ids(simpro.rows("customerInvoices/", DateModified="gt(2026-10-10)"), "invoice") == [3]
    on_10th = simpro.rows("customerInvoices/", DateModified="between(2026-10-10,2026-10-10)")
    assert ids(on_10th, "invoice") == [2]
    timestamp = simpro.get("customerInvoices/", DateModified="gt(2026-10-09T00:00:00)")
    assert timestamp.status_code == 422
    assert timestamp.json()["errors"][0]["message"] == "Invalid date, expected YYYY-MM-DD"


def test_date_modified_filter_on_a_build_that_takes_timestamps(
    start: Callable[..., SandboxServer[SimproApp]],
) -> None:
    client = Simpro(start(modified_filter="timestamp"))
    # A bare date is that day's local midnight: invoice 2 (12:00 on the 10th) is after it.
    at_10th = client.rows("customerInvoices/", DateModified="gt(2026-10-10)")
    assert ids(at_10th, "invoice") == [2, 3]
    local_noon = client.rows("customerInvoices/", DateModified="ge(2026-10-10T12:00:00)")
    assert ids(local_noon, "invoice") == [2, 3]
    utc = client.rows("customerInvoices/", DateModified="gt(2026-10-10T01:00:00+00:00)")
    assert ids(utc, "invoice") == [3]


# -- rendering ---------------------------------------------------------------------------------


def test_customers_are_split_by_kind_in_one_id_space(simpro: Simpro) -> None:
    assert simpro.get("customers/companies/", columns="ID,GivenName").status_code == 422
    companies = simpro.rows("customers/companies/", columns="ID,CompanyName,Archived,AmountOwing")
    assert companies[0] == {
        "ID": 11,
        "CompanyName": "Acme Buyer Co",
        "Archived": False,
        "AmountOwing": 1574.50,  # invoices 1 and 2
    }
    (jane,) = simpro.rows(
        "customers/individuals/",
        columns="ID,GivenName,FamilyName,Email,Phone,Archived,Profile,Banking,DateModified",
    )
    assert jane == {
        "ID": 21,
        "GivenName": "Jane",
        "FamilyName": "Doe",
        "Email": "",
        "Phone": "",
        "Archived": True,
        "Profile": {"Currency": {"ID": "EUR", "Name": "Euro"}, "Notes": ""},
        "Banking": {
            "PaymentTermID": 30,
            "PaymentTerms": {"Days": 30, "Type": "Invoice"},
            "CreditLimit": None,
            "OnStop": False,
        },
        "DateModified": "2026-10-15T19:30:00+11:00",
    }


def test_invoices_draft_paid_and_balance(simpro: Simpro) -> None:
    columns = "ID,Customer,Stage,Total,Currency,IsPaid,DatePaid"
    rows = {
        ledger_id("invoice", r["ID"]): r for r in simpro.rows("customerInvoices/", columns=columns)
    }
    assert rows[1]["Total"] == {"ExTax": 1125.00, "IncTax": 1234.50, "Paid": 0.00}
    assert rows[2]["Total"]["Paid"] == 160.00  # 500.00 less the 340.00 Simpro says is owed
    assert rows[3]["Customer"] == {"ID": 21, "GivenName": "Jane", "FamilyName": "Doe"}
    assert (rows[3]["Currency"], rows[3]["IsPaid"], rows[3]["DatePaid"]) == (
        "EUR",
        True,
        "2026-10-12",
    )
    assert [rows[i]["Stage"] for i in (1, 4, 5)] == ["Approved", "Approved", "Pending"]
    assert rows[5]["Total"]["Paid"] == 0.00


def test_money_is_exact_in_the_json_text(simpro: Simpro) -> None:
    text = simpro.get("customerInvoices/", columns="ID,Total").text
    assert '"IncTax":1234.50' in text and '"Paid":0.00' in text


def test_credit_notes_carry_credits_write_offs_and_voids(simpro: Simpro) -> None:
    notes = simpro.rows("creditNotes/", columns="ID,Type,InvoiceNo,Total,Stage")
    assert [(n["Type"], n["InvoiceNo"], n["Total"]["IncTax"]) for n in notes] == [
        ("Credit", simpro_id("invoice", 2), D("60.00")),  # credit 50.00 + write-off 10.00
        ("Void", simpro_id("invoice", 4), D("50.00")),
    ]


def test_payments_are_their_lines_with_the_bank_charges_as_finance_charge(simpro: Simpro) -> None:
    rows = simpro.rows("customerPayments/", columns="ID,Payment,Invoices")
    by_id = {ledger_id("payment", r["ID"]): r for r in rows}
    assert sorted(by_id) == [1, 2, 3, 6]  # 4 and 5 apply nothing: Simpro cannot hold them
    served = {p.payment_id: p for p in simpro.server.app.ledger(ACME).payments}
    for pid, row in by_id.items():
        lines = sum(D(str(line["Amount"])) for line in row["Invoices"])
        assert lines == served[pid].amount
        assert D(str(row["Payment"]["FinanceCharge"])) == served[pid].bank_charges
    assert by_id[1]["Payment"]["FinanceCharge"] == 2.50  # the fee, not the 50.00 unapplied
    assert served[1].amount == D("100.00")  # cut to what it applies
    (orphan,) = by_id[6]["Invoices"]
    assert orphan["Invoice"]["ID"] == simpro_id("invoice", 999)
    assert orphan["Invoice"]["Customer"] == {"ID": 11, "CompanyName": "Acme Buyer Co"}
    assert orphan["Invoice"]["Currency"] == {"ID": "AUD", "Name": "Australian Dollar"}
    assert [by_id[i]["Payment"]["Status"] for i in (1, 3)] == ["Complete", "Failed"]
    assert by_id[2]["Payment"]["PaymentMethod"] == {"ID": 5, "Name": "Cash"}


def test_without_payment_status_void_payments_are_not_served(
    start: Callable[..., SandboxServer[SimproApp]],
) -> None:
    client = Simpro(start(payment_status=False))
    rows = client.rows("customerPayments/", columns="ID,Payment")
    assert ids(rows, "payment") == [1, 2, 6]
    assert all("Status" not in row["Payment"] for row in rows)


def test_the_served_ledger_is_what_simpro_can_hold(simpro: Simpro) -> None:
    served = simpro.server.app.ledger(ACME)
    second = served.invoices[1]
    assert (second.credits_applied, second.write_off_amount) == (D("60.00"), D("0.00"))
    assert [(p.payment_id, p.amount) for p in served.payments] == [
        (1, D("100.00")),  # its 50.00 unapplied has no place in Simpro
        (2, D("200.00")),
        (3, D("30.00")),
        (6, D("30.00")),
    ]
    assert served.payments[0].bank_charges == D("2.50")  # kept: served as FinanceCharge


def test_customers_lists_every_customer_with_both_name_forms(simpro: Simpro) -> None:
    href = "/api/v1.0/companies/0/customers"
    assert simpro.rows("customers/") == [
        {
            "ID": 11,
            "_href": f"{href}/companies/11",
            "CompanyName": "Acme Buyer Co",
            "GivenName": "",
            "FamilyName": "",
        },
        {
            "ID": 21,
            "_href": f"{href}/individuals/21",
            "CompanyName": "",
            "GivenName": "Jane",
            "FamilyName": "Doe",
        },
        {
            "ID": 31,
            "_href": f"{href}/companies/31",
            "CompanyName": "Lonely Pty Ltd",
            "GivenName": "",
            "FamilyName": "",
        },
    ]
    assert simpro.get("customers").status_code == 404  # a collection needs its slash
    assert simpro.get("customers/", columns="ID,Email").status_code == 422
    page = simpro.get("customers/", pageSize=2, page=2, orderby="-ID", columns="ID")
    assert (page.json(), page.headers["Result-Total"]) == ([{"ID": 11}], "3")


def test_timestamps_carry_the_build_offset(start: Callable[..., SandboxServer[SimproApp]]) -> None:
    winter = acme_ledger().replace(customers=(customer(1, "Acme Buyer Co", at(7, 1, 3)),))
    for style, expected in (
        ("rfc3339", "2026-07-01T13:00:00+10:00"),
        ("short", "2026-07-01 13:00:00+10"),
    ):
        client = Simpro(start(ledgers={ACME: winter}, timestamp_style=style))
        (row,) = client.rows("customers/companies/", columns="ID,DateModified")
        assert row["DateModified"] == expected
    india = Simpro(start(ledgers={ACME: winter}, timestamp_style="short", timezone="Asia/Kolkata"))
    (row,) = india.rows("customers/companies/", columns="DateModified")
    assert row["DateModified"] == "2026-07-01 08:30:00+05:30"


# -- companies' ledgers, limits, faults --------------------------------------------------------


def test_each_company_serves_the_ledger_generated_from_its_name(simpro: Simpro) -> None:
    globex = simpro.rows("customerInvoices/", company=1, columns="ID,Total")
    expected = generate_ledger(GLOBEX, customers=3, invoices=4, payments=3)
    totals = [i.total_amount for i in expected.invoices]
    assert [D(str(r["Total"]["IncTax"])) for r in globex] == totals
    assert [i.total_amount for i in simpro.server.app.ledger(GLOBEX).invoices] == totals
    assert simpro.server.app.ledger(GLOBEX).customers == expected.customers
    assert simpro.server.log.records(path_prefix="/api/v1.0/companies/1/")[0].account == GLOBEX


def test_set_ledger_is_served_at_once(simpro: Simpro) -> None:
    assert len(simpro.rows("customerInvoices/")) == 5
    ledger = acme_ledger()
    simpro.server.app.set_ledger(ACME, ledger.replace(invoices=ledger.invoices[:2]))
    assert len(simpro.rows("customerInvoices/")) == 2


def test_ten_requests_a_second_per_build(
    start: Callable[..., SandboxServer[SimproApp]], clock: FakeClock
) -> None:
    client = Simpro(start(rate_limit=10))
    token_url = f"{client.server.url}/oauth2/token"
    for n in range(10):
        company = n % 2  # both companies spend the build's budget
        assert client.get("customerInvoices/", company=company).status_code == 200
        httpx.post(token_url, data={"grant_type": "client_credentials"})  # not counted
    throttled = client.get("customerInvoices/")
    assert throttled.status_code == 429
    assert throttled.json()["errors"][0]["message"].startswith("Too many requests")
    assert throttled.headers["Retry-After"] == "1"
    clock.now += 0.5
    assert client.get("customerInvoices/").headers["Retry-After"] == "1"  # 0.5 s, rounded up
    clock.now += 0.5
    assert client.get("customerInvoices/").status_code == 200
    assert client.server.log.count(status=429) == 2


def test_injected_faults_use_simpro_and_gateway_bodies(
    start: Callable[..., SandboxServer[SimproApp]],
) -> None:
    client = Simpro(start(faults=FaultConfig(burst_429=1, retry_after_s=0.25)))
    throttled = client.get("customerInvoices/")
    assert throttled.status_code == 429 and throttled.headers["Retry-After"] == "1"
    assert throttled.json()["errors"][0]["message"] == "Too Many Requests"
    client.server.faults = FaultConfig(error_rate=1.0, seed=3)
    failures = {}
    for _ in range(30):
        response = client.get("customerInvoices/")
        failures[response.status_code] = response
    assert sorted(failures) == [500, 502, 503]
    assert failures[500].json()["errors"][0]["message"] == "Internal Server Error"
    assert failures[502].headers["Content-Type"].startswith("text/html")


def test_duplicate_rows_across_pages(start: Callable[..., SandboxServer[SimproApp]]) -> None:
    client = Simpro(start(faults=FaultConfig(duplicate_rows_rate=1.0)))
    pages = [client.rows("customerInvoices/", pageSize=2, page=n) for n in (1, 2)]
    assert [ids(page, "invoice") for page in pages] == [[1, 2], [2, 3, 4]]


def test_rows_modified_while_paging_keep_their_place_in_id_order(
    start: Callable[..., SandboxServer[SimproApp]],
) -> None:
    client = Simpro(start(faults=FaultConfig(modify_while_paging=1.0)))
    columns = "ID,DateModified"
    first = client.rows("customerInvoices/", pageSize=2, page=1, columns=columns)
    second = client.rows("customerInvoices/", pageSize=2, page=2, columns=columns)
    assert ids(first + second, "invoice") == [1, 2, 3, 4]
    bumped = client.server.app.ledger(ACME).invoices[1]  # invoice 2, before page 2's offset
    # One second after the newest change in the company (Jane Doe's, 08:30 UTC on the 15th).
    assert bumped.updated_at == datetime(2026, 10, 15, 8, 30, 1, tzinfo=UTC)
    (again,) = client.rows("customerInvoices/", ID=str(simpro_id("invoice", 2)), columns=columns)
    assert again["DateModified"] == "2026-10-15T19:30:01+11:00"
    assert client.server.log.count(fault="modify_while_paging") == 1


def test_an_oversized_record_only_in_its_own_listing(start) -> None:
    """Simpro's IDs are numbers, matched as text; `oversized_paths` keeps the padding out of
    the payments that name the invoice."""
    first = simpro_id("invoice", 1)
    client = Simpro(
        start(
            FaultConfig(
                oversized_record=("ID", str(first)),
                oversized_bytes=1000,
                oversized_paths=("/api/v1.0/companies/0/customerInvoices/",),
            )
        )
    )
    invoices = {row["ID"]: row for row in client.rows("customerInvoices/", columns="ID,Total")}
    assert len(invoices[first]["notes"]) == 1000
    assert [i for i, row in invoices.items() if "notes" in row] == [first]
    payments = client.get("customerPayments/", columns="ID,Invoices").text
    assert "pasted text" not in payments
    client.http.close()


def test_id_ranges_narrowed_by_bisection_select_what_a_full_pass_selects(monkeypatch) -> None:
    seed = random.randrange(2**32)
    print(f"seed {seed}")
    rng = random.Random(seed)
    known = {"ID", "Total", "Stage"}
    zone = ZoneInfo("UTC")

    def ledger_rows(scale: int) -> list[dict[str, object]]:
        """Int IDs, or (scale 10) float IDs, which the filters compare by their text."""
        ids = [i if scale == 1 else i / scale for i in sorted(rng.sample(range(-50, 5_000), 400))]
        return [{"ID": i, "Total": rng.randrange(100), "Stage": rng.choice("ab")} for i in ids]

    def filters(scale: int) -> dict[str, list[str]]:
        a, b = (
            str(n if scale == 1 else n / scale) for n in sorted(rng.sample(range(-60, 5_010), 2))
        )
        if rng.random() < 0.2:
            a, b = b, a  # an empty range
        on_id = rng.choice(
            [
                f"between({a},{b})",
                f"ge({a})",
                f"gt({a})",
                f"le({b})",
                f"lt({b})",
                str(a),
                f"{a}5",
                f"in({a},{b})",
                f"in({a})",
                f"!in({a},{b})",
                f"ne({a})",
                "null",
                "ne(null)",
                "NaN",
                "ge(Infinity)",
                "lt(-Infinity)",
                "text",
            ]
        )
        query = {"ID": [on_id], "orderby": [rng.choice(["ID", "-ID", "Total"])]}
        if rng.random() < 0.5:
            query["Stage"] = ["a"]
        if rng.random() < 0.3:
            query["search"] = ["any"]
        return query

    def outcome(rows: list[dict[str, object]], query: listing.ListQuery) -> object:
        try:
            return listing.select(rows, query, zone=zone, modified_filter="date")
        except (listing.QueryError, ArithmeticError) as error:
            return type(error)

    for _ in range(20):
        scale = rng.choice([1, 1, 10])
        rows = ledger_rows(scale)
        for _ in range(30):
            query = listing.parse(filters(scale), known, default_page_size=30, max_page_size=250)
            narrowed = outcome(rows, query)
            with monkeypatch.context() as m:
                m.setattr(listing, "_within_id_range", lambda rows, filters: rows)
                full = outcome(rows, query)
            assert narrowed == full, (seed, query)
