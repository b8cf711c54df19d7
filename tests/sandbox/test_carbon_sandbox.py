"""The Carbon sandbox, driven over HTTP with plain httpx against a hand-built ledger.

PostgREST's read semantics (select, order, filters and logic trees, limit/offset and Range,
counts and their status codes, max-rows, error bodies), the hosted proxy's 401/403/429 and the
self-hosted quirks, and how a ledger is rendered into Carbon's tables and its invoice view.
"""

from __future__ import annotations

import json
from collections.abc import Callable, Iterator
from datetime import UTC, date, datetime
from decimal import Decimal
from typing import Any

import httpx
import pytest

from sandbox.carbon.app import CarbonApp, start_carbon_sandbox
from sandbox.carbon.config import CarbonConfig
from sandbox.carbon.ids import api_key, carbon_id, company_id, ledger_id
from sandbox.faults import FaultConfig
from sandbox.generator import record_payment
from sandbox.ledger import Application, Customer, Invoice, Ledger, Payment
from sandbox.server import SandboxServer

ACME, GLOBEX = "acme-mfg", "globex-mfg"
D = Decimal


def at(month: int, day: int, hour: int = 0) -> datetime:
    return datetime(2026, month, day, hour, tzinfo=UTC)


def customer(cid: int, name: str, created: datetime, updated: datetime, **kw: Any) -> Customer:
    fields: dict[str, Any] = {
        "number": f"CUST-{cid:04d}",
        "kind": "company",
        "email": None,
        "phone": "+1 555 0100",
        "currency_code": "USD",
        "payment_terms_days": 30,
        "credit_limit": None,
        "status": "active",
    }
    return Customer(cid, name=name, created_at=created, updated_at=updated, **(fields | kw))


def invoice(iid: int, customer_id: int, total: str, balance: str, **kw: Any) -> Invoice:
    fields: dict[str, Any] = {
        "invoice_number": f"INV-{iid:04d}",
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
        "created_at": at(9, 1, 10),
        "updated_at": at(9, 1, 10),
    }
    return Invoice(iid, customer_id=customer_id, source_balance=D(balance), **(fields | kw))


def payment(pid: int, customer_id: int, amount: str, created: datetime, **kw: Any) -> Payment:
    fields: dict[str, Any] = {
        "payment_number": f"PMT-{pid}",
        "payment_date": created.date(),
        "currency_code": "USD",
        "exchange_rate": D("1.00000000"),
        "bank_charges": D("0.00"),
        "method": "bank_transfer",
        "reference": f"REF-{pid}",
        "status": "posted",
        "updated_at": created,
    }
    return Payment(
        pid, customer_id=customer_id, amount=D(amount), created_at=created, **(fields | kw)
    )


LEDGER = Ledger(
    account=ACME,
    base_currency="USD",
    as_of=date(2026, 10, 31),
    customers=(
        customer(1, "Acme Tools", at(1, 5), at(3, 1)),
        customer(2, "Bolt GmbH", at(1, 6), at(1, 6), currency_code="EUR", payment_terms_days=0),
        customer(3, "Cog Ltd", at(1, 7), at(1, 7), payment_terms_days=45, phone=None),
    ),
    invoices=(
        invoice(1, 1, "100.00", "100.00"),
        invoice(
            2,
            2,
            "200.00",
            "150.00",
            status="partially_paid",
            currency_code="EUR",
            exchange_rate=D("1.08500000"),
            due_date=date(2026, 10, 1),
        ),
        invoice(3, 1, "50.00", "0.00", status="paid", created_at=at(9, 2), updated_at=at(9, 2)),
        invoice(
            4,
            3,
            "80.00",
            "65.00",
            status="partially_paid",
            credits_applied=D("10.00"),
            write_off_amount=D("5.00"),
            created_at=at(9, 3),
            updated_at=at(9, 3),
        ),
        invoice(5, 3, "30.00", "0.00", status="void", created_at=at(9, 4), updated_at=at(10, 2)),
        invoice(6, 1, "20.00", "0.00", status="draft", created_at=at(9, 5), updated_at=at(9, 5)),
    ),
    payments=(
        payment(1, 1, "50.00", at(9, 10)),
        payment(2, 2, "50.00", at(9, 11), currency_code="EUR", exchange_rate=D("1.09000000")),
        payment(3, 1, "30.00", at(9, 12), status="void", updated_at=at(9, 20)),
    ),
    applications=(
        Application(1, 1, 3, D("50.00"), date(2026, 9, 10)),
        Application(2, 2, 2, D("50.00"), date(2026, 9, 11)),
        Application(3, 3, 1, D("30.00"), date(2026, 9, 12)),
    ),
)


class Clock:
    def __init__(self) -> None:
        self.now = 1000.0

    def __call__(self) -> float:
        return self.now


class Api:
    """A running sandbox and one keep-alive client for it."""

    def __init__(self, server: SandboxServer[CarbonApp], client: httpx.Client) -> None:
        self.server = server
        self.client = client
        self.app = server.app
        self.url = server.url
        self.log = server.log

    def set_faults(self, faults: FaultConfig) -> None:
        self.server.faults = faults

    def get(
        self,
        path: str,
        *,
        key: str | None = None,
        headers: dict[str, str] | None = None,
        **params: Any,
    ) -> httpx.Response:
        sent = {"Authorization": f"Bearer {key or api_key(ACME)}", **(headers or {})}
        return self.client.get(f"{self.url}{path}", params=params, headers=sent)


@pytest.fixture(scope="module")
def client() -> Iterator[httpx.Client]:
    """Connections only: each test starts its own sandboxes on their own ports."""
    with httpx.Client() as client:
        yield client


@pytest.fixture
def start(client: httpx.Client) -> Iterator[Callable[..., Api]]:
    servers: list[SandboxServer[CarbonApp]] = []

    def start(faults: FaultConfig | None = None, **config: Any) -> Api:
        config.setdefault("companies", (ACME,))
        config.setdefault("ledgers", {ACME: LEDGER})
        config.setdefault("rate_limit", 10_000)
        server = start_carbon_sandbox(CarbonConfig(**config), faults=faults)
        servers.append(server)
        return Api(server, client)

    yield start
    for server in servers:
        server.stop()


@pytest.fixture
def server(start: Callable[..., Api]) -> Api:
    return start()


def ids(response: httpx.Response, kind: str = "invoice") -> list[int]:
    assert response.status_code in (200, 206), response.text
    return [ledger_id(ACME, kind, row["id"]) for row in response.json()]  # type: ignore[arg-type]


def error(response: httpx.Response, status: int, code: str) -> dict[str, Any]:
    assert response.status_code == status, response.text
    body = response.json()
    assert set(body) == {"code", "message", "details", "hint"}
    assert body["code"] == code
    return body


# -- ids --------------------------------------------------------------------------------------


def test_ids_are_xids_that_map_back() -> None:
    xid = carbon_id(ACME, "invoice", 123_456)
    assert len(xid) == 20 and set(xid) <= set("0123456789abcdefghijklmnopqrstuv")
    assert ledger_id(ACME, "invoice", xid) == 123_456
    assert carbon_id(GLOBEX, "invoice", 123_456) != xid
    with pytest.raises(ValueError):
        ledger_id(ACME, "payment", xid)
    assert api_key(ACME).startswith("crbn_") and api_key(ACME) != api_key(GLOBEX)


# -- select, order, filters -------------------------------------------------------------------


def test_select_with_aliases(server) -> None:
    response = server.get("/customer", select="id,label:name::text", order="id")
    assert response.json() == [
        {"id": carbon_id(ACME, "customer", 1), "label": "Acme Tools"},
        {"id": carbon_id(ACME, "customer", 2), "label": "Bolt GmbH"},
        {"id": carbon_id(ACME, "customer", 3), "label": "Cog Ltd"},
    ]


def test_unknown_columns_are_42703_with_a_hint(server) -> None:
    for params in ({"select": "id,nmae"}, {"nmae": "eq.x"}, {"order": "nmae.desc"}):
        body = error(server.get("/customer", **params), 400, "42703")
        assert body["message"] == "column customer.nmae does not exist"
        assert body["hint"] == 'Perhaps you meant to reference the column "customer.name".'


def test_an_unknown_table_is_404_pgrst205(server) -> None:
    body = error(server.get("/customers"), 404, "PGRST205")
    assert body["message"] == "Could not find the table 'public.customers' in the schema cache"
    assert body["hint"] == "Perhaps you meant the table 'public.customer'"


def test_an_embedded_resource_is_refused(server) -> None:
    body = error(server.get("/salesInvoices", select="*,customer(*)"), 400, "PGRST200")
    assert "between 'salesInvoices' and 'customer'" in body["message"]


def test_order_directions_and_nulls(server) -> None:
    assert ids(server.get("/salesInvoices", order="totalAmount.desc")) == [2, 1, 4, 3, 5, 6]
    # updatedAt is set only on the voided invoice: nulls last ascending, first descending.
    assert ids(server.get("/salesInvoices", order="updatedAt,id"))[0] == 5
    assert ids(server.get("/salesInvoices", order="updatedAt.desc,id"))[-1] == 5
    assert ids(server.get("/salesInvoices", order="updatedAt.desc.nullslast,id.desc")) == [
        5,
        6,
        4,
        3,
        2,
        1,
    ]
    body = error(server.get("/salesInvoices", order="id.up"), 400, "PGRST100")
    assert body["message"] == '"failed to parse order (id.up)" (line 1, column 4)'


@pytest.mark.parametrize(
    ("params", "expected"),
    [
        ({"balance": "eq.150"}, [2]),
        ({"balance": "neq.0"}, [1, 2, 4]),
        ({"balance": "gt.65"}, [1, 2]),
        ({"balance": "gte.65"}, [1, 2, 4]),
        ({"balance": "lt.65"}, [3, 5, 6]),
        ({"balance": "lte.65.00"}, [3, 4, 5, 6]),
        ({"invoiceId": "like.INV-000*"}, [1, 2, 3, 4, 5, 6]),
        ({"status": "ilike.paid"}, [3]),
        ({"status": "ilike.*PAID"}, [3, 4]),
        ({"status": "like.*paid"}, []),
        ({"status": "in.(Paid,Voided)"}, [3, 5]),
        ({"status": 'in.("Partially Paid",Overdue)'}, [2, 4]),
        ({"status": "not.in.(Paid,Voided,Draft)"}, [1, 2, 4]),
        ({"updatedAt": "is.null"}, [1, 2, 3, 4, 6]),
        ({"updatedAt": "not.is.null"}, [5]),
        ({"dateDue": "lt.2026-11-01"}, [2]),
        ({"createdAt": "gte.2026-09-03T00:00:00Z"}, [4, 5, 6]),
        ({"createdAt": "gt.2026-09-03 00:00:00+00"}, [5, 6]),
        ({"needsReview": "is.false"}, [1, 2, 3, 4, 5, 6]),
    ],
)
def test_filter_operators(server, params: dict[str, str], expected: list[int]) -> None:
    assert ids(server.get("/salesInvoices", order="id", **params)) == expected


def test_a_comparison_with_null_is_neither_true_nor_false(server) -> None:
    # Only the voided invoice has an updatedAt: `neq` and its negation both skip the nulls,
    # and so does a negated tree whose outcome a null decides.
    voided = "2026-10-02T00:00:00Z"
    assert ids(server.get("/salesInvoices", updatedAt=f"neq.{voided}")) == []
    assert ids(server.get("/salesInvoices", updatedAt=f"not.eq.{voided}")) == []
    tree = f"(updatedAt.neq.{voided},id.is.null)"
    assert ids(server.get("/salesInvoices", **{"not.or": tree})) == [5]


def test_logic_trees(server) -> None:
    t = "2026-09-03T00:00:00Z"
    tree = f"(updatedAt.gte.{t},and(updatedAt.is.null,createdAt.gte.{t}),balance.gt.100)"
    assert ids(server.get("/salesInvoices", order="id", **{"or": tree})) == [2, 4, 5, 6]
    assert ids(server.get("/salesInvoices", order="id", **{"not.or": tree})) == []
    either = "(balance.gt.100,status.eq.Paid)"
    assert ids(server.get("/salesInvoices", order="id", **{"not.or": either})) == [1, 4, 5, 6]
    nested = '(status.in.("Partially Paid",Paid),not.and(balance.gt.0,currencyCode.eq.EUR))'
    assert ids(server.get("/salesInvoices", order="id", **{"and": nested})) == [3, 4]
    body = error(server.get("/salesInvoices", **{"or": "(balance.gt.0,"}), 400, "PGRST100")
    assert body["message"] == '"failed to parse logic tree ((balance.gt.0,)" (line 1, column 15)'


@pytest.mark.parametrize(
    ("params", "status", "code", "message"),
    [
        ({"balance": "gt.lots"}, 400, "22P02", 'invalid input syntax for type numeric: "lots"'),
        (
            {"createdAt": "gte.yesterday-ish"},
            400,
            "22007",
            'invalid input syntax for type timestamp with time zone: "yesterday-ish"',
        ),
        (
            {"dateDue": "eq.31/10/2026"},
            400,
            "22007",
            'invalid input syntax for type date: "31/10/2026"',
        ),
        (
            {"baseStatus": "eq.Open"},
            400,
            "22P02",
            'invalid input value for enum "salesInvoiceStatus": "Open"',
        ),
        ({"balance": "like.1*"}, 404, "42883", "operator does not exist: numeric ~~ unknown"),
        (
            {"balance": "is.true"},
            400,
            "42804",
            "argument of IS TRUE must be type boolean, not type numeric",
        ),
        (
            {"balance": "between.1"},
            400,
            "PGRST100",
            '"failed to parse filter (between.1)" (line 1, column 1)',
        ),
    ],
)
def test_bad_filters_fail_like_postgrest(
    server, params: dict[str, str], status: int, code: str, message: str
) -> None:
    assert error(server.get("/salesInvoices", **params), status, code)["message"] == message


# -- paging and counts ------------------------------------------------------------------------


def test_paging_with_counts(server) -> None:
    counted = {"Prefer": "count=exact"}
    first = server.get("/salesInvoices", headers=counted, order="id", limit=2)
    assert (first.status_code, first.headers["Content-Range"]) == (206, "0-1/6")
    assert first.headers["Range-Unit"] == "items"
    assert ids(first) == [1, 2]
    last = server.get("/salesInvoices", headers=counted, order="id", limit=2, offset=4)
    assert (last.status_code, last.headers["Content-Range"], ids(last)) == (206, "4-5/6", [5, 6])
    whole = server.get("/salesInvoices", headers=counted, order="id")
    assert (whole.status_code, whole.headers["Content-Range"]) == (200, "0-5/6")
    at_end = server.get("/salesInvoices", headers=counted, order="id", offset=6)
    assert (at_end.status_code, at_end.headers["Content-Range"], at_end.json()) == (206, "*/6", [])
    past = server.get("/salesInvoices", headers=counted, order="id", offset=7)
    body = error(past, 416, "PGRST103")
    assert body["details"] == "An offset of 7 was requested, but there are only 6 rows."
    assert past.headers["Content-Range"] == "*/6"
    none = server.get("/salesInvoices", headers=counted, balance="gt.1000")
    assert (none.status_code, none.headers["Content-Range"], none.json()) == (200, "*/0", [])


def test_without_a_count_the_total_is_unknown(server) -> None:
    response = server.get("/salesInvoices", order="id", limit=2)
    assert (response.status_code, response.headers["Content-Range"]) == (200, "0-1/*")
    empty = server.get("/salesInvoices", order="id", offset=50)
    assert (empty.status_code, empty.headers["Content-Range"], empty.json()) == (200, "*/*", [])


def test_the_range_header_meets_limit_and_offset(server) -> None:
    ranged = server.get("/salesInvoices", headers={"Range": "1-3"}, order="id")
    assert ids(ranged) == [2, 3, 4]
    assert ids(server.get("/salesInvoices", headers={"Range": "4-"}, order="id")) == [5, 6]
    both = server.get("/salesInvoices", headers={"Range": "1-3"}, order="id", limit=2)
    assert ids(both) == [2]
    error(server.get("/salesInvoices", headers={"Range": "3-1"}), 416, "PGRST103")
    error(server.get("/salesInvoices", limit=-1), 416, "PGRST103")
    error(server.get("/salesInvoices", limit="ten"), 400, "PGRST100")


def test_max_rows_truncates_silently(start) -> None:
    server = start(max_rows=4)
    counted = {"Prefer": "count=exact"}
    response = server.get("/salesInvoices", headers=counted, order="id", limit=1000)
    assert (response.status_code, response.headers["Content-Range"]) == (206, "0-3/6")
    assert ids(response) == [1, 2, 3, 4]
    rest = server.get("/salesInvoices", headers=counted, order="id", limit=1000, offset=4)
    assert (rest.headers["Content-Range"], ids(rest)) == ("4-5/6", [5, 6])


def test_one_object_and_media_types(server) -> None:
    single = {"Accept": "application/vnd.pgrst.object+json"}
    one = server.get("/salesInvoices", headers=single, id=f"eq.{carbon_id(ACME, 'invoice', 2)}")
    assert one.json()["invoiceId"] == "INV-0002"
    body = error(server.get("/salesInvoices", headers=single), 406, "PGRST116")
    assert body["details"] == "The result contains 6 rows"
    error(server.get("/salesInvoices", headers={"Accept": "text/csv"}), 406, "PGRST107")
    body = error(server.get("/customer", headers={"Accept-Profile": "api"}), 406, "PGRST106")
    assert body["hint"] == "Only the following schemas are exposed: public"
    assert server.get("/customer", headers={"Accept-Profile": "public"}).status_code == 200


# -- the hosted proxy and self-hosted PostgREST --------------------------------------------------


def test_the_hosted_proxy_refuses_missing_and_unknown_keys(server) -> None:
    missing = server.client.get(f"{server.url}/customer")
    assert error(missing, 401, "401")["message"] == "No API key found in request"
    assert missing.headers["WWW-Authenticate"] == "Bearer"
    assert error(server.get("/customer", key="crbn_nope"), 401, "401")["message"] == (
        "Invalid API key"
    )
    as_header = server.client.get(f"{server.url}/customer", headers={"carbon-key": api_key(ACME)})
    assert as_header.status_code == 200


def test_plan_and_permissions_are_403(start) -> None:
    server = start(
        companies=(ACME, GLOBEX),
        starter_plan=frozenset({GLOBEX}),
        forbidden_tables={ACME: frozenset({"payment"})},
        ledger_size={"customers": 2, "invoices": 2, "payments": 1},
    )
    assert server.get("/customer").status_code == 200
    body = error(server.get("/payment"), 403, "403")
    assert body["message"] == "This API key does not have permission to read payment"
    starter = server.get("/customer", key=api_key(GLOBEX))
    assert (
        error(starter, 403, "403")["message"] == "API access is not available on the Starter plan"
    )


def test_the_rate_limit_is_per_key_with_retry_after(start) -> None:
    clock = Clock()
    server = start(
        companies=(ACME, GLOBEX),
        rate_limit=3,
        clock=clock,
        ledger_size={"customers": 2, "invoices": 2, "payments": 1},
    )
    answers = [server.get("/company") for _ in range(3)]
    assert [a.headers["X-RateLimit-Remaining"] for a in answers] == ["2", "1", "0"]
    clock.now += 20
    refused = server.get("/company")
    assert error(refused, 429, "429")["message"] == "Rate limit exceeded for API key"
    assert refused.headers["Retry-After"] == "40"
    assert refused.headers["X-RateLimit-Limit"] == "3"
    assert server.get("/company", key=api_key(GLOBEX)).status_code == 200
    clock.now += 40
    assert server.get("/company").status_code == 200


def test_self_hosted_keys_go_in_carbon_key_and_rls_hides_rows(start) -> None:
    clock = Clock()
    server = start(rate_limit=2, clock=clock, forbidden_tables={ACME: frozenset({"memo"})})
    url = f"{server.url}/rest/v1/customer"
    good = server.client.get(url, params={"select": "name"}, headers={"carbon-key": api_key(ACME)})
    assert len(good.json()) == 3
    unknown = server.client.get(url, headers={"carbon-key": "crbn_unknown"})
    assert (unknown.status_code, unknown.json()) == (200, [])
    hidden = server.client.get(f"{server.url}/rest/v1/memo", headers={"carbon-key": api_key(ACME)})
    assert (hidden.status_code, hidden.json()) == (200, [])
    # The database's own limit check: PostgREST maps SQLSTATE P0429 to 500.
    limited = server.client.get(url, headers={"carbon-key": api_key(ACME)})
    assert error(limited, 500, "P0429")["message"] == "Rate limit exceeded for API key"
    # Row-level security still lets PostgREST validate the query.
    bad = server.client.get(url, params={"select": "nmae"}, headers={"carbon-key": "crbn_unknown"})
    error(bad, 400, "42703")


# -- the ledger as Carbon rows ----------------------------------------------------------------


def test_the_view_computes_what_the_table_lets_go_stale(server) -> None:
    one = {"id": f"eq.{carbon_id(ACME, 'invoice', 2)}"}
    [table] = server.get("/salesInvoice", **one).json()
    [view] = server.get("/salesInvoices", **one).json()
    assert (table["status"], table["totalAmount"]) == ("Submitted", 0)
    assert (view["status"], view["baseStatus"], view["totalAmount"]) == (
        "Overdue",
        "Submitted",
        200,
    )
    assert view["invoiceTotal"] == 200
    statuses = server.get("/salesInvoices", select="status", order="id").json()
    assert [row["status"] for row in statuses] == [
        "Submitted",
        "Overdue",
        "Paid",
        "Partially Paid",
        "Voided",
        "Draft",
    ]


def test_money_is_written_with_its_exact_digits(server) -> None:
    response = server.get("/salesInvoices", select="id,balance,exchangeRate", order="id", limit=2)
    # A foreign-currency balance comes from a division: PostgreSQL writes 16 decimal places.
    assert b'"balance":100.00,' in response.content
    assert b'"balance":150.0000000000000000,"exchangeRate":1.08500000' in response.content
    rows = json.loads(response.content, parse_float=Decimal)
    assert rows[1]["balance"] == Decimal("150")


def test_updated_at_is_null_until_a_rows_first_edit(server) -> None:
    customers = server.get("/customer", select="readableId,createdAt,updatedAt", order="id")
    assert customers.json() == [
        {
            "readableId": "CUST-0001",
            "createdAt": "2026-01-05T00:00:00+00:00",
            "updatedAt": "2026-03-01T00:00:00+00:00",
        },
        {"readableId": "CUST-0002", "createdAt": "2026-01-06T00:00:00+00:00", "updatedAt": None},
        {"readableId": "CUST-0003", "createdAt": "2026-01-07T00:00:00+00:00", "updatedAt": None},
    ]
    payments = server.get("/payment", select="status,postedAt,voidedAt,updatedAt", order="id")
    assert payments.json() == [
        {
            "status": "Posted",
            "postedAt": "2026-09-10T00:00:00+00:00",
            "voidedAt": None,
            "updatedAt": "2026-09-10T00:00:00+00:00",
        },
        {
            "status": "Posted",
            "postedAt": "2026-09-11T00:00:00+00:00",
            "voidedAt": None,
            "updatedAt": "2026-09-11T00:00:00+00:00",
        },
        {
            "status": "Voided",
            "postedAt": "2026-09-12T00:00:00+00:00",
            "voidedAt": "2026-09-20T00:00:00+00:00",
            "updatedAt": "2026-09-20T00:00:00+00:00",
        },
    ]


def test_payment_terms_live_in_customer_payment_settings(server) -> None:
    settings = server.get("/customerPayment", select="customerId,paymentTermId", order="customerId")
    terms = {row["id"]: row for row in server.get("/paymentTerm").json()}
    days = [terms[row["paymentTermId"]]["daysDue"] for row in settings.json()]
    assert days == [30, 0, 45]
    assert terms[carbon_id(ACME, "payment_term", 0)]["name"] == "Due on Receipt"


def test_credits_and_write_offs_are_a_posted_credit_memo_settled_on_the_invoice(server) -> None:
    [memo] = server.get("/memo").json()
    assert (memo["memoId"], memo["direction"], memo["status"], memo["amount"]) == (
        "CR-000004",
        "Credit",
        "Posted",
        15,
    )
    settled = server.get("/invoiceSettlement", memoId=f"eq.{memo['id']}").json()
    assert [(s["appliedAmount"], s["discountAmount"], s["writeOffAmount"]) for s in settled] == [
        (10, 0, 5)
    ]
    assert settled[0]["targetSalesInvoiceId"] == carbon_id(ACME, "invoice", 4)


def test_supplier_disbursements_are_there_for_the_filters_to_leave_out(start) -> None:
    server = start(ledgers={}, ledger_size={"customers": 5, "invoices": 30, "payments": 40})
    everything = server.get("/payment", select="paymentType,customerId").json()
    receipts = server.get(
        "/payment", paymentType="eq.Receipt", customerId="not.is.null", select="id"
    ).json()
    assert len(everything) == 42 and len(receipts) == 40
    assert {row["paymentType"] for row in everything} == {"Receipt", "Disbursement"}
    settlements = server.get("/invoiceSettlement", targetSalesInvoiceId="is.null").json()
    assert [s["targetPurchaseInvoiceId"] for s in settlements] == ["pinv_0001", "pinv_0002"]


def test_a_draft_payment_counts_in_no_balance_until_it_is_posted(server) -> None:
    ledger, draft = record_payment(
        LEDGER,
        customer_id=1,
        applications=[(1, D("100.00"))],
        payment_date=date(2026, 10, 20),
        at=at(10, 20, 9),
    )
    server.app.set_ledger(ACME, ledger, draft_payments={draft.payment_id})
    one = {"id": f"eq.{carbon_id(ACME, 'invoice', 1)}", "select": "balance,status,updatedAt"}
    [row] = server.get("/payment", id=f"eq.{carbon_id(ACME, 'payment', draft.payment_id)}").json()
    assert (row["status"], row["postedAt"], row["updatedAt"]) == ("Draft", None, None)
    assert server.get("/salesInvoices", **one).json() == [
        {"balance": 100, "status": "Submitted", "updatedAt": None}
    ]

    server.app.post_payment(ACME, draft.payment_id, at=at(10, 21, 8))
    [row] = server.get("/payment", id=f"eq.{carbon_id(ACME, 'payment', draft.payment_id)}").json()
    assert (row["status"], row["postedAt"]) == ("Posted", "2026-10-21T08:00:00+00:00")
    assert server.get("/salesInvoices", **one).json() == [
        {"balance": 0, "status": "Paid", "updatedAt": None}
    ]
    assert server.app.draft_payments(ACME) == frozenset()
    with pytest.raises(ValueError):
        server.app.post_payment(ACME, draft.payment_id, at=at(10, 22))


def test_each_key_serves_its_own_companys_ledger(start) -> None:
    server = start(
        companies=(ACME, GLOBEX),
        ledgers={},
        ledger_size={"customers": 3, "invoices": 5, "payments": 4},
    )
    acme = server.get("/company").json()
    globex = server.get("/company", key=api_key(GLOBEX)).json()
    assert acme[0]["id"] == company_id(ACME) and globex[0]["id"] == company_id(GLOBEX)
    assert acme[0]["baseCurrencyCode"] == server.app.ledger(ACME).base_currency
    names = {row["name"] for row in server.get("/customer", key=api_key(GLOBEX)).json()}
    assert names == {c.name for c in server.app.ledger(GLOBEX).customers}


# -- faults -----------------------------------------------------------------------------------


def test_injected_faults_take_the_sources_shapes(start) -> None:
    server = start(faults=FaultConfig(burst_429=1, retry_after_s=0.5))
    throttled = server.get("/customer")
    assert error(throttled, 429, "429")["message"] == "Rate limit exceeded for API key"
    assert throttled.headers["Retry-After"] == "1"
    server.set_faults(FaultConfig(error_rate=1.0, seed=3))
    statuses = {server.get("/customer").status_code for _ in range(12)}
    assert statuses == {500, 502, 503}
    failed = next(r for r in (server.get("/customer") for _ in range(20)) if r.status_code == 500)
    assert error(failed, 500, "57014")["message"] == "canceling statement due to statement timeout"


def test_paging_faults_repeat_and_edit_the_previous_row(server) -> None:
    server.set_faults(FaultConfig(duplicate_rows_rate=1.0))
    page = server.get("/salesInvoices", order="id", limit=2, offset=2)
    assert ids(page) == [2, 3, 4]
    server.set_faults(FaultConfig(modify_while_paging=1.0))
    server.get("/customer", order="id", limit=1, offset=2)
    rows = server.get("/customer", select="updatedAt", order="id").json()
    # Customer 2 was never edited; now it is, one second after the newest change.
    assert rows[1]["updatedAt"] == "2026-10-02T00:00:01+00:00"
    assert server.log.count(fault="modify_while_paging") == 1
