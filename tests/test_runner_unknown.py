"""The runner and a provider whose call is not idempotent (``BulkProvider.idempotent = False``,
as Fynd's transition): a request that may have been applied is verified, never sent again
blindly; what cannot be verified is ``unknown`` in every output, the journal included, and a
re-run verifies it before sending. Over real HTTP, against a server on 127.0.0.1 that can
apply a request and then say nothing (a stall): what it applied is counted."""

from __future__ import annotations

import json
import sqlite3
from collections.abc import Iterable, Iterator
from http.server import BaseHTTPRequestHandler
from urllib.parse import parse_qs, urlsplit

import pytest
from factories import LoopbackServer, say_nothing

from shipctl import batch, http, runner
from shipctl.app import Application
from shipctl.runner import Auth, BulkProvider, RunOptions, Verdict


class MovingApi(LoopbackServer):
    """PUT /apply moves body "n" (counted in ``applied``); a body with "stall" gets no answer
    for its first ``stall_times`` requests: "apply" applies it first, "drop" does not.
    GET /applied?n=N says how often N was applied; 503 while ``unreadable`` is set."""

    def __init__(self, handler: type[BaseHTTPRequestHandler] | None = None) -> None:
        self.applied: dict[int, int] = {}
        self.received: dict[int, int] = {}
        self.reads = 0
        self.unreadable = False
        super().__init__(handler or _Handler)


class _Handler(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"
    server: MovingApi

    def log_message(self, *args: object) -> None:
        pass

    def do_PUT(self) -> None:  # noqa: N802 - http.server's name
        body = json.loads(self.rfile.read(int(self.headers.get("Content-Length", 0))))
        api, n = self.server, body["n"]
        with api.lock:
            api.received[n] = api.received.get(n, 0) + 1
            stall = body.get("stall") if api.received[n] <= body.get("stall_times", 1) else None
            if stall != "drop":
                api.applied[n] = api.applied.get(n, 0) + 1
        if stall:
            self.close_connection = True
            return say_nothing(self.connection)
        self.answer(200, {"ok": True})

    def do_GET(self) -> None:  # noqa: N802
        api = self.server
        n = int(parse_qs(urlsplit(self.path).query)["n"][0])
        with api.lock:
            api.reads += 1
            if api.unreadable:
                return self.answer(503, {"error": "down"})
            count = api.applied.get(n, 0)
        self.answer(200, {"applied": count})

    def answer(self, status: int, document: dict) -> None:
        data = json.dumps(document).encode()
        self.send_response(status)
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(data)))
        self.end_headers()
        self.wfile.write(data)


class Moves(BulkProvider):
    api = "Moves"
    command = "moves apply"
    invalid_blocks_keys = True
    idempotent = False

    def __init__(self, api: MovingApi) -> None:
        self.server = api

    def connect(self, app: Application, run=None) -> Auth:
        self.url = self.server.url + "/apply"
        return Auth()

    def jobs(self, items: Iterable, warn) -> Iterator[batch.Job]:
        for item in items:
            body = item.data
            yield batch.Job(id=f"body-{body['n']}", keys=tuple(body["shipments"]),
                            label=str(body["n"]), where=item.where(), payload=body)

    def call(self, job: batch.Job) -> http.Call:
        return http.Call("PUT", self.url, {"Content-Type": "application/json"},
                         json.dumps(job.payload).encode())

    def outcome(self, response, job) -> batch.Outcome:
        return batch.Outcome(response.status_code == 200, f"HTTP {response.status_code}")

    def verify(self, job: batch.Job, read) -> Verdict:
        n = job.payload["n"]
        delivery = read(http.Call("GET", f"{self.server.url}/applied?n={n}"))
        if delivery.response is None or delivery.response.status_code != 200:
            what = delivery.error or f"HTTP {delivery.response.status_code}"
            return Verdict(None, f"body {n} could not be read: {what}")
        count = delivery.response.json()["applied"]
        return Verdict(count > 0, f"body {n} applied {count} time(s)")


@pytest.fixture
def api():
    server = MovingApi()
    yield server
    server.close()


def run(api: MovingApi, tmp_path, bodies: list[dict], **flags) -> int:
    path = tmp_path / "bodies.jsonl"
    path.write_text("".join(json.dumps(body) + "\n" for body in bodies))
    app = Application()
    app.use(json_mode=flags.pop("json_mode", False))
    options = RunOptions(paths=[str(path)], rate=0, timeout=0.5, retries=2, **flags)
    return runner.run(app, Moves(api), options)


def journal_rows(path) -> dict[str, tuple[str, str]]:
    with sqlite3.connect(path) as conn:
        return {row[0]: (row[1], row[2])
                for row in conn.execute("SELECT id, status, message FROM items")}


@pytest.mark.timeout(60)
def test_applied_then_stalled_is_verified_and_not_sent_again(api, tmp_path, capsys):
    assert run(api, tmp_path, [{"n": 1, "shipments": ["S1"], "stall": "apply"}]) == 0
    assert api.received == {1: 1} and api.applied == {1: 1}
    err = capsys.readouterr().err
    assert "succeeded" in err and "applied (verified after: sent; " in err
    assert "body 1 applied 1 time(s)" in err and "not delivered" not in err


@pytest.mark.timeout(60)
def test_stalled_without_applying_is_verified_and_sent_again_once(api, tmp_path, capsys):
    assert run(api, tmp_path, [{"n": 1, "shipments": ["S1"], "stall": "drop"}]) == 0
    assert api.received == {1: 2} and api.applied == {1: 1}


@pytest.mark.timeout(60)
def test_unverifiable_is_unknown_everywhere_and_blocks_its_keys(api, tmp_path, capsys):
    api.unreadable = True
    journal, report = tmp_path / "j.db", tmp_path / "r.jsonl"
    bodies = [{"n": 1, "shipments": ["S1"], "stall": "apply"}, {"n": 2, "shipments": ["S1"]},
              {"n": 3, "shipments": ["S2"]}]
    code = run(api, tmp_path, bodies, journal=journal, report=report, jobs=1, json_mode=True)
    assert code == 1
    captured = capsys.readouterr()
    document = json.loads(captured.out)
    statuses = {r["label"]: r["status"] for r in document["results"]}
    assert statuses == {"1": "unknown", "2": "blocked", "3": "succeeded"}
    assert document["summary"]["unknown"] == 1 and document["summary"]["exit_code"] == 1
    unknown = next(r for r in document["results"] if r["label"] == "1")
    assert unknown["message"].startswith("sent; ") and "Moves may have applied it" in unknown[
        "message"] and "could not verify: body 1 could not be read: HTTP 503" in unknown[
        "message"]
    blocked = next(r for r in document["results"] if r["label"] == "2")
    assert blocked["message"].endswith("(S1) has an unknown outcome")
    assert api.received == {1: 1, 3: 1}  # 1 sent once, 2 never
    assert journal_rows(journal)["body-1"][0] == "unknown"
    assert [json.loads(line)["status"] for line in report.read_text().splitlines()] == [
        "unknown", "blocked", "succeeded"]
    assert "1 item(s) sent with an unknown outcome" in captured.err
    assert "--resend-unknown" in captured.err


@pytest.mark.timeout(60)
def test_a_rerun_verifies_an_unknown_item_before_sending_it(api, tmp_path, capsys):
    api.unreadable = True
    journal = tmp_path / "j.db"
    bodies = [{"n": 1, "shipments": ["S1"], "stall": "apply"}, {"n": 2, "shipments": ["S1"]}]
    assert run(api, tmp_path, bodies, journal=journal, jobs=1) == 1
    # still unreadable: not sent, still unknown, and body 2 still waits behind it
    assert run(api, tmp_path, bodies, journal=journal, jobs=1) == 1
    assert api.received == {1: 1}
    err = capsys.readouterr().err
    assert "still not verifiable" in err and "--resend-unknown sends it anyway" in err
    assert journal_rows(journal)["body-1"][0] == "unknown"
    # readable again: 1 is found applied (not sent), then 2 goes
    api.unreadable = False
    assert run(api, tmp_path, bodies, journal=journal, jobs=1) == 0
    assert api.received == {1: 1, 2: 1} and api.applied == {1: 1, 2: 1}
    assert "applied in an earlier run (verified: body 1 applied 1 time(s)); not sent again" in (
        capsys.readouterr().err)
    assert journal_rows(journal)["body-1"][0] == "succeeded"


@pytest.mark.timeout(60)
def test_resend_unknown_sends_without_checking(api, tmp_path):
    api.unreadable = True
    journal = tmp_path / "j.db"
    bodies = [{"n": 1, "shipments": ["S1"], "stall": "drop"}]
    assert run(api, tmp_path, bodies, journal=journal) == 1
    reads = api.reads
    assert run(api, tmp_path, bodies, journal=journal, resend_unknown=True) == 0
    assert api.received == {1: 2} and api.applied == {1: 1}
    assert api.reads == reads  # sent at once, not read first


@pytest.mark.timeout(60)
def test_an_unknown_row_is_not_overwritten_by_blocked(tmp_path):
    from shipctl.journal import Journal

    journal = Journal.open(tmp_path / "j.db", command="t")
    common = {"key": None, "label": "x", "where": "w", "code": None, "attempts": 1}
    journal.record(item_id="a", status="unknown", message="sent; …", **common)
    journal.record(item_id="a", status="blocked", message="not sent", **common)
    assert journal.status("a") == "unknown"
    journal.record(item_id="a", status="failed", message="verified not applied", **common)
    assert journal.status("a") == "failed"
    journal.close()


@pytest.mark.timeout(60)
def test_an_idempotent_provider_keeps_its_retries(api, tmp_path):
    class Sets(Moves):
        idempotent = True

    path = tmp_path / "bodies.jsonl"
    path.write_text(json.dumps({"n": 1, "shipments": ["S1"], "stall": "apply"}) + "\n")
    options = RunOptions(paths=[str(path)], rate=0, timeout=0.5, retries=2)
    assert runner.run(Application(), Sets(api), options) == 0
    assert api.received == {1: 2} and api.applied == {1: 2}  # the stall, then a retry


# -- jobs of several parts, journaled one by one (a Fynd body's shipments) ---------------------


class PartsApi(MovingApi):
    """PUT /apply moves each shipment of the body: {"results": {shipment: true|false}}. A
    shipment in "fail_first" fails the first time it is asked; moves are counted."""

    def __init__(self) -> None:
        self.moved: dict[str, int] = {}
        self.asked: dict[str, int] = {}
        super().__init__(_PartsHandler)


class _PartsHandler(_Handler):
    server: PartsApi

    def do_PUT(self) -> None:  # noqa: N802
        body = json.loads(self.rfile.read(int(self.headers.get("Content-Length", 0))))
        api, results = self.server, {}
        with api.lock:
            for shipment in body["shipments"]:
                api.asked[shipment] = api.asked.get(shipment, 0) + 1
                ok = not (shipment in body.get("fail_first", []) and api.asked[shipment] == 1)
                if ok:
                    api.moved[shipment] = api.moved.get(shipment, 0) + 1
                results[shipment] = ok
        self.answer(200, {"results": results})


class PartsMoves(Moves):
    def jobs(self, items, warn):
        for job in super().jobs(items, warn):
            job.parts = {f"{job.id}/{s}": s for s in job.payload["shipments"]}
            yield job

    def only(self, job, parts):
        keep = [job.parts[p] for p in parts]
        narrowed = batch.Job(id=job.id, keys=job.keys, label=job.label, where=job.where,
                             payload={**job.payload, "shipments": keep},
                             parts={p: job.parts[p] for p in parts})
        narrowed.previous, narrowed.previous_parts = job.previous, job.previous_parts
        return narrowed

    def outcome(self, response, job):
        results = response.json()["results"]
        parts = {p: batch.Part("succeeded" if results.get(s) else "failed", s,
                               "moved" if results.get(s) else "refused")
                 for p, s in job.parts.items()}
        failed = [s for s, ok in results.items() if not ok]
        return batch.Outcome(not failed, f"refused: {' '.join(failed)}" if failed else "moved",
                             parts=parts)


@pytest.mark.timeout(60)
def test_a_rerun_sends_only_the_parts_that_did_not_succeed(tmp_path, capsys):
    server = PartsApi()
    try:
        journal = tmp_path / "j.db"
        path = tmp_path / "bodies.jsonl"
        path.write_text(json.dumps({"n": 1, "shipments": ["700001", "700002"],
                                    "fail_first": ["700002"]}) + "\n")

        def run_once() -> int:
            options = RunOptions(paths=[str(path)], rate=0, timeout=5, journal=journal)
            return runner.run(Application(), PartsMoves(server), options)

        assert run_once() == 1
        rows = journal_rows(journal)
        assert rows["body-1/700001"][0] == "succeeded" and rows["body-1/700002"][0] == "failed"
        assert rows["body-1"][0] == "failed"
        capsys.readouterr()
        assert run_once() == 0
        assert server.moved == {"700001": 1, "700002": 1}  # 700001 was not sent again
        assert server.asked == {"700001": 1, "700002": 2}
        err = capsys.readouterr().err
        assert "left out 700001: already succeeded (journal); moved" in err
        assert journal_rows(journal)["body-1"][0] == "succeeded"
        # a third run sends nothing at all
        assert run_once() == 0 and server.asked == {"700001": 1, "700002": 2}
    finally:
        server.close()
