"""``--timeout`` bounds one attempt's whole answer, and answers are read up to 1 MiB
(docs/conventions.md, HTTP behaviour).

Proven over raw sockets on 127.0.0.1: servers that trickle an answer a byte at a time (after
the headers, or inside them), one whose answer never ends, and ones that answer exactly the
limit and one byte more; through ``shipctl.http.send`` and through the real CLI.
"""

from __future__ import annotations

import os
import re
import socket
import subprocess
import sys
import threading
import time

import pytest
from conftest import SAMPLES, audit

from shipctl.http import Call, HttpOptions, make_session, send

MIB = 1024 * 1024
HEAD_200 = b"HTTP/1.1 200 OK\r\nContent-Type: application/json\r\n"


class RawServer:
    """A loopback server that answers each request with ``answer(sock)``, one thread per
    connection. ``answer`` returns True to keep the connection open for the next request.

    Records how many connections were accepted and how each one ended: ``"dropped"`` when
    the client closed it while the server was still sending.
    """

    def __init__(self, answer):
        self.answer = answer
        self.connections = 0
        self.endings: list[str] = []
        self.stopping = threading.Event()
        self.listener = socket.create_server(("127.0.0.1", 0))
        self.port = self.listener.getsockname()[1]
        self.url = f"http://127.0.0.1:{self.port}/eweApi/ewe/api"
        self.where = f"127.0.0.1:{self.port}"
        threading.Thread(target=self._accept, daemon=True).start()

    def _accept(self):
        while not self.stopping.is_set():
            try:
                conn, _ = self.listener.accept()
            except OSError:
                return
            self.connections += 1
            threading.Thread(target=self._serve, args=(conn,), daemon=True).start()

    def _serve(self, conn: socket.socket):
        ending = "closed by the server"
        try:
            with conn:
                while _read_request(conn) and self.answer(conn, self.stopping):
                    pass
        except OSError:  # BrokenPipe / ConnectionReset: the client hung up mid-answer
            ending = "dropped"
        self.endings.append(ending)

    def __enter__(self):
        return self

    def __exit__(self, *exc):
        self.stopping.set()
        self.listener.close()


def _read_request(conn: socket.socket) -> bool:
    data = b""
    while b"\r\n\r\n" not in data:
        piece = conn.recv(65536)
        if not piece:
            return False
        data += piece
    head, _, body = data.partition(b"\r\n\r\n")
    length = re.search(rb"(?im)^content-length:\s*(\d+)", head)
    remaining = int(length.group(1)) - len(body) if length else 0
    while remaining > 0:
        piece = conn.recv(remaining)
        if not piece:
            return False
        remaining -= len(piece)
    return True


def trickle_body(conn, stopping, every=0.3):
    """Headers at once, then the body one byte at a time, each well inside any timeout."""
    conn.sendall(HEAD_200 + b"Content-Length: 100000\r\n\r\n")
    while not stopping.wait(every):
        conn.sendall(b" ")
    return False


def trickle_headers(conn, stopping, every=0.3):
    """The status line and headers one byte at a time."""
    for byte in HEAD_200 + b"Content-Length: 2\r\n\r\n{}":
        if stopping.wait(every):
            break
        conn.sendall(bytes([byte]))
    return False


def endless(conn, stopping):
    """A chunked 200 answer that does not end: 64 KiB chunks, until 512 MiB (so a client that
    regressed fails the test instead of eating the machine's memory)."""
    conn.sendall(HEAD_200 + b"Transfer-Encoding: chunked\r\n\r\n")
    chunk = b"10000\r\n" + b"x" * 0x10000 + b"\r\n"
    for _ in range(512 * 16):
        if stopping.is_set():
            return False
        conn.sendall(chunk)
    conn.sendall(b"0\r\n\r\n")
    return True


def sized(size: int, *, chunked: bool):
    body = b"[" + b" " * (size - 2) + b"]"  # valid JSON of exactly `size` bytes

    def answer(conn, stopping):
        if chunked:  # in pieces, so the limit is crossed in the middle of a read
            conn.sendall(HEAD_200 + b"Transfer-Encoding: chunked\r\n\r\n")
            for start in range(0, size, 100_000):
                piece = body[start:start + 100_000]
                conn.sendall(b"%x\r\n%s\r\n" % (len(piece), piece))
            conn.sendall(b"0\r\n\r\n")
        else:
            conn.sendall(HEAD_200 + b"Content-Length: %d\r\n\r\n" % size + body)
        return True

    return answer


def fast(**overrides) -> HttpOptions:
    return HttpOptions(**{"backoff_base": 0.01, "backoff_max": 0.02, **overrides})


def post(url: str) -> Call:
    return Call("POST", url, {"Content-Type": "application/json"}, b'{"referenceNo": "R1"}')


def wait_for(condition, seconds: float = 5.0) -> bool:
    end = time.monotonic() + seconds
    while time.monotonic() < end:
        if condition():
            return True
        time.sleep(0.02)
    return condition()


# -- shipctl.http.send ----------------------------------------------------------------------


@pytest.mark.timeout(30)
def test_a_trickled_body_is_cut_at_the_timeout_and_retried():
    with RawServer(trickle_body) as server:
        options = fast(timeout=1, retries=1)
        started = time.monotonic()
        delivery = send(make_session(options), post(server.url), options)
        took = time.monotonic() - started

    assert delivery.response is None and delivery.attempts == 2
    received = re.fullmatch(
        rf"no complete answer from {server.where} within --timeout 1 s "
        r"\(HTTP 200, (\d+) bytes received\)",
        delivery.error,
    )
    assert received, delivery.error
    headers = len(HEAD_200 + b"Content-Length: 100000\r\n\r\n")
    assert headers + 1 <= int(received.group(1)) <= headers + 4  # a byte every 0.3 s
    assert 2 <= took < 3.5  # two attempts of one second, not 100000 x 0.3 s


@pytest.mark.timeout(30)
def test_trickled_headers_are_cut_at_the_timeout_too():
    with RawServer(trickle_headers) as server:
        options = fast(timeout=1, retries=0)
        started = time.monotonic()
        delivery = send(make_session(options), post(server.url), options)
        took = time.monotonic() - started

    assert delivery.response is None and delivery.attempts == 1
    assert re.fullmatch(rf"timed out after 1 s waiting for {server.where} to answer "
                        r"\(\d bytes of its headers came\)", delivery.error), delivery.error
    assert 1 <= took < 2


@pytest.mark.timeout(60)
def test_an_endless_answer_fails_at_1_mib_at_once_and_the_connection_is_dropped():
    log: list[str] = []
    with RawServer(endless) as server:
        options = fast(retries=3, debug=True)
        started = time.monotonic()
        delivery = send(make_session(options), post(server.url), options, log=log.append)
        took = time.monotonic() - started
        assert wait_for(lambda: server.endings == ["dropped"]), server.endings

    assert delivery.response is None
    assert delivery.attempts == 1  # definite: the same request would get the same answer
    assert delivery.error == (
        f"answer from {server.where} (HTTP 200) larger than 1 MiB: not read further"
    )
    assert took < 5
    text = "\n".join(log)
    assert "< 200 OK\n< Content-Type: application/json\n< Transfer-Encoding: chunked" in text
    assert text.endswith(f"! {delivery.error}")


@pytest.mark.timeout(60)
@pytest.mark.parametrize("chunked", [False, True], ids=["content-length", "chunked"])
def test_an_answer_of_exactly_1_mib_is_read_and_one_byte_more_is_not(chunked):
    with RawServer(sized(MIB, chunked=chunked)) as server:
        delivery = send(make_session(fast()), post(server.url), fast())
    assert delivery.error is None
    assert len(delivery.response.content) == MIB
    assert delivery.response.json() == []

    with RawServer(sized(MIB + 1, chunked=chunked)) as server:
        delivery = send(make_session(fast()), post(server.url), fast())
    assert delivery.response is None and delivery.attempts == 1
    assert delivery.error == (
        f"answer from {server.where} (HTTP 200) larger than 1 MiB: not read further"
    )


@pytest.mark.timeout(30)
def test_normal_answers_read_fully_and_keep_the_connection_for_the_next_request():
    with RawServer(sized(200_000, chunked=True)) as server:
        options = fast()
        session = make_session(options)
        answers = [send(session, post(server.url), options) for _ in range(3)]

    assert [len(d.response.content) for d in answers] == [200_000] * 3
    assert all(d.response.json() == [] and d.attempts == 1 for d in answers)
    assert server.connections == 1


@pytest.mark.timeout(30)
def test_after_a_too_large_answer_the_next_request_gets_a_fresh_connection():
    sizes = iter([8 * MIB, 10])  # the client stops reading the first one halfway

    def answer(conn, stopping):
        return sized(next(sizes), chunked=False)(conn, stopping)

    with RawServer(answer) as server:
        options = fast()
        session = make_session(options)
        first = send(session, post(server.url), options)
        second = send(session, post(server.url), options)

    assert first.error is not None and "larger than 1 MiB" in first.error
    assert second.error is None and second.response.content == b"[        ]"
    assert server.connections == 2
    # the server learns of the drop when its sendall() fails: on a loaded machine, a moment later
    assert wait_for(lambda: server.endings[:1] == ["dropped"]), server.endings


# -- the real CLI ---------------------------------------------------------------------------


def ewe_env(server: RawServer) -> dict[str, str]:
    return {**os.environ, "SHIPCTL_EWE_URL": server.url, "SHIPCTL_EWE_USERNAME": "test",
            "SHIPCTL_EWE_PASSWORD": "limits-test-password"}


def run_measured(args: list[str], env: dict[str, str], limit: float = 60):
    """Run the CLI; returns (exit code, stderr, seconds, peak RSS in bytes of that process)."""
    started = time.monotonic()
    proc = subprocess.Popen([sys.executable, "-m", "shipctl", *args], env=env,
                            stdin=subprocess.DEVNULL, stdout=subprocess.PIPE,
                            stderr=subprocess.PIPE)
    output: dict[str, bytes] = {}
    readers = [threading.Thread(target=lambda name=name: output.__setitem__(
        name, getattr(proc, name).read()), daemon=True) for name in ("stdout", "stderr")]
    for reader in readers:
        reader.start()
    # The child's own high-water mark (VmHWM), read while it runs: wait4's ru_maxrss would
    # also count the pages it shared with this (pytest, possibly hundreds of MB) process
    # before exec, as Linux carries the old mm's peak over exec.
    peak = 0
    try:
        while True:
            peak = max(peak, _vm_hwm(proc.pid))
            pid, status, _usage = os.wait4(proc.pid, os.WNOHANG)
            if pid:
                break
            if time.monotonic() - started > limit:
                pytest.fail(f"shipctl {' '.join(args)} still running after {limit} s")
            time.sleep(0.01)
    except BaseException:  # the limit, or pytest-timeout: leave no process behind
        proc.kill()
        proc.wait()
        raise
    took = time.monotonic() - started
    proc.returncode = os.waitstatus_to_exitcode(status)
    for reader in readers:
        reader.join(10)
    err = output.get("stderr", b"").decode("utf-8", "replace")
    audit(output.get("stdout", b""), err)
    assert peak, "the process ended before its memory could be read"
    return proc.returncode, err, took, peak


def _vm_hwm(pid: int) -> int:
    """Peak resident memory of a running process in bytes (0 once it is gone)."""
    try:
        with open(f"/proc/{pid}/status", encoding="ascii") as status:
            for line in status:
                if line.startswith("VmHWM:"):
                    return int(line.split()[1]) * 1024
    except (OSError, ValueError):
        pass
    return 0


@pytest.mark.timeout(60)
def test_cli_a_trickling_server_fails_the_item_within_the_timeout():
    with RawServer(trickle_body) as server:
        code, err, took, _ = run_measured(
            ["ewe", "modify", str(SAMPLES / "ewe" / "modify.json"), "--timeout", "2",
             "--retries", "1"], ewe_env(server))

    assert code == 1, err
    assert f"no complete answer from {server.where} within --timeout 2 s" in err
    assert took < 9  # two attempts of 2 s, a back-off and start-up; not "forever"


@pytest.mark.timeout(90)
def test_cli_an_endless_answer_fails_the_item_and_memory_stays_flat():
    with RawServer(endless) as server:
        code, err, took, peak = run_measured(
            ["ewe", "modify", str(SAMPLES / "ewe" / "modify.json")], ewe_env(server))
        assert wait_for(lambda: "dropped" in server.endings, 20), server.endings

    assert code == 1, err
    assert f"answer from {server.where} (HTTP 200) larger than 1 MiB: not read further" in err
    assert peak < 200 * MIB, f"peak RSS {peak / MIB:.0f} MiB"
    assert server.connections == 1  # not retried
