"""A call that is not idempotent (``Call.idempotent=False``: a Fynd transition) is never sent
again after it may have reached the server: what a loopback server received is counted."""

from __future__ import annotations

import socket
import ssl
import struct
import threading

import pytest
import requests
from factories import say_nothing

from shipctl.http import Call, HttpOptions, make_session, send
from shipctl.http.retry import RetryPolicy

HEAD = b"HTTP/1.1 %d X\r\nContent-Length: %d\r\nConnection: close\r\n%s\r\n"


class Server:
    """Answers the Nth request with ``answers[N]`` (the last one repeats): a status with
    optional headers, "stall" (read the request, say nothing until the client hangs up) or
    "reset" (read the request, then reset the connection). Counts the requests it read."""

    def __init__(self, *answers):
        self.answers = answers
        self.requests = 0
        self.lock = threading.Lock()
        self.listener = socket.create_server(("127.0.0.1", 0))
        self.url = f"http://127.0.0.1:{self.listener.getsockname()[1]}/apply"
        threading.Thread(target=self._accept, daemon=True).start()

    def _accept(self):
        while True:
            try:
                conn, _ = self.listener.accept()
            except OSError:
                return
            threading.Thread(target=self._serve, args=(conn,), daemon=True).start()

    def _serve(self, conn):
        with conn:
            data = b""
            while b"\r\n\r\n" not in data:
                piece = conn.recv(65536)
                if not piece:
                    return
                data += piece
            with self.lock:
                answer = self.answers[min(self.requests, len(self.answers) - 1)]
                self.requests += 1
            if answer == "stall":
                say_nothing(conn)
            elif answer == "reset":
                conn.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, struct.pack("ii", 1, 0))
            else:
                status, headers = answer if isinstance(answer, tuple) else (answer, {})
                extra = b"".join(f"{k}: {v}\r\n".encode() for k, v in headers.items())
                conn.sendall(HEAD % (status, 2, extra) + b"{}")

    def close(self):
        self.listener.close()


def deliver(server: Server, *, idempotent: bool, retries: int = 3):
    options = HttpOptions(timeout=0.5, connect_timeout=0.5, retries=retries, backoff_base=0.0)
    call = Call("PUT", server.url, {"Content-Type": "application/json"}, b"{}",
                idempotent=idempotent)
    return send(make_session(options), call, options)


@pytest.mark.timeout(30)
@pytest.mark.parametrize(
    ("answers", "requests_seen", "status"),
    [
        (("stall",), 1, None),  # read timeout: applied and the answer lost?
        (("reset",), 1, None),  # reset after the request was written
        ((502,), 1, 502),
        ((504,), 1, 504),
        ((503,), 1, 503),  # no Retry-After: the gateway may have passed it on
    ],
    ids=["read-timeout", "reset-after-sending", "502", "504", "503-without-retry-after"],
)
def test_an_ambiguous_failure_is_not_sent_again(answers, requests_seen, status):
    server = Server(*answers)
    try:
        delivery = deliver(server, idempotent=False)
    finally:
        server.close()
    assert server.requests == requests_seen
    assert delivery.ambiguous and delivery.attempts == 1
    if status is None:
        assert delivery.response is None and delivery.error
    else:
        assert delivery.response.status_code == status


@pytest.mark.timeout(30)
@pytest.mark.parametrize(
    "first",
    [(429, {}), (503, {"Retry-After": "0"})],
    ids=["429", "503-with-retry-after"],
)
def test_a_safe_failure_is_retried_and_then_succeeds(first):
    server = Server(first, 200)
    try:
        delivery = deliver(server, idempotent=False)
    finally:
        server.close()
    assert server.requests == 2
    assert not delivery.ambiguous and delivery.response.status_code == 200


@pytest.mark.timeout(30)
def test_a_refused_connection_is_retried_and_is_not_ambiguous():
    with socket.socket() as probe:  # a port with nobody listening
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
    options = HttpOptions(timeout=0.5, connect_timeout=0.5, retries=2, backoff_base=0.0)
    call = Call("PUT", f"http://127.0.0.1:{port}/apply", {}, b"{}", idempotent=False)
    delivery = send(make_session(options), call, options)
    assert delivery.attempts == 3 and not delivery.ambiguous
    assert delivery.error == f"connection refused by 127.0.0.1:{port}"


@pytest.mark.timeout(30)
def test_an_idempotent_call_keeps_its_retries():
    server = Server("stall", 502, 200)
    try:
        delivery = deliver(server, idempotent=True)
    finally:
        server.close()
    assert server.requests == 3
    assert not delivery.ambiguous and delivery.response.status_code == 200


def test_the_policy_calls_a_connect_timeout_safe_and_a_read_timeout_final():
    from shipctl.http.retry import Attempt

    policy = RetryPolicy.from_options(HttpOptions())
    connect = Attempt(error="x", exception=requests.exceptions.ConnectTimeout("x"))
    read = Attempt(error="x", exception=requests.exceptions.ReadTimeout("x"))
    assert policy.reason(connect, idempotent=False) == "x"
    assert policy.reason(read, idempotent=False) is None
    assert policy.reason(read, idempotent=True) == "x"


@pytest.mark.timeout(30)
@pytest.mark.parametrize("after", [True, False], ids=["answer-corrupted", "handshake-refused"])
def test_a_tls_error_after_the_request_was_read_is_ambiguous(tmp_path, after):
    """A TLS error while the answer is read comes after the server read the request (it may
    have applied it): not a "TLS refused" that proves nothing arrived. One in the handshake
    still proves it, and a certificate that does not verify too."""
    from test_http import TEST_CA_PEM, _tls_context

    context = _tls_context(tmp_path)
    context.maximum_version = ssl.TLSVersion.TLSv1_2  # no session tickets after the request
    ca = tmp_path / "ca.pem"
    ca.write_text(TEST_CA_PEM)
    listener = socket.create_server(("127.0.0.1", 0))
    read = []

    def serve():
        raw, _ = listener.accept()
        if not after:  # not TLS: the handshake fails before anything is written
            raw.recv(1024)
            raw.sendall(b"HTTP/1.1 400 Bad Request\r\n\r\n")
            raw.close()
            return
        conn = context.wrap_socket(raw, server_side=True)
        data = b""
        while b"\r\n\r\n" not in data:
            data += conn.recv(65536)
        read.append(data)
        plain = socket.socket(fileno=conn.detach())  # a record that does not decrypt
        plain.sendall(b"\x17\x03\x03\x00\x20" + b"\x00" * 32)
        plain.settimeout(10)
        try:
            plain.recv(1)  # open until the client gives up: its error is the record's
        except OSError:
            pass
        plain.close()

    threading.Thread(target=serve, daemon=True).start()
    options = HttpOptions(timeout=2, connect_timeout=2, retries=3, backoff_base=0.0,
                          ca_bundle=ca)
    url = f"https://127.0.0.1:{listener.getsockname()[1]}/apply"
    try:
        delivery = send(make_session(options), Call("PUT", url, {}, b"{}", idempotent=False),
                        options)
    finally:
        listener.close()
    assert delivery.attempts == 1 and delivery.response is None
    assert delivery.error.startswith("TLS error with 127.0.0.1:")
    assert delivery.ambiguous is after
    assert len(read) == (1 if after else 0)
