"""The one "did you mean …" helper, for config keys and payload field names alike."""

from __future__ import annotations

import difflib
from collections.abc import Callable, Iterable


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
