"""Reading an answer within bounds: ``--timeout`` for all of it, at most 1 MiB
(docs/conventions.md, HTTP behaviour).

``--timeout`` bounds one attempt's whole answer, from sending the request to the answer's
last byte, not each socket read: a server that sends its headers and then one byte a second
would otherwise hold a run for ever, each read well inside a per-read timeout. The session's
connections (``Adapter``) give every answer a deadline, the connection's read timeout after
the request went out, and each socket read waits only for what is left of it; past the
deadline, the read fails as a read timeout, whether the headers or the body were coming.

``read_answer`` reads the body as a stream and stops past ``ANSWER_LIMIT``: an endless answer
cannot grow the process. Either way the response is closed without reading on, and its
connection is closed, not handed to the next request.
"""

from __future__ import annotations

import functools
import http.client
import io
import socket
import time
from typing import Any

import requests
import urllib3.connection
import urllib3.connectionpool
import urllib3.poolmanager
from requests.adapters import HTTPAdapter
from urllib3.exceptions import ReadTimeoutError

# Generous for these APIs (their answers are a few hundred bytes to a few KiB).
ANSWER_LIMIT = 1024 * 1024
_CHUNK = 64 * 1024


class AnswerTooLarge(requests.RequestException):
    """The answer went past ``limit`` bytes: definite, retrying would get the same."""

    def __init__(self, limit: int, status: int) -> None:
        super().__init__(f"answer larger than {limit} bytes")
        self.limit = limit
        self.status = status


class AnswerTimeout(requests.Timeout):
    """The headers came but the rest of the answer did not within --timeout: transient.

    ``received``: the bytes of the answer that came, headers included (None: not known).
    """

    def __init__(self, received: int | None, status: int) -> None:
        super().__init__(f"no complete answer: {received} bytes received")
        self.received = received
        self.status = status


class DeadlinePassed(TimeoutError):
    """A socket read past an answer's deadline, after ``received`` bytes of the answer.

    A TimeoutError, so urllib3 reports it as its read timeout (the cause of that error)."""

    def __init__(self, received: int) -> None:
        super().__init__(f"timed out after {received} bytes")
        self.received = received


def read_answer(response: requests.Response, limit: int = ANSWER_LIMIT) -> None:
    """Read a ``stream=True`` response's body into ``response.content``, up to ``limit``.

    Raises AnswerTooLarge past ``limit``, AnswerTimeout when the deadline passes (see the
    module docstring), and requests' own errors for a body that breaks off; in all three the
    response is closed and its connection dropped, and ``response.content`` is never set.
    """
    chunks: list[bytes] = []
    size = 0
    try:
        try:
            for chunk in response.iter_content(_CHUNK):
                size += len(chunk)
                if size > limit:
                    raise AnswerTooLarge(limit, response.status_code)
                chunks.append(chunk)
        except requests.ConnectionError as exc:  # requests' wrapping of a read timeout
            timeout = exc.args[0] if exc.args else None
            if isinstance(timeout, ReadTimeoutError):
                cause = timeout.__cause__
                received = cause.received if isinstance(cause, DeadlinePassed) else None
                raise AnswerTimeout(received, response.status_code) from exc
            raise
    except BaseException:
        # Closes the socket: the connection goes back to the pool closed, never mid-answer.
        response.close()
        raise
    response._content = b"".join(chunks)


# -- the deadline ---------------------------------------------------------------------------


class _DeadlineReader(io.RawIOBase):
    """A socket reader whose every read waits at most until ``deadline`` (time.monotonic)."""

    def __init__(self, raw: Any, sock: socket.socket, deadline: float) -> None:
        self._raw, self._sock, self._deadline = raw, sock, deadline
        self._received = 0

    def readable(self) -> bool:
        return True

    def readinto(self, buffer: Any) -> int | None:
        try:
            remaining = self._deadline - time.monotonic()
            if remaining <= 0:
                raise TimeoutError
            self._sock.settimeout(remaining)  # so this read cannot outlast the deadline
            count = self._raw.readinto(buffer)
        except TimeoutError:
            raise DeadlinePassed(self._received) from None
        self._received += count or 0
        return count

    def fileno(self) -> int:
        return self._raw.fileno()

    def close(self) -> None:
        if not self.closed:
            self._raw.close()
        super().close()


class _BoundedResponse(http.client.HTTPResponse):
    """http.client's response, reading its socket through a _DeadlineReader."""

    def __init__(self, sock: socket.socket, debuglevel: int = 0, method: str | None = None,
                 url: str | None = None, *, deadline: float) -> None:
        super().__init__(sock, debuglevel, method, url)
        raw = self.fp.detach()  # the SocketIO of sock.makefile("rb"), kept open
        self.fp = io.BufferedReader(_DeadlineReader(raw, sock, deadline))


class _WholeAnswer:
    """Connection mixin: the read timeout bounds the whole answer, counted from sending.

    The clock starts when the request starts going out on a connected socket (after the
    connect timeout's part), so a slow connect does not eat into --timeout.
    """

    timeout: Any
    _sent_at: float

    def connect(self) -> None:
        super().connect()  # type: ignore[misc]
        self._sent_at = time.monotonic()

    def request(self, *args: Any, **kwargs: Any) -> None:
        # On a connected socket the request goes out now; on a new one connect() resets it.
        self._sent_at = time.monotonic()
        super().request(*args, **kwargs)  # type: ignore[misc]

    def getresponse(self) -> Any:
        budget = self.timeout
        if isinstance(budget, bool) or not isinstance(budget, (int, float)):
            return super().getresponse()  # type: ignore[misc]  # no timeout: nothing to bound
        sent_at = getattr(self, "_sent_at", None) or time.monotonic()
        # Per answer, not per connection: a proxy's CONNECT answer uses the class default.
        self.response_class = functools.partial(_BoundedResponse, deadline=sent_at + budget)
        try:
            return super().getresponse()  # type: ignore[misc]
        finally:
            del self.response_class


class _HTTPConnection(_WholeAnswer, urllib3.connection.HTTPConnection):
    pass


class _HTTPSConnection(_WholeAnswer, urllib3.connection.HTTPSConnection):
    pass


class _HTTPPool(urllib3.connectionpool.HTTPConnectionPool):
    ConnectionCls = _HTTPConnection


class _HTTPSPool(urllib3.connectionpool.HTTPSConnectionPool):
    ConnectionCls = _HTTPSConnection


_POOLS = {"http": _HTTPPool, "https": _HTTPSPool}


class Adapter(HTTPAdapter):
    """requests' adapter whose connections bound the whole answer by the read timeout.

    Through an HTTP(S) proxy too; a SOCKS proxy's own connections keep per-read timeouts.
    """

    def init_poolmanager(self, *args: Any, **kwargs: Any) -> None:
        super().init_poolmanager(*args, **kwargs)
        self.poolmanager.pool_classes_by_scheme = _POOLS

    def proxy_manager_for(self, proxy: str, **proxy_kwargs: Any) -> Any:
        manager = super().proxy_manager_for(proxy, **proxy_kwargs)
        if manager.pool_classes_by_scheme is urllib3.poolmanager.pool_classes_by_scheme:
            manager.pool_classes_by_scheme = _POOLS
        return manager
