"""How much the reader takes: sizes, nesting, digits; and the errors that name those limits.

The other modules read the sizes here at call time (``limits.MAX_DOCUMENT``, not a copy made by
``from … import``), so a test lowers one for every reader with
``monkeypatch.setattr(limits, "MAX_DOCUMENT", 4096)``.
"""

from __future__ import annotations

import sys
from typing import Any

from shipctl import nesting
from shipctl.errors import InputError
from shipctl.inputs.items import WrittenFloat
from shipctl.nesting import MAX_DEPTH, too_deep

# json5 is a pure-Python parser, slow on large text: the lenient path must stay quick on
# hostile input
LENIENT_LIMIT = 2 * 1024 * 1024  # comments, trailing commas, prose… (fast: json.loads after fixes)
JSON5_LIMIT = 256 * 1024  # single quotes, unquoted keys… (json5 itself parses these)
MAX_DOCUMENT = 256 * 1024 * 1024  # a whole JSON/YAML document, or one line: /dev/zero must not hang
# stdin, a pipe, /dev/fd/N… are copied whole before the first item so that a second pass can
# read them again: an endless stream (`yes |`) must end in an error, not fill the disk
MAX_SPOOL = 1024 * 1024 * 1024


def size_text(n: int) -> str:
    """A limit in words: 2097152 → "2 MiB"."""
    if n >= 1 << 20 and n % (1 << 20) == 0:
        return f"{n >> 20} MiB"
    if n >= 1 << 10 and n % (1 << 10) == 0:
        return f"{n >> 10} KiB"
    return f"{n} bytes"


def nesting_error(name: str, line: int) -> InputError:
    """The one message for too deep a nesting, whichever reader (or parser) found it."""
    return InputError(
        f"{name}:{line}: nesting too deep (more than {MAX_DEPTH} levels of objects and lists)"
    )


def loads(text: str, name: str, line_base: int = 0) -> Any:
    """``json.loads`` of ``text`` (which starts after ``line_base`` lines of its file), but
    nesting deeper than MAX_DEPTH is the one nesting error; json's own errors are ValueErrors
    as usual."""
    try:
        return nesting.loads(text, parse_float=WrittenFloat)  # keeps each decimal's digits
    except nesting.TooDeep as deep:
        raise nesting_error(name, line_base + text.count("\n", 0, deep.offset) + 1) from None


def check_depth(
    text: str, name: str, line_base: int = 0, start: int = 0, end: int | None = None
) -> None:
    """Refuse JSON nested deeper than MAX_DEPTH before a parser recurses into it (json5,
    which is pure Python; ``loads`` is cheaper for json itself)."""
    offset = too_deep(text, start, end)
    if offset is not None:
        raise nesting_error(name, line_base + text.count("\n", 0, offset) + 1)


# int() refuses integers of more than sys.get_int_max_str_digits() digits (CVE-2020-10735: 4,300
# by default since Python 3.11 and 3.10.7; 0 means no limit); json, json5 and YAML all use int().
def digit_limit() -> int:
    get = getattr(sys, "get_int_max_str_digits", None)
    return get() if get is not None else 0
