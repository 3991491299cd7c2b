"""shipctl.http.retry.RetryPolicy: what is retried, how long to wait, when to give up, when a
401 renews the credentials (the loop that asks it is tested in test_http.py, against mocked
and real servers; its renewal here)."""

from __future__ import annotations

import pytest
import requests
import responses as responses_lib

from shipctl.errors import ShipctlError
from shipctl.http import Auth as HttpAuth
from shipctl.http import Call, HttpOptions, RetryPolicy, make_session, send
from shipctl.http import retry as retry_module
from shipctl.http.retry import Attempt


@pytest.fixture
def highest(monkeypatch):
    """Full jitter drawn at its ceiling, so the ceiling itself can be read."""
    monkeypatch.setattr(retry_module.random, "uniform", lambda low, high: high)


def policy(transient=None, **overrides) -> RetryPolicy:
    return RetryPolicy.from_options(HttpOptions(**overrides), transient)


def answer(status: int, headers: dict[str, str] | None = None, body: bytes = b"") -> Attempt:
    response = requests.Response()
    response.status_code = status
    response.headers.update(headers or {})
    response._content = body
    return Attempt(response=response)


NO_ANSWER = Attempt()


def test_gives_up_after_the_retries_asked_for():
    three = policy(retries=3)
    assert [three.gives_up(n) for n in (1, 2, 3, 4)] == [False, False, False, True]
    assert policy(retries=0).gives_up(1)
    assert policy(retries=-2).retries == 0


@pytest.mark.parametrize(
    ("result", "reason"),
    [
        (answer(503), "HTTP 503"),
        (answer(429, {"Retry-After": "7"}), "HTTP 429, Retry-After 7 s"),
        (answer(200), None),
        (answer(500), None),
        (Attempt(error="connection refused by h:443",
                 exception=requests.ConnectionError("refused")), "connection refused by h:443"),
        (Attempt(error="TLS error with h:443: x",
                 exception=requests.exceptions.SSLError("bad")), None),
        (Attempt(error="invalid URL x", exception=requests.exceptions.InvalidURL("x")), None),
    ],
    ids=["503", "429-retry-after", "200", "500", "refused", "tls", "bad-url"],
)
def test_what_is_retried(result, reason):
    assert policy().reason(result) == reason


def test_the_callers_transient_predicate_decides_otherwise_final_answers():
    def busy(response: requests.Response) -> str | None:
        return "busy" if response.json()["code"] == 2 else None

    asks = policy(busy)
    assert asks.reason(answer(200, body=b'{"code": 2}')) == "busy"
    assert asks.reason(answer(200, body=b'{"code": 0}')) is None
    assert asks.reason(answer(500, body=b"<html>")) is None  # ValueError: not "later"
    assert asks.reason(answer(503, body=b'{"code": 0}')) == "HTTP 503"  # not consulted


def test_back_off_ceiling_doubles_up_to_the_cap(highest):
    capped = policy(backoff_base=0.25, backoff_max=2.0)
    waits = [capped.wait(n, NO_ANSWER) for n in range(1, 7)]
    assert waits == [0.25, 0.5, 1.0, 2.0, 2.0, 2.0]


def test_back_off_never_overflows_for_a_huge_retry_count(highest):
    assert policy(backoff_base=0.25, backoff_max=20.0).wait(100_000, NO_ANSWER) == 20.0


def test_full_jitter_is_drawn_from_zero(monkeypatch):
    drawn: list[tuple[float, float]] = []
    monkeypatch.setattr(retry_module.random, "uniform",
                        lambda low, high: drawn.append((low, high)) or low)
    assert policy(backoff_base=1.0).wait(3, NO_ANSWER) == 0
    assert drawn == [(0, 4.0)]


@pytest.mark.parametrize(("header", "expected"), [("7", 7.0), ("0", 0.25), ("500", 60.0)])
def test_retry_after_is_a_floor_under_the_back_off_and_is_capped(highest, header, expected):
    result = answer(503, {"Retry-After": header})
    assert policy(backoff_base=0.25, retry_after_max=60.0).wait(1, result) == expected


class Tokens(HttpAuth):
    """Credentials that renew to the next token of ``tokens`` (or raise ``refuse``)."""

    def __init__(self, *tokens: str, refuse: Exception | None = None) -> None:
        self.tokens = list(tokens)
        self.refuse = refuse
        self.rejected: list[dict[str, str]] = []

    def headers(self) -> dict[str, str]:
        return {"Authorization": f"Bearer {self.tokens[0]}"}

    def renew(self, rejected: dict[str, str]) -> bool:
        self.rejected.append(rejected)
        if self.refuse is not None:
            raise self.refuse
        if len(self.tokens) < 2:
            return False
        self.tokens.pop(0)
        return True


def test_renews_only_a_401_and_only_with_credentials():
    tokens = Tokens("a")
    renewing = RetryPolicy.from_options(HttpOptions(), auth=tokens)
    assert renewing.renews(answer(401), renewed=False)
    assert not renewing.renews(answer(401), renewed=True)  # once per call: a second 401 stands
    assert not renewing.renews(answer(403), renewed=False)
    assert not renewing.renews(NO_ANSWER, renewed=False)
    assert not policy().renews(answer(401), renewed=False)  # no credentials, nothing to renew


@responses_lib.activate
def test_send_renews_the_credentials_once_after_a_401():
    url = "https://api.test/x"
    responses_lib.add(responses_lib.GET, url, status=401)
    responses_lib.add(responses_lib.GET, url, status=200)
    tokens = Tokens("old", "new")
    session = make_session(HttpOptions())
    delivery = send(session, Call("GET", url), HttpOptions(retries=0), auth=tokens)
    assert delivery.response.status_code == 200 and delivery.attempts == 2
    assert tokens.rejected == [{"Authorization": "Bearer old"}]
    sent = [call.request.headers["Authorization"] for call in responses_lib.calls]
    assert sent == ["Bearer old", "Bearer new"]  # at once, though --retries is 0


@responses_lib.activate
def test_a_second_401_stands_and_a_refusal_comes_back_beside_it():
    url = "https://api.test/x"
    responses_lib.add(responses_lib.GET, url, status=401)
    session = make_session(HttpOptions())
    twice = send(session, Call("GET", url), HttpOptions(), auth=Tokens("a", "b", "c"))
    assert twice.response.status_code == 401 and twice.attempts == 2 and twice.refused is None
    refusal = ShipctlError("the token endpoint refused the client secret")
    refused = send(session, Call("GET", url), HttpOptions(), auth=Tokens("a", refuse=refusal))
    assert refused.response.status_code == 401 and refused.attempts == 1
    assert refused.refused is refusal
