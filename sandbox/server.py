"""The source-neutral sandbox server: an `App` served over HTTP/1.1 on a local port.

    app = MyApp()                                  # an App subclass: routes + error-shape hooks
    with SandboxServer(app, faults=FaultConfig(error_rate=0.1, seed=7)) as server:
        httpx.get(f"{server.url}/items")
        server.faults = FaultConfig(burst_429=3)   # change faults at run time
        server.log.count(path="/items", status=429)

Every request is logged (`server.log`). Fault-eligible requests (routes registered as data
endpoints, plus auth endpoints when `FaultConfig.include_auth`) get a deterministic `FaultPlan`:
the server applies 429 bursts, 5xx errors, truncation, delays and oversized records; the app
applies the paging faults it finds in `request.faults`. Connections are kept alive and served by
daemon threads; `stop()` closes them and interrupts delayed responses, so tests can start and
stop many servers.
"""

from __future__ import annotations

import itertools
import socket
import socketserver
import sys
import threading
import time
import traceback
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from types import TracebackType
from typing import Any, Generic, TypeVar
from urllib.parse import parse_qs, urlsplit

from sandbox.faults import FaultConfig, FaultPlan, FaultState
from sandbox.record_faults import oversize
from sandbox.requestlog import RequestLog, RequestRecord
from sandbox.routing import App, Request, Response, Route, retry_after_value

__all__ = ["App", "FaultConfig", "Request", "Response", "SandboxServer"]

AppT = TypeVar("AppT", bound=App)


class SandboxServer(Generic[AppT]):
    def __init__(
        self,
        app: AppT,
        *,
        host: str = "127.0.0.1",
        port: int = 0,
        faults: FaultConfig | None = None,
    ) -> None:
        self.app = app
        self.log = RequestLog()
        self._address = (host, port)
        self._fault_state = FaultState(faults or FaultConfig())
        self._stopping = threading.Event()
        self._httpd: _HTTPServer | None = None
        self._thread: threading.Thread | None = None

    @property
    def faults(self) -> FaultConfig:
        return self._fault_state.config

    @faults.setter
    def faults(self, config: FaultConfig) -> None:
        """Takes effect from the next request; restarts the burst and the fault sequence."""
        self._fault_state = FaultState(config)

    @property
    def url(self) -> str:
        if self._httpd is None:
            raise RuntimeError("the server is not running")
        host, port = self._httpd.server_address[:2]
        return f"http://{host}:{port}"

    def start(self) -> SandboxServer[AppT]:
        if self._httpd is not None:
            raise RuntimeError("the server is already running")
        self._stopping.clear()
        self._httpd = _HTTPServer(self._address, self)
        self._thread = threading.Thread(
            target=self._httpd.serve_forever,
            kwargs={"poll_interval": 0.05},
            name=f"sandbox-{type(self.app).__name__}",
            daemon=True,
        )
        self._thread.start()
        return self

    def stop(self) -> None:
        httpd, thread = self._httpd, self._thread
        if httpd is None or thread is None:
            return
        self._stopping.set()
        httpd.shutdown()
        httpd.close_connections()
        httpd.server_close()
        thread.join()
        self._httpd = self._thread = None

    def __enter__(self) -> SandboxServer[AppT]:
        """Starts the server unless it is already running (e.g. from start_zoho_sandbox)."""
        return self if self._httpd is not None else self.start()

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        self.stop()

    def respond(
        self, method: str, target: str, headers: dict[str, str], body: bytes, connection: int
    ) -> tuple[Response, FaultPlan]:
        """Route, apply faults, call the handler and log: the response and its fault plan (the
        delay before it and how slowly its body goes are for the connection to apply)."""
        arrived = time.monotonic()
        split = urlsplit(target)
        request = Request(
            method,
            split.path,
            parse_qs(split.query, keep_blank_values=True),
            headers,
            body,
            form=_form(headers, body),
        )
        found = self.app.router.match(method, split.path)
        state = self._fault_state
        if found is not None:
            route, request.path_params = found
            if (route.data or state.config.include_auth) and state.config.covers(split.path):
                request.faults = state.next_plan()
        request.account = self.app.account_of(request)
        response = self._dispatch(request, found[0] if found else None)

        plan, labels = request.faults, []
        if plan.throttle:
            labels.append("burst_429")
        if plan.error_status is not None:
            labels.append(f"error_{plan.error_status}")
        if (
            plan.oversized_record is not None
            and state.config.oversizes(split.path)
            and 200 <= response.status < 300
        ):
            padded = oversize(
                response, plan.oversized_record, plan.oversized_field, plan.oversized_bytes
            )
            if padded is not None:
                response = padded
                labels.append("oversized_record")
        if plan.truncate and 200 <= response.status < 300:
            response = Response(
                response.status, response.body[: len(response.body) // 2], response.headers
            )
            labels.append("truncate")
        if plan.slow:
            labels.append("slow")
        if plan.slow_body_byte_s is not None:
            labels.append("slow_body")
        labels.extend(request.applied_faults)
        self.log.append(
            RequestRecord(
                method,
                request.path,
                request.query,
                response.status,
                request.account,
                arrived,
                connection,
                tuple(labels),
            )
        )
        return response, plan

    def _dispatch(self, request: Request, route: Route | None) -> Response:
        if route is None:
            return self.app.not_found(request)
        plan = request.faults
        if plan.throttle:
            response = self.app.fault_response(request, 429)
            if plan.retry_after_s is not None:
                response.headers["Retry-After"] = retry_after_value(plan.retry_after_s)
            return response
        if plan.error_status is not None:
            return self.app.fault_response(request, plan.error_status)
        try:
            return route.handler(request)
        except Exception:
            traceback.print_exc()
            return self.app.fault_response(request, 500)

    def wait_stopping(self, seconds: float) -> bool:
        """Sleep up to `seconds`; True if the server began stopping meanwhile."""
        return self._stopping.wait(seconds)


def _form(headers: dict[str, str], body: bytes) -> dict[str, list[str]]:
    content_type = headers.get("content-type", "")
    if not body or not content_type.startswith("application/x-www-form-urlencoded"):
        return {}
    return parse_qs(body.decode("utf-8", "replace"), keep_blank_values=True)


class _HTTPServer(ThreadingHTTPServer):
    daemon_threads = True
    block_on_close = False  # stop() closes the connections instead of waiting on idle ones
    request_queue_size = 128

    def __init__(self, address: tuple[str, int], sandbox: SandboxServer[Any]) -> None:
        self.sandbox = sandbox
        self._open: set[socket.socket] = set()
        self._open_lock = threading.Lock()
        self._serials = itertools.count(1)
        super().__init__(address, _Handler)

    def server_bind(self) -> None:
        # HTTPServer.server_bind does a reverse DNS lookup (getfqdn), slow on some hosts.
        socketserver.TCPServer.server_bind(self)
        host, port = self.server_address[:2]
        self.server_name, self.server_port = str(host), int(port)

    def next_connection(self) -> int:
        return next(self._serials)

    def handle_error(self, request: object, client_address: object) -> None:
        """Quiet about clients that went away mid-request (killed, or gave up waiting)."""
        if isinstance(sys.exc_info()[1], ConnectionError):
            return
        super().handle_error(request, client_address)  # type: ignore[arg-type]

    def process_request(self, request: socket.socket, client_address: object) -> None:  # type: ignore[override]
        with self._open_lock:
            self._open.add(request)
        super().process_request(request, client_address)  # type: ignore[arg-type]

    def shutdown_request(self, request: socket.socket) -> None:  # type: ignore[override]
        with self._open_lock:
            self._open.discard(request)
        super().shutdown_request(request)

    def close_connections(self) -> None:
        with self._open_lock:
            sockets = list(self._open)
        for sock in sockets:
            try:
                sock.shutdown(socket.SHUT_RDWR)
            except OSError:
                pass


class _Handler(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"  # keep-alive: every response carries Content-Length
    server_version = "ledgersync-sandbox"
    sys_version = ""
    server: _HTTPServer

    def setup(self) -> None:
        super().setup()
        # Headers and body are two writes; with Nagle on, each response stalls on delayed ACK.
        self.connection.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
        self.connection_serial = self.server.next_connection()

    def _serve(self) -> None:
        try:
            length = int(self.headers.get("Content-Length") or 0)
        except ValueError:
            self.send_error(400, "bad Content-Length")
            return
        body = self.rfile.read(length) if length > 0 else b""
        headers = {name.lower(): value for name, value in self.headers.items()}
        sandbox = self.server.sandbox
        response, plan = sandbox.respond(
            self.command, self.path, headers, body, self.connection_serial
        )
        if plan.delay_s > 0 and sandbox.wait_stopping(plan.delay_s):
            self.close_connection = True
            return
        try:
            self.send_response(response.status)
            for name, value in response.headers.items():
                self.send_header(name, value)
            self.send_header("Content-Length", str(len(response.body)))
            self.end_headers()
            if self.command == "HEAD":
                return
            if plan.slow_body_byte_s is None:
                self.wfile.write(response.body)
                return
            for offset in range(len(response.body)):
                self.wfile.write(response.body[offset : offset + 1])
                self.wfile.flush()
                if sandbox.wait_stopping(plan.slow_body_byte_s):
                    self.close_connection = True
                    return
        except (BrokenPipeError, ConnectionResetError):
            self.close_connection = True

    do_GET = do_POST = do_PUT = do_PATCH = do_DELETE = do_HEAD = _serve

    def log_message(self, format: str, *args: object) -> None:
        """Quiet: the RequestLog is the record."""
