"""`shipctl ecom listen`: the customer side of Ecom's push API on uvicorn (README "Receiving
pushes").

A small ASGI app — the receiver's rules (``shipctl.ecom.receive.receiver``) and the capture store
(``shipctl.ecom.receive.store``) — served by uvicorn, a well-kept production server, rather than
``http.server``, whose documentation says it is not for production. uvicorn is imported here
only, and this module only when `listen` runs.

What the server adds to the receiver's answers:

- only POST to ``--path`` (404 / 405 otherwise, and the connection closed);
- nothing before credentials: they are checked from the request head, and a wrong or missing
  one is answered 401 and the connection closed without reading a byte of the body, so a
  stranger costs neither memory nor parsing; the body is then read (at most 1 MiB: a larger
  Content-Length is 413 at once, a chunked body the moment it grows past it) and, when it is
  large, parsed in a worker thread, one at a time, so that it cannot stall the event loop;
- a request the HTTP parser (httptools, that is llhttp) refuses, such as Content-Length
  together with Transfer-Encoding (the classic request-smuggling framing), is 400 with the
  parser's reason, logged with the client's address, and the connection closed;
- brute force: every refused request is logged with the client's address (from
  X-Forwarded-For with ``--trust-proxy`` only); after ``FAILURES_ALLOWED`` failures within
  ``FAILURE_WINDOW`` s an address is answered 429 with Retry-After for ``BLOCK_SECONDS`` s;
- bounded connections (``_Gate``): at most ``--max-connections``, below the open-file limit
  (whose soft value is raised to the hard one at start); past it the longest-idle connection
  that is not in a request is closed, as nginx does, else the newcomer gets 503;
- slow clients: a body that takes more than ``BODY_SECONDS`` to arrive is answered 408; an
  idle keep-alive connection is closed after ``KEEP_ALIVE_SECONDS`` (uvicorn), and a connection
  that does not finish a request head within ``HEAD_SECONDS`` is closed (``_Protocol``);
- a 200 only once the push is committed: the app awaits the store's future, so the event loop
  never blocks on SQLite and one slow commit does not stall the other connections; a store
  failure is a 503 with the failure body (Ecom may then try again), never a 200;
- one log line per push on stderr: time, status, client address, awb, reason code, result;
  every character that could break or disguise a line (C0/C1 controls, bidi overrides, line
  separators) escaped; uvicorn's and asyncio's loggers routed to the same log, one line per
  message and rate-limited, so that no error can flood the disk;
- ``--forward-to URL``: each newly stored push is relayed by ``shipctl.ecom.receive.relay``, which
  reads from the store (its forward state is committed with the push): retried with back-off
  for up to 24 h, per-AWB order kept, resumed after a restart.
- SIGINT / SIGTERM / SIGHUP: stop accepting, answer the requests in flight, commit, exit 0.
"""

from __future__ import annotations

import asyncio
import errno
import ipaddress
import logging
import socket
import sys
import threading
import time
from collections import OrderedDict, deque
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from dataclasses import replace
from datetime import datetime, timezone
from http import HTTPStatus
from typing import Any

from shipctl import secrets
from shipctl.ecom.receive.receiver import MAX_BODY, Answer, Receiver, failure
from shipctl.ecom.receive.relay import Relay
from shipctl.ecom.receive.store import Store, StoreError
from shipctl.errors import UsageError
from shipctl.loopback import is_loopback
from shipctl.stopping import on_stop_signals

BODY_SECONDS = 30.0  # the whole body must arrive within this (a slow client gets 408)
HEAD_SECONDS = 30.0  # a connection must finish each request head within this, else closed
KEEP_ALIVE_SECONDS = 15  # an idle keep-alive connection is closed after this (uvicorn)
GRACEFUL_SECONDS = 10  # on shutdown, requests in flight get this long to finish
MAX_CONNECTIONS = 1024  # default --max-connections; lowered to fit the open-file limit
# Descriptors kept for everything but client connections: stdio, the listening socket, the
# event loop's, the store's three files, the relay's connections, modules being imported.
FD_RESERVE = 32
INLINE_PARSE = 64 * 1024  # bodies up to this are parsed on the loop (a push is ~400 bytes)
FAILURES_ALLOWED = 20  # refused requests from one address within FAILURE_WINDOW, then 429
FAILURE_WINDOW = 60.0
BLOCK_SECONDS = 60.0
TRACKED_ADDRESSES = 10_000  # addresses remembered for brute force (oldest forgotten first)
_JSON = [(b"content-type", b"application/json")]

Log = Callable[[str], None]


def _now() -> str:
    return datetime.now(timezone.utc).strftime("%Y-%m-%dT%H:%M:%SZ")


def _plain(text: str, limit: int = 120) -> str:
    """Text from a request made safe for one log line: escaped (``_escape``), cut."""
    if len(text) > limit:
        text = text[: limit - 1] + "…"
    return _escape(text)


def _escape(text: str) -> str:
    """Every character that is not printable as itself escaped, ``\\x85``, ``\\u202e``:
    C0 and C1 controls (a newline would forge a log line, ESC drives the terminal), bidi
    overrides and isolates (they reorder what a reader sees), U+2028/U+2029 (line breaks to
    many viewers), NBSP and other format characters. Python's ``isprintable`` is exactly
    that set."""
    if text.isprintable():
        return text
    return "".join(ch if ch.isprintable() else _escaped(ch) for ch in text)


def _escaped(ch: str) -> str:
    code = ord(ch)
    if code < 0x100:
        return f"\\x{code:02x}"
    return f"\\u{code:04x}" if code < 0x10000 else f"\\U{code:08x}"


class _Throttle:
    """At most ``burst`` log lines per key at once, then one per ``every`` seconds; the next
    line that passes says how many were held back. Bounded: ``keys`` keys at most."""

    def __init__(self, burst: int = 20, every: float = 3.0, keys: int = 1000) -> None:
        self.burst, self.every, self.keys = burst, every, keys
        self._state: OrderedDict[str, list[float]] = OrderedDict()  # key → [tokens, at, held]
        self._lock = threading.Lock()  # loggers are called from any thread

    def __call__(self, key: str, line: str, log: Log) -> None:
        now = time.monotonic()
        with self._lock:
            state = self._state.pop(key, None) or [float(self.burst), now, 0.0]
            self._state[key] = state
            if len(self._state) > self.keys:
                self._state.popitem(last=False)
            state[0] = min(self.burst, state[0] + (now - state[1]) / self.every)
            state[1] = now
            if state[0] < 1:
                state[2] += 1
                return
            state[0] -= 1
            held, state[2] = int(state[2]), 0.0
        log(line + (f" ({held} more like it not logged)" if held else ""))


class _Guard:
    """Brute force: the times of each address's last refused requests; an address with
    ``FAILURES_ALLOWED`` of them within ``FAILURE_WINDOW`` s is blocked for ``BLOCK_SECONDS``.
    An IPv6 address counts as its /64, which one host usually holds whole."""

    def __init__(self) -> None:
        self._failures: OrderedDict[str, deque[float]] = OrderedDict()
        self._blocked: dict[str, float] = {}  # key → monotonic time the block ends

    @staticmethod
    def key(address: str) -> str:
        try:
            ip = ipaddress.ip_address(address)
        except ValueError:
            return address
        if isinstance(ip, ipaddress.IPv6Address):
            if ip.ipv4_mapped is not None:
                return str(ip.ipv4_mapped)
            return str(ipaddress.ip_network(f"{ip}/64", strict=False))
        return str(ip)

    def blocked(self, address: str) -> float:
        """Seconds left of this address's block; 0 when it is not blocked."""
        if not self._blocked:
            return 0.0  # the usual case, without parsing the address each request
        key = self.key(address)
        until = self._blocked.get(key)
        if until is None:
            return 0.0
        left = until - time.monotonic()
        if left <= 0:
            del self._blocked[key]
            return 0.0
        return left

    def failed(self, address: str) -> bool:
        """Note a refused request; True when it starts a block."""
        key, now = self.key(address), time.monotonic()
        times = self._failures.pop(key, None) or deque(maxlen=FAILURES_ALLOWED)
        times.append(now)
        self._failures[key] = times  # most recent last: the oldest go first when full
        if len(self._failures) > TRACKED_ADDRESSES:
            self._failures.popitem(last=False)
        if len(times) == FAILURES_ALLOWED and now - times[0] <= FAILURE_WINDOW:
            times.clear()
            self._blocked[key] = now + BLOCK_SECONDS
            if len(self._blocked) > TRACKED_ADDRESSES:
                self._blocked.pop(next(iter(self._blocked)))
            return True
        return False


class _Closing(Exception):
    """The client went away, or its request cannot be answered on this connection."""

    def __init__(self, answer: Answer | None = None) -> None:
        super().__init__()
        self.answer = answer


# -- the ASGI app -------------------------------------------------------------------------------
class ListenApp:
    """ASGI 3 app: one POST path, answered by ``receiver``, accepted pushes into ``store``."""

    def __init__(self, receiver: Receiver, store: Store, *, path: str = "/", log: Log,
                 forwarder: Forwarder | None = None, trust_proxy: bool = False) -> None:
        self.receiver = receiver
        self.store = store
        self.path = path
        self.log = log
        self.forwarder = forwarder
        self.trust_proxy = trust_proxy
        self.counts = {"stored": 0, "duplicate": 0, "refused": 0}
        self.guard = _Guard()
        self.throttle = _Throttle(burst=1, every=10.0)  # 429 lines: one per address per 10 s
        # Large bodies are parsed here, one at a time: off the event loop, and never many
        # megabytes of parse trees at once.
        self._parser: ThreadPoolExecutor | None = None

    def close(self) -> None:
        if self._parser is not None:
            self._parser.shutdown(wait=True)

    def client(self, scope: dict) -> str:
        """The client's address: the connection's peer, or with --trust-proxy the address
        the proxy put last in X-Forwarded-For (the earlier entries are the client's word)."""
        peer = scope.get("client")
        address = str(peer[0]) if peer else "-"
        if self.trust_proxy:
            values = [v for n, v in scope["headers"] if n == b"x-forwarded-for"]
            if values:
                last = b",".join(values).split(b",")[-1].strip().decode("latin-1")
                try:
                    return str(ipaddress.ip_address(last.strip("[]")))
                except ValueError:
                    pass  # not an address: the proxy's own is the best there is
        return address

    async def __call__(self, scope: dict, receive: Callable, send: Callable) -> None:
        if scope["type"] != "http":
            return  # uvicorn runs with lifespan and websockets off
        try:
            await self._http(scope, receive, send)
        except _Closing as closing:
            if closing.answer is not None:
                await self._send(send, closing.answer, close=True)
        except Exception as error:  # noqa: BLE001 - one request's bug must not reach uvicorn
            self.log(f"{_now()} internal error: {type(error).__name__}: {_plain(str(error))}")
            await self._send(send, failure(500, "internal error"), close=True)

    async def _http(self, scope: dict, receive: Callable, send: Callable) -> None:
        # Whatever does not come with credentials is answered from the head and the
        # connection closed: a stranger never gets a body read, nor a kept-alive connection.
        if scope["path"] != self.path:
            raise _Closing(failure(404, f"no receiver here: POST to {self.path}"))
        if scope["method"] != "POST":
            raise _Closing(replace(failure(405, "use POST"), headers=(("allow", "POST"),)))
        headers = scope["headers"]
        client = self.client(scope)
        left = self.guard.blocked(client)
        if left:
            seconds = max(1, round(left))
            answer = replace(failure(429, f"too many failed attempts from {client}: try again"
                                     f" in {seconds} s"), headers=(("retry-after", str(seconds)),))
            self.counts["refused"] += 1
            self.throttle(client, self._line(answer, None, client), self.log)
            raise _Closing(answer)
        refused = self.receiver.refusal(headers)
        if refused is not None:
            self._refuse(refused, client)
        length = _content_length(headers)
        if length is not None and length > MAX_BODY:
            answer = failure(413, f"body over {MAX_BODY} bytes")
            self._log(answer, None, client)
            raise _Closing(answer)
        try:
            body = await asyncio.wait_for(_read_body(receive), BODY_SECONDS)
        except asyncio.TimeoutError:
            late = failure(408, f"the body did not arrive within {BODY_SECONDS:g} s")
            self._log(late, None, client)
            raise _Closing(late) from None
        if body is None:
            answer = failure(413, f"body over {MAX_BODY} bytes")
            self._log(answer, None, client)
            raise _Closing(answer)
        if len(body) <= INLINE_PARSE:
            answer = self.receiver.accept(headers, body)
        else:
            if self._parser is None:
                self._parser = ThreadPoolExecutor(1, thread_name_prefix="ecom-parse")
            answer = await asyncio.get_running_loop().run_in_executor(
                self._parser, self.receiver.accept, headers, body)
        stored = None
        if answer.push is not None:
            try:
                stored = await asyncio.wrap_future(self.store.add(answer.push))
            except StoreError as error:
                echo = {"awb": answer.push.awb,
                        "status_update_number": answer.push.status_update_number}
                answer = failure(503, f"could not store the push, try again later: {error}",
                                 echo)
        self._log(answer, stored, client)
        await self._send(send, answer)
        if stored and self.forwarder is not None:
            self.forwarder.put(answer, headers)

    def malformed(self, client: str, reason: str) -> bytes:
        """The whole answer to a request the HTTP parser refused, such as one with both
        Content-Length and Transfer-Encoding (two framings: a proxy in front may read the
        other one, and what it takes for this body would be a second request here, RFC 9112
        §6.1, §11.2). Logged with the client's address, at most one line per address every
        10 s; not counted towards a 429, as the address may be a proxy's (there is no
        X-Forwarded-For in a request that cannot be read)."""
        answer = failure(400, f"malformed HTTP request: {reason}; refused")
        self.counts["refused"] += 1
        self.throttle(f"malformed {client}", self._line(answer, None, client), self.log)
        return _raw(answer)

    def _refuse(self, answer: Answer, client: str) -> None:
        """Log a refused request, count it against its address, and close the connection."""
        self._log(answer, None, client)
        if self.guard.failed(client):
            self.log(f"{_now()} {client} blocked for {BLOCK_SECONDS:g} s: {FAILURES_ALLOWED}"
                     f" refused requests within {FAILURE_WINDOW:g} s (answered 429 meanwhile)")
        raise _Closing(answer)

    def _log(self, answer: Answer, stored: bool | None, client: str) -> None:
        if answer.push is None or stored is None:
            self.counts["refused"] += 1
        else:
            self.counts["stored" if stored else "duplicate"] += 1
        self.log(self._line(answer, stored, client))

    @staticmethod
    def _line(answer: Answer, stored: bool | None, client: str) -> str:
        push = answer.push
        if push is not None and stored is not None:
            number = push.status_update_number
            result = (f"stored (status_update_number {number})" if stored
                      else f"duplicate: status_update_number {number} already stored")
        else:
            result = f"refused: {answer.reason}"
        awb = _plain(answer.awb) or "-"
        code = _plain(answer.reason_code, 60) or "-"
        return (f"{_now()} {answer.status} from {_plain(client, 60)} awb {awb} [{code}]"
                f" {_plain(result, 300)}")

    @staticmethod
    async def _send(send: Callable, answer: Answer, *, close: bool = False,
                    extra: list | None = None) -> None:
        body = answer.body
        headers = [*_JSON, (b"content-length", str(len(body)).encode()), *(extra or []),
                   *((k.encode("latin-1"), v.encode("latin-1")) for k, v in answer.headers)]
        if close:
            headers.append((b"connection", b"close"))
        await send({"type": "http.response.start", "status": answer.status, "headers": headers})
        await send({"type": "http.response.body", "body": body})


def _content_length(headers: list[tuple[bytes, bytes]]) -> int | None:
    for name, value in headers:
        if name.lower() == b"content-length":
            value = value.strip()
            return int(value) if value.isdigit() and len(value) < 20 else None
    return None


async def _read_body(receive: Callable) -> bytes | None:
    """The request body; None once it exceeds MAX_BODY. _Closing when the client left."""
    chunks, size = [], 0
    while True:
        message = await receive()
        if message["type"] == "http.disconnect":
            raise _Closing()
        chunk = message.get("body", b"")
        size += len(chunk)
        if size > MAX_BODY:
            return None
        chunks.append(chunk)
        if not message.get("more_body", False):
            return b"".join(chunks)


# -- --forward-to -------------------------------------------------------------------------------
# The durable relay (shipctl.ecom.receive.relay): it reads what to send from the store; ``put`` only
# tells it that a push was just stored.
Forwarder = Relay


# -- connections: how many, and slow request heads --------------------------------------------
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
        self._throttle = _Throttle(burst=1, every=10.0)

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
            self.kept[protocol] = None  # now the most recently idle

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
        self._throttle("gate", f"{_now()} connection limit ({self.limit}) reached: so far"
                       f" {self.closed_idle} idle connection(s) closed to admit new ones,"
                       f" {self.refused} answered 503 (every connection was in a request)",
                       self.log)


def _raw(answer: Answer) -> bytes:
    """``answer`` as a whole HTTP/1.1 response that closes the connection, for what the
    protocol answers itself: there is no request the app could answer through ASGI."""
    body = answer.body
    head = [f"HTTP/1.1 {answer.status} {HTTPStatus(answer.status).phrase}",
            "content-type: application/json", f"content-length: {len(body)}",
            *(f"{name}: {value}" for name, value in answer.headers), "connection: close"]
    return ("\r\n".join(head) + "\r\n\r\n").encode("latin-1") + body


def _protocol_class(gate: _Gate | None = None, app: ListenApp | None = None) -> type:
    """uvicorn's httptools protocol with a deadline on request heads, admitted by ``gate``,
    and ``app``'s JSON answer (logged with the client's address) to a malformed request.

    httptools (llhttp, in C), not h11: the same requests take a third of the CPU, and
    benchmarks/ecom_listen.py went from below the http.server anchor to well above it.

    uvicorn closes a keep-alive connection that stays silent, but not one that trickles a
    request head a byte at a time (each byte re-arms nothing, and the parser waits): enough
    such connections would hold every file descriptor. This closes a connection that has not
    started a new request HEAD_SECONDS after it opened or after its last answer.
    """
    from uvicorn.protocols.http.httptools_impl import HttpToolsProtocol

    busy = _raw(replace(failure(503, "too many connections at once; try again shortly"),
                        headers=(("retry-after", "1"),)))

    class _Protocol(HttpToolsProtocol):
        def connection_made(self, transport: Any) -> None:
            super().connection_made(transport)
            if gate is not None and not gate.opened(self):
                transport.write(busy)  # before its request: clients read it as the answer
                transport.close()
                return
            self._arm_head_deadline()

        def send_400_response(self, msg: str) -> None:
            if app is None:
                super().send_400_response(msg)
                return
            # uvicorn calls this inside its ``except HttpParserError``: the parser's own
            # words say what was wrong ("Transfer-Encoding can't be present with ...").
            error = sys.exc_info()[1]
            reason = str(error) if error is not None and str(error) else msg
            peer = self.client[0] if self.client else "-"
            self.transport.write(app.malformed(str(peer), reason))
            self.transport.close()

        def on_response_complete(self) -> None:
            super().on_response_complete()
            if gate is not None and not self.transport.is_closing():
                gate.answered(self)
            self._arm_head_deadline()

        def connection_lost(self, exc: Exception | None) -> None:
            super().connection_lost(exc)
            if gate is not None:
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


# -- serving ------------------------------------------------------------------------------------
def bind(host: str, port: int) -> socket.socket:
    """The listening socket (so --port 0 can say which port it got); UsageError when not."""
    if not host.strip():
        raise UsageError("--host is empty; give the address to listen on: 127.0.0.1 (the"
                         " default), or 0.0.0.0 for every IPv4 interface")
    family = socket.AF_INET6 if ":" in host else socket.AF_INET
    # IPPROTO_TCP named, not 0 as socket.create_server leaves it: asyncio turns Nagle off
    # (TCP_NODELAY) only on sockets that say they are TCP, and with Nagle on, uvicorn's two
    # writes per answer (head, body) wait for the client's delayed ACK: 40 ms per request.
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
    # meanwhile a full listen queue is accepted from again (EMFILE seen in CI with a margin
    # of two bursts on a loaded machine).
    backlog = max(1, min(2048, (usable - connections) // 5))
    return connections, backlog, files


def serve(*, host: str, port: int, path: str, store_path: str, username: str, password: str,
          forward_to: str | None, log: Log, warn: Log,
          stopping: threading.Event | None = None, relay: dict[str, Any] | None = None,
          trust_proxy: bool = False, max_connections: int | None = None) -> int:
    """Serve until SIGINT/SIGTERM/SIGHUP (or ``stopping`` is set, when embedded in another
    thread); return 0 after a clean shutdown, 1 when the store file was deleted or replaced.
    ``relay``: settings of the --forward-to relay (``shipctl.ecom.receive.relay.Relay``)."""
    import uvicorn

    if ":" in username:
        raise UsageError(f"username {username!r} holds a colon: Basic Auth ends the username"
                         " at the first colon (RFC 7617), so no request could ever match it")
    log = _safe_log(log)
    secrets.register(password)
    connections, backlog, files = connection_limits(max_connections)
    if max_connections and connections < max_connections:
        warn(f"--max-connections {max_connections}: only {connections} fit in the open-file"
             f" limit ({files}); raise it with ulimit -n")
    sock = bind(host, port)
    if not is_loopback(sock.getsockname()[0]):
        warn(f"listening on {sock.getsockname()[0]}, which is not a loopback address: Ecom's"
             " pushes carry credentials; put a TLS-terminating proxy in front of it")
    stopping = stopping or threading.Event()
    # A store deleted or replaced under us: its pushes get 503 and the listener stops (exit 1).
    store = Store(store_path, forwarding=bool(forward_to), log=log,
                  on_lost=lambda _why: stopping.set())
    forwarder = Forwarder(forward_to, store=store.path, username=username, password=password,
                          log=log, warn=warn, **(relay or {})) if forward_to else None
    app = ListenApp(Receiver(username, password), store, path=path, log=log,
                    forwarder=forwarder, trust_proxy=trust_proxy)
    restore_logging = _route_logs(log)
    gate = _Gate(connections, log)
    config = uvicorn.Config(
        app, http=_protocol_class(gate, app), lifespan="off", ws="none", interface="asgi3",
        log_config=None, access_log=False, server_header=False, proxy_headers=False,
        timeout_keep_alive=KEEP_ALIVE_SECONDS, timeout_graceful_shutdown=GRACEFUL_SECONDS,
        backlog=backlog,
    )
    started = time.monotonic()

    def ready() -> None:
        files_said = f" (open-file limit {files})" if files else ""
        log(f"ecom listen: receiving pushes at {url_of(sock, path)} (store {store.path}); at"
            f" most {connections} connections at once{files_said}; Ctrl-C stops")

    server = _server_class(uvicorn)(config, stopping, ready)
    # uvicorn installs its own handlers while it serves (graceful shutdown) and, once done,
    # puts ours back and raises the signal again for them: ours just note it.
    try:
        with on_stop_signals(stopping):
            server.run(sockets=[sock])
    finally:
        app.close()
        store.close()
        if forwarder is not None:
            forwarder.close()
        sock.close()
        restore_logging()
    counts = ", ".join(f"{n} {what}" for what, n in app.counts.items())
    log(f"ecom listen stopped after {time.monotonic() - started:.0f} s: {counts}")
    if store.lost:
        log(f"ecom listen: {store.lost}: the pushes since were answered 503 (Ecom sends them"
            " again); start ecom listen again to store them in a new file")
        return 1
    return 0


def _server_class(uvicorn: Any) -> type:
    class _Server(uvicorn.Server):
        """uvicorn's server, saying when it serves, and stopping on a signal that came before
        its own handlers were installed (ours noted it in ``stopping``)."""

        def __init__(self, config: Any, stopping: threading.Event,
                     ready: Callable[[], None]) -> None:
            super().__init__(config)
            self._stopping = stopping
            self._ready = ready

        async def startup(self, sockets: Any = None) -> None:
            await super().startup(sockets)
            if self.started:
                self._ready()

        async def on_tick(self, counter: int) -> bool:
            if self._stopping.is_set():
                self.should_exit = True
            return await super().on_tick(counter)

    return _Server


def _route_logs(log: Log) -> Callable[[], None]:
    """Every logger — uvicorn's (a malformed request, the shutdown wait), asyncio's (accept()
    failing, a callback's error), any library's — and uncaught exceptions in threads, as
    single lines on our log, rate-limited per message (``_Throttle``): no traceback, and no
    error repeated thousands of times a second can fill a disk. No start-up chatter, no
    access log (ours is one line per push). Returns what puts the previous state back."""
    throttle = _Throttle()

    class _Line(logging.Handler):
        def emit(self, record: logging.LogRecord) -> None:
            try:
                text = record.getMessage()
                message = text.splitlines()[0] if text else ""
                if record.exc_info and record.exc_info[1] is not None:
                    error = record.exc_info[1]
                    message += f" ({type(error).__name__}: {str(error)[:200]})"
                name = record.name.split(".")[0]
                throttle(f"{record.name}:{record.msg}",
                         f"{_now()} {name}: {_plain(message, 300)}", log)
            except Exception:  # noqa: BLE001 - logging must never break serving
                pass

    def on_thread_error(hook: Any) -> None:
        where = hook.thread.name if hook.thread is not None else "a thread"
        throttle(f"thread:{where}", f"{_now()} internal error in {where}:"
                 f" {hook.exc_type.__name__}: {_plain(str(hook.exc_value), 200)}", log)

    root = logging.getLogger()
    uvicorn_error = logging.getLogger("uvicorn.error")
    access = logging.getLogger("uvicorn.access")
    saved = (root.handlers[:], root.level, uvicorn_error.handlers[:], uvicorn_error.level,
             uvicorn_error.propagate, access.disabled, threading.excepthook)
    handler = _Line()
    root.handlers[:] = [handler]
    root.setLevel(logging.WARNING)
    uvicorn_error.handlers[:] = []
    uvicorn_error.setLevel(logging.WARNING)
    uvicorn_error.propagate = True  # to the root's handler, like asyncio's
    access.disabled = True
    threading.excepthook = on_thread_error

    def restore() -> None:
        (root.handlers[:], level, uvicorn_error.handlers[:], error_level,
         uvicorn_error.propagate, access.disabled, threading.excepthook) = saved
        root.setLevel(level)
        uvicorn_error.setLevel(error_level)

    return restore


def _safe_log(log: Log) -> Log:
    """``log`` with every line escaped (``_escape``) whatever built it: the last guard."""

    def safe(line: str) -> None:
        log(_escape(line))

    return safe


def stderr_log(line: str) -> None:
    """One line on stderr, secrets masked, flushed (a log is read while it is written)."""
    sys.stderr.write(secrets.redact(line) + "\n")
    sys.stderr.flush()
