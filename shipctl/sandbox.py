"""The embedded sandbox (SPEC §8): the providers' simulators on a loopback HTTP server.

One ``ThreadingHTTPServer`` (a thread per keep-alive connection) routes each request by path
prefix to a provider's simulator, which lives beside that provider's code
(``shipctl/<provider>/simulator.py``). The core adds what every endpoint shares:

- fault injection — latency ± jitter before each answer, and a fraction of answers replaced by
  the provider's own "temporarily unavailable" (EWE code 2), an HTTP 503, or a dropped
  connection. These are decided *before* the simulator sees the request, so a faulted request
  is never applied and a client that retries gets every item applied exactly once. ``stall``
  is the other kind, and only when asked for by name (``mix`` leaves it out, so that "retries
  apply each item once" stays true of a mix): the request IS applied, and no answer comes; the
  connection is held until the client gives up and closes it (or ``stall_seconds`` pass), then
  closed. It is how a lost answer looks to a client: a read timeout after the server acted;
- ``GET /_sandbox/stats`` (request, fault and per-provider application counts) and
  ``POST /_sandbox/reset``;
- only its own ``Host``: a request naming any other host (a web page using DNS rebinding to
  reach a developer's sandbox from a browser) is answered 421 before anything else happens;
- hostile-input hygiene: bounded bodies (1 MiB), JSON errors, a handler bug answers 500 and
  the server keeps serving, nothing logged per request.
"""

from __future__ import annotations

import importlib
import ipaddress
import json
import os
import random
import socket
import socketserver
import struct
import sys
import threading
import time
from dataclasses import dataclass, field
from http import HTTPStatus
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any, Protocol
from urllib.parse import parse_qs, urlsplit

from shipctl import __version__
from shipctl.errors import UsageError
from shipctl.loopback import is_loopback
from shipctl.provider import display_name, providers

# Each provider's URLs and fixed sandbox credentials, and its simulator module (beside its
# own code, exposing ``create() -> Simulator``), come from its package (shipctl.provider).

MAX_BODY = 1024 * 1024  # larger request bodies are refused with 413 without being read
FAIL_MODES = ("code2", "http503", "reset", "stall")
MIX = ("code2", "http503", "reset")  # `mix` draws among these: never applied, never stalled
# `any` draws among all four, stall included: what a client that must not apply twice meets
STALL_SECONDS = 60.0  # how long a stalled connection is held at most
CONTROL_PREFIX = "/_sandbox/"

# Bounds for discarding what a refused client is still sending (see _Handler._drain).
_DRAIN_LIMIT = 16 * 1024 * 1024
_DRAIN_SECONDS = 3.0
_IDLE_TIMEOUT = 60.0  # a keep-alive connection silent this long is closed; frees its thread
# SO_LINGER on, 0 s: close() then sends RST instead of FIN ("connection reset by peer").
_LINGER_RESET = struct.pack("HH" if os.name == "nt" else "ii", 1, 0)
_JSON = "application/json"


# -- the simulator contract ---------------------------------------------------------------------
@dataclass
class SimRequest:
    method: str  # "POST"
    path: str  # the full request path, prefix included: "/eweApi/ewe/api/modifyShipment"
    query: dict[str, list[str]]  # parsed query string (blank values kept)
    headers: dict[str, str]  # names lower-cased; the last value wins for repeated headers
    body: bytes  # at most MAX_BODY bytes


@dataclass
class SimResponse:
    status: int = 200
    headers: dict[str, str] = field(default_factory=dict)
    body: bytes = b""

    @classmethod
    def json(
        cls, document: Any, status: int = 200, headers: dict[str, str] | None = None
    ) -> SimResponse:
        body = json.dumps(document, ensure_ascii=False, separators=(",", ":")).encode("utf-8")
        return cls(status, {"Content-Type": _JSON, **(headers or {})}, body)


def error_response(status: int, message: str, **extra: str) -> SimResponse:
    """The sandbox's own (non-provider) answers: ``{"error": message}`` as JSON."""
    return SimResponse.json({"error": message}, status, headers=extra or None)


class Simulator(Protocol):
    name: str  # key in /_sandbox/stats: "ewe"
    prefix: str  # path prefix it owns, no trailing slash: "/eweApi/ewe/api"

    def handle(self, request: SimRequest) -> SimResponse: ...

    def stats(self) -> dict[str, Any]: ...

    def reset(self) -> None: ...

    def transient_fault(self, request: SimRequest) -> SimResponse | None:
        """This API's own "temporarily unavailable" answer, or None to get an HTTP 503."""


def default_simulators() -> list[Simulator]:
    return [
        importlib.import_module(p.simulator).create() for p in providers() if p.simulator
    ]


# -- faults -------------------------------------------------------------------------------------
@dataclass
class Faults:
    latency_ms: float = 0.0
    jitter_ms: float = 0.0  # the added latency is latency_ms ± uniform(jitter_ms), at least 0
    fail_rate: float = 0.0  # probability that an answer is replaced by a fault
    # code2 | http503 | reset | stall | mix (uniform: code2/503/reset) | any (all four)
    fail_mode: str = "mix"
    seed: int | None = None  # same seed, same order of arrival → same faults
    stall_seconds: float = STALL_SECONDS  # a stall holds the connection at most this long

    def __post_init__(self) -> None:
        if self.fail_mode not in (*FAIL_MODES, "mix", "any"):
            raise ValueError(f"fail_mode must be one of {', '.join(FAIL_MODES)}, mix, any")
        if not 0.0 <= self.fail_rate <= 1.0:
            raise ValueError("fail_rate must be between 0 and 1")
        if self.latency_ms < 0 or self.jitter_ms < 0:
            raise ValueError("latency_ms and jitter_ms must not be negative")
        if not self.stall_seconds > 0:
            raise ValueError("stall_seconds must be more than 0")

    def describe(self) -> str:
        parts = []
        if self.latency_ms or self.jitter_ms:
            parts.append(f"latency {self.latency_ms:g} ms ± {self.jitter_ms:g} ms")
        if self.fail_rate:
            parts.append(f"fail rate {self.fail_rate:g} ({self.fail_mode})")
        if self.seed is not None:
            parts.append(f"seed {self.seed}")
        return ", ".join(parts) or "none"


# -- the server ---------------------------------------------------------------------------------
class SandboxServer(ThreadingHTTPServer):
    """The simulators behind one loopback HTTP/1.1 server. ``with`` starts and stops it."""

    daemon_threads = True
    request_queue_size = 128  # 16+ clients connecting at once must not overflow the backlog

    def __init__(
        self,
        host: str = "127.0.0.1",
        port: int = 0,
        faults: Faults | None = None,
        *,
        simulators: list[Simulator] | None = None,
    ) -> None:
        self.faults = faults or Faults()
        self.simulators: list[Simulator] = []
        for simulator in default_simulators() if simulators is None else simulators:
            self.register(simulator)
        self._lock = threading.Lock()  # guards the RNG (arrival order) and the counters
        self._rng = random.Random(self.faults.seed)
        self._requests = 0
        self._fault_counts = dict.fromkeys(FAIL_MODES, 0)
        self._connections: set[socket.socket] = set()
        self._thread: threading.Thread | None = None
        self.host = host  # as given: a Host header naming it is answered (SPEC §8)
        self.address_family = socket.AF_INET6 if ":" in host else socket.AF_INET
        super().__init__((host, port), _Handler)  # binds and listens: ready to accept

    def register(self, simulator: Simulator) -> None:
        prefix = simulator.prefix
        if not prefix.startswith("/") or prefix.endswith("/") or prefix.startswith("/_sandbox"):
            raise ValueError(f"bad simulator prefix {prefix!r}")
        for other in self.simulators:
            if _owns(prefix, other.prefix) or _owns(other.prefix, prefix):
                raise ValueError(f"simulator prefixes overlap: {prefix} and {other.prefix}")
        self.simulators.append(simulator)

    def server_bind(self) -> None:
        # HTTPServer.server_bind also does a reverse DNS lookup (getfqdn) we have no use for.
        socketserver.TCPServer.server_bind(self)
        self.server_name, self.server_port = self.server_address[:2]

    # -- public ---------------------------------------------------------------------------------
    @property
    def base_url(self) -> str:
        host, port = self.server_address[:2]
        if host in ("0.0.0.0", ""):
            host = "127.0.0.1"
        elif host == "::":
            host = "::1"
        return f"http://[{host}]:{port}" if ":" in host else f"http://{host}:{port}"

    def settings(self) -> dict[str, str]:  # keys: provider.sandbox_setting_keys()
        """Config overrides that point every client at this server with the sandbox credentials."""
        return {
            key: value
            for p in providers()
            for key, value in p.sandbox_settings(self.base_url).items()
        }

    @property
    def wildcard(self) -> bool:
        """Bound to every interface (0.0.0.0 or ::) rather than to one address."""
        return self.server_address[0] in ("0.0.0.0", "::", "")

    def accepts_host(self, name: str) -> bool:
        """Whether a request whose Host (or absolute target) names NAME is answered.

        Loopback names and addresses, the ``--host`` given and the address actually bound; on
        a wildcard bind also any IP address (the machine's own, as other machines reach it).
        Any other *name* is refused: DNS rebinding needs a name the attacker controls, and a
        browser sends that name, whatever address it was made to resolve to.
        """
        name = _plain_host(name)
        if is_loopback(name) or name in (_plain_host(self.host), self.server_address[0]):
            return True
        if self.wildcard:
            try:
                ipaddress.ip_address(name.partition("%")[0])
            except ValueError:
                return False
            return True
        return False

    def start(self) -> SandboxServer:
        if self._thread is None:
            self._thread = threading.Thread(
                target=self.serve_forever,
                kwargs={"poll_interval": 0.1},
                name="shipctl-sandbox",
                daemon=True,
            )
            self._thread.start()
        return self

    def stop(self) -> None:
        if self._thread is not None:
            self.shutdown()
            self._thread.join(timeout=5)
            self._thread = None
        self.server_close()
        # End kept-alive connections too, so their threads do not serve on after stop().
        with self._lock:
            connections = list(self._connections)
        for connection in connections:
            try:
                connection.shutdown(socket.SHUT_RDWR)
            except OSError:
                pass

    def __enter__(self) -> SandboxServer:
        return self.start()

    def __exit__(self, *exc_info: Any) -> None:
        self.stop()

    def stats(self) -> dict[str, Any]:
        with self._lock:
            document: dict[str, Any] = {
                "requests": self._requests,
                "faults": dict(self._fault_counts),
            }
        for simulator in self.simulators:
            document[simulator.name] = simulator.stats()
        return document

    def reset(self) -> None:
        with self._lock:
            self._requests = 0
            self._fault_counts = dict.fromkeys(FAIL_MODES, 0)
        for simulator in self.simulators:
            simulator.reset()

    # -- used by the handler --------------------------------------------------------------------
    def route(self, path: str) -> Simulator | None:
        for simulator in self.simulators:
            if _owns(simulator.prefix, path):
                return simulator
        return None

    def plan(self) -> tuple[float, str | None]:
        """On arrival: count the request, draw its delay (seconds) and its fault (or None)."""
        faults = self.faults
        with self._lock:
            self._requests += 1
            delay_ms = faults.latency_ms
            if faults.jitter_ms:
                delay_ms += self._rng.uniform(-faults.jitter_ms, faults.jitter_ms)
            fault = None
            if faults.fail_rate and self._rng.random() < faults.fail_rate:
                fault = faults.fail_mode
                if fault == "mix":
                    fault = self._rng.choice(MIX)
                elif fault == "any":
                    fault = self._rng.choice(FAIL_MODES)
        return max(delay_ms, 0.0) / 1000.0, fault

    def count_fault(self, kind: str) -> None:
        with self._lock:
            self._fault_counts[kind] += 1

    # -- socketserver hooks ---------------------------------------------------------------------
    def process_request(self, request: Any, client_address: Any) -> None:
        with self._lock:
            self._connections.add(request)
        super().process_request(request, client_address)

    def shutdown_request(self, request: Any) -> None:
        with self._lock:
            self._connections.discard(request)
        try:
            reset = request.getsockopt(socket.SOL_SOCKET, socket.SO_LINGER, 8) == _LINGER_RESET
        except OSError:
            reset = False
        if reset:
            # No shutdown(SHUT_WR) first: that would send a FIN, and the client would see a
            # clean end of stream rather than a reset.
            request.close()
        else:
            super().shutdown_request(request)

    def handle_error(self, request: Any, client_address: Any) -> None:
        error = sys.exc_info()[1]
        if isinstance(error, OSError):  # the client went away mid-answer: its business
            return
        sys.stderr.write(f"sandbox: internal error: {type(error).__name__}: {error}\n")


def _owns(prefix: str, path: str) -> bool:
    return path == prefix or path.startswith(prefix + "/")


def _plain_host(host: str) -> str:
    """A host as compared: lower case, no IPv6 brackets, no trailing dot."""
    host = host.strip().lower()
    if host.startswith("[") and host.endswith("]"):
        host = host[1:-1]
    return host.rstrip(".")


def split_host_header(value: str) -> str | None:
    """The host part of a ``Host`` value (``127.0.0.1:8765``, ``[::1]:8765``, ``localhost``);
    None when it is not ``host[:port]`` (RFC 9110 §7.2), e.g. a bare IPv6 address."""
    value = value.strip()
    if value.startswith("["):
        end = value.find("]")
        if end < 0:
            return None
        host, rest = value[: end + 1], value[end + 1 :]
    else:
        host, colon, port = value.partition(":")
        rest = colon + port
    port = rest[1:]
    if rest and not (rest[0] == ":" and (port == "" or port.isascii() and port.isdigit())):
        return None
    if any(c.isspace() or not c.isprintable() or c in "/?#@\\" for c in host):
        return None
    return host


class _Handler(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"  # keep-alive; every answer carries Content-Length
    server_version = f"shipctl-sandbox/{__version__}"
    sys_version = ""
    disable_nagle_algorithm = True  # one write per answer, sent at once
    timeout = _IDLE_TIMEOUT
    server: SandboxServer

    def log_message(self, format: str, *args: Any) -> None:  # noqa: A002 - base signature
        pass  # quiet: the sandbox is a test double, not a web server with an access log

    def parse_request(self) -> bool:
        self._arrived = time.monotonic()
        return super().parse_request()

    # -- dispatch -------------------------------------------------------------------------------
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
        path = url.path
        if path.startswith(CONTROL_PREFIX):
            self._send(self._control(path))
            return
        simulator = self.server.route(path)
        if simulator is None:
            self._send(error_response(404, f"no sandbox endpoint at {path}"))
            return
        request = SimRequest(
            method=self.command,
            path=path,
            query=parse_qs(url.query, keep_blank_values=True),
            headers={name.lower(): value for name, value in self.headers.items()},
            body=body,
        )
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
                self._stall()
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

    do_GET = do_POST = do_PUT = do_PATCH = do_DELETE = do_OPTIONS = do_HEAD = _dispatch

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

    # -- whose request -------------------------------------------------------------------------
    def _check_host(self) -> SimResponse | None:
        """None when the request is for this sandbox; else the answer refusing it (SPEC §8).

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

    # -- request body ---------------------------------------------------------------------------
    def handle_expect_100(self) -> bool:
        # A client that asks before sending a body we would refuse gets the 421/413 instead of
        # "100 Continue" (_dispatch and _read_body answer it).
        if self._check_host() is not None:
            return True
        length = (self.headers.get("Content-Length") or "").strip()
        if length.isascii() and length.isdigit() and int(length) > MAX_BODY:
            return True
        return super().handle_expect_100()

    def _pending(self) -> int:
        """How much body the client may still send, for _drain."""
        if self.headers.get("Transfer-Encoding"):
            return _DRAIN_LIMIT
        length = (self.headers.get("Content-Length") or "0").strip()
        return int(length) if length.isascii() and length.isdigit() else _DRAIN_LIMIT

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

    def _refuse(self, status: int, message: str, pending: int = _DRAIN_LIMIT) -> None:
        self._send(error_response(status, message), close=True)
        self._drain(pending)

    def _drain(self, pending: int) -> None:
        # Closing a socket with unread input makes the kernel send RST, and the client may lose
        # our answer with it; so end our side (the client sees the answer is complete) and
        # discard, bounded in size and time, what it is still sending until it closes too.
        remaining = min(pending, _DRAIN_LIMIT)
        deadline = time.monotonic() + _DRAIN_SECONDS
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

    # -- answers --------------------------------------------------------------------------------
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

    def _stall(self) -> None:
        """Hold the connection without answering until the client closes it (its timeout),
        the server stops, or ``stall_seconds`` pass; then close it, still without an answer."""
        self.close_connection = True
        deadline = time.monotonic() + self.server.faults.stall_seconds
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
        self.connection.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, _LINGER_RESET)
        # SandboxServer.shutdown_request sees the linger setting and closes without a FIN.


# -- entry points -------------------------------------------------------------------------------
def start_background(
    host: str = "127.0.0.1", port: int = 0, faults: Faults | None = None
) -> SandboxServer:
    """A started sandbox; it accepts connections as soon as this returns."""
    return SandboxServer(host, port, faults).start()


def serve_forever(out: Any, *, host: str, port: int, faults: Faults) -> int:
    """`shipctl sandbox`: print URLs and credentials, serve until SIGINT/SIGTERM, return 0."""
    from shipctl.stopping import on_stop_signals

    server = _bind(host, port, faults)
    if not is_loopback(server.server_address[0]):
        out.warn(
            f"listening on {listening_on(server)}, which is not a loopback address: anyone who"
            " can reach this machine can use the sandbox"
        )
    _print_banner(server)
    stopping = threading.Event()
    server.start()
    try:
        with on_stop_signals(stopping):
            while not stopping.wait(0.5):
                pass
    except KeyboardInterrupt:  # embedded outside the main thread: Ctrl-C still stops it
        pass
    finally:
        server.stop()
    stats = server.stats()
    faults_seen = ", ".join(f"{kind} {n}" for kind, n in stats["faults"].items())
    out.info(f"sandbox stopped after {stats['requests']} requests (faults: {faults_seen})")
    return 0


def listening_on(server: SandboxServer) -> str:
    """Where the server really listens, in words: "0.0.0.0 (every IPv4 interface)", "::1",
    "myhost (192.168.1.5)"."""
    address = server.server_address[0]
    if address == "0.0.0.0":
        return "0.0.0.0 (every IPv4 interface)"
    if address == "::":
        return ":: (every interface)"
    if _plain_host(server.host) != address:
        return f"{server.host} ({address})"
    return address


def _bind(host: str, port: int, faults: Faults) -> SandboxServer:
    import errno

    if not host.strip():
        # The socket layer reads "" as "every interface": say so with 0.0.0.0 if that is meant.
        raise UsageError(
            "--host is empty; give the address to listen on: 127.0.0.1 (the default), or"
            " 0.0.0.0 for every IPv4 interface"
        )
    try:
        return SandboxServer(host, port, faults)
    except OSError as error:
        if error.errno == errno.EADDRINUSE:
            raise UsageError(f"port {port} is in use; pass --port 0 for any free port") from None
        reason = error.strerror or str(error)
        raise UsageError(f"cannot listen on {host}:{port}: {reason}") from None


def _print_banner(server: SandboxServer) -> None:
    # Straight to stdout, not through Output: the sandbox credentials are public test values
    # and printing them is the point, while Output would mask any registered as secrets.
    base = server.base_url
    settings = server.settings()
    port = server.server_address[1]
    if server.wildcard:
        # base is this machine's loopback URL; other machines use one of its addresses
        lines = [f"shipctl sandbox listening on {listening_on(server)}, port {port}",
                 f"From this machine: {base}", ""]
    else:
        lines = [f"shipctl sandbox listening on {base}", ""]
    for simulator in server.simulators:
        lines.append(f"{display_name(simulator.name)} simulator:")
        for key, value in settings.items():
            if key.startswith(simulator.name + "."):
                lines.append(f"  {key:<20} {value}")
        lines.append("")
    lines += [
        f"faults: {server.faults.describe()}",
        f"stats:  GET {base}/_sandbox/stats   (POST {base}/_sandbox/reset clears them)",
        "Use these as a profile's settings, or run any command with --sandbox. Ctrl-C stops.",
    ]
    sys.stdout.write("\n".join(lines) + "\n")
    sys.stdout.flush()
