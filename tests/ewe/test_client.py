"""EWE's answer codes (docs/ewe.md, Response codes) and the exact request `ewe modify` sends."""

from __future__ import annotations

import json
from decimal import Decimal

import pytest
import responses
from factories import ewe_request
from hypothesis import given, settings
from hypothesis import strategies as st

from shipctl.ewe import client
from shipctl.ewe import digest as ewe_digest

URL = "https://ewe.test/eweApi/ewe/api"
ENDPOINT = URL + "/modifyShipment"
PASSWORD = "s3cret-Pa55word"
DIGEST = ewe_digest.compute("acme", "modifyShipment", PASSWORD)


def answer(code: int, message, success=None) -> bytes:
    return json.dumps({"success": code == 0 if success is None else success,
                       "message": message, "code": code}).encode()


@pytest.mark.parametrize(
    ("code", "ok", "hint"),
    [(0, True, None), (1, False, None), (2, False, None),
     (3, False, "check ewe.url"), (10, False, None),
     (101, False, "invalid API key: check ewe.username"),
     (104, False, "incorrect signature: check ewe.password")],
)
def test_every_documented_code(code, ok, hint):
    parsed = client.parse_answer(200, answer(code, [client.CODES[code]]))
    assert (parsed.ok, parsed.code) == (ok, code)
    assert client.CODES[code] in parsed.text
    assert (hint in parsed.text) if hint else parsed.hint is None
    assert parsed.fatal == (code in (3, 101, 104))


def test_message_as_array_or_string():
    assert client.parse_answer(200, answer(0, ["Modify success!"])).text == "Modify success!"
    assert client.parse_answer(200, answer(0, "Modify success!")).text == "Modify success!"
    many = client.parse_answer(200, answer(10, ["to.phone: bad", "from.name: long"]))
    assert many.text == "code 10: to.phone: bad; from.name: long"


def test_success_code_with_an_http_error_is_not_success():
    assert not client.parse_answer(500, answer(0, ["Modify success!"])).ok


def test_not_json_is_a_plain_failure():
    parsed = client.parse_answer(502, b"<html>Bad gateway</html>")
    assert not parsed.ok and parsed.text == "HTTP 502: unexpected answer: <html>Bad gateway</html>"


def test_only_code_2_is_transient():
    assert client.transient_reason(200, answer(2, ["Service is temporarily unavailable"]))
    assert client.transient_reason(200, b'{"code" : "2"}')
    for code in (0, 1, 3, 10, 20, 101, 104):
        assert client.transient_reason(200, answer(code, ["x"])) is None


@settings(max_examples=300, deadline=None)
@given(st.integers(100, 599), st.one_of(
    st.binary(max_size=200),
    st.recursive(st.none() | st.booleans() | st.integers() | st.text(max_size=20),
                 lambda c: st.lists(c, max_size=4) | st.dictionaries(st.text(max_size=8), c,
                                                                     max_size=4),
                 max_leaves=10).map(lambda v: json.dumps(v).encode()),
))
def test_parse_answer_never_raises(status, body):
    parsed = client.parse_answer(status, body)
    assert isinstance(parsed.text, str)
    client.transient_reason(status, body)


# -- `ewe modify` against a mocked EWE (responses) --------------------------------------------

@pytest.fixture
def profile(monkeypatch):
    monkeypatch.setenv("SHIPCTL_EWE_URL", URL)
    monkeypatch.setenv("SHIPCTL_EWE_USERNAME", "acme")
    monkeypatch.setenv("SHIPCTL_EWE_PASSWORD", PASSWORD)


def request_body(ref: str = "R-1") -> dict:
    # the values test_the_bytes_sent checks: a lower-case state, numbers as text
    body = ewe_request(ref, merchandise=[{"sku": "X", "quantity": "2", "value": "10.50"}])
    body["from"]["state"] = "nsw"
    return body


def one_item_file(tmp_path):
    path = tmp_path / "one.json"
    path.write_text(json.dumps(request_body()))
    return path


@responses.activate
def test_the_bytes_sent(cli, profile, tmp_path):
    responses.post(ENDPOINT, body=answer(0, ["Modify success!"]))
    path = one_item_file(tmp_path)
    result = cli("ewe", "modify", str(path), "--rate", "0")
    assert result.code == 0, result.err
    sent = responses.calls[0].request
    assert sent.headers["Content-Type"] == "application/javascript"
    assert sent.headers["User-Agent"].startswith("shipctl/")
    body = json.loads(sent.body)
    assert list(body)[:4] == ["username", "digest", "msgType", "version"]
    assert (body["username"], body["digest"], body["msgType"], body["version"]) == (
        "acme", DIGEST, "modifyShipment", "1.6")
    assert body["from"]["state"] == "NSW"  # sent upper-case
    assert body["merchandise"] == [{"sku": "X", "quantity": 2, "value": 10.5}]
    # compact JSON, UTF-8; a decimal keeps the digits it was written with ("10.50")
    assert b'"value":10.50}' in sent.body
    assert sent.body == client.encode(json.loads(sent.body, parse_float=Decimal))
    assert DIGEST not in result.all and PASSWORD not in result.all


@responses.activate
def test_code_2_is_retried_then_succeeds(cli, profile, tmp_path, monkeypatch):
    from shipctl import http

    monkeypatch.setattr(http, "sleep", lambda seconds: None)
    responses.post(ENDPOINT, body=answer(2, ["Service is temporarily unavailable"]))
    responses.post(ENDPOINT, body=answer(0, ["Modify success!"]))
    path = one_item_file(tmp_path)
    result = cli("ewe", "modify", str(path), "--rate", "0", "-o", "json")
    assert result.code == 0, result.err
    assert len(responses.calls) == 2
    record = json.loads(result.out)["results"][0]
    assert (record["status"], record["attempts"]) == ("succeeded", 2)


@responses.activate
def test_code_10_fails_the_item_with_ewes_message(cli, profile, tmp_path):
    responses.post(ENDPOINT, body=answer(10, ["to.suburb: Suburb does not match postcode"]))
    path = one_item_file(tmp_path)
    result = cli("ewe", "modify", str(path), "--rate", "0")
    assert result.code == 1
    assert "code 10: to.suburb: Suburb does not match postcode" in result.err
    assert len(responses.calls) == 1  # a definite rejection is never retried


@responses.activate
def test_104_stops_the_run_for_the_remaining_items(cli, profile, tmp_path):
    responses.post(ENDPOINT, body=answer(104, ["Incorrect signature"]))
    path = tmp_path / "many.jsonl"
    path.write_text("".join(json.dumps(request_body(f"R-{i}")) + "\n" for i in range(5)))
    result = cli("ewe", "modify", str(path), "--rate", "0", "-j", "1", "-o", "json")
    assert result.code == 1
    statuses = [r["status"] for r in json.loads(result.out)["results"]]
    assert statuses[0] == "failed" and set(statuses[1:]) == {"not_sent"}
    assert len(responses.calls) == 1
    assert "check ewe.password" in result.err
