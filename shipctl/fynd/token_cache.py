"""Fynd's token cache: a token with its expiry, kept across runs in a file this user alone
could have written (docs/fynd.md, Authentication).

- the token is cached with its expiry under ``platformdirs.user_cache_dir("shipctl")`` (file
  0600 in a 0700 directory), one file per profile, base URL, company, client id and client
  secret (the file name is a hash of them, the secret itself hashed first: never the secret);
  a new secret is a new file, so a token fetched with the old one is never used with the new
  one;
- the cache trusts only what this user wrote, as OpenSSH's StrictModes does: the directory
  and the file must be owned by the current user, writable by no one else, and not symbolic
  links. Otherwise another user could plant a token (our requests would then act as their
  app) or read ours: the cache is neither read nor written for the run, with one warning naming
  the path, and the token lives in memory only. Read-only bits for others are merely tightened;
- two runs refreshing at the same moment each write a temporary file and ``os.replace`` it
  over the cache, so a reader sees one whole token or the other, never a mix.
"""

from __future__ import annotations

import contextlib
import errno
import hashlib
import json
import os
import stat
import tempfile
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path

from shipctl import secrets

RENEW_EARLY = 60.0  # seconds before expiry a token is replaced (docs/fynd.md, Authentication)


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
