"""Words for messages about what a user wrote: the one "did you mean …" helper (config keys
and payload field names alike), and what kind of JSON value was found."""

from __future__ import annotations

import difflib
from collections.abc import Callable, Iterable
from typing import Any


def nearest(
    word: str,
    choices: Iterable[str],
    *,
    normalise: Callable[[str], str] = str.casefold,
    cutoff: float = 0.6,
) -> str | None:
    """The choice spelt most like ``word`` (compared after ``normalise``), or None."""
    by_normal = {normalise(choice): choice for choice in choices}
    wanted = normalise(word)
    if wanted in by_normal:
        return by_normal[wanted]
    found = difflib.get_close_matches(wanted, list(by_normal), n=1, cutoff=cutoff)
    return by_normal[found[0]] if found else None


def kind_of(value: Any) -> str:
    """A JSON value's kind as a message says it: "got a list", "found null", "got true"."""
    if value is None:
        return "null"
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, int):
        return "a whole number"
    if isinstance(value, float):
        return "a number"
    if isinstance(value, str):
        return "text"
    if isinstance(value, (list, tuple)):
        return "a list"
    if isinstance(value, dict):
        return "an object"
    return f"a {type(value).__name__}"
