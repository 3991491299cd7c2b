"""`shipctl auth check`: a credentials check, in the spirit of `gh auth status`."""

from __future__ import annotations

import json

import pytest
import requests


def stats(server) -> dict:
    return requests.get(server.base_url + "/_sandbox/stats", timeout=10).json()


@pytest.mark.timeout(60)
def test_sandbox_credentials_are_accepted_and_nothing_is_modified(cli, sandbox):
    server = sandbox()
    result = cli("auth", "check")
    assert result.code == 0, result.err
    lines = result.out.splitlines()
    assert lines[0].startswith("ewe   OK ") and "accepted" in lines[0]
    assert stats(server)["ewe"]["applied"] == {}  # the check changed nothing


@pytest.mark.timeout(60)
@pytest.mark.parametrize(
    ("variable", "value", "code"),
    [("SHIPCTL_EWE_PASSWORD", "wrong-password-9", "104"),
     ("SHIPCTL_EWE_USERNAME", "nobody", "101")],
)
def test_refused_credentials_name_the_setting_and_exit_1(cli, sandbox, monkeypatch, variable,
                                                          value, code):
    sandbox()
    monkeypatch.setenv(variable, value)
    result = cli("auth", "check", "-o", "json")
    assert result.code == 1
    ewe = json.loads(result.out)["results"][0]
    assert ewe["api"] == "ewe" and ewe["status"] == "refused"
    assert f"code {code}" in ewe["message"]
    hint = "ewe.password" if code == "104" else "ewe.username"
    assert hint in ewe["message"]
    assert "EWE refused the credentials of profile 'default'" in result.err
    assert "wrong-password-9" not in result.all


@pytest.mark.timeout(60)
def test_a_profile_without_credentials_is_a_usage_error(cli):
    result = cli("auth", "check", "-o", "json")
    assert result.code == 2
    document = json.loads(result.out)
    statuses = {r["api"]: r["status"] for r in document["results"]}
    assert statuses["ewe"] == "not_configured" and "fynd" in statuses
    assert set(statuses.values()) == {"not_configured"}
    assert "configures no API credentials" in result.err


@pytest.mark.timeout(60)
def test_an_unreachable_api_is_an_error_not_a_refusal(cli, monkeypatch):
    import socket

    with socket.socket() as sock:  # a port nobody listens on
        sock.bind(("127.0.0.1", 0))
        port = sock.getsockname()[1]
    monkeypatch.setenv("SHIPCTL_EWE_URL", f"http://127.0.0.1:{port}/eweApi/ewe/api")
    monkeypatch.setenv("SHIPCTL_EWE_USERNAME", "u")
    monkeypatch.setenv("SHIPCTL_EWE_PASSWORD", "p-secret-7")
    result = cli("auth", "check", "--timeout", "2")
    assert result.code == 1
    assert result.out.startswith("ewe   ERROR ")
    assert "p-secret-7" not in result.all
