"""Fynd's OAuth2 client-credentials token: fetched once, cached on disk, shared by every worker.

reference/fynd.md "Authentication": ``POST {base}/service/panel/authentication/v1.0/company/
{company_id}/oauth/token`` with ``Authorization: Basic base64(client_id:client_secret)`` and
the form ``grant_type=client_credentials``; the answer carries ``access_token`` and
``expires_in`` (seconds). Fynd's SDKs do not renew such tokens by themselves, so we do:

- the token is cached with its expiry under ``platformdirs.user_cache_dir("shipctl")`` (file
  0600 in a 0700 directory), one file per profile, base URL, company and client id (the file
  name is a hash of them: never the secret), and reused across runs (SPEC §3);
- it is renewed about 60 s before it expires, and once when the API answers 401;
- one ``TokenSource`` serves a whole run: a lock makes every worker wait for the one fetch;
- two runs refreshing at the same moment each write a temporary file and ``os.replace`` it
  over the cache, so a reader sees one whole token or the other, never a mix;
- refused credentials (400/401/403 from the token endpoint) are a ``TokenRefused`` (exit 2)
  naming the settings to check, raised again without asking the endpoint a second time.
"""

from __future__ import annotations

import base64
import contextlib
import hashlib
import json
import os
import tempfile
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any

from shipctl import secrets
from shipctl.errors import ConfigError, ShipctlError

if TYPE_CHECKING:
    import requests

    from shipctl.http import HttpOptions

RENEW_EARLY = 60.0  # seconds before expiry a token is replaced (reference/fynd.md)
# Fynd does not document the lifetime; an answer without ``expires_in`` is trusted this long.
DEFAULT_LIFETIME = 600.0
REFUSED_STATUSES = frozenset({400, 401, 403})
# After a fetch failed (all its retries spent), the same error is given for this long instead
# of asking again: every worker of a bulk run would otherwise ask, each with all its retries.
FAILURE_HOLD = 30.0


@dataclass(frozen=True)
class Token:
    access_token: str
    expires_at: float  # epoch seconds: the token is cached across runs, so wall-clock time
    renew_at: float  # epoch seconds: when a new one is fetched instead (≈ 60 s before expiry)

    def fresh(self, now: float) -> bool:
        return now < self.renew_at

    @classmethod
    def issued(cls, access_token: str, expires_in: float, now: float) -> Token:
        # 60 s early, but never sooner than half the lifetime: a token that lives 90 s would
        # otherwise be stale on arrival and fetched again for every request.
        margin = min(RENEW_EARLY, expires_in / 2)
        return cls(access_token, now + expires_in, now + expires_in - margin)


@dataclass(frozen=True)
class Identity:
    """Whose token: the cache keeps one per profile, base URL, company and client id."""

    profile: str
    url: str
    company_id: str
    client_id: str

    def file_name(self) -> str:
        key = json.dumps([self.profile, self.url, self.company_id, self.client_id])
        return "fynd-" + hashlib.sha256(key.encode("utf-8")).hexdigest()[:32] + ".json"


class TokenRefused(ConfigError):
    """The token endpoint refused the client credentials: exit 2, nothing was sent."""


def cache_dir() -> Path:
    import platformdirs

    return Path(platformdirs.user_cache_dir("shipctl")) / "tokens"


class TokenCache:
    """The token files. Every failure to read or write one is silent: a cache miss."""

    def __init__(self, directory: Path | None = None) -> None:
        self.directory = directory if directory is not None else cache_dir()

    def path(self, identity: Identity) -> Path:
        return self.directory / identity.file_name()

    def load(self, identity: Identity) -> Token | None:
        try:
            document = json.loads(self.path(identity).read_text(encoding="utf-8"))
            token = Token(str(document["access_token"]), float(document["expires_at"]),
                          float(document["renew_at"]))
            same = [document.get(k) for k in ("profile", "url", "company_id", "client_id")]
        except (OSError, ValueError, KeyError, TypeError):
            return None  # missing, or half-written by a crashed older version: fetch anew
        if same != [identity.profile, identity.url, identity.company_id, identity.client_id]:
            return None
        secrets.register(token.access_token)
        return token

    def store(self, identity: Identity, token: Token) -> None:
        document = {
            "profile": identity.profile,
            "url": identity.url,
            "company_id": identity.company_id,
            "client_id": identity.client_id,
            "access_token": token.access_token,
            "expires_at": token.expires_at,
            "renew_at": token.renew_at,
        }
        with contextlib.suppress(OSError):  # read-only cache: the token still serves this run
            self._write(self.path(identity), json.dumps(document, indent=1))

    def _write(self, path: Path, text: str) -> None:
        path.parent.mkdir(mode=0o700, parents=True, exist_ok=True)
        os.chmod(path.parent, 0o700)  # our own directory: an older, looser one is tightened
        # mkstemp creates the file 0600 in the same directory, so os.replace is atomic: a
        # concurrent reader (another run) sees the old token or the new one, never half.
        fd, temporary = tempfile.mkstemp(dir=path.parent, prefix=".token-", suffix=".tmp")
        try:
            with os.fdopen(fd, "w", encoding="utf-8") as handle:
                handle.write(text)
                handle.flush()
                os.fsync(handle.fileno())
            os.replace(temporary, path)
        except BaseException:
            with contextlib.suppress(OSError):
                os.unlink(temporary)
            raise


def basic_header(client_id: str, client_secret: str) -> str:
    raw = f"{client_id}:{client_secret}".encode()
    return "Basic " + base64.b64encode(raw).decode("ascii")


def fetch(
    session: requests.Session,
    options: HttpOptions,
    *,
    url: str,
    client_id: str,
    client_secret: str,
    profile: str,
    clock: Callable[[], float] = time.time,
    log: Callable[[str], None] | None = None,
) -> Token:
    """One token from the endpoint (retrying only what is transient: 503, a reset…)."""
    from shipctl import http
    from shipctl.fynd.client import CREDENTIALS_CHECK, error_text, load_json

    authorization = basic_header(client_id, client_secret)
    secrets.register(client_secret)
    secrets.register(authorization.split(" ", 1)[1])
    call = http.Call(
        "POST", url,
        {"Authorization": authorization, "Content-Type": "application/x-www-form-urlencoded",
         "Accept": "application/json"},
        b"grant_type=client_credentials",
    )
    delivery = http.send(session, call, options, log=log)
    response = delivery.response
    if response is None:
        raise ShipctlError(f"no Fynd access token: {delivery.error or 'no answer'}",
                           hint="check fynd.url and the network")
    status = response.status_code
    if status in REFUSED_STATUSES:
        raise TokenRefused(
            f"Fynd refused the client credentials of profile {profile!r} "
            f"({error_text(status, response.content)}): check {CREDENTIALS_CHECK}",
            hint="shipctl config set fynd.client_secret  (prompts without echo)",
        )
    if not 200 <= status < 300:
        raise ShipctlError(f"no Fynd access token: {error_text(status, response.content)}")
    document = load_json(response.content)
    if not isinstance(document, dict) or "access_token" not in document:
        raise ShipctlError(f"no Fynd access token: HTTP {status}, an answer without "
                           "access_token")
    access_token = document["access_token"]
    if not isinstance(access_token, str) or not access_token:
        raise ShipctlError(f"no Fynd access token: HTTP {status}, an unusable access_token")
    secrets.register(access_token)  # before any message could quote the answer
    expires_in = document.get("expires_in") or DEFAULT_LIFETIME
    if isinstance(expires_in, bool) or not isinstance(expires_in, (int, float)):
        shown = json.dumps(expires_in, ensure_ascii=False)[:40]
        raise ShipctlError(f"no Fynd access token: HTTP {status}, expires_in {shown} is not a "
                           "number")
    if not expires_in > 0:  # negative, or NaN from a lenient server
        raise ShipctlError(f"no Fynd access token: HTTP {status}, expires_in {expires_in} is "
                           "not a number of seconds")
    # capped before float(): a 400-digit integer would overflow it
    return Token.issued(access_token, float(min(expires_in, 10 * 365 * 86400)), clock())


class TokenSource:
    """The token of one run, shared by every worker (thread-safe).

    ``get`` returns a fresh token: the one in memory, else the cached one, else a new one
    (fetched while holding the lock, so N workers cause one fetch). ``renew`` replaces the
    token a 401 was answered to, unless another worker already did.
    """

    def __init__(self, identity: Identity, fetcher: Callable[[], Token], *,
                 cache: TokenCache | None = None, clock: Callable[[], float] = time.time) -> None:
        self.identity = identity
        self._fetcher = fetcher
        self._cache = cache
        self._clock = clock
        self._lock = threading.Lock()
        self._token: Token | None = None
        self._refused: TokenRefused | None = None
        self._failed: tuple[float, ShipctlError] | None = None  # (when, the error)
        self.fetched = 0  # tokens fetched from the endpoint by this source

    def get(self) -> Token:
        with self._lock:
            now = self._clock()
            if self._token is not None and self._token.fresh(now):
                return self._token
            if self._cache is not None:
                cached = self._cache.load(self.identity)
                if cached is not None and cached.fresh(now):
                    self._token = cached
                    return cached
            return self._fetch()

    def renew(self, rejected: str | None) -> Token:
        """A fresh token after the API refused ``rejected`` (an access token) with a 401."""
        with self._lock:
            now = self._clock()
            current = self._token
            if current is not None and current.access_token != rejected and current.fresh(now):
                return current  # another worker renewed it already
            if self._cache is not None:  # or another run did
                cached = self._cache.load(self.identity)
                if cached is not None and cached.access_token != rejected and cached.fresh(now):
                    self._token = cached
                    return cached
            return self._fetch()

    def fetch_new(self) -> Token:
        """A token straight from the endpoint (``fynd auth``: are the credentials right?)."""
        with self._lock:
            return self._fetch()

    def _fetch(self) -> Token:
        if self._refused is not None:  # refused once: the same answer, without asking again
            raise self._refused
        if self._failed is not None and self._clock() - self._failed[0] < FAILURE_HOLD:
            raise self._failed[1]
        try:
            token = self._fetcher()
        except TokenRefused as refused:
            self._refused = refused
            raise
        except ShipctlError as error:
            self._failed = (self._clock(), error)
            raise
        self._failed = None
        self.fetched += 1
        self._token = token
        if self._cache is not None:
            self._cache.store(self.identity, token)
        return token


def bearer(token: Token) -> dict[str, str]:
    return {"Authorization": "Bearer " + token.access_token}


def rejected_token(headers: dict[str, Any]) -> str | None:
    """The access token of the ``Authorization: Bearer …`` header a 401 was answered to."""
    value = str(headers.get("Authorization", ""))
    return value[len("Bearer "):] if value.startswith("Bearer ") else None


# -- a profile's Fynd settings -------------------------------------------------------------------
@dataclass(frozen=True)
class Settings:
    """The profile's fynd.* settings one command needs (SPEC §3)."""

    profile: str
    url: str
    company_id: str | None  # None only for a dry run (the URL then shows {company_id})
    client_id: str = ""
    client_secret: str = ""
    # False under --sandbox: its simulator lives as long as the command, on a new port each
    # time, so a token file would only pile up in the user's cache, never to be used again
    cache: bool = True

    def identity(self) -> Identity:
        return Identity(self.profile, self.url, self.company_id or "", self.client_id)


def settings(app: Any, *, credentials: bool = True, company: bool = True) -> Settings:
    """fynd.url, fynd.company_id and (``credentials``) the client id and secret; a missing
    one is a ConfigError naming it (exit 2). ``company=False``: a missing company id is None."""
    url = str(app.require("fynd.url")).rstrip("/")
    company_id = app.require("fynd.company_id") if company else (
        app.setting("fynd.company_id").value or None)
    if not credentials:
        return Settings(app.profile, url, str(company_id) if company_id else None)
    client_id = str(app.require("fynd.client_id"))
    client_secret = str(app.require("fynd.client_secret"))
    secrets.register(client_secret)
    return Settings(app.profile, url, str(company_id), client_id, client_secret,
                    cache=not getattr(app, "sandbox", False))


def source(config: Settings, options: HttpOptions, *, log: Callable[[str], None] | None = None,
           cache: TokenCache | None = None) -> TokenSource:
    """The run's token source: the profile's cache file, and the endpoint when it is stale."""
    from shipctl import http
    from shipctl.fynd.client import token_url

    session = http.make_session(options, pool_size=1)
    url = token_url(config.url, config.company_id or "")

    def fetcher() -> Token:
        return fetch(session, options, url=url, client_id=config.client_id,
                     client_secret=config.client_secret, profile=config.profile, log=log)

    if cache is None and config.cache:
        cache = TokenCache()
    return TokenSource(config.identity(), fetcher, cache=cache)
