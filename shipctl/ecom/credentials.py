"""How requests to an Ecom webhook authenticate: Basic auth (RFC 7617, as Ecom Express's
"Ecom Status Update API Reference Manual" sends it), or ``--auth headers``: ``username`` and
``password`` request headers (docs/ecom.md)."""

from __future__ import annotations

import base64
import unicodedata

from shipctl.http.options import Auth

# What to check when a webhook refuses the credentials (401/403).
CREDENTIALS_CHECK = "--username/--password-stdin, or ecom.username and ecom.password"


def basic_credentials(username: str, password: str) -> str:
    """The ``Authorization`` value for Basic auth, as RFC 7617 says with charset UTF-8:
    user-id and password normalised to NFC, joined by a colon, UTF-8, Base64.

    A colon in the password is fine (the first colon ends the user-id); in the user-id it
    would move the split, and control characters are not allowed in either: ValueError.
    """
    if ":" in username:
        raise ValueError("the username contains ':', which Basic auth cannot carry"
                         " (RFC 7617: the first colon ends the user-id)")
    for what, value in (("username", username), ("password", password)):
        if any(unicodedata.category(ch) == "Cc" for ch in value):
            raise ValueError(f"the {what} contains a control character, which Basic auth"
                             " cannot carry (RFC 7617)")
    joined = unicodedata.normalize("NFC", username) + ":" + unicodedata.normalize("NFC", password)
    return "Basic " + base64.b64encode(joined.encode("utf-8")).decode("ascii")


class BasicAuth(Auth):
    """``Authorization: Basic …`` (``basic_credentials``); None: nothing (an Authorization
    given with --header, or a dry run's preview without credentials)."""

    def __init__(self, value: str | None) -> None:
        self.value = value

    def headers(self) -> dict[str, str]:
        return {"Authorization": self.value} if self.value else {}


class HeaderAuth(Auth):
    """``--auth headers``: ``username`` and ``password`` request headers, which one large
    receiver checks instead of Basic auth (docs/ecom.md)."""

    def __init__(self, username: str, password: str) -> None:
        self.values = {"username": username, "password": password}

    def headers(self) -> dict[str, str]:
        return dict(self.values)


def header_credentials_problem(username: str, password: str) -> str | None:
    """Why the credentials cannot go in ``username``/``password`` headers, or None: a header
    value is one line of printable ASCII (RFC 9110), which Basic auth's Base64 is not bound by."""
    for what, value in (("username", username), ("password", password)):
        if any(not (" " <= ch <= "~") for ch in value):
            return (f"the {what} is not printable ASCII, which a {what} header cannot carry;"
                    " use --auth basic")
    return None
