"""`shipctl fynd apply` end to end over real HTTP against the sandbox on 127.0.0.1."""

from __future__ import annotations

import json

import pytest
import requests
from factories import FYND_SAMPLE_NAMES, FYND_SAMPLES, fynd_confirm, fynd_sample, write_jsonl

from . import EXAMPLE_4_GAP, EXAMPLE_4_MENDED, PASTED, same


def stats(server) -> dict:
    return requests.get(server.base_url + "/_sandbox/stats", timeout=10).json()


def apply(cli, *args):
    return cli("fynd", "apply", *args)


# -- the samples --------------------------------------------------------------------------------
@pytest.mark.parametrize("number", sorted(FYND_SAMPLE_NAMES))
def test_every_sample_round_trips_through_the_dry_run(cli, sandbox, number):
    server = sandbox()
    path = FYND_SAMPLES / f"{FYND_SAMPLE_NAMES[number]}.json"
    result = apply(cli, path, "--dry-run", "-o", "json")
    assert result.code == 0, result.err
    (record,) = json.loads(result.out)["results"]
    request = record["request"]
    assert request["method"] == "PUT" and request["url"].endswith("/shipment/status-internal")
    assert request["headers"]["Authorization"] == "Bearer ********"
    assert same(request["body"], fynd_sample(number))
    if number != 6:  # key order too (example 6 lists entities before products; the SDK's
        # order, products first, is the one sent)
        assert json.dumps(request["body"]) == json.dumps(fynd_sample(number))
    assert stats(server)["requests"] == 0


def test_the_docs_as_pasted_stop_at_example_4s_missing_comma(cli, sandbox):
    server = sandbox()
    text = PASTED.read_text(encoding="utf-8")
    gap_line = text[: text.index(EXAMPLE_4_GAP)].count("\n") + 2  # the line of the "]"
    result = apply(cli, PASTED, "--dry-run")
    assert result.code == 2
    assert f"pasted-from-docs.txt:{gap_line + 1}:" in result.err
    assert f"add ',' at the end of line {gap_line}" in result.err
    assert stats(server)["requests"] == 0


def test_the_docs_pasted_with_the_comma_mended_apply_comments_and_all(cli, sandbox, tmp_path):
    server = sandbox()
    mended = tmp_path / "pasted.txt"
    mended.write_text(PASTED.read_text(encoding="utf-8").replace(EXAMPLE_4_GAP, EXAMPLE_4_MENDED))
    dry = apply(cli, mended, "--dry-run", "-o", "json")
    assert dry.code == 0, dry.err
    bodies = [r["request"]["body"] for r in json.loads(dry.out)["results"]]
    assert len(bodies) == 6
    assert all(same(body, fynd_sample(n)) for n, body in enumerate(bodies, 1))
    assert "parsed leniently" in dry.err and "comment" in dry.err
    sent = apply(cli, mended, "--rate", "0")
    # 1 and 3 move placed shipments; 2 and 6 find theirs still placed, 4 finds 12345383008471878029
    # confirmed by 1, and 5 (same shipment) is blocked behind it
    assert sent.code == 1
    fynd = stats(server)["fynd"]
    assert fynd["transitions"] == {"12345383008471878029": 1, "12345643769771400691": 1}
    assert "blocked    12345383008471878029" in sent.err


# -- sending ------------------------------------------------------------------------------------
def test_a_shipments_transitions_go_in_order(cli, sandbox, tmp_path):
    server = sandbox(latency_ms=5)
    bodies = []
    for n in range(20):
        bodies += [fynd_confirm(f"O-{n}"), fynd_confirm(f"O-{n}", "bag_invoiced"),
                   fynd_confirm(f"O-{n}", "bag_packed")]
    write_jsonl(tmp_path / "steps.jsonl", bodies)
    result = apply(cli, tmp_path / "steps.jsonl", "--jobs", "8", "--rate", "0")
    assert result.code == 0, result.err
    fynd = stats(server)["fynd"]
    assert fynd["transitions"] == {f"O-{n}": 3 for n in range(20)}
    assert all(fynd["bags"][f"O-{n}"] == {"1": {"bag_packed": 10}, "2": {"bag_packed": 10}}
               for n in range(20))
    assert fynd["tokens_issued"] == 1


def test_a_failure_inside_a_200_fails_the_item_and_blocks_its_shipment(cli, sandbox, tmp_path):
    server = sandbox()
    write_jsonl(tmp_path / "x.jsonl", [
        fynd_confirm("F-1", "bag_packed"),  # invalid transition from placed
        fynd_confirm("F-1", "bag_confirmed"),  # assumes the one before happened: blocked
        fynd_confirm("F-2"),
    ])
    result = apply(cli, tmp_path / "x.jsonl", "--rate", "0", "-o", "json")
    assert result.code == 1
    document = json.loads(result.out)
    by_status = {r["status"]: r for r in document["results"]}
    failed = by_status["failed"]
    assert failed["label"] == "F-1" and failed["code"] == 400
    assert "Invalid State Transition bag_packed" in failed["message"]
    (shipment,) = failed["detail"]["shipments"]
    assert shipment["result"] == "failed"
    assert shipment["response"]["exception"] == "ValidationError"  # the server's own fields
    assert by_status["blocked"]["label"] == "F-1"
    assert document["summary"]["succeeded"] == 1
    assert stats(server)["fynd"]["transitions"] == {"F-2": 1}


def test_several_shipments_per_body_are_its_ordering_keys(cli, sandbox, tmp_path):
    sandbox()
    two = {"statuses": [{"shipments": [{"identifier": "K-1"}, {"identifier": "K-2"}],
                         "status": "bag_confirmed"}]}
    write_jsonl(tmp_path / "k.jsonl", [two, fynd_confirm("K-2", "bag_invoiced")])
    result = apply(cli, tmp_path / "k.jsonl", "--rate", "0", "--jobs", "4", "-o", "json")
    assert result.code == 0, result.err
    records = json.loads(result.out)["results"]
    assert [r["key"] for r in records] == ["K-1 K-2", "K-2"]
    assert records[0]["label"] == "K-1 K-2"


def test_an_invalid_body_is_reported_with_its_line_and_blocks_its_shipment(cli, sandbox,
                                                                          tmp_path):
    server = sandbox()
    path = tmp_path / "bad.yaml"
    path.write_text("statuses:\n  - shipments:\n      - identifier: B-1\n        prodcts: []\n"
                    "    status: bag_confirmed\n---\n"
                    "statuses:\n  - shipments: [{identifier: B-1}]\n    status: bag_invoiced\n")
    result = apply(cli, path, "--rate", "0")
    assert result.code == 1
    assert "bad.yaml:4 item 1 statuses.0.shipments.0.prodcts: unknown key (did you mean " \
           "products?)" in result.err
    assert "blocked" in result.err
    assert stats(server)["fynd"]["transitions"] == {}


def test_strict_sends_nothing_when_one_body_is_invalid(cli, sandbox, tmp_path):
    server = sandbox()
    write_jsonl(tmp_path / "s.jsonl", [fynd_confirm("S-1"), {"statuses": []}])
    result = apply(cli, tmp_path / "s.jsonl", "--strict")
    assert result.code == 1
    assert "statuses: " in result.err
    # no transition is sent (the token is fetched before the jobs, so that refused
    # credentials stop a run at once, with exit 2)
    assert stats(server)["fynd"]["transitions"] == {}
    assert stats(server)["requests"] == stats(server)["fynd"]["tokens_issued"] == 1


def test_wrong_credentials_stop_the_run_before_anything_is_sent(cli, sandbox, tmp_path,
                                                               monkeypatch):
    server = sandbox()
    monkeypatch.setenv("SHIPCTL_FYND_CLIENT_SECRET", "wrong-secret-value")
    write_jsonl(tmp_path / "w.jsonl", [fynd_confirm(f"W-{n}") for n in range(50)])
    result = apply(cli, tmp_path / "w.jsonl", "--jobs", "8")
    assert result.code == 2
    assert "check fynd.client_id / fynd.client_secret" in result.err
    assert "wrong-secret-value" not in result.all
    assert stats(server)["requests"] == 1  # one token request, no storm, no transition
    assert stats(server)["fynd"]["transitions"] == {}


def test_a_revoked_token_is_renewed_once_for_all_workers(cli, sandbox, tmp_path):
    server = sandbox(latency_ms=10)
    write_jsonl(tmp_path / "first.jsonl", [fynd_confirm("V-0")])
    assert apply(cli, tmp_path / "first.jsonl").code == 0  # caches a token
    (simulator,) = [s for s in server.simulators if s.name == "fynd"]
    simulator.revoke_tokens()
    write_jsonl(tmp_path / "second.jsonl", [fynd_confirm(f"V-{n}") for n in range(1, 41)])
    result = apply(cli, tmp_path / "second.jsonl", "--jobs", "8", "--rate", "0")
    assert result.code == 0, result.err
    fynd = stats(server)["fynd"]
    assert fynd["tokens_issued"] == 2  # the first run's, and one renewal for every worker
    assert 1 <= fynd["unauthorized"] <= 8
    assert set(fynd["transitions"].values()) == {1} and len(fynd["transitions"]) == 41


def test_a_thousand_bodies_under_faults_one_token_each_shipment_once(cli, sandbox, tmp_path,
                                                                    monkeypatch):
    import shipctl.http

    monkeypatch.setattr(shipctl.http, "sleep", lambda seconds: None)  # back-offs: no waiting
    server = sandbox(fail_rate=0.2, fail_mode="mix", seed=8)
    write_jsonl(tmp_path / "bulk.jsonl", [fynd_confirm(f"M-{n:04d}") for n in range(1000)])
    report = tmp_path / "report.jsonl"
    result = apply(cli, tmp_path / "bulk.jsonl", "--jobs", "8", "--rate", "0", "--retries", "12",
                   "--report", report)
    assert result.code == 0, result.err[-2000:]
    document = stats(server)
    fynd = document["fynd"]
    assert fynd["transitions"] == {f"M-{n:04d}": 1 for n in range(1000)}
    assert fynd["refused"] == {}
    assert fynd["tokens_issued"] == 1  # one token for the run, every worker included
    assert sum(document["faults"].values()) > 150  # the faults did happen
    records = [json.loads(line) for line in report.read_text().splitlines()]
    assert len(records) == 1000 and {r["status"] for r in records} == {"succeeded"}
    assert sum(r["attempts"] for r in records) > 1000


def test_journal_skips_what_succeeded(cli, sandbox, tmp_path):
    server = sandbox()
    write_jsonl(tmp_path / "j.jsonl", [fynd_confirm("J-1"), fynd_confirm("J-2")])
    journal = tmp_path / "j.db"
    assert apply(cli, tmp_path / "j.jsonl", "--journal", journal).code == 0
    again = apply(cli, tmp_path / "j.jsonl", "--journal", journal, "-o", "json")
    assert again.code == 0
    assert json.loads(again.out)["summary"]["skipped"] == 2
    assert stats(server)["fynd"]["transitions"] == {"J-1": 1, "J-2": 1}


def test_shards_split_by_shipment(cli, sandbox, tmp_path):
    server = sandbox()
    write_jsonl(tmp_path / "h.jsonl", [fynd_confirm(f"H-{n}") for n in range(30)])
    for k in range(3):
        assert apply(cli, tmp_path / "h.jsonl", "--shard", f"{k}/3", "--rate", "0").code == 0
    assert stats(server)["fynd"]["transitions"] == {f"H-{n}": 1 for n in range(30)}


def test_apply_from_stdin_with_the_global_sandbox(cli):
    pasted = ('{"statuses": [{"shipments": [{"identifier": "P-1", "products": [],},],\n'
              '  "status": "bag_confirmed", // a comment\n}],}\n')
    result = cli("--sandbox", "fynd", "apply", "-", input=pasted)
    assert result.code == 0, result.err
    assert "parsed leniently" in result.err
    assert "succeeded  P-1" in result.err


def test_a_lone_surrogate_in_an_identifier_is_invalid_not_a_crash(cli, sandbox, tmp_path):
    """JSON allows "\\ud800": the body is refused, and journal, report and -o json still
    take its label (each crashed on it)."""
    sandbox()
    body = fynd_sample(1)
    body["statuses"][0]["shipments"][0]["identifier"] = "1683\ud800"
    path = tmp_path / "body.json"
    path.write_text(json.dumps(body))  # ASCII, with the \ud800 escape
    for flags in (("--dry-run",), ("--journal", tmp_path / "j.db", "--report",
                                   tmp_path / "r.csv", "-o", "json")):
        result = apply(cli, path, *flags)
        assert result.code == 1, result.err
        assert "internal error" not in result.err
    (record,) = json.loads(result.out)["results"]
    assert record["status"] == "invalid" and record["label"] == "1683\\ud800"
    assert "1683\\ud800" in (tmp_path / "r.csv").read_text()
