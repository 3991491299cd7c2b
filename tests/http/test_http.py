"""shipctl.http: retries and back-off, TLS and --ca-bundle, redaction, dry-run printing.

Unit cases run against `responses`; the retry loop is also proven over real sockets on
127.0.0.1 (a scripted http.server that drops a connection and answers 503, a refused port,
a port that never answers, a TLS server with a private CA).
"""

from __future__ import annotations

import gc
import json
import logging
import socket
import ssl
import stat
import string
import struct
import threading
import time
from contextlib import contextmanager
from datetime import datetime, timedelta, timezone
from email.utils import format_datetime
from http.server import BaseHTTPRequestHandler
from pathlib import Path

import certifi
import pytest
import requests
import responses
from factories import LoopbackServer
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from shipctl import __version__, http, secrets
from shipctl.errors import UsageError
from shipctl.http import Call, HttpOptions, describe, format_call, make_session, send

URL = "https://jerrytest.ewe.com.au/eweApi/ewe/api/modifyShipment"
DIGEST = "oNCmEhRuYMf62nPzLxGrjA=="  # docs/ewe.md, Digest: test/modifyShipment/123456
BASIC = "Basic dXNlcjpzM2NyZXQtcGFzcw=="  # user:s3cret-pass
BODY = {"username": "test", "digest": DIGEST, "msgType": "modifyShipment", "referenceNo": "R1"}

# A private CA and a server certificate for 127.0.0.1 it signed (EC P-256, valid 2000-2100),
# made with `openssl ca` for these tests only; the key protects nothing else.
TEST_CA_PEM = """-----BEGIN CERTIFICATE-----
MIIBaDCCAQ6gAwIBAgICEAAwCgYIKoZIzj0EAwIwGjEYMBYGA1UEAwwPc2hpcGN0
bCB0ZXN0IENBMCAXDTAwMDEwMTAwMDAwMFoYDzIxMDAwMTAxMDAwMDAwWjAaMRgw
FgYDVQQDDA9zaGlwY3RsIHRlc3QgQ0EwWTATBgcqhkjOPQIBBggqhkjOPQMBBwNC
AATgnwvAO1w8riathM2B54yDNp7NI2vW9zxBaT+H1jumKVzQfLokVxYgYpecfVtV
xqhnfdt05fMz3KqIoM5doxNqo0IwQDAPBgNVHRMBAf8EBTADAQH/MA4GA1UdDwEB
/wQEAwIBBjAdBgNVHQ4EFgQUzU3u0D2fb3uYX84hoXdjgJC4NF8wCgYIKoZIzj0E
AwIDSAAwRQIgTXFaNxHgjJ0m0pUj/dacEbBo4AY/yo4JthSF4w1J3rkCIQCLrnqN
Z9SLarA5GRUMNYnCQ0FVTk1NxbxueWgRPGiNiQ==
-----END CERTIFICATE-----
"""
SERVER_CERT_PEM = """-----BEGIN CERTIFICATE-----
MIIBsjCCAVmgAwIBAgICEAEwCgYIKoZIzj0EAwIwGjEYMBYGA1UEAwwPc2hpcGN0
bCB0ZXN0IENBMCAXDTAwMDEwMTAwMDAwMFoYDzIxMDAwMTAxMDAwMDAwWjAUMRIw
EAYDVQQDDAkxMjcuMC4wLjEwWTATBgcqhkjOPQIBBggqhkjOPQMBBwNCAAR6D7Kw
9WTcFGfMOdlj1NMtgyd/pAaW34fyPfJ6dCS4/tcrEP2f1HKoRNlwA+JlUE/D2I4H
dAiVIEPmX1W0avJ0o4GSMIGPMAwGA1UdEwEB/wQCMAAwDgYDVR0PAQH/BAQDAgeA
MBMGA1UdJQQMMAoGCCsGAQUFBwMBMBoGA1UdEQQTMBGHBH8AAAGCCWxvY2FsaG9z
dDAdBgNVHQ4EFgQU5UTuDWzVEMKuIAULWMOtUHToSy8wHwYDVR0jBBgwFoAUzU3u
0D2fb3uYX84hoXdjgJC4NF8wCgYIKoZIzj0EAwIDRwAwRAIge/XlJfhf2lNrX/xw
PFN//hzrjxtGxRfyd2jDN8IkMNYCIBguuDqm4YXicEPdhGcR5XjWs8rhNvFeh34G
6RpFQYU7
-----END CERTIFICATE-----
"""
SERVER_KEY_PEM = """-----BEGIN PRIVATE KEY-----
MIGHAgEAMBMGByqGSM49AgEGCCqGSM49AwEHBG0wawIBAQQg1SZxfteKUz3+gBpw
OR4W7UkyMEueSb6o5uKOwjOt0YKhRANCAAR6D7Kw9WTcFGfMOdlj1NMtgyd/pAaW
34fyPfJ6dCS4/tcrEP2f1HKoRNlwA+JlUE/D2I4HdAiVIEPmX1W0avJ0
-----END PRIVATE KEY-----
"""


def fast(**overrides) -> HttpOptions:
    values = {"backoff_base": 0.001, "backoff_max": 0.01, "retries": 3}
    values.update(overrides)
    return HttpOptions(**values)


def ewe_call(**overrides) -> Call:
    values = {
        "method": "POST",
        "url": URL,
        "headers": {"Content-Type": "application/javascript"},
        "body": json.dumps(BODY).encode(),
    }
    values.update(overrides)
    return Call(**values)


@pytest.fixture
def waits(monkeypatch):
    """Replace the back-off sleep: record what was asked for, wait for nothing."""
    asked: list[float] = []
    monkeypatch.setattr(http, "sleep", asked.append)
    return asked


@pytest.fixture(autouse=True)
def fresh_warnings():
    http.session._warned_hosts.clear()
    yield
    http.session._warned_hosts.clear()


def ewe_transient(response: requests.Response) -> str | None:
    """The EWE predicate the modify command supplies: code 2 = temporarily unavailable."""
    try:
        code = response.json().get("code")
    except ValueError:
        return None
    return "EWE code 2: service temporarily unavailable" if code == 2 else None


# -- retries (responses) --------------------------------------------------------------------


@pytest.mark.parametrize("status", [503, 502, 504, 429])
@responses.activate
def test_retries_a_temporary_status_then_succeeds(status, waits):
    responses.add(responses.POST, URL, status=status)
    responses.add(responses.POST, URL, json={"success": True, "code": 0})
    call = ewe_call()

    delivery = send(make_session(fast()), call, fast())

    assert delivery.response is not None and delivery.response.status_code == 200
    assert delivery.attempts == 2 and delivery.error is None
    assert len(responses.calls) == 2
    assert [c.request.body for c in responses.calls] == [call.body, call.body]
    assert len(waits) == 1 and 0 <= waits[0] <= 0.01


@pytest.mark.parametrize("status", [400, 401, 403, 404, 409, 422, 500, 501])
@responses.activate
def test_definite_answers_are_not_retried(status, waits):
    responses.add(responses.POST, URL, status=status, json={"error": "no"})

    delivery = send(make_session(fast()), ewe_call(), fast(retries=5))

    assert delivery.response.status_code == status
    assert delivery.attempts == 1 and len(responses.calls) == 1 and waits == []


@responses.activate
def test_transient_api_answer_is_retried_until_it_clears(waits):
    responses.add(responses.POST, URL, json={"success": False, "code": 2, "message": "busy"})
    responses.add(responses.POST, URL, json={"success": False, "code": 2, "message": "busy"})
    responses.add(responses.POST, URL, json={"success": True, "code": 0})

    delivery = send(make_session(fast()), ewe_call(), fast(), transient=ewe_transient)

    assert delivery.response.json()["code"] == 0
    assert delivery.attempts == 3 and len(responses.calls) == 3 and len(waits) == 2


@responses.activate
def test_definite_api_rejection_is_not_retried(waits):
    # EWE code 10 (invalid parameter) comes with HTTP 200: transient() says None → final.
    responses.add(responses.POST, URL, json={"success": False, "code": 10, "message": "bad"})
    responses.add(responses.POST, URL, json={"success": True, "code": 0})

    delivery = send(make_session(fast()), ewe_call(), fast(), transient=ewe_transient)

    assert delivery.response.json()["code"] == 10
    assert delivery.attempts == 1 and len(responses.calls) == 1 and waits == []


@responses.activate
def test_exhausted_retries_return_the_last_response(waits):
    responses.add(responses.POST, URL, status=503, body="down for maintenance")

    delivery = send(make_session(fast()), ewe_call(), fast(retries=2))

    assert delivery.response.status_code == 503
    assert delivery.response.text == "down for maintenance"
    assert delivery.attempts == 3 and len(responses.calls) == 3 and len(waits) == 2
    assert delivery.error is None


@responses.activate
def test_exhausted_transient_answer_is_returned_as_is(waits):
    responses.add(responses.POST, URL, json={"success": False, "code": 2})

    delivery = send(make_session(fast()), ewe_call(), fast(retries=1), transient=ewe_transient)

    assert delivery.response.json()["code"] == 2 and delivery.attempts == 2


@responses.activate
def test_retries_zero_sends_once(waits):
    responses.add(responses.POST, URL, status=503)
    responses.add(responses.POST, URL, status=200)

    delivery = send(make_session(fast()), ewe_call(), fast(retries=0))

    assert delivery.response.status_code == 503
    assert delivery.attempts == 1 and len(responses.calls) == 1 and waits == []


@responses.activate
def test_connection_errors_exhausted_give_a_plain_error(waits):
    responses.add(responses.POST, URL, body=requests.ConnectionError("Connection aborted."))

    delivery = send(make_session(fast()), ewe_call(), fast(retries=2))

    assert delivery.response is None
    assert delivery.attempts == 3 and len(responses.calls) == 3
    assert delivery.error == "connection to jerrytest.ewe.com.au:443 failed"


@responses.activate
def test_read_timeout_is_retried_and_reported_plainly(waits):
    responses.add(responses.POST, URL, body=requests.ReadTimeout("read timed out"))
    responses.add(responses.POST, URL, body=requests.ReadTimeout("read timed out"))

    delivery = send(make_session(fast()), ewe_call(), fast(retries=1, timeout=12))

    assert delivery.response is None and delivery.attempts == 2
    assert delivery.error == "timed out after 12 s waiting for jerrytest.ewe.com.au:443 to answer"


# -- pacing of retries (docs/conventions.md, Bulk engine: --rate counts every request) -------


class FakePacer:
    """A pace() that records when it was asked, relative to the back-off waits and sends."""

    def __init__(self, events: list[str], answers=()):
        self.events, self.answers = events, list(answers)

    def __call__(self) -> bool:
        self.events.append("pace")
        return self.answers.pop(0) if self.answers else True


@responses.activate
def test_each_retry_waits_for_the_pacer_after_its_back_off(monkeypatch):
    events: list[str] = []
    monkeypatch.setattr(http, "sleep", lambda seconds: events.append("back-off"))

    def answer(request):
        events.append("send")
        return (503, {}, "") if events.count("send") < 3 else (200, {}, "{}")

    responses.add_callback(responses.POST, URL, callback=answer)
    options = fast(pace=FakePacer(events))

    delivery = send(make_session(options), ewe_call(), options)

    assert delivery.response.status_code == 200 and delivery.attempts == 3
    # the first attempt is the caller's to pace (the bulk engine does it); each retry takes
    # a slot only once its back-off is over, so the slot is used at once
    assert events == ["send", "back-off", "pace", "send", "back-off", "pace", "send"]


@responses.activate
def test_first_attempt_and_definite_answers_never_ask_the_pacer(waits):
    responses.add(responses.POST, URL, status=200)
    responses.add(responses.POST, URL, status=400)
    events: list[str] = []
    options = fast(pace=FakePacer(events))
    session = make_session(options)

    send(session, ewe_call(), options)
    send(session, ewe_call(), options)
    send(session, ewe_call(), fast(retries=0, pace=FakePacer(events)))

    assert events == []


@responses.activate
def test_pacer_saying_stop_gives_up_with_the_last_answer(waits):
    responses.add(responses.POST, URL, status=503, body="busy")
    responses.add(responses.POST, URL, status=200)
    events: list[str] = []
    options = fast(retries=5, pace=FakePacer(events, answers=[False]), debug=True)
    log: list[str] = []

    delivery = send(make_session(options), ewe_call(), options, log=log.append)

    assert events == ["pace"] and len(responses.calls) == 1
    assert log[-1] == "not retrying: the run is stopping"
    assert delivery.response.status_code == 503 and delivery.response.text == "busy"
    assert delivery.attempts == 1 and delivery.error is None


@responses.activate
def test_pacer_saying_stop_after_a_connection_error_keeps_the_error(waits):
    responses.add(responses.POST, URL, body=requests.ConnectionError("Connection aborted."))
    events: list[str] = []
    options = fast(retries=3, pace=FakePacer(events, answers=[True, False]))

    delivery = send(make_session(options), ewe_call(), options)

    assert events == ["pace", "pace"] and len(responses.calls) == 2
    assert delivery.response is None and delivery.attempts == 2
    assert delivery.error == "connection to jerrytest.ewe.com.au:443 failed"


@responses.activate
def test_retries_of_concurrent_sends_are_evenly_paced_by_one_pacer():
    # A measured version: 4 threads, every item answered 503 once, one Pacer at 20/s that
    # also paces each first attempt (as the bulk engine does). All 8 requests, retries
    # included, take a slot from it, so the k-th starts no sooner than k/20 s after the first.
    # Measured where it cannot flake on a busy machine: each slot is granted inside its
    # pace() call, so the k-th earliest return from pace() is no earlier than the k-th grant,
    # which is k intervals after the first, itself after the first call began. (Timestamps
    # taken later, in the server, can bunch up when a thread stalls after its grant.)
    from shipctl.batch import Pacer

    rate = 20.0
    pacer = Pacer(rate)
    lock = threading.Lock()
    asked: list[float] = []
    granted: list[float] = []
    starts: list[float] = []
    seen: set[str] = set()

    def pace() -> bool:
        before = time.monotonic()
        allowed = pacer.wait()
        after = time.monotonic()
        with lock:
            asked.append(before)
            granted.append(after)
        return allowed

    def answer(request):
        reference = json.loads(request.body)["referenceNo"]
        with lock:
            starts.append(time.monotonic())
            first = reference not in seen
            seen.add(reference)
        return (503, {}, "") if first else (200, {}, "{}")

    responses.add_callback(responses.POST, URL, callback=answer)
    options = fast(backoff_base=0.001, backoff_max=0.002, pace=pace)
    session = make_session(options)
    results: list[int] = []

    def worker(reference: str):
        assert pace()
        body = json.dumps(dict(BODY, referenceNo=reference)).encode()
        results.append(send(session, ewe_call(body=body), options).response.status_code)

    threads = [threading.Thread(target=worker, args=(f"R{n}",)) for n in range(4)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()

    assert results == [200] * 4 and len(starts) == 8 and len(granted) == 8
    granted.sort()
    assert all(at - min(asked) >= k * 0.95 / rate for k, at in enumerate(granted))


# -- options --------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("overrides", "flag"),
    [
        ({"timeout": 0}, "--timeout 0"),
        ({"timeout": -1.5}, "--timeout -1.5"),
        ({"timeout": float("nan")}, "--timeout nan"),
        ({"timeout": float("inf")}, "--timeout inf"),
        ({"timeout": 1e12}, "--timeout 1e+12"),
        ({"connect_timeout": 0}, "connect timeout 0"),
        ({"retries": -1}, "--retries -1"),
    ],
)
def test_unusable_options_are_a_usage_error_before_anything_is_sent(overrides, flag):
    with pytest.raises(UsageError) as info:
        make_session(HttpOptions(**overrides))
    assert str(info.value).startswith(flag + ": must be")


@pytest.mark.parametrize("overrides", [{"timeout": 0}, {"timeout": -1}, {"connect_timeout": 1e12}])
def test_a_refused_timeout_is_never_reported_as_a_url_problem(overrides, waits):
    # send() with options that skipped make_session's check: requests raises ValueError
    # ("Invalid timeout") or the socket layer OverflowError; neither is about the URL.
    session = make_session(fast())
    delivery = send(session, Call("POST", "http://127.0.0.1:9/x", {}, b"{}"), fast(**overrides))

    assert delivery.response is None and delivery.attempts == 1
    assert delivery.error.startswith("invalid timeout (connect ")
    assert "URL" not in delivery.error


@pytest.mark.parametrize("value", [0.001, 1, 30.0, 86400])
@responses.activate
def test_accepted_timeouts(value, waits):
    # What the user notices: no usage error, and the request goes out with that read timeout.
    responses.add(responses.POST, URL, status=200)
    options = fast(timeout=value)

    delivery = send(make_session(options), ewe_call(), options)

    assert delivery.response.status_code == 200 and delivery.error is None
    assert responses.calls[0].request.req_kwargs["timeout"] == (10.0, value)


def test_the_longest_accepted_timeout_works_on_a_real_socket():
    # 86400 s is below what the socket layer can hold (1e12 s overflows it).
    options = fast(timeout=86400, connect_timeout=86400)
    with ScriptedServer([OK]) as server:
        delivery = send(make_session(options), ewe_call(url=server.url), options)

    assert delivery.response.status_code == 200 and delivery.attempts == 1


@pytest.mark.parametrize(
    ("url", "headers", "expected"),
    [
        ("ftp://127.0.0.1/x", {}, "invalid URL ftp://127.0.0.1/x: it must start with https://"),
        ("127.0.0.1/x", {}, "invalid URL 127.0.0.1/x: it must start with https://"),
        ("http://[::1/x", {}, "invalid URL http://[::1/x"),
        ("http://127.0.0.1:9/x", {"Authorization": "Basic c2VjcmV0\nX: y"},
         "invalid header value in the request"),
    ],
)
def test_unsendable_requests_fail_once_with_a_plain_error(url, headers, expected, waits):
    delivery = send(make_session(fast()), Call("POST", url, headers, b"{}"), fast())

    assert delivery.response is None and delivery.attempts == 1 and waits == []
    assert delivery.error.startswith(expected)
    assert "c2VjcmV0" not in delivery.error


@responses.activate
def test_backoff_grows_exponentially_with_full_jitter_and_a_cap(waits):
    responses.add(responses.POST, URL, status=503)
    options = HttpOptions(backoff_base=1.0, backoff_max=4.0, retries=6)

    send(make_session(options), ewe_call(), options)

    # RetryPolicy.wait: attempt n waits uniform(0, min(max, base * 2**(n-1))).
    ceilings = [1, 2, 4, 4, 4, 4]
    assert len(waits) == 6
    assert all(0 <= w <= c for w, c in zip(waits, ceilings, strict=True))


@pytest.mark.parametrize(
    ("header", "cap", "expected"),
    [("7", 60, 7.0), ("0", 60, 0.0), ("3600", 5, 5.0), ("soon", 60, None)],
)
@responses.activate
def test_retry_after_seconds_is_honoured_and_capped(header, cap, expected, waits):
    responses.add(responses.POST, URL, status=429, headers={"Retry-After": header})
    responses.add(responses.POST, URL, status=200)
    options = fast(retry_after_max=cap)

    delivery = send(make_session(options), ewe_call(), options)

    assert delivery.response.status_code == 200 and len(waits) == 1
    if expected is None:  # unparseable header: ordinary back-off
        assert waits[0] <= 0.01
    else:
        assert expected <= waits[0] <= expected + 0.01


@responses.activate
def test_retry_after_http_date_is_honoured(waits):
    # An hour ahead: the wait is the time left until then, which only a stall of more than
    # a minute and a half between building the header and reading it could take below 3500 s.
    when = datetime.now(timezone.utc) + timedelta(seconds=3600)
    responses.add(responses.POST, URL, status=503,
                  headers={"Retry-After": format_datetime(when, usegmt=True)})
    responses.add(responses.POST, URL, status=200)
    options = fast(retry_after_max=7200)

    send(make_session(options), ewe_call(), options)

    assert len(waits) == 1 and 3500 <= waits[0] <= 3600.01


def test_parse_retry_after_forms():
    now = datetime(2024, 1, 1, 12, 0, 0, tzinfo=timezone.utc)
    assert http.parse_retry_after("120", now=now) == 120
    assert http.parse_retry_after("Mon, 01 Jan 2024 12:00:30 GMT", now=now) == 30
    assert http.parse_retry_after("Mon, 01 Jan 2024 11:00:00 GMT", now=now) == 0  # past
    assert http.parse_retry_after("-5", now=now) == 0
    for bad in (None, "", "nan", "inf", "tomorrow", "Mon, 99 Foo 2024"):
        assert http.parse_retry_after(bad, now=now) is None


@responses.activate
def test_request_carries_user_agent_and_timeouts_and_is_not_redirected(waits, monkeypatch):
    monkeypatch.delenv("REQUESTS_CA_BUNDLE", raising=False)
    monkeypatch.delenv("CURL_CA_BUNDLE", raising=False)
    responses.add(responses.POST, URL, status=302, headers={"Location": "https://elsewhere/"})
    options = fast(timeout=30, connect_timeout=10)

    delivery = send(make_session(options), ewe_call(), options)

    sent = responses.calls[0].request
    assert sent.headers["User-Agent"] == f"shipctl/{__version__}"
    assert sent.headers["Content-Type"] == "application/javascript"
    assert sent.req_kwargs["timeout"] == (10, 30)
    assert sent.req_kwargs["verify"] is True
    assert delivery.response.status_code == 302 and len(responses.calls) == 1


@responses.activate
def test_netrc_does_not_replace_the_callers_authorization(tmp_path, monkeypatch, waits):
    netrc = tmp_path / ".netrc"
    netrc.write_text("machine jerrytest.ewe.com.au login other password elsewhere\n")
    netrc.chmod(0o600)
    monkeypatch.setenv("NETRC", str(netrc))
    responses.add(responses.POST, URL, status=200)

    send(make_session(fast()), ewe_call(headers={"Authorization": BASIC}), fast())

    assert responses.calls[0].request.headers["Authorization"] == BASIC


def test_session_pool_and_no_urllib3_retries():
    adapter = make_session(fast(), pool_size=7).get_adapter(URL)
    assert adapter.max_retries.total == 0
    assert adapter._pool_maxsize == 7 and adapter._pool_connections == 7


# -- --ca-bundle ----------------------------------------------------------------------------


def test_ca_bundle_is_added_to_certifi_in_a_private_file(tmp_path, monkeypatch):
    monkeypatch.delenv("REQUESTS_CA_BUNDLE", raising=False)
    monkeypatch.delenv("CURL_CA_BUNDLE", raising=False)
    ca = tmp_path / "corp-ca.pem"
    ca.write_text(TEST_CA_PEM)

    session = make_session(HttpOptions(ca_bundle=ca))

    combined = Path(session.verify)
    assert combined != ca and combined.is_file()
    assert stat.S_IMODE(combined.stat().st_mode) == 0o600
    text = combined.read_text()
    assert TEST_CA_PEM.strip() in text
    assert Path(certifi.where()).read_text().strip() in text
    del session
    gc.collect()
    assert not combined.exists()  # removed with its session


@responses.activate
def test_ca_bundle_adds_to_the_environments_bundle_and_wins_over_it(tmp_path, monkeypatch, waits):
    system = tmp_path / "system.pem"
    system.write_text(SERVER_CERT_PEM)  # stands in for the machine's CA store
    monkeypatch.setenv("REQUESTS_CA_BUNDLE", str(system))
    ca = tmp_path / "corp-ca.pem"
    ca.write_text(TEST_CA_PEM)
    responses.add(responses.POST, URL, status=200)

    session = make_session(HttpOptions(ca_bundle=ca))
    send(session, ewe_call(), fast())

    combined = Path(session.verify).read_text()
    assert SERVER_CERT_PEM.strip() in combined and TEST_CA_PEM.strip() in combined
    assert responses.calls[0].request.req_kwargs["verify"] == session.verify


def _bad_bundle(tmp_path, kind):
    path = tmp_path / "bad.pem"
    if kind == "missing":
        return tmp_path / "nope.pem"
    if kind == "directory":
        path.mkdir()
    elif kind == "empty":
        path.write_bytes(b"")
    elif kind == "text":
        path.write_text("just some text\n")
    elif kind == "key only":
        path.write_text(SERVER_KEY_PEM)
    elif kind == "binary":
        path.write_bytes(bytes(range(256)))
    elif kind == "broken pem":
        path.write_text("-----BEGIN CERTIFICATE-----\nAAAA\n-----END CERTIFICATE-----\n")
    elif kind == "unreadable":
        path.write_text(TEST_CA_PEM)
        path.chmod(0)
    return path


@pytest.mark.parametrize(
    "kind",
    ["missing", "directory", "empty", "text", "key only", "binary", "broken pem", "unreadable"],
)
def test_bad_ca_bundle_is_a_usage_error_naming_the_file(tmp_path, kind):
    path = _bad_bundle(tmp_path, kind)
    if kind == "unreadable" and _can_read(path):
        pytest.skip("running as a user who can read a 0000 file (root)")
    with pytest.raises(UsageError) as info:
        make_session(HttpOptions(ca_bundle=path))
    assert str(path) in info.value.message and "\n" not in info.value.message


def _can_read(path: Path) -> bool:
    try:
        path.read_bytes()
        return True
    except OSError:
        return False


# -- real sockets on 127.0.0.1 --------------------------------------------------------------


class ScriptedServer:
    """A loopback HTTP server answering from a script; records every request it read.

    Script entries: "drop" (read the request, close without answering), "reset" (read it,
    reset the connection) or (status, headers, body). The last entry repeats.
    """

    def __init__(self, script, *, delay: float = 0.0, tls: ssl.SSLContext | None = None):
        self.script = list(script)
        self.requests: list[tuple[str, str, dict, bytes]] = []
        self.lock = threading.Lock()
        owner = self

        class Handler(BaseHTTPRequestHandler):
            def log_message(self, *args):  # keep test output quiet
                pass

            def do_POST(self):
                length = int(self.headers.get("Content-Length") or 0)
                body = self.rfile.read(length)
                with owner.lock:
                    owner.requests.append((self.command, self.path, dict(self.headers), body))
                    step = owner.script.pop(0) if len(owner.script) > 1 else owner.script[0]
                if delay:
                    time.sleep(delay)
                if step == "drop":  # a clean close: "Remote end closed connection"
                    self.close_connection = True
                    return
                if step == "reset":  # SO_LINGER 0: the close sends a TCP RST
                    self.connection.setsockopt(
                        socket.SOL_SOCKET, socket.SO_LINGER, struct.pack("ii", 1, 0)
                    )
                    self.connection.close()
                    self.close_connection = True
                    return
                status, headers, payload = step
                self.send_response(status)
                for name, value in headers.items():
                    self.send_header(name, value)
                self.send_header("Content-Length", str(len(payload)))
                self.end_headers()
                self.wfile.write(payload)

            do_GET = do_POST

        self.server = LoopbackServer(Handler, tls=tls)
        self.url = self.server.url + "/api/modifyShipment"

    def __enter__(self):
        return self

    def __exit__(self, *exc):
        self.server.close()


OK = (200, {"Content-Type": "application/json"}, b'{"success": true, "code": 0}')
UNAVAILABLE = (503, {"Retry-After": "0"}, b"busy")


def test_real_http_dropped_and_reset_connections_then_503_then_success():
    call = ewe_call()
    log: list[str] = []
    options = fast(debug=True)
    with ScriptedServer(["drop", "reset", UNAVAILABLE, OK]) as server:
        call.url = server.url
        delivery = send(make_session(options), call, options, log=log.append)

    assert delivery.response.status_code == 200 and delivery.attempts == 4
    assert [r[3] for r in server.requests] == [call.body] * 4
    assert all(r[2]["User-Agent"] == f"shipctl/{__version__}" for r in server.requests)
    text = "\n".join(log)
    where = f"127.0.0.1:{server.server.server_address[1]}"
    assert f"! connection closed by {where} without a response" in text
    assert f"! connection reset by {where}" in text
    assert "retrying in" in text and "(HTTP 503, Retry-After 0 s)" in text
    assert DIGEST not in text


@contextmanager
def refused_port():
    # Bound but not listening: the kernel refuses connections to it, and nobody else can take
    # the port while the test runs.
    sock = socket.socket()
    sock.bind(("127.0.0.1", 0))
    try:
        yield sock.getsockname()[1]
    finally:
        sock.close()


def test_real_connection_refused_is_retried_then_reported():
    with refused_port() as port:
        call = ewe_call(url=f"http://127.0.0.1:{port}/api")
        delivery = send(make_session(fast()), call, fast(retries=2))

    assert delivery.response is None and delivery.attempts == 3
    assert delivery.error == f"connection refused by 127.0.0.1:{port}"


def test_real_read_timeout_is_retried_then_reported():
    listener = socket.socket()
    listener.bind(("127.0.0.1", 0))
    listener.listen(8)  # accepts connections in the kernel, never answers
    port = listener.getsockname()[1]
    try:
        options = fast(retries=1, timeout=0.2)
        delivery = send(make_session(options), ewe_call(url=f"http://127.0.0.1:{port}/"), options)
    finally:
        listener.close()

    assert delivery.response is None and delivery.attempts == 2
    assert delivery.error == f"timed out after 0.2 s waiting for 127.0.0.1:{port} to answer"
    assert delivery.elapsed >= 0.4


def _tls_context(tmp_path) -> ssl.SSLContext:
    cert, key = tmp_path / "server.pem", tmp_path / "server.key"
    cert.write_text(SERVER_CERT_PEM + TEST_CA_PEM)
    key.write_text(SERVER_KEY_PEM)
    context = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
    context.load_cert_chain(cert, key)
    return context


def test_real_tls_with_ca_bundle_succeeds_and_without_is_a_definite_failure(tmp_path):
    ca = tmp_path / "ca.pem"
    ca.write_text(TEST_CA_PEM)
    with ScriptedServer([OK], tls=_tls_context(tmp_path)) as server:
        trusted = send(make_session(HttpOptions(ca_bundle=ca)), ewe_call(url=server.url), fast())
        untrusted = send(make_session(HttpOptions()), ewe_call(url=server.url), fast(retries=3))

    assert trusted.response.status_code == 200 and trusted.attempts == 1
    assert untrusted.response is None
    assert untrusted.attempts == 1  # a certificate problem is not going to go away
    assert untrusted.error.startswith("TLS certificate verification failed for 127.0.0.1:")
    assert "--ca-bundle" in untrusted.error and "\n" not in untrusted.error
    assert len(server.requests) == 1


@pytest.mark.parametrize(("pool_size", "pool_full"), [(8, False), (1, True)])
def test_concurrent_sends_share_one_session(pool_size, pool_full, caplog):
    caplog.set_level(logging.WARNING, logger="urllib3")
    with ScriptedServer([OK], delay=0.1) as server:
        session = make_session(fast(), pool_size=pool_size)
        results: list[http.Delivery] = []
        start = threading.Barrier(8)

        def worker():
            start.wait()
            results.append(send(session, ewe_call(url=server.url), fast()))

        threads = [threading.Thread(target=worker) for _ in range(8)]
        for t in threads:
            t.start()
        for t in threads:
            t.join()

    assert [d.response.status_code for d in results] == [200] * 8
    assert len(server.requests) == 8
    # With --jobs threads and a pool as large, no connection is thrown away after use.
    assert ("Connection pool is full" in caplog.text) is pool_full


# -- wire log -------------------------------------------------------------------------------


@responses.activate
def test_debug_wire_log_is_complete_and_redacted(waits):
    secrets.register("profile-pass-77")
    token_answer = {"access_token": "tok-from-server-123", "expires_in": 3600, "code": 0}
    responses.add(responses.POST, URL + "?sig=profile-pass-77", status=503)
    responses.add(responses.POST, URL + "?sig=profile-pass-77", json=token_answer,
                  headers={"Set-Cookie": "session=cookie-val-456"})
    log: list[str] = []
    call = ewe_call(url=URL + "?sig=profile-pass-77",
                    headers={"Authorization": BASIC, "X-Api-Key": "api-key-value-9",
                             "Content-Type": "application/json"})

    send(make_session(fast()), call, fast(debug=True), log=log.append)

    text = "\n".join(log)
    for secret in (DIGEST, "dXNlcjpzM2NyZXQtcGFzcw==", "api-key-value-9", "profile-pass-77",
                   "tok-from-server-123", "cookie-val-456"):
        assert secret not in text
    assert text.count(f"> POST {URL}?sig=********") == 2
    assert "> Authorization: Basic ********" in text
    assert "> X-Api-Key: ********" in text
    assert '>   "username": "test"' in text and '>   "digest": "********"' in text
    assert "< 503 Service Unavailable" in text and "< 200 OK" in text
    assert '<   "access_token": "********"' in text and '<   "expires_in": 3600' in text
    assert any(line.startswith("retrying in ") and line.endswith("(HTTP 503)") for line in log)


@responses.activate
def test_no_wire_log_without_debug(waits):
    responses.add(responses.POST, URL, status=503)
    responses.add(responses.POST, URL, status=200)
    log: list[str] = []

    send(make_session(fast()), ewe_call(), fast(debug=False), log=log.append)

    assert log == []


@responses.activate
def test_wire_log_truncates_long_response_bodies_after_redacting(waits):
    body = "x" * 100 + '"password": "early-secret-1", ' + "y" * 10000
    responses.add(responses.POST, URL, body=body, content_type="text/plain")
    log: list[str] = []

    send(make_session(fast()), ewe_call(), fast(debug=True), log=log.append)

    response_block = next(block for block in log if block.startswith("< 200"))
    shown_body = response_block.partition("\n<\n")[2]
    assert shown_body.startswith("< " + "x" * 100 + '"password": "********"')
    assert len(shown_body) < 2048 + 100
    assert shown_body.endswith(f"(truncated; {len(body)} bytes in all)")
    assert "early-secret-1" not in response_block


@responses.activate
def test_transient_predicate_that_cannot_parse_the_body_means_final(waits):
    responses.add(responses.POST, URL, status=500, body="<html>oops</html>")

    delivery = send(make_session(fast()), ewe_call(), fast(), transient=ewe_transient_strict)

    assert delivery.response.status_code == 500 and delivery.attempts == 1


def ewe_transient_strict(response: requests.Response) -> str | None:
    return "busy" if response.json()["code"] == 2 else None  # raises on a non-JSON body


# -- dry-run printing -----------------------------------------------------------------------


def rich_call() -> Call:
    body = dict(BODY, nested={"password": "nested-pw-123"},
                items=[{"token": "list-token-456"}], note="uses reg-secret-789 inline")
    return Call(
        method="POST",
        url=URL + "?access_token=query-token-321&sig=reg-secret-789",
        headers={"Content-Type": "application/javascript", "Authorization": BASIC},
        body=json.dumps(body).encode(),
    )


ALL_SECRETS = (DIGEST, "dXNlcjpzM2NyZXQtcGFzcw==", "nested-pw-123", "list-token-456",
               "query-token-321", "reg-secret-789")


def test_describe_redacts_unless_show_secrets():
    secrets.register("reg-secret-789")
    hidden = describe(rich_call(), show_secrets=False)
    shown = describe(rich_call(), show_secrets=True)

    hidden_text, shown_text = json.dumps(hidden), json.dumps(shown)
    for secret in ALL_SECRETS:
        assert secret not in hidden_text
        assert secret in shown_text
    assert hidden["method"] == "POST"
    assert hidden["url"] == URL + "?access_token=********&sig=********"
    assert hidden["headers"]["Authorization"] == "Basic ********"
    assert hidden["headers"]["User-Agent"] == f"shipctl/{__version__}"
    assert hidden["body"]["digest"] == "********" and hidden["body"]["username"] == "test"
    assert hidden["body"]["nested"] == {"password": "********"}
    assert hidden["body"]["note"] == "uses ******** inline"
    assert shown["body"] == json.loads(rich_call().body)
    assert shown["url"] == rich_call().url


def test_format_call_is_the_request_as_text():
    call = ewe_call()
    text = format_call(call, show_secrets=True)

    head, _, body = text.partition("\n\n")
    lines = head.splitlines()
    assert lines[0] == "POST /eweApi/ewe/api/modifyShipment HTTP/1.1"
    assert lines[1] == "Host: jerrytest.ewe.com.au"
    assert f"User-Agent: shipctl/{__version__}" in lines
    assert "Content-Type: application/javascript" in lines
    assert f"Content-Length: {len(call.body)}" in lines
    # The body exactly as it goes on the wire: Content-Length counts these bytes.
    assert body == call.body.decode() + "\n"
    assert f"Content-Length: {len(body.rstrip(chr(10)).encode())}" in lines


@pytest.mark.parametrize(
    "style",
    [
        {"separators": (",", ":"), "ensure_ascii": False},  # shipctl.ewe.client.encode
        {"separators": (",", ":"), "ensure_ascii": True},
        {},  # json.dumps' defaults
        {"indent": 2, "ensure_ascii": False},
    ],
)
def test_dry_run_body_is_printed_as_sent_with_only_secrets_masked(style):
    body = dict(BODY, to={"name": "Zoë Ng", "lines": ["1 Main St"]}, quantity=1, value=10.5)
    sent = json.dumps(body, **style)
    call = ewe_call(body=sent.encode())

    hidden = format_call(call, show_secrets=False).partition("\n\n")[2]
    shown = format_call(call, show_secrets=True).partition("\n\n")[2]

    assert shown == sent + "\n"
    assert DIGEST not in hidden
    assert hidden == sent.replace(DIGEST, "********") + "\n"


def test_dry_run_of_an_ewe_modify_body_is_compact():
    from shipctl.ewe import client

    body = client.encode(dict(BODY, to={"name": "Zoë"}))
    text = format_call(ewe_call(body=body), show_secrets=False)
    assert text.endswith(
        '\n\n{"username":"test","digest":"********","msgType":"modifyShipment",'
        '"referenceNo":"R1","to":{"name":"Zoë"}}\n'
    )
    assert f"Content-Length: {len(body)}\n" in text


def test_format_call_redacts_unless_show_secrets():
    secrets.register("reg-secret-789")
    hidden = format_call(rich_call(), show_secrets=False)
    shown = format_call(rich_call(), show_secrets=True)

    for secret in ALL_SECRETS:
        assert secret not in hidden
        assert secret in shown
    assert "Authorization: Basic ********" in hidden
    assert '"digest": "********"' in hidden
    assert hidden.splitlines()[0] == (
        "POST /eweApi/ewe/api/modifyShipment?access_token=********&sig=******** HTTP/1.1"
    )


def test_form_and_non_json_bodies_are_redacted():
    form = Call("POST", "https://api.fynd.com/oauth/token",
                {"Content-Type": "application/x-www-form-urlencoded"},
                b"grant_type=client_credentials&client_id=abc&client_secret=cs-value-42")
    pasted = Call("POST", URL, {}, b"{'digest': 'py-dict-digest', password=plain-pw-1 trailing")

    assert "cs-value-42" not in format_call(form, show_secrets=False)
    assert "client_id=abc" in format_call(form, show_secrets=False)
    assert describe(form, show_secrets=False)["body"] == (
        "grant_type=client_credentials&client_id=abc&client_secret=********"
    )
    for text in (format_call(pasted, show_secrets=False),
                 json.dumps(describe(pasted, show_secrets=False))):
        assert "py-dict-digest" not in text and "plain-pw-1" not in text and "trailing" in text


def test_custom_secret_keys_and_no_body():
    call = Call("POST", URL, {}, b'{"apiPassword": "custom-1234", "digest": "kept-visible"}',
                secret_keys=frozenset({"apiPassword"}))
    body = describe(call, show_secrets=False)["body"]
    assert body == {"apiPassword": "********", "digest": "kept-visible"}

    empty = Call("GET", "https://h.example/x")
    assert describe(empty, show_secrets=False)["body"] is None
    assert format_call(empty, show_secrets=False).endswith("\n")
    assert "\n\n" not in format_call(empty, show_secrets=False)


def test_url_password_is_hidden():
    call = Call("GET", "https://user:url-pass-55@h.example/x")
    assert "url-pass-55" not in describe(call, show_secrets=False)["url"]
    assert "url-pass-55" not in format_call(call, show_secrets=False)


SECRET_ALPHABET = string.ascii_letters + string.digits + "-_.~!$%^+="
json_values = st.recursive(
    st.none() | st.booleans() | st.integers() | st.floats(allow_nan=False) | st.text(),
    lambda children: st.lists(children, max_size=4)
    | st.dictionaries(st.text(max_size=8), children, max_size=4),
    max_leaves=12,
)


@st.composite
def bodies_with_secret(draw):
    secret = draw(st.text(SECRET_ALPHABET, min_size=6, max_size=16).filter(
        lambda s: any(c.isalpha() for c in s)))
    kind = draw(st.sampled_from(["bytes", "text", "json", "json-key"]))
    if kind == "bytes":
        before, after = draw(st.binary(max_size=40)), draw(st.binary(max_size=40))
        body = before + secret.encode() + after
    elif kind == "text":
        body = (draw(st.text(max_size=40)) + secret + draw(st.text(max_size=40))).encode()
    else:
        value = draw(json_values)
        if kind == "json":
            holder = {"note": draw(st.text(max_size=5)) + secret, "data": value}
        else:
            holder = {secret: value, "list": [value, "x" + secret]}
        body = json.dumps(holder, ensure_ascii=draw(st.booleans())).encode()
    return secret, body


def _strings(value):
    if isinstance(value, dict):
        for k, v in value.items():
            yield str(k)
            yield from _strings(v)
    elif isinstance(value, list):
        for v in value:
            yield from _strings(v)
    elif isinstance(value, str):
        yield value


@settings(max_examples=150, deadline=None,
          suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(case=bodies_with_secret(), content_type=st.sampled_from(
    ["application/json", "application/x-www-form-urlencoded", "text/plain", ""]))
def test_printing_never_raises_and_never_shows_a_registered_secret(case, content_type):
    secret, body = case
    secrets.clear()
    secrets.register(secret)
    call = Call("POST", f"https://h.example/p?q={secret}",
                {"Content-Type": content_type, "X-Trace": secret}, body)

    text = format_call(call, show_secrets=False)
    described = describe(call, show_secrets=False)

    assert secret not in text
    assert not any(secret in s for s in _strings(described))
    json.dumps(described)  # the -o json form is always serialisable
    format_call(call, show_secrets=True)
    describe(call, show_secrets=True)


def _has_secret_key(value) -> bool:
    if isinstance(value, dict):
        return any(k.lower() in http.DEFAULT_SECRET_KEYS or _has_secret_key(v)
                   for k, v in value.items())
    if isinstance(value, list):
        return any(_has_secret_key(v) for v in value)
    return False


@settings(max_examples=150, deadline=None)
@given(value=json_values.filter(lambda v: not _has_secret_key(v)),
       style=st.sampled_from([{"separators": (",", ":"), "ensure_ascii": False},
                              {"separators": (",", ":"), "ensure_ascii": True},
                              {}, {"ensure_ascii": False}]))
def test_dry_run_body_without_secrets_is_byte_for_byte_the_body_sent(value, style):
    secrets.clear()
    sent = json.dumps(value, **style)
    call = Call("POST", URL, {"Content-Type": "application/json"}, sent.encode())

    printed = format_call(call, show_secrets=False).partition("\n\n")[2]

    assert printed == sent + "\n"


def test_redact_strings_reaches_every_string_and_key():
    secrets.register("deep-secret-42")
    value = {"a": [{"deep-secret-42": ("x deep-secret-42", 5)}], 7: None, "n": 1.5}
    assert secrets.redact_strings(value) == {"a": [{"********": ["x ********", 5]}], 7: None,
                                          "n": 1.5}


# -- plain http warning ---------------------------------------------------------------------


def test_warns_once_per_host_about_credentials_over_plain_http():
    warnings: list[str] = []
    for url in ("http://example.com/hook", "http://example.com/other", "http://EXAMPLE.com:8080/",
                "http://second.example/"):
        http.warn_plain_http(url, sends_credentials=True, warn=warnings.append)

    assert warnings == [
        "sending credentials over plain http:// to example.com; use https://",
        "sending credentials over plain http:// to second.example; use https://",
    ]


@pytest.mark.parametrize(
    ("url", "credentials"),
    [
        ("https://example.com/hook", True),
        ("http://example.com/hook", False),
        ("http://127.0.0.1:8000/", True),
        ("http://127.9.8.7/", True),
        ("http://localhost:8000/", True),
        ("http://api.localhost/", True),
        ("http://[::1]:8000/", True),
        ("http://[::ffff:127.0.0.1]/", True),
        ("not a url at all", True),
        ("http://[::1/broken", True),
    ],
)
def test_no_plain_http_warning(url, credentials):
    warnings: list[str] = []
    http.warn_plain_http(url, sends_credentials=credentials, warn=warnings.append)
    assert warnings == []


def test_plain_http_warning_for_non_loopback_addresses():
    warnings: list[str] = []
    http.warn_plain_http("http://10.0.0.5/x", sends_credentials=True, warn=warnings.append)
    http.warn_plain_http("http://[2001:db8::1]/x", sends_credentials=True, warn=warnings.append)
    assert warnings == [
        "sending credentials over plain http:// to 10.0.0.5; use https://",
        "sending credentials over plain http:// to 2001:db8::1; use https://",
    ]
