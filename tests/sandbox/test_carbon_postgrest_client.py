"""The Carbon sandbox through a real PostgREST client: supabase's `postgrest` package.

If the sandbox speaks PostgREST, a client written against real PostgREST can select, filter,
order and page through it, read counts, ask for one object, and get PostgREST's errors.
"""

from __future__ import annotations

from collections.abc import Iterator

import pytest
from postgrest import APIError, SyncPostgrestClient

from sandbox.carbon.app import CarbonApp, start_carbon_sandbox
from sandbox.carbon.config import CarbonConfig
from sandbox.server import SandboxServer

COMPANY = "juniper-works"


@pytest.fixture
def server() -> Iterator[SandboxServer[CarbonApp]]:
    config = CarbonConfig(
        companies=(COMPANY,),
        ledger_size={"customers": 10, "invoices": 45, "payments": 30},
        rate_limit=10_000,
        max_rows=20,
    )
    with start_carbon_sandbox(config) as server:
        yield server


@pytest.fixture
def client(server: SandboxServer[CarbonApp]) -> Iterator[SyncPostgrestClient]:
    key = server.app.api_key(COMPANY)
    with SyncPostgrestClient(server.url, headers={"Authorization": f"Bearer {key}"}) as client:
        yield client


def invoices(server: SandboxServer[CarbonApp]) -> list[dict]:
    return list(server.app.rows(COMPANY, "salesInvoices"))


def test_select_filter_and_order(server, client) -> None:
    response = (
        client.from_("salesInvoices")
        .select("id", "invoiceId", "balance", count="exact")
        .gt("balance", 0)
        .order("balance", desc=True)
        .order("id")
        .limit(5)
        .execute()
    )
    open_invoices = sorted(
        (row for row in invoices(server) if row["balance"] > 0),
        key=lambda row: (-row["balance"], row["id"]),
    )
    assert response.count == len(open_invoices)
    assert [row["id"] for row in response.data] == [row["id"] for row in open_invoices[:5]]
    assert set(response.data[0]) == {"id", "invoiceId", "balance"}


def test_page_through_a_listing_with_ranges(server, client) -> None:
    seen: list[str] = []
    total = None
    while total is None or len(seen) < total:
        start = len(seen)
        page = (
            client.from_("salesInvoices")
            .select("id", count="exact")
            .order("id")
            .range(start, start + 14)
            .execute()
        )
        total = page.count
        assert page.data, f"an empty page at {start} of {total}"
        seen += [row["id"] for row in page.data]
    assert seen == sorted(row["id"] for row in invoices(server))


def test_other_filters(server, client) -> None:
    """Counted, since the sandbox caps a response at 20 rows (max-rows) as Carbon caps at 1,000."""
    rows = invoices(server)

    def count(query) -> int | None:
        return query.execute().count

    table = client.from_("salesInvoices")
    statuses = ["Paid", "Voided"]
    in_list = table.select("id", count="exact").in_("status", statuses)
    assert count(in_list) == sum(row["status"] in statuses for row in rows)
    never_edited = table.select("id", count="exact").is_("updatedAt", "null")
    assert count(never_edited) == sum(row["updatedAt"] is None for row in rows)
    edited = table.select("id", count="exact").not_.is_("updatedAt", "null")
    assert count(edited) == sum(row["updatedAt"] is not None for row in rows)
    either = table.select("id", count="exact").or_(
        "status.eq.Draft,and(status.eq.Paid,balance.eq.0)"
    )
    assert count(either) == sum(
        row["status"] == "Draft" or (row["status"] == "Paid" and row["balance"] == 0)
        for row in rows
    )
    named = client.from_("customer").select("name").ilike("readableId", "cus-00000%").execute()
    assert len(named.data) == 9


def test_one_object(server, client) -> None:
    first = min(row["id"] for row in invoices(server))
    one = client.from_("salesInvoices").select("id", "invoiceId").eq("id", first).single().execute()
    assert one.data["id"] == first


def test_errors_come_back_as_postgrest_errors(client) -> None:
    with pytest.raises(APIError) as missing_column:
        client.from_("salesInvoices").select("id", "nmae").execute()
    assert missing_column.value.code == "42703"
    assert missing_column.value.message == "column salesInvoices.nmae does not exist"
    with pytest.raises(APIError) as missing_table:
        client.from_("salesInvoice_s").select("*").execute()
    assert missing_table.value.code == "PGRST205"
