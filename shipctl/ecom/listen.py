"""`shipctl ecom listen`: the customer side of Ecom's push API on uvicorn (SPEC §7).

A small ASGI app — the receiver's rules (``shipctl.ecom.receiver``) and the capture store
(``shipctl.ecom.store``) — served by uvicorn, a well-kept production server, rather than
``http.server``, whose documentation says it is not for production. uvicorn is imported here
only, and this module only when `listen` runs.

What the server adds to the receiver's answers:

- only POST to ``--path`` (404 / 405 otherwise); a Content-Length over 1 MiB is answered 413
  before the body is read, a body that grows past it without one (chunked) the moment it does;
- slow clients: a body that takes more than ``BODY_SECONDS`` to arrive is answered 408; an
  idle keep-alive connection is closed after ``KEEP_ALIVE_SECONDS`` (uvicorn), and a connection
  that does not finish a request head within ``HEAD_SECONDS`` is closed (``_Protocol``);
- a 200 only once the push is committed: the app awaits the store's future, so the event loop
  never blocks on SQLite and one slow commit does not stall the other connections; a store
  failure is a 503 with the failure body (Ecom may then try again), never a 200;
- one log line per push on stderr: time, awb, reason code, result;
- ``--forward-to URL``: each newly stored push is relayed by ``shipctl.ecom.relay``, which
  reads from the store (its forward state is committed with the push): retried with back-off
  for up to 24 h, per-AWB order kept, resumed after a restart.
- SIGINT / SIGTERM: stop accepting, answer the requests in flight, commit, exit 0.
"""

from __future__ import annotations

import asyncio
import errno
import json
import logging
import socket
import sys
import threading
import time
from collections.abc import Callable
from datetime import datetime, timezone
from typing import Any

from shipctl import secrets
from shipctl.ecom.receiver import MAX_BODY, Answer, Receiver, failure
from shipctl.ecom.relay import Relay
from shipctl.ecom.store import Store, StoreError
from shipctl.errors import UsageError
from shipctl.loopback import is_loopback
from shipctl.stopping import on_stop_signals

BODY_SECONDS = 30.0  # the whole body must arrive within this (a slow client gets 408)
HEAD_SECONDS = 30.0  # a connection must finish each request head within this, else closed
KEEP_ALIVE_SECONDS = 15  # an idle keep-alive connection is closed after this (uvicorn)
GRACEFUL_SECONDS = 10  # on shutdown, requests in flight get this long to finish
_JSON = [(b"content-type", b"application/json")]

Log = Callable[[str], None]


def _now() -> str:
    return datetime.now(timezone.utc).strftime("%Y-%m-%dT%H:%M:%SZ")


def _plain(text: str, limit: int = 120) -> str:
    """Text from a request made safe for one log line: control characters escaped, cut."""
    if len(text) > limit:
        text = text[: limit - 1] + "…"
    if text.isprintable():
        return text
    return json.dumps(text, ensure_ascii=False)[1:-1]


class _Closing(Exception):
    """The client went away, or its request cannot be answered on this connection."""

    def __init__(self, answer: Answer | None = None) -> None:
        super().__init__()
        self.answer = answer


# -- the ASGI app -------------------------------------------------------------------------------
class ListenApp:
    """ASGI 3 app: one POST path, answered by ``receiver``, accepted pushes into ``store``."""

    def __init__(self, receiver: Receiver, store: Store, *, path: str = "/", log: Log,
                 forwarder: Forwarder | None = None) -> None:
        self.receiver = receiver
        self.store = store
        self.path = path
        self.log = log
        self.forwarder = forwarder
        self.counts = {"stored": 0, "duplicate": 0, "refused": 0}

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
        if scope["path"] != self.path:
            await self._send(send, failure(404, f"no receiver here: POST to {self.path}"))
            return
        if scope["method"] != "POST":
            await self._send(send, failure(405, "use POST"), extra=[(b"allow", b"POST")])
            return
        headers = scope["headers"]
        length = _content_length(headers)
        if length is not None and length > MAX_BODY:
            answer = failure(413, f"body over {MAX_BODY} bytes")
            self._log(answer, None)
            raise _Closing(answer)
        try:
            body = await asyncio.wait_for(_read_body(receive), BODY_SECONDS)
        except asyncio.TimeoutError:
            late = failure(408, f"the body did not arrive within {BODY_SECONDS:g} s")
            self._log(late, None)
            raise _Closing(late) from None
        if body is None:
            answer = failure(413, f"body over {MAX_BODY} bytes")
            self._log(answer, None)
            raise _Closing(answer)
        answer = self.receiver.receive(headers, body)
        stored = None
        if answer.push is not None:
            try:
                stored = await asyncio.wrap_future(self.store.add(answer.push))
            except StoreError as error:
                echo = {"awb": answer.push.awb,
                        "status_update_number": answer.push.status_update_number}
                answer = failure(503, f"could not store the push, try again later: {error}",
                                 echo)
        self._log(answer, stored)
        await self._send(send, answer)
        if stored and self.forwarder is not None:
            self.forwarder.put(answer, headers)

    def _log(self, answer: Answer, stored: bool | None) -> None:
        push = answer.push
        if push is not None and stored is not None:
            number = push.status_update_number
            result = (f"stored (status_update_number {number})" if stored
                      else f"duplicate: status_update_number {number} already stored")
            self.counts["stored" if stored else "duplicate"] += 1
        else:
            result = f"refused: {answer.reason}"
            self.counts["refused"] += 1
        awb = _plain(answer.awb) or "-"
        code = _plain(answer.reason_code, 60) or "-"
        self.log(f"{_now()} {answer.status} awb {awb} [{code}] {_plain(result, 300)}")

    @staticmethod
    async def _send(send: Callable, answer: Answer, *, close: bool = False,
                    extra: list | None = None) -> None:
        body = answer.body
        headers = [*_JSON, (b"content-length", str(len(body)).encode()), *(extra or [])]
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
# The durable relay (shipctl.ecom.relay): it reads what to send from the store; ``put`` only
# tells it that a push was just stored.
Forwarder = Relay


# -- slow request heads -------------------------------------------------------------------------
def _protocol_class() -> type:
    """uvicorn's h11 protocol with a deadline on request heads.

    uvicorn closes a keep-alive connection that stays silent, but not one that trickles a
    request head a byte at a time (each byte re-arms nothing, and h11 waits): enough such
    connections would hold every file descriptor. This closes a connection that has not
    started a new request HEAD_SECONDS after it opened or after its last answer.
    """
    from uvicorn.protocols.http.h11_impl import H11Protocol

    class _Protocol(H11Protocol):
        def connection_made(self, transport: Any) -> None:
            super().connection_made(transport)
            self._arm_head_deadline()

        def on_response_complete(self) -> None:
            super().on_response_complete()
            self._arm_head_deadline()

        def connection_lost(self, exc: Exception | None) -> None:
            super().connection_lost(exc)
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


def serve(*, host: str, port: int, path: str, store_path: str, username: str, password: str,
          forward_to: str | None, log: Log, warn: Log,
          stopping: threading.Event | None = None, relay: dict[str, Any] | None = None) -> int:
    """Serve until SIGINT/SIGTERM (or ``stopping`` is set, when embedded in another thread);
    return 0 after a clean shutdown, 1 when the store file was deleted or replaced.
    ``relay``: settings of the --forward-to relay (``shipctl.ecom.relay.Relay``)."""
    import uvicorn

    secrets.register(password)
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
                    forwarder=forwarder)
    _quiet_uvicorn(log)
    config = uvicorn.Config(
        app, http=_protocol_class(), lifespan="off", ws="none", interface="asgi3",
        log_config=None, access_log=False, server_header=False, proxy_headers=False,
        timeout_keep_alive=KEEP_ALIVE_SECONDS, timeout_graceful_shutdown=GRACEFUL_SECONDS,
        backlog=2048,
    )
    started = time.monotonic()

    def ready() -> None:
        log(f"ecom listen: receiving pushes at {url_of(sock, path)} (store {store.path});"
            " Ctrl-C stops")

    server = _server_class(uvicorn)(config, stopping, ready)
    # uvicorn installs its own handlers while it serves (graceful shutdown) and, once done,
    # puts ours back and raises the signal again for them: ours just note it.
    try:
        with on_stop_signals(stopping):
            server.run(sockets=[sock])
    finally:
        store.close()
        if forwarder is not None:
            forwarder.close()
        sock.close()
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


def _quiet_uvicorn(log: Log) -> None:
    """uvicorn's own messages (a malformed request, the shutdown wait) as single lines on our
    log; no start-up chatter, no access log (ours is one line per push)."""

    class _Line(logging.Handler):
        def emit(self, record: logging.LogRecord) -> None:
            try:
                message = record.getMessage().splitlines()[0] if record.getMessage() else ""
                log(f"{_now()} uvicorn: {_plain(message, 200)}")
            except Exception:  # noqa: BLE001 - logging must never break serving
                pass

    logger = logging.getLogger("uvicorn.error")
    logger.handlers[:] = [_Line()]
    logger.setLevel(logging.WARNING)
    logger.propagate = False
    logging.getLogger("uvicorn.access").disabled = True


def stderr_log(line: str) -> None:
    """One line on stderr, secrets masked, flushed (a log is read while it is written)."""
    sys.stderr.write(secrets.redact(line) + "\n")
    sys.stderr.flush()
