"""`shipctl ecom listen` over real HTTP: the real command in a subprocess on a free port.

``Listener`` (also used by test_listen_load and test_roundtrip) starts it, waits for the line
saying where it listens, collects its log, and stops it with SIGINT.
"""

from __future__ import annotations

import base64
import http.client
import json
import os
import re
import signal
import socket
import sqlite3
import stat
import subprocess
import sys
import threading
import time
from pathlib import Path

import pytest
import requests
from conftest import _seen_secrets, audit
from factories import ecom_scan

from shipctl.ecom.receive.receiver import MAX_BODY

USER = "ecom-hook"
PASSWORD = "listen-Pässword-42"  # non-ASCII: RFC 7617's UTF-8
TIMEOUT = 15


def basic(user: str = USER, password: str = PASSWORD) -> str:
    return "Basic " + base64.b64encode(f"{user}:{password}".encode()).decode()


class Listener:
    """A running `shipctl ecom listen --port 0`."""

    def __init__(self, store: Path, *args: str, password: str = PASSWORD,
                 env: dict | None = None) -> None:
        _seen_secrets.add(password)  # the suite's audit searches every output for it
        self.store = store
        self.password = password
        command = [sys.executable, "-m", "shipctl", "ecom", "listen", "--port", "0",
                   "--store", str(store), *args]
        if "--password-stdin" not in args and env is None:
            command += ["--username", USER, "--password-stdin"]
        self.proc = subprocess.Popen(command, stdin=subprocess.PIPE, stdout=subprocess.PIPE,
                                     stderr=subprocess.PIPE, env={**os.environ, **(env or {})})
        self.proc.stdin.write(password.encode() + b"\n")
        self.proc.stdin.close()
        self.lines: list[str] = []
        self._ready = threading.Event()
        self._reader = threading.Thread(target=self._read, daemon=True)
        self._reader.start()
        if not self._ready.wait(TIMEOUT):
            self.proc.kill()
            raise AssertionError("listener did not start: " + self.log)
        match = re.search(r"receiving pushes at (\S+) ", self.log)
        assert match, self.log
        self.url = match.group(1)
        self.port = int(self.url.rsplit(":", 1)[1].split("/")[0])

    def _read(self) -> None:
        for raw in self.proc.stderr:
            line = raw.decode("utf-8", "replace")
            self.lines.append(line)
            if "receiving pushes at" in line:
                self._ready.set()
        self._ready.set()

    @property
    def log(self) -> str:
        return "".join(self.lines)

    def post(self, document=None, *, data: bytes | None = None, auth: str | None = "basic",
             headers: dict | None = None, session=requests) -> requests.Response:
        payload = json.dumps(document).encode() if data is None else data
        sent = {"Content-Type": "application/json", **(headers or {})}
        if auth == "basic":
            sent["Authorization"] = basic(password=self.password)
        return session.post(self.url, data=payload, headers=sent, timeout=TIMEOUT)

    def stop(self, signum: int = signal.SIGINT) -> int:
        if self.proc.poll() is None:
            self.proc.send_signal(signum)
        code = self.proc.wait(TIMEOUT)
        self._reader.join(TIMEOUT)
        audit(self.log, self.proc.stdout.read())
        return code

    def rows(self) -> list[tuple]:
        connection = sqlite3.connect(self.store)
        try:
            return connection.execute(
                "SELECT awb, status_update_number, body, headers, validation, received_at"
                " FROM pushes ORDER BY id").fetchall()
        finally:
            connection.close()


@pytest.fixture
def listener(tmp_path):
    started: list[Listener] = []

    def start(*args: str, store: Path | None = None, **kwargs) -> Listener:
        running = Listener(store or tmp_path / f"pushes{len(started)}.sqlite3", *args, **kwargs)
        started.append(running)
        return running

    yield start
    for running in started:
        if running.proc.poll() is None:
            running.proc.kill()
            running.proc.wait()


@pytest.fixture
def one(listener) -> Listener:
    return listener()


# -- answers ----------------------------------------------------------------------------------
def test_a_valid_push_is_200_with_an_integer_number_and_stored_raw(one):
    body = json.dumps(ecom_scan(), indent=2, ensure_ascii=False).encode()  # pretty, as some send
    answer = one.post(data=body, headers={"X-Trace": "abc"})
    assert answer.status_code == 200
    assert answer.json() == {"awb": "8012345671", "status": True,
                             "status_update_number": 44590188}
    ((awb, number, stored, headers, validation, received),) = one.rows()
    assert (awb, number, stored) == ("8012345671", "44590188", body)
    headers = dict(json.loads(headers))
    assert headers["authorization"] == "[redacted]" and headers["x-trace"] == "abc"
    assert json.loads(validation) == {"valid": True, "warnings": []}
    assert re.fullmatch(r"\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{6}\+00:00", received)
    assert one.stop() == 0


def test_a_duplicate_is_200_and_stored_once(one):
    first = one.post(ecom_scan())
    again = one.post(ecom_scan(city="changed"))
    assert first.status_code == again.status_code == 200
    assert again.json()["status"] is True
    assert len(one.rows()) == 1 and b"New Delhi" in one.rows()[0][2]
    one.stop()
    assert "duplicate: status_update_number 44590188 already stored" in one.log


@pytest.mark.parametrize("auth, headers", [
    (None, {}),
    ("wrong", {"Authorization": basic(password="wrong")}),
    ("user", {"Authorization": basic(user="someone")}),
    (None, {"username": USER, "password": "wrong"}),
    (None, {"username": "x", "password": PASSWORD.encode().decode("latin-1")}),
])
def test_wrong_or_missing_credentials_are_401(one, auth, headers):
    answer = one.post(ecom_scan(), auth=None, headers=headers)
    assert answer.status_code == 401
    document = answer.json()
    assert document["status"] is False and set(document) == {
        "awb", "status", "reason", "status_update_number"}
    assert one.rows() == []


def test_username_and_password_headers_are_accepted_and_redacted(one):
    # requests sends header values as Latin-1; the UTF-8 bytes of the password are what a
    # client that checks custom headers puts on the wire
    wire = PASSWORD.encode().decode("latin-1")
    answer = one.post(ecom_scan(), auth=None, headers={"username": USER, "password": wire})
    assert answer.status_code == 200
    headers = dict(json.loads(one.rows()[0][3]))
    assert headers["password"] == "[redacted]" and headers["username"] == USER


@pytest.mark.parametrize("data, words", [
    (b"{\"awb\": ", "not JSON"),
    (b"", "empty body"),
    (b"\xff\xfe", "not UTF-8"),
    (json.dumps(ecom_scan(datetime="yesterday")).encode(), "datetime"),
    (json.dumps(ecom_scan(status_update_number="12a")).encode(), "digits only"),
])
def test_invalid_and_unparseable_bodies_are_400_with_the_failure_body(one, data, words):
    answer = one.post(data=data)
    assert answer.status_code == 400
    document = answer.json()
    assert set(document) == {"awb", "status", "reason", "status_update_number"}
    assert document["status"] is False and words in document["reason"]
    assert one.rows() == []


def test_over_1_mib_is_413_before_the_body_is_read(one):
    connection = http.client.HTTPConnection("127.0.0.1", one.port, timeout=TIMEOUT)
    connection.putrequest("POST", "/")
    connection.putheader("Authorization", basic())
    connection.putheader("Content-Length", str(MAX_BODY + 1))
    connection.endheaders()  # and no body: the answer must come anyway
    answer = connection.getresponse()
    assert answer.status == 413
    assert json.loads(answer.read())["reason"] == f"body over {MAX_BODY} bytes"


def test_a_chunked_body_growing_past_1_mib_is_413(one):
    def chunks():
        for _ in range(20):
            yield b" " * 65536 + b"x" * 100

    try:
        answer = requests.post(one.url, data=chunks(), timeout=TIMEOUT,
                               headers={"Authorization": basic()})
        assert answer.status_code == 413
    except requests.ConnectionError:
        # The listener answers and closes while the rest of the body is still on its way; the
        # kernel then resets the connection, and a client still sending may lose the answer
        # before it reads it. What the listener did is in its log.
        pass
    deadline = time.monotonic() + TIMEOUT
    while " 413 from 127.0.0.1 " not in one.log and time.monotonic() < deadline:
        time.sleep(0.05)
    assert " 413 from 127.0.0.1 " in one.log and "body over 1048576 bytes" in one.log
    assert one.rows() == []


def test_other_paths_and_methods(listener):
    running = listener("--path", "/ecom/hook")
    assert running.url.endswith("/ecom/hook")
    assert requests.post(running.url.rsplit("/", 2)[0] + "/", timeout=TIMEOUT).status_code == 404
    answer = requests.get(running.url, timeout=TIMEOUT)
    assert answer.status_code == 405 and answer.headers["allow"] == "POST"
    assert running.post(ecom_scan()).status_code == 200


def test_hostile_requests_do_not_stop_it(one):
    for junk in (b"\x00\x01garbage\r\n\r\n", b"POST / HTTP/1.1\r\nHost: x\r\nContent-Length: -1"
                 b"\r\n\r\n", b"GET /" + b"a" * 70000 + b" HTTP/1.1\r\n\r\n"):
        with socket.create_connection(("127.0.0.1", one.port), timeout=TIMEOUT) as sock:
            sock.sendall(junk)
            sock.shutdown(socket.SHUT_WR)
            sock.recv(65536)
    assert one.post(ecom_scan()).status_code == 200
    one.stop()
    assert "Traceback" not in one.log


# -- log --------------------------------------------------------------------------------------
def test_one_log_line_per_push_with_time_awb_reason_code_and_result(one):
    one.post(ecom_scan())
    one.post(ecom_scan(number="1", datetime="bad"))
    assert one.stop() == 0
    lines = [line for line in one.lines if " awb " in line]
    assert len(lines) == 2
    assert re.match(r"\d{4}-\d\d-\d\dT\d\d:\d\d:\d\dZ 200 from 127\.0\.0\.1 awb 8012345671 "
                    r"\[002 - In-scan at Ecom facility\] stored \(status_update_number"
                    r" 44590188\)$", lines[0])
    assert " 400 from 127.0.0.1 awb 8012345671 [002 - In-scan at Ecom facility] refused:" \
        " invalid push: datetime:" in lines[1]


def test_the_password_never_reaches_the_log_or_the_store(one):
    one.post(ecom_scan())
    one.post(ecom_scan(number="2"), auth=None,
             headers={"username": USER, "password": PASSWORD.encode().decode("latin-1")})
    one.post(ecom_scan(number="3"), auth=None, headers={"Authorization": basic(password="guess")})
    one.stop()
    for raw in (one.log, one.store.read_bytes().decode("latin-1")):
        assert PASSWORD not in raw and PASSWORD.encode().decode("latin-1") not in raw
        assert basic() not in raw and "guess" not in raw


# -- configuration ----------------------------------------------------------------------------
def test_credentials_from_the_profile(listener, tmp_path):
    env = {"SHIPCTL_ECOM_USERNAME": USER, "SHIPCTL_ECOM_PASSWORD": PASSWORD}
    running = listener(env=env)
    assert running.post(ecom_scan()).status_code == 200


def test_no_credentials_is_a_usage_error_saying_how_to_set_them(shipctl_proc, tmp_path):
    result = shipctl_proc("ecom", "listen", "--port", "0", "--store", tmp_path / "s.db")
    assert result.code == 2
    assert "ecom.username and ecom.password not set" in result.err
    assert "shipctl config set ecom.username" in result.err and "Traceback" not in result.err


@pytest.mark.parametrize("url", ["http://127.0.0.1:abc/", "http://exa mple.com/",
                                 "ftp://example.com/", "example.com"])
def test_a_forward_url_that_cannot_work_is_a_usage_error(shipctl_proc, tmp_path, url):
    result = shipctl_proc("ecom", "listen", "--port", "0", "--store", tmp_path / "s.db",
                          "--username", USER, "--password-stdin", "--forward-to", url,
                          input=PASSWORD + "\n", timeout=20)
    assert result.code == 2, result.all
    assert f"--forward-to {url}: " in result.err and "Traceback" not in result.err


def test_a_port_in_use_is_a_usage_error(one, shipctl_proc, tmp_path):
    result = shipctl_proc("ecom", "listen", "--port", one.port, "--username", USER,
                          "--password-stdin", "--store", tmp_path / "s.db", input="pw1234\n")
    assert result.code == 2 and f"port {one.port} is in use" in result.err


def test_the_store_defaults_to_the_user_data_dir_and_is_private(isolated_env):
    default = isolated_env / ".local" / "share" / "shipctl" / "ecom-pushes.sqlite3"
    proc = subprocess.Popen(
        [sys.executable, "-m", "shipctl", "ecom", "listen", "--port", "0", "--username", USER,
         "--password-stdin"], stdin=subprocess.PIPE, stderr=subprocess.PIPE)
    try:
        proc.stdin.write(PASSWORD.encode() + b"\n")
        proc.stdin.flush()
        line = proc.stderr.readline().decode()
        proc.send_signal(signal.SIGINT)
        rest = proc.communicate(b"", timeout=TIMEOUT)[1].decode()
    finally:
        if proc.poll() is None:
            proc.kill()
            proc.wait()
    assert proc.returncode == 0
    audit(line, rest)
    assert f"(store {default})" in line
    assert stat.S_IMODE(default.stat().st_mode) == 0o600


# -- shutdown ---------------------------------------------------------------------------------
def test_sigint_finishes_the_request_in_flight_and_exits_0(one):
    body = json.dumps(ecom_scan()).encode()
    with socket.create_connection(("127.0.0.1", one.port), timeout=TIMEOUT) as sock:
        head = (f"POST / HTTP/1.1\r\nHost: 127.0.0.1\r\nAuthorization: {basic()}\r\n"
                f"Content-Type: application/json\r\nContent-Length: {len(body)}\r\n\r\n")
        sock.sendall(head.encode("latin-1") + body[:20])  # the request is in flight
        time.sleep(0.3)
        one.proc.send_signal(signal.SIGINT)
        time.sleep(0.3)
        sock.sendall(body[20:])
        answer = http.client.HTTPResponse(sock)
        answer.begin()
        assert answer.status == 200
        assert json.loads(answer.read())["status"] is True
    # the one SIGINT stops it: stop() would send another if it is still shutting down (a
    # second Ctrl-C is an interruption, 130), as it sometimes was on a loaded machine
    assert one.proc.wait(TIMEOUT) == 0
    assert one.stop() == 0
    assert len(one.rows()) == 1
    assert "ecom listen stopped" in one.log and "Traceback" not in one.log


def test_sigterm_stops_it_cleanly_too(one):
    assert one.post(ecom_scan()).status_code == 200
    assert one.stop(signal.SIGTERM) == 0


# -- --forward-to -----------------------------------------------------------------------------
def test_forward_to_relays_each_new_push_as_received(listener):
    target = listener()
    front = listener("--forward-to", target.url)
    body = json.dumps(ecom_scan(), ensure_ascii=False).encode()
    assert front.post(data=body).status_code == 200
    assert front.post(data=body).status_code == 200  # a duplicate is not relayed again
    deadline = time.monotonic() + TIMEOUT
    # the relay logs "forwarded" once the target's 200 is back: after the target stored it
    while not (target.rows() and "forwarded awb" in front.log) and time.monotonic() < deadline:
        time.sleep(0.05)
    front.stop()
    assert [row[2] for row in target.rows()] == [body]
    assert f"forwarded awb 8012345671 status_update_number 44590188 to {target.url}: HTTP 200" \
        in front.log
    assert len([line for line in target.lines if " stored " in line]) == 1


def test_a_failing_forward_does_not_lose_the_push(listener):
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))  # bound, never listening: connections are refused
        closed = f"http://127.0.0.1:{sock.getsockname()[1]}/"
        front = listener("--forward-to", closed, "--forward-backoff", "0.2s,0.5s")
        assert front.post(ecom_scan()).status_code == 200
        deadline = time.monotonic() + 30
        while "attempt 2," not in front.log and time.monotonic() < deadline:
            time.sleep(0.1)
        assert front.stop() == 0
    assert re.search(r"forward of awb 8012345671 status_update_number 44590188 to "
                     + re.escape(closed) + r" failed: retrying \(connection refused[^,]*,"
                     r" attempt 2, next in \d\.\d s\)", front.log), front.log
    assert "forwarded awb" not in front.log
    # still pending in the store, for the next listener on it
    assert "1 push(es) not yet forwarded" in front.log
    connection = sqlite3.connect(front.store)
    assert connection.execute("SELECT state, attempts >= 2 FROM forwards").fetchall() == [
        ("pending", 1)]
    assert len(front.rows()) == 1


def test_a_password_in_the_forward_url_is_never_logged(listener):
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        closed = f"http://relay:f0rward-pw@127.0.0.1:{sock.getsockname()[1]}/"
        front = listener("--forward-to", closed, "--forward-backoff", "0.2s")
        assert front.post(ecom_scan()).status_code == 200
        deadline = time.monotonic() + 30
        while "retrying" not in front.log and time.monotonic() < deadline:
            time.sleep(0.1)
        assert front.stop() == 0
    assert "forward of awb 8012345671" in front.log and "relay:***@127.0.0.1" in front.log
    assert "f0rward-pw" not in front.log
    assert b"f0rward-pw" not in front.store.read_bytes()


def test_accepted_connections_have_nagle_off():
    """uvicorn writes an answer's head and body separately: with Nagle on, the body waits for
    the client's delayed ACK, every request. asyncio turns it off only on sockets created as
    IPPROTO_TCP, which ``bind`` must therefore do."""
    import asyncio

    from shipctl.ecom.receive.connections import bind

    async def accept_one() -> int:
        seen: asyncio.Future = asyncio.get_running_loop().create_future()

        class Probe(asyncio.Protocol):
            def connection_made(self, transport):
                sock = transport.get_extra_info("socket")
                seen.set_result(sock.getsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY))

        server = await asyncio.get_running_loop().create_server(Probe, sock=bind("127.0.0.1", 0))
        port = server.sockets[0].getsockname()[1]
        _, writer = await asyncio.open_connection("127.0.0.1", port)
        try:
            return await asyncio.wait_for(seen, TIMEOUT)
        finally:
            writer.close()
            server.close()

    assert asyncio.run(accept_one()) != 0
