"""`fynd states`, `fynd reasons`, `fynd auth`, `shipctl auth check` for Fynd, and completion of
Fynd states."""

from __future__ import annotations

import json
import os
import subprocess
import sys

import pytest
import requests

from shipctl.fynd.states import STATES


def stats(server) -> dict:
    return requests.get(server.base_url + "/_sandbox/stats", timeout=10).json()


def test_states_lists_every_state_offline(cli):
    result = cli("fynd", "states")
    assert result.code == 0
    lines = result.out.splitlines()
    assert lines[0].split("\t") == ["STATE", "MEANING", "NEXT"]
    names = [line.split("\t")[0] for line in lines[1:]]
    assert names == list(STATES)
    assert "placed\torder placed; waiting for the seller to confirm\tbag_confirmed, " in result.out


def test_states_json(cli):
    document = json.loads(cli("fynd", "states", "-o", "json").out)
    by_name = {s["name"]: s for s in document["states"]}
    assert set(by_name) == set(STATES)
    assert by_name["bag_invoiced"]["moves_on_to"] == "dp_assigned"
    assert by_name["bag_confirmed"]["next"] == ["bag_invoiced", "cancelled_fynd"]


def test_reasons_from_the_reasons_endpoint(cli, sandbox):
    sandbox()
    result = cli("fynd", "reasons", "12345383008471878029", "--bag", "1",
                 "--state", "bag_not_confirmed")
    assert result.code == 0, result.err
    assert result.out.splitlines()[:3] == ["ID\tREASON", "1\tProduct Not Available",
                                           "2\tDefective Product"]
    document = json.loads(cli("fynd", "reasons", "S", "--bag", "B", "--state",
                              "cancelled_customer", "-o", "json").out)
    assert document["state"] == "cancelled_customer"
    assert document["reasons"][0]["id"] == 1 and document["reasons"][0]["is_active"] is True


def test_reasons_none_for_a_state(cli, sandbox):
    sandbox()
    result = cli("fynd", "reasons", "S", "--bag", "B", "--state", "bag_confirmed")
    assert result.code == 0 and result.out == ""
    assert "Fynd lists no reasons for moving bag B to bag_confirmed" in result.err


def test_reasons_needs_bag_and_state(cli):
    result = cli("fynd", "reasons", "S", "--state", "bag_confirmed")
    assert result.code == 2 and "--bag" in result.err


def test_auth_reports_success_and_expiry_masked(cli, sandbox):
    server = sandbox()
    result = cli("fynd", "auth")
    assert result.code == 0, result.err
    assert result.out.startswith("OK: Fynd issued a token to client 'sandbox' of company 1")
    assert "token ********, expires in 3600 s (" in result.out
    document = json.loads(cli("fynd", "auth", "-o", "json").out)
    assert document["ok"] is True and document["access_token"] == "********"
    assert document["expires_in"] == 3600 and document["expires_at"].endswith("Z")
    assert stats(server)["fynd"]["tokens_issued"] == 2  # each check asks the endpoint


@pytest.mark.shows_secrets
def test_auth_shows_the_token_when_asked(cli, sandbox):
    sandbox()
    document = json.loads(cli("fynd", "auth", "--show-secrets", "-o", "json").out)
    assert document["access_token"].startswith("sbx-")


def test_auth_with_wrong_credentials_exits_2(cli, sandbox, monkeypatch):
    server = sandbox()
    monkeypatch.setenv("SHIPCTL_FYND_CLIENT_ID", "someone-else")
    result = cli("fynd", "auth")
    assert result.code == 2
    assert ("error: Fynd refused the client credentials of profile 'default' (HTTP 401: invalid"
            " client credentials): check fynd.client_id / fynd.client_secret") in result.err
    assert stats(server)["requests"] == 1


def test_auth_without_credentials_names_the_setting(cli):
    result = cli("fynd", "auth")
    assert result.code == 2 and "fynd.company_id" in result.err


def test_shipctl_auth_check_asks_fynd_too(cli, sandbox, monkeypatch):
    sandbox()
    result = cli("auth", "check", "-o", "json")
    by_api = {r["api"]: r for r in json.loads(result.out)["results"]}
    assert by_api["fynd"]["status"] == "ok"
    assert "client 'sandbox' of company 1" in by_api["fynd"]["message"]
    monkeypatch.setenv("SHIPCTL_FYND_CLIENT_SECRET", "wrong-secret-value")
    refused = cli("auth", "check")
    assert refused.code == 1
    assert "fynd  REFUSED  client 'sandbox'" in refused.out
    assert "check fynd.client_id / fynd.client_secret" in refused.out


def complete(words: str) -> list[str]:
    env = {**os.environ, "_SHIPCTL_COMPLETE": "complete_bash", "COMP_WORDS": words,
           "COMP_CWORD": str(len(words.split()) - (0 if words.endswith(" ") else 1))}
    proc = subprocess.run([sys.executable, "-m", "shipctl"], env=env, capture_output=True,
                          text=True, timeout=60)
    return proc.stdout.split()


@pytest.mark.parametrize("flag", ["--to", "--exclude-next-state"])
def test_completion_offers_the_states(flag):
    offered = complete(f"shipctl fynd transition 1 {flag} bag_")
    assert "bag_confirmed" in offered and "bag_not_confirmed" in offered
    assert "placed" not in offered


def test_auth_says_the_token_is_cached_only_when_it_is(cli, sandbox):
    sandbox()
    assert cli("fynd", "auth").out.splitlines()[1].endswith("; cached for the next commands")
    embedded = cli("--sandbox", "fynd", "auth")  # --sandbox keeps its token in memory
    assert embedded.code == 0, embedded.err
    assert embedded.out.splitlines()[1].endswith("(not cached: --sandbox)")
