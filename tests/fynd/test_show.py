"""`shipctl fynd show`: against the sandbox, and against a stand-in Fynd (`responses`) for what
the sandbox never answers (an unknown shipment, errors, odd documents)."""

from __future__ import annotations

import json

import pytest
import responses

from shipctl.fynd import client

BASE = "https://fynd.test"
TOKEN_URL = client.token_url(BASE, "7")
SECRET = "s3cret-Show-Value"


def test_a_shipment_not_moved_yet(cli, sandbox):
    server = sandbox()
    result = cli("fynd", "show", "800001")
    assert result.code == 0, result.err
    assert result.out.splitlines() == [
        "shipment 800001: placed, 2 bag(s)",
        "line 1: 10 placed",
        "line 2: 10 placed",
        "BAG\tLINE\tPRODUCT\tQTY\tSTATE\tNAME",
        "1000\t1\tSKU-1\t10\tplaced\tSandbox product 1",
        "2000\t2\tSKU-2\t10\tplaced\tSandbox product 2",
    ]
    assert server.stats()["fynd"]["reads"] == {"800001": 1}


def test_a_partial_move_shows_both_sides(cli, sandbox):
    sandbox()
    moved = cli("fynd", "transition", "800002", "--to", "bag_confirmed", "--line", "1:5",
                "--exclude-next-state", "null")
    assert moved.code == 0, moved.err
    result = cli("fynd", "show", "800002")
    assert result.code == 0, result.err
    assert "line 1: 5 bag_confirmed, 5 placed" in result.out.splitlines()
    assert "line 2: 10 placed" in result.out.splitlines()
    document = json.loads(cli("fynd", "show", "800002", "-o", "json").out)
    assert document["shipment_id"] == "800002"
    assert document["lines"] == [
        {"line_number": 1, "units": {"bag_confirmed": 5, "placed": 5}},
        {"line_number": 2, "units": {"placed": 10}}]
    assert {(b["line_number"], b["quantity"], b["state"]) for b in document["bags"]} == {
        (1, 5, "bag_confirmed"), (1, 5, "placed"), (2, 10, "placed")}
    assert set(document["bags"][0]) == {"bag_id", "line_number", "identifier", "quantity",
                                        "state", "name"}


def test_under_the_global_sandbox_flag(cli, monkeypatch):
    for key in ("URL", "COMPANY_ID", "CLIENT_ID", "CLIENT_SECRET"):
        monkeypatch.delenv(f"SHIPCTL_FYND_{key}", raising=False)
    result = cli("--sandbox", "fynd", "show", "900001", "-o", "json")
    assert result.code == 0, result.err
    assert json.loads(result.out)["status"] == "placed"


@pytest.mark.parametrize("args, expected", [
    (["fynd", "show"], "Missing argument 'SHIPMENT_ID'"),
    (["fynd", "show", " "], "SHIPMENT_ID: must not be empty"),
    (["fynd", "show", "1", "--timeout", "0"], "--timeout 0"),
])
def test_usage_errors_exit_2(cli, sandbox, args, expected):
    server = sandbox()
    result = cli(*args)
    assert result.code == 2 and expected in result.err
    assert server.stats()["requests"] == 0  # nothing was sent


def test_missing_settings_exit_2(cli, monkeypatch):
    for key in ("URL", "COMPANY_ID", "CLIENT_ID", "CLIENT_SECRET"):
        monkeypatch.delenv(f"SHIPCTL_FYND_{key}", raising=False)
    monkeypatch.setenv("SHIPCTL_FYND_URL", "http://127.0.0.1:9")
    result = cli("fynd", "show", "1")
    assert result.code == 2 and "fynd." in result.err


# -- a stand-in Fynd ----------------------------------------------------------------------------
@pytest.fixture
def fynd_env(monkeypatch):
    for key, value in {"URL": BASE, "COMPANY_ID": "7", "CLIENT_ID": "acme",
                       "CLIENT_SECRET": SECRET}.items():
        monkeypatch.setenv(f"SHIPCTL_FYND_{key}", value)
    responses.add(responses.POST, TOKEN_URL, json={"access_token": "tok-Show-1111",
                                                   "expires_in": 3600})


def details_url(shipment: str) -> str:
    return client.details_url(BASE, "7", shipment)


# The SDK's ShipmentInfoResponse, trimmed: what a real answer carries around the fields read.
REAL = {"success": True, "message": None, "shipments": [{
    "shipment_id": "16563383008471878029", "shipment_status": "bag_confirmed",
    "status": {"status": "bag_confirmed", "current_shipment_status": "bag_confirmed"},
    "total_bags": 2, "prices": {"amount_paid": 999.0},
    "bags": [
        {"bag_id": 22501, "identifier": "8901234", "line_number": 1, "quantity": 1,
         "display_name": "Blue Shirt \x1b[2J", "entity_type": "bag",
         "current_status": {"status": "bag_confirmed", "bag_id": 22501, "state_type": "operational",
                            "bag_state_mapper": {"name": "bag_confirmed"}},
         "bag_status": [{"status": "placed"}, {"status": "bag_confirmed"}],
         "article": {"uid": "x"}, "item": {"name": "Shirt"}},
        {"bag_id": 22502, "identifier": "8901235", "line_number": 2, "quantity": 3,
         "current_status": {"status": "bag_not_confirmed"}, "item": {"name": "Socks"}},
    ]}]}


@responses.activate
def test_a_real_answer_read_with_the_bearer_token(cli, fynd_env):
    responses.add(responses.GET, details_url("16563383008471878029"), json=REAL)
    result = cli("fynd", "show", "16563383008471878029")
    assert result.code == 0, result.err
    assert result.out.splitlines() == [
        "shipment 16563383008471878029: bag_confirmed, 2 bag(s)",
        "line 1: 1 bag_confirmed",
        "line 2: 3 bag_not_confirmed",
        "BAG\tLINE\tPRODUCT\tQTY\tSTATE\tNAME",
        "22501\t1\t8901234\t1\tbag_confirmed\tBlue Shirt \\u001b[2J",  # never raw to a terminal
        "22502\t2\t8901235\t3\tbag_not_confirmed\tSocks",
    ]
    request = responses.calls[-1].request
    assert request.method == "GET"
    assert request.url == (BASE + "/service/platform/order/v1.0/company/7/shipment-details"
                           "?shipment_id=16563383008471878029")
    assert request.headers["Authorization"] == "Bearer tok-Show-1111"
    assert "tok-Show-1111" not in result.all and SECRET not in result.all


@responses.activate
@pytest.mark.parametrize("status, document, expected", [
    (200, {"success": True, "shipments": []}, "Fynd knows no shipment 42"),
    (200, {"success": False, "message": "Shipment not found"}, "Shipment not found"),
    (404, {"success": False, "message": "Shipment 42 not found"},
     "HTTP 404: Shipment 42 not found"),
    (200, {"success": True, "shipments": [{"shipment_id": "43", "bags": []}]},
     "the answer is about shipment 43, not 42"),
    (200, ["not", "a", "document"], "the answer is not a shipment-details document"),
])
def test_an_unknown_shipment_or_an_error_exits_1(cli, fynd_env, status, document, expected):
    responses.add(responses.GET, details_url("42"), status=status, json=document)
    result = cli("fynd", "show", "42")
    assert result.code == 1
    assert result.out == ""
    assert result.err == f"error: Fynd shipment 42: {expected}\n"


@responses.activate
def test_a_401_that_stands_points_at_the_company_and_permissions(cli, fynd_env):
    responses.add(responses.POST, TOKEN_URL, json={"access_token": "tok-Show-2222",
                                                   "expires_in": 3600})
    responses.add(responses.GET, details_url("42"), status=401,
                  json={"success": False, "message": "no access"})
    result = cli("fynd", "show", "42")
    assert result.code == 1
    assert "error: Fynd shipment 42: HTTP 401: no access" in result.err
    assert "hint: check fynd.company_id and the app's permissions" in result.err
    gets = [c for c in responses.calls if c.request.method == "GET"]
    assert len(gets) == 2  # once more with a fresh token, then it stands


@responses.activate
def test_odd_fields_are_shown_as_unknown_never_a_crash(cli, fynd_env):
    responses.add(responses.GET, details_url("7"), json={"shipments": [{
        "shipment_id": "7", "bags": [
            {"bag_id": True, "line_number": "x", "quantity": -3, "current_status": [1]},
            "not a bag", {"quantity": "2", "status": "placed"}]}]})
    result = cli("fynd", "show", "7", "-o", "json")
    assert result.code == 0, result.err
    document = json.loads(result.out)
    assert document["status"] is None
    assert document["bags"] == [
        {"bag_id": None, "line_number": None, "identifier": None, "quantity": None,
         "state": None, "name": None},
        {"bag_id": None, "line_number": None, "identifier": None, "quantity": 2,
         "state": "placed", "name": None}]


def test_the_help_examples_run_against_the_sandbox(cli, sandbox):
    import shlex

    sandbox()
    shown = [line.strip()[2:] for line in cli("fynd", "show", "--help").out.splitlines()
             if line.strip().startswith("$ shipctl fynd show ")]
    assert len(shown) == 2
    for command in shown:
        result = cli(*shlex.split(command)[1:])
        assert result.code == 0, (command, result.all)
