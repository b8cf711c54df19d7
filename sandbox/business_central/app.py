"""The Dynamics 365 Business Central API v2.0 sandbox: the wire contract over a Ledger per company.

    server = start_business_central_sandbox(BusinessCentralConfig(companies=("CRONUS USA, Inc.",)))
    company = server.app.company_id("CRONUS USA, Inc.")
    server.app.post_journal("CRONUS USA, Inc.", "CASHRCPT")   # lines vanish, balances drop
    server.stop()

With the defaults, from a shell (API = $URL/v2.0/$TENANT/production/api/v2.0):

    curl -X POST "$URL/$TENANT/oauth2/v2.0/token" -d grant_type=client_credentials \\
         -d client_id=$CLIENT_ID -d client_secret=$SECRET \\
         -d scope=https://api.businesscentral.dynamics.com/.default
    curl -H "Authorization: Bearer $TOKEN" "$API/companies"
    curl -H "Authorization: Bearer $TOKEN" -H "Prefer: odata.maxpagesize=50" \\
         "$API/companies($COMPANY)/salesInvoices?\\$filter=lastModifiedDateTime%20gt%202026-10-01T00:00:00Z"
    curl -H "Authorization: Bearer $TOKEN" \\
         "$API/companies($COMPANY)/customerPaymentJournals($JOURNAL)/customerPayments"
    curl -X POST -H "Authorization: Bearer $TOKEN" \\
         "$API/companies($COMPANY)/journals($JOURNAL)/Microsoft.NAV.post"

Errors (bodies `{"error": {"code", "message"}}`; the token endpoint answers as Entra does):
  401 Authentication_InvalidCredentials  no, unknown or expired bearer token, or another tenant
  404 BadRequest_NotFound                unknown environment, company, journal, line or URL
  429 Application_TooManyRequests        over `rate_limit` requests in the sliding window, or
                                         the queue behind `max_concurrent` requests is full
  400 BadRequest…                        bad $filter/$select/$orderby/$top/$skip/$count/$expand
                                         or skip token; an option it does not emulate;
                                         customerPayments without a journal
Query options as in `sandbox.business_central.odata`, with v2.0 semantics: $filter, then
$orderby (served order: the key), then $skip and $top; pages of `Prefer: odata.maxpagesize`
(or the default) within that, linked by @odata.nextLink; `@odata.count` counts what $filter
keeps. $expand: customer (invoices, credit memos, payment lines), salesInvoiceLines
(invoices), customerPayments (journals). `…/api/v2.0/` is the service document and
`…/api/v2.0/$metadata` the CSDL (`sandbox.business_central.metadata`).
Injected faults: 429 (Retry-After per FaultConfig), 5xx with `retry-after` (retry_after_5xx_s),
duplicate rows across pages, and on customer, invoice and payment listings records deleted,
inserted or modified (an already-served one) while a client pages (`sandbox.paging_faults`).
`inject_errors` queues exact statuses for the next data requests.
"""

from __future__ import annotations

import threading
from collections.abc import Callable, Mapping
from datetime import UTC, datetime
from decimal import Decimal
from http import HTTPStatus
from urllib.parse import quote, urlencode

from sandbox.business_central import metadata, odata, render
from sandbox.business_central.admission import Admission
from sandbox.business_central.companydata import (
    CREDIT_MEMOS,
    CUSTOMERS,
    INVOICES,
    JOURNALS,
    LINES,
    CompanyData,
    Line,
    Postings,
    Row,
)
from sandbox.business_central.config import BusinessCentralConfig
from sandbox.business_central.expand import expanded
from sandbox.business_central.ids import company_id
from sandbox.business_central.odata import ODataError
from sandbox.business_central.replay import replayed_rows
from sandbox.business_central.tokens import TokenStore
from sandbox.faults import FaultConfig
from sandbox.generator import ListedKind
from sandbox.ledger import Ledger
from sandbox.paging_faults import change_while_paging, modify_while_paging
from sandbox.ratewindow import RateWindow
from sandbox.replay import Replay
from sandbox.routing import JSON_CONTENT_TYPE, Handler, Request, Response, retry_after_value
from sandbox.server import App, SandboxServer

API = "/v2.0/{tenant}/{environment}/api/v2.0"
COMPANY = API + "/companies({company_id})"
MISSING_JOURNAL = "You must specify a journal batch ID or a journal ID to get a journal line."
_QUERY_OPTIONS = frozenset(
    {
        "$filter",
        "$select",
        "$orderby",
        "$top",
        "$skip",
        "$count",
        "$expand",
        "$skiptoken",
        "$schemaversion",
    }
)
_FILTERS = frozenset({"lastModifiedDateTime", "id"})  # the fields $filter may name
_LINE_FILTERS = _FILTERS | {"journalId"}
# The entity type behind each collection, as BC names it in errors.
_ENTITY = {
    CUSTOMERS: "customer",
    INVOICES: "salesInvoice",
    CREDIT_MEMOS: "salesCreditMemo",
    JOURNALS: "customerPaymentJournal",
    LINES: "customerPayment",
}

CompanyHandler = Callable[[Request, CompanyData], Response]


class BusinessCentralApp(App):
    def __init__(self, config: BusinessCentralConfig | None = None) -> None:
        super().__init__()
        self.config = config = config or BusinessCentralConfig()
        self.tokens = TokenStore(config)
        self._company_ids = {name: company_id(config.tenant, name) for name in config.companies}
        self._company_names = {guid: name for name, guid in self._company_ids.items()}
        self._lock = threading.Lock()
        self._ledgers: dict[str, Ledger] = dict(config.ledgers)
        self._postings = {name: Postings() for name in config.companies}
        self._data: dict[str, CompanyData] = {}
        self._window = RateWindow(
            config.rate_limit, config.rate_window_s, sliding=True, clock=config.clock
        )
        self.admission = Admission(config.max_concurrent, config.max_queued)
        self._injected: list[tuple[int, float | None]] = []

        add = self.router.add
        add("POST", "/{tenant}/oauth2/v2.0/token", self._token, data=False)
        add("GET", API + "/companies", self._guarded(self._companies))
        for root in (API, API + "/"):
            add("GET", root, self._guarded(self._service_document))
        add("GET", API + "/$metadata", self._guarded(self._metadata))
        for collection in (CUSTOMERS, INVOICES, CREDIT_MEMOS, JOURNALS):
            add("GET", f"{COMPANY}/{collection}", self._in_company(self._lister(collection)))
        journal_lines = COMPANY + "/customerPaymentJournals({journal_id})/customerPayments"
        add("GET", journal_lines, self._in_company(self._journal_lines))
        add("GET", f"{COMPANY}/{LINES}", self._in_company(self._company_lines))
        add("DELETE", journal_lines + "({line_id})", self._in_company(self._delete_line))
        add(
            "POST",
            COMPANY + "/journals({journal_id})/Microsoft.NAV.post",
            self._in_company(self._post),
        )

    # -- test hooks --------------------------------------------------------------------------

    def company_id(self, company: str) -> str:
        return self._company_ids[company]

    def journal_id(self, company: str, code: str) -> str:
        data = self._company(company)
        return data.journal_ids[self._journal_index(data, code)]

    def ledger(self, company: str) -> Ledger:
        return self._company(company).ledger

    def set_ledger(self, company: str, ledger: Ledger) -> None:
        """Serve `ledger` for the company from the next request on (postings are kept)."""
        with self._lock:
            self._ledgers[company] = ledger
            self._data.pop(company, None)

    def served_lines(self, company: str) -> list[Line]:
        """The unposted, undeleted payment lines, in journal and line-number order."""
        return sorted(
            self._company(company).served_lines, key=lambda line: (line.journal, line.line_number)
        )

    def post_journal(self, company: str, code: str, *, at: datetime | None = None) -> list[Line]:
        """Post a journal as BC does: its lines disappear and their invoices' remaining amounts
        drop (their lastModifiedDateTime becomes `at`). Returns the posted lines."""
        data = self._company(company)
        return self._post_lines(company, data, self._journal_index(data, code), at)

    def delete_line(self, company: str, line_id: str, *, at: datetime | None = None) -> Line:
        """Delete an unposted line without posting it (no balance changes)."""
        with self._lock:
            line = self._company_locked(company).line(line_id)
            if line is None:
                raise KeyError(f"no unposted line {line_id} in {company}")
            self._postings[company].deleted[line_id] = at or datetime.now(UTC)
            self._data.pop(company, None)
        return line

    def expire_tokens(self) -> None:
        self.tokens.expire_all()

    def inject_errors(
        self, count: int, status: int = 503, retry_after_s: float | None = None
    ) -> None:
        """Answer the next `count` data requests with `status` (and `retry-after`, if given)."""
        with self._lock:
            self._injected.extend([(status, retry_after_s)] * count)

    @property
    def token_requests(self) -> int:
        return self.tokens.requests

    # -- App hooks ---------------------------------------------------------------------------

    def account_of(self, request: Request) -> str | None:
        return self._company_names.get(request.path_params.get("company_id", "").lower())

    def not_found(self, request: Request) -> Response:
        return odata.error(
            404,
            "BadRequest_NotFound",
            f"No HTTP resource was found that matches the request URI '{request.path}'",
        )

    def fault_response(self, request: Request, status: int) -> Response:
        if status == 429:
            return _too_many("Too many requests reached. Please retry after some time.")
        response = odata.error(status, _server_code(status), HTTPStatus(status).phrase)
        if self.config.retry_after_5xx_s is not None:
            response.headers["retry-after"] = retry_after_value(self.config.retry_after_5xx_s)
        return response

    # -- companies ---------------------------------------------------------------------------

    def _company(self, company: str) -> CompanyData:
        with self._lock:
            return self._company_locked(company)

    def _company_locked(self, company: str) -> CompanyData:
        data = self._data.get(company)
        if data is None:
            ledger = self._ledgers.get(company)
            if ledger is None:
                ledger = self._ledgers[company] = self._generate(company)
            data = CompanyData(
                company,
                self._company_ids[company],
                ledger,
                self._postings[company],
                self.config.journals,
                self.config.negative_payment_amounts,
            )
            self._data[company] = data
        return data

    def _generate(self, company: str) -> Ledger:
        from sandbox.generator import generate_ledger

        replay = self.config.replays.get(company)
        if replay is not None:  # its rows are the file's; the ledger only names the company
            as_of = replay.as_of or datetime.now(UTC).date()
            return Ledger(company, replay.base_currency or "USD", as_of, (), (), (), ())
        return generate_ledger(company, **self.config.ledger_size)

    def _journal_index(self, data: CompanyData, code_or_id: str) -> int:
        for index, journal in enumerate(data.journals):
            if code_or_id in (journal.code, data.journal_ids[index]):
                return index
        raise KeyError(f"no journal {code_or_id} in {data.name}")

    def _post_lines(
        self, company: str, data: CompanyData, journal: int, at: datetime | None
    ) -> list[Line]:
        at = at or datetime.now(UTC)
        with self._lock:
            postings = self._postings[company]
            posted = [line for line in data.served_lines if line.journal == journal]
            for line in posted:
                postings.posted[line.line_id] = at
                if line.invoice_id in data.invoices:
                    postings.invoice_changed[line.invoice_id] = at
            self._data.pop(company, None)
        return posted

    # -- auth, quota and company checks ------------------------------------------------------

    def _token(self, request: Request) -> Response:
        fields = ("grant_type", "client_id", "client_secret", "scope")
        form = {name: request.form_value(name) for name in fields}
        status, body = self.tokens.grant(request.path_params["tenant"], form)
        return Response.json(body, status=status)

    def _auth_error(self, request: Request) -> Response | None:
        scheme, _, token = (request.header("authorization") or "").partition(" ")
        tenant = request.path_params.get("tenant")
        if (
            scheme.lower() != "bearer"
            or not self.tokens.is_valid(token.strip())
            or (tenant != self.config.tenant)
        ):
            authority = f"https://login.microsoftonline.com/{self.config.tenant}/oauth2/authorize"
            return odata.error(
                401,
                "Authentication_InvalidCredentials",
                "The server has rejected the client credentials",
                {
                    "WWW-Authenticate": f'Bearer authorization_uri="{authority}", '
                    'resource_id="https://api.businesscentral.dynamics.com"'
                },
            )
        if request.path_params.get("environment") != self.config.environment:
            return odata.error(
                404,
                "BadRequest_NotFound",
                f"Environment '{request.path_params.get('environment')}' was not found",
            )
        return None

    def _guarded(self, handler: Handler) -> Handler:
        """Injected errors, then auth, then the user's rate budget and queue, then `handler`."""

        def guarded(request: Request) -> Response:
            with self._lock:
                injected = self._injected.pop(0) if self._injected else None
            if injected is not None:
                status, retry_after = injected
                response = self.fault_response(request, status)
                response.headers.pop("retry-after", None)
                if retry_after is not None:
                    response.headers["retry-after"] = retry_after_value(retry_after)
                request.applied_faults.append(f"injected_{status}")
                return response
            denied = self._auth_error(request)
            if denied is not None:
                return denied
            budget = self._window.hit(self.config.app.client_id)
            if not budget.allowed:
                response = _too_many(
                    f"The request limit of {budget.limit} requests per "
                    f"{self.config.rate_window_s:.0f} seconds was exceeded"
                )
                if self.config.rate_limit_retry_after:
                    response.headers["Retry-After"] = retry_after_value(
                        max(0.001, round(budget.reset_s, 3))
                    )
                return response
            with self.admission.admit() as admitted:
                if not admitted:
                    return _too_many("Too many requests are queued. Please retry after some time.")
                try:
                    return handler(request)
                except ODataError as refused:
                    return odata.error(refused.status, refused.code, refused.message)

        return guarded

    def _in_company(self, handler: CompanyHandler) -> Handler:
        def scoped(request: Request) -> Response:
            name = self._company_names.get(request.path_params["company_id"].lower())
            if name is None:
                raise ODataError(
                    404,
                    "BadRequest_NotFound",
                    f"The company '{request.path_params['company_id']}' does not exist",
                )
            return handler(request, self._company(name))

        return self._guarded(scoped)

    # -- endpoints ---------------------------------------------------------------------------

    def _companies(self, request: Request) -> Response:
        rows = [render.company(self._company_ids[name], name) for name in self.config.companies]
        return Response.json(
            {"@odata.context": self._context(request, "companies"), "value": rows},
            headers={"OData-Version": "4.0"},
        )

    def _service_document(self, request: Request) -> Response:
        root = request.path.rstrip("/")
        document = metadata.service_document(f"{self._origin(request)}{root}/$metadata")
        return Response.json(document, headers={"OData-Version": "4.0"})

    def _metadata(self, request: Request) -> Response:
        return Response.raw(
            metadata.csdl().encode(),
            content_type="application/xml",
            headers={"OData-Version": "4.0"},
        )

    def _lister(self, collection: str) -> CompanyHandler:
        kind = _LISTED_KIND.get(collection)

        def handler(request: Request, data: CompanyData) -> Response:
            replay = self.config.replays.get(data.name)
            if replay is not None:
                return self._replayed_page(request, data, collection, replay, collection)
            token = odata.read_skip_token(request.arg("$skiptoken"))
            faults, applied = request.faults, request.applied_faults
            changing = faults.changes_data or faults.modify_while_paging
            if changing and kind is not None and token is not None and token[0] == "after":
                # Keys are ledger ids; the rows up to the skip token were served before.
                served = [row.key for row in data.rows[collection] if row.key <= token[1]]
                changed = change_while_paging(data.ledger, kind, served, faults, applied)
                changed = (
                    modify_while_paging(changed or data.ledger, kind, served, faults, applied)
                    or changed
                )
                if changed is not None:
                    self.set_ledger(data.name, changed)
                    data = self._company(data.name)
            return self._page(request, data, collection, data.rows[collection])

        return handler

    def _replayed_page(
        self, request: Request, data: CompanyData, collection: str, replay: Replay, path: str
    ) -> Response:
        """A page of a ledger file's list at `path` (under the company), or its verbatim page."""
        if request.arg("$expand") is not None:
            raise ODataError(
                400, "BadRequest", "The sandbox does not emulate $expand over a ledger file's rows"
            )
        rows = replayed_rows(replay.rows(path))
        verbatim = {page: body for (name, page), body in replay.pages.items() if name == path}
        return self._page(request, data, collection, rows, verbatim)

    def _journal_lines(self, request: Request, data: CompanyData) -> Response:
        journal_id = request.path_params["journal_id"].lower()
        replay = self.config.replays.get(data.name)
        if replay is not None:
            journals = {str(j.get("id", "")).lower() for j in replay.rows(JOURNALS)}
            if journal_id not in journals:
                raise ODataError(
                    404, "BadRequest_NotFound", f"The journal '{journal_id}' does not exist"
                )
            path = f"{JOURNALS}({journal_id})/{LINES}"
            if replay.rows(path) or any(name == path for name, _ in replay.pages):
                return self._replayed_page(request, data, LINES, replay, path)
            rows = [
                row
                for row in replayed_rows(replay.rows(LINES))
                if str(row.body.get("journalId", "")).lower() == journal_id
            ]
            return self._page(request, data, LINES, rows)
        if journal_id not in data.journal_ids:
            raise ODataError(
                404, "BadRequest_NotFound", f"The journal '{journal_id}' does not exist"
            )
        rows = [row for row in data.rows[LINES] if row.journal_id == journal_id]
        return self._page(request, data, LINES, rows)

    def _company_lines(self, request: Request, data: CompanyData) -> Response:
        clauses = odata.parse_filter(request.arg("$filter"), _ENTITY[LINES], _LINE_FILTERS)
        if not any(c.field == "journalId" for c in clauses):
            raise ODataError(400, "BadRequest", MISSING_JOURNAL)
        replay = self.config.replays.get(data.name)
        if replay is not None:
            return self._replayed_page(request, data, LINES, replay, LINES)
        return self._page(request, data, LINES, data.rows[LINES])

    def _delete_line(self, request: Request, data: CompanyData) -> Response:
        line = data.line(request.path_params["line_id"].lower())
        journal_id = request.path_params["journal_id"].lower()
        if line is None or data.journal_ids[line.journal] != journal_id:
            raise ODataError(404, "BadRequest_NotFound", "The journal line does not exist")
        self.delete_line(data.name, line.line_id)
        return Response(204)

    def _post(self, request: Request, data: CompanyData) -> Response:
        try:
            journal = self._journal_index(data, request.path_params["journal_id"].lower())
        except KeyError:
            raise ODataError(404, "BadRequest_NotFound", "The journal does not exist") from None
        self._post_lines(data.name, data, journal, None)
        return Response(204)

    def _page(
        self,
        request: Request,
        data: CompanyData,
        collection: str,
        rows: list[Row],
        verbatim: Mapping[int, bytes] | None = None,
    ) -> Response:
        """A page of `rows` under the request's options; a page number `verbatim` holds is
        served as it is written there (a ledger file's)."""
        unsupported = sorted(
            k for k in request.query if k.startswith("$") and k not in _QUERY_OPTIONS
        )
        if unsupported:
            raise ODataError(
                400,
                "BadRequest",
                f"The sandbox does not emulate {', '.join(unsupported)}: page by following "
                "@odata.nextLink",
            )
        entity = _ENTITY[collection]
        fields = tuple(name for name, _ in metadata.PROPERTIES[entity])
        filterable = _LINE_FILTERS if collection == LINES else _FILTERS
        clauses = odata.parse_filter(request.arg("$filter"), entity, filterable)
        selected = odata.parse_select(request.arg("$select"), entity, fields)
        order = odata.parse_orderby(request.arg("$orderby"), entity, fields)
        skip = odata.parse_whole("$skip", request.arg("$skip")) or 0
        top = odata.parse_whole("$top", request.arg("$top"))
        count = odata.parse_count(request.arg("$count"))
        navigations = frozenset(metadata.NAVIGATION.get(entity, {}))
        expansions = odata.parse_expand(request.arg("$expand"), entity, navigations)
        token = odata.read_skip_token(request.arg("$skiptoken"))

        wanted = odata.max_page_size(request.header("prefer"))
        size = min(wanted or self.config.page_size, self.config.max_page_size)
        matching = [row for row in rows if all(_matches(row, c) for c in clauses)]
        ordered = _ordered(matching, order)
        window = ordered[skip : None if top is None else skip + top]
        if token is None:
            start = 0
        elif token[0] == "at":
            start = token[1]
        else:
            start = next((i for i, row in enumerate(window) if row.key > token[1]), len(window))
        written = (verbatim or {}).get(start // size + 1)
        if written is not None:
            return Response.raw(written, content_type=JSON_CONTENT_TYPE)
        served = window[start : start + size]
        if served and start > 0 and request.faults.duplicate_rows:
            served.insert(0, window[start - 1])
            request.applied_faults.append("duplicate_rows")
        body: dict[str, object] = {"@odata.context": self._context(request, collection)}
        if count:
            body["@odata.count"] = len(matching)
        body["value"] = [
            _select(row.body, selected) | expanded(collection, row, expansions, data)
            for row in served
        ]
        if start + size < len(window):
            repeated = self.config.repeat_next_link and token is not None
            if repeated:
                next_token = request.arg("$skiptoken")
            elif order:
                next_token = odata.position_token(start + size)
            else:
                next_token = odata.skip_token(window[start + size - 1].key)
            body["@odata.nextLink"] = self._next_link(request, next_token or "")
        headers = {"OData-Version": "4.0"}
        if wanted:
            headers["Preference-Applied"] = f"odata.maxpagesize={size}"
        return Response.json(body, headers=headers)

    def _next_link(self, request: Request, token: str) -> str:
        params = [
            (k, v) for k, values in request.query.items() for v in values if k != "$skiptoken"
        ]
        query = urlencode([*params, ("$skiptoken", token)], quote_via=quote, safe="$,:'")
        return f"{self._origin(request)}{request.path}?{query}"

    def _context(self, request: Request, collection: str) -> str:
        base = request.path.split("/companies", 1)[0]
        return f"{self._origin(request)}{base}/$metadata#{collection}"

    @staticmethod
    def _origin(request: Request) -> str:
        return f"http://{request.header('host') or '127.0.0.1'}"


# What the delete_while_paging and insert_while_paging faults change, per collection.
_LISTED_KIND: dict[str, ListedKind] = {CUSTOMERS: "customers", INVOICES: "invoices"}


def _matches(row: Row, clause: odata.Clause) -> bool:
    if clause.field == "journalId":
        return row.journal_id is not None and clause.holds(row.journal_id)
    if clause.field == "id":
        return clause.holds(str(row.body.get("id", "")).lower())
    # BC compares with the stored time, which it serves to the millisecond.
    served = row.modified.replace(microsecond=row.modified.microsecond // 1000 * 1000)
    return clause.holds(served)


def _ordered(rows: list[Row], order: list[tuple[str, bool]]) -> list[Row]:
    """Rows in `$orderby` order (stable sorts, last key first); the served order without one."""
    ordered = list(rows)
    for name, descending in reversed(order):
        ordered.sort(key=lambda row, n=name: _sort_key(row.body.get(n)), reverse=descending)
    return ordered


def _sort_key(value: object) -> tuple[int, object]:
    if value is None:
        return (-1, 0)
    if isinstance(value, bool):
        return (0, value)
    if isinstance(value, int | Decimal):
        return (1, Decimal(value))
    return (2, str(value).lower())


def _select(body: dict[str, object], fields: tuple[str, ...]) -> dict[str, object]:
    if len(fields) == len(body) - 1 and "@odata.etag" in body:  # every property: as it is
        return body
    etag = {"@odata.etag": body["@odata.etag"]} if "@odata.etag" in body else {}
    return etag | {name: body[name] for name in fields if name in body}


def _too_many(message: str) -> Response:
    return odata.error(429, "Application_TooManyRequests", message)


def _server_code(status: int) -> str:
    return "ServiceUnavailable" if status == 503 else "Internal_ServerError"


def start_business_central_sandbox(
    config: BusinessCentralConfig | None = None,
    *,
    faults: FaultConfig | None = None,
    host: str = "127.0.0.1",
    port: int = 0,
) -> SandboxServer[BusinessCentralApp]:
    """A running Business Central sandbox; stop it with `.stop()` (or use it as a context
    manager)."""
    return SandboxServer(BusinessCentralApp(config), host=host, port=port, faults=faults).start()
