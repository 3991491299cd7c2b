"""The ASGI app of `ecom listen`: one POST path, answered by the receiver's rules
(``shipctl.ecom.receive.receiver``), accepted pushes committed to the store before their 200.

Credentials are checked from the request head: whatever does not come with them is answered
and the connection closed without reading a byte of the body. The body is then read (at most
``MAX_BODY``: a larger Content-Length is 413 at once, a chunked body the moment it grows past
it, a body slower than ``BODY_SECONDS`` 408) and, when large, parsed in a worker thread, one at
a time, so that it cannot stall the event loop. An address with ``FAILURES_ALLOWED`` refused
requests within ``FAILURE_WINDOW`` s is answered 429 for ``BLOCK_SECONDS`` s (``_Guard``).
"""

from __future__ import annotations

import asyncio
import ipaddress
import time
from collections import OrderedDict, deque
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from dataclasses import replace
from typing import TYPE_CHECKING

from shipctl.ecom.receive.logline import Log, Throttle, log_safe, stamp
from shipctl.ecom.receive.receiver import MAX_BODY, Answer, Receiver, failure
from shipctl.ecom.receive.store import Store, StoreError

if TYPE_CHECKING:
    from shipctl.ecom.receive.relay import Relay

BODY_SECONDS = 30.0  # the whole body must arrive within this (a slow client gets 408)
INLINE_PARSE = 64 * 1024  # bodies up to this are parsed on the loop (a push is ~400 bytes)
FAILURES_ALLOWED = 20  # refused requests from one address within FAILURE_WINDOW, then 429
FAILURE_WINDOW = 60.0
BLOCK_SECONDS = 60.0
TRACKED_ADDRESSES = 10_000  # addresses remembered for brute force (oldest forgotten first)
_JSON = [(b"content-type", b"application/json")]


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


class ListenApp:
    """ASGI 3 app: one POST path, answered by ``receiver``, accepted pushes into ``store``;
    ``relay`` (``--forward-to``) is told of each newly stored push."""

    def __init__(self, receiver: Receiver, store: Store, *, path: str = "/", log: Log,
                 relay: Relay | None = None, trust_proxy: bool = False) -> None:
        self.receiver = receiver
        self.store = store
        self.path = path
        self.log = log
        self.relay = relay
        self.trust_proxy = trust_proxy
        self.counts = {"stored": 0, "duplicate": 0, "refused": 0}
        self.guard = _Guard()
        self.throttle = Throttle(burst=1, every=10.0)  # 429 lines: one per address per 10 s
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
            self.log(f"{stamp()} internal error: {type(error).__name__}: {log_safe(error)}")
            await self._send(send, failure(500, "internal error"), close=True)

    async def _http(self, scope: dict, receive: Callable, send: Callable) -> None:
        headers = scope["headers"]
        client = self._admit(scope)
        body = await self._body(receive, headers, client)
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
        if stored and self.relay is not None:
            self.relay.put()

    def _admit(self, scope: dict) -> str:
        """The client's address once the request head passed: path, method, block, credentials.
        Anything else is answered from the head and the connection closed (``_Closing``): a
        stranger never gets a body read, nor a kept-alive connection."""
        if scope["path"] != self.path:
            raise _Closing(failure(404, f"no receiver here: POST to {self.path}"))
        if scope["method"] != "POST":
            raise _Closing(replace(failure(405, "use POST"), headers=(("allow", "POST"),)))
        client = self.client(scope)
        left = self.guard.blocked(client)
        if left:
            seconds = max(1, round(left))
            answer = replace(failure(429, f"too many failed attempts from {client}: try again"
                                     f" in {seconds} s"), headers=(("retry-after", str(seconds)),))
            self.counts["refused"] += 1
            self.throttle(client, self._line(answer, None, client), self.log)
            raise _Closing(answer)
        refused = self.receiver.refusal(scope["headers"])
        if refused is not None:
            self._log(refused, None, client)
            if self.guard.failed(client):
                self.log(f"{stamp()} {client} blocked for {BLOCK_SECONDS:g} s:"
                         f" {FAILURES_ALLOWED} refused requests within {FAILURE_WINDOW:g} s"
                         " (answered 429 meanwhile)")
            raise _Closing(refused)
        return client

    async def _body(self, receive: Callable, headers: list, client: str) -> bytes:
        """The request body, or ``_Closing`` with the 413 or 408 that refuses it."""
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
        return body

    def malformed(self, client: str, reason: str) -> Answer:
        """The answer to a request the HTTP parser refused, such as one with both
        Content-Length and Transfer-Encoding (two framings: a proxy in front may read the
        other one, and what it takes for this body would be a second request here, RFC 9112
        §6.1, §11.2). Logged with the client's address, at most one line per address every
        10 s; not counted towards a 429, as the address may be a proxy's (there is no
        X-Forwarded-For in a request that cannot be read)."""
        answer = failure(400, f"malformed HTTP request: {reason}; refused")
        self.counts["refused"] += 1
        self.throttle(f"malformed {client}", self._line(answer, None, client), self.log)
        return answer

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
        awb = log_safe(answer.awb) or "-"
        code = log_safe(answer.reason_code, 60) or "-"
        return (f"{stamp()} {answer.status} from {log_safe(client, 60)} awb {awb} [{code}]"
                f" {log_safe(result, 300)}")

    @staticmethod
    async def _send(send: Callable, answer: Answer, *, close: bool = False) -> None:
        body = answer.body
        headers = [*_JSON, (b"content-length", str(len(body)).encode()),
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
