"""The Simpro API v1.0 sandbox: one build serving a `Ledger` per company.

    server = start_simpro_sandbox(SimproConfig(companies=("Acme Plumbing", "Acme Electrical")))
    server.app.company_id("Acme Electrical")  # 1
    ...
    server.stop()

With the defaults, from a shell:

    curl -H "Authorization: Bearer sandbox-simpro-api-key" "$URL/api/v1.0/companies/"
    curl -X POST "$URL/oauth2/token" -d grant_type=client_credentials \\
         -d client_id=sandbox-simpro-client -d client_secret=sandbox-simpro-secret
    curl -H "Authorization: Bearer $TOKEN" "$URL/api/v1.0/companies/0/customerPayments/\\
?columns=ID,Payment,Invoices,DateModified&orderby=ID&pageSize=50&page=2&DateModified=gt(2026-10-01)"

Every company serves its own ledger, generated from its name unless one is given, through
`companydata.representable` (what Simpro can hold). Collections: `customers/` (every customer,
columns `ID, _href, CompanyName, GivenName, FamilyName` only), `customers/companies/`,
`customers/individuals/`, `customerInvoices/`, `creditNotes/`, `customerPayments/`, each but
`customers/` with `/{ID}` for one record; list parameters as in `sandbox.simpro.listing`;
list responses carry `Result-Total`, `Result-Pages` and `Result-Count`.

Errors, in the order checked (bodies are `{"errors": [{"path", "message", "value"}]}`):
  429  more than `rate_limit` API requests in the build's sliding window (with Retry-After)
  401  no bearer credential, or one that is neither an API key nor a live access token
  404  "Invalid route" for any unknown path: a collection without its trailing slash, a
       record with one; "... not found" for an unknown company or record id
  422  an unknown column in columns, orderby or a filter; a bad page, pageSize or limit; a
       filter value that does not parse (a timestamp where the build takes only dates)
The token endpoint answers 400 `invalid_client` / `unsupported_grant_type` (OAuth bodies) and
does not count against the rate limit. Injected faults: 429 and 500 with an errors body,
502/503 with an HTML body as a gateway sends.
"""

from __future__ import annotations

import math
import re
import threading
from collections.abc import Callable, Sequence
from datetime import UTC, datetime
from decimal import Decimal
from http import HTTPStatus
from zoneinfo import ZoneInfo

from sandbox.faults import FaultConfig
from sandbox.generator import ListedKind, generate_ledger
from sandbox.ledger import Ledger
from sandbox.paging_faults import change_while_paging
from sandbox.ratewindow import RateWindow
from sandbox.replay import Replay
from sandbox.routing import JSON_CONTENT_TYPE, App, Handler, Request, Response, retry_after_value
from sandbox.server import SandboxServer
from sandbox.simpro import listing, render
from sandbox.simpro.companydata import Collection, CompanyData
from sandbox.simpro.config import SimproConfig
from sandbox.simpro.ids import Kind, ledger_id
from sandbox.simpro.tokens import TokenStore

API = "/api/v1.0"
COLLECTIONS: dict[str, Collection] = {
    "customers": "customers",
    "customers/companies": "customer_companies",
    "customers/individuals": "customer_individuals",
    "customerInvoices": "customer_invoices",
    "creditNotes": "credit_notes",
    "customerPayments": "customer_payments",
}
_RECORD_NOT_FOUND: dict[Collection, str] = {
    "customers": "Customer not found.",
    "customer_companies": "Company customer not found.",
    "customer_individuals": "Individual customer not found.",
    "customer_invoices": "Customer invoice not found.",
    "credit_notes": "Credit note not found.",
    "customer_payments": "Customer payment not found.",
}
# What the delete_while_paging and insert_while_paging faults change, per listing.
_LISTED_KIND: dict[Collection, ListedKind] = {
    "customers": "customers",
    "customer_companies": "customers",
    "customer_individuals": "customers",
    "customer_invoices": "invoices",
    "customer_payments": "payments",
}
_ID_KIND: dict[ListedKind, Kind] = {
    "customers": "customer",
    "invoices": "invoice",
    "payments": "payment",
}
_COMPANY_PATH = re.compile(rf"^{re.escape(API)}/companies/(\d+)(?:/|$)")
_BUILD = "build"  # the rate window's key: the whole sandbox is one build

CompanyHandler = Callable[[Request, CompanyData], Response]


def errors(status: int, message: str, *, path: str | None = None, value: object = None) -> Response:
    return Response.json(
        {"errors": [{"path": path, "message": message, "value": value}]}, status=status
    )


class SimproApp(App):
    def __init__(self, config: SimproConfig | None = None) -> None:
        super().__init__()
        self.config = config = config or SimproConfig()
        self.zone = ZoneInfo(config.timezone)
        self.tokens = TokenStore(config.client, config.expires_in, config.clock)
        self._lock = threading.Lock()
        self._data: dict[str, CompanyData] = {}
        self._window = RateWindow(
            config.rate_limit, config.rate_window_s, sliding=True, clock=config.clock
        )

        add = self.router.add
        add("POST", "/oauth2/token", self._token, data=False)
        add("GET", f"{API}/companies/", self._api(self._companies))
        add("GET", f"{API}/companies/{{company_id}}", self._api(self._scoped(self._company)))
        for path, collection in COLLECTIONS.items():
            base = f"{API}/companies/{{company_id}}/{path}"
            add("GET", f"{base}/", self._api(self._scoped(self._lister(collection))))
            if collection != "customers":  # one customer is read from its own kind's path
                record = self._record(collection)
                add("GET", f"{base}/{{record_id}}", self._api(self._scoped(record)))

    # -- test hooks --------------------------------------------------------------------------

    def company_id(self, company: str) -> int:
        return self.config.companies.index(company)

    def ledger(self, company: str) -> Ledger:
        """The ledger served for the company (as Simpro holds it, with any modify_while_paging
        bumps): the one to compute ground truth from."""
        return self._company_data(company).ledger

    def amount_owing(self, company: str) -> dict[int, Decimal]:
        """Each customer's `AmountOwing` as served now, by ledger customer id (none: nothing)."""
        return dict(self._company_data(company).owing)

    def set_ledger(self, company: str, ledger: Ledger) -> None:
        """Serve `ledger` for the company from the next request on."""
        data = self._new_data(company, ledger)
        with self._lock:
            self._data[company] = data

    @property
    def token_requests(self) -> int:
        return self.tokens.requests

    # -- App hooks ---------------------------------------------------------------------------

    def account_of(self, request: Request) -> str | None:
        found = _COMPANY_PATH.match(request.path)
        if found is None or int(found.group(1)) >= len(self.config.companies):
            return None
        return self.config.companies[int(found.group(1))]

    def not_found(self, request: Request) -> Response:
        return errors(404, "Invalid route", path=request.path)

    def fault_response(self, request: Request, status: int) -> Response:
        if status in (429, 500):
            return errors(status, HTTPStatus(status).phrase)
        phrase = f"{status} {HTTPStatus(status).phrase}"
        html = f"<html><head><title>{phrase}</title></head><body><h1>{phrase}</h1></body></html>"
        return Response.raw(html.encode(), status, "text/html; charset=utf-8")

    # -- companies and their data ------------------------------------------------------------

    def _company_data(self, company: str) -> CompanyData:
        with self._lock:
            data = self._data.get(company)
        if data is None:
            replay = self.config.replays.get(company)
            if replay is not None:  # the file's records are served; the ledger only names it
                as_of = replay.as_of or datetime.now(UTC).date()
                ledger = Ledger(company, replay.base_currency or "AUD", as_of, (), (), (), ())
            else:
                ledger = self.config.ledgers.get(company) or generate_ledger(
                    company, **self.config.ledger_size
                )
            data = self._new_data(company, ledger)
            with self._lock:
                data = self._data.setdefault(company, data)
        return data

    def _new_data(self, company: str, ledger: Ledger) -> CompanyData:
        return CompanyData(
            company,
            self.company_id(company),
            self.zone,
            ledger,
            timestamp_style=self.config.timestamp_style,
            payment_status=self.config.payment_status,
            render=render.row,
        )

    def _bump(self, company: str, collection: Collection, record_id: object) -> CompanyData:
        with self._lock:
            data = self._data[company].with_bumped(collection, record_id)
            self._data[company] = data
            return data

    # -- rate limit, auth and company checks -------------------------------------------------

    def _token(self, request: Request) -> Response:
        fields = ("grant_type", "client_id", "client_secret")
        status, body = self.tokens.grant({name: request.form_value(name) for name in fields})
        return Response.json(body, status=status)

    def _api(self, handler: Handler) -> Handler:
        """The build's rate limit, then the bearer credential, then `handler`."""

        def guarded(request: Request) -> Response:
            window = self._window.hit(_BUILD)
            if not window.allowed:
                response = errors(429, "Too many requests. Please try again later.")
                response.headers["Retry-After"] = retry_after_value(window.reset_s)
                return response
            scheme, _, credential = (request.header("authorization") or "").partition(" ")
            credential = credential.strip()
            if scheme.lower() != "bearer" or not credential:
                return errors(401, "No bearer token was given in the Authorization header.")
            if credential not in self.config.api_keys and not self.tokens.is_valid(credential):
                return errors(401, "The access token is invalid or has expired.")
            return handler(request)

        return guarded

    def _scoped(self, handler: CompanyHandler) -> Handler:
        def scoped(request: Request) -> Response:
            text = request.path_params["company_id"]
            companies = self.config.companies
            if not text.isdigit() or int(text) >= len(companies):
                return errors(404, "Company not found.", path="companyID", value=text)
            return handler(request, self._company_data(companies[int(text)]))

        return scoped

    # -- endpoints ---------------------------------------------------------------------------

    def _companies(self, request: Request) -> Response:
        return Response.json(
            [{"ID": i, "Name": name} for i, name in enumerate(self.config.companies)]
        )

    def _company(self, request: Request, data: CompanyData) -> Response:
        return Response.json(render.company(data))

    def _known_columns(self, collection: Collection) -> set[str]:
        return set(render.COLUMNS[collection]) - self.config.unknown_columns

    def _lister(self, collection: Collection) -> CompanyHandler:
        config = self.config

        def selected(data: CompanyData, query: listing.ListQuery) -> Sequence[listing.Row]:
            return data.query(
                (collection, query.selection),
                lambda: listing.select(
                    data.rows(collection),
                    query,
                    zone=self.zone,
                    modified_filter=config.modified_filter,
                ),
            )

        def handler(request: Request, data: CompanyData) -> Response:
            try:
                query = listing.parse(
                    request.query,
                    self._known_columns(collection),
                    default_page_size=config.default_page_size,
                    max_page_size=config.max_page_size,
                )
                replay = config.replays.get(data.name)
                if replay is not None:
                    return _replayed_page(replay, collection, query)
                rows = selected(data, query)
            except listing.QueryError as error:
                return Response.json({"errors": error.errors}, status=422)

            offset = (query.page - 1) * query.page_size
            kind = _LISTED_KIND.get(collection)
            changed = (
                None
                if kind is None or not request.faults.changes_data
                else change_while_paging(
                    data.ledger,
                    kind,
                    _ids_before(data.rows(collection), rows, offset, _ID_KIND[kind]),
                    request.faults,
                    request.applied_faults,
                )
            )
            if changed is not None:
                self.set_ledger(data.name, changed)
                data = self._company_data(data.name)
                rows = selected(data, query)
            previous = rows[offset - 1] if 0 < offset <= len(rows) else None
            if previous is not None and request.faults.modify_while_paging:
                data = self._bump(data.name, collection, previous["ID"])
                rows = selected(data, query)
                previous = rows[offset - 1] if offset <= len(rows) else None
                request.applied_faults.append("modify_while_paging")
            served = list(rows[offset : offset + query.page_size])
            if previous is not None and served and request.faults.duplicate_rows:
                served.insert(0, previous)
                request.applied_faults.append("duplicate_rows")
            columns = query.columns or render.DEFAULT_COLUMNS[collection]
            return Response.json(
                [listing.project(row, columns) for row in served],
                headers={
                    "Result-Total": str(len(rows)),
                    "Result-Pages": str(math.ceil(len(rows) / query.page_size)),
                    "Result-Count": str(len(served)),
                },
            )

        return handler

    def _record(self, collection: Collection) -> CompanyHandler:
        def handler(request: Request, data: CompanyData) -> Response:
            known = self._known_columns(collection)
            columns = listing.names(request.query.get("columns")) or list(known)
            unknown = [c for c in columns if c not in known]
            if unknown:
                return errors(422, "Invalid columns found", path="columns", value=unknown[0])
            replay = self.config.replays.get(data.name)
            if replay is not None:
                return _replayed_record(
                    replay, collection, request.path_params["record_id"], columns
                )
            found = data.row(collection, request.path_params["record_id"])
            if found is None:
                return errors(404, _RECORD_NOT_FOUND[collection])
            return Response.json(listing.project(found, [c for c in found if c in columns]))

        return handler


def _ids_before(
    every: Sequence[listing.Row], rows: Sequence[listing.Row], offset: int, kind: Kind
) -> list[int]:
    """Ledger ids of the collection's rows with an ID below the first row of this page (the
    rows a listing in ID order served before it, whatever its paging style), in ID order."""
    if not 0 <= offset < len(rows):
        return []
    first = rows[offset]["ID"]
    return sorted(ledger_id(kind, row["ID"]) for row in every if row["ID"] < first)


_PATHS = {collection: path for path, collection in COLLECTIONS.items()}


def _replayed_page(replay: Replay, collection: Collection, query: listing.ListQuery) -> Response:
    """A page of a ledger file's list (named by its path, e.g. `customerPayments`): its
    verbatim page, or its rows paged and projected to the columns asked for (a row lacking a
    column goes without it). Filters and orderby are not applied to a file's rows."""
    path = _PATHS[collection]
    verbatim = replay.pages.get((path, query.page))
    if verbatim is not None:
        return Response.raw(verbatim, content_type=JSON_CONTENT_TYPE)
    rows = list(replay.rows(path))[: query.limit]
    offset = (query.page - 1) * query.page_size
    served = rows[offset : offset + query.page_size]
    columns = query.columns or render.DEFAULT_COLUMNS[collection]
    return Response.json(
        [{c: row[c] for c in columns if c in row} for row in served],
        headers={
            "Result-Total": str(len(rows)),
            "Result-Pages": str(math.ceil(len(rows) / query.page_size)),
            "Result-Count": str(len(served)),
        },
    )


def _replayed_record(
    replay: Replay, collection: Collection, record_id: str, columns: Sequence[str]
) -> Response:
    """One record of a ledger file: verbatim, from its `records`, or its list row."""
    path = _PATHS[collection]
    verbatim = replay.responses.get((path, record_id))
    if verbatim is not None:
        return Response.raw(verbatim, content_type=JSON_CONTENT_TYPE)
    found = replay.record(path, record_id) or next(
        (row for row in replay.rows(path) if str(row.get("ID")) == record_id), None
    )
    if found is None:
        return errors(404, _RECORD_NOT_FOUND[collection])
    return Response.json({c: found[c] for c in columns if c in found})


def start_simpro_sandbox(
    config: SimproConfig | None = None,
    *,
    faults: FaultConfig | None = None,
    host: str = "127.0.0.1",
    port: int = 0,
) -> SandboxServer[SimproApp]:
    """A running Simpro sandbox (one build); stop it with `.stop()` or use it as a context
    manager."""
    return SandboxServer(SimproApp(config), host=host, port=port, faults=faults).start()
