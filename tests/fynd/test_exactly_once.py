"""Fynd exactly once: a transition that may have been applied is read back, never sent again
blindly; a re-run sends only what did not succeed. Black-box: `shipctl fynd apply` and
`fynd transition` through a proxy on 127.0.0.1 in front of the sandbox, which can forward a
request and then lose its answer (the sandbox applied it), swallow a request, drop a
shipment from an answer, or refuse the shipment-details reads. What moved is read from the
simulator's state, not from shipctl's output."""

from __future__ import annotations

import json
import sqlite3
from http.server import BaseHTTPRequestHandler

import pytest
import requests
from factories import LoopbackServer, say_nothing


class Proxy(LoopbackServer):
    """Forwards to the sandbox. ``stall_puts``: the next N status PUTs are forwarded (applied)
    and their answers lost; ``swallow_puts``: the next N are not forwarded and get no answer;
    ``drop_from_answer``: shipment identifiers taken out of PUT answers; ``reads_fail``:
    shipment-details GETs are answered 503 without asking the sandbox."""

    def __init__(self, target: str) -> None:
        self.target = target.rstrip("/")
        self.stall_puts = 0
        self.swallow_puts = 0
        self.drop_from_answer: set[str] = set()
        self.reads_fail = False
        self.puts = 0
        self.reads = 0
        super().__init__(_ProxyHandler)


class _ProxyHandler(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"
    server: Proxy

    def log_message(self, *args: object) -> None:
        pass

    def _forward(self, method: str) -> None:
        proxy = self.server
        body = self.rfile.read(int(self.headers.get("Content-Length") or 0))
        headers = {k: v for k, v in self.headers.items()
                   if k.lower() not in ("host", "content-length", "connection")}
        is_put = method == "PUT"
        is_read = method == "GET" and "shipment-details" in self.path
        with proxy.lock:
            stall = swallow = False
            if is_put:
                proxy.puts += 1
                if proxy.swallow_puts:
                    proxy.swallow_puts -= 1
                    swallow = True
                elif proxy.stall_puts:
                    proxy.stall_puts -= 1
                    stall = True
            if is_read:
                proxy.reads += 1
                if proxy.reads_fail:
                    return self._answer(503, b'{"success": false, "message": "down"}')
        if swallow:
            return self._hold()
        answer = requests.request(method, proxy.target + self.path, data=body, headers=headers,
                                  timeout=10)
        if stall:
            return self._hold()
        content = answer.content
        if is_put and proxy.drop_from_answer:
            document = answer.json()
            for status in document.get("statuses", []):
                status["shipments"] = [s for s in status.get("shipments", [])
                                       if s.get("identifier") not in proxy.drop_from_answer]
            content = json.dumps(document).encode()
        self._answer(answer.status_code, content)

    def _hold(self) -> None:
        self.close_connection = True
        say_nothing(self.connection)

    def _answer(self, status: int, content: bytes) -> None:
        self.send_response(status)
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(content)))
        self.end_headers()
        self.wfile.write(content)

    def do_GET(self) -> None:  # noqa: N802 - http.server's name
        self._forward("GET")

    def do_PUT(self) -> None:  # noqa: N802
        self._forward("PUT")

    def do_POST(self) -> None:  # noqa: N802
        self._forward("POST")


@pytest.fixture
def proxied(sandbox, monkeypatch):
    """(sandbox, proxy): Fynd's settings point at the proxy in front of the sandbox."""
    server = sandbox()
    proxy = Proxy(server.settings()["fynd.url"])
    monkeypatch.setenv("SHIPCTL_FYND_URL", proxy.url)
    yield server, proxy
    proxy.close()


def fynd_state(server) -> dict:
    return requests.get(server.base_url + "/_sandbox/stats", timeout=10).json()["fynd"]


def partial(identifier: str, line: int = 1, quantity: int = 5, status: str = "bag_confirmed",
            rest: str | None = None) -> dict:
    """A partial move of QUANTITY units of LINE; the rest of the shipment stays (null)."""
    return {"statuses": [{"status": status, "exclude_bags_next_state": rest,
                          "shipments": [{"identifier": identifier, "products": [
                              {"line_number": line, "quantity": quantity}]}]}]}


def write(tmp_path, *bodies) -> str:
    path = tmp_path / "moves.jsonl"
    path.write_text("".join(json.dumps(b) + "\n" for b in bodies))
    return str(path)


def apply(cli, path, *flags):
    return cli("fynd", "apply", path, "--timeout", "1", "--rate", "0", *flags)


def line_units(server, shipment: str, line: int = 1) -> dict:
    return fynd_state(server)["bags"][shipment][str(line)]


@pytest.mark.timeout(120)
def test_a_partial_move_whose_answer_is_lost_is_verified_and_applied_once(cli, proxied,
                                                                           tmp_path,
                                                                           monkeypatch):
    import shipctl.http

    waits: list[float] = []
    monkeypatch.setattr(shipctl.http, "sleep", waits.append)
    server, proxy = proxied
    proxy.stall_puts = 1
    result = apply(cli, write(tmp_path, partial("800001")))
    assert result.code == 0, result.err
    assert waits == [2.0]  # Fynd's reads may trail its writes: a moment before reading back
    assert proxy.puts == 1  # never sent twice
    assert line_units(server, "800001") == {"bag_confirmed": 5, "placed": 5}
    assert fynd_state(server)["transitions"] == {"800001": 1}
    assert "applied (verified after: sent; " in result.err
    assert "Fynd may have applied it" in result.err and "not delivered" not in result.err


@pytest.mark.timeout(120)
def test_a_request_that_never_arrived_is_verified_and_sent_again(cli, proxied, tmp_path):
    server, proxy = proxied
    proxy.swallow_puts = 1
    result = apply(cli, write(tmp_path, partial("800002")))
    assert result.code == 0, result.err
    assert proxy.puts == 2
    assert line_units(server, "800002") == {"bag_confirmed": 5, "placed": 5}


@pytest.mark.timeout(120)
def test_unverifiable_is_unknown_then_a_rerun_verifies_it_and_sends_nothing_twice(
        cli, proxied, tmp_path):
    server, proxy = proxied
    proxy.stall_puts = 1
    proxy.reads_fail = True
    journal = tmp_path / "fynd.db"
    path = write(tmp_path, partial("800003"),
                 {"statuses": [{"status": "bag_invoiced",
                                "shipments": [{"identifier": "800003"}]}]})
    first = apply(cli, path, "--journal", journal, "-o", "json")
    assert first.code == 1
    document = json.loads(first.out)
    assert [r["status"] for r in document["results"]] == ["unknown", "blocked"]
    assert document["summary"]["unknown"] == 1
    assert "could not verify" in document["results"][0]["message"]
    assert "--resend-unknown" in first.err
    with sqlite3.connect(journal) as conn:
        statuses = sorted(row[0] for row in conn.execute("SELECT status FROM items"))
    assert statuses == ["blocked", "unknown", "unknown"]  # the body and its one shipment
    # still unreadable: nothing is sent, it stays unknown
    second = apply(cli, path, "--journal", journal)
    assert second.code == 1 and proxy.puts == 1
    assert "still not verifiable" in second.err
    # readable: the first is found applied (not sent again), the second goes
    proxy.reads_fail = False
    third = apply(cli, path, "--journal", journal)
    assert third.code == 0, third.err
    assert proxy.puts == 2
    assert "applied in an earlier run (verified: " in third.err
    assert fynd_state(server)["transitions"] == {"800003": 2}
    assert line_units(server, "800003") == {"bag_invoiced": 5, "placed": 5} or line_units(
        server, "800003") == {"dp_assigned": 5, "placed": 5}


@pytest.mark.timeout(120)
def test_resend_unknown_sends_without_reading(cli, proxied, tmp_path):
    server, proxy = proxied
    proxy.swallow_puts = 1
    proxy.reads_fail = True
    journal = tmp_path / "fynd.db"
    path = write(tmp_path, partial("800004"))
    assert apply(cli, path, "--journal", journal).code == 1
    reads = proxy.reads
    result = apply(cli, path, "--journal", journal, "--resend-unknown")
    assert result.code == 0, result.err
    assert proxy.reads == reads and proxy.puts == 2
    assert line_units(server, "800004") == {"bag_confirmed": 5, "placed": 5}


@pytest.mark.timeout(120)
def test_a_shipment_missing_from_the_answer_is_not_a_success_until_verified(cli, proxied,
                                                                            tmp_path):
    server, proxy = proxied
    proxy.drop_from_answer = {"800006"}
    body = {"statuses": [{"status": "bag_confirmed", "shipments": [
        {"identifier": "800005"}, {"identifier": "800006"}]}]}
    result = apply(cli, write(tmp_path, body), "-o", "json")
    assert result.code == 0, result.err
    record = json.loads(result.out)["results"][0]
    assert record["status"] == "succeeded"
    assert "leaves out shipment(s) 800006" in record["message"] and "verified" in record[
        "message"]
    assert proxy.puts == 1 and fynd_state(server)["transitions"] == {"800005": 1, "800006": 1}
    # and when it cannot be read back, it is unknown, not ok
    proxy.drop_from_answer = {"800008"}
    proxy.reads_fail = True
    body = {"statuses": [{"status": "bag_confirmed", "shipments": [
        {"identifier": "800007"}, {"identifier": "800008"}]}]}
    result = apply(cli, write(tmp_path, body), "-o", "json")
    assert result.code == 1
    assert json.loads(result.out)["results"][0]["status"] == "unknown"


@pytest.mark.timeout(120)
def test_a_rerun_sends_only_the_shipments_of_a_body_that_did_not_succeed(cli, proxied,
                                                                         tmp_path):
    server, proxy = proxied
    journal = tmp_path / "fynd.db"
    # 700001: a partial cancellation that succeeds; 700002: invoiced straight from placed,
    # which Fynd refuses ("Invalid State Transition") until it is confirmed
    body = {"statuses": [
        {"status": "bag_not_confirmed", "exclude_bags_next_state": None, "shipments": [
            {"identifier": "700001", "products": [{"line_number": 1, "quantity": 5}],
             "reasons": {"products": [{"filters": [{"line_number": 1, "quantity": 5}],
                                       "data": {"reason_id": 1,
                                                "reason_text": "Product Not Available"}}]}}]},
        {"status": "bag_invoiced", "shipments": [{"identifier": "700002"}]},
    ]}
    path = write(tmp_path, body)
    first = apply(cli, path, "--journal", journal)
    assert first.code == 1
    assert line_units(server, "700001")["bag_not_confirmed"] == 5
    confirm = cli("fynd", "transition", "700002", "--to", "bag_confirmed")
    assert confirm.code == 0, confirm.err
    second = apply(cli, path, "--journal", journal, "-o", "json")
    assert second.code == 0, second.err
    record = json.loads(second.out)["results"][0]
    assert "left out 700001: already succeeded (journal)" in record["message"]
    # 700001's line 1 still has 5 cancelled, not 10
    assert line_units(server, "700001")["bag_not_confirmed"] == 5
    assert fynd_state(server)["transitions"]["700001"] == 1


# -- fynd transition: the same, for one request built from flags --------------------------------


@pytest.mark.timeout(120)
def test_a_partial_cancellation_whose_answer_is_lost_cancels_five_units_not_ten(cli, proxied):
    server, proxy = proxied
    proxy.stall_puts = 1
    result = cli("fynd", "transition", "800011", "--to", "bag_not_confirmed", "--line", "1:5",
                 "--reason", "1:Product Not Available@1:5", "--exclude-next-state", "null",
                 "--timeout", "1")
    assert result.code == 0, result.err
    assert proxy.puts == 1
    assert line_units(server, "800011") == {"bag_not_confirmed": 5, "placed": 5}
    assert "800011  succeeded  verified: " in result.out
    assert "applied (verified after: sent; " in result.err


@pytest.mark.timeout(120)
def test_a_transition_that_cannot_be_verified_is_unknown_and_not_sent_twice(cli, proxied):
    server, proxy = proxied
    proxy.stall_puts = 1
    proxy.reads_fail = True
    result = cli("fynd", "transition", "800012", "--to", "bag_confirmed", "--timeout", "1",
                 "-o", "json")
    assert result.code == 1
    document = json.loads(result.out)
    assert document["status"] == "unknown" and document["exit_code"] == 1
    assert document["shipments"] == [{"identifier": "800012", "status": "unknown",
                                      "message": document["shipments"][0]["message"]}]
    assert "Fynd may have applied it" in document["message"]
    assert "not delivered" not in result.all
    assert proxy.puts == 1 and fynd_state(server)["transitions"] == {"800012": 1}


@pytest.mark.timeout(120)
def test_a_transition_that_never_arrived_is_sent_again_once(cli, proxied):
    server, proxy = proxied
    proxy.swallow_puts = 1
    result = cli("fynd", "transition", "800013", "--to", "bag_confirmed", "--timeout", "1")
    assert result.code == 0, result.err
    assert proxy.puts == 2 and fynd_state(server)["transitions"] == {"800013": 1}


@pytest.mark.timeout(240)
def test_a_thousand_partial_moves_under_faults_and_stalls_each_move_once(cli, sandbox, tmp_path,
                                                                         monkeypatch):
    import shipctl.http

    monkeypatch.setattr(shipctl.http, "sleep", lambda seconds: None)  # back-offs: no waiting
    # a fifth of all requests (token, transitions, reads) faulted: a 503, a reset, a
    # "temporarily unavailable", or a stall that applies the transition and loses its answer
    server = sandbox(fail_rate=0.2, fail_mode="any", seed=17)
    names = [f"Q-{n:04d}" for n in range(1000)]
    path = write(tmp_path, *(partial(name) for name in names))
    report = tmp_path / "report.jsonl"
    result = apply(cli, path, "--jobs", "16", "--retries", "12", "--report", report)
    assert result.code == 0, result.err[-3000:]
    state = fynd_state(server)
    assert state["transitions"] == dict.fromkeys(names, 1)
    assert {name: state["bags"][name]["1"] for name in names} == dict.fromkeys(
        names, {"bag_confirmed": 5, "placed": 5})
    stats = requests.get(server.base_url + "/_sandbox/stats", timeout=10).json()
    assert stats["faults"]["stall"] > 10  # stalls did happen, and were verified
    records = [json.loads(line) for line in report.read_text().splitlines()]
    assert {r["status"] for r in records} == {"succeeded"}
    assert sum("verified" in r["message"] for r in records) >= 10


@pytest.mark.timeout(60)
def test_a_transition_that_cannot_connect_is_not_delivered_and_json_still_says_so(
        cli, sandbox, monkeypatch):
    import socket

    sandbox()
    with socket.socket() as probe:  # a port nobody listens on
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
    monkeypatch.setenv("SHIPCTL_FYND_URL", f"http://127.0.0.1:{port}")
    result = cli("fynd", "transition", "800020", "--to", "bag_confirmed", "--retries", "0",
                 "-o", "json")
    assert result.code in (1, 2)
    if result.out:  # the token request fails first here (exit 2); a PUT never went out
        assert json.loads(result.out)["ok"] is False
