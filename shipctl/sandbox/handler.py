"""One connection to the sandbox: HTTP/1.1 with keep-alive, the sandbox's own checks, then the
simulator's answer or a fault (docs/conventions.md, Sandbox).

``_Wire`` is the HTTP side every answer shares — bounded bodies (1 MiB), JSON errors, one
write per answer, draining what a refused client still sends, stalling and resetting a
connection; ``Handler`` is what the sandbox does with a request: whose it is (``Host``), which
endpoint, which fault. Nothing is logged per request.
"""

from __future__ import annotations

import os
import socket
import struct
import time
from http import HTTPStatus
from http.server import BaseHTTPRequestHandler
from typing import TYPE_CHECKING, Any
from urllib.parse import SplitResult, parse_qs, urlsplit

from shipctl import __version__
from shipctl.loopback import is_loopback
from shipctl.sandbox.contract import MAX_BODY, SimRequest, SimResponse, Simulator, error_response
from shipctl.sandbox.hosts import split_host_header

if TYPE_CHECKING:
    from shipctl.sandbox.server import SandboxServer

CONTROL_PREFIX = "/_sandbox/"

# Bounds for discarding what a refused client is still sending (see _Wire._drain).
DRAIN_LIMIT = 16 * 1024 * 1024
DRAIN_SECONDS = 3.0
IDLE_TIMEOUT = 60.0  # a keep-alive connection silent this long is closed; frees its thread
# SO_LINGER on, 0 s: close() then sends RST instead of FIN ("connection reset by peer").
LINGER_RESET = struct.pack("HH" if os.name == "nt" else "ii", 1, 0)


class _Wire(BaseHTTPRequestHandler):
    """Reading a request body and writing answers, for a test double that meets hostile
    input: every answer carries Content-Length, errors are JSON, the server never dies."""

    protocol_version = "HTTP/1.1"  # keep-alive; every answer carries Content-Length
    server_version = f"shipctl-sandbox/{__version__}"
    sys_version = ""
    disable_nagle_algorithm = True  # one write per answer, sent at once
    timeout = IDLE_TIMEOUT

    def log_message(self, format: str, *args: Any) -> None:  # noqa: A002 - base signature
        pass  # quiet: the sandbox is a test double, not a web server with an access log

    def _pending(self) -> int:
        """How much body the client may still send, for _drain."""
        if self.headers.get("Transfer-Encoding"):
            return DRAIN_LIMIT
        length = (self.headers.get("Content-Length") or "0").strip()
        return int(length) if length.isascii() and length.isdigit() else DRAIN_LIMIT

    def _read_body(self) -> bytes | None:
        """The request body, or None after answering an error (the connection then closes)."""
        if self.headers.get("Transfer-Encoding"):
            self._refuse(411, "send the body with a Content-Length, not Transfer-Encoding")
            return None
        values = self.headers.get_all("Content-Length") or []
        if not values:
            return b""
        text = values[0].strip()
        if len(set(values)) > 1 or not (text.isascii() and text.isdigit()):
            self._refuse(400, "invalid Content-Length")
            return None
        length = int(text)
        if length > MAX_BODY:
            self._refuse(413, f"request body over {MAX_BODY} bytes", length)
            return None
        body = self.rfile.read(length) if length else b""
        if len(body) < length:  # the client closed mid-body: nobody to answer
            self.close_connection = True
            return None
        return body

    def _refuse(self, status: int, message: str, pending: int = DRAIN_LIMIT) -> None:
        self._send(error_response(status, message), close=True)
        self._drain(pending)

    def _drain(self, pending: int) -> None:
        # Closing a socket with unread input makes the kernel send RST, and the client may lose
        # our answer with it; so end our side (the client sees the answer is complete) and
        # discard, bounded in size and time, what it is still sending until it closes too.
        remaining = min(pending, DRAIN_LIMIT)
        deadline = time.monotonic() + DRAIN_SECONDS
        try:
            self.connection.shutdown(socket.SHUT_WR)
            while remaining > 0:
                left = deadline - time.monotonic()
                if left <= 0:
                    break
                self.connection.settimeout(min(left, 1.0))
                chunk = self.rfile.read1(min(remaining, 65536))
                if not chunk:
                    break
                remaining -= len(chunk)
        except OSError:
            pass

    def _send(self, response: SimResponse, *, close: bool = False) -> None:
        if close:
            self.close_connection = True
        try:
            phrase = HTTPStatus(response.status).phrase
        except ValueError:
            phrase = ""
        head = [
            f"HTTP/1.1 {response.status} {phrase}",
            f"Server: {self.server_version}",
            f"Date: {self.date_time_string()}",
            f"Content-Length: {len(response.body)}",
        ]
        head += [f"{name}: {value}" for name, value in response.headers.items()]
        if self.close_connection:
            head.append("Connection: close")
        data = ("\r\n".join(head) + "\r\n\r\n").encode("latin-1", "replace")
        if getattr(self, "command", None) != "HEAD":
            data += response.body
        self.wfile.write(data)  # one write: no Nagle/delayed-ACK stall between head and body

    def send_error(self, code: int, message: str | None = None, explain: str | None = None) -> None:
        # Malformed request lines/headers (http.server's own checks): a JSON answer, then close.
        self.close_connection = True
        try:
            default = HTTPStatus(code).phrase
        except ValueError:
            default = "error"
        self._send(error_response(code, message or default))

    def _stall(self, seconds: float) -> None:
        """Hold the connection without answering until the client closes it (its timeout),
        the server stops, or SECONDS pass; then close it, still without an answer."""
        self.close_connection = True
        deadline = time.monotonic() + seconds
        try:
            while True:
                left = deadline - time.monotonic()
                if left <= 0:
                    break
                self.connection.settimeout(min(left, 0.5))
                try:
                    if not self.connection.recv(65536):  # the client closed: nobody waits
                        break
                except TimeoutError:
                    continue
        except OSError:  # reset by the client, or shut down by stop()
            pass

    def _reset(self) -> None:
        self.close_connection = True
        self.connection.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, LINGER_RESET)
        # SandboxServer.shutdown_request sees the linger setting and closes without a FIN.


class Handler(_Wire):
    server: SandboxServer

    def parse_request(self) -> bool:
        self._arrived = time.monotonic()
        return super().parse_request()

    def _dispatch(self) -> None:
        refusal = self._check_host()
        if refusal is not None:
            self._send(refusal, close=True)
            self._drain(self._pending())
            return
        body = self._read_body()
        if body is None:
            return
        url = urlsplit(self.path)
        if url.path.startswith(CONTROL_PREFIX):
            self._send(self._control(url.path))
            return
        simulator = self.server.route(url.path)
        if simulator is None:
            self._send(error_response(404, f"no sandbox endpoint at {url.path}"))
            return
        self._simulate(simulator, self._request(url, body))

    do_GET = do_POST = do_PUT = do_PATCH = do_DELETE = do_OPTIONS = do_HEAD = _dispatch

    def _request(self, url: SplitResult, body: bytes) -> SimRequest:
        return SimRequest(
            method=self.command,
            path=url.path,
            query=parse_qs(url.query, keep_blank_values=True),
            headers={name.lower(): value for name, value in self.headers.items()},
            body=body,
        )

    def _simulate(self, simulator: Simulator, request: SimRequest) -> None:
        """The latency and fault drawn for the request, then the simulator's answer."""
        delay, fault = self.server.plan()
        # The added latency counts from the request's arrival, so the time spent parsing it
        # is part of the latency rather than added to it.
        remaining = self._arrived + delay - time.monotonic()
        if remaining > 0:
            time.sleep(remaining)
        if fault == "reset":
            self.server.count_fault("reset")
            self._reset()
            return
        if fault == "stall":
            self.server.count_fault("stall")
            try:
                simulator.handle(request)  # applied: only the answer is lost
            finally:
                self._stall(self.server.faults.stall_seconds)
            return
        try:
            response = self._answer(simulator, request, fault)
        except Exception as error:  # noqa: BLE001 - a simulator bug must not stop the server
            response = error_response(500, f"simulator error: {type(error).__name__}")
        self._send(response)

    def _answer(self, simulator: Simulator, request: SimRequest, fault: str | None) -> SimResponse:
        if fault is None:
            return simulator.handle(request)
        if fault == "code2":
            response = simulator.transient_fault(request)
            if response is not None:
                self.server.count_fault("code2")
                return response
        # http503, or code2 for an API that has no "temporarily unavailable" answer of its own
        self.server.count_fault("http503")
        return error_response(
            503, "service unavailable (sandbox fault injection)", **{"Retry-After": "0"}
        )

    def _control(self, path: str) -> SimResponse:
        if path == CONTROL_PREFIX + "stats":
            if self.command not in ("GET", "HEAD"):
                return error_response(405, "use GET", Allow="GET, HEAD")
            return SimResponse.json(self.server.stats())
        if path == CONTROL_PREFIX + "reset":
            if self.command != "POST":
                return error_response(405, "use POST", Allow="POST")
            self.server.reset()
            return SimResponse.json({"reset": True})
        return error_response(404, f"no sandbox endpoint at {path}")

    def _check_host(self) -> SimResponse | None:
        """None when the request is for this sandbox; else the answer refusing it.

        A browser always sends the Host it thinks it talks to; a page using DNS rebinding sends
        its own name, which is neither loopback nor the --host given: 421, before the request
        can read or change anything. An HTTP/1.0 client may omit Host (no browser does); an
        HTTP/1.1 request must carry exactly one (RFC 9112 §3.2), else 400.
        """
        values = self.headers.get_all("Host") or []
        if len(values) > 1:
            return error_response(400, "more than one Host header")
        names = []
        if values:
            host = split_host_header(values[0])
            if host is None:
                return error_response(400, "invalid Host header")
            if host:  # an empty Host is allowed when the target has no authority
                names.append(host)
        elif self.request_version != "HTTP/1.0":
            return error_response(400, "an HTTP/1.1 request needs a Host header")
        target = urlsplit(self.path)  # absolute form "GET http://host/path": its host counts too
        if target.netloc:
            names.append(target.hostname or "")
        if all(self.server.accepts_host(name) for name in names):
            return None
        given = "" if is_loopback(self.server.host) else f", {self.server.host}"
        return error_response(
            421,
            "misdirected request: this sandbox answers only requests for localhost, 127.0.0.1"
            f" or [::1]{given}; to use another name, start it with --host NAME",
        )

    def handle_expect_100(self) -> bool:
        # A client that asks before sending a body we would refuse gets the 421/413 instead of
        # "100 Continue" (_dispatch and _read_body answer it).
        if self._check_host() is not None:
            return True
        length = (self.headers.get("Content-Length") or "").strip()
        if length.isascii() and length.isdigit() and int(length) > MAX_BODY:
            return True
        return super().handle_expect_100()
