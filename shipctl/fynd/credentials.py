"""How Fynd requests authenticate: an OAuth2 client-credentials token, fetched once, cached on
disk, shared by every worker, sent as ``Authorization: Bearer …`` (``BearerAuth``).

docs/fynd.md, Authentication: ``POST {base}/service/panel/authentication/v1.0/company/
{company_id}/oauth/token`` with ``Authorization: Basic base64(client_id:client_secret)`` and
the form ``grant_type=client_credentials``; the answer carries ``access_token`` and
``expires_in`` (seconds). Fynd's SDKs do not renew such tokens by themselves, so we do:

- the token is cached with its expiry under ``platformdirs.user_cache_dir("shipctl")`` (file
  0600 in a 0700 directory), one file per profile, base URL, company, client id and client
  secret (the file name is a hash of them, the secret itself hashed first: never the secret),
  and reused across runs (docs/fynd.md); a new secret is a new file, so a token fetched with
  the old one is never used with the new one;
- the cache trusts only what this user wrote, as OpenSSH's StrictModes does: the directory
  and the file must be owned by the current user, writable by no one else, and not symbolic
  links. Otherwise another user could plant a token (our requests would then act as their
  app) or read ours: the cache is neither read nor written for the run, with one warning naming
  the path, and the token lives in memory only. Read-only bits for others are merely tightened;
- an answer without a usable ``expires_in`` (missing, zero, empty, not a number) gives a token
  for this run only: kept in memory, never cached, with a warning (a numeric string is read);
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
import errno
import hashlib
import json
import math
import os
import re
import stat
import tempfile
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any

from shipctl import secrets
from shipctl.errors import ConfigError, ShipctlError
from shipctl.http.options import Auth

if TYPE_CHECKING:
    import requests

    from shipctl.http import HttpOptions

RENEW_EARLY = 60.0  # seconds before expiry a token is replaced (docs/fynd.md, Authentication)
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


@dataclass(frozen=True)
class Token:
    access_token: str
    expires_at: float  # epoch seconds: the token is cached across runs, so wall-clock time
    renew_at: float  # epoch seconds: when a new one is fetched instead (≈ 60 s before expiry)
    # False when Fynd did not say how long it lives: this run uses it, no later run may
    cacheable: bool = True

    def fresh(self, now: float) -> bool:
        return now < self.renew_at

    @classmethod
    def issued(cls, access_token: str, expires_in: float, now: float, *,
               cacheable: bool = True) -> Token:
        # 60 s early, but never sooner than half the lifetime: a token that lives 90 s would
        # otherwise be stale on arrival and fetched again for every request.
        margin = min(RENEW_EARLY, expires_in / 2)
        return cls(access_token, now + expires_in, now + expires_in - margin, cacheable)


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


def secret_digest(client_secret: str) -> str:
    """A one-way hash of the client secret, for the cache file's name only: domain-separated
    (it cannot be matched against a bare SHA-256 of the secret kept elsewhere) and hashed
    again with the rest of the identity, so the name shows nothing of the secret."""
    message = b"shipctl fynd token cache\x00client secret\x00" + client_secret.encode(
        "utf-8", "surrogatepass")
    return hashlib.sha256(message).hexdigest()


@dataclass(frozen=True)
class Identity:
    """Whose token: the cache keeps one per profile, base URL, company, client id and secret
    (``secret_digest``: a token fetched with an old secret is not used after it changes)."""

    profile: str
    url: str
    company_id: str
    client_id: str
    secret_digest: str = field(default="", repr=False)

    def file_name(self) -> str:
        key = json.dumps([self.profile, self.url, self.company_id, self.client_id,
                          self.secret_digest])
        return "fynd-" + hashlib.sha256(key.encode("utf-8")).hexdigest()[:32] + ".json"


class TokenRefused(ConfigError):
    """The token endpoint refused the client credentials: exit 2, nothing was sent."""


def cache_dir() -> Path:
    import platformdirs

    return Path(platformdirs.user_cache_dir("shipctl")) / "tokens"


# Trust checks need POSIX owners and modes, and opening relative to a directory descriptor (so
# that what was checked is what is read or written, not a path swapped in between).
_STRICT = (hasattr(os, "geteuid") and hasattr(os, "O_NOFOLLOW") and hasattr(os, "O_DIRECTORY")
           and os.open in os.supports_dir_fd)
_READ_MAX = 1 << 20  # a token file is a few hundred bytes; a planted giant is not read whole


class Untrusted(Exception):
    """A cache directory or file this user did not (only) write."""

    def __init__(self, path: Path, reason: str) -> None:
        super().__init__(f"{path} {reason}")
        self.path = path
        self.reason = reason


def _distrust(path: Path, st: os.stat_result, *, directory: bool) -> None:
    """Raise Untrusted unless ``st`` is a directory / regular file owned by this user and
    writable by nobody else (OpenSSH StrictModes). Merely readable is tightened later."""
    if stat.S_ISLNK(st.st_mode):
        raise Untrusted(path, "is a symbolic link")
    if directory and not stat.S_ISDIR(st.st_mode):
        raise Untrusted(path, "is not a directory")
    if not directory and not stat.S_ISREG(st.st_mode):
        raise Untrusted(path, "is not a regular file")
    me = os.geteuid()
    if st.st_uid != me:
        raise Untrusted(path, f"belongs to uid {st.st_uid}, not to you (uid {me})")
    mode = stat.S_IMODE(st.st_mode)
    if mode & 0o022:
        who = {0o020: "its group", 0o002: "others"}.get(mode & 0o022, "its group and others")
        raise Untrusted(path, f"is writable by {who} (mode {mode:04o})")


def _open_checked(path: Path, flags: int, *, directory: bool, dir_fd: int | None = None,
                  name: str | None = None) -> int:
    """Open without following a final symbolic link, then check what was opened (fstat: no
    window for a swap between check and use). FileNotFoundError when it is not there."""
    flags |= os.O_NOFOLLOW | getattr(os, "O_CLOEXEC", 0)
    try:
        fd = os.open(name if name is not None else path, flags, dir_fd=dir_fd)
    except OSError as error:
        if error.errno in (errno.ELOOP, errno.EMLINK, errno.ENOTDIR, errno.ENXIO):
            # a symbolic link (ELOOP; EMLINK on FreeBSD), or not a directory / a socket:
            # lstat says which
            try:
                st = os.stat(name if name is not None else path, dir_fd=dir_fd,
                             follow_symlinks=False)
            except OSError:
                raise error from None
            _distrust(path, st, directory=directory)
        raise
    try:
        _distrust(path, os.fstat(fd), directory=directory)
    except BaseException:
        os.close(fd)
        raise
    return fd


class TokenCache:
    """The token files. A failure to read or write one is a silent cache miss; a directory or
    file this user cannot trust (``Untrusted``) turns the cache off for the run, with one
    warning naming the path: neither read nor written, the token kept in memory only (writing
    there would hand our token to whoever else can read or replace it)."""

    def __init__(self, directory: Path | None = None, *,
                 warn: Callable[[str], None] | None = None) -> None:
        self.directory = directory if directory is not None else cache_dir()
        self._warn = warn
        self.distrusted: Untrusted | None = None  # set once: the cache is off for this run

    def path(self, identity: Identity) -> Path:
        return self.directory / identity.file_name()

    def _refuse(self, untrusted: Untrusted) -> None:
        if self.distrusted is None:
            self.distrusted = untrusted
            if self._warn is not None:
                self._warn(f"{untrusted.path} {untrusted.reason}: the Fynd token cache is not "
                           "used (not read, not written); the token is kept in memory for "
                           "this run only. Remove it, or make it yours and writable only by "
                           "you (chmod go-w)")

    def load(self, identity: Identity) -> Token | None:
        if self.distrusted is not None:
            return None
        try:
            raw = self._read(identity)
        except Untrusted as untrusted:
            self._refuse(untrusted)
            return None
        except OSError:
            return None  # missing or unreadable: fetch anew
        try:
            document = json.loads(raw.decode("utf-8"))
            token = Token(str(document["access_token"]), float(document["expires_at"]),
                          float(document["renew_at"]))
            same = [document.get(k) for k in ("profile", "url", "company_id", "client_id")]
        except (ValueError, KeyError, TypeError, AttributeError):
            return None  # half-written by a crashed older version, or damaged: fetch anew
        if same != [identity.profile, identity.url, identity.company_id, identity.client_id]:
            return None
        secrets.register(token.access_token)
        return token

    def store(self, identity: Identity, token: Token) -> bool:
        """Write the token; False when it was not (the cache is untrusted or read-only)."""
        if self.distrusted is not None:
            return False
        document = {
            "profile": identity.profile,
            "url": identity.url,
            "company_id": identity.company_id,
            "client_id": identity.client_id,
            "access_token": token.access_token,
            "expires_at": token.expires_at,
            "renew_at": token.renew_at,
        }
        try:
            self._write(self.path(identity), json.dumps(document, indent=1))
        except Untrusted as untrusted:
            self._refuse(untrusted)
            return False
        except OSError:  # read-only cache: the token still serves this run
            return False
        return True

    # -- POSIX: checked, through directory descriptors ---------------------------------------
    def _read(self, identity: Identity) -> bytes:
        path = self.path(identity)
        if not _STRICT:
            return path.read_bytes()
        directory = _open_checked(self.directory, os.O_RDONLY | os.O_DIRECTORY, directory=True)
        try:
            # O_NONBLOCK: a planted FIFO must not hang the command before fstat refuses it
            fd = _open_checked(path, os.O_RDONLY | getattr(os, "O_NONBLOCK", 0),
                               directory=False, dir_fd=directory, name=path.name)
            self._tighten(directory, 0o700)
        finally:
            os.close(directory)
        with os.fdopen(fd, "rb") as handle:
            self._tighten(handle.fileno(), 0o600)
            return handle.read(_READ_MAX)

    @staticmethod
    def _tighten(fd: int, mode: int) -> None:
        # ours and writable only by us, but readable by others (an older version, a restored
        # backup, a umask of 0): the token must not stay readable
        with contextlib.suppress(OSError):
            if stat.S_IMODE(os.fstat(fd).st_mode) & 0o077:
                os.fchmod(fd, mode)

    def _write(self, path: Path, text: str) -> None:
        if not _STRICT:
            return self._write_plain(path, text)
        self.directory.parent.mkdir(mode=0o700, parents=True, exist_ok=True)
        with contextlib.suppress(FileExistsError):
            os.mkdir(self.directory, 0o700)
        directory = _open_checked(self.directory, os.O_RDONLY | os.O_DIRECTORY, directory=True)
        try:
            self._tighten(directory, 0o700)
            with contextlib.suppress(FileNotFoundError):  # what is there must be ours too
                _distrust(path, os.stat(path.name, dir_fd=directory, follow_symlinks=False),
                          directory=False)
            # A new file, 0600, in the same directory, so os.replace is atomic: a concurrent
            # reader (another run) sees the old token or the new one, never half.
            temporary = f".token-{os.urandom(8).hex()}.tmp"
            fd = os.open(temporary, os.O_WRONLY | os.O_CREAT | os.O_EXCL | os.O_NOFOLLOW
                         | getattr(os, "O_CLOEXEC", 0), 0o600, dir_fd=directory)
            try:
                with os.fdopen(fd, "w", encoding="utf-8") as handle:
                    handle.write(text)
                    handle.flush()
                    os.fsync(handle.fileno())
                os.replace(temporary, path.name, src_dir_fd=directory, dst_dir_fd=directory)
            except BaseException:
                with contextlib.suppress(OSError):
                    os.unlink(temporary, dir_fd=directory)
                raise
        finally:
            os.close(directory)
        return None

    # -- elsewhere (no owners, no directory descriptors): private by path ----------
    def _write_plain(self, path: Path, text: str) -> None:
        path.parent.mkdir(mode=0o700, parents=True, exist_ok=True)
        os.chmod(path.parent, 0o700)
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
