"""The sandbox server: one ``ThreadingHTTPServer`` (a thread per keep-alive connection) on a
loopback address, routing each request by path prefix to a provider's simulator, with
``GET /_sandbox/stats`` and ``POST /_sandbox/reset`` (docs/conventions.md, Sandbox)."""

from __future__ import annotations

import socket
import socketserver
import sys
import threading
from http.server import ThreadingHTTPServer
from typing import Any

from shipctl.provider import providers
from shipctl.sandbox import hosts
from shipctl.sandbox.contract import Simulator, default_simulators
from shipctl.sandbox.faults import FaultDraw, Faults
from shipctl.sandbox.handler import LINGER_RESET, Handler


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
        self._draw = FaultDraw(self.faults.seed)
        self._lock = threading.Lock()  # guards the open connections
        self._connections: set[socket.socket] = set()
        self._thread: threading.Thread | None = None
        self.host = host  # as given: a Host header naming it is answered
        self.address_family = socket.AF_INET6 if ":" in host else socket.AF_INET
        super().__init__((host, port), Handler)  # binds and listens: ready to accept

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
        """Whether a request whose Host (or absolute target) names NAME is answered."""
        return hosts.accepted(name, self.host, self.server_address[0], self.wildcard)

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
        document: dict[str, Any] = self._draw.snapshot()
        for simulator in self.simulators:
            document[simulator.name] = simulator.stats()
        return document

    def reset(self) -> None:
        self._draw.reset()
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
        return self._draw.plan(self.faults)

    def count_fault(self, kind: str) -> None:
        self._draw.count(kind)

    # -- socketserver hooks ---------------------------------------------------------------------
    def process_request(self, request: Any, client_address: Any) -> None:
        with self._lock:
            self._connections.add(request)
        super().process_request(request, client_address)

    def shutdown_request(self, request: Any) -> None:
        with self._lock:
            self._connections.discard(request)
        try:
            reset = request.getsockopt(socket.SOL_SOCKET, socket.SO_LINGER, 8) == LINGER_RESET
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


def start_background(
    host: str = "127.0.0.1", port: int = 0, faults: Faults | None = None
) -> SandboxServer:
    """A started sandbox; it accepts connections as soon as this returns."""
    return SandboxServer(host, port, faults).start()
