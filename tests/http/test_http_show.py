"""shipctl.http.show: the dry run prints the request the session would really send.

format_call / describe render requests' own PreparedRequest (from a session built like
make_session's), masked, rather than re-deriving the headers requests adds; these tests hold
the printed request against the one requests prepares and the one that goes out.
"""

from __future__ import annotations

import json

import pytest
import requests
import responses

from shipctl import http, secrets
from shipctl.http import Call, HttpOptions, describe, format_call, make_session, send

URL = "https://jerrytest.ewe.com.au/eweApi/ewe/api/modifyShipment"
BODY = b'{"username":"test","digest":"oNCmEhRuYMf62nPzLxGrjA==","referenceNo":"R1"}'


@pytest.fixture(autouse=True)
def no_registered_secrets():
    secrets.clear()
    yield
    secrets.clear()


def prepared_by_requests(call: Call) -> requests.PreparedRequest:
    session = make_session(HttpOptions())
    return session.prepare_request(
        requests.Request(call.method, call.url, headers=call.headers, data=call.body))


@pytest.mark.parametrize(
    "call",
    [
        Call("POST", URL, {"Content-Type": "application/javascript"}, BODY),
        Call("POST", URL, {"Content-Type": "application/json", "X-Trace": "t-1"}, None),
        Call("GET", "https://h.example/status?x=1"),
        Call("put", "https://h.example/a/b", {"Accept": "text/plain"}, b"plain body"),
    ],
    ids=["ewe-post", "post-no-body", "get", "put-overriding-accept"],
)
def test_printed_headers_are_the_prepared_requests_in_order(call):
    prepared = prepared_by_requests(call)
    expected = [f"{name}: {value}" for name, value in prepared.headers.items()]

    head = format_call(call, show_secrets=True).partition("\n\n")[0].splitlines()

    assert head[0].startswith(f"{prepared.method} ")
    assert head[2:] == expected
    assert list(describe(call, show_secrets=True)["headers"].items()) == list(
        prepared.headers.items())


@responses.activate
def test_dry_run_shows_what_a_real_send_sends(monkeypatch):
    monkeypatch.setattr(http, "sleep", lambda seconds: None)
    responses.add(responses.POST, URL, status=200)
    call = Call("POST", URL + "?a=1", {"Content-Type": "application/javascript"}, BODY)

    send(make_session(HttpOptions()), call, HttpOptions())
    shown = describe(call, show_secrets=True)

    sent = responses.calls[0].request
    assert shown["method"] == sent.method and shown["url"] == sent.url
    assert shown["headers"] == dict(sent.headers)
    assert json.dumps(shown["body"], separators=(",", ":")).encode() == sent.body


def test_bodyless_requests_carry_the_content_length_requests_gives_them():
    post = format_call(Call("POST", URL), show_secrets=False)
    get = format_call(Call("GET", URL), show_secrets=False)

    assert "Content-Length: 0" in post.splitlines()
    assert not [line for line in get.splitlines() if line.startswith("Content-Length")]


def test_a_registered_secret_is_hidden_in_the_url_requests_percent_encodes():
    secret = "p^ss word|1"  # requests sends it as p%5Ess%20word%7C1
    secrets.register(secret)
    call = Call("POST", f"https://h.example/hook?note={secret}&keep=yes", {}, b"{}")

    for text in (format_call(call, show_secrets=False),
                 json.dumps(describe(call, show_secrets=False))):
        assert secret not in text and "p%5Ess" not in text and "5Ess" not in text
        assert "keep=yes" in text
    assert "p%5Ess%20word%7C1" in format_call(call, show_secrets=True)


@pytest.mark.parametrize(
    ("url", "headers"),
    [("https://h.example/x", {"X-Api-Key": "key-value-77\nX-Evil: 1"}),
     ("h.example/no-scheme", {"Authorization": "Basic c2VjcmV0LWtleS03Nw=="})],
    ids=["line-break-in-header", "no-scheme"],
)
def test_a_request_requests_would_refuse_is_still_printed_masked(url, headers):
    call = Call("POST", url, headers, b'{"password": "pw-value-88"}')

    text = format_call(call, show_secrets=False)
    described = json.dumps(describe(call, show_secrets=False))

    for printed in (text, described):
        assert "key-value-77" not in printed and "c2VjcmV0LWtleS03Nw" not in printed
        assert "pw-value-88" not in printed
    assert text.startswith("POST ")
    assert f"User-Agent: {http.USER_AGENT}" in text
    assert f"Content-Length: {len(call.body)}" in text
