"""`ecom listen --forward-to`: the durable relay over real HTTP and real processes.
The downstream is a small recording server in this process; "down" is its port bound but
not listening (connections refused), so the port stays ours until it comes up."""

from __future__ import annotations

import base64
import json
import signal
import socket
import sqlite3
import time
from http.server import BaseHTTPRequestHandler

import pytest
from factories import LoopbackServer, ecom_scan

from ecom.test_listen import PASSWORD, USER
from ecom.test_listen import listener as listener  # noqa: F401 - the fixture

pytestmark = pytest.mark.timeout(20)
FAST = ("--forward-backoff", "0.1s,0.4s")


class Downstream:
    """A webhook that records every request it gets, in arrival order. ``status`` answers
    (a function of the push's number, so a test can fail some); ``delay`` per request."""

    def __init__(self, port: int = 0, *, status=lambda number: 200, delay: float = 0.0):
        self.got: list[tuple[str, bytes, dict]] = []  # (number, body, headers)
        self.answered: list[str] = []
        outer = self

        class Handler(BaseHTTPRequestHandler):
            protocol_version = "HTTP/1.1"

            def log_message(self, *args):
                pass

            def do_POST(self):
                body = self.rfile.read(int(self.headers.get("Content-Length") or 0))
                number = json.loads(body)["status_update_number"]
                headers = {name.lower(): value for name, value in self.headers.items()}
                with outer.lock:
                    outer.got.append((number, body, headers))
                time.sleep(delay)
                code = status(number)
                self.send_response(code)
                self.send_header("Content-Length", "2")
                self.end_headers()
                self.wfile.write(b"{}")
                with outer.lock:
                    outer.answered.append(number)

        self.server = LoopbackServer(Handler, port=port)
        self.lock = self.server.lock
        self.url = self.server.url + "/hook"

    def numbers(self) -> list[str]:
        with self.lock:
            return [number for number, _, _ in self.got]

    def wait_for(self, count: int, seconds: float = 30) -> None:
        deadline = time.monotonic() + seconds
        while len(set(self.numbers())) < count:
            assert time.monotonic() < deadline, f"got {self.numbers()}"
            time.sleep(0.05)

    def close(self) -> None:
        self.server.close()


@pytest.fixture
def down_port():
    """A port that refuses connections until the test frees it (``.close()``)."""
    sock = socket.socket()
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    sock.bind(("127.0.0.1", 0))
    yield sock
    sock.close()


@pytest.fixture
def downstreams():
    started: list[Downstream] = []

    def start(*args, **kwargs) -> Downstream:
        started.append(Downstream(*args, **kwargs))
        return started[-1]

    yield start
    for each in started:
        each.close()


@pytest.fixture
def listeners(listener):
    """``listeners(store, *args)``: ``listener`` on a store the test names."""
    return lambda store, *args: listener(*args, store=store)


def twelve_over_three_awbs() -> list[dict]:
    return [ecom_scan(number=str(5000 + n), awb=f"80123456{n % 3}", status=f"step {n // 3}")
            for n in range(12)]


def per_awb(numbers: list[str], pushes: list[dict]) -> dict[str, list[str]]:
    awb_of = {p["status_update_number"]: p["awb"] for p in pushes}
    order: dict[str, list[str]] = {}
    for number in numbers:
        order.setdefault(awb_of[number], []).append(number)
    return order


def fill(path, count: int, awbs: int, pad: int = 0) -> None:
    """``count`` pending pushes of ``awbs`` AWBs, stored as ``ecom listen --forward-to``
    stores them (the forward state in the same commit)."""
    from shipctl.ecom.receive.receiver import Push
    from shipctl.ecom.receive.store import Store

    with Store(path, forwarding=True) as store:
        futures = []
        for n in range(count):
            awb, number = f"80{n % awbs:08d}", str(10_000_000 + n)
            body = json.dumps(ecom_scan(number=number, awb=awb, pad="x" * pad)).encode()
            futures.append(store.add(Push(
                body=body, headers=[("authorization", "[redacted]")], awb=awb,
                datetime="2024-03-01 19:40:05", status_update_number=number,
                reason_code_number="002")))
        for future in futures:
            assert future.result(timeout=30) is True


def rss_mb(pid: int) -> float:
    with open(f"/proc/{pid}/status") as status:
        kb = next(int(line.split()[1]) for line in status if line.startswith("VmRSS:"))
    return kb / 1024


def wait_until(predicate, seconds: float = 30) -> None:
    deadline = time.monotonic() + seconds
    while not predicate():
        assert time.monotonic() < deadline
        time.sleep(0.05)


def test_down_downstream_restart_then_up_each_push_arrives_once_in_awb_order(
        tmp_path, listeners, downstreams, down_port):
    port = down_port.getsockname()[1]
    url = f"http://127.0.0.1:{port}/hook"
    store = tmp_path / "pushes.sqlite3"
    pushes = twelve_over_three_awbs()
    first = listeners(store, "--forward-to", url, *FAST)
    for document in pushes:
        assert first.post(document).status_code == 200
    wait_until(lambda: "attempt 2," in first.log)
    assert first.stop() == 0
    assert "retrying (connection refused" in first.log
    assert "12 push(es) not yet forwarded" in first.log

    second = listeners(store, "--forward-to", url, *FAST)
    # said by the relay's thread once it has the store: a moment after the listener is up
    resumed = "12 push(es) to forward to " + url + " from an earlier run, resumed"
    wait_until(lambda: resumed in second.log)
    down_port.close()
    downstream = downstreams(port)
    downstream.wait_for(12)
    time.sleep(1)  # time for a repeat to show, if there were one
    assert second.stop() == 0
    got = downstream.numbers()
    assert sorted(got) == sorted(p["status_update_number"] for p in pushes)  # each once
    assert per_awb(got, pushes) == per_awb([p["status_update_number"] for p in pushes], pushes)
    sent = {p["status_update_number"]: json.dumps(p).encode() for p in pushes}
    assert all(body == sent[number] for number, body, _ in downstream.got)  # bytes as received
    # with the credentials Ecom sent (the store holds them redacted; they are this listener's)
    expected = "Basic " + base64.b64encode(f"{USER}:{PASSWORD}".encode()).decode()
    assert {headers["authorization"] for _, _, headers in downstream.got} == {expected}
    assert second.log.count("forwarded awb ") == 12
    connection = sqlite3.connect(store)
    assert connection.execute("SELECT state, count(*) FROM forwards GROUP BY 1").fetchall() == [
        ("forwarded", 12)]


def test_a_non_2xx_is_retried_and_holds_the_later_pushes_of_its_awb_only(
        tmp_path, listeners, downstreams):
    failing = {"6001"}  # the first push of AWB A fails until the test lets it through
    downstream = downstreams(status=lambda number: 500 if number in failing else 200)
    front = listeners(tmp_path / "s.db", "--forward-to", downstream.url, *FAST)
    assert front.post(ecom_scan(number="6001", awb="A")).status_code == 200
    assert front.post(ecom_scan(number="6002", awb="A")).status_code == 200
    assert front.post(ecom_scan(number="7001", awb="B")).status_code == 200
    wait_until(lambda: "7001" in downstream.numbers() and "attempt 3," in front.log)
    assert "6002" not in downstream.numbers()  # held behind 6001
    failing.clear()
    downstream.wait_for(3)
    assert front.stop() == 0
    got = downstream.numbers()
    assert [n for n in got if n != "7001"] == ["6001"] * got.count("6001") + ["6002"]
    assert got.count("6001") >= 3 and got.count("6002") == 1 and got.count("7001") == 1
    assert ("forward of awb A status_update_number 6001 to " + downstream.url
            + " failed: retrying (HTTP 500, attempt 1, next in ") in front.log
    assert f"forwarded awb A status_update_number 6001 to {downstream.url}: HTTP 200" \
        in front.log
    # a 500 is never called forwarded
    assert not [line for line in front.lines if "forwarded" in line and "HTTP 500" in line]


def test_dead_after_the_retry_window_then_retry_dead_sends_it_once(
        tmp_path, listeners, downstreams, cli):
    failing = {"6001"}
    downstream = downstreams(status=lambda number: 503 if number in failing else 200)
    store = tmp_path / "s.db"
    front = listeners(store, "--forward-to", downstream.url, *FAST,
                      "--forward-retry-for", "1s")
    assert front.post(ecom_scan(number="6001", awb="A")).status_code == 200
    assert front.post(ecom_scan(number="6002", awb="A")).status_code == 200
    wait_until(lambda: "dead: awb A status_update_number 6001" in front.log)
    assert "--retry-dead sends it again" in front.log
    status = cli("ecom", "forward", "--store", store)
    assert status.code == 0
    assert "pending 1 (held behind an earlier push of their AWB: 1), forwarded 0, dead 1" \
        in status.out
    assert "dead: awb A status_update_number 6001" in status.out
    unforwarded = cli("ecom", "export", "--store", store, "--unforwarded")
    assert [json.loads(line)["status_update_number"] for line in
            unforwarded.out.splitlines()] == ["6001", "6002"]
    assert "6002" not in downstream.numbers()
    tries = downstream.numbers().count("6001")

    failing.clear()
    again = cli("ecom", "forward", "--store", store, "--retry-dead")
    assert again.code == 0 and "1 dead push(es) pending again" in again.err
    wait_until(lambda: "6002" in downstream.numbers())
    time.sleep(0.5)
    assert front.stop() == 0
    assert downstream.numbers() == ["6001"] * (tries + 1) + ["6002"]
    assert cli("ecom", "export", "--store", store, "--unforwarded").out == ""
    assert "forwarded 2, dead 0" in cli("ecom", "forward", "--store", store).out


def test_kill_9_mid_delivery_repeats_at_most_the_pushes_in_flight(
        tmp_path, listeners, downstreams):
    slow = downstreams(delay=0.3)
    store = tmp_path / "s.db"
    pushes = [ecom_scan(number=str(8000 + n), awb=f"AWB{n % 10}") for n in range(40)]
    front = listeners(store, "--forward-to", slow.url, "--forward-concurrency", "4", *FAST)
    for document in pushes:
        assert front.post(document).status_code == 200
    wait_until(lambda: len(slow.numbers()) >= 8)
    front.proc.send_signal(signal.SIGKILL)
    front.proc.wait(10)
    with slow.lock:
        started_before_kill = len(slow.got)
    time.sleep(0.5)  # let the downstream finish the requests the killed relay had sent

    again = listeners(store, "--forward-to", slow.url, "--forward-concurrency", "4", *FAST)
    slow.wait_for(40)
    time.sleep(0.5)
    assert again.stop() == 0
    got = slow.numbers()
    repeated = [number for number in set(got) if got.count(number) > 1]
    assert sorted(set(got)) == sorted(p["status_update_number"] for p in pushes)
    # only deliveries in flight at the kill (4 at once) can have gone twice
    assert len(repeated) <= 4, repeated
    assert all(got.index(number) < started_before_kill for number in repeated)
    # and per AWB the first deliveries kept the order of arrival
    firsts = list(dict.fromkeys(got))
    assert per_awb(firsts, pushes) == per_awb([p["status_update_number"] for p in pushes],
                                              pushes)


def test_a_second_listener_on_the_store_stands_by_instead_of_sending_twice(
        tmp_path, listeners, downstreams, down_port):
    port = down_port.getsockname()[1]
    url = f"http://127.0.0.1:{port}/hook"
    store = tmp_path / "s.db"
    first = listeners(store, "--forward-to", url, *FAST)
    second = listeners(store, "--forward-to", url, *FAST)
    wait_until(lambda: "another ecom listen relays this store" in second.log)
    for n in range(6):
        assert (first if n % 2 else second).post(ecom_scan(number=str(9000 + n))).status_code == 200
    down_port.close()
    downstream = downstreams(port)
    downstream.wait_for(6)
    time.sleep(0.5)
    assert first.stop() == 0 and second.stop() == 0
    assert sorted(downstream.numbers()) == [str(9000 + n) for n in range(6)]


@pytest.mark.parametrize("flag, value", [("--forward-backoff", "soon"),
                                         ("--forward-backoff", "10s,1s"),
                                         ("--forward-retry-for", "0s")])
def test_a_schedule_that_cannot_work_is_a_usage_error(shipctl_proc, tmp_path, flag, value):
    result = shipctl_proc("ecom", "listen", "--port", "0", "--store", tmp_path / "s.db",
                          "--username", USER, "--password-stdin", "--forward-to",
                          "http://127.0.0.1:9/", flag, value, input=PASSWORD + "\n",
                          timeout=20)
    assert result.code == 2, result.all
    assert f"{flag} {value}: " in result.err and "Traceback" not in result.err


@pytest.mark.timeout(60)  # 10,000 pushes to write first: a loaded CI machine needs the room
def test_memory_stays_flat_with_10000_pushes_queued_behind_a_down_downstream(
        tmp_path, listeners, down_port):
    """The relay reads bodies from the store when they are due: 10,000 queued pushes of 4 KB
    (40 MB of bodies) cost the listener next to nothing (measured: +3 MB; the bound is loose
    for a loaded machine), where a queue in memory grew by the bodies' size."""
    url = f"http://127.0.0.1:{down_port.getsockname()[1]}/hook"
    empty, queued = tmp_path / "empty.sqlite3", tmp_path / "queued.sqlite3"
    fill(empty, 0, 1)
    fill(queued, 10_000, 1000, pad=4096)
    idle = listeners(empty, "--forward-to", url, "--forward-backoff", "1s,5s")
    busy = listeners(queued, "--forward-to", url, "--forward-backoff", "1s,5s")
    wait_until(lambda: "10000 push(es) to forward to" in busy.log)  # the relay's thread says it
    wait_until(lambda: busy.log.count("attempt 1,") >= 1000)  # every AWB tried once
    time.sleep(1)
    growth = rss_mb(busy.proc.pid) - rss_mb(idle.proc.pid)
    assert busy.stop() == 0 and idle.stop() == 0
    assert growth < 20, f"+{growth:.1f} MB"
    assert "10000 push(es) not yet forwarded" in busy.log
