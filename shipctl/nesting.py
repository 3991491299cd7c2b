"""How deep shipctl reads nested objects and lists: one fixed limit, the same on every Python.

No payload or answer of the three APIs nests deeper than about 10 levels. The interpreters'
own limits differ (``json`` on 3.13 reads 5,000 levels that 3.11 refuses) and a C parser may
crash before reaching any of them (libyaml composing 100,000 levels). So every reader refuses
more than ``MAX_DEPTH`` levels before it parses, and nothing after reading (validation,
redaction, printing) ever recurses deeper than that.
"""

from __future__ import annotations

import functools
import json
import re
from typing import Any

MAX_DEPTH = 32  # README "Input rules"; also the most dotted parts of a CSV column

# A JSON string (skipped: brackets inside it are text) or a bracket.
_TOKEN = re.compile(r'"(?:[^"\\]|\\.)*"|[\[\]{}]', re.DOTALL)


def too_deep(text: str, start: int = 0, end: int | None = None) -> int | None:
    """Offset of the first bracket opening level ``MAX_DEPTH + 1`` in ``text[start:end]``.

    None when the text nests no deeper than the limit. Counting brackets is cheap (two
    ``str.count`` calls) and is enough for almost every input; only a text with more brackets
    than the limit is scanned token by token.
    """
    if end is None:
        end = len(text)
    if text.count("[", start, end) + text.count("{", start, end) <= MAX_DEPTH:
        return None
    depth = 0
    for match in _TOKEN.finditer(text, start, end):
        token = match.group()
        if token == "[" or token == "{":
            depth += 1
            if depth > MAX_DEPTH:
                return match.start()
        elif token == "]" or token == "}":
            depth -= 1
    return None


class TooDeep(ValueError):
    """JSON nested deeper than MAX_DEPTH (a ValueError, as json.loads's own errors are)."""

    def __init__(self, offset: int) -> None:
        super().__init__(f"nested more than {MAX_DEPTH} levels deep")
        self.offset = offset


def loads(text: str, *, parse_float: Any = None) -> Any:
    """``json.loads`` refusing more than MAX_DEPTH levels (``TooDeep``, a ValueError).

    The C parser reads first (it refuses what would exhaust the interpreter's own limit with
    a RecursionError), then the value's containers are counted level by level, which is
    several times cheaper than scanning the text; the text is scanned only to say where.
    """
    try:
        if type(text) is str and not text.startswith("\ufeff"):
            value = _decoder(parse_float).decode(text)
        else:  # json.loads's own checks (bytes, a BOM it refuses by name)
            value = json.loads(text, parse_float=parse_float)
    except RecursionError:
        raise TooDeep(too_deep(text) or 0) from None
    except ValueError:
        # Malformed and deep: 3.13 parses 5,000 levels before it finds the error that 3.11
        # never reaches. The depth is what every Python agrees on, so it is the error.
        offset = too_deep(text)
        if offset is not None:
            raise TooDeep(offset) from None
        raise
    if (
        isinstance(value, (dict, list))
        and text.count("[") + text.count("{") > MAX_DEPTH
        and _deeper_than_limit(value)
    ):
        raise TooDeep(too_deep(text) or 0)
    return value


@functools.lru_cache(maxsize=8)
def _decoder(parse_float: Any) -> json.JSONDecoder:
    """One decoder per parse_float, reused: json.loads with any keyword builds a new one per
    call, which cost a quarter of reading a JSON Lines file (benchmarks/ecom_validate.py).
    Thread-safe: the C scanner does not release the GIL while it decodes."""
    return json.JSONDecoder(parse_float=parse_float)


def _deeper_than_limit(value: Any) -> bool:
    """Does a parsed JSON value hold a container more than MAX_DEPTH levels down? Iterative."""
    level = [value]
    for _depth in range(MAX_DEPTH):
        below = []
        for node in level:
            for child in node.values() if type(node) is dict else node:
                if type(child) is dict or type(child) is list:
                    below.append(child)
        if not below:
            return False
        level = below
    return True
