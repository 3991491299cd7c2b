"""The sandbox's Ecom receiver (docs/conventions.md, Sandbox): `ecom listen`'s rules on the
sandbox, with stats."""

from __future__ import annotations

import json

import pytest
import requests
from conftest import SAMPLES
from factories import ecom_push
from hypothesis import given, settings
from hypothesis import strategies as st

import shipctl.ecom
from shipctl.ecom.simulator import EcomSimulator
from shipctl.sandbox import SimRequest

BATCH = SAMPLES / "ecom" / "batch.jsonl"
AUTH = (shipctl.ecom.SANDBOX_USERNAME, shipctl.ecom.SANDBOX_PASSWORD)
TIMEOUT = 10


def ecom_stats(server) -> dict:
    return requests.get(server.base_url + "/_sandbox/stats", timeout=TIMEOUT).json()["ecom"]


def batch() -> list[dict]:
    return [json.loads(line) for line in BATCH.read_text().splitlines()]


def chronological(scans: list[dict], awb: str) -> list[str]:
    mine = [s for s in scans if s["awb"] == awb]
    mine.sort(key=lambda s: (s["datetime"], int(s["status_update_number"])))
    return list(dict.fromkeys(s["status_update_number"] for s in mine))


def test_sandbox_replay_applies_each_scan_once_in_order_per_awb(cli, sandbox):
    server = sandbox()
    result = cli("ecom", "replay", BATCH, "-j", "4")
    assert result.code == 0, result.all
    stats = ecom_stats(server)
    scans = batch()
    unique = {s["status_update_number"] for s in scans}
    assert stats["applied"] == dict.fromkeys(unique, 1)
    assert stats["duplicates"] == {} and stats["refused"] == {} and stats["stored"] == len(unique)
    for awb in {s["awb"] for s in scans}:
        seen = [number for who, number in stats["order"] if who == awb]
        assert seen == chronological(scans, awb)


def test_replaying_again_is_answered_as_duplicates_and_applies_nothing_twice(cli, sandbox):
    server = sandbox()
    assert cli("ecom", "replay", BATCH).code == 0
    again = cli("ecom", "replay", BATCH)
    assert again.code == 0 and "succeeded 11" in again.out  # a duplicate is answered 200
    stats = ecom_stats(server)
    assert set(stats["applied"].values()) == {1}
    assert stats["duplicates"] == dict.fromkeys(stats["applied"], 1)


def test_faults_are_retried_and_nothing_is_applied_twice(cli, sandbox):
    server = sandbox(fail_rate=0.4, fail_mode="mix", seed=7)
    result = cli("ecom", "replay", BATCH, "--retries", "8", "-j", "4")
    assert result.code == 0, result.all
    stats = requests.get(server.base_url + "/_sandbox/stats", timeout=TIMEOUT).json()
    assert sum(stats["faults"].values()) > 0
    assert set(stats["ecom"]["applied"].values()) == {1} and len(stats["ecom"]["applied"]) == 11


def test_no_config_at_all_with_sandbox(shipctl_proc):
    result = shipctl_proc("--sandbox", "ecom", "replay", BATCH)
    assert result.code == 0, result.all
    assert "succeeded 11" in result.out and "duplicate 1" in result.out


def test_answers_over_http(shared_sandbox):
    url = shared_sandbox.base_url + shipctl.ecom.SANDBOX_PATH
    good = requests.post(url, json=ecom_push(), auth=AUTH, timeout=TIMEOUT)
    assert good.status_code == 200
    assert good.json() == {"awb": "8012345671", "status": True, "status_update_number": 44591782}
    header_auth = requests.post(url, json=ecom_push(number="2"), timeout=TIMEOUT,
                                headers={"username": AUTH[0], "password": AUTH[1]})
    assert header_auth.status_code == 200
    wrong = requests.post(url, json=ecom_push(number="3"), auth=("sandbox", "nope"),
                          timeout=TIMEOUT)
    assert wrong.status_code == 401 and wrong.json()["status"] is False
    bad = requests.post(url, data=b"{oops", auth=AUTH, timeout=TIMEOUT)
    assert bad.status_code == 400
    assert set(bad.json()) == {"awb", "status", "reason", "status_update_number"}
    assert requests.get(url, auth=AUTH, timeout=TIMEOUT).status_code == 405
    assert requests.post(url + "/other", json=ecom_push(), auth=AUTH,
                         timeout=TIMEOUT).status_code == 404
    stats = ecom_stats(shared_sandbox)
    assert stats["applied"] == {"44591782": 1, "2": 1}
    assert stats["refused"] == {"401": 1, "400": 1}


def test_reset_clears_the_store_and_counts(shared_sandbox):
    url = shared_sandbox.base_url + shipctl.ecom.SANDBOX_PATH
    requests.post(url, json=ecom_push(), auth=AUTH, timeout=TIMEOUT)
    requests.post(shared_sandbox.base_url + "/_sandbox/reset", timeout=TIMEOUT)
    assert ecom_stats(shared_sandbox) == {"applied": {}, "duplicates": {}, "refused": {},
                                          "order": [], "stored": 0}
    # after a reset the same number is new again
    assert requests.post(url, json=ecom_push(), auth=AUTH, timeout=TIMEOUT).status_code == 200
    assert ecom_stats(shared_sandbox)["applied"] == {"44591782": 1}


def test_a_file_store_can_be_given(tmp_path):
    simulator = EcomSimulator(store=tmp_path / "sandbox.sqlite3")
    request = SimRequest("POST", shipctl.ecom.SANDBOX_PATH, {}, {
        "username": AUTH[0], "password": AUTH[1]}, json.dumps(ecom_push()).encode())
    assert simulator.handle(request).status == 200
    simulator.store.close()
    from shipctl.ecom.receive.store import connect

    connection = connect(tmp_path / "sandbox.sqlite3", create=False)
    assert connection.execute("SELECT status_update_number FROM pushes").fetchall() == [
        ("44591782",)]


def test_transient_fault_is_an_http_503():
    assert EcomSimulator().transient_fault(SimRequest("POST", "/ecom", {}, {}, b"")) is None


@pytest.fixture(scope="module")
def simulator():
    return EcomSimulator()


@settings(max_examples=200, deadline=None)
@given(
    method=st.sampled_from(["POST", "GET", "PUT"]),
    path=st.sampled_from(["/ecom", "/ecom/", "/ecom/x"]),
    headers=st.dictionaries(st.sampled_from(["username", "password", "authorization", "x"]),
                            st.text(max_size=30), max_size=4),
    body=st.binary(max_size=200),
)
def test_handle_never_raises(simulator, method, path, headers, body):
    response = simulator.handle(SimRequest(method, path, {}, headers, body))
    assert response.status in (200, 400, 401, 404, 405)
    json.loads(response.body)
