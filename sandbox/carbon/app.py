"""The Carbon Data API sandbox: PostgREST over each company's ledger, behind Carbon's proxy.

    server = start_carbon_sandbox(CarbonConfig(companies=("Acme Manufacturing",)))
    key = server.app.api_key("Acme Manufacturing")
    httpx.get(f"{server.url}/salesInvoices", params={"order": "id.asc", "limit": 50},
              headers={"Authorization": f"Bearer {key}", "Prefer": "count=exact"})

From a shell:

    curl -H "Authorization: Bearer $KEY" -H "Prefer: count=exact" \\
         "$URL/payment?paymentType=eq.Receipt&customerId=not.is.null&order=id.asc&limit=100"
    curl -H "Authorization: Bearer $KEY" \\
         "$URL/salesInvoices?or=(updatedAt.gte.2026-10-01T00:00:00Z,balance.gt.0)&order=id"

Two ways in (SOURCES.md §1.1):

  /<table>          the hosted API (rest.carbon.ms): ``Authorization: Bearer crbn_…`` (or
                    ``carbon-key``). Its proxy answers 401 (no or unknown key), 429 (more than
                    `rate_limit` requests per key per window, with Retry-After), 403 (a company on
                    the Starter plan, or a table the key's modules do not cover); every response
                    carries X-RateLimit-Limit/-Remaining/-Reset.
  /rest/v1/<table>  self-hosted PostgREST with ``carbon-key: crbn_…``: an unknown key, a missing
                    permission or the Starter plan read zero rows (row-level security), and the
                    database's rate-limit check fails as HTTP 500 with code P0429.

Proxy errors use PostgREST's ``{code, message, details, hint}`` body (the real proxy's shape is
UNCONFIRMED). Queries follow `sandbox.carbon.postgrest`; an unknown table is 404 PGRST205. Each
company's key serves `generate_ledger(<company name>)` unless a ledger is given. Injected faults:
the proxy's 429, 500 ``57014`` (statement timeout), 502/503 gateway pages; `duplicate_rows`
repeats the previous page's last row; `modify_while_paging` edits it.
"""

from __future__ import annotations

import dataclasses
import difflib
import math
import threading
from collections.abc import Iterable, Sequence
from datetime import datetime
from http import HTTPStatus

from sandbox.carbon.company import CompanyData
from sandbox.carbon.config import CarbonConfig
from sandbox.carbon.ids import Kind, api_key, company_id, ledger_id
from sandbox.carbon.postgrest import (
    JSON_TYPE,
    SCHEMA,
    PostgrestError,
    Row,
    Table,
    parse_query,
    select_response,
)
from sandbox.carbon.replay import ReplayTables
from sandbox.carbon.schema import TABLES
from sandbox.faults import FaultConfig
from sandbox.generator import ListedKind
from sandbox.ledger import Ledger
from sandbox.paging_faults import change_while_paging
from sandbox.ratewindow import RateWindow, WindowStatus
from sandbox.routing import App, Request, Response, retry_after_value
from sandbox.server import SandboxServer

RATE_LIMITED = "Rate limit exceeded for API key"


class CarbonApp(App):
    def __init__(self, config: CarbonConfig | None = None) -> None:
        super().__init__()
        self.config = config = config or CarbonConfig()
        self._companies_by_key = {api_key(name): name for name in config.companies}
        self._lock = threading.Lock()
        self._data: dict[str, CompanyData] = {}
        self._window = RateWindow(config.rate_limit, config.rate_window_s, clock=config.clock)
        self._replays = {name: ReplayTables(replay) for name, replay in config.replays.items()}
        self.router.add("GET", "/rest/v1/{table}", self._self_hosted)
        self.router.add("GET", "/{table}", self._hosted)

    # -- test hooks --------------------------------------------------------------------------

    def api_key(self, company: str) -> str:
        self._known(company)
        return api_key(company)

    def company_id(self, company: str) -> str:
        self._known(company)
        return company_id(company)

    def ledger(self, company: str) -> Ledger:
        return self._company(company).ledger

    def rows(self, company: str, table: str) -> Sequence[Row]:
        """What `table` holds for the company now (typed values), in creation order."""
        return self._company(company).tables[table].rows

    def draft_payments(self, company: str) -> frozenset[int]:
        return self._company(company).drafts

    def edit(self, company: str, table: str, row_id: str) -> None:
        """A user edits the row (a note shortened): its `updatedAt` becomes now, one second
        after the company's newest change, and nothing else changes."""
        self._company(company)
        with self._lock:
            self._data[company] = self._data[company].with_bumped(table, row_id)

    def set_ledger(
        self, company: str, ledger: Ledger, *, draft_payments: Iterable[int] = ()
    ) -> None:
        """Serve `ledger` from the next request on; `draft_payments` (posted in the ledger) are
        served as Draft: received, not yet posted, so invoice balances do not count them."""
        self._known(company)
        data = CompanyData(company, ledger, frozenset(draft_payments))
        with self._lock:
            self._data[company] = data

    def post_payment(self, company: str, payment_id: int, *, at: datetime) -> None:
        """Post a draft payment at `at`: its settlements now count in the invoices' balances,
        whose `updatedAt` stays as it was."""
        data = self._company(company)
        if payment_id not in data.drafts:
            raise ValueError(f"payment {payment_id} is not a draft of {company!r}")
        payments = tuple(
            dataclasses.replace(p, updated_at=at) if p.payment_id == payment_id else p
            for p in data.ledger.payments
        )
        self.set_ledger(
            company,
            data.ledger.replace(payments=payments),
            draft_payments=data.drafts - {payment_id},
        )

    # -- App hooks ---------------------------------------------------------------------------

    def account_of(self, request: Request) -> str | None:
        key = _bearer(request) or request.header("carbon-key")
        return self._companies_by_key.get(key) if key else None

    def not_found(self, request: Request) -> Response:
        return PostgrestError(404, "PGRST125", "Invalid path specified in request URL").response()

    def fault_response(self, request: Request, status: int) -> Response:
        if status == 429:
            return _proxy_error(429, RATE_LIMITED, hint="Retry after the time in Retry-After")
        if status == 500:
            return PostgrestError(
                500, "57014", "canceling statement due to statement timeout"
            ).response()
        phrase = f"{status} {HTTPStatus(status).phrase}"
        html = f"<html><head><title>{phrase}</title></head><body><h1>{phrase}</h1></body></html>"
        return Response.raw(html.encode(), status, "text/html; charset=utf-8")

    # -- the two ways in ---------------------------------------------------------------------

    def _hosted(self, request: Request) -> Response:
        key = _bearer(request) or request.header("carbon-key")
        unauthorized = {"WWW-Authenticate": "Bearer"}
        if not key:
            return _proxy_error(
                401,
                "No API key found in request",
                hint="Send the header Authorization: Bearer <your crbn_ API key>",
                headers=unauthorized,
            )
        company = self._companies_by_key.get(key)
        if company is None:
            return _proxy_error(
                401,
                "Invalid API key",
                "The key is unknown, expired or revoked",
                "Create a key in Settings → API Keys",
                headers=unauthorized,
            )
        window = self._window.hit(key)
        limits = _rate_headers(window)
        if not window.allowed:
            return _proxy_error(
                429,
                RATE_LIMITED,
                hint=f"Retry after {retry_after_value(window.reset_s)} seconds",
                headers={**limits, "Retry-After": retry_after_value(window.reset_s)},
            )
        table = request.path_params["table"]
        denied = self._denied(company, table)
        if denied is not None:
            return _proxy_error(403, denied, headers=limits)
        response = self._query(company, table, request)
        response.headers.update(limits)
        return response

    def _self_hosted(self, request: Request) -> Response:
        key = request.header("carbon-key")
        company = self._companies_by_key.get(key) if key else None
        if company is not None and not self._window.hit(key).allowed:
            return PostgrestError(500, "P0429", RATE_LIMITED).response()
        table = request.path_params["table"]
        if company is None or self._denied(company, table) is not None:
            return self._query(None, table, request)  # row-level security: no rows
        return self._query(company, table, request)

    def _denied(self, company: str, table: str) -> str | None:
        if company in self.config.starter_plan:
            return "API access is not available on the Starter plan"
        if table in self.config.forbidden_tables.get(company, frozenset()):
            return f"This API key does not have permission to read {table}"
        return None

    def _query(self, company: str | None, table_name: str, request: Request) -> Response:
        columns = TABLES.get(table_name)
        if columns is None:
            return _table_not_found(table_name).response()
        if company is None:
            return select_response(
                Table(table_name, columns, ()), request, max_rows=self.config.max_rows
            )
        replayed = self._replays.get(company)
        if replayed is not None:
            response = select_response(
                replayed.table(table_name), request, max_rows=self.config.max_rows
            )
            return replayed.verbatim(table_name, request, response)
        table = self._company(company).tables[table_name]
        if table_name in _LISTED_KIND:
            table = self._change_while_paging(company, table, request)
        if request.faults.modify_while_paging:
            table = self._edit_previous_row(company, table, request)
        return select_response(table, request, max_rows=self.config.max_rows)

    def _edit_previous_row(self, company: str, table: Table, request: Request) -> Table:
        """The fault: the row just before this page (already served) is edited now."""
        try:
            query = parse_query(table, request.query)
        except PostgrestError:
            return table
        rows = table.matching(query)
        if not 0 < query.offset <= len(rows) or "updatedAt" not in table.columns:
            return table
        with self._lock:
            data = self._data[company].with_bumped(table.name, rows[query.offset - 1].get("id"))
            self._data[company] = data
        request.applied_faults.append("modify_while_paging")
        return data.tables[table.name]

    def _change_while_paging(self, company: str, table: Table, request: Request) -> Table:
        """The delete_while_paging and insert_while_paging faults: the rows before this page
        (in id order, whatever the paging style) are the ones a deletion may take."""
        plan = request.faults
        if not (plan.delete_while_paging or plan.insert_while_paging):
            return table
        try:
            query = parse_query(table, request.query)
        except PostgrestError:
            return table
        rows = table.matching(query)
        if not 0 <= query.offset < len(rows):
            return table
        first = rows[query.offset]["id"]
        kind, id_kind = _LISTED_KIND[table.name]
        before = sorted(row["id"] for row in table.rows if row["id"] < first)
        served = []
        for row_id in before:
            try:
                served.append(ledger_id(company, id_kind, row_id))
            except ValueError:  # a row of another kind (a supplier's payment)
                continue
        data = self._company(company)
        changed = change_while_paging(data.ledger, kind, served, plan, request.applied_faults)
        if changed is None:
            return table
        live = {p.payment_id for p in changed.payments}
        self.set_ledger(company, changed, draft_payments=data.drafts & live)
        return self._company(company).tables[table.name]

    # -- companies ---------------------------------------------------------------------------

    def _known(self, company: str) -> None:
        if company not in self.config.companies:
            raise KeyError(f"no company {company!r} in this sandbox ({self.config.companies})")

    def _company(self, company: str) -> CompanyData:
        self._known(company)
        with self._lock:
            data = self._data.get(company)
            if data is None:
                ledger = self.config.ledgers.get(company) or self._generate(company)
                data = self._data[company] = CompanyData(company, ledger, frozenset())
            return data

    def _generate(self, company: str) -> Ledger:
        from sandbox.generator import generate_ledger

        return generate_ledger(company, **self.config.ledger_size)


# What the delete_while_paging and insert_while_paging faults change, per table.
_LISTED_KIND: dict[str, tuple[ListedKind, Kind]] = {
    "customer": ("customers", "customer"),
    "salesInvoices": ("invoices", "invoice"),
    "payment": ("payments", "payment"),
}


def _bearer(request: Request) -> str | None:
    scheme, _, token = (request.header("authorization") or "").partition(" ")
    return (token.strip() or None) if scheme.lower() == "bearer" else None


def _proxy_error(
    status: int,
    message: str,
    details: str | None = None,
    hint: str | None = None,
    *,
    headers: dict[str, str] | None = None,
) -> Response:
    body = {"code": str(status), "details": details, "hint": hint, "message": message}
    return Response.json(
        body, status=status, headers={"Content-Type": JSON_TYPE, **(headers or {})}
    )


def _rate_headers(window: WindowStatus) -> dict[str, str]:
    return {
        "X-RateLimit-Limit": str(window.limit),
        "X-RateLimit-Remaining": str(window.remaining),
        "X-RateLimit-Reset": str(math.ceil(window.reset_s)),
    }


def _table_not_found(name: str) -> PostgrestError:
    close = difflib.get_close_matches(name, list(TABLES), n=1, cutoff=0.75)
    return PostgrestError(
        404,
        "PGRST205",
        f"Could not find the table '{SCHEMA}.{name}' in the schema cache",
        hint=f"Perhaps you meant the table '{SCHEMA}.{close[0]}'" if close else None,
    )


def start_carbon_sandbox(
    config: CarbonConfig | None = None,
    *,
    faults: FaultConfig | None = None,
    host: str = "127.0.0.1",
    port: int = 0,
) -> SandboxServer[CarbonApp]:
    """A running Carbon sandbox; stop it with `.stop()` (or use it as a context manager)."""
    return SandboxServer(CarbonApp(config), host=host, port=port, faults=faults).start()
