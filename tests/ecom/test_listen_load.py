"""`ecom listen` under load: 200 connections at once, slow clients, and kill -9 mid-load."""

from __future__ import annotations

import http.client
import json
import re
import signal
import socket
import sqlite3
import threading
import time

import pytest
from factories import ecom_scan

from ecom.test_listen import PASSWORD, USER, Listener, basic

CONNECTIONS = 200
PER_CONNECTION = 4


@pytest.fixture
def running(tmp_path):
    listener = Listener(tmp_path / "load.sqlite3")
    yield listener
    if listener.proc.poll() is None:
        listener.proc.kill()
        listener.proc.wait()


def post(connection: http.client.HTTPConnection, number: str, awb: str) -> int:
    body = json.dumps(ecom_scan(number=number, awb=awb)).encode()
    connection.request("POST", "/", body=body, headers={
        "Authorization": basic(), "Content-Type": "application/json"})
    answer = connection.getresponse()
    document = json.loads(answer.read())
    assert document["status"] is (answer.status == 200)
    return answer.status


def stored_numbers(path) -> list[str]:
    connection = sqlite3.connect(path)
    try:
        return [row[0] for row in connection.execute("SELECT status_update_number FROM pushes")]
    finally:
        connection.close()


@pytest.mark.slow
def test_200_concurrent_connections_every_accepted_push_stored_exactly_once(running):
    barrier = threading.Barrier(CONNECTIONS)
    accepted: list[str] = []
    failures: list[str] = []
    lock = threading.Lock()

    def client(k: int) -> None:
        try:
            connection = http.client.HTTPConnection("127.0.0.1", running.port, timeout=60)
            connection.connect()
            barrier.wait(60)  # every connection open before anyone sends
            for i in range(PER_CONNECTION):
                # every 10th client re-sends another client's numbers: duplicates under load
                number = str(100000 + (k % 190) * PER_CONNECTION + i)
                status = post(connection, number, awb=f"AWB{k % 17}")
                with lock:
                    (accepted if status == 200 else failures).append(number)
            connection.close()
        except Exception as error:  # noqa: BLE001 - reported below
            with lock:
                failures.append(repr(error))

    threads = [threading.Thread(target=client, args=(k,)) for k in range(CONNECTIONS)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(120)
    assert failures == []
    assert len(accepted) == CONNECTIONS * PER_CONNECTION
    assert running.stop() == 0
    numbers = stored_numbers(running.store)
    assert sorted(numbers) == sorted(set(accepted))  # each accepted push once, nothing else
    assert len(numbers) == 190 * PER_CONNECTION
    assert "Traceback" not in running.log


@pytest.mark.slow
def test_kill_9_mid_load_keeps_every_push_that_got_a_200(running):
    acknowledged: list[str] = []
    lock = threading.Lock()
    stop = threading.Event()

    def client(k: int) -> None:
        i = 0
        connection = http.client.HTTPConnection("127.0.0.1", running.port, timeout=30)
        while not stop.is_set():
            number = f"{k}{i:07d}"
            i += 1
            try:
                status = post(connection, number, awb=f"AWB{k}")
            except (OSError, http.client.HTTPException, ValueError):
                return  # the listener is gone: this request got no 200
            if status == 200:
                with lock:
                    acknowledged.append(number)

    threads = [threading.Thread(target=client, args=(k,)) for k in range(1, 33)]
    for thread in threads:
        thread.start()
    deadline = time.monotonic() + 30
    while len(acknowledged) < 300 and time.monotonic() < deadline:
        time.sleep(0.02)
    running.proc.send_signal(signal.SIGKILL)  # mid-load: requests are in flight right now
    running.proc.wait(15)
    stop.set()
    for thread in threads:
        thread.join(30)
    running.stop()
    assert len(acknowledged) >= 300
    stored = set(stored_numbers(running.store))  # opening it recovers the WAL, as SQLite does
    missing = [number for number in acknowledged if number not in stored]
    assert missing == [], f"{len(missing)} pushes answered 200 but not in the store"


@pytest.mark.slow
def test_slow_clients_do_not_hold_up_the_others(running):
    slow = []
    for _ in range(50):  # half a request head each, never finished
        sock = socket.create_connection(("127.0.0.1", running.port), timeout=10)
        sock.sendall(b"POST / HTTP/1.1\r\nHost: 127.0.0.1\r\nContent-Le")
        slow.append(sock)
    trickle = socket.create_connection(("127.0.0.1", running.port), timeout=10)
    body = json.dumps(ecom_scan(number="1")).encode()
    trickle.sendall(f"POST / HTTP/1.1\r\nHost: x\r\nAuthorization: {basic()}\r\n"
                    f"Content-Length: {len(body)}\r\n\r\n".encode() + body[:10])  # body pending
    try:
        connection = http.client.HTTPConnection("127.0.0.1", running.port, timeout=10)
        started = time.monotonic()
        for i in range(20):
            assert post(connection, str(500 + i), awb="FAST") == 200
        assert time.monotonic() - started < 10
    finally:
        for sock in [*slow, trickle]:
            sock.close()
    assert running.stop() == 0


# -- deadlines, with the server embedded in a thread so they can be made short -----------------
@pytest.fixture
def embedded(tmp_path, monkeypatch):
    """`ecom listen` served in a thread of this process, with 0.5 s body and head deadlines."""
    from shipctl.ecom.receive import app, connections, listen

    monkeypatch.setattr(app, "BODY_SECONDS", 0.5)
    monkeypatch.setattr(connections, "HEAD_SECONDS", 0.5)
    lines: list[str] = []
    stopping = threading.Event()
    codes: list[int] = []
    thread = threading.Thread(target=lambda: codes.append(listen.serve(
        host="127.0.0.1", port=0, path="/", store_path=str(tmp_path / "e.sqlite3"),
        username=USER, password=PASSWORD, forward_to=None, log=lines.append, warn=lines.append,
        stopping=stopping)), daemon=True)
    thread.start()
    deadline = time.monotonic() + 15
    while not any("receiving pushes at" in line for line in lines):
        assert time.monotonic() < deadline, lines
        time.sleep(0.02)
    port = int(re.search(r"127\.0\.0\.1:(\d+)/", lines[0]).group(1))
    yield port, lines
    stopping.set()
    thread.join(15)
    assert codes == [0]


def test_a_body_that_does_not_arrive_in_time_is_408(embedded):
    port, lines = embedded
    with socket.create_connection(("127.0.0.1", port), timeout=10) as sock:
        sock.sendall(f"POST / HTTP/1.1\r\nHost: x\r\nAuthorization: {basic()}\r\n"
                     f"Content-Length: 500\r\n\r\n{{\"awb\"".encode())
        answer = http.client.HTTPResponse(sock)
        answer.begin()
        assert answer.status == 408
        assert json.loads(answer.read())["status"] is False
        assert sock.recv(10) == b""  # and the connection is closed


def test_a_request_head_that_trickles_is_cut_off(embedded):
    port, _ = embedded
    with socket.create_connection(("127.0.0.1", port), timeout=10) as sock:
        started = time.monotonic()
        try:
            for byte in b"POST / HTTP/1.1\r\nHost: 127.0.0.1\r\nX-Slow: " + b"a" * 100:
                sock.sendall(bytes([byte]))
                time.sleep(0.05)
            closed = sock.recv(10) == b""
        except OSError:  # reset while still sending: cut off as well
            closed = True
    assert closed and time.monotonic() - started < 5.5  # 101 bytes would take 5 s


def test_an_idle_connection_before_any_request_is_closed(embedded):
    port, _ = embedded
    with socket.create_connection(("127.0.0.1", port), timeout=10) as sock:
        assert sock.recv(10) == b""  # closed by the server after HEAD_SECONDS of silence


def test_a_push_that_cannot_be_committed_is_503_never_200(tmp_path, monkeypatch):
    from shipctl.ecom.receive import listen
    from shipctl.ecom.receive.store import Store, StoreError

    def broken(self, batch):
        for _push, future in batch:
            future.set_exception(StoreError("disk I/O error"))

    monkeypatch.setattr(Store, "_commit", broken)
    lines: list[str] = []
    stopping = threading.Event()
    thread = threading.Thread(target=listen.serve, kwargs=dict(
        host="127.0.0.1", port=0, path="/", store_path=str(tmp_path / "e.sqlite3"),
        username=USER, password=PASSWORD, forward_to=None, log=lines.append, warn=lines.append,
        stopping=stopping), daemon=True)
    thread.start()
    deadline = time.monotonic() + 15
    while not any("receiving pushes at" in line for line in lines):
        assert time.monotonic() < deadline, lines
        time.sleep(0.02)
    port = int(re.search(r"127\.0\.0\.1:(\d+)/", lines[0]).group(1))
    try:
        connection = http.client.HTTPConnection("127.0.0.1", port, timeout=10)
        body = json.dumps(ecom_scan()).encode()
        connection.request("POST", "/", body=body, headers={"Authorization": basic()})
        answer = connection.getresponse()
        document = json.loads(answer.read())
    finally:
        stopping.set()
        thread.join(15)
    assert answer.status == 503
    assert document["status"] is False and "disk I/O error" in document["reason"]
    assert document["awb"] == "8012345671" and document["status_update_number"] == 44590188
    assert any(" 503 from 127.0.0.1 awb 8012345671 " in line and "could not store" in line
               for line in lines)
