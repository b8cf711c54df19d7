"""The Zoho Books API v3 sandbox: the real wire contract over a `Ledger` per organization.

    server = start_zoho_sandbox(ZohoConfig(organizations=("Acme Ltd", "Globex")))
    org_id = server.app.organization_id("Acme Ltd")
    ...
    server.stop()

With the defaults (`OAuthClient()`), from a shell:

    curl -X POST "$URL/oauth/v2/token" -d grant_type=refresh_token \\
         -d refresh_token=1000.sandbox.refresh-token \\
         -d client_id=1000.SANDBOXCLIENTID -d client_secret=sandbox-client-secret
    curl -H "Authorization: Zoho-oauthtoken $TOKEN" "$URL/books/v3/organizations"
    curl -H "Authorization: Zoho-oauthtoken $TOKEN" \\
         "$URL/books/v3/invoices?organization_id=$ORG&page=2&per_page=50"
    curl -H "Authorization: Zoho-oauthtoken $TOKEN" \\
         "$URL/books/v3/customerpayments?organization_id=$ORG&last_modified_time=2026-10-01T00:00:00%2B0530"
    curl -H "Authorization: Zoho-oauthtoken $TOKEN" \\
         "$URL/books/v3/customerpayments/$PAYMENT_ID?organization_id=$ORG"

Errors, in the order they are checked (bodies are `{"code": int, "message": str}`):
  401 code 14  no `Authorization: Zoho-oauthtoken ...` header
  401 code 57  unknown or expired access token
  400 code 6024 no organization_id (required on every call but GET /organizations, even with
               one organization; the body lists the organizations in `error_info`). With
               `ZohoConfig.organization_header` (UNCONFIRMED, on by default) the header
               X-com-zoho-books-organizationid is accepted in its place.
  400 code 6041 an organization_id this user is not associated with
  429 code 45  the organization's daily cap is spent (X-Rate-Limit-* headers report it)
  429 code 44  more than `rate_limit` calls in the organization's window (Retry-After)
  400 code 2   a bad page, per_page, last_modified_time, filter_by, sort_column, sort_order,
               contact_type or date_start value (see sandbox.zoho_books.listquery)
  404 code 1002 GET /customerpayments/{id} for no such payment (void ones are deleted)
  404 code 5   an unknown URL
Injected faults: 429 code 44, 500 code 1000 (JSON), 502/503 with an HTML body as a gateway sends.

Test hooks change what is served without touching the ledger's truth: `override` corrupts one
record's JSON (or serves a second, different copy of it), `correct` undoes that as a real fix
would (bumping its modified time), and `delete` stops serving a record as Zoho's delete does.
"""

from __future__ import annotations

import bisect
import math
import re
import threading
from collections.abc import Callable, Mapping, Sequence
from datetime import UTC, datetime, timedelta, timezone
from http import HTTPStatus
from typing import Any, cast

from sandbox.faults import FaultConfig
from sandbox.ledger import Ledger
from sandbox.paging_faults import change_while_paging
from sandbox.ratewindow import RateWindow, WindowStatus, daily_cap
from sandbox.replay import Replay
from sandbox.routing import JSON_CONTENT_TYPE, App, Handler, Request, Response, retry_after_value
from sandbox.server import SandboxServer
from sandbox.zoho_books import listquery, render
from sandbox.zoho_books.config import OrgZone, ZohoConfig, org_zone
from sandbox.zoho_books.ids import ledger_id, organization_id
from sandbox.zoho_books.orgdata import LEDGER_FIELD, Entity, Listing, OrgData, Suffix, entity_id
from sandbox.zoho_books.tokens import TokenStore

API = "/books/v3"
ORGANIZATION_HEADER = "X-com-zoho-books-organizationid"
TOO_MANY_REQUESTS = "You have made too many requests. Please try again after some time."
DAILY_CAP_REACHED = "You have reached the maximum number of API calls for the day."
MULTIPLE_ORGS = (
    "This user belongs to multiple organizations, hence the parameter CompanyID/CompanyName is "
    "required for associating this user to a specific organization."
)
_TIME = re.compile(r"(\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2})(?:([+-])(\d{2}):?(\d{2})|Z)?")

OrgHandler = Callable[[Request, OrgData], Response]


class _Drop:
    def __repr__(self) -> str:
        return "DROP"


DROP = _Drop()  # an `override` value that removes the field


def error(status: int, code: int, message: str, **extra: object) -> Response:
    return Response.json({"code": code, "message": message, **extra}, status=status)


def parse_modified_since(text: str) -> datetime | None:
    """`YYYY-MM-DDTHH:MM:SS` with `+HHMM`/`-HHMM` (or `+HH:MM`, `Z`); no offset means UTC.
    None if it does not parse (a raw `+` in a query string arrives as a space: invalid)."""
    found = _TIME.fullmatch(text)
    if found is None:
        return None
    stamp, sign, hours, minutes = found.groups()
    try:
        naive = datetime.fromisoformat(stamp)
        offset = timedelta(hours=int(hours), minutes=int(minutes)) if sign else timedelta()
        return naive.replace(tzinfo=timezone(-offset if sign == "-" else offset))
    except ValueError:
        return None


class ZohoBooksApp(App):
    def __init__(self, config: ZohoConfig | None = None) -> None:
        super().__init__()
        self.config = config = config or ZohoConfig()
        self.tokens = TokenStore(config)
        self._org_ids = {name: organization_id(name) for name in config.organizations}
        self._org_names = {org_id: name for name, org_id in self._org_ids.items()}
        if len(self._org_names) != len(self._org_ids):
            raise ValueError("two organization names map to one organization id")
        self._lock = threading.Lock()
        self._data: dict[str, OrgData] = {}
        self._overrides: dict[tuple[str, Listing, int], Mapping[str, object]] = {}
        self._duplicated: set[tuple[str, Listing, int]] = set()
        self._quota_lock = threading.Lock()
        self._window = RateWindow(
            config.rate_limit,
            config.rate_window_s,
            sliding=config.rate_window_sliding,
            clock=config.clock,
        )
        self._daily = daily_cap(config.daily_cap, clock=config.clock)

        add = self.router.add
        add("POST", "/oauth/v2/token", self._token, data=False)
        # Collections answer with and without a trailing slash, as the real service does.
        for slash in ("", "/"):
            add("GET", f"{API}/organizations{slash}", self._authorized(self._organizations))
            contacts = self._lister("contacts", render.contact)
            add("GET", f"{API}/contacts{slash}", self._scoped(contacts))
            invoices = self._lister("invoices", render.invoice)
            add("GET", f"{API}/invoices{slash}", self._scoped(invoices))
            payments = self._lister("customerpayments", render.payment_row)
            add("GET", f"{API}/customerpayments{slash}", self._scoped(payments))
        add("GET", f"{API}/customerpayments/{{payment_id}}", self._scoped(self._payment))

    # -- test hooks --------------------------------------------------------------------------

    def organization_id(self, org_name: str) -> str:
        return self._org_ids[org_name]

    def ledger(self, org_name: str) -> Ledger:
        """The ledger served for the organization, including modify_while_paging bumps."""
        return self._org(org_name).ledger

    def set_ledger(self, org_name: str, ledger: Ledger) -> None:
        """Serve `ledger` for the organization from the next request on."""
        data = OrgData(org_name, self._org_ids[org_name], self._zone(org_name), ledger)
        with self._lock:
            self._data[org_name] = data

    @property
    def token_requests(self) -> int:
        return self.tokens.requests

    def override(
        self,
        org_name: str,
        listing: Listing,
        ledger_id: int,
        patch: Mapping[str, object],
        *,
        duplicate: bool = False,
    ) -> None:
        """Serve the record with `patch` applied to its JSON (a value of `DROP` removes the
        field), in its listing and, for a payment, in its detail. With `duplicate`, serve it
        unchanged and, right after it, a patched second copy: one id, two contents."""
        key = (org_name, listing, ledger_id)
        with self._lock:
            self._overrides[key] = dict(patch)
            if duplicate:
                self._duplicated.add(key)
            else:
                self._duplicated.discard(key)

    def correct(self, org_name: str, listing: Listing, ledger_id: int) -> None:
        """Serve the record as the ledger has it again, modified just now (as a fix would be)."""
        key = (org_name, listing, ledger_id)
        with self._lock:
            self._overrides.pop(key, None)
            self._duplicated.discard(key)
        self._bump(org_name, listing, ledger_id)

    def delete(self, org_name: str, listing: Listing, ledger_id: int) -> None:
        """Stop serving the record, as Zoho does once it is deleted; the ledger loses it too
        (a deleted payment's applications then count for nothing)."""
        ledger = self.ledger(org_name)
        field = LEDGER_FIELD[listing]
        kept = tuple(e for e in getattr(ledger, field) if entity_id(e) != ledger_id)
        if len(kept) == len(getattr(ledger, field)):
            raise KeyError(f"{org_name} serves no {listing} record {ledger_id}")
        self.set_ledger(org_name, ledger.replace(**{field: kept}))

    # -- App hooks ---------------------------------------------------------------------------

    def account_of(self, request: Request) -> str | None:
        org_id = self._organization_id(request)
        return self._org_names.get(org_id) if org_id else None

    def _organization_id(self, request: Request) -> str | None:
        """The `organization_id` parameter or, where the sandbox accepts it, the header."""
        org_id = request.arg("organization_id")
        if not org_id and self.config.organization_header:
            org_id = request.header(ORGANIZATION_HEADER)
        return org_id

    def not_found(self, request: Request) -> Response:
        return error(404, 5, "Invalid URL Passed")

    def fault_response(self, request: Request, status: int) -> Response:
        if status == 429:
            return error(429, 44, TOO_MANY_REQUESTS)
        if status == 500:
            return error(500, 1000, "Internal error")
        phrase = f"{status} {HTTPStatus(status).phrase}"
        html = f"<html><head><title>{phrase}</title></head><body><h1>{phrase}</h1></body></html>"
        return Response.raw(html.encode(), status, "text/html; charset=utf-8")

    # -- organizations and their data --------------------------------------------------------

    def _zone(self, org_name: str) -> OrgZone:
        return self.config.zones.get(org_name) or org_zone(org_name)

    def _org(self, org_name: str) -> OrgData:
        org_id = self._org_ids[org_name]
        with self._lock:
            data = self._data.get(org_name)
            if data is None:
                ledger = self.config.ledgers.get(org_name) or self._generate(org_name)
                replay = self.config.replays.get(org_name)
                if replay is not None:  # its organization is all that is rendered
                    ledger = _organization_only(org_name, replay)
                data = OrgData(org_name, org_id, self._zone(org_name), ledger)
                self._data[org_name] = data
            return data

    def _generate(self, org_name: str) -> Ledger:
        from sandbox.generator import generate_ledger

        return generate_ledger(org_name, **self.config.ledger_size)

    def _bump(self, org_name: str, listing: Listing, ledger_id: int) -> OrgData:
        self._org(org_name)
        with self._lock:
            data = self._data[org_name].with_bumped(listing, ledger_id)
            self._data[org_name] = data
            return data

    def _served(
        self, org: OrgData, listing: Listing, row: dict[str, object], ledger_id: int
    ) -> list[dict[str, object]]:
        """The JSON rows served for one record: itself, as overridden, or twice."""
        key = (org.name, listing, ledger_id)
        patch = self._overrides.get(key)
        if patch is None:
            return [row]
        patched = {k: v for k, v in {**row, **patch}.items() if v is not DROP}
        return [row, patched] if key in self._duplicated else [patched]

    # -- auth, organization and quota checks -------------------------------------------------

    def _token(self, request: Request) -> Response:
        fields = ("grant_type", "refresh_token", "client_id", "client_secret")
        form = {name: request.form_value(name) or request.arg(name) for name in fields}
        api_domain = f"http://{request.header('host') or '127.0.0.1'}"
        status, body = self.tokens.grant(form, api_domain)
        return Response.json(body, status=status)

    def _auth_error(self, request: Request) -> Response | None:
        scheme, _, token = (request.header("authorization") or "").partition(" ")
        if scheme.lower() != "zoho-oauthtoken" or not token.strip():
            return error(401, 14, "Invalid value passed for authtoken.")
        if not self.tokens.is_valid(token.strip()):
            return error(401, 57, "You are not authorized to perform this operation")
        return None

    def _authorized(self, handler: Handler) -> Handler:
        def guarded(request: Request) -> Response:
            return self._auth_error(request) or handler(request)

        return guarded

    def _scoped(self, handler: OrgHandler) -> Handler:
        """Auth, then organization_id, then the organization's quotas, then `handler`."""

        def guarded(request: Request) -> Response:
            denied = self._auth_error(request)
            if denied is not None:
                return denied
            org_id = self._organization_id(request)
            if not org_id:
                orgs = [
                    {"organization_id": self._org_ids[name], "name": name, "is_default_org": i == 0}
                    for i, name in enumerate(self.config.organizations)
                ]
                return error(400, 6024, MULTIPLE_ORGS, error_info=orgs)
            org_name = self._org_names.get(org_id)
            if org_name is None:
                message = f"This user is not associated with the CompanyID/CompanyName:{org_id}."
                return error(400, 6041, message)
            quota = self._spend_quota(org_name)
            if isinstance(quota, Response):
                return quota
            response = handler(request, self._org(org_name))
            response.headers.update(_quota_headers(quota))
            return response

        return guarded

    def _spend_quota(self, org_name: str) -> WindowStatus | Response:
        """The daily status after this call, or the 429 refusing it. Refused calls are free."""
        with self._quota_lock:
            daily = self._daily.peek(org_name)
            if not daily.allowed:
                return _with_headers(error(429, 45, DAILY_CAP_REACHED), _quota_headers(daily))
            window = self._window.hit(org_name)
            if not window.allowed:
                response = _with_headers(error(429, 44, TOO_MANY_REQUESTS), _quota_headers(daily))
                if self.config.rate_limit_retry_after:
                    response.headers["Retry-After"] = retry_after_value(window.reset_s)
                return response
            return self._daily.hit(org_name)

    # -- endpoints ---------------------------------------------------------------------------

    def _organizations(self, request: Request) -> Response:
        orgs = [
            render.organization(self._org(name), is_default=i == 0)
            for i, name in enumerate(self.config.organizations)
        ]
        return Response.json({"code": 0, "message": "success", "organizations": orgs})

    def _lister(
        self,
        listing: Listing,
        render_row: Callable[[Any, OrgData], dict[str, object]],  # takes the listing's entity
    ) -> OrgHandler:
        def handler(request: Request, org: OrgData) -> Response:
            page = _positive_int(request.arg("page"), 1)
            per_page = _positive_int(request.arg("per_page"), self.config.page_size)
            if page is None:
                return error(400, 2, "Invalid value passed for page")
            if per_page is None:
                return error(400, 2, "Invalid value passed for per_page")
            per_page = min(per_page, self.config.max_per_page)
            since_text = request.arg("last_modified_time")
            since = parse_modified_since(since_text) if since_text is not None else None
            if since_text is not None and since is None:
                return error(400, 2, "Invalid value passed for last_modified_time")

            try:
                query = listquery.parse(listing, request.arg)
            except listquery.ListQueryError as refused:
                return error(400, 2, str(refused))

            def selected(
                org: OrgData,
                query: listquery.ListQuery = query,
                since: datetime | None = since,
            ) -> Sequence[Entity]:
                restart = listquery.restart(query, since)
                if restart is not None:  # a suffix of the wider query's rows: bisect to it
                    wider = selected(org, restart.wider, restart.since)
                    key = restart.key(lambda e: render_row(e, org))
                    return Suffix(wider, bisect.bisect_left(wider, restart.start, key=key))
                rows = org.listing(listing, since)
                if not query.selects:
                    return rows
                return org.cached(
                    (listing, since, *query.key),
                    lambda: listquery.select(
                        query, rows, org.ledger.as_of, lambda e: render_row(e, org)
                    ),
                )

            def passed(org: OrgData, rows: Sequence[Entity], offset: int) -> Sequence[Entity]:
                """The rows a client reading this listing in its order has read before this
                page, whether it pages by number, from a date on, or from a modified time on
                (sorted by it, `last_modified_time` is where the client restarts)."""
                from_start = None if query.sort_column == "last_modified_time" else since
                every = selected(org, query.without_date_start(), from_start)
                if offset >= len(rows):
                    return every
                first = entity_id(rows[offset])
                return every[: next(i for i, e in enumerate(every) if entity_id(e) == first)]

            replay = self.config.replays.get(org.name)
            if replay is not None:
                return _replayed_page(replay, listing, page, per_page, since, query)
            offset = (page - 1) * per_page
            rows = selected(org)
            previous = None
            if request.faults.pages:  # the rows served before this page are read only for them
                changed = change_while_paging(
                    org.ledger,
                    LEDGER_FIELD[listing],
                    [entity_id(e) for e in passed(org, rows, offset)],
                    request.faults,
                    request.applied_faults,
                )
                if changed is not None:
                    self.set_ledger(org.name, changed)
                    org = self._org(org.name)
                    rows = selected(org)
                before = passed(org, rows, offset) if offset <= len(rows) else ()
                previous = before[-1] if before else None
                if previous is not None and request.faults.modify_while_paging:
                    org = self._bump(org.name, listing, entity_id(previous))
                    rows = selected(org)
                    before = passed(org, rows, offset)
                    previous = before[-1] if before else None
                    request.applied_faults.append("modify_while_paging")
            served = list(rows[offset : offset + per_page])
            if previous is not None and served and request.faults.duplicate_rows:
                served.insert(0, previous)
                request.applied_faults.append("duplicate_rows")
            return Response.json(
                {
                    "code": 0,
                    "message": "success",
                    listing: [
                        row
                        for entity in served
                        for row in self._served(
                            org, listing, render_row(entity, org), entity_id(entity)
                        )
                    ],
                    "page_context": {
                        "page": page,
                        "per_page": per_page,
                        "has_more_page": offset + per_page < len(rows),
                        **query.page_context(),
                    },
                }
            )

        return handler

    def _payment(self, request: Request, org: OrgData) -> Response:
        replay = self.config.replays.get(org.name)
        if replay is not None:
            return _replayed_payment(replay, request.path_params["payment_id"])
        try:
            payment = org.payment(
                ledger_id(org.org_id, "payment", request.path_params["payment_id"])
            )
        except ValueError:
            payment = None
        if payment is None:
            return error(404, 1002, "Payment does not exist.")
        detail = render.payment_detail(payment, org)
        understated = self.config.detail_understatement
        if understated and detail["invoices"]:
            first, *rest = cast("list[dict[str, Any]]", detail["invoices"])
            first = {**first, "amount_applied": first["amount_applied"] - understated}
            detail["invoices"] = [first, *rest]
        detail = self._served(org, "customerpayments", detail, payment.payment_id)[-1]
        return Response.json({"code": 0, "message": "success", "payment": detail})


def _organization_only(org_name: str, replay: Replay) -> Ledger:
    as_of = replay.as_of or datetime.now(UTC).date()
    return Ledger(org_name, replay.base_currency or "USD", as_of, (), (), (), ())


def _replayed_page(
    replay: Replay,
    listing: Listing,
    page: int,
    per_page: int,
    since: datetime | None,
    query: listquery.ListQuery,
) -> Response:
    """A page of a ledger file's list: its verbatim page (asked for from the start), or its
    records paged as Zoho does (those modified before `since` or dated before `date_start` left
    out, in `sort_column`'s order if one is asked; other list options not applied)."""
    verbatim = replay.pages.get((listing, page))
    if verbatim is not None and query.date_start is None and since is None:
        return Response.raw(verbatim, content_type=JSON_CONTENT_TYPE)
    start = query.date_start.isoformat() if query.date_start is not None else None
    rows = [
        row
        for row in replay.rows(listing)
        if (since is None or _modified_since(row.get("last_modified_time"), since))
        and (start is None or str(row.get("date", "")) >= start)
    ]
    column = query.sort_column
    if column is not None:  # stable: ties keep the file's order
        rows.sort(key=lambda row: listquery.sort_key(row.get(column)), reverse=query.descending)
    offset = (page - 1) * per_page
    return Response.json(
        {
            "code": 0,
            "message": "success",
            listing: rows[offset : offset + per_page],
            "page_context": {
                "page": page,
                "per_page": per_page,
                "has_more_page": offset + per_page < len(rows),
                **query.page_context(),
            },
        }
    )


def _modified_since(text: object, since: datetime) -> bool:
    moment = parse_modified_since(text) if isinstance(text, str) else None
    return moment is None or moment >= since


def _replayed_payment(replay: Replay, payment_id: str) -> Response:
    verbatim = replay.responses.get(("customerpayments", payment_id))
    if verbatim is not None:
        return Response.raw(verbatim, content_type=JSON_CONTENT_TYPE)
    payment = replay.record("customerpayments", payment_id)
    if payment is None:
        return error(404, 1002, "Payment does not exist.")
    return Response.json({"code": 0, "message": "success", "payment": payment})


def _positive_int(text: str | None, default: int) -> int | None:
    if text is None:
        return default
    return int(text) if text.isdigit() and int(text) > 0 else None


def _quota_headers(daily: WindowStatus) -> dict[str, str]:
    return {
        "X-Rate-Limit-Limit": str(daily.limit),
        "X-Rate-Limit-Remaining": str(daily.remaining),
        "X-Rate-Limit-Reset": str(math.ceil(daily.reset_s)),
    }


def _with_headers(response: Response, headers: dict[str, str]) -> Response:
    response.headers.update(headers)
    return response


def start_zoho_sandbox(
    config: ZohoConfig | None = None,
    *,
    faults: FaultConfig | None = None,
    host: str = "127.0.0.1",
    port: int = 0,
) -> SandboxServer[ZohoBooksApp]:
    """A running Zoho Books sandbox; stop it with `.stop()` (or use it as a context manager)."""
    return SandboxServer(ZohoBooksApp(config), host=host, port=port, faults=faults).start()
