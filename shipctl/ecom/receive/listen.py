"""`shipctl ecom listen`: the customer side of Ecom's push API on uvicorn (README "Receiving
pushes"): serving, shutdown and log routing.

A small ASGI app (``app``) — the receiver's rules (``receiver``) and the capture store
(``store``) — served by uvicorn, a well-kept production server, rather than ``http.server``,
whose documentation says it is not for production. uvicorn is imported in this package only,
and the package only when `listen` runs.

What the server adds to the receiver's answers:

- only POST to ``--path`` (404 / 405 otherwise, and the connection closed) (``app``);
- nothing before credentials: they are checked from the request head, and a wrong or missing
  one is answered 401 and the connection closed without reading a byte of the body, so a
  stranger costs neither memory nor parsing; the body is then read (at most 1 MiB: a larger
  Content-Length is 413 at once, a chunked body the moment it grows past it) and, when it is
  large, parsed in a worker thread, one at a time, so that it cannot stall the event loop
  (``app``);
- a request the HTTP parser (httptools, that is llhttp) refuses, such as Content-Length
  together with Transfer-Encoding (the classic request-smuggling framing), is 400 with the
  parser's reason, logged with the client's address, and the connection closed
  (``connections``);
- brute force: every refused request is logged with the client's address (from
  X-Forwarded-For with ``--trust-proxy`` only); after ``FAILURES_ALLOWED`` failures within
  ``FAILURE_WINDOW`` s an address is answered 429 with Retry-After for ``BLOCK_SECONDS`` s
  (``app``);
- bounded connections: at most ``--max-connections``, below the open-file limit (whose soft
  value is raised to the hard one at start); past it the longest-idle connection that is not
  in a request is closed, as nginx does, else the newcomer gets 503 (``connections``);
- slow clients: a body that takes more than ``BODY_SECONDS`` to arrive is answered 408
  (``app``); an idle keep-alive connection is closed after ``KEEP_ALIVE_SECONDS`` (uvicorn),
  and a connection that does not finish a request head within ``HEAD_SECONDS`` is closed
  (``connections``);
- a 200 only once the push is committed: the app awaits the store's future, so the event loop
  never blocks on SQLite and one slow commit does not stall the other connections; a store
  failure is a 503 with the failure body (Ecom may then try again), never a 200;
- one log line per push on stderr: time, status, client address, awb, reason code, result;
  every character that could break or disguise a line (C0/C1 controls, bidi overrides, line
  separators) escaped; uvicorn's and asyncio's loggers routed to the same log, one line per
  message and rate-limited, so that no error can flood the disk (``logline``, here);
- ``--forward-to URL``: each newly stored push is relayed by ``relay``, which reads from the
  store (its forward state is committed with the push): retried with back-off for up to
  24 h, per-AWB order kept, resumed after a restart;
- SIGINT / SIGTERM / SIGHUP: stop accepting, answer the requests in flight, commit, exit 0
  (here).
"""

from __future__ import annotations

import logging
import sys
import threading
import time
from collections.abc import Callable
from typing import Any

from shipctl import secrets
from shipctl.ecom.receive.app import ListenApp
from shipctl.ecom.receive.connections import bind, connection_limits, protocol_class, url_of
from shipctl.ecom.receive.logline import Log, Throttle, escape, log_safe, stamp
from shipctl.ecom.receive.receiver import Receiver
from shipctl.ecom.receive.relay import Relay
from shipctl.ecom.receive.store import Store
from shipctl.loopback import is_loopback
from shipctl.stopping import on_stop_signals

KEEP_ALIVE_SECONDS = 15  # an idle keep-alive connection is closed after this (uvicorn)
GRACEFUL_SECONDS = 10  # on shutdown, requests in flight get this long to finish


def serve(*, host: str, port: int, path: str, store_path: str, username: str, password: str,
          forward_to: str | None, log: Log, warn: Log,
          stopping: threading.Event | None = None, relay: dict[str, Any] | None = None,
          trust_proxy: bool = False, max_connections: int | None = None) -> int:
    """Serve until SIGINT/SIGTERM/SIGHUP (or ``stopping`` is set, when embedded in another
    thread); return 0 after a clean shutdown, 1 when the store file was deleted or replaced.
    ``relay``: settings of the --forward-to relay (``shipctl.ecom.receive.relay.Relay``)."""
    import uvicorn

    receiver = Receiver(username, password)  # ValueError: a username no request can match
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
    forwarder = Relay(forward_to, store=store.path, username=username, password=password,
                      log=log, warn=warn, **(relay or {})) if forward_to else None
    app = ListenApp(receiver, store, path=path, log=log, relay=forwarder,
                    trust_proxy=trust_proxy)
    restore_logging = _route_logs(log)
    config = uvicorn.Config(
        app, http=protocol_class(connections, log, app.malformed), lifespan="off", ws="none",
        interface="asgi3", log_config=None, access_log=False, server_header=False,
        proxy_headers=False, timeout_keep_alive=KEEP_ALIVE_SECONDS,
        timeout_graceful_shutdown=GRACEFUL_SECONDS, backlog=backlog,
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
    single lines on our log, rate-limited per message (``Throttle``): no traceback, and no
    error repeated thousands of times a second can fill a disk. No start-up chatter, no
    access log (ours is one line per push). Returns what puts the previous state back."""
    throttle = Throttle()

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
                         f"{stamp()} {name}: {log_safe(message, 300)}", log)
            except Exception:  # noqa: BLE001 - logging must never break serving
                pass

    def on_thread_error(hook: Any) -> None:
        where = hook.thread.name if hook.thread is not None else "a thread"
        throttle(f"thread:{where}", f"{stamp()} internal error in {where}:"
                 f" {hook.exc_type.__name__}: {log_safe(hook.exc_value, 200)}", log)

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
    """``log`` with every line escaped (``escape``) whatever built it: the last guard."""

    def safe(line: str) -> None:
        log(escape(line))

    return safe


def stderr_log(line: str) -> None:
    """One line on stderr, secrets masked, flushed (a log is read while it is written)."""
    sys.stderr.write(secrets.redact(line) + "\n")
    sys.stderr.flush()
