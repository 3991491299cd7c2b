"""A 401 from the API right after a fresh token: the token endpoint
accepted the client id and secret, so the message points at fynd.company_id and the app's
permissions, never at the secret. Over real HTTP calls mocked with `responses`: the token
endpoint issues a token each time, the API refuses every one."""

from __future__ import annotations

import json

import pytest
import responses
from factories import fynd_confirm, write_jsonl

from shipctl.fynd import client

BASE = "https://fynd.test"
TOKEN_URL = client.token_url(BASE, "7")
STATUS_URL = client.status_url(BASE, "7")
SECRET = "s3cret-Client-Value"
REFUSED_BY_API = ("the token endpoint accepted the client but the API refused the token: "
                  "check fynd.company_id and the app's permissions")


@pytest.fixture
def fynd_env(monkeypatch):
    for key, value in {"URL": BASE, "COMPANY_ID": "7", "CLIENT_ID": "acme",
                       "CLIENT_SECRET": SECRET}.items():
        monkeypatch.setenv(f"SHIPCTL_FYND_{key}", value)


def tokens_issued_and_refused(method: str, url: str) -> None:
    for n in range(3):
        responses.add(responses.POST, TOKEN_URL, json={"access_token": f"tok-{n}-Fresh",
                                                       "expires_in": 3600})
    responses.add(method, url, status=401,
                  json={"success": False, "message": "Unauthorized"})


def calls(method: str) -> list:
    return [c.request for c in responses.calls if c.request.method == method]


@responses.activate
def test_transition_after_a_fresh_token(cli, fynd_env):
    tokens_issued_and_refused(responses.PUT, STATUS_URL)
    result = cli("fynd", "transition", "1", "--to", "bag_confirmed")
    assert result.code == 1
    assert f"error: HTTP 401: Unauthorized ({REFUSED_BY_API})" in result.err
    assert "client_secret" not in result.all
    # the first token was fresh, and so was the one after the 401: both were refused
    assert [p.headers["Authorization"] for p in calls("PUT")] == ["Bearer tok-0-Fresh",
                                                                 "Bearer tok-1-Fresh"]
    assert len(calls("POST")) == 2


@responses.activate
def test_transition_json_says_it_too(cli, fynd_env):
    tokens_issued_and_refused(responses.PUT, STATUS_URL)
    result = cli("fynd", "transition", "1", "--to", "bag_confirmed", "-o", "json")
    assert result.code == 1
    document = json.loads(result.out)
    assert document["error"] == f"HTTP 401: Unauthorized ({REFUSED_BY_API})"


@responses.activate
def test_a_bulk_run_stops_with_the_same_words(cli, fynd_env, tmp_path):
    tokens_issued_and_refused(responses.PUT, STATUS_URL)
    bodies = tmp_path / "b.jsonl"
    write_jsonl(bodies, [fynd_confirm(f"S-{n}") for n in range(5)])
    result = cli("fynd", "apply", str(bodies), "--jobs", "1")
    assert result.code != 0
    assert REFUSED_BY_API in result.err
    assert "check fynd.company_id and the app's permissions" in result.err
    assert "client_secret" not in result.all
    assert len(calls("PUT")) == 2  # the first body, once more with a new token; then stop


@responses.activate
def test_reasons_after_a_fresh_token(cli, fynd_env):
    url = client.reasons_url(BASE, "7", "1", "2", "bag_not_confirmed")
    tokens_issued_and_refused(responses.GET, url)
    result = cli("fynd", "reasons", "1", "--bag", "2", "--state", "bag_not_confirmed")
    assert result.code == 1
    assert "check fynd.company_id and the app's permissions" in result.err
    assert "client_secret" not in result.all


@responses.activate
def test_the_token_endpoint_refusing_still_names_the_secret(cli, fynd_env):
    # the other side of the line: when the token endpoint says no, the secret is the suspect
    responses.add(responses.POST, TOKEN_URL, status=401,
                  json={"success": False, "message": "invalid client credentials"})
    result = cli("fynd", "transition", "1", "--to", "bag_confirmed")
    assert result.code == 2
    assert "check fynd.client_id / fynd.client_secret" in result.err
    assert "fynd.company_id and the app's permissions" not in result.err
    assert calls("PUT") == []


@responses.activate
def test_a_bulk_run_whose_renewal_is_refused_names_the_secret(cli, fynd_env, tmp_path):
    """A cached token that the API no longer takes, and a token endpoint that now refuses the
    secret (rotated on Fynd's side): the secret is the suspect, not fynd.company_id."""
    from shipctl.fynd import token_cache

    ident = token_cache.Identity("default", BASE, "7", "acme", token_cache.secret_digest(SECRET))
    token_cache.TokenCache().store(ident, token_cache.Token("tok-Cached-0000", 4e9, 4e9))
    responses.add(responses.POST, TOKEN_URL, status=401,
                  json={"success": False, "message": "invalid client credentials"})
    responses.add(responses.PUT, STATUS_URL, status=401, json={"message": "Unauthorized"})
    bodies = tmp_path / "b.jsonl"
    write_jsonl(bodies, [fynd_confirm(f"S-{n}") for n in range(3)])
    result = cli("fynd", "apply", str(bodies), "--jobs", "1")
    assert result.code != 0
    assert "check fynd.client_id / fynd.client_secret" in result.err
    assert REFUSED_BY_API not in result.err
    assert len(calls("PUT")) == 1 and len(calls("POST")) == 1
