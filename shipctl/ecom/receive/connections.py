"""`ecom listen` at the HTTP level, below the ASGI app: the listening socket, how many
connections at once, request heads that never finish, and requests the HTTP parser refuses.

- ``bind``: the socket, TCP with Nagle off (see there), or a UsageError that says why not;
- ``connection_limits``: the soft open-file limit raised to the hard one, and the connections
  and listen backlog that fit in it;
- ``_Gate``: at most that many connections; past it the longest-idle one not in a request is
  closed, as nginx does, else the newcomer gets 503;
- ``protocol_class``: uvicorn's httptools protocol, admitted by the gate, closing a connection
  that does not finish a request head within ``HEAD_SECONDS``, and answering a request the
  parser refuses with the app's JSON 400 (``raw``).
"""

from __future__ import annotations

import errno
import socket
import sys
from collections.abc import Callable
from dataclasses import replace
from http import HTTPStatus
from typing import Any

from shipctl.ecom.receive.logline import Log, Throttle, stamp
from shipctl.ecom.receive.receiver import Answer, failure
from shipctl.errors import UsageError

HEAD_SECONDS = 30.0  # a connection must finish each request head within this, else closed
MAX_CONNECTIONS = 1024  # default --max-connections; lowered to fit the open-file limit
# Descriptors kept for everything but client connections: stdio, the listening socket, the
# event loop's, the store's three files, the relay's connections, modules being imported.
FD_RESERVE = 32


def bind(host: str, port: int) -> socket.socket:
    """The listening socket (so --port 0 can say which port it got); UsageError when not."""
    if not host.strip():
        raise UsageError("--host is empty; give the address to listen on: 127.0.0.1 (the"
                         " default), or 0.0.0.0 for every IPv4 interface")
    family = socket.AF_INET6 if ":" in host else socket.AF_INET
    # IPPROTO_TCP named, not 0 as socket.create_server leaves it: asyncio turns Nagle off
    # (TCP_NODELAY) only on sockets that say they are TCP, and with Nagle on, uvicorn's two
    # writes per answer (head, body) make the body wait for the client's delayed ACK.
    sock = socket.socket(family, socket.SOCK_STREAM, socket.IPPROTO_TCP)
    try:
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        sock.bind((host.strip("[]"), port))
        sock.listen(2048)
        return sock
    except OSError as error:
        sock.close()
        if error.errno == errno.EADDRINUSE:
            raise UsageError(f"port {port} is in use; pass --port 0 for any free port") from None
        reason = error.strerror or str(error)
        raise UsageError(f"cannot listen on {host}:{port}: {reason}") from None


def url_of(sock: socket.socket, path: str) -> str:
    host, port = sock.getsockname()[:2]
    shown = f"[{host}]" if ":" in host else host
    return f"http://{shown}:{port}{path}"


def connection_limits(wanted: int | None = None) -> tuple[int, int, int]:
    """(connections, listen backlog, open-file limit): the soft RLIMIT_NOFILE raised to the
    hard one first. asyncio accepts up to a backlog's worth of sockets per wake-up before a
    single one is admitted, so connections and five times the backlog must fit in the
    descriptors left after ``FD_RESERVE``: then accept() does not fail
    with EMFILE (which asyncio answers with a logged traceback and a second of not accepting
    anything)."""
    try:
        import resource
    except ImportError:  # not a POSIX system: nothing to raise, nothing to fit in
        return wanted or MAX_CONNECTIONS, 2048, 0
    soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
    target = 1 << 20 if hard == resource.RLIM_INFINITY else hard
    if soft == resource.RLIM_INFINITY or soft >= target:
        files = min(soft, target) if soft != resource.RLIM_INFINITY else target
    else:
        try:
            resource.setrlimit(resource.RLIMIT_NOFILE, (target, hard))
            files = target
        except (ValueError, OSError):
            files = soft
    usable = max(files - FD_RESERVE, 6)
    connections = max(2, min(wanted or MAX_CONNECTIONS, usable * 3 // 5))
    # Five bursts of accepts fit in what is left, not two: asyncio creates a task per
    # accepted socket, so a connection is admitted (and an idle one closed to make room) two
    # loop iterations after its accept, and the closed one's descriptor is freed one later;
    # meanwhile a full listen queue is accepted from again (on a loaded machine a margin of
    # two bursts is not enough).
    backlog = max(1, min(2048, (usable - connections) // 5))
    return connections, backlog, files


class _Gate:
    """The open connections, at most ``limit``: a newcomer past it closes the connection that
    has waited longest without a request in progress — first among those that never carried
    one (an idle or trickling stranger), then among kept-alive ones — as nginx reuses idle
    connections when it runs short. When every connection is in a request, the newcomer is
    answered 503 and closed. Event-loop thread only."""

    def __init__(self, limit: int, log: Log) -> None:
        self.limit = limit
        self.log = log
        self.fresh: dict[Any, None] = {}  # never answered, oldest first
        self.kept: dict[Any, None] = {}  # answered at least once, longest idle first
        self.closed_idle = 0
        self.refused = 0
        self._throttle = Throttle(burst=1, every=10.0)

    def opened(self, protocol: Any) -> bool:
        """Admit a new connection (closing an idle one if need be); False: refuse it."""
        if len(self.fresh) + len(self.kept) >= self.limit:
            victim = self._idle(self.fresh) or self._idle(self.kept)
            if victim is None:
                self.refused += 1
                self._say()
                return False
            self.fresh.pop(victim, None)
            self.kept.pop(victim, None)
            victim.transport.close()
            self.closed_idle += 1
            self._say()
        self.fresh[protocol] = None
        return True

    def answered(self, protocol: Any) -> None:
        if self.fresh.pop(protocol, 0) is None or self.kept.pop(protocol, 0) is None:
            self.kept[protocol] = None  # the most recently idle: last in line to be closed

    def closed(self, protocol: Any) -> None:
        self.fresh.pop(protocol, None)
        self.kept.pop(protocol, None)

    @staticmethod
    def _idle(members: dict[Any, None]) -> Any:
        for protocol in members:
            cycle = getattr(protocol, "cycle", None)
            if (cycle is None or cycle.response_complete) and not protocol.transport.is_closing():
                return protocol
        return None

    def _say(self) -> None:
        self._throttle("gate", f"{stamp()} connection limit ({self.limit}) reached: so far"
                       f" {self.closed_idle} idle connection(s) closed to admit new ones,"
                       f" {self.refused} answered 503 (every connection was in a request)",
                       self.log)


def raw(answer: Answer) -> bytes:
    """``answer`` as a whole HTTP/1.1 response that closes the connection, for what the
    protocol answers itself: there is no request the app could answer through ASGI."""
    body = answer.body
    head = [f"HTTP/1.1 {answer.status} {HTTPStatus(answer.status).phrase}",
            "content-type: application/json", f"content-length: {len(body)}",
            *(f"{name}: {value}" for name, value in answer.headers), "connection: close"]
    return ("\r\n".join(head) + "\r\n\r\n").encode("latin-1") + body


def protocol_class(limit: int, log: Log, malformed: Callable[[str, str], Answer]) -> type:
    """uvicorn's httptools protocol with a deadline on request heads, at most ``limit``
    connections (``_Gate``), and ``malformed(client, reason)``'s answer to a request the
    parser refuses.

    httptools (llhttp, in C), not h11: the same requests take far less CPU, which moved
    benchmarks/ecom_listen.py from below its http.server anchor to above it.

    uvicorn closes a keep-alive connection that stays silent, but not one that trickles a
    request head a byte at a time (each byte re-arms nothing, and the parser waits): enough
    such connections would hold every file descriptor. This closes a connection that has not
    started a new request HEAD_SECONDS after it opened or after its last answer.
    """
    from uvicorn.protocols.http.httptools_impl import HttpToolsProtocol

    gate = _Gate(limit, log)
    busy = raw(replace(failure(503, "too many connections at once; try again shortly"),
                       headers=(("retry-after", "1"),)))

    class _Protocol(HttpToolsProtocol):
        def connection_made(self, transport: Any) -> None:
            super().connection_made(transport)
            if not gate.opened(self):
                transport.write(busy)  # before its request: clients read it as the answer
                transport.close()
                return
            self._arm_head_deadline()

        def send_400_response(self, msg: str) -> None:
            # uvicorn calls this inside its ``except HttpParserError``: the parser's own
            # words say what was wrong ("Transfer-Encoding can't be present with ...").
            error = sys.exc_info()[1]
            reason = str(error) if error is not None and str(error) else msg
            peer = self.client[0] if self.client else "-"
            self.transport.write(raw(malformed(str(peer), reason)))
            self.transport.close()

        def on_response_complete(self) -> None:
            super().on_response_complete()
            if not self.transport.is_closing():
                gate.answered(self)
            self._arm_head_deadline()

        def connection_lost(self, exc: Exception | None) -> None:
            super().connection_lost(exc)
            gate.closed(self)
            timer = getattr(self, "_head_timer", None)
            if timer is not None:
                timer.cancel()

        def _arm_head_deadline(self) -> None:
            timer = getattr(self, "_head_timer", None)
            if timer is not None:
                timer.cancel()
            # uvicorn replaces ``cycle`` when the next request head has been read. Should a
            # later uvicorn rename it, serving goes on without this deadline (the tests fail).
            cycle = getattr(self, "cycle", None)
            loop = getattr(self, "loop", None)
            if loop is not None:
                self._head_timer = loop.call_later(HEAD_SECONDS, self._head_deadline, cycle)

        def _head_deadline(self, cycle: Any) -> None:
            if getattr(self, "cycle", None) is cycle and not self.transport.is_closing():
                if cycle is None or cycle.response_complete:
                    self.transport.close()

    return _Protocol
