"""`shipctl ewe modify` end to end over real HTTP against the sandbox on 127.0.0.1."""

from __future__ import annotations

import csv
import json
import os
import signal
import sqlite3
import subprocess
import sys
import time

import pytest
import requests
from conftest import SAMPLES, audit

from shipctl.ewe import digest as ewe_digest
from shipctl.sandbox import Faults, start_background

BULK_JSONL = SAMPLES / "ewe" / "bulk.jsonl"
SANDBOX_DIGEST = ewe_digest.compute("sandbox", "modifyShipment", "sandbox-password")


def item(ref: str, **changes) -> dict:
    body = {
        "referenceNo": ref,
        "reason": "Customer moved",
        "from": {"name": "Dummy Duck", "phone": "0491-570-156", "suburb": "Greenacre",
                 "state": "NSW", "lines": ["457 Waterloo Road"], "postcode": "2190"},
        "to": {"name": "Melbourne DC", "phone": "(03) 5550 1234", "suburb": "Moorabbin Airport",
               "state": "VIC", "lines": ["6 Chifley Drive"], "postcode": "3194"},
        "merchandise": [{"sku": "NG0000X1", "quantity": "1", "weight": 1, "value": 10.99}],
    }
    body.update(changes)
    return body


def write_jsonl(path, bodies) -> None:
    path.write_text("".join(json.dumps(b) + "\n" for b in bodies))


@pytest.fixture
def sandbox(monkeypatch):
    """A sandbox server on a free loopback port; the EWE settings point at it via env."""
    servers = []

    def start(**faults):
        server = start_background(faults=Faults(**faults) if faults else None)
        servers.append(server)
        for key, value in server.settings().items():
            if key.startswith("ewe."):
                monkeypatch.setenv("SHIPCTL_" + key.upper().replace(".", "_"), value)
        return server

    yield start
    for server in servers:
        server.stop()


def stats(server) -> dict:
    return requests.get(server.base_url + "/_sandbox/stats", timeout=10).json()


def applied(server) -> dict[str, int]:
    return stats(server)["ewe"]["applied"]


# -- happy paths -----------------------------------------------------------------------------

def test_quick_start_command_with_global_sandbox(cli):
    result = cli("--sandbox", "ewe", "modify", str(BULK_JSONL), "--rate", "0")
    assert result.code == 0, result.err
    refs = [json.loads(line)["referenceNo"] for line in BULK_JSONL.read_text().splitlines()]
    for ref in refs:
        assert f"succeeded  {ref}" in result.err
    assert f"succeeded {len(refs)}" in result.out


def test_single_yaml_item(cli, sandbox):
    server = sandbox()
    result = cli("ewe", "modify", str(SAMPLES / "ewe" / "modify.yaml"))
    assert result.code == 0, result.err
    assert sum(applied(server).values()) == 1


def test_seed_example_json(cli, sandbox):
    server = sandbox()
    result = cli("ewe", "modify", str(SAMPLES / "ewe" / "modify.json"))
    assert result.code == 0, result.err
    assert applied(server) == {"TEST08030001": 1}


@pytest.mark.parametrize("sample", ["bulk.jsonl", "bulk.csv"])
def test_bulk_files(cli, sandbox, sample):
    server = sandbox()
    result = cli("ewe", "modify", str(SAMPLES / "ewe" / sample), "--rate", "0", "-j", "4")
    assert result.code == 0, result.err
    counts = applied(server)
    assert len(counts) >= 5 and set(counts.values()) == {1}


def test_directory_and_stdin(cli, sandbox, tmp_path):
    server = sandbox()
    write_jsonl(tmp_path / "a.jsonl", [item("DIR-1"), item("DIR-2")])
    (tmp_path / "b.json").write_text(json.dumps(item("DIR-3")))
    (tmp_path / "notes.txt").write_text("ignored")
    result = cli("ewe", "modify", str(tmp_path), "--rate", "0")
    assert result.code == 0, result.err
    result = cli("ewe", "modify", "-", "--rate", "0", input=json.dumps(item("STDIN-1")))
    assert result.code == 0, result.err
    assert applied(server) == {"DIR-1": 1, "DIR-2": 1, "DIR-3": 1, "STDIN-1": 1}


def test_numeric_string_quantity_is_sent_as_integer(cli, sandbox, tmp_path):
    sandbox()
    write_jsonl(tmp_path / "q.jsonl", [item("Q-1")])
    result = cli("ewe", "modify", str(tmp_path / "q.jsonl"), "--dry-run", "-o", "json")
    body = json.loads(result.out)["results"][0]["request"]["body"]
    assert body["merchandise"][0]["quantity"] == 1
    assert (body["username"], body["msgType"], body["version"]) == ("sandbox", "modifyShipment",
                                                                    "1.6")


def test_json_output_has_summary_and_results(cli, sandbox, tmp_path):
    sandbox()
    write_jsonl(tmp_path / "x.jsonl", [item("J-1"), item("J-2", to={"name": "x"})])
    result = cli("ewe", "modify", str(tmp_path / "x.jsonl"), "--rate", "0", "-o", "json")
    assert result.code == 1
    document = json.loads(result.out)
    assert document["summary"]["succeeded"] == 1 and document["summary"]["invalid"] == 1
    statuses = {r["label"]: r["status"] for r in document["results"]}
    assert statuses == {"J-1": "succeeded", "J-2": "invalid"}


# -- dry run ---------------------------------------------------------------------------------

def test_dry_run_prints_the_request_and_sends_nothing(cli, sandbox):
    server = sandbox()
    result = cli("ewe", "modify", str(SAMPLES / "ewe" / "modify.json"), "--dry-run")
    assert result.code == 0, result.err
    assert "POST /eweApi/ewe/api/modifyShipment" in result.out
    assert "Content-Type: application/javascript" in result.out
    assert "User-Agent: shipctl/" in result.out
    assert '"referenceNo": "TEST08030001"' in result.out
    assert SANDBOX_DIGEST not in result.all
    assert "********" in result.out
    assert applied(server) == {}


@pytest.mark.shows_secrets
def test_dry_run_show_secrets(cli, sandbox):
    sandbox()
    result = cli("ewe", "modify", str(SAMPLES / "ewe" / "modify.json"), "--dry-run",
                 "--show-secrets")
    assert SANDBOX_DIGEST in result.out


def test_content_type_is_configurable(cli, sandbox):
    sandbox()
    result = cli("ewe", "modify", str(SAMPLES / "ewe" / "modify.json"), "--dry-run",
                 "--content-type", "application/json")
    assert "Content-Type: application/json" in result.out


# -- failures --------------------------------------------------------------------------------

def test_wrong_password_explains_104_and_leaks_nothing(cli, sandbox, monkeypatch, tmp_path):
    sandbox()
    secret = "Wr0ng-Passw0rd-x9"
    monkeypatch.setenv("SHIPCTL_EWE_PASSWORD", secret)
    report = tmp_path / "r.csv"
    result = cli("ewe", "modify", str(BULK_JSONL), "--rate", "0", "--report", str(report))
    assert result.code == 1
    assert "104" in result.err and "check ewe.password" in result.err
    wrong_digest = ewe_digest.compute("sandbox", "modifyShipment", secret)
    assert secret not in result.all and wrong_digest not in result.all


def test_wrong_username_explains_101(cli, sandbox, monkeypatch):
    sandbox()
    monkeypatch.setenv("SHIPCTL_EWE_USERNAME", "nobody")
    result = cli("ewe", "modify", str(SAMPLES / "ewe" / "modify.json"))
    assert result.code == 1
    assert "101" in result.err and "check ewe.username" in result.err


def test_invalid_items_are_reported_and_valid_ones_sent(cli, sandbox, tmp_path):
    server = sandbox()
    bad = item("BAD-1")
    bad["to"] = {**bad["to"], "phone": "12"}
    write_jsonl(tmp_path / "mix.jsonl", [item("OK-1"), bad, item("OK-2")])
    result = cli("ewe", "modify", str(tmp_path / "mix.jsonl"), "--rate", "0")
    assert result.code == 1
    assert "mix.jsonl:2 item 2 to.phone" in result.err
    assert applied(server) == {"OK-1": 1, "OK-2": 1}


def test_strict_sends_nothing_when_any_item_is_invalid(cli, sandbox, tmp_path):
    server = sandbox()
    write_jsonl(tmp_path / "mix.jsonl", [item("OK-1"), item("BAD-2", reason="")] )
    result = cli("ewe", "modify", str(tmp_path / "mix.jsonl"), "--rate", "0", "--strict")
    assert result.code == 1
    assert "nothing was sent" in result.err
    assert applied(server) == {}


def test_unreadable_input_sends_nothing(cli, sandbox, tmp_path):
    server = sandbox()
    path = tmp_path / "broken.jsonl"
    path.write_text(json.dumps(item("FIRST")) + "\n{not json\n")
    result = cli("ewe", "modify", str(path), "--rate", "0")
    assert result.code == 2
    assert "broken.jsonl:2" in result.err
    assert applied(server) == {}


def test_missing_credentials_exit_2(cli, tmp_path):
    result = cli("ewe", "modify", str(SAMPLES / "ewe" / "modify.json"))
    assert result.code == 2
    assert "ewe.username" in result.err or "ewe.password" in result.err


def test_connection_refused_is_a_failed_item(cli, monkeypatch):
    monkeypatch.setenv("SHIPCTL_EWE_URL", "http://127.0.0.1:9/eweApi/ewe/api")
    monkeypatch.setenv("SHIPCTL_EWE_USERNAME", "u")
    monkeypatch.setenv("SHIPCTL_EWE_PASSWORD", "p-secret")
    result = cli("ewe", "modify", str(SAMPLES / "ewe" / "modify.json"), "--retries", "0")
    assert result.code == 1
    assert "refused" in result.err


# -- faults, crash, interrupt, rate ------------------------------------------------------------

@pytest.mark.slow
def test_faults_of_every_mode_apply_every_item_exactly_once(cli, sandbox, tmp_path):
    server = sandbox(fail_rate=0.2, fail_mode="mix", seed=11)
    refs = [f"F-{i:04d}" for i in range(1000)]
    write_jsonl(tmp_path / "many.jsonl", [item(ref) for ref in refs])
    result = cli("ewe", "modify", str(tmp_path / "many.jsonl"), "--rate", "0", "-j", "16",
                 "--retries", "10", "--report", str(tmp_path / "r.jsonl"))
    assert result.code == 0, result.err[-2000:]
    document = stats(server)
    assert document["ewe"]["applied"] == {ref: 1 for ref in refs}
    faults = document["faults"]
    assert faults["code2"] > 0 and faults["http503"] > 0 and faults["reset"] > 0
    assert sum(faults.values()) >= 150  # ~20 % of ≥1000 requests


def _spawn(args, env):
    return subprocess.Popen([sys.executable, "-m", "shipctl", *args], stdout=subprocess.PIPE,
                            stderr=subprocess.PIPE, env=env)


def _journal_rows(path) -> dict[str, str]:
    with sqlite3.connect(path) as db:
        return {label: status for label, status in
                db.execute("select label, status from items")}


def _wait_for_rows(path, minimum, timeout=60.0):
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if path.exists():
            try:
                if len([s for s in _journal_rows(path).values() if s == "succeeded"]) >= minimum:
                    return
            except sqlite3.Error:
                pass
        time.sleep(0.05)
    raise AssertionError("the run never got going")


@pytest.mark.slow
def test_kill_9_midway_then_resume_applies_everything_once(sandbox, tmp_path):
    server = sandbox(latency_ms=20)
    refs = [f"K-{i:03d}" for i in range(200)]
    write_jsonl(tmp_path / "k.jsonl", [item(ref) for ref in refs])
    journal = tmp_path / "k.db"
    args = ["ewe", "modify", str(tmp_path / "k.jsonl"), "--rate", "0", "-j", "4",
            "--journal", str(journal)]
    proc = _spawn(args, dict(os.environ))
    _wait_for_rows(journal, 40)
    proc.send_signal(signal.SIGKILL)
    audit(*proc.communicate(timeout=30))
    succeeded_first = {ref for ref, s in _journal_rows(journal).items() if s == "succeeded"}
    assert 40 <= len(succeeded_first) < 200

    second = subprocess.run([sys.executable, "-m", "shipctl", *args], capture_output=True,
                            text=True, timeout=120)
    audit(second.stdout, second.stderr)
    assert second.returncode == 0, second.stderr[-2000:]
    assert f"skipped {len(succeeded_first)}" in second.stdout
    counts = applied(server)
    assert set(counts) == set(refs)  # nothing lost
    assert all(counts[ref] == 1 for ref in succeeded_first)  # nothing succeeded sent again
    # at most the requests in flight at the kill were applied but not yet journaled
    assert sum(counts.values()) - len(refs) <= 4


@pytest.mark.slow
def test_sigint_exits_130_with_journal_and_report_consistent(sandbox, tmp_path):
    sandbox(latency_ms=30)
    write_jsonl(tmp_path / "s.jsonl", [item(f"S-{i:03d}") for i in range(300)])
    journal, report = tmp_path / "s.db", tmp_path / "s.csv"
    proc = _spawn(["ewe", "modify", str(tmp_path / "s.jsonl"), "--rate", "0", "-j", "4",
                   "--journal", str(journal), "--report", str(report)], dict(os.environ))
    _wait_for_rows(journal, 20)
    proc.send_signal(signal.SIGINT)
    out, err = proc.communicate(timeout=60)
    audit(out, err)
    assert proc.returncode == 130, err.decode()[-2000:]
    with report.open(newline="") as handle:
        rows = list(csv.DictReader(handle))
    journaled = _journal_rows(journal)
    reported = {r["label"]: r["status"] for r in rows if r["status"] in ("succeeded", "failed")}
    assert reported == {k: v for k, v in journaled.items() if v in ("succeeded", "failed")}
    assert 20 <= len(reported) < 300
    assert b"interrupted" in out + err


@pytest.mark.slow
def test_rate_is_paced_within_5_percent(cli, sandbox, tmp_path):
    server = sandbox()
    n, rate = 31, 10.0
    write_jsonl(tmp_path / "r.jsonl", [item(f"R-{i:03d}") for i in range(n)])
    result = cli("ewe", "modify", str(tmp_path / "r.jsonl"), "--rate", str(rate), "-j", "8")
    assert result.code == 0, result.err
    arrivals = sorted(stats(server)["ewe"]["arrivals"])
    assert len(arrivals) == n
    span = arrivals[-1] - arrivals[0]
    expected = (n - 1) / rate
    assert abs(span - expected) / expected <= 0.05
    gaps = [b - a for a, b in zip(arrivals, arrivals[1:], strict=False)]
    assert min(gaps) >= (1 / rate) * 0.9  # evenly paced: no bursts
