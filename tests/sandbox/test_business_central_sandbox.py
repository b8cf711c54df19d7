"""The Business Central sandbox's wire contract, spoken with plain httpx: Entra tokens, bearer
checks, companies, server-driven paging, $filter and $select, payment journals, posting,
and the error bodies and limits of the real service."""

from __future__ import annotations

import re
from collections.abc import Callable
from decimal import Decimal
from typing import Any

import httpx
import pytest

from sandbox.business_central.app import BusinessCentralApp
from sandbox.business_central.ids import bc_id, company_id, ledger_id
from sandbox.business_central.testing import BC_APP
from sandbox.faults import FaultConfig
from sandbox.generator import generate_ledger
from sandbox.server import SandboxServer

COMPANY = "Cronus Test"
OTHER = "Fabrikam Test"
SIZE = {"customers": 8, "invoices": 40, "payments": 35}
SCOPE = "https://api.businesscentral.dynamics.com/.default"
EMPTY_GUID = "00000000-0000-0000-0000-000000000000"
TIMESTAMP = re.compile(r"^\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2}\.\d{3}Z$")


class FakeClock:
    def __init__(self) -> None:
        self.now = 1000.0

    def __call__(self) -> float:
        return self.now


class BC:
    """A bare client: a token, and GETs relative to the environment's API root."""

    def __init__(self, server: SandboxServer[BusinessCentralApp]) -> None:
        self.server = server
        self.app = server.app
        self.tenant = server.app.config.tenant
        self.api = f"{server.url}/v2.0/{self.tenant}/production/api/v2.0"
        self.token = self.grant().json()["access_token"]

    def grant(self, tenant: str | None = None, **overrides: str) -> httpx.Response:
        form = {
            "grant_type": "client_credentials",
            "client_id": BC_APP.client_id,
            "client_secret": BC_APP.client_secret,
            "scope": SCOPE,
            **overrides,
        }
        return httpx.post(f"{self.server.url}/{tenant or self.tenant}/oauth2/v2.0/token", data=form)

    def company(self, name: str = COMPANY) -> str:
        return f"{self.api}/companies({self.app.company_id(name)})"

    def get(self, url: str, headers: dict[str, str] | None = None, **params: Any) -> httpx.Response:
        return httpx.get(
            url,
            params=params or None,  # an empty dict would drop the query of a nextLink
            headers={"Authorization": f"Bearer {self.token}", **(headers or {})},
        )

    def all_pages(self, url: str, headers: dict[str, str] | None = None, **params: Any) -> list:
        pages = []
        response = self.get(url, headers, **params)
        while True:
            assert response.status_code == 200, response.text
            body = response.json()
            pages.append(body["value"])
            if "@odata.nextLink" not in body:
                return pages
            response = self.get(body["@odata.nextLink"], headers)


@pytest.fixture
def clock() -> FakeClock:
    return FakeClock()


@pytest.fixture
def start(bc_sandbox, clock) -> Callable[..., SandboxServer[BusinessCentralApp]]:
    def _start(faults: FaultConfig | None = None, **overrides: Any) -> SandboxServer:
        overrides.setdefault("companies", (COMPANY, OTHER))
        overrides.setdefault("ledger_size", SIZE)
        overrides.setdefault("clock", clock)
        return bc_sandbox(faults=faults, **overrides)

    return _start


@pytest.fixture
def bc(start) -> BC:
    return BC(start())


def _error(response: httpx.Response) -> tuple[int, str, str]:
    error = response.json()["error"]
    assert "CorrelationId" in error["message"]
    return response.status_code, error["code"], error["message"]


# -- the token endpoint and bearer checks --------------------------------------------------


def test_client_credentials_grant(bc: BC) -> None:
    body = bc.grant().json()
    assert body["token_type"] == "Bearer"
    assert body["expires_in"] == 3599
    assert body["access_token"].count(".") == 2


@pytest.mark.parametrize(
    ("overrides", "status", "error", "code"),
    [
        ({"client_secret": "wrong"}, 401, "invalid_client", 7000215),
        ({"client_id": "unknown-app"}, 400, "unauthorized_client", 700016),
        ({"grant_type": "password"}, 400, "unsupported_grant_type", 70003),
        ({"scope": "https://graph.microsoft.com"}, 400, "invalid_scope", 1002012),
    ],
)
def test_token_refusals_are_entra_shaped(bc: BC, overrides, status, error, code) -> None:
    response = bc.grant(**overrides)
    body = response.json()
    assert (response.status_code, body["error"], body["error_codes"]) == (status, error, [code])
    assert body["error_description"].startswith(f"AADSTS{code}: ")
    assert "access_token" not in body


def test_an_unknown_tenant_is_refused(bc: BC) -> None:
    response = bc.grant(tenant="contoso.example")
    assert (response.status_code, response.json()["error"]) == (400, "invalid_request")


def test_bearer_checks(bc: BC, clock: FakeClock) -> None:
    url = f"{bc.company()}/customers"
    missing = httpx.get(url)
    assert _error(missing)[:2] == (401, "Authentication_InvalidCredentials")
    assert missing.headers["WWW-Authenticate"].startswith("Bearer authorization_uri=")
    assert bc.get(url, {"Authorization": "Bearer forged"}).status_code == 401
    other_tenant = url.replace(bc.tenant, "0b7e1c52-0000-4000-8000-000000000000")
    assert bc.get(other_tenant).status_code == 401
    assert bc.get(url.replace("/production/", "/sandbox/")).status_code == 404

    assert bc.get(url).status_code == 200
    clock.now += 3600  # the token's hour is up
    assert _error(bc.get(url))[:2] == (401, "Authentication_InvalidCredentials")


def test_unknown_company_and_url(bc: BC) -> None:
    unknown = f"{bc.api}/companies({bc_id(EMPTY_GUID, 'customer', 1)})/customers"
    assert _error(bc.get(unknown))[:2] == (404, "BadRequest_NotFound")
    assert _error(bc.get(f"{bc.company()}/vendors"))[:2] == (404, "BadRequest_NotFound")


# -- companies, ids, ledgers ---------------------------------------------------------------


def test_companies_each_serve_their_own_ledger(bc: BC) -> None:
    body = bc.get(f"{bc.api}/companies").json()
    assert [(c["id"], c["name"]) for c in body["value"]] == [
        (company_id(bc.tenant, COMPANY), COMPANY),
        (company_id(bc.tenant, OTHER), OTHER),
    ]
    assert all(c["@odata.etag"].startswith('W/"') for c in body["value"])
    assert bc.app.ledger(COMPANY) == generate_ledger(COMPANY, **SIZE)
    assert bc.app.ledger(COMPANY) != bc.app.ledger(OTHER)


def test_ids_are_guids_unique_per_company_and_kind_and_reversible() -> None:
    company = company_id("tenant", COMPANY)
    guid = bc_id(company, "invoice", 42)
    assert re.fullmatch(r"[0-9a-f]{8}-[0-9a-f]{4}-4[0-9a-f]{3}-8[0-9a-f]{3}-[0-9a-f]{12}", guid)
    assert ledger_id(company, "invoice", guid.upper()) == 42
    assert guid != bc_id(company, "customer", 42)
    assert guid != bc_id(company_id("tenant", OTHER), "invoice", 42)
    with pytest.raises(ValueError):
        ledger_id(company, "customer", guid)


# -- paging, $filter, $select ----------------------------------------------------------------


def test_server_driven_paging_to_the_end(start) -> None:
    bc = BC(start(page_size=7))
    pages = bc.all_pages(f"{bc.company()}/salesInvoices")
    ledger = bc.app.ledger(COMPANY)
    assert [len(p) for p in pages] == [7] * (len(ledger.invoices) // 7) + [len(ledger.invoices) % 7]
    ids = [row["id"] for page in pages for row in page]
    assert ids == [
        bc_id(bc.app.company_id(COMPANY), "invoice", i.invoice_id) for i in ledger.invoices
    ]


def test_maxpagesize_is_honoured_and_the_skip_token_is_opaque(bc: BC) -> None:
    response = bc.get(f"{bc.company()}/customers", {"Prefer": "odata.maxpagesize=3"})
    assert response.headers["Preference-Applied"] == "odata.maxpagesize=3"
    body = response.json()
    assert len(body["value"]) == 3
    link = httpx.URL(body["@odata.nextLink"])
    assert link.path.endswith("/customers")
    assert set(link.params) == {"$skiptoken"}
    assert not link.params["$skiptoken"].isdigit()
    assert _error(bc.get(f"{bc.company()}/customers", **{"$skiptoken": "nonsense"}))[:2] == (
        400,
        "BadRequest",
    )
    capped = bc.get(f"{bc.company()}/customers", {"Prefer": "odata.maxpagesize=999999"})
    assert capped.headers["Preference-Applied"] == "odata.maxpagesize=20000"


def test_next_link_keeps_filter_and_select(bc: BC) -> None:
    params = {"$filter": "lastModifiedDateTime gt 2000-01-01T00:00:00Z", "$select": "id,number"}
    first = bc.get(f"{bc.company()}/salesInvoices", {"Prefer": "odata.maxpagesize=5"}, **params)
    link = httpx.URL(first.json()["@odata.nextLink"])
    assert link.params["$filter"] == params["$filter"]
    assert link.params["$select"] == "id,number"


def test_last_modified_filter_is_strictly_after(bc: BC) -> None:
    rows = bc.get(f"{bc.company()}/salesInvoices").json()["value"]
    stamps = sorted({row["lastModifiedDateTime"] for row in rows})
    assert all(TIMESTAMP.match(stamp) for stamp in stamps)
    pivot = stamps[len(stamps) // 2]
    after = bc.all_pages(
        f"{bc.company()}/salesInvoices", **{"$filter": f"lastModifiedDateTime gt {pivot}"}
    )
    at_or_after = bc.all_pages(
        f"{bc.company()}/salesInvoices", **{"$filter": f"lastModifiedDateTime ge {pivot}"}
    )
    assert {r["lastModifiedDateTime"] for p in after for r in p} == {s for s in stamps if s > pivot}
    assert {r["lastModifiedDateTime"] for p in at_or_after for r in p} == {
        s for s in stamps if s >= pivot
    }


def test_ids_filter_with_or_on_the_same_field(bc: BC) -> None:
    ids = [row["id"] for row in bc.get(f"{bc.company()}/salesInvoices").json()["value"]][:3]
    unknown = "00000000-0000-4000-8000-000000000000"
    text = " or ".join(f"id eq {i}" for i in [*ids, unknown])
    rows = bc.get(f"{bc.company()}/salesInvoices", **{"$filter": text}).json()["value"]
    assert [row["id"] for row in rows] == ids
    since = f"({text}) and lastModifiedDateTime gt 2000-01-01T00:00:00Z"
    rows = bc.get(f"{bc.company()}/salesInvoices", **{"$filter": since}).json()["value"]
    assert [row["id"] for row in rows] == ids


@pytest.mark.parametrize(
    ("params", "code"),
    [
        ({"$filter": "lastModifiedDateTime gt yesterday"}, "BadRequest"),
        ({"$filter": "id eq 42"}, "BadRequest"),
        (
            {
                "$filter": "id eq 00000000-0000-4000-8000-000000000000 or lastModifiedDateTime gt "
                "2026-01-01T00:00:00Z"
            },
            "BadRequest",
        ),
        ({"$filter": "lastModifiedDateTime gt 2026-01-01T00:00:00"}, "BadRequest"),
        ({"$filter": "amount gt 5"}, "BadRequest_PropertyNotFound"),
        ({"$select": "id,nonsense"}, "BadRequest_PropertyNotFound"),
        ({"$top": "-1"}, "BadRequest"),
        ({"$skip": "five"}, "BadRequest"),
        ({"$orderby": "total asc"}, "BadRequest_PropertyNotFound"),
        ({"$orderby": "number sideways"}, "BadRequest"),
        ({"$count": "yes"}, "BadRequest"),
        ({"$expand": "salesCreditMemos"}, "BadRequest_PropertyNotFound"),
        ({"$expand": "customer($filter=number eq 'C1')"}, "BadRequest"),
        ({"$apply": "aggregate(x)"}, "BadRequest"),
    ],
)
def test_bad_query_options(bc: BC, params: dict[str, str], code: str) -> None:
    assert _error(bc.get(f"{bc.company()}/salesInvoices", **params))[:2] == (400, code)


def test_select_returns_the_fields_asked_and_the_etag(bc: BC) -> None:
    rows = bc.get(f"{bc.company()}/customers", **{"$select": "id,balanceDue"}).json()["value"]
    assert {tuple(row) for row in rows} == {("@odata.etag", "id", "balanceDue")}


# -- documents -------------------------------------------------------------------------------


def test_invoices_render_bc_fields_with_exact_money(bc: BC) -> None:
    ledger = bc.app.ledger(COMPANY)
    company = bc.app.company_id(COMPANY)
    response = bc.get(f"{bc.company()}/salesInvoices")
    rows = {row["id"]: row for row in response.json()["value"]}
    for inv in ledger.invoices:
        row = rows[bc_id(company, "invoice", inv.invoice_id)]
        assert row["number"] == inv.invoice_number
        assert row["customerId"] == bc_id(company, "customer", inv.customer_id)
        assert Decimal(str(row["totalAmountIncludingTax"])) == inv.total_amount
        assert f'"totalAmountIncludingTax":{inv.total_amount}' in response.text
        assert row["status"] in {"Draft", "Open", "Paid", "Canceled"}
        assert row["invoiceDate"] == inv.issue_date.isoformat()


def test_credits_and_write_offs_are_credit_memos_linked_to_their_invoice(bc: BC) -> None:
    ledger = bc.app.ledger(COMPANY)
    company = bc.app.company_id(COMPANY)
    memos = bc.get(f"{bc.company()}/salesCreditMemos").json()["value"]
    credited: dict[str, Decimal] = {}
    for memo in memos:
        amount = Decimal(str(memo["totalAmountIncludingTax"]))
        credited[memo["invoiceId"]] = credited.get(memo["invoiceId"], Decimal(0)) + amount
    assert credited == {
        bc_id(company, "invoice", i.invoice_id): i.credits_applied + i.write_off_amount
        for i in ledger.invoices
        if i.status not in ("draft", "void") and i.credits_applied + i.write_off_amount
    }


# -- payment journals ----------------------------------------------------------------------


def test_payment_lines_must_be_listed_through_a_journal(bc: BC) -> None:
    status, code, message = _error(bc.get(f"{bc.company()}/customerPayments"))
    assert (status, code) == (400, "BadRequest")
    assert message.startswith("You must specify a journal batch ID or a journal ID")

    journal = bc.app.journal_id(COMPANY, "BANKRCPT")
    by_filter = bc.all_pages(
        f"{bc.company()}/customerPayments", **{"$filter": f"journalId eq {journal}"}
    )
    by_path = bc.all_pages(f"{bc.company()}/customerPaymentJournals({journal})/customerPayments")
    assert by_filter == by_path
    assert {row["journalId"] for page in by_path for row in page} == {journal}


def test_journals(bc: BC) -> None:
    rows = bc.get(f"{bc.company()}/customerPaymentJournals").json()["value"]
    assert [(r["code"], r["id"]) for r in rows] == [
        (code, bc.app.journal_id(COMPANY, code)) for code in ("CASHRCPT", "BANKRCPT")
    ]


def _lines(bc: BC, company: str = COMPANY) -> list[dict]:
    rows = []
    for code in ("CASHRCPT", "BANKRCPT"):
        journal = bc.app.journal_id(company, code)
        url = f"{bc.company(company)}/customerPaymentJournals({journal})/customerPayments"
        rows += [row for page in bc.all_pages(url) for row in page]
    return rows


def test_every_unvoided_payment_is_a_line_per_application_plus_its_unapplied_rest(bc: BC) -> None:
    ledger = bc.app.ledger(COMPANY)
    company = bc.app.company_id(COMPANY)
    lines = _lines(bc)
    by_document: dict[str, list[dict]] = {}
    for line in lines:
        by_document.setdefault(line["documentNumber"], []).append(line)
        assert TIMESTAMP.match(line["lastModifiedDateTime"])
    served = [p for p in ledger.payments if p.status != "void"]
    assert set(by_document) == {p.payment_number for p in served}
    for payment in served:
        rows = by_document[payment.payment_number]
        assert sum(Decimal(str(r["amount"])) for r in rows) == -payment.amount  # credits
        applied = {
            bc_id(company, "invoice", a.invoice_id): -a.amount_applied
            for a in ledger.applications
            if a.payment_id == payment.payment_id
        }
        assert {
            r["appliesToInvoiceId"]: Decimal(str(r["amount"]))
            for r in rows
            if r["appliesToInvoiceId"] != EMPTY_GUID
        } == applied
        assert {r["externalDocumentNumber"] for r in rows} == {payment.reference or ""}


def test_positive_payment_amounts_when_configured(start) -> None:
    bc = BC(start(negative_payment_amounts=False))
    assert all(Decimal(str(line["amount"])) > 0 for line in _lines(bc))


def test_remaining_amount_counts_unposted_lines_until_the_journal_is_posted(bc: BC) -> None:
    ledger = bc.app.ledger(COMPANY)
    company = bc.app.company_id(COMPANY)
    before = {r["id"]: r for r in bc.get(f"{bc.company()}/salesInvoices").json()["value"]}
    for inv in ledger.invoices:
        pending = sum(
            (
                a.amount_applied
                for a in ledger.applications
                if a.invoice_id == inv.invoice_id
                and next(p for p in ledger.payments if p.payment_id == a.payment_id).status
                != "void"
            ),
            Decimal(0),
        )
        row = before[bc_id(company, "invoice", inv.invoice_id)]
        assert Decimal(str(row["remainingAmount"])) == inv.source_balance + pending

    journal = bc.app.journal_id(COMPANY, "CASHRCPT")
    posted = bc.app.served_lines(COMPANY)
    posted = [line for line in posted if line.journal == 0]
    action = f"{bc.company()}/journals({journal})/Microsoft.NAV.post"
    response = httpx.post(action, headers={"Authorization": f"Bearer {bc.token}"})
    assert (response.status_code, response.content) == (204, b"")

    assert {line["journalId"] for line in _lines(bc)} == {bc.app.journal_id(COMPANY, "BANKRCPT")}
    after = {r["id"]: r for r in bc.get(f"{bc.company()}/salesInvoices").json()["value"]}
    fell: dict[str, Decimal] = {}
    for line in posted:
        if line.invoice_id is not None and line.invoice_id <= len(ledger.invoices):
            key = bc_id(company, "invoice", line.invoice_id)
            fell[key] = fell.get(key, Decimal(0)) + line.amount
    for key, amount in fell.items():
        drop = Decimal(str(before[key]["remainingAmount"])) - Decimal(
            str(after[key]["remainingAmount"])
        )
        assert drop == amount
        assert after[key]["lastModifiedDateTime"] > before[key]["lastModifiedDateTime"]
        assert after[key]["@odata.etag"] != before[key]["@odata.etag"]
    untouched = set(before) - set(fell)
    assert all(after[k] == before[k] for k in untouched)


def test_customer_balance_due_is_the_remaining_of_its_invoices(bc: BC) -> None:
    invoices = bc.get(f"{bc.company()}/salesInvoices").json()["value"]
    customers = bc.get(f"{bc.company()}/customers").json()["value"]
    owed: dict[str, Decimal] = {}
    for inv in invoices:
        if inv["status"] in ("Open", "Paid"):
            owed[inv["customerId"]] = owed.get(inv["customerId"], Decimal(0)) + Decimal(
                str(inv["remainingAmount"])
            )
    assert {c["id"]: Decimal(str(c["balanceDue"])) for c in customers} == {
        c["id"]: owed.get(c["id"], Decimal(0)) for c in customers
    }


def test_deleting_a_line_removes_it_without_touching_balances(bc: BC) -> None:
    line = bc.app.served_lines(COMPANY)[0]
    journal = bc.app.journal_id(COMPANY, "CASHRCPT" if line.journal == 0 else "BANKRCPT")
    url = f"{bc.company()}/customerPaymentJournals({journal})/customerPayments({line.line_id})"
    invoices_before = bc.get(f"{bc.company()}/salesInvoices").json()["value"]

    response = httpx.delete(url, headers={"Authorization": f"Bearer {bc.token}"})
    assert response.status_code == 204
    assert line.line_id not in {row["id"] for row in _lines(bc)}
    assert bc.get(f"{bc.company()}/salesInvoices").json()["value"] == invoices_before
    again = httpx.delete(url, headers={"Authorization": f"Bearer {bc.token}"})
    assert _error(again)[:2] == (404, "BadRequest_NotFound")


def test_postings_outlive_a_new_ledger(bc: BC) -> None:
    posted = bc.app.post_journal(COMPANY, "CASHRCPT")
    bc.app.set_ledger(COMPANY, bc.app.ledger(COMPANY))
    assert {line.line_id for line in posted}.isdisjoint(
        {line.line_id for line in bc.app.served_lines(COMPANY)}
    )


# -- limits and faults -----------------------------------------------------------------------


def test_the_request_budget_answers_429_with_retry_after(start, clock: FakeClock) -> None:
    bc = BC(start(rate_limit=3))
    url = f"{bc.company()}/customers"
    assert [bc.get(url).status_code for _ in range(3)] == [200, 200, 200]
    refused = bc.get(url)
    assert _error(refused)[:2] == (429, "Application_TooManyRequests")
    assert refused.headers["Retry-After"].isdigit() and int(refused.headers["Retry-After"]) > 0
    clock.now += 300
    assert bc.get(url).status_code == 200


def test_the_request_budget_without_retry_after(start) -> None:
    bc = BC(start(rate_limit=1, rate_limit_retry_after=False))
    bc.get(f"{bc.company()}/customers")
    refused = bc.get(f"{bc.company()}/customers")
    assert refused.status_code == 429
    assert "Retry-After" not in refused.headers


def test_injected_429_burst_with_and_without_retry_after(start) -> None:
    bc = BC(start(FaultConfig(burst_429=1, retry_after_s=None)))
    throttled = bc.get(f"{bc.company()}/customers")
    assert _error(throttled)[:2] == (429, "Application_TooManyRequests")
    assert "Retry-After" not in throttled.headers
    assert bc.get(f"{bc.company()}/customers").status_code == 200

    bc.server.faults = FaultConfig(burst_429=1, retry_after_s=2)
    assert bc.get(f"{bc.company()}/customers").headers["Retry-After"] == "2"


def test_injected_server_errors_carry_retry_after(start) -> None:
    bc = BC(start(FaultConfig(error_rate=1.0), retry_after_5xx_s=0.25))
    response = bc.get(f"{bc.company()}/customers")
    assert response.status_code in (500, 502, 503)
    assert response.headers["retry-after"] == "1"  # 0.25 s, in whole seconds
    assert "error" in response.json()

    bc.server.faults = FaultConfig()
    bc.app.inject_errors(2, status=503, retry_after_s=1)
    statuses = [bc.get(f"{bc.company()}/customers") for _ in range(3)]
    assert [r.status_code for r in statuses] == [503, 503, 200]
    assert _error(statuses[0])[:2] == (503, "ServiceUnavailable")
    assert statuses[0].headers["retry-after"] == "1"


def test_duplicate_rows_repeat_the_last_row_of_the_previous_page(start) -> None:
    bc = BC(start(FaultConfig(duplicate_rows_rate=1.0), page_size=5))
    pages = bc.all_pages(f"{bc.company()}/customers")
    assert pages[1][0] == pages[0][-1]


def test_a_record_served_before_a_page_is_modified_while_the_client_pages(start) -> None:
    bc = BC(start(FaultConfig(modify_while_paging=1.0), page_size=5))
    url = f"{bc.company()}/salesInvoices"
    first, second, *_ = bc.all_pages(url)
    last_served = first[-1]["id"]

    now = {row["id"]: row for page in bc.all_pages(url) for row in page}
    modified = now[last_served]["lastModifiedDateTime"]
    assert modified > first[-1]["lastModifiedDateTime"]
    assert modified >= max(row["lastModifiedDateTime"] for row in [*first, *second])
    assert bc.server.log.count(fault="modify_while_paging") >= 2


def test_a_repeated_next_link(start) -> None:
    bc = BC(start(page_size=3, repeat_next_link=True))
    first = bc.get(f"{bc.company()}/customers").json()
    second = bc.get(first["@odata.nextLink"]).json()
    assert second["@odata.nextLink"] == first["@odata.nextLink"]


def test_requests_beyond_the_concurrency_and_queue_are_refused(start) -> None:
    bc = BC(start(max_concurrent=1, max_queued=0))
    url = f"{bc.company()}/salesInvoices"
    with bc.app.admission.admit() as admitted:  # another request of the user is running
        assert admitted
        assert _error(bc.get(url))[:2] == (429, "Application_TooManyRequests")
    assert bc.get(url).status_code == 200
    assert bc.app.admission.peak == 1
