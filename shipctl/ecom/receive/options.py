"""`ecom listen`'s options checked before anything is bound or opened: each mistake a
UsageError (exit 2) that says what to give instead. The command
(``shipctl.ecom.receive.commands``) only gathers the values.
"""

from __future__ import annotations

from typing import Any

from shipctl import secrets
from shipctl.errors import UsageError


def check_path(path: str) -> None:
    if not path.startswith("/"):
        raise UsageError(f"--path {path}: must start with / (e.g. /ecom/webhook)")


def password_from_stdin() -> str:
    """--password-stdin: one line of stdin, masked in every log line from now on."""
    password = secrets.read_line()
    if not password:
        raise UsageError("--password-stdin: stdin was empty; pipe the password in one line")
    secrets.register(password)
    return password


def credentials(username: object, password: object) -> tuple[str, str]:
    """The credentials Ecom will send, as the profile and options give them; a UsageError
    when one is missing or the username could never be matched."""
    if username and ":" in str(username):
        # RFC 7617: the user-id ends at the first colon, so no request could ever match it
        raise UsageError(f"ecom listen: the username {username!r} holds a colon, which Basic"
                         " Auth cannot carry (the username ends at the first colon)",
                         hint="choose a username without ':' (--username NAME, or shipctl"
                         " config set ecom.username NAME)")
    if not username or not password:
        missing = " and ".join(name for name, value in (("ecom.username", username),
                                                        ("ecom.password", password))
                               if not value)
        raise UsageError(
            f"ecom listen needs the credentials Ecom will send; {missing} not set",
            hint="shipctl config set ecom.username NAME, then shipctl config set ecom.password"
            " (prompted), or pass --username NAME --password-stdin",
        )
    return str(username), str(password)


def relay_settings(url: str | None, concurrency: int, backoff: str,
                   retry_for: str) -> dict[str, Any] | None:
    """The --forward-to relay's settings (``shipctl.ecom.receive.relay.Relay``); None
    without --forward-to."""
    if not url:
        return None
    from shipctl.ecom.receive.relay import Schedule, parse_duration

    check_url(url)
    first, _, most = backoff.partition(",")
    first_s = parse_duration("--forward-backoff", first)
    most_s = parse_duration("--forward-backoff", most) if most else max(first_s, 3600.0)
    if most_s < first_s:
        raise UsageError(f"--forward-backoff {backoff}: MOST must not be less than FIRST")
    schedule = Schedule(first_s, most_s, parse_duration("--forward-retry-for", retry_for))
    return {"concurrency": concurrency, "schedule": schedule}


def check_url(url: str) -> None:
    """--forward-to: refused now rather than with every push relayed (a space, a port that
    is not a number); a password in it is masked in every log line."""
    from urllib.parse import unquote, urlsplit

    parts = urlsplit(url)
    if parts.password:
        secrets.register(parts.password)
        secrets.register(unquote(parts.password))  # as the HTTP layer sends it
    if any(ch.isspace() or not ch.isprintable() for ch in url):
        raise UsageError(f"--forward-to {url}: a URL has no spaces")
    try:
        parts.port  # noqa: B018 - raises ValueError on a port that is not a number
    except ValueError as error:
        raise UsageError(f"--forward-to {url}: {error}") from None
    if parts.scheme not in ("http", "https") or not parts.hostname:
        raise UsageError(f"--forward-to {url}: give an http:// or https:// URL")
