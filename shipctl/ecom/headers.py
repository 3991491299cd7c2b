"""``ecom replay --header NAME:VALUE``: extra request headers, checked as RFC 9110 says a
header is written, and whether one carries a credential (then no output shows its value)."""

from __future__ import annotations

import re

_HEADER_NAME = re.compile(r"[!#$%&'*+.^_`|~0-9A-Za-z-]+")  # an RFC 9110 token
# header names whose values are credentials: registered so that no output shows them
_SECRET_WORDS = ("authorization", "password", "secret", "token", "key", "cookie")


def is_secret(name: str) -> bool:
    """Whether the header NAME carries a credential (Authorization, X-Api-Key…)."""
    return any(word in name.lower() for word in _SECRET_WORDS)


def parse_header(text: str) -> tuple[str, str]:
    """``--header NAME:VALUE`` → (name, value), or ValueError saying what is wrong."""
    name, colon, value = text.partition(":")
    name, value = name.strip(), value.strip()
    if not colon or not _HEADER_NAME.fullmatch(name):
        raise ValueError(f"--header {text!r}: must be NAME:VALUE, e.g. --header 'username:ops'")
    if any(not (" " <= ch <= "~") and ch != "\t" for ch in value):
        raise ValueError(f"--header {name}: the value must be one line of printable ASCII")
    return name, value
