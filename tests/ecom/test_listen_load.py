"""`ecom listen` under load: 200 connections at once, slow clients, and kill -9 mid-load."""

from __future__ import annotations

import http.client
import json
import signal
import socket
import sqlite3
import threading
import time

import pytest

from ecom.test_listen import Listener, basic, scan

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
    body = json.dumps(scan(number=number, awb=awb)).encode()
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
    body = json.dumps(scan(number="1")).encode()
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
