"""The sandbox core (docs/conventions.md, Sandbox) over real HTTP on 127.0.0.1: routing,
faults, stats, hygiene."""

from __future__ import annotations

import http.client
import json
import os
import queue
import re
import signal
import socket
import subprocess
import sys
import threading
import time
from concurrent.futures import ThreadPoolExecutor

import pytest
import requests
from factories import ewe_envelope, ewe_request

from shipctl.sandbox import (
    MIX,
    Faults,
    SandboxServer,
    SimRequest,
    SimResponse,
    is_loopback,
    start_background,
)

EWE_PATH = "/eweApi/ewe/api/modifyShipment"
TIMEOUT = 10  # every HTTP call in this file is bounded


def body(ref: str) -> dict:
    """What goes on the wire: the sandbox's envelope and a valid request."""
    return {**ewe_envelope(), **ewe_request(ref)}


class _AnyList:
    def __eq__(self, other: object) -> bool:
        return isinstance(other, list)


ANY_LIST = _AnyList()  # the simulator's arrival timestamps


def stats(server: SandboxServer) -> dict:
    response = requests.get(server.base_url + "/_sandbox/stats", timeout=TIMEOUT)
    assert response.status_code == 200
    return response.json()


def outcome(session: requests.Session, server: SandboxServer, ref: str) -> str:
    """What a client saw: "ok", "code2", "http503" or "reset"."""
    try:
        response = session.post(server.base_url + EWE_PATH, json=body(ref), timeout=TIMEOUT)
    except requests.ConnectionError:
        return "reset"
    if response.status_code == 503:
        return "http503"
    code = response.json()["code"]
    return {0: "ok", 2: "code2"}.get(code, f"code {code}")


def raw_exchange(server: SandboxServer, data: bytes) -> bytes:
    """Send raw bytes, return everything the server answers before it closes."""
    with socket.create_connection(("127.0.0.1", server.server_port), timeout=TIMEOUT) as sock:
        sock.sendall(data)
        chunks = []
        while True:
            try:
                chunk = sock.recv(65536)
            except ConnectionResetError:
                break
            if not chunk:
                break
            chunks.append(chunk)
        return b"".join(chunks)


# -- start-up, settings, routing ----------------------------------------------------------------
def test_start_background_listens_on_a_free_loopback_port(sandbox):
    server = sandbox()
    port = server.server_port
    assert port != 0
    assert server.base_url == f"http://127.0.0.1:{port}"
    assert server.settings() == {
        "ewe.url": f"http://127.0.0.1:{port}/eweApi/ewe/api",
        "ewe.username": "sandbox",
        "ewe.password": "sandbox-password",
        "fynd.url": f"http://127.0.0.1:{port}/fynd",
        "fynd.company_id": "1",
        "fynd.client_id": "sandbox",
        "fynd.client_secret": "sandbox-secret",
        "ecom.url": f"http://127.0.0.1:{port}/ecom",
        "ecom.username": "sandbox",
        "ecom.password": "sandbox-password",
    }
    answer = requests.post(server.settings()["ewe.url"] + "/modifyShipment", json=body("R1"),
                           timeout=TIMEOUT)
    assert answer.json() == {"success": True, "message": ["Modify success!"], "code": 0}


def test_two_sandboxes_get_different_ports():
    with start_background() as one, start_background() as two:
        assert one.server_port != two.server_port


def test_unknown_path_is_404_json(sandbox):
    server = sandbox()
    answer = requests.get(server.base_url + "/nowhere", timeout=TIMEOUT)
    assert answer.status_code == 404
    assert answer.headers["Content-Type"] == "application/json"
    assert answer.json() == {"error": "no sandbox endpoint at /nowhere"}


def test_keep_alive_serves_many_requests_on_one_connection(sandbox):
    server = sandbox()
    connection = http.client.HTTPConnection("127.0.0.1", server.server_port, timeout=TIMEOUT)
    try:
        sockets = set()
        for ref in ("K1", "K2", "K3"):
            connection.request("POST", EWE_PATH, body=json.dumps(body(ref)),
                               headers={"Content-Type": "application/javascript"})
            answer = connection.getresponse()
            assert answer.version == 11
            assert answer.getheader("Content-Length") is not None
            assert answer.getheader("Connection") is None  # not closing
            assert json.loads(answer.read())["code"] == 0
            sockets.add(id(connection.sock))
        assert len(sockets) == 1
    finally:
        connection.close()


def test_stop_ends_kept_alive_connections():
    server = start_background()
    session = requests.Session()
    assert session.get(server.base_url + "/_sandbox/stats", timeout=TIMEOUT).ok
    server.stop()
    with pytest.raises(requests.ConnectionError):
        session.get(server.base_url + "/_sandbox/stats", timeout=TIMEOUT)


def test_overlapping_prefixes_are_refused():
    class Sim:
        def __init__(self, name, prefix):
            self.name, self.prefix = name, prefix

    with pytest.raises(ValueError, match="overlap"):
        SandboxServer(simulators=[Sim("a", "/api"), Sim("b", "/api/v2")])


# -- stats and reset ----------------------------------------------------------------------------
def core_and_ewe(document: dict) -> dict:
    """The core's counters and EWE's (each other provider's simulator adds its own key)."""
    return {key: document[key] for key in ("requests", "faults", "ewe")}


def test_stats_count_requests_and_applications_and_reset_clears_them(sandbox):
    server = sandbox()
    url = server.base_url + EWE_PATH
    for ref in ("A", "A", "B"):
        assert requests.post(url, json=body(ref), timeout=TIMEOUT).json()["code"] == 0
    requests.post(url, json={**body("C"), "digest": "wrong"}, timeout=TIMEOUT)
    assert core_and_ewe(stats(server)) == {
        "requests": 4,
        "faults": {"code2": 0, "http503": 0, "reset": 0, "stall": 0},
        "ewe": {"applied": {"A": 2, "B": 1}, "rejected": {"104": 1}, "arrivals": ANY_LIST},
    }
    reset = requests.post(server.base_url + "/_sandbox/reset", timeout=TIMEOUT)
    assert reset.status_code == 200
    assert core_and_ewe(stats(server)) == {
        "requests": 0,
        "faults": {"code2": 0, "http503": 0, "reset": 0, "stall": 0},
        "ewe": {"applied": {}, "rejected": {}, "arrivals": []},
    }


def test_control_endpoints_check_the_method(sandbox):
    server = sandbox()
    wrong = requests.post(server.base_url + "/_sandbox/stats", timeout=TIMEOUT)
    assert (wrong.status_code, wrong.headers["Allow"]) == (405, "GET, HEAD")
    wrong = requests.get(server.base_url + "/_sandbox/reset", timeout=TIMEOUT)
    assert (wrong.status_code, wrong.headers["Allow"]) == (405, "POST")
    assert requests.get(server.base_url + "/_sandbox/other", timeout=TIMEOUT).status_code == 404


# -- hostile input ------------------------------------------------------------------------------
def test_body_over_one_mib_is_413_and_the_server_keeps_serving(sandbox):
    server = sandbox()
    url = server.base_url + EWE_PATH
    answer = requests.post(url, data=b"x" * (2 * 1024 * 1024), timeout=TIMEOUT)
    assert answer.status_code == 413
    assert answer.json() == {"error": "request body over 1048576 bytes"}
    # exactly 1 MiB is still read and handed to the simulator (which finds no JSON object)
    at_limit = requests.post(url, data=b"x" * (1024 * 1024), timeout=TIMEOUT)
    assert at_limit.status_code == 200 and at_limit.json()["code"] == 10
    assert stats(server)["requests"] == 1  # the refused one never reached a simulator


@pytest.mark.parametrize(
    "data",
    [
        b"\x00\xff\xfe garbage \r\n\r\n",
        b"GET\r\n\r\n",
        b"POST /x HTTP/9.9\r\n\r\n",
        b"POST " + b"a" * 70000 + b" HTTP/1.1\r\n\r\n",
        b"FROB /eweApi/ewe/api/modifyShipment HTTP/1.1\r\nHost: 127.0.0.1\r\n\r\n",
    ],
    ids=["binary", "no-path", "bad-version", "huge-line", "unknown-method"],
)
def test_garbage_request_lines_get_an_error_and_do_not_kill_the_server(sandbox, data):
    server = sandbox()
    answer = raw_exchange(server, data)
    assert re.match(rb"HTTP/1\.1 (400|414|501|505) ", answer), answer[:80]
    assert b"Content-Type: application/json" in answer
    assert stats(server)["requests"] == 0


@pytest.mark.parametrize(
    "header, status",
    [
        (b"Content-Length: abc", 400),
        (b"Content-Length: -5", 400),
        (b"Content-Length: 5\r\nContent-Length: 6", 400),
        (b"Transfer-Encoding: chunked", 411),
    ],
)
def test_bad_body_framing_is_refused_and_the_connection_closed(sandbox, header, status):
    server = sandbox()
    request = (b"POST " + EWE_PATH.encode() + b" HTTP/1.1\r\nHost: 127.0.0.1\r\n" + header
               + b"\r\n\r\n{}")
    answer = raw_exchange(server, request)
    assert answer.startswith(b"HTTP/1.1 %d " % status)
    assert b"Connection: close" in answer
    assert requests.get(server.base_url + "/_sandbox/stats", timeout=TIMEOUT).ok


def test_missing_content_length_means_an_empty_body(sandbox):
    server = sandbox()
    request = (b"POST " + EWE_PATH.encode()
               + b" HTTP/1.1\r\nHost: 127.0.0.1\r\nConnection: close\r\n\r\n")
    answer = raw_exchange(server, request)
    assert answer.startswith(b"HTTP/1.1 200 ")
    assert b'"code":10' in answer


def test_a_client_leaving_mid_body_does_not_hurt(sandbox):
    server = sandbox()
    request = (b"POST " + EWE_PATH.encode()
               + b" HTTP/1.1\r\nHost: 127.0.0.1\r\nContent-Length: 500\r\n\r\n{")
    with socket.create_connection(("127.0.0.1", server.server_port), timeout=TIMEOUT) as sock:
        sock.sendall(request)
    assert requests.post(server.base_url + EWE_PATH, json=body("after"), timeout=TIMEOUT).ok
    assert stats(server)["ewe"]["applied"] == {"after": 1}


class Exploding:
    name = "boom"
    prefix = "/boom"

    def handle(self, request: SimRequest) -> SimResponse:
        raise RuntimeError("simulator bug")

    def stats(self) -> dict:
        return {}

    def reset(self) -> None:
        pass

    def transient_fault(self, request: SimRequest) -> SimResponse | None:
        return None  # an API with no "temporarily unavailable" answer of its own


def test_a_simulator_exception_is_a_500_and_the_server_keeps_serving(capsys):
    with SandboxServer(simulators=[Exploding()]) as server:
        for _ in range(2):
            answer = requests.post(server.base_url + "/boom/x", data=b"{}", timeout=TIMEOUT)
            assert answer.status_code == 500
            assert answer.json() == {"error": "simulator error: RuntimeError"}
    assert capsys.readouterr().err == ""  # quiet: nothing logged per request


def test_an_api_without_its_own_transient_answer_gets_a_503_for_code2():
    faults = Faults(fail_rate=1, fail_mode="code2", seed=1)
    with SandboxServer(faults=faults, simulators=[Exploding()]) as server:
        answer = requests.post(server.base_url + "/boom/x", timeout=TIMEOUT)
        assert (answer.status_code, answer.headers["Retry-After"]) == (503, "0")
        assert stats(server)["faults"] == {"code2": 0, "http503": 1, "reset": 0, "stall": 0}


# -- fault injection ----------------------------------------------------------------------------
def test_fault_code2_is_ewes_temporarily_unavailable_and_not_applied():
    with start_background(faults=Faults(fail_rate=1, fail_mode="code2", seed=3)) as server:
        answer = requests.post(server.base_url + EWE_PATH, json=body("F"), timeout=TIMEOUT)
        assert answer.status_code == 200
        assert answer.json() == {
            "success": False, "message": ["Service is temporarily unavailable"], "code": 2,
        }
        document = stats(server)
    assert document["faults"] == {"code2": 1, "http503": 0, "reset": 0, "stall": 0}
    assert document["ewe"] == {"applied": {}, "rejected": {}, "arrivals": []}


def test_fault_http503_has_retry_after_and_a_json_body():
    with start_background(faults=Faults(fail_rate=1, fail_mode="http503", seed=3)) as server:
        answer = requests.post(server.base_url + EWE_PATH, json=body("F"), timeout=TIMEOUT)
        assert answer.status_code == 503
        assert answer.headers["Retry-After"] == "0"
        assert "error" in answer.json()
        document = stats(server)
    assert document["faults"] == {"code2": 0, "http503": 1, "reset": 0, "stall": 0}
    assert document["ewe"]["applied"] == {}


def test_fault_reset_drops_the_connection_with_a_reset():
    with start_background(faults=Faults(fail_rate=1, fail_mode="reset", seed=3)) as server:
        payload = json.dumps(body("F")).encode()
        request = (b"POST " + EWE_PATH.encode() + b" HTTP/1.1\r\nHost: 127.0.0.1\r\n"
                   b"Content-Length: %d\r\n\r\n" % len(payload) + payload)
        with socket.create_connection(("127.0.0.1", server.server_port), timeout=TIMEOUT) as s:
            s.sendall(request)
            with pytest.raises(ConnectionResetError):
                s.recv(65536)
        with pytest.raises(requests.ConnectionError):
            requests.post(server.base_url + EWE_PATH, json=body("F"), timeout=TIMEOUT)
        document = stats(server)  # /_sandbox/* is never faulted
    assert document["faults"] == {"code2": 0, "http503": 0, "reset": 2, "stall": 0}
    assert document["ewe"]["applied"] == {}


def test_fail_mode_any_draws_every_fault_stall_included_and_mix_never_stalls():
    drawn = {}
    for mode in ("any", "mix"):
        with start_background(faults=Faults(fail_rate=1, fail_mode=mode, seed=5)) as server:
            drawn[mode] = {server.plan()[1] for _ in range(200)}
    assert drawn["any"] == {"code2", "http503", "reset", "stall"}
    assert drawn["mix"] == {"code2", "http503", "reset"}


def test_fault_stall_applies_then_answers_nothing_until_the_client_gives_up():
    with start_background(faults=Faults(fail_rate=1, fail_mode="stall", seed=3)) as server:
        started = time.monotonic()
        with pytest.raises(requests.ReadTimeout):
            requests.post(server.base_url + EWE_PATH, json=body("S"), timeout=(TIMEOUT, 0.5))
        assert time.monotonic() - started >= 0.5
        document = stats(server)
    assert document["faults"] == {"code2": 0, "http503": 0, "reset": 0, "stall": 1}
    assert document["ewe"]["applied"] == {"S": 1}  # applied: only the answer was lost


def test_a_stall_applies_in_every_simulator():
    from factories import ecom_push

    import shipctl.ecom
    from shipctl.fynd import client

    with start_background(faults=Faults(fail_rate=1, fail_mode="stall")) as server:
        with pytest.raises(requests.ReadTimeout):  # Ecom: the push is stored
            requests.post(server.base_url + shipctl.ecom.SANDBOX_PATH, json=ecom_push(number="77"),
                          auth=(shipctl.ecom.SANDBOX_USERNAME, shipctl.ecom.SANDBOX_PASSWORD),
                          timeout=(TIMEOUT, 0.3))
        with pytest.raises(requests.ReadTimeout):  # Fynd: the token is issued
            requests.post(client.token_url(server.base_url + "/fynd", "1"),
                          data={"grant_type": "client_credentials"},
                          auth=("sandbox", "sandbox-secret"), timeout=(TIMEOUT, 0.3))
        document = stats(server)
    assert document["faults"]["stall"] == 2
    assert document["ecom"]["applied"] == {"77": 1}
    assert document["fynd"]["tokens_issued"] == 1


def test_a_stall_ends_after_stall_seconds_with_no_answer_at_all():
    faults = Faults(fail_rate=1, fail_mode="stall", stall_seconds=0.3)
    with start_background(faults=faults) as server:
        payload = json.dumps(body("T")).encode()
        request = (b"POST " + EWE_PATH.encode() + b" HTTP/1.1\r\nHost: 127.0.0.1\r\n"
                   b"Content-Length: %d\r\n\r\n" % len(payload) + payload)
        started = time.monotonic()
        assert raw_exchange(server, request) == b""  # closed, not one byte of an answer
        assert time.monotonic() - started >= 0.3
        assert stats(server)["ewe"]["applied"] == {"T": 1}


def test_a_stalled_client_that_closes_frees_the_connection_at_once():
    with start_background(faults=Faults(fail_rate=1, fail_mode="stall")) as server:
        payload = json.dumps(body("U")).encode()
        with socket.create_connection(("127.0.0.1", server.server_port), timeout=TIMEOUT) as s:
            s.sendall(b"POST " + EWE_PATH.encode() + b" HTTP/1.1\r\nHost: 127.0.0.1\r\n"
                      b"Content-Length: %d\r\n\r\n" % len(payload) + payload)
            s.settimeout(0.3)
            with pytest.raises(TimeoutError):
                s.recv(65536)  # held: no answer
        deadline = time.monotonic() + 5
        while server._connections and time.monotonic() < deadline:
            time.sleep(0.02)
        assert not server._connections  # the server let go of it, long before 60 s


def test_a_retrying_client_gets_every_item_applied_exactly_once():
    refs = [f"REF{i:03d}" for i in range(200)]
    attempts = []
    lock = threading.Lock()
    local = threading.local()

    def deliver(ref: str) -> str:
        session = getattr(local, "session", None) or requests.Session()
        local.session = session
        for _ in range(50):
            result = outcome(session, server, ref)
            with lock:
                attempts.append(result)
            if result == "ok":
                return result
        return "gave up"

    with start_background(faults=Faults(fail_rate=0.3, fail_mode="mix", seed=11)) as server:
        with ThreadPoolExecutor(4) as pool:
            results = list(pool.map(deliver, refs))
        document = stats(server)
    assert results == ["ok"] * 200
    assert document["ewe"]["applied"] == {ref: 1 for ref in refs}
    assert document["requests"] == len(attempts)
    faults = document["faults"]
    assert sum(faults.values()) == len(attempts) - 200
    assert all(faults[kind] > 0 for kind in MIX), faults  # the mix gave all three kinds
    assert faults["stall"] == 0  # and never a stall: the one fault that applies
    assert {kind: attempts.count(kind) for kind in faults} == faults


def run_sequence(seed: int, n: int = 40) -> list[str]:
    with start_background(faults=Faults(fail_rate=0.5, fail_mode="mix", seed=seed)) as server:
        session = requests.Session()
        return [outcome(session, server, f"S{i}") for i in range(n)]


def test_the_same_seed_gives_the_same_faults_in_the_same_order():
    first = run_sequence(42)
    assert set(first) == {"ok", "code2", "http503", "reset"}
    assert run_sequence(42) == first
    assert run_sequence(43) != first


# Timings here are floors that load cannot lower (a delay is a sleep from the request's
# arrival) or the fastest of several tries, which one stall on a busy machine cannot spoil.
def timed(call) -> float:
    started = time.monotonic()
    call()
    return time.monotonic() - started


def test_latency_is_added_before_each_answer_but_not_to_the_control_endpoints(sandbox):
    server = sandbox(latency_ms=150)
    session = requests.Session()
    session.get(server.base_url + "/_sandbox/stats", timeout=TIMEOUT)  # connect first

    def post(ref: str) -> None:
        assert session.post(server.base_url + EWE_PATH, json=body(ref), timeout=TIMEOUT).ok

    elapsed = [timed(lambda ref=ref: post(ref)) for ref in ("L1", "L2", "L3")]
    assert min(elapsed) >= 0.14  # every answer waited for the latency
    assert min(elapsed) < 2.0  # and not grossly longer
    control = [timed(lambda: session.get(server.base_url + "/_sandbox/stats", timeout=TIMEOUT))
               for _ in range(10)]
    assert min(control) < 0.14  # with the latency added, every one would take ≥ 0.15 s


def test_jitter_varies_the_latency_within_its_bounds(sandbox):
    faults = {"latency_ms": 30, "jitter_ms": 30, "seed": 5}
    # The delays the sandbox draws: the same seed in the same order of arrival gives the same.
    # 24 requests: 8 of them are drawn under 17 ms, so one stall cannot hide the variation.
    twin = SandboxServer(faults=Faults(**faults))
    try:
        drawn = [twin.plan()[0] for _ in range(24)]
    finally:
        twin.server_close()
    assert all(0 <= delay <= 0.06 for delay in drawn)
    assert max(drawn) - min(drawn) > 0.02

    server = sandbox(**faults)
    session = requests.Session()
    session.get(server.base_url + "/_sandbox/stats", timeout=TIMEOUT)
    elapsed = [timed(lambda i=i: session.post(server.base_url + EWE_PATH, json=body(f"J{i}"),
                                              timeout=TIMEOUT))
               for i in range(len(drawn))]
    assert all(took >= delay for took, delay in zip(elapsed, drawn, strict=True))  # applied
    assert sorted(elapsed)[len(elapsed) // 2] < 1.0  # the median: one stall cannot spoil it
    assert max(elapsed) - min(elapsed) > 0.02


def test_faults_reject_impossible_settings():
    with pytest.raises(ValueError):
        Faults(fail_mode="sometimes")
    with pytest.raises(ValueError):
        Faults(fail_rate=1.5)
    with pytest.raises(ValueError):
        Faults(stall_seconds=0)
    with pytest.raises(ValueError):
        Faults(latency_ms=-1)


# -- `shipctl sandbox` ----------------------------------------------------------------------------
def read_banner(proc: subprocess.Popen, deadline: float) -> str:
    lines: queue.Queue = queue.Queue()

    def pump():
        for line in proc.stdout:
            lines.put(line)
        lines.put(None)

    threading.Thread(target=pump, daemon=True).start()
    text = ""
    while "Ctrl-C" not in text:
        line = lines.get(timeout=max(deadline - time.monotonic(), 0.1))
        if line is None:
            break
        text += line
    return text


@pytest.mark.parametrize("signum", [signal.SIGINT, signal.SIGTERM], ids=["SIGINT", "SIGTERM"])
def test_shipctl_sandbox_prints_urls_and_credentials_and_stops_cleanly(signum):
    proc = subprocess.Popen(
        [sys.executable, "-m", "shipctl", "sandbox", "--port", "0", "--latency", "1"],
        stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, env=dict(os.environ),
    )
    try:
        banner = read_banner(proc, time.monotonic() + 20)
        match = re.search(r"ewe\.url\s+(http://127\.0\.0\.1:(\d+)/eweApi/ewe/api)", banner)
        assert match, banner
        assert re.search(r"ewe\.username\s+sandbox\n", banner)
        assert re.search(r"ewe\.password\s+sandbox-password\n", banner)
        assert "/_sandbox/stats" in banner
        answer = requests.post(match.group(1) + "/modifyShipment", json=body("CLI"),
                               timeout=TIMEOUT)
        assert answer.json()["code"] == 0
        proc.send_signal(signum)
        assert proc.wait(timeout=15) == 0
        err = proc.stderr.read()
        assert "sandbox stopped after 1 requests" in err
        assert "Traceback" not in err
    finally:
        if proc.poll() is None:
            proc.kill()
            proc.wait(timeout=5)


def test_shipctl_sandbox_on_a_port_in_use_is_a_usage_error(cli):
    with socket.socket() as taken:
        taken.bind(("127.0.0.1", 0))
        taken.listen()
        port = taken.getsockname()[1]
        result = cli("sandbox", "--port", str(port))
    assert result.code == 2
    assert result.err == f"error: port {port} is in use; pass --port 0 for any free port\n"
    assert result.out == ""


@pytest.mark.parametrize(
    "host, loopback",
    [("127.0.0.1", True), ("127.0.0.2", True), ("::1", True), ("localhost", True),
     ("0.0.0.0", False), ("::", False), ("192.168.1.5", False), ("example.com", False)],
)
def test_which_hosts_count_as_loopback_for_the_warning(host, loopback):
    assert is_loopback(host) is loopback


def test_a_client_expecting_100_continue_for_a_huge_body_gets_413_at_once(sandbox):
    server = sandbox()
    request = (b"POST " + EWE_PATH.encode() + b" HTTP/1.1\r\nHost: 127.0.0.1\r\n"
               b"Expect: 100-continue\r\nContent-Length: 2097152\r\n\r\n")
    with socket.create_connection(("127.0.0.1", server.server_port), timeout=TIMEOUT) as sock:
        sock.sendall(request)
        assert sock.recv(65536).startswith(b"HTTP/1.1 413 ")


def test_a_client_expecting_100_continue_is_told_to_continue(sandbox):
    server = sandbox()
    payload = json.dumps(body("E100")).encode()
    request = (b"POST " + EWE_PATH.encode()
               + b" HTTP/1.1\r\nHost: 127.0.0.1\r\nConnection: close\r\n"
               b"Expect: 100-continue\r\nContent-Length: %d\r\n\r\n" % len(payload))
    with socket.create_connection(("127.0.0.1", server.server_port), timeout=TIMEOUT) as sock:
        sock.sendall(request)
        assert sock.recv(65536).startswith(b"HTTP/1.1 100 ")
        sock.sendall(payload)
        answer = b""
        while chunk := sock.recv(65536):
            answer += chunk
    assert answer.startswith(b"HTTP/1.1 200 ") and b'"code":0' in answer


def test_setting_keys_are_what_the_server_overrides():
    from shipctl.provider import sandbox_setting_keys

    with start_background() as server:
        assert set(server.settings()) == sandbox_setting_keys()


def test_global_sandbox_flag_does_not_start_a_server_for_offline_commands(cli):
    from conftest import SAMPLES

    result = cli("--sandbox", "ewe", "validate", str(SAMPLES / "ewe" / "modify.yaml"))
    assert result.code == 0, result.err
    assert "sandbox" not in result.err


# -- only its own Host (DNS rebinding) ------------------------------------------------------------
def http_request(server: SandboxServer, method: str, target: str, host: str | None,
                 payload: bytes = b"", version: str = "HTTP/1.1") -> tuple[int, bytes]:
    """One raw request with exactly the Host given (None: no Host header); (status, answer)."""
    head = f"{method} {target} {version}\r\n"
    if host is not None:
        head += f"Host: {host}\r\n"
    head += f"Content-Length: {len(payload)}\r\nConnection: close\r\n\r\n"
    answer = raw_exchange(server, head.encode("latin-1") + payload)
    match = re.match(rb"HTTP/1\.1 (\d{3}) ", answer)
    assert match, answer[:80]
    return int(match.group(1)), answer


FOREIGN_HOSTS = ["evil.example", "evil.example:{port}", "127.0.0.1.evil.example:{port}",
                 "localhost.evil.example", "10.1.2.3:{port}", "[2001:db8::1]:{port}"]


@pytest.mark.timeout(60)
@pytest.mark.parametrize("host", FOREIGN_HOSTS)
def test_a_foreign_host_is_answered_421_and_reads_or_changes_nothing(sandbox, host):
    server = sandbox()
    host = host.format(port=server.server_port)
    assert requests.post(server.base_url + EWE_PATH, json=body("KEEP"), timeout=TIMEOUT).ok
    payload = json.dumps(body("EVIL")).encode()

    status, answer = http_request(server, "GET", "/_sandbox/stats", host)
    assert status == 421
    assert b"KEEP" not in answer and b"applied" not in answer  # nothing of the state leaks
    assert b"Connection: close" in answer
    assert json.loads(answer.partition(b"\r\n\r\n")[2])["error"].startswith("misdirected request")
    assert http_request(server, "POST", "/_sandbox/reset", host)[0] == 421
    assert http_request(server, "POST", EWE_PATH, host, payload)[0] == 421
    assert http_request(server, "HEAD", "/_sandbox/stats", host)[0] == 421

    # the reset did not happen, the shipment was not modified, no request was counted
    assert stats(server)["ewe"]["applied"] == {"KEEP": 1}
    assert stats(server)["requests"] == 1


@pytest.mark.timeout(60)
@pytest.mark.parametrize(
    "host",
    ["127.0.0.1:{port}", "127.0.0.1", "localhost:{port}", "localhost", "LocalHost.:{port}",
     "[::1]:{port}", "[::1]", "127.0.0.2:{port}", "app.localhost:{port}", "localhost:"],
)
def test_loopback_hosts_are_served(sandbox, host):
    server = sandbox()
    host = host.format(port=server.server_port)
    payload = json.dumps(body("LOOP")).encode()
    assert http_request(server, "POST", EWE_PATH, host, payload)[0] == 200
    status, answer = http_request(server, "GET", "/_sandbox/stats", host)
    assert status == 200 and b'"applied":{"LOOP":1}' in answer
    assert http_request(server, "POST", "/_sandbox/reset", host)[0] == 200
    assert stats(server)["ewe"]["applied"] == {}


@pytest.mark.timeout(60)
def test_an_http_1_0_request_without_host_is_served(sandbox):
    server = sandbox()
    status, answer = http_request(server, "GET", "/_sandbox/stats", None, version="HTTP/1.0")
    assert status == 200 and b'"requests":' in answer


@pytest.mark.timeout(60)
@pytest.mark.parametrize(
    "host_lines",
    [[], ["127.0.0.1", "evil.example"], ["127.0.0.1:port"], ["::1"], ["127.0.0.1/x"]],
    ids=["missing", "two", "bad-port", "bare-ipv6", "slash"],
)
def test_an_http_1_1_request_needs_one_valid_host(sandbox, host_lines):
    server = sandbox()
    head = "GET /_sandbox/stats HTTP/1.1\r\n" + "".join(f"Host: {h}\r\n" for h in host_lines)
    answer = raw_exchange(server, (head + "Connection: close\r\n\r\n").encode())
    assert answer.startswith(b"HTTP/1.1 400 "), answer[:80]
    assert b'"requests"' not in answer


@pytest.mark.timeout(60)
def test_an_absolute_target_naming_a_foreign_host_is_421(sandbox):
    server = sandbox()
    target = f"http://evil.example:{server.server_port}/_sandbox/stats"
    assert http_request(server, "GET", target, f"127.0.0.1:{server.server_port}")[0] == 421
    target = f"http://127.0.0.1:{server.server_port}/_sandbox/stats"
    assert http_request(server, "GET", target, f"127.0.0.1:{server.server_port}")[0] == 200


@pytest.mark.timeout(60)
def test_a_foreign_host_expecting_100_continue_gets_421_not_continue(sandbox):
    server = sandbox()
    request = (b"POST " + EWE_PATH.encode() + b" HTTP/1.1\r\nHost: evil.example\r\n"
               b"Expect: 100-continue\r\nContent-Length: 50\r\n\r\n")
    with socket.create_connection(("127.0.0.1", server.server_port), timeout=TIMEOUT) as sock:
        sock.sendall(request)
        assert sock.recv(65536).startswith(b"HTTP/1.1 421 ")
    assert stats(server)["requests"] == 0


@pytest.mark.timeout(60)
def test_a_foreign_host_on_a_kept_alive_connection_is_refused_and_the_server_keeps_serving(
    sandbox,
):
    server = sandbox()
    connection = http.client.HTTPConnection("127.0.0.1", server.server_port, timeout=TIMEOUT)
    try:
        connection.request("GET", "/_sandbox/stats")
        served = connection.getresponse()
        assert served.status == 200
        served.read()
        connection.request("GET", "/_sandbox/stats", headers={"Host": "evil.example"})
        refused = connection.getresponse()
        assert refused.status == 421
        refused.read()
    finally:
        connection.close()
    assert requests.get(server.base_url + "/_sandbox/stats", timeout=TIMEOUT).ok


@pytest.mark.timeout(60)
def test_the_host_given_to_the_server_is_answered_too(sandbox):
    server = sandbox()
    # as if started with --host sandbox.test (a name the test machine need not resolve)
    server.host = "sandbox.test"
    assert http_request(server, "GET", "/_sandbox/stats", "Sandbox.Test:8765")[0] == 200
    assert http_request(server, "GET", "/_sandbox/stats", "other.test:8765")[0] == 421


@pytest.mark.timeout(60)
def test_a_wildcard_bind_also_answers_ip_addresses_but_no_foreign_name(sandbox):
    server = sandbox()
    # as if bound to --host 0.0.0.0, where other machines use one of this machine's addresses
    server.host, server.server_address = "0.0.0.0", ("0.0.0.0", server.server_port)
    assert http_request(server, "GET", "/_sandbox/stats", "192.0.2.7:8765")[0] == 200
    assert http_request(server, "GET", "/_sandbox/stats", "evil.example:8765")[0] == 421
    server.server_address = ("127.0.0.1", server.server_port)


# -- `shipctl sandbox --host` tells the truth ------------------------------------------------------
@pytest.mark.timeout(60)
@pytest.mark.parametrize("host", ["", " "])
def test_an_empty_host_is_a_usage_error_not_every_interface(cli, host):
    result = cli("sandbox", "--host", host, "--port", "0")
    assert result.code == 2
    assert result.err.startswith("error: --host is empty;")
    assert "0.0.0.0 for every IPv4 interface" in result.err
    assert result.out == ""


@pytest.mark.timeout(60)
@pytest.mark.shows_secrets  # the banner prints the public sandbox credentials
def test_the_banner_and_warning_of_a_wildcard_bind_say_where_it_listens(capsys):
    from shipctl.sandbox.serve import listening_on, print_banner

    with start_background() as server:
        port = server.server_port
        # what a bind to --host 0.0.0.0 reports, without opening a port beyond loopback
        server.host, server.server_address = "0.0.0.0", ("0.0.0.0", port)
        assert listening_on(server) == "0.0.0.0 (every IPv4 interface)"
        print_banner(server)
        banner = capsys.readouterr().out
        assert banner.startswith(
            f"shipctl sandbox listening on 0.0.0.0 (every IPv4 interface), port {port}\n"
            f"From this machine: http://127.0.0.1:{port}\n"
        )
        server.host, server.server_address = "::", ("::", port, 0, 0)
        assert listening_on(server) == ":: (every interface)"
        server.host, server.server_address = "myhost.lan", ("192.0.2.7", port)
        assert listening_on(server) == "myhost.lan (192.0.2.7)"
        server.host, server.server_address = "127.0.0.1", ("127.0.0.1", port)
        assert listening_on(server) == "127.0.0.1"


def test_every_providers_simulator_implements_the_contract():
    from shipctl.sandbox import Simulator, default_simulators

    simulators = default_simulators()
    assert simulators
    for simulator in simulators:
        assert isinstance(simulator, Simulator), simulator
        assert simulator.prefix.startswith("/") and not simulator.prefix.endswith("/")
