"""The token cache trusts only what this user wrote (README "Fynd": OpenSSH's StrictModes), a
changed client secret is noticed, and a token without a usable ``expires_in`` serves one run.

Each planted file holds a token that would be used if the cache trusted it (the control test
shows that), so "a fresh token was fetched" is proof the plant was ignored. Tests run as root
in CI; ``os.chown`` to uid 1 makes the other owner (skipped where chown is not allowed)."""

from __future__ import annotations

import base64
import json
import math
import os
import stat
import time

import pytest
import responses
from hypothesis import given, settings
from hypothesis import strategies as st

from shipctl.fynd import client, token_cache
from shipctl.fynd import credentials as token

BASE = "https://fynd.test"
TOKEN_URL = client.token_url(BASE, "7")
STATUS_URL = client.status_url(BASE, "7")
CLIENT_ID = "acme"
SECRET = "s3cret-Client-Value"
PLANTED = "tok-Planted-9999"
FRESH = "tok-Fresh-1111"
OK = json.dumps({"statuses": [{"shipments": [{"status": 200, "identifier": "1",
                                               "final_state": {"bag_confirmed": "bag_confirmed"}}]
                               }]})


@pytest.fixture
def fynd_env(monkeypatch):
    for key, value in {"URL": BASE, "COMPANY_ID": "7", "CLIENT_ID": CLIENT_ID,
                       "CLIENT_SECRET": SECRET}.items():
        monkeypatch.setenv(f"SHIPCTL_FYND_{key}", value)


def identity(secret: str = SECRET) -> token_cache.Identity:
    """The identity `shipctl fynd …` has under ``fynd_env``."""
    return token_cache.Identity("default", BASE, "7", CLIENT_ID, token_cache.secret_digest(secret))


def document(access_token: str = PLANTED, secret: str = SECRET) -> str:
    ident = identity(secret)
    return json.dumps({"profile": ident.profile, "url": ident.url,
                       "company_id": ident.company_id, "client_id": ident.client_id,
                       "access_token": access_token, "expires_at": 4e9, "renew_at": 4e9})


def plant(*, file_mode: int = 0o600, dir_mode: int = 0o700, content: str | None = None):
    """A cache file that would be used as it is: the right identity, a token fresh until
    2096. Returns its path."""
    directory = token_cache.cache_dir()
    directory.mkdir(parents=True, exist_ok=True)
    os.chmod(directory, dir_mode)
    path = directory / identity().file_name()
    path.write_text(content if content is not None else document())
    os.chmod(path, file_mode)
    return path


def chown_to_another_user(path) -> None:
    try:
        os.chown(path, 1, -1, follow_symlinks=False)
    except (PermissionError, AttributeError, NotImplementedError):
        pytest.skip("cannot give a file to another user here")


def serve(fresh: str = FRESH, expires_in: object = 3600) -> None:
    body = {"access_token": fresh}
    if expires_in is not ...:
        body["expires_in"] = expires_in
    responses.add(responses.POST, TOKEN_URL, json=body)
    responses.add(responses.PUT, STATUS_URL, body=OK)


def sent(method: str) -> list:
    return [c.request for c in responses.calls if c.request.method == method]


def transition(cli):
    return cli("fynd", "transition", "1", "--to", "bag_confirmed")


# -- trust ---------------------------------------------------------------------------------------
@responses.activate
def test_control_a_private_cache_file_of_this_user_is_used(cli, fynd_env):
    plant()
    serve()
    result = transition(cli)
    assert result.code == 0, result.err
    assert sent("POST") == []
    assert [p.headers["Authorization"] for p in sent("PUT")] == [f"Bearer {PLANTED}"]
    assert "warning" not in result.err


def assert_ignored(result, path, reason: str) -> None:
    """The plant was not used (a fresh token was fetched and sent), the one warning names the
    path and why, and the fresh token was written nowhere in the cache."""
    assert result.code == 0, result.err
    assert len(sent("POST")) == 1
    assert [p.headers["Authorization"] for p in sent("PUT")] == [f"Bearer {FRESH}"]
    warnings = [line for line in result.err.splitlines() if line.startswith("warning: ")]
    assert warnings == [f"warning: {path} {reason}: the Fynd token cache is not used (not read, "
                        "not written); the token is kept in memory for this run only. Remove it,"
                        " or make it yours and writable only by you (chmod go-w)"]
    assert FRESH not in "".join(p.read_text() for p in token_cache.cache_dir().rglob("*.json")
                                if p.is_file())


@responses.activate
def test_a_file_of_another_user_is_not_used_nor_overwritten(cli, fynd_env):
    path = plant()
    chown_to_another_user(path)
    serve()
    assert_ignored(transition(cli), path, f"belongs to uid 1, not to you (uid {os.geteuid()})")
    assert path.stat().st_uid == 1 and path.read_text() == document()


@responses.activate
def test_a_directory_of_another_user_is_not_used(cli, fynd_env):
    path = plant()
    chown_to_another_user(path.parent)
    serve()
    assert_ignored(transition(cli), path.parent,
                   f"belongs to uid 1, not to you (uid {os.geteuid()})")
    assert path.read_text() == document()


@responses.activate
@pytest.mark.parametrize(("file_mode", "dir_mode", "where", "reason"), [
    (0o666, 0o700, "file", "is writable by its group and others (mode 0666)"),
    (0o620, 0o700, "file", "is writable by its group (mode 0620)"),
    (0o602, 0o700, "file", "is writable by others (mode 0602)"),
    (0o600, 0o777, "dir", "is writable by its group and others (mode 0777)"),
    (0o600, 0o770, "dir", "is writable by its group (mode 0770)"),
    (0o600, 0o1777, "dir", "is writable by its group and others (mode 1777)"),
])
def test_a_file_or_directory_others_can_write_is_not_used(cli, fynd_env, file_mode, dir_mode,
                                                          where, reason):
    path = plant(file_mode=file_mode, dir_mode=dir_mode)
    serve()
    assert_ignored(transition(cli), path if where == "file" else path.parent, reason)
    assert path.read_text() == document()
    # not "repaired" either: a file someone else could write may have been swapped already
    assert stat.S_IMODE(path.stat().st_mode) == file_mode
    assert stat.S_IMODE(path.parent.stat().st_mode) == dir_mode


@responses.activate
def test_a_file_only_readable_by_others_is_used_and_made_private(cli, fynd_env):
    path = plant(file_mode=0o644, dir_mode=0o755)
    serve()
    result = transition(cli)
    assert result.code == 0 and sent("POST") == []
    assert [p.headers["Authorization"] for p in sent("PUT")] == [f"Bearer {PLANTED}"]
    assert stat.S_IMODE(path.stat().st_mode) == 0o600
    assert stat.S_IMODE(path.parent.stat().st_mode) == 0o700


@responses.activate
def test_a_symlinked_cache_directory_is_not_used(cli, fynd_env, tmp_path):
    elsewhere = tmp_path / "elsewhere"
    elsewhere.mkdir(mode=0o700)
    (elsewhere / identity().file_name()).write_text(document())
    os.chmod(elsewhere / identity().file_name(), 0o600)
    directory = token_cache.cache_dir()
    directory.parent.mkdir(parents=True, exist_ok=True)
    directory.symlink_to(elsewhere, target_is_directory=True)
    serve()
    assert_ignored(transition(cli), directory, "is a symbolic link")
    assert directory.is_symlink()  # left as it was, and nothing written through it
    assert [p.name for p in elsewhere.iterdir()] == [identity().file_name()]
    assert (elsewhere / identity().file_name()).read_text() == document()


@responses.activate
def test_a_symlinked_cache_file_is_not_used(cli, fynd_env, tmp_path):
    target = tmp_path / "token.json"
    target.write_text(document())
    os.chmod(target, 0o600)
    directory = token_cache.cache_dir()
    directory.mkdir(parents=True, mode=0o700)
    path = directory / identity().file_name()
    path.symlink_to(target)
    serve()
    assert_ignored(transition(cli), path, "is a symbolic link")
    assert path.is_symlink() and target.read_text() == document()


@responses.activate
def test_a_planted_fifo_neither_hangs_nor_is_used(cli, fynd_env):
    directory = token_cache.cache_dir()
    directory.mkdir(parents=True, mode=0o700)
    path = directory / identity().file_name()
    os.mkfifo(path, 0o600)
    serve()
    assert_ignored(transition(cli), path, "is not a regular file")


@responses.activate
def test_an_untrusted_cache_warns_once_even_when_a_401_renews_the_token(cli, fynd_env):
    path = plant(file_mode=0o666)
    responses.add(responses.POST, TOKEN_URL, json={"access_token": "tok-One-1111",
                                                   "expires_in": 3600})
    responses.add(responses.POST, TOKEN_URL, json={"access_token": "tok-Two-2222",
                                                   "expires_in": 3600})
    responses.add(responses.PUT, STATUS_URL, status=401, json={"message": "expired"})
    responses.add(responses.PUT, STATUS_URL, body=OK)
    result = transition(cli)
    assert result.code == 0, result.err
    assert [p.headers["Authorization"] for p in sent("PUT")] == ["Bearer tok-One-1111",
                                                                "Bearer tok-Two-2222"]
    assert result.err.count(f"warning: {path} is writable") == 1
    assert path.read_text() == document()


@responses.activate
def test_auth_says_why_the_token_was_not_cached(cli, fynd_env):
    plant(dir_mode=0o777)
    serve()
    result = cli("fynd", "auth")
    assert result.code == 0, result.err
    assert result.out.splitlines()[1].endswith("(not cached: the cache is not trusted)")


def test_the_cache_unit_refuses_and_stays_off_for_the_run():
    warned: list[str] = []
    cache = token_cache.TokenCache(warn=warned.append)
    path = plant(file_mode=0o646)
    assert cache.load(identity()) is None
    os.chmod(path, 0o600)  # fixed meanwhile: still off for this run (no flip-flopping)
    assert cache.load(identity()) is None
    assert cache.store(identity(), token_cache.Token("tok-New-3333", 4e9, 4e9)) is False
    assert len(warned) == 1 and str(path) in warned[0]
    assert json.loads(path.read_text())["access_token"] == PLANTED
    assert token_cache.TokenCache().load(identity()).access_token == PLANTED  # the next run uses it


# -- the client secret ---------------------------------------------------------------------------
@responses.activate
def test_a_changed_secret_gets_its_own_token(cli, fynd_env, monkeypatch):
    responses.add(responses.POST, TOKEN_URL, json={"access_token": "tok-Old-1111",
                                                   "expires_in": 3600})
    responses.add(responses.POST, TOKEN_URL, json={"access_token": "tok-New-2222",
                                                   "expires_in": 3600})
    responses.add(responses.PUT, STATUS_URL, body=OK)
    assert transition(cli).code == 0
    monkeypatch.setenv("SHIPCTL_FYND_CLIENT_SECRET", "rotated-Secret-Value")
    assert transition(cli).code == 0
    posts = sent("POST")
    assert len(posts) == 2
    basic = base64.b64encode(f"{CLIENT_ID}:rotated-Secret-Value".encode()).decode()
    assert posts[1].headers["Authorization"] == f"Basic {basic}"
    assert [p.headers["Authorization"] for p in sent("PUT")] == ["Bearer tok-Old-1111",
                                                                "Bearer tok-New-2222"]
    monkeypatch.setenv("SHIPCTL_FYND_CLIENT_SECRET", SECRET)  # back: its own token again
    assert transition(cli).code == 0
    assert len(sent("POST")) == 2 and sent("PUT")[-1].headers["Authorization"] == (
        "Bearer tok-Old-1111")


@responses.activate
def test_a_wrong_new_secret_exits_2_after_asking_the_token_endpoint(cli, fynd_env,
                                                                    monkeypatch):
    serve()
    assert transition(cli).code == 0  # a good token is cached for the old secret
    responses.replace(responses.POST, TOKEN_URL, status=401,
                      json={"success": False, "message": "invalid client credentials"})
    monkeypatch.setenv("SHIPCTL_FYND_CLIENT_SECRET", "wrong-Secret-Value")
    result = transition(cli)
    assert result.code == 2
    assert result.err.startswith("error: Fynd refused the client credentials of profile "
                                 "'default' (HTTP 401: invalid client credentials): check "
                                 "fynd.client_id / fynd.client_secret")
    basic = base64.b64encode(f"{CLIENT_ID}:wrong-Secret-Value".encode()).decode()
    assert [p.headers["Authorization"] for p in sent("POST")][-1] == f"Basic {basic}"
    assert len(sent("POST")) == 2 and len(sent("PUT")) == 1  # the transition was not sent


def test_the_cache_file_shows_nothing_of_the_secret():
    cache = token_cache.TokenCache()
    cache.store(identity(), token_cache.Token("tok-X-0000", 4e9, 4e9))
    (path,) = token_cache.cache_dir().iterdir()
    digest = token_cache.secret_digest(SECRET)
    assert path.name == identity().file_name()
    text = path.read_text()
    for shown in (SECRET, digest, digest[:16]):
        assert shown not in path.name and shown not in text
    assert "secret" not in text
    # one-way and domain-separated: not a bare SHA-256 of the secret
    import hashlib

    assert digest != hashlib.sha256(SECRET.encode()).hexdigest()
    assert identity("other-Secret").file_name() != path.name
    assert "secret_digest" not in repr(identity())


# -- expires_in ----------------------------------------------------------------------------------
@responses.activate
def test_expires_in_as_a_numeric_string_is_read_and_cached(cli, fynd_env):
    serve(expires_in="3600")
    first = transition(cli)
    assert first.code == 0 and "warning" not in first.err
    assert transition(cli).code == 0
    assert len(sent("POST")) == 1  # the second run used the cached token
    cached = json.loads((token_cache.cache_dir() / identity().file_name()).read_text())
    assert 3590 < cached["expires_at"] - time.time() <= 3600


@responses.activate
@pytest.mark.parametrize(("value", "said"), [
    (..., "has no expires_in"),
    (0, "expires_in 0 is not a number of seconds"),
    ("", 'expires_in "" is not a number of seconds'),
    ("abc", 'expires_in "abc" is not a number of seconds'),
    (None, "expires_in null is not a number of seconds"),
    (-5, "expires_in -5 is not a number of seconds"),
    (True, "expires_in true is not a number of seconds"),
    ([60], "expires_in [60] is not a number of seconds"),
    ("1e3", 'expires_in "1e3" is not a number of seconds'),
])
def test_a_token_without_a_usable_expiry_serves_this_run_only(cli, fynd_env, value, said):
    serve(expires_in=value)
    responses.add(responses.PUT, STATUS_URL, body=OK)
    result = cli("fynd", "transition", "1", "--to", "bag_confirmed")
    assert result.code == 0, result.err
    assert (f"warning: Fynd's token answer {said}: the token serves this run only and is not "
            "cached") in result.err
    assert not token_cache.cache_dir().exists() or not any(token_cache.cache_dir().iterdir())
    assert transition(cli).code == 0  # the next run asks again
    assert len(sent("POST")) == 2
    assert [p.headers["Authorization"] for p in sent("PUT")] == [f"Bearer {FRESH}"] * 2


@responses.activate
def test_a_token_for_this_run_only_serves_every_request_of_the_run():
    responses.add(responses.POST, TOKEN_URL, json={"access_token": FRESH})
    from shipctl import http

    warned: list[str] = []
    options = http.HttpOptions(retries=0)
    session = http.make_session(options, pool_size=1)
    source = token.TokenSource(identity(), lambda: token.fetch(
        session, options, url=TOKEN_URL, client_id=CLIENT_ID, client_secret=SECRET,
        profile="default", warn=warned.append), cache=token_cache.TokenCache(warn=warned.append))
    assert {source.get().access_token for _ in range(20)} == {FRESH}
    assert len(responses.calls) == 1 and len(warned) == 1
    assert source.not_cached == "Fynd did not say when it expires"


@responses.activate
def test_auth_with_a_token_for_this_run_only(cli, fynd_env):
    serve(expires_in=...)
    result = cli("fynd", "auth")
    assert result.code == 0, result.err
    assert result.out.splitlines()[1].endswith("(not cached: Fynd did not say when it expires)")
    assert "warning: Fynd's token answer has no expires_in" in result.err


JSON = st.recursive(st.none() | st.booleans() | st.integers() | st.floats() | st.text(max_size=12),
                    lambda inner: st.lists(inner, max_size=3)
                    | st.dictionaries(st.text(max_size=4), inner, max_size=3), max_leaves=6)


@settings(max_examples=300, deadline=None)
@given(value=JSON)
def test_any_expires_in_is_a_positive_capped_lifetime_or_none(value):
    seconds = token.lifetime(value)
    assert seconds is None or 0 < seconds <= token.LONGEST_LIFETIME
    if isinstance(value, (list, dict, bool)) or value is None:
        assert seconds is None


@settings(max_examples=300, deadline=None)
@given(n=st.integers(min_value=-10**40, max_value=10**40), pad=st.sampled_from(["", " "]))
def test_an_integer_and_its_decimal_string_mean_the_same(n, pad):
    expected = None if n <= 0 else float(min(n, token.LONGEST_LIFETIME))
    assert token.lifetime(n) == expected
    assert token.lifetime(f"{pad}{n}{pad}") == expected


@settings(max_examples=300, deadline=None)
@given(x=st.floats(allow_nan=True, allow_infinity=True))
def test_a_float_expires_in(x):
    seconds = token.lifetime(x)
    if math.isnan(x) or x <= 0:
        assert seconds is None
    else:
        assert seconds == min(x, token.LONGEST_LIFETIME)


def test_the_settings_repr_shows_no_secret():
    config = token.Settings("default", BASE, "7", CLIENT_ID, SECRET)
    assert SECRET not in repr(config) and CLIENT_ID in repr(config)
    assert config.identity() == identity()
