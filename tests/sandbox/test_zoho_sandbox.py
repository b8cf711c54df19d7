"""The Zoho Books sandbox, driven over HTTP with plain httpx against a hand-built ledger."""

from __future__ import annotations

import json
from collections.abc import Callable, Iterator
from datetime import UTC, date, datetime
from decimal import Decimal
from typing import Any

import httpx
import pytest

from sandbox.faults import FaultConfig
from sandbox.ledger import Application, Customer, Invoice, Ledger, Payment
from sandbox.server import SandboxServer
from sandbox.zoho_books import listquery
from sandbox.zoho_books.app import ZohoBooksApp, start_zoho_sandbox
from sandbox.zoho_books.config import OAuthClient, OrgZone, ZohoConfig
from sandbox.zoho_books.ids import ledger_id, organization_id, zoho_id

ACME, GLOBEX = "Acme Ltd", "Globex"
CLIENT = OAuthClient("1000.TESTCLIENT", "test-secret", "1000.test.refresh")
D = Decimal


def at(
    month: int, day: int, hour: int = 0, minute: int = 0, second: int = 0, us: int = 0
) -> datetime:
    return datetime(2026, month, day, hour, minute, second, us, tzinfo=UTC)


def customer(cid: int, name: str, created: datetime, updated: datetime, **kw: Any) -> Customer:
    fields: dict[str, Any] = {
        "number": f"CUST-{cid:04d}",
        "kind": "company",
        "email": f"ap@{cid}.example",
        "phone": "+1 555 0100",
        "currency_code": "USD",
        "payment_terms_days": 30,
        "credit_limit": D("5000.00"),
        "status": "active",
    }
    return Customer(cid, name=name, created_at=created, updated_at=updated, **(fields | kw))


def invoice(
    iid: int, total: str, balance: str, created: datetime, updated: datetime, **kw: Any
) -> Invoice:
    fields: dict[str, Any] = {
        "invoice_number": f"INV-{iid:04d}",
        "customer_id": 1,
        "status": "open",
        "issue_date": date(2026, 9, 1),
        "due_date": date(2026, 11, 30),
        "currency_code": "USD",
        "exchange_rate": D("1.00000000"),
        "subtotal": D(total),
        "tax_amount": D("0.00"),
        "total_amount": D(total),
        "credits_applied": D("0.00"),
        "write_off_amount": D("0.00"),
    }
    return Invoice(
        iid, source_balance=D(balance), created_at=created, updated_at=updated, **(fields | kw)
    )


def payment(pid: int, amount: str, created: datetime, **kw: Any) -> Payment:
    fields: dict[str, Any] = {
        "payment_number": f"PMT-{pid}",
        "customer_id": 1,
        "payment_date": date(2026, 10, 10),
        "currency_code": "USD",
        "exchange_rate": D("1.00000000"),
        "bank_charges": D("0.00"),
        "method": "bank_transfer",
        "reference": f"REF-{pid}",
        "status": "posted",
        "updated_at": created,
    }
    return Payment(pid, amount=D(amount), created_at=created, **(fields | kw))


def acme_ledger() -> Ledger:
    customers = (
        customer(1, "Acme Buyer Co", at(1, 5, 10), at(9, 1, 12)),
        customer(
            2,
            "Jane Doe",
            at(1, 3),
            at(10, 15, 8, 30, 15),
            kind="person",
            email=None,
            phone=None,
            currency_code="EUR",
            payment_terms_days=0,
            credit_limit=None,
            status="inactive",
        ),
        customer(3, "Third Party GmbH", at(1, 5, 10), at(2, 1)),
    )
    invoices = (
        invoice(
            1,
            "1234.50",
            "1234.50",
            at(2, 1, 14, 5, 9),
            at(10, 1),
            subtotal=D("1125.00"),
            tax_amount=D("109.50"),
            due_date=date(2026, 9, 30),
        ),
        invoice(2, "0.10", "0.10", at(2, 1, 14, 5, 9), at(10, 5, 12)),
        invoice(
            3,
            "99999999.99",
            "99999000.00",
            at(1, 10),
            at(10, 10, 9, 0, 0, 750_000),
            status="partially_paid",
            due_date=date(2026, 10, 1),
        ),
        invoice(
            4,
            "200.00",
            "0.00",
            at(3, 1),
            at(9, 15),
            status="paid",
            customer_id=2,
            currency_code="EUR",
            exchange_rate=D("1.08123456"),
        ),
        invoice(5, "50.00", "0.00", at(4, 1), at(10, 20), status="void"),
        invoice(6, "75.25", "75.25", at(5, 1), at(10, 30, 23, 59, 59), status="draft"),
        invoice(7, "10.0050", "9.0050", at(3, 15), at(8, 1), customer_id=3),
    )
    payments = (
        payment(1, "1000.00", at(10, 10, 9), bank_charges=D("2.50")),
        payment(
            2,
            "200.00",
            at(9, 20),
            customer_id=2,
            currency_code="EUR",
            exchange_rate=D("1.08123456"),
            method="cash",
            reference=None,
        ),
        payment(3, "50.00", at(10, 11), status="void"),
        payment(4, "30.00", at(10, 12), customer_id=3),
        payment(5, "0.50", at(10, 10, 9)),
    )
    applications = (
        Application(1, 1, 3, D("999.99"), date(2026, 10, 10)),
        Application(2, 2, 4, D("200.00"), date(2026, 9, 21)),
        Application(3, 3, 1, D("50.00"), date(2026, 10, 11)),  # of the void payment
        Application(4, 4, 999, D("30.00"), date(2026, 10, 12)),  # orphan: no invoice 999
    )
    return Ledger(ACME, "USD", date(2026, 10, 31), customers, invoices, payments, applications)


def globex_ledger() -> Ledger:
    return Ledger(
        GLOBEX,
        "INR",
        date(2026, 10, 31),
        (customer(1, "Globex Buyer", at(6, 1), at(6, 2), currency_code="INR"),),
        (invoice(1, "500.00", "500.00", at(6, 3), at(6, 4), currency_code="INR"),),
        (),
        (),
    )


class FakeClock:
    def __init__(self) -> None:
        self.now = 10_000.0

    def __call__(self) -> float:
        return self.now


class ZohoClient:
    """Plain httpx with a token: what a connector does, minus everything clever."""

    def __init__(
        self,
        server: SandboxServer[ZohoBooksApp],
        timeout: float = 5,
        credentials: OAuthClient = CLIENT,
    ) -> None:
        self.server = server
        self.credentials = credentials
        self.http = httpx.Client(base_url=server.url, timeout=timeout)
        self.token = self.grant().json()["access_token"]

    def grant(self, **overrides: str) -> httpx.Response:
        form = {
            "grant_type": "refresh_token",
            "refresh_token": self.credentials.refresh_token,
            "client_id": self.credentials.client_id,
            "client_secret": self.credentials.client_secret,
        }
        return self.http.post("/oauth/v2/token", data=form | overrides)

    def get(self, path: str, org: str | None = ACME, **params: Any) -> httpx.Response:
        if org is not None:
            params["organization_id"] = self.server.app.organization_id(org)
        headers = {"Authorization": f"Zoho-oauthtoken {self.token}"}
        return self.http.get(f"/books/v3{path}", params=params, headers=headers)

    def __enter__(self) -> ZohoClient:
        return self

    def __exit__(self, *exc_info: object) -> None:
        self.http.close()

    def pages(self, path: str, key: str, **params: Any) -> list[list[dict[str, Any]]]:
        pages, page = [], 1
        while True:
            body = self.get(path, page=page, **params).json()
            assert body["code"] == 0 and body["page_context"]["page"] == page
            pages.append(body[key])
            if not body["page_context"]["has_more_page"]:
                return pages
            page += 1


@pytest.fixture
def clock() -> FakeClock:
    return FakeClock()


@pytest.fixture
def start(clock: FakeClock) -> Iterator[Callable[..., SandboxServer[ZohoBooksApp]]]:
    servers: list[SandboxServer[ZohoBooksApp]] = []

    def _start(faults: FaultConfig | None = None, **overrides: Any) -> SandboxServer[ZohoBooksApp]:
        config = ZohoConfig(
            **{
                "organizations": (ACME, GLOBEX),
                "ledgers": {ACME: acme_ledger(), GLOBEX: globex_ledger()},
                "zones": {
                    ACME: OrgZone("-0400", "America/Caracas"),
                    GLOBEX: OrgZone("+0530", "Asia/Kolkata"),
                },
                "client": CLIENT,
                "clock": clock,
                **overrides,
            }
        )
        servers.append(start_zoho_sandbox(config, faults=faults))
        return servers[-1]

    yield _start
    for server in servers:
        server.stop()


@pytest.fixture
def zoho(start: Callable[..., SandboxServer[ZohoBooksApp]]) -> Iterator[ZohoClient]:
    with ZohoClient(start()) as client:
        yield client


def ids_of(rows: list[dict[str, Any]], field: str, kind: Any) -> list[int]:
    org_id = organization_id(ACME)
    return [ledger_id(org_id, kind, row[field]) for row in rows]


# -- OAuth -------------------------------------------------------------------------------------


def test_token_grant(zoho: ZohoClient) -> None:
    body = zoho.grant().json()
    assert body["token_type"] == "Bearer"
    assert body["expires_in"] == 3600
    assert body["api_domain"] == zoho.server.url
    assert body["access_token"].startswith("1000.") and body["access_token"] != zoho.token
    assert zoho.server.app.token_requests == 2


def test_token_errors_are_http_200_with_an_error_field(zoho: ZohoClient) -> None:
    cases = {
        "invalid_client_secret": {"client_secret": "wrong"},
        "invalid_code": {"refresh_token": "1000.revoked"},
        "invalid_client": {"client_id": "1000.OTHER"},
        "unsupported_grant_type": {"grant_type": "authorization_code"},
    }
    for expected, overrides in cases.items():
        response = zoho.grant(**overrides)
        assert response.status_code == 200
        assert response.json() == {"error": expected}
    assert zoho.server.app.token_requests == 1 + len(cases)
    assert zoho.server.log.count(path="/oauth/v2/token") == 1 + len(cases)


def test_token_grant_accepts_query_parameters(zoho: ZohoClient) -> None:
    params = {
        "grant_type": "refresh_token",
        "refresh_token": CLIENT.refresh_token,
        "client_id": CLIENT.client_id,
        "client_secret": CLIENT.client_secret,
    }
    assert "access_token" in zoho.http.post("/oauth/v2/token", params=params).json()


def test_too_many_token_grants_are_denied(
    start: Callable[..., SandboxServer[ZohoBooksApp]],
) -> None:
    with ZohoClient(start(token_limit=2)) as client:
        assert client.grant().status_code == 200
        denied = client.grant()
        assert denied.status_code == 400
        assert denied.json()["error"] == "Access Denied"


# -- auth and organization errors --------------------------------------------------------------


def test_auth_errors(zoho: ZohoClient, clock: FakeClock) -> None:
    org_id = zoho.server.app.organization_id(ACME)
    url = f"/books/v3/invoices?organization_id={org_id}"
    missing = zoho.http.get(url)
    assert missing.status_code == 401
    assert missing.json() == {"code": 14, "message": "Invalid value passed for authtoken."}
    wrong_scheme = zoho.http.get(url, headers={"Authorization": f"Bearer {zoho.token}"})
    assert wrong_scheme.json()["code"] == 14
    unknown = zoho.http.get(url, headers={"Authorization": "Zoho-oauthtoken 1000.nope"})
    assert unknown.status_code == 401
    assert unknown.json() == {
        "code": 57,
        "message": "You are not authorized to perform this operation",
    }

    assert zoho.get("/invoices").status_code == 200
    clock.now += 3600  # the token's lifetime
    expired = zoho.get("/invoices")
    assert expired.status_code == 401 and expired.json()["code"] == 57
    zoho.token = zoho.grant().json()["access_token"]
    assert zoho.get("/invoices").status_code == 200


def test_organization_errors(zoho: ZohoClient) -> None:
    missing = zoho.get("/invoices", org=None)
    assert missing.status_code == 400
    body = missing.json()
    assert body["code"] == 6024
    assert [o["name"] for o in body["error_info"]] == [ACME, GLOBEX]

    unknown = zoho.get("/invoices", org=None, organization_id="123")
    assert unknown.status_code == 400
    assert unknown.json() == {
        "code": 6041,
        "message": "This user is not associated with the CompanyID/CompanyName:123.",
    }


def test_unknown_url(zoho: ZohoClient) -> None:
    response = zoho.get("/salesorders")
    assert response.status_code == 404
    assert response.json() == {"code": 5, "message": "Invalid URL Passed"}


def test_organizations(zoho: ZohoClient) -> None:
    response = zoho.get("/organizations", org=None)
    assert response.status_code == 200
    assert "X-Rate-Limit-Remaining" not in response.headers  # not an organization's call
    orgs = response.json()["organizations"]
    assert [(o["name"], o["is_default_org"], o["currency_code"], o["time_zone"]) for o in orgs] == [
        (ACME, True, "USD", "America/Caracas"),
        (GLOBEX, False, "INR", "Asia/Kolkata"),
    ]
    assert orgs[0]["organization_id"] == organization_id(ACME)
    assert len(orgs[0]["organization_id"]) == 10 and orgs[0]["organization_id"].isdigit()


# -- ids ----------------------------------------------------------------------------------------


def test_ids_are_deterministic_and_reversible() -> None:
    org_id = organization_id(ACME)
    assert org_id == organization_id(ACME) != organization_id(GLOBEX)
    invoice_zid = zoho_id(org_id, "invoice", 7)
    assert len(invoice_zid) == 19 and invoice_zid.isdigit() and int(invoice_zid) > 2**53
    assert ledger_id(org_id, "invoice", invoice_zid) == 7
    assert zoho_id(org_id, "payment", 7) != invoice_zid
    with pytest.raises(ValueError):
        ledger_id(org_id, "payment", invoice_zid)
    with pytest.raises(ValueError):
        ledger_id(organization_id(GLOBEX), "invoice", invoice_zid)
    with pytest.raises(ValueError):
        zoho_id(org_id, "invoice", 10**8)


# -- listing ------------------------------------------------------------------------------------


def test_paging_to_the_end_in_created_order(zoho: ZohoClient) -> None:
    pages = zoho.pages("/invoices", "invoices", per_page=2)
    assert [len(p) for p in pages] == [2, 2, 2, 1]
    rows = [row for page in pages for row in page]
    assert ids_of(rows, "invoice_id", "invoice") == [3, 1, 2, 4, 7, 5, 6]  # created, then id

    beyond = zoho.get("/invoices", page=9, per_page=2).json()
    assert beyond["invoices"] == [] and beyond["page_context"]["has_more_page"] is False
    context = zoho.get("/invoices").json()["page_context"]
    assert context == {
        "page": 1,
        "per_page": 200,
        "has_more_page": False,
        "report_name": "Invoices",
        "applied_filter": "Status.All",
        "sort_column": "created_time",
        "sort_order": "A",
    }
    assert zoho.get("/invoices", per_page=500).json()["page_context"]["per_page"] == 200


def test_bad_paging_values(zoho: ZohoClient) -> None:
    for params in ({"page": "0"}, {"page": "x"}, {"per_page": "-1"}):
        response = zoho.get("/invoices", **params)
        assert response.status_code == 400 and response.json()["code"] == 2


def test_invoices_render_zoho_fields(zoho: ZohoClient) -> None:
    rows = {r["invoice_number"]: r for r in zoho.get("/invoices").json()["invoices"]}
    statuses = {number: row["status"] for number, row in rows.items()}
    assert statuses == {
        "INV-0001": "overdue",
        "INV-0002": "sent",
        "INV-0003": "partially_paid",
        "INV-0004": "paid",
        "INV-0005": "void",
        "INV-0006": "draft",
        "INV-0007": "sent",
    }
    first = rows["INV-0001"]
    assert first["invoice_id"] == zoho_id(organization_id(ACME), "invoice", 1)
    assert first["customer_id"] == zoho_id(organization_id(ACME), "contact", 1)
    assert first["customer_name"] == "Acme Buyer Co"
    assert (first["date"], first["due_date"]) == ("2026-09-01", "2026-09-30")
    assert first["created_time"] == "2026-02-01T10:05:09-0400"
    assert first["last_modified_time"] == "2026-09-30T20:00:00-0400"
    assert first["last_payment_date"] == ""  # its only payment is void, i.e. deleted
    assert rows["INV-0003"]["last_payment_date"] == "2026-10-10"
    assert rows["INV-0004"]["exchange_rate"] == 1.08123456


def test_money_is_exact_in_the_json_text(zoho: ZohoClient) -> None:
    text = zoho.get("/invoices").text
    for fragment in (
        '"sub_total":1125.00,"tax_total":109.50,"total":1234.50,"balance":1234.50',
        '"total":0.10,"balance":0.10',
        '"total":99999999.99,"balance":99999000.00',
        '"total":10.0050,"balance":9.0050',
        '"exchange_rate":1.08123456',
    ):
        assert fragment in text
    parsed = json.loads(text, parse_float=Decimal)["invoices"]
    by_number = {row["invoice_number"]: row for row in parsed}
    for inv in acme_ledger().invoices:
        row = by_number[inv.invoice_number]
        assert (row["total"], row["balance"]) == (inv.total_amount, inv.source_balance)
        assert str(row["total"]) == str(inv.total_amount)


def test_contacts(zoho: ZohoClient) -> None:
    rows = zoho.get("/contacts").json()["contacts"]
    assert ids_of(rows, "contact_id", "contact") == [2, 1, 3]
    jane, acme, third = rows
    assert acme["outstanding_receivable_amount"] == float(
        D("1234.50") + D("0.10") + D("99999000.00")
    )
    assert '"outstanding_receivable_amount":100000234.60' in zoho.get("/contacts").text
    assert third["outstanding_receivable_amount"] == 9.005
    assert (acme["contact_type"], acme["customer_sub_type"], acme["company_name"]) == (
        "customer",
        "business",
        "Acme Buyer Co",
    )
    assert (acme["payment_terms"], acme["payment_terms_label"], acme["credit_limit"]) == (
        30,
        "Net 30",
        5000.0,
    )
    assert jane["customer_sub_type"] == "individual" and jane["company_name"] == ""
    assert (jane["status"], jane["email"], jane["phone"]) == ("inactive", "", "")
    assert jane["payment_terms_label"] == "Due on Receipt"
    assert "credit_limit" not in jane
    assert jane["outstanding_receivable_amount"] == 0  # its one invoice is paid
    assert jane["last_modified_time"] == "2026-10-15T04:30:15-0400"


def test_customerpayments_list_has_no_applications(zoho: ZohoClient) -> None:
    rows = zoho.get("/customerpayments").json()["customerpayments"]
    assert ids_of(rows, "payment_id", "payment") == [2, 1, 5, 4]  # void payment 3 is deleted
    assert all("invoices" not in row for row in rows)
    by_number = {row["payment_number"]: row for row in rows}
    first = by_number["PMT-1"]
    assert (first["invoice_numbers"], first["amount"], first["unused_amount"]) == (
        "INV-0003",
        1000.0,
        0.01,
    )
    assert first["payment_mode"] == "Bank Transfer" and first["reference_number"] == "REF-1"
    euro = by_number["PMT-2"]
    assert (euro["currency_code"], euro["reference_number"]) == ("EUR", "")
    assert euro["payment_mode"] == "Cash"
    assert '"bcy_amount":216.25' in zoho.get("/customerpayments").text  # 200.00 x 1.08123456
    assert by_number["PMT-4"]["invoice_numbers"] == ""  # applied to an invoice that is not there
    assert by_number["PMT-5"]["unused_amount"] == 0.5


def test_customerpayment_detail(zoho: ZohoClient) -> None:
    org_id = organization_id(ACME)
    response = zoho.get(f"/customerpayments/{zoho_id(org_id, 'payment', 1)}")
    assert response.status_code == 200
    body = response.json()
    assert (body["code"], body["message"]) == (0, "success")
    detail = body["payment"]
    assert detail["bank_charges"] == 2.5 and detail["payment_number"] == "PMT-1"
    assert detail["invoices"] == [
        {
            "invoice_id": zoho_id(org_id, "invoice", 3),
            "invoice_payment_id": zoho_id(org_id, "invoice_payment", 1),
            "invoice_number": "INV-0003",
            "amount_applied": 999.99,
            "date": "2026-10-10",
            "total": 99999999.99,
            "balance": 99999000.0,
            "due_date": "2026-10-01",
        }
    ]

    orphan = zoho.get(f"/customerpayments/{zoho_id(org_id, 'payment', 4)}").json()["payment"]
    (application,) = orphan["invoices"]
    invoice_ids = {row["invoice_id"] for row in zoho.get("/invoices").json()["invoices"]}
    assert application["invoice_id"] == zoho_id(org_id, "invoice", 999)
    assert application["invoice_id"] not in invoice_ids
    assert application["invoice_number"] == ""


def test_customerpayment_detail_not_found(zoho: ZohoClient) -> None:
    org_id = organization_id(ACME)
    for payment_id in (
        zoho_id(org_id, "payment", 3),  # void: deleted in Zoho
        zoho_id(org_id, "payment", 42),
        zoho_id(organization_id(GLOBEX), "payment", 1),
        "not-a-number",
    ):
        response = zoho.get(f"/customerpayments/{payment_id}")
        assert response.status_code == 404
        assert response.json()["code"] == 1002


# -- incremental filter -------------------------------------------------------------------------


@pytest.mark.parametrize(
    "since",
    [
        "2026-10-10T09:00:00+0000",
        "2026-10-10T05:00:00-0400",
        "2026-10-10T14:30:00+0530",
        "2026-10-10T09:00:00",
    ],
)
def test_last_modified_time_is_at_or_after(zoho: ZohoClient, since: str) -> None:
    rows = zoho.get("/invoices", last_modified_time=since).json()["invoices"]
    # invoice 3 changed at 09:00:00.75, served as 09:00:00: the boundary is inclusive
    assert ids_of(rows, "invoice_id", "invoice") == [3, 5, 6]


def test_last_modified_time_filter_on_every_list(zoho: ZohoClient) -> None:
    later = zoho.get("/invoices", last_modified_time="2026-10-10T09:00:01").json()["invoices"]
    assert ids_of(later, "invoice_id", "invoice") == [5, 6]
    contacts = zoho.get("/contacts", last_modified_time="2026-09-01T12:00:00Z").json()["contacts"]
    assert ids_of(contacts, "contact_id", "contact") == [2, 1]
    payments = zoho.get("/customerpayments", last_modified_time="2026-10-11T00:00:00")
    assert ids_of(payments.json()["customerpayments"], "payment_id", "payment") == [4]
    paged = zoho.pages(
        "/invoices", "invoices", per_page=1, last_modified_time="2026-10-01T00:00:00"
    )
    assert [ids_of(p, "invoice_id", "invoice") for p in paged] == [[3], [1], [2], [5], [6]]


def test_bad_last_modified_time(zoho: ZohoClient) -> None:
    for since in ("2026-10-10", "yesterday"):
        response = zoho.get("/invoices", last_modified_time=since)
        assert response.status_code == 400 and response.json()["code"] == 2
    org_id = organization_id(ACME)
    raw_plus = zoho.http.get(  # an unencoded "+" arrives as a space
        f"/books/v3/invoices?organization_id={org_id}&last_modified_time=2026-10-10T09:00:00+0000",
        headers={"Authorization": f"Zoho-oauthtoken {zoho.token}"},
    )
    assert raw_plus.status_code == 400


# -- quotas -------------------------------------------------------------------------------------


def test_rate_limit_per_organization(
    start: Callable[..., SandboxServer[ZohoBooksApp]], clock: FakeClock
) -> None:
    with ZohoClient(start(rate_limit=3, rate_window_s=5)) as client:
        assert [client.get("/invoices").status_code for _ in range(3)] == [200, 200, 200]
        limited = client.get("/invoices")
        assert limited.status_code == 429
        assert limited.json() == {
            "code": 44,
            "message": "You have made too many requests. Please try again after some time.",
        }
        assert limited.headers["Retry-After"] == "5"
        assert client.get("/contacts", org=GLOBEX).status_code == 200  # another organization
        assert client.get("/organizations", org=None).status_code == 200
        assert client.grant().status_code == 200
        clock.now += 5
        assert client.get("/invoices").status_code == 200
        assert client.server.log.count(status=429, account=ACME) == 1


def test_rate_limit_without_retry_after(start: Callable[..., SandboxServer[ZohoBooksApp]]) -> None:
    with ZohoClient(start(rate_limit=1, rate_limit_retry_after=False)) as client:
        client.get("/invoices")
        limited = client.get("/invoices")
        assert limited.status_code == 429 and "Retry-After" not in limited.headers


def test_daily_cap(start: Callable[..., SandboxServer[ZohoBooksApp]], clock: FakeClock) -> None:
    with ZohoClient(start(daily_cap=3, rate_limit=1, rate_window_s=1)) as client:
        remaining, reset = [], []
        for i in range(3):
            response = client.get("/invoices")
            assert response.status_code == 200
            assert response.headers["X-Rate-Limit-Limit"] == "3"
            remaining.append(response.headers["X-Rate-Limit-Remaining"])
            reset.append(response.headers["X-Rate-Limit-Reset"])
            refused = client.get("/invoices").json()["code"]  # refused calls cost no quota
            assert refused == (44 if i < 2 else 45)  # the spent daily cap is checked first
            clock.now += 1
        assert remaining == ["2", "1", "0"]
        assert reset == ["86400", "86399", "86398"]  # the day started at the first call
        capped = client.get("/invoices")
        assert capped.status_code == 429
        assert capped.json() == {
            "code": 45,
            "message": "You have reached the maximum number of API calls for the day.",
        }
        assert capped.headers["X-Rate-Limit-Remaining"] == "0"
        assert client.get("/invoices", org=GLOBEX).status_code == 200
        clock.now += 86_400
        client.token = client.grant().json()["access_token"]  # the old one expired meanwhile
        assert client.get("/invoices").status_code == 200


# -- mutation hooks and the request log ---------------------------------------------------------


def test_set_ledger_is_served_at_once(zoho: ZohoClient) -> None:
    app = zoho.server.app
    ledger = app.ledger(ACME)
    extra = invoice(8, "1.00", "1.00", at(10, 1), at(10, 31))
    app.set_ledger(ACME, ledger.replace(invoices=(*ledger.invoices, extra)))
    rows = zoho.get("/invoices").json()["invoices"]
    assert ids_of(rows, "invoice_id", "invoice")[-1] == 8
    assert len(app.ledger(ACME).invoices) == 8
    assert len(zoho.get("/invoices", org=GLOBEX).json()["invoices"]) == 1


def test_request_log_counts_by_organization(zoho: ZohoClient) -> None:
    log = zoho.server.log
    zoho.get("/invoices")
    zoho.get("/contacts", org=GLOBEX)
    zoho.get("/organizations", org=None)
    assert log.count(path="/oauth/v2/token") == zoho.server.app.token_requests == 1
    assert log.count(path_prefix="/books/v3", account=ACME) == 1
    assert log.count(path="/books/v3/contacts", account=GLOBEX, status=200) == 1
    assert log.count(path="/books/v3/organizations", account=None) == 1


# -- faults -------------------------------------------------------------------------------------


def test_injected_errors_use_zoho_and_gateway_bodies(zoho: ZohoClient) -> None:
    zoho.server.faults = FaultConfig(error_rate=1.0, seed=1)
    responses = [zoho.get("/invoices") for _ in range(12)]
    by_status = {r.status_code: r for r in responses}
    assert set(by_status) == {500, 502, 503}
    assert by_status[500].json() == {"code": 1000, "message": "Internal error"}
    assert by_status[502].headers["content-type"].startswith("text/html")
    assert "503 Service Unavailable" in by_status[503].text
    assert zoho.grant().status_code == 200  # the token endpoint is not a data endpoint


def test_injected_429_burst(zoho: ZohoClient) -> None:
    zoho.server.faults = FaultConfig(burst_429=2, retry_after_s=2)
    first, second, third = (zoho.get("/invoices") for _ in range(3))
    assert [first.status_code, second.status_code, third.status_code] == [429, 429, 200]
    assert first.json()["code"] == 44 and first.headers["Retry-After"] == "2"


def test_duplicate_rows_across_pages(zoho: ZohoClient) -> None:
    zoho.server.faults = FaultConfig(duplicate_rows_rate=1.0)
    pages = zoho.pages("/invoices", "invoices", per_page=3)
    assert [len(p) for p in pages] == [3, 4, 2]
    assert pages[1][0] == pages[0][-1] and pages[2][0] == pages[1][-1]
    ids = ids_of([row for page in pages for row in page], "invoice_id", "invoice")
    assert sorted(set(ids)) == [1, 2, 3, 4, 5, 6, 7]
    assert zoho.server.log.count(fault="duplicate_rows") == 2


def test_rows_change_while_paging(zoho: ZohoClient) -> None:
    zoho.server.faults = FaultConfig(modify_while_paging=1.0)
    pages = zoho.pages("/invoices", "invoices", per_page=3)
    assert ids_of([row for page in pages for row in page], "invoice_id", "invoice") == [
        3,
        1,
        2,
        4,
        7,
        5,
        6,
    ]
    # before pages 2 and 3, the last row already served (invoices 2, then 5) was modified
    zoho.server.faults = FaultConfig()
    updated = {inv.invoice_id: inv.updated_at for inv in zoho.server.app.ledger(ACME).invoices}
    assert updated[2] == at(10, 31, 0, 0, 0)  # newest change in the org (10-30 23:59:59) + 1 s
    assert updated[5] == at(10, 31, 0, 0, 1)
    served = {r["invoice_number"]: r for r in zoho.get("/invoices").json()["invoices"]}
    assert served["INV-0002"]["last_modified_time"] == "2026-10-30T20:00:00-0400"
    assert pages[0][-1]["last_modified_time"] != served["INV-0002"]["last_modified_time"]
    since = zoho.get("/invoices", last_modified_time="2026-10-31T00:00:00").json()["invoices"]
    assert ids_of(since, "invoice_id", "invoice") == [2, 5]
    assert zoho.server.log.count(fault="modify_while_paging") == 2


def test_truncated_page(zoho: ZohoClient) -> None:
    zoho.server.faults = FaultConfig(truncate_rate=1.0)
    response = zoho.get("/invoices")
    assert int(response.headers["content-length"]) == len(response.content)
    with pytest.raises(json.JSONDecodeError):
        response.json()


def test_slow_page_times_out(start: Callable[..., SandboxServer[ZohoBooksApp]]) -> None:
    with ZohoClient(start(faults=FaultConfig(slow_rate=1.0, slow_s=30)), timeout=0.2) as client:
        with pytest.raises(httpx.ReadTimeout):
            client.get("/invoices")
        client.http.close()


def test_generated_ledgers_when_the_generator_exists() -> None:
    pytest.importorskip("sandbox.generator")
    config = ZohoConfig(
        organizations=("Generated Co",),
        ledger_size={"customers": 3, "invoices": 5, "payments": 4},
    )
    with start_zoho_sandbox(config) as server:
        with ZohoClient(server, credentials=config.client) as client:
            assert len(client.get("/contacts", org="Generated Co").json()["contacts"]) == 3
            assert len(client.get("/invoices", org="Generated Co").json()["invoices"]) == 5
            client.http.close()


def test_reading_from_a_key_is_the_same_as_scanning_for_it(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    """A listing read from a key on in that key's order is found by bisection: every page is
    byte for byte what scanning the listing for the key serves."""
    org = "Bisected Co"
    config = ZohoConfig(
        organizations=(org,),
        ledger_size={"customers": 40, "invoices": 300, "payments": 200},
        client=CLIENT,
        rate_limit=10_000,
    )
    with start_zoho_sandbox(config) as server, ZohoClient(server) as client:
        ledger = server.app.ledger(org)
        dates = sorted(
            {i.issue_date for i in ledger.invoices} | {p.payment_date for p in ledger.payments}
        )
        times = sorted({c.updated_at for c in ledger.customers})
        requests: list[tuple[str, dict[str, Any]]] = []
        for day in (date(2000, 1, 1), *dates[:: max(1, len(dates) // 12)], date(2100, 1, 1)):
            for path, sort in (("/invoices", "date"), ("/customerpayments", "date")):
                params = {"sort_column": sort, "date_start": day.isoformat(), "per_page": 7}
                requests += [(path, {**params, "page": page}) for page in (1, 2, 9)]
                since = "2026-01-01T00:00:00+0000"
                requests.append((path, {**params, "last_modified_time": since}))
        for moment in (*times[:: max(1, len(times) // 10)], times[-1].replace(year=2100)):
            stamp = moment.strftime("%Y-%m-%dT%H:%M:%S%z")
            params = {"sort_column": "last_modified_time", "last_modified_time": stamp}
            requests += [("/contacts", {**params, "per_page": 5, "page": p}) for p in (1, 3)]

        def served() -> list[bytes]:
            return [client.get(path, org=org, **params).content for path, params in requests]

        bisected = served()
        monkeypatch.setattr(listquery, "restart", lambda query, since: None)
        assert served() == bisected
        assert len(set(bisected)) > len(requests) // 2  # not all empty alike
