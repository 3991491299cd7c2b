"""A request that got no response: whether it may be retried, whether it may have arrived,
and how to say what went wrong in one line."""

from __future__ import annotations

import http.client
import socket
import ssl
from typing import Any
from urllib.parse import urlsplit

import requests

from shipctl.http.answer import AnswerTimeout, AnswerTooLarge, DeadlinePassed
from shipctl.http.options import TIMEOUT_MAX, HttpOptions


def is_retriable(exc: BaseException) -> bool:
    """Worth another attempt: the connection failed, broke off or timed out.

    Not an answer too large to read (``AnswerTooLarge``): the same request gets the same.
    TLS problems and malformed URLs are definite: retrying cannot change them.

    Timeouts and broken connections are retried although the server may have acted on the
    request: that is safe only for an idempotent call (``Call.idempotent``: modifyShipment
    writes the same addresses again; an Ecom push repeats the status_update_number that
    identifies the scan). For any other call ``retry.RetryPolicy`` first asks
    ``may_have_arrived`` and returns such a failure as ambiguous instead.
    """
    return isinstance(
        exc, (requests.ConnectionError, requests.Timeout, requests.exceptions.ChunkedEncodingError)
    ) and not isinstance(exc, requests.exceptions.SSLError)


def may_have_arrived(exc: BaseException) -> bool:
    """The request may have reached the server before ``exc``: only a failure to connect at
    all (refused, the connect timeout, a name that does not resolve, TLS refused in the
    handshake) or a request that could not even be built proves that it did not.

    For a call that is not idempotent this decides between "send again" and "verify": a read
    timeout or a reset after sending is ambiguous, the server may have acted on it.
    """
    if isinstance(exc, (requests.exceptions.ConnectTimeout,
                        requests.exceptions.InvalidHeader, requests.exceptions.InvalidURL,
                        requests.exceptions.InvalidSchema,
                        requests.exceptions.MissingSchema)):
        return False
    if not isinstance(exc, requests.RequestException):  # ValueError/OverflowError: not sent
        return False
    chain = _exception_chain(exc)
    if isinstance(exc, requests.exceptions.SSLError):
        # A TLS error in the handshake comes before the request; one while the answer is
        # read (a bad record, an alert) comes after it was written: the server may have it.
        return _tls_after_handshake(chain)
    if _find(chain, ConnectionRefusedError) is not None or _find(chain, socket.gaierror):
        return False
    names = {type(e).__name__ for e in chain}
    # urllib3's "failed to establish a new connection" (and name resolution): nothing sent
    return not names & {"NewConnectionError", "NameResolutionError"}


def _tls_after_handshake(chain: list[BaseException]) -> bool:
    """The TLS error of CHAIN was raised on an established connection (reading the answer or
    writing the request), not in the handshake: a certificate that does not verify, or an
    error raised inside ``do_handshake``, is the handshake's."""
    for error in chain:
        if isinstance(error, ssl.SSLCertVerificationError):
            return False
        if isinstance(error, ssl.SSLError):
            tb = error.__traceback__
            while tb is not None:
                if tb.tb_frame.f_code.co_name == "do_handshake":
                    return False
                tb = tb.tb_next
            return True
    return False


def describe_error(exc: BaseException, url: str, options: HttpOptions) -> str:
    """One plain line for a request that got no response: no traceback, no object reprs."""
    try:
        parts = urlsplit(url)
        host = parts.hostname or "?"
        port: int | str = parts.port or (443 if parts.scheme == "https" else 80)
    except ValueError:
        return f"invalid URL {url}"
    where = f"{host}:{port}"
    if isinstance(exc, (ValueError, OverflowError)) and _is_timeout_error(exc):
        return (
            f"invalid timeout (connect {options.connect_timeout:g} s, read {options.timeout:g} s):"
            f" each must be more than 0 and at most {TIMEOUT_MAX:g} s"
        )
    if isinstance(exc, requests.exceptions.ConnectTimeout):
        return f"connection to {where} timed out after {options.connect_timeout:g} s"
    if isinstance(exc, AnswerTimeout):
        received = "" if exc.received is None else f", {exc.received} bytes received"
        return (
            f"no complete answer from {where} within --timeout {options.timeout:g} s "
            f"(HTTP {exc.status}{received})"
        )
    if isinstance(exc, AnswerTooLarge):
        return (
            f"answer from {where} (HTTP {exc.status}) larger than {_size(exc.limit)}: "
            "not read further"
        )
    if isinstance(exc, requests.Timeout):  # not even the headers within --timeout
        partial = _find(_exception_chain(exc), DeadlinePassed)
        received = getattr(partial, "received", 0)
        return f"timed out after {options.timeout:g} s waiting for {where} to answer" + (
            f" ({received} bytes of its headers came)" if received else ""
        )
    chain = _exception_chain(exc)
    if isinstance(exc, requests.exceptions.SSLError):
        return _describe_tls_error(chain, where)
    connection = _describe_connection_error(exc, chain, where, host)
    if connection is not None:
        return connection
    if isinstance(exc, requests.exceptions.InvalidHeader):
        # requests' own message quotes the value, which may be a credential.
        return "invalid header value in the request (a line break or leading space in it?)"
    if isinstance(exc, (requests.exceptions.InvalidSchema, requests.exceptions.MissingSchema)):
        return f"invalid URL {url}: it must start with https:// (or http://)"
    if isinstance(exc, (requests.exceptions.InvalidURL, ValueError)):
        return f"invalid URL {url}"
    os_error = next((e for e in chain if isinstance(e, OSError) and e.strerror), None)
    if os_error is not None:
        return f"connection to {where} failed: {os_error.strerror.lower()}"
    if isinstance(exc, requests.ConnectionError):
        return f"connection to {where} failed"
    return f"request to {where} failed ({type(exc).__name__})"


def _size(limit: int) -> str:
    mib = limit / (1024 * 1024)
    return f"{mib:g} MiB" if mib >= 1 else f"{limit} bytes"


def _describe_tls_error(chain: list[BaseException], where: str) -> str:
    verify = _find(chain, ssl.SSLCertVerificationError)
    if verify is not None:
        detail = getattr(verify, "verify_message", None) or "certificate verify failed"
        return (
            f"TLS certificate verification failed for {where}: {detail}"
            " (--ca-bundle FILE adds a CA)"
        )
    ssl_error = _find(chain, ssl.SSLError)
    detail = getattr(ssl_error, "reason", None) or "handshake failed"
    return f"TLS error with {where}: {str(detail).lower().replace('_', ' ')}"


def _describe_connection_error(
    exc: BaseException, chain: list[BaseException], where: str, host: str
) -> str | None:
    """The line for a refused, closed, reset, broken-off or unresolvable connection."""
    if _find(chain, ConnectionRefusedError) is not None:
        return f"connection refused by {where}"
    # Before ConnectionResetError: RemoteDisconnected is a subclass of it.
    if _find(chain, http.client.RemoteDisconnected) is not None:
        return f"connection closed by {where} without a response"
    if _find(chain, ConnectionResetError) is not None:
        return f"connection reset by {where}"
    if isinstance(exc, requests.exceptions.ChunkedEncodingError):
        return f"connection to {where} broke off in the middle of the response"
    if _find(chain, socket.gaierror) is not None or "NameResolutionError" in {
        type(e).__name__ for e in chain
    }:
        return f"cannot resolve host name {host}"
    return None


def _find(chain: list[BaseException], kind: type[BaseException]) -> BaseException | None:
    return next((e for e in chain if isinstance(e, kind)), None)


def _is_timeout_error(exc: BaseException) -> bool:
    """A timeout the libraries refused, not a URL: requests' "Invalid timeout (0, 30)...",
    urllib3's own checks, or the socket layer's overflow of a huge value."""
    if isinstance(exc, OverflowError):
        return True
    text = str(exc)
    return text.startswith(("Invalid timeout", "Timeout value", "Attempted to set"))


def _exception_chain(exc: BaseException) -> list[BaseException]:
    """The exception, its causes/contexts, and the urllib3 errors requests wraps in args."""
    seen: list[BaseException] = []
    todo: list[Any] = [exc]
    while todo and len(seen) < 50:
        item = todo.pop(0)
        if not isinstance(item, BaseException) or any(item is s for s in seen):
            continue
        seen.append(item)
        todo.extend([item.__cause__, item.__context__, getattr(item, "reason", None)])
        todo.extend(item.args)
    return seen
