"""The Zoho Books sandbox against the vendor's contract, with plain httpx (no ledgersync code).

The key sets below are the vendor's (Zoho Books API v3: the List contacts / invoices / customer
payments sample responses and OpenAPI documents, and the keys SOURCES.md §3.3 names), written
here independently of the sandbox's renderer so a misreading shared with it cannot hide.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from contextlib import closing
from typing import Any

import httpx
import pytest

from connectors.zoho_books.connector import ZohoBooksConnector, ZohoBooksSettings
from connectors.zoho_books.settings import STREAMS
from sandbox.server import SandboxServer
from sandbox.testing import TEST_REQUESTS_PER_MINUTE
from sandbox.zoho_books.app import ZohoBooksApp
from sandbox.zoho_books.testing import ZOHO_CLIENT

ORG = "conformance-books"
SIZE = {"customers": 30, "invoices": 80, "payments": 60}  # every status, mode and filter

CONTACT_KEYS = frozenset(
    "contact_id contact_name company_name contact_type status payment_terms payment_terms_label "
    "currency_id currency_code outstanding_receivable_amount outstanding_payable_amount "
    "unused_credits_receivable_amount unused_credits_payable_amount first_name last_name email "
    "phone mobile gst_treatment gst_no place_of_contact created_time last_modified_time".split()
)
INVOICE_KEYS = frozenset(
    "invoice_id ach_payment_initiated customer_name customer_id status invoice_number "
    "reference_number date due_date due_days currency_id schedule_time currency_code "
    "is_viewed_by_client has_attachment client_viewed_time total balance created_time "
    "last_modified_time is_emailed reminders_sent last_reminder_sent_date payment_expected_date "
    "last_payment_date custom_fields documents location_id location_name salesperson_id "
    "salesperson_name shipping_charge adjustment write_off_amount exchange_rate".split()
)
PAYMENT_KEYS = frozenset(
    "payment_id payment_number invoice_numbers date payment_mode amount bcy_amount unused_amount "
    "bcy_unused_amount account_id account_name description reference_number customer_id "
    "customer_name exchange_rate created_time last_modified_time".split()
)
LISTS = {"contacts": CONTACT_KEYS, "invoices": INVOICE_KEYS, "customerpayments": PAYMENT_KEYS}
REPORT_NAMES = {
    "contacts": "Contacts",
    "invoices": "Invoices",
    "customerpayments": "Payments Received",
}


class Zoho:
    """An OAuth'd httpx client for one organization, the way the vendor's docs describe."""

    def __init__(self, server: SandboxServer[ZohoBooksApp], org: str = ORG) -> None:
        token = httpx.post(
            f"{server.url}/oauth/v2/token",
            data={
                "grant_type": "refresh_token",
                "refresh_token": ZOHO_CLIENT.refresh_token,
                "client_id": ZOHO_CLIENT.client_id,
                "client_secret": ZOHO_CLIENT.client_secret,
            },
        ).json()["access_token"]
        self.server = server
        self.org_id = server.app.organization_id(org)
        self.http = httpx.Client(
            base_url=f"{server.url}/books/v3",
            headers={"Authorization": f"Zoho-oauthtoken {token}"},
            timeout=10,
        )

    def __enter__(self) -> Zoho:
        return self

    def __exit__(self, *exc_info: object) -> None:
        self.http.close()

    def get(self, path: str, **params: Any) -> httpx.Response:
        return self.http.get(path, params={"organization_id": self.org_id, **params})

    def everything(self, listing: str, **params: Any) -> tuple[list[dict[str, Any]], list[Any]]:
        """Every row of a list, page by page while has_more_page; and the page contexts."""
        rows, contexts, page = [], [], 1
        while True:
            body = self.get(f"/{listing}", page=page, **params).json()
            assert body["code"] == 0 and body["message"] == "success"
            rows += body[listing]
            contexts.append(body["page_context"])
            if not body["page_context"]["has_more_page"]:
                return rows, contexts
            page += 1


@pytest.fixture
def zoho(zoho_sandbox: Callable[..., SandboxServer[ZohoBooksApp]]) -> Iterator[Zoho]:
    client = Zoho(zoho_sandbox(organizations=(ORG,), ledger_size=SIZE))
    yield client
    client.http.close()


@pytest.mark.parametrize("listing", sorted(LISTS))
def test_both_slash_forms_serve_the_same_list(zoho: Zoho, listing: str) -> None:
    plain, slashed = zoho.get(f"/{listing}"), zoho.get(f"/{listing}/")
    assert plain.status_code == slashed.status_code == 200
    assert plain.json() == slashed.json()


@pytest.mark.parametrize("listing", sorted(LISTS))
def test_every_row_carries_every_documented_key(zoho: Zoho, listing: str) -> None:
    rows, _ = zoho.everything(listing, per_page=7)
    assert rows
    for row in rows:
        assert LISTS[listing] <= set(row), LISTS[listing] - set(row)
        assert all(row[key] is not None or key == "custom_fields" for key in LISTS[listing])


@pytest.mark.parametrize("listing", sorted(LISTS))
def test_page_context_names_the_report_filter_and_order(zoho: Zoho, listing: str) -> None:
    default = "PaymentMode.All" if listing == "customerpayments" else "Status.All"
    context = zoho.get(f"/{listing}").json()["page_context"]
    assert context == {
        "page": 1,
        "per_page": 200,
        "has_more_page": False,
        "report_name": REPORT_NAMES[listing],
        "applied_filter": default,
        "sort_column": "created_time",
        "sort_order": "A",
    }


def test_contacts_filter_by_status(zoho: Zoho) -> None:
    every, _ = zoho.everything("contacts", filter_by="Status.All")
    active, contexts = zoho.everything("contacts", filter_by="Status.Active")
    inactive, _ = zoho.everything("contacts", filter_by="Status.Inactive")
    assert {r["status"] for r in active} == {"active"}
    assert {r["status"] for r in inactive} == {"inactive"}
    assert sorted(r["contact_id"] for r in active + inactive) == sorted(
        r["contact_id"] for r in every
    )
    assert contexts[0]["applied_filter"] == "Status.Active"
    assert zoho.get("/contacts", contact_type="vendor").json()["contacts"] == []


@pytest.mark.parametrize(
    ("applied", "statuses"),
    [
        ("Status.Paid", {"paid"}),
        ("Status.Draft", {"draft"}),
        ("Status.OverDue", {"overdue"}),
        ("Status.Unpaid", {"sent", "overdue", "partially_paid"}),
    ],
)
def test_invoices_filter_by_status(zoho: Zoho, applied: str, statuses: set[str]) -> None:
    every, _ = zoho.everything("invoices")
    kept, contexts = zoho.everything("invoices", filter_by=applied)
    assert kept
    assert [r["invoice_id"] for r in kept] == [
        r["invoice_id"] for r in every if r["status"] in statuses
    ]
    assert contexts[0]["applied_filter"] == applied


def test_payments_filter_by_mode(zoho: Zoho) -> None:
    every, _ = zoho.everything("customerpayments")
    cash, contexts = zoho.everything("customerpayments", filter_by="PaymentMode.Cash")
    assert cash
    assert [r["payment_id"] for r in cash] == [
        r["payment_id"] for r in every if r["payment_mode"] == "Cash"
    ]
    assert contexts[0]["applied_filter"] == "PaymentMode.Cash"


@pytest.mark.parametrize(
    ("listing", "column", "value"),
    [
        ("contacts", "contact_name", lambda r: r["contact_name"].lower()),
        ("invoices", "total", lambda r: r["total"]),
        ("invoices", "due_date", lambda r: r["due_date"]),
        ("customerpayments", "amount", lambda r: r["amount"]),
    ],
)
@pytest.mark.parametrize("order", ["A", "D"])
def test_sort_column_and_order_are_honoured_and_reported(
    zoho: Zoho, listing: str, column: str, value: Callable[[dict[str, Any]], Any], order: str
) -> None:
    rows, contexts = zoho.everything(listing, sort_column=column, sort_order=order, per_page=9)
    values = [value(r) for r in rows]
    assert values == sorted(values, reverse=order == "D")
    assert {(c["sort_column"], c["sort_order"]) for c in contexts} == {(column, order)}


@pytest.mark.parametrize("listing", ["invoices", "customerpayments"])
def test_date_start_keeps_documents_dated_on_or_after_it(zoho: Zoho, listing: str) -> None:
    """Zoho documents `date_start` on invoices and payments: the list from a date on, that
    date included (what a client reading from the last date it saw relies on)."""
    rows, _ = zoho.everything(listing, sort_column="date", sort_order="A")
    middle = rows[len(rows) // 2]["date"]
    later, _ = zoho.everything(listing, sort_column="date", sort_order="A", date_start=middle)
    assert later == [r for r in rows if r["date"] >= middle]
    assert any(r["date"] == middle for r in later) and len(later) < len(rows)


def test_an_exact_multiple_ends_on_a_full_page_then_an_empty_one(zoho: Zoho) -> None:
    count = len(zoho.everything("invoices")[0])
    per_page = next(n for n in range(count // 2, 1, -1) if count % n == 0)
    rows, contexts = zoho.everything("invoices", per_page=per_page)
    assert len(rows) == count and len(contexts) == count // per_page
    assert contexts[-1]["has_more_page"] is False
    beyond = zoho.get("/invoices", per_page=per_page, page=len(contexts) + 1).json()
    assert beyond["invoices"] == [] and beyond["page_context"]["has_more_page"] is False


@pytest.mark.parametrize(
    ("params", "parameter"),
    [
        ({"filter_by": "Status.Nonsense"}, "filter_by"),
        ({"sort_column": "balance_due"}, "sort_column"),
        ({"sort_order": "X"}, "sort_order"),
        ({"page": "0"}, "page"),
        ({"date_start": "2026-13-01"}, "date_start"),
    ],
)
def test_a_bad_list_option_is_a_400_with_code_2(
    zoho: Zoho, params: dict[str, str], parameter: str
) -> None:
    response = zoho.get("/invoices", **params)
    assert response.status_code == 400
    assert response.json() == {"code": 2, "message": f"Invalid value passed for {parameter}"}


def test_error_bodies(zoho: Zoho) -> None:
    anonymous = httpx.get(
        f"{zoho.server.url}/books/v3/invoices", params={"organization_id": zoho.org_id}
    )
    assert (anonymous.status_code, anonymous.json()["code"]) == (401, 14)
    no_org = zoho.http.get("/invoices")
    assert (no_org.status_code, no_org.json()["code"]) == (400, 6024)
    unknown = zoho.get("/customerpayments/4372460000000650034")
    assert (unknown.status_code, unknown.json()["code"]) == (404, 1002)
    nowhere = zoho.get("/estimates")
    assert nowhere.status_code == 404
    assert nowhere.json() == {"code": 5, "message": "Invalid URL Passed"}


def test_the_organization_header_is_accepted_while_that_setting_is_on(
    zoho_sandbox: Callable[..., SandboxServer[ZohoBooksApp]],
) -> None:
    for accepted in (True, False):
        server = zoho_sandbox(organizations=(ORG,), ledger_size=SIZE, organization_header=accepted)
        with Zoho(server) as client:
            response = client.http.get(
                "/invoices/", headers={"X-com-zoho-books-organizationid": client.org_id}
            )
            if accepted:
                assert response.status_code == 200
                assert response.json() == client.get("/invoices").json()
            else:
                assert (response.status_code, response.json()["code"]) == (400, 6024)


@pytest.mark.parametrize("accepted", [True, False], ids=["header-accepted", "header-refused"])
def test_the_connector_reads_every_list_under_either_header_setting(
    zoho_sandbox: Callable[..., SandboxServer[ZohoBooksApp]], accepted: bool
) -> None:
    server = zoho_sandbox(organizations=(ORG,), ledger_size=SIZE, organization_header=accepted)
    with (
        closing(
            ZohoBooksConnector(
                ZohoBooksSettings(
                    connection_id="conformance",
                    organization_id=server.app.organization_id(ORG),
                    client_id=ZOHO_CLIENT.client_id,
                    client_secret=ZOHO_CLIENT.client_secret,
                    refresh_token=ZOHO_CLIENT.refresh_token,
                    api_url=f"{server.url}/books/v3",
                    accounts_url=server.url,
                    page_size=7,
                    requests_per_minute=TEST_REQUESTS_PER_MINUTE,
                )
            )
        ) as connector,
        Zoho(server) as plain,
    ):
        for stream in (s for s in STREAMS if s.name in LISTS):
            served, _ = plain.everything(stream.name)
            read = [r for page in connector.extract(stream, since=None) for r in page.records]
            assert sorted(r[_ID[stream.name]] for r in read) == sorted(
                r[_ID[stream.name]] for r in served
            )


_ID = {"contacts": "contact_id", "invoices": "invoice_id", "customerpayments": "payment_id"}
