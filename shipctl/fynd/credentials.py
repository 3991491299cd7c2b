"""How Fynd requests authenticate: an OAuth2 client-credentials token, fetched once, cached on
disk, shared by every worker, sent as ``Authorization: Bearer …`` (``BearerAuth``).

docs/fynd.md, Authentication: ``POST {base}/service/panel/authentication/v1.0/company/
{company_id}/oauth/token`` with ``Authorization: Basic base64(client_id:client_secret)`` and
the form ``grant_type=client_credentials``; the answer carries ``access_token`` and
``expires_in`` (seconds). Fynd's SDKs do not renew such tokens by themselves, so we do:

- the token is cached with its expiry and reused across runs, in a file only this user could
  have written (``shipctl.fynd.token_cache``);
- an answer without a usable ``expires_in`` (missing, zero, empty, not a number) gives a token
  for this run only: kept in memory, never cached, with a warning (a numeric string is read);
- it is renewed about 60 s before it expires, and once when the API answers 401;
- one ``TokenSource`` serves a whole run: a lock makes every worker wait for the one fetch;
- refused credentials (400/401/403 from the token endpoint) are a ``TokenRefused`` (exit 2)
  naming the settings to check, raised again without asking the endpoint a second time.
"""

from __future__ import annotations

import base64
import json
import math
import re
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

from shipctl import secrets
from shipctl.errors import ConfigError, ShipctlError
from shipctl.fynd.token_cache import (
    Identity,
    Token,
    TokenCache,
    secret_digest,
)
from shipctl.http.options import Auth

if TYPE_CHECKING:
    import requests

    from shipctl.http import HttpOptions

# Fynd does not document the lifetime; a token whose answer has no usable ``expires_in`` is
# used this long in memory (a 401 before then renews it too), and never cached.
DEFAULT_LIFETIME = 600.0
LONGEST_LIFETIME = 10 * 365 * 86400.0  # "for ever": capped, so float() and dates stay sane
# ``expires_in`` as a string: plain decimal seconds only ("3600", "3600.5"); no sign, exponent,
# "inf" or "nan", which float() would take but which no token endpoint means
_SECONDS = re.compile(r"\s*([0-9]+)(\.[0-9]+)?\s*")
REFUSED_STATUSES = frozenset({400, 401, 403})
# After a fetch failed (all its retries spent), the same error is given for this long instead
# of asking again: every worker of a bulk run would otherwise ask, each with all its retries.
FAILURE_HOLD = 30.0


def lifetime(value: Any) -> float | None:
    """``expires_in`` as seconds (capped at ten years), or None when it is not a positive
    number of seconds: missing (None), zero, negative, empty, NaN, a boolean, a list, text.
    A decimal string ("3600") is a number: some gateways quote every value."""
    if isinstance(value, str):
        match = _SECONDS.fullmatch(value)
        if match is None:
            return None
        whole, fraction = match.groups()
        whole = whole.lstrip("0") or "0"
        # more than 12 digits is past the cap anyway (and int() refuses 4,300 digits)
        seconds = (LONGEST_LIFETIME if len(whole) > 12 else float(whole)) + float(
            "0" + (fraction or "")[:20])
    elif isinstance(value, bool) or not isinstance(value, (int, float)):
        return None
    elif isinstance(value, int):
        seconds = float(min(value, int(LONGEST_LIFETIME)))  # a 400-digit int overflows float()
    else:
        seconds = value
    if math.isnan(seconds) or not seconds > 0:
        return None
    return min(seconds, LONGEST_LIFETIME)


class TokenRefused(ConfigError):
    """The token endpoint refused the client credentials: exit 2, nothing was sent."""


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
    warn: Callable[[str], None] | None = None,
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
    seconds = lifetime(document.get("expires_in"))
    if seconds is not None:
        return Token.issued(access_token, seconds, clock())
    # The token works, but for how long is anyone's guess: caching it would hand later runs a
    # token that may be dead (each of them a 401 and a renewal), or outlive a revocation.
    if warn is not None:
        if "expires_in" in document:
            shown = json.dumps(document["expires_in"], ensure_ascii=False, default=str)
            fault = f"expires_in {shown[:40]} is not a number of seconds"
        else:
            fault = "has no expires_in"
        warn(f"Fynd's token answer {fault}: the token serves this run only and is not cached")
    return Token.issued(access_token, DEFAULT_LIFETIME, clock(), cacheable=False)


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
        # why the last fetched token was not written to the cache (None: it was)
        self.not_cached: str | None = None if cache is not None else "--sandbox"

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
        if not token.cacheable:
            self.not_cached = "Fynd did not say when it expires"
        elif self._cache is not None:
            stored = self._cache.store(self.identity, token)
            self.not_cached = None if stored else (
                "the cache is not trusted" if self._cache.distrusted is not None
                else "the cache could not be written")
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
    """The profile's fynd.* settings one command needs (docs/fynd.md)."""

    profile: str
    url: str
    company_id: str | None  # None only for a dry run (the URL then shows {company_id})
    client_id: str = ""
    client_secret: str = field(default="", repr=False)  # a traceback or log never shows it
    # False under --sandbox: its simulator lives as long as the command, on a new port each
    # time, so a token file would only pile up in the user's cache, never to be used again
    cache: bool = True
    # where the token's warnings go (an untrusted cache, an answer without expires_in)
    warn: Callable[[str], None] | None = field(default=None, repr=False, compare=False)

    def identity(self) -> Identity:
        return Identity(self.profile, self.url, self.company_id or "", self.client_id,
                        secret_digest(self.client_secret))


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
                    cache=not getattr(app, "sandbox", False), warn=app.out.warn)


def source(config: Settings, options: HttpOptions, *, log: Callable[[str], None] | None = None,
           cache: TokenCache | None = None) -> TokenSource:
    """The run's token source: the profile's cache file, and the endpoint when it is stale."""
    from shipctl import http
    from shipctl.fynd.client import token_url

    session = http.make_session(options, pool_size=1)
    url = token_url(config.url, config.company_id or "")

    def fetcher() -> Token:
        return fetch(session, options, url=url, client_id=config.client_id,
                     client_secret=config.client_secret, profile=config.profile, log=log,
                     warn=config.warn)

    if cache is None and config.cache:
        cache = TokenCache(warn=config.warn)
    return TokenSource(config.identity(), fetcher, cache=cache)


class BearerAuth(Auth):
    """``Authorization: Bearer …`` from the run's token source (thread-safe: it locks); the
    HTTP layer asks it for a new token once after a 401 (``renew``)."""

    def __init__(self, tokens: TokenSource | None) -> None:
        self.tokens = tokens

    def headers(self) -> dict[str, str]:
        if self.tokens is None:
            return self.preview()
        return bearer(self.tokens.get())

    def preview(self) -> dict[str, str]:
        # A dry run fetches no token: it shows where the token goes, masked like one would be.
        return {"Authorization": "Bearer " + secrets.MASK}

    def renew(self, rejected: dict[str, str]) -> bool:
        if self.tokens is None:
            return False
        try:
            self.tokens.renew(rejected_token(rejected))
        except TokenRefused:  # the secret is wrong now: say so, not "check company_id"
            raise
        except ShipctlError:  # unreachable: the 401 stands
            return False
        return True


def bearer_auth(app: Any, options: HttpOptions) -> tuple[Settings, BearerAuth]:
    """The profile's settings and its bearer credentials, the token fetched when first sent."""
    config = settings(app)
    return config, BearerAuth(source(config, options, log=app.out.info if app.debug else None))
