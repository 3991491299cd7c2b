"""Fynd's OAuth token (docs/fynd.md, Authentication): the request, the
cache file, renewal 60 s early and on a 401, one token for many requests, refused credentials."""

from __future__ import annotations

import base64
import json
import os
import stat
import threading
from urllib.parse import parse_qs

import pytest
import responses
from hypothesis import given, settings
from hypothesis import strategies as st

import shipctl.http
from shipctl import http, secrets
from shipctl.errors import ExitCode
from shipctl.fynd import client, token_cache
from shipctl.fynd import credentials as token

BASE = "https://fynd.test"
TOKEN_URL = client.token_url(BASE, "7")
CLIENT_ID = "acme-client"
SECRET = "s3cret-Client-Value"


class Clock:
    def __init__(self, now: float = 1_800_000_000.0) -> None:
        self.now = now

    def __call__(self) -> float:
        return self.now


def identity(profile: str = "default", company: str = "7", client_id: str = CLIENT_ID,
             secret: str = SECRET):
    return token_cache.Identity(profile, BASE, company, client_id,
                                token_cache.secret_digest(secret))


def make_source(clock=None, cache=None, ident=None, retries: int = 0, secret: str = SECRET,
                warned: list[str] | None = None) -> token.TokenSource:
    clock = clock or Clock()
    options = http.HttpOptions(retries=retries)
    session = http.make_session(options, pool_size=1)
    ident = ident or identity(secret=secret)
    warn = warned.append if warned is not None else None

    def fetcher():
        return token.fetch(session, options, url=client.token_url(BASE, ident.company_id),
                           client_id=ident.client_id, client_secret=secret,
                           profile=ident.profile, clock=clock, warn=warn)

    return token.TokenSource(ident, fetcher, cache=cache or token_cache.TokenCache(warn=warn),
                             clock=clock)


def issue(access_token: str = "tok-AAAA-1111", expires_in: int = 3600, status: int = 200,
          url: str = TOKEN_URL) -> None:
    body = {"access_token": access_token, "expires_in": expires_in} if status == 200 else {
        "success": False, "message": "invalid client credentials"}
    responses.add(responses.POST, url, json=body, status=status)


@responses.activate
def test_the_token_request_is_basic_auth_and_the_client_credentials_grant():
    issue()
    got = make_source().get()
    assert got.access_token == "tok-AAAA-1111"
    (call,) = responses.calls
    request = call.request
    assert request.method == "POST"
    assert request.url == BASE + "/service/panel/authentication/v1.0/company/7/oauth/token"
    expected = base64.b64encode(f"{CLIENT_ID}:{SECRET}".encode()).decode()
    assert request.headers["Authorization"] == f"Basic {expected}"
    assert request.headers["Content-Type"] == "application/x-www-form-urlencoded"
    assert parse_qs(request.body.decode()) == {"grant_type": ["client_credentials"]}
    # the secret, its Basic form and the token are masked everywhere from now on
    assert secrets.redact(f"{SECRET} {expected} tok-AAAA-1111").count(secrets.MASK) == 3


@responses.activate
def test_one_token_for_many_requests_and_many_threads():
    issue()
    source = make_source()
    tokens = set()
    lock = threading.Lock()

    def worker():
        for _ in range(25):
            value = source.get().access_token
            with lock:
                tokens.add(value)

    threads = [threading.Thread(target=worker) for _ in range(16)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert tokens == {"tok-AAAA-1111"}
    assert len(responses.calls) == 1 and source.fetched == 1


@responses.activate
def test_the_cache_is_reused_by_the_next_run_and_is_private():
    issue()
    first = make_source().get()
    path = token_cache.TokenCache().path(identity())
    assert stat.S_IMODE(path.stat().st_mode) == 0o600
    assert stat.S_IMODE(path.parent.stat().st_mode) == 0o700
    # neither the secret nor the client id names the file; it lives in the user cache dir
    assert SECRET not in path.name and CLIENT_ID not in path.name
    assert str(path).startswith(os.environ["XDG_CACHE_HOME"])
    second = make_source()  # a new run: same profile, company and client
    assert second.get() == first
    assert second.fetched == 0 and len(responses.calls) == 1


@responses.activate
@pytest.mark.parametrize("other", [identity(profile="staging"), identity(company="8"),
                                   identity(client_id="other-client")])
def test_each_profile_company_and_client_has_its_own_token(other):
    issue()
    issue("tok-BBBB-2222", url=client.token_url(BASE, other.company_id))
    assert make_source().get().access_token == "tok-AAAA-1111"
    assert make_source(ident=other).get().access_token == "tok-BBBB-2222"
    assert token_cache.TokenCache().path(other) != token_cache.TokenCache().path(identity())
    assert len(responses.calls) == 2


@responses.activate
def test_renewed_60_seconds_before_it_expires():
    issue("tok-AAAA-1111", expires_in=3600)
    issue("tok-BBBB-2222", expires_in=3600)
    clock = Clock()
    source = make_source(clock)
    assert source.get().access_token == "tok-AAAA-1111"
    clock.now += 3600 - 61
    assert source.get().access_token == "tok-AAAA-1111"
    assert make_source(clock).get().access_token == "tok-AAAA-1111"  # from the cache file
    clock.now += 2  # 59 s left: renewed, in memory and on disk
    assert source.get().access_token == "tok-BBBB-2222"
    assert make_source(clock).get().access_token == "tok-BBBB-2222"
    assert len(responses.calls) == 2


@responses.activate
def test_a_short_lived_token_is_not_fetched_for_every_request():
    issue("tok-AAAA-1111", expires_in=90)  # 60 s early would make it stale on arrival
    clock = Clock()
    source = make_source(clock)
    source.get()
    clock.now += 30
    assert source.get().access_token == "tok-AAAA-1111"
    assert len(responses.calls) == 1


@responses.activate
def test_a_401_renews_once_for_every_worker():
    issue("tok-AAAA-1111")
    issue("tok-BBBB-2222")
    source = make_source()
    rejected = source.get().access_token
    assert source.renew(rejected).access_token == "tok-BBBB-2222"
    # a second worker that sent the old token too: the new one, no second fetch
    assert source.renew(rejected).access_token == "tok-BBBB-2222"
    assert len(responses.calls) == 2


@responses.activate
@pytest.mark.parametrize("status", [400, 401, 403])
def test_refused_credentials_exit_2_and_ask_once(status):
    issue(status=status)
    source = make_source(retries=3)
    with pytest.raises(token.TokenRefused) as raised:
        source.get()
    error = raised.value
    assert error.exit_code == ExitCode.USAGE == 2
    assert "check fynd.client_id / fynd.client_secret" in error.message
    assert "invalid client credentials" in error.message and "profile 'default'" in error.message
    assert SECRET not in str(error)
    with pytest.raises(token.TokenRefused):  # every worker: the same answer, not a storm
        source.get()
    with pytest.raises(token.TokenRefused):
        source.renew("anything")
    assert len(responses.calls) == 1


@responses.activate
def test_a_transient_503_is_retried(monkeypatch):
    monkeypatch.setattr(shipctl.http, "sleep", lambda seconds: None)
    responses.add(responses.POST, TOKEN_URL, json={"success": False, "message": "busy"},
                  status=503)
    issue()
    assert make_source(retries=2).get().access_token == "tok-AAAA-1111"
    assert len(responses.calls) == 2


@responses.activate
@pytest.mark.parametrize("body", [{"token": "x"}, {"access_token": ""}])
def test_an_answer_without_a_usable_token_is_an_error(body):
    responses.add(responses.POST, TOKEN_URL, json=body)
    with pytest.raises(token.ShipctlError) as raised:
        make_source().get()
    assert raised.value.exit_code == ExitCode.FAILED
    assert "no Fynd access token" in raised.value.message


@responses.activate
def test_a_gateway_page_from_the_token_endpoint_is_one_line():
    page = "<html>\n<head><title>502 Bad Gateway</title></head>\n<body>" + "x" * 5000
    responses.add(responses.POST, TOKEN_URL, body=page, status=500)
    with pytest.raises(token.ShipctlError) as raised:
        make_source().get()
    assert raised.value.message == "no Fynd access token: HTTP 500: 502 Bad Gateway"


@responses.activate
@pytest.mark.parametrize("content", ["", "{half", '{"access_token": 5}', "[]"])
def test_a_damaged_cache_file_is_a_miss(content):
    issue()
    path = token_cache.TokenCache().path(identity())
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(content)
    assert make_source().get().access_token == "tok-AAAA-1111"
    assert json.loads(path.read_text())["access_token"] == "tok-AAAA-1111"


def test_concurrent_refreshers_never_leave_a_torn_file():
    """Two runs renewing at the same moment: each replaces the file whole (os.replace), so a
    reader sees one complete token or the other, and no temporary file is left behind."""
    ident = identity()
    cache = token_cache.TokenCache()
    long_token = "tok-" + "L" * 5000  # several pages: a torn write would show
    cache.store(ident, token_cache.Token("tok-first", 2e9, 2e9))
    stop = threading.Event()
    seen: list[object] = []

    def writer(value: str):
        mine = token_cache.TokenCache()
        for n in range(150):
            mine.store(ident, token_cache.Token(f"{value}-{n}", 2e9, 2e9))

    def reader():
        mine = token_cache.TokenCache()
        while not stop.is_set():
            got = mine.load(ident)
            seen.append(got.access_token if got else None)

    threads = [threading.Thread(target=writer, args=(v,)) for v in (long_token, "tok-short")]
    watcher = threading.Thread(target=reader)
    watcher.start()
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    stop.set()
    watcher.join()
    assert seen and None not in seen
    assert all(str(v).startswith((long_token, "tok-short", "tok-first")) for v in seen)
    assert [p.name for p in cache.directory.iterdir()] == [ident.file_name()]


def test_a_read_only_cache_still_gives_a_token(tmp_path):
    directory = tmp_path / "ro"
    directory.mkdir(mode=0o500)
    cache = token_cache.TokenCache(directory / "tokens")
    cache.store(identity(), token_cache.Token("tok-x", 2e9, 2e9))  # no error: a miss next time
    assert cache.load(identity()) is None or os.geteuid() == 0


def test_the_bearer_header_and_the_token_a_401_was_answered_to():
    headers = token.bearer(token_cache.Token("tok-Z", 1, 1))
    assert headers == {"Authorization": "Bearer tok-Z"}
    assert token.rejected_token(headers) == "tok-Z"
    assert token.rejected_token({}) is None


@settings(max_examples=150, deadline=None)
@given(content=st.binary(max_size=400) | st.builds(
    lambda d: json.dumps(d).encode(),
    st.dictionaries(st.sampled_from(["access_token", "expires_at", "renew_at", "profile", "url",
                                     "company_id", "client_id"]),
                    st.none() | st.booleans() | st.integers() | st.floats() | st.text(max_size=8),
                    max_size=7)))
def test_any_cache_file_content_is_a_token_of_this_identity_or_a_miss(content):
    cache = token_cache.TokenCache()
    path = cache.path(identity())
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_bytes(content)
    got = cache.load(identity())  # never raises
    if got is not None:
        document = json.loads(content)
        assert document["client_id"] == CLIENT_ID and document["company_id"] == "7"
        assert got.access_token == str(document["access_token"])


@responses.activate
def test_a_deeply_nested_token_answer_is_an_error_not_a_crash():
    responses.add(responses.POST, TOKEN_URL,
                  body='{"access_token": ' + "[" * 200_000 + "]" * 200_000 + "}")
    with pytest.raises(token.ShipctlError) as raised:
        make_source().get()
    assert raised.value.exit_code == ExitCode.FAILED
    assert raised.value.message == ("no Fynd access token: HTTP 200, an answer without "
                                    "access_token")


@responses.activate
@pytest.mark.parametrize(("body", "fault"), [
    # an unusable expires_in is no error: tests/fynd/test_token_cache.py (this run only)
    ({"access_token": 12345, "expires_in": 60}, "an unusable access_token"),
    ({"expires_in": 60}, "an answer without access_token"),
])
def test_an_unusable_token_answer_says_which_field(body, fault):
    responses.add(responses.POST, TOKEN_URL, json=body)
    with pytest.raises(token.ShipctlError) as raised:
        make_source().get()
    assert raised.value.message.startswith("no Fynd access token: HTTP 200, ")
    assert fault in raised.value.message
    assert "tok-DDDD" not in raised.value.message


@responses.activate
def test_a_token_that_lives_for_ever_is_kept_ten_years():
    responses.add(responses.POST, TOKEN_URL,
                  body='{"access_token": "tok-EEEE", "expires_in": 1' + "0" * 400 + "}")
    clock = Clock()
    assert make_source(clock).get().expires_at == clock.now + 10 * 365 * 86400


@responses.activate
def test_an_unreachable_token_endpoint_is_not_asked_again_by_every_worker(monkeypatch):
    # a run whose token expires while the endpoint is down: each of its remaining items would
    # otherwise ask again, with all its retries (a storm on an endpoint that is struggling)
    monkeypatch.setattr(shipctl.http, "sleep", lambda seconds: None)
    responses.add(responses.POST, TOKEN_URL, status=503, body="down")
    clock = Clock()
    source = make_source(clock, retries=2)
    for _ in range(5):
        with pytest.raises(token.ShipctlError, match="no Fynd access token: HTTP 503"):
            source.get()
    assert len(responses.calls) == 3  # one fetch, with its retries
    clock.now += token.FAILURE_HOLD + 1  # later, it is asked again
    with pytest.raises(token.ShipctlError):
        source.get()
    assert len(responses.calls) == 6


@responses.activate
def test_a_looser_cache_directory_and_file_are_made_private(tmp_path):
    # an older version, a restored backup or a umask of 0: the token must not stay readable
    directory = token_cache.cache_dir()
    directory.mkdir(parents=True, mode=0o755)
    os.chmod(directory, 0o755)
    path = token_cache.TokenCache().path(identity())
    path.write_text("{}")
    os.chmod(path, 0o644)
    issue()
    make_source().get()
    assert stat.S_IMODE(directory.stat().st_mode) == 0o700
    assert stat.S_IMODE(path.stat().st_mode) == 0o600
    assert json.loads(path.read_text())["access_token"] == "tok-AAAA-1111"
