"""JSON text as tokens, and what to say when it is wrong: ``file:line:column: what`` and a hint.

The words do not depend on the Python: ``json`` words its errors differently from one version
to the next (a trailing comma above all), and ``json5`` has its own.
"""

from __future__ import annotations

import bisect
import json
import re
from typing import NamedTuple

from shipctl.errors import InputError
from shipctl.inputs.limits import digit_limit
from shipctl.inputs.positions import LineIndex
from shipctl.output import shorten

# One token of JSON, JSON5 or the prose around them. Strings may not span lines (JSON forbids
# raw newlines; JSON5 allows only a backslash-newline), so a stray quote in prose stays local.
_TOKEN = re.compile(
    r"""
    (?P<ws>\s+)
  | (?P<dq>"(?:[^"\\\n]|\\.)*")
  | (?P<sq>'(?:[^'\\\n]|\\.)*')
  | (?P<tdq>[\u201c\u201d\u201e](?:[^\u201c\u201d"\\\n]|\\.)*[\u201c\u201d"])
  | (?P<tsq>\u2018(?:[^\u2019\\\n]|\\.)*\u2019)
  | (?P<lc>//[^\n]*)
  | (?P<bc>/\*.*?\*/)
  | (?P<p>[{}\[\],:])
  | (?P<w>[\w$+\-.]+)
  | (?P<x>.)
    """,
    re.VERBOSE | re.DOTALL,
)
STRINGS = frozenset({"dq", "sq", "tdq", "tsq"})
COMMENTS = frozenset({"lc", "bc"})

# (kind, start, end): a group name of _TOKEN and the token's offsets in the text. A plain tuple,
# not a dataclass: a 1 MB paste makes about 170,000 tokens and a tuple is made in half the time.
Token = tuple[str, int, int]


def tokenize(text: str) -> list[Token]:
    """Every token of ``text`` but white space."""
    return [
        (m.lastgroup, m.start(), m.end()) for m in _TOKEN.finditer(text) if m.lastgroup != "ws"
    ]


def significant(tokens: list[Token]) -> list[Token]:
    """The tokens that are not comments."""
    return [token for token in tokens if token[0] not in COMMENTS]


class Where(NamedTuple):
    """Names a place in a text as ``file:line:column`` of the user's file."""

    name: str  # the file, as the user gave it
    index: LineIndex  # of the text
    line_base: int = 0  # lines of the file before the text (JSON Lines: the lines before it)

    def line(self, offset: int) -> int:
        return self.index.line(offset) + self.line_base

    def at(self, offset: int) -> str:
        return f"{self.name}:{self.line(offset)}:{self.index.column(offset)}"


# -- json's own errors ------------------------------------------------------------------------

_TRAILING_COMMA = re.compile(r",\s*([\]}])")


def strict_position(text: str, error: ValueError) -> tuple[int, int, str]:
    """(line, column, message) of json's error, in words that do not depend on the Python."""
    if not isinstance(error, json.JSONDecodeError):
        return 1, 1, str(error)
    # A trailing comma is the commonest slip, and json words it by version: 3.13 "Illegal
    # trailing comma before end of array" at the comma, 3.12 "Expecting value" at the bracket.
    comma = text.rfind(",", 0, error.pos + 1)
    trailing = _TRAILING_COMMA.match(text, comma) if comma >= 0 else None
    if trailing is not None and trailing.start(1) >= error.pos:
        line = text.count("\n", 0, comma) + 1
        column = comma - text.rfind("\n", 0, comma)
        return line, column, f"trailing comma before '{trailing.group(1)}'"
    return error.lineno, error.colno, error.msg[:1].lower() + error.msg[1:]


def is_digit_limit(error: ValueError) -> bool:
    """Did int() refuse a number for its length (see ``limits.digit_limit``)?"""
    return not isinstance(error, json.JSONDecodeError) and "integer string conversion" in str(
        error
    )


# a string (skipped: its digits are never converted), or a whole number; group 1: its digits
_NUMBER_SCAN = re.compile(
    r""""(?:[^"\\\n]|\\.)*"|'(?:[^'\\\n]|\\.)*'"""
    r"|(?<![\w$.])[-+]?(\d+)(?:\.\d*)?(?:[eE][-+]?\d+)?(?![\w$.])"
)


def number_too_long(text: str, start: int, end: int, where: Where) -> InputError | None:
    """The first integer in ``text[start:end]`` too long for int(), as an error; else None."""
    limit = digit_limit()
    if not limit:
        return None
    for match in _NUMBER_SCAN.finditer(text, start, end):
        digits = match.group(1)
        # a fraction or an exponent makes a float, which has no limit
        if digits is not None and len(digits) > limit and match.end(1) == match.end():
            return InputError(
                f"{where.at(match.start())}: number too long (more than {limit} digits)"
            )
    return None


# -- where a parser stopped, in words ---------------------------------------------------------

_VALUE_END = frozenset({"}", "]"})
_VALUE_START = frozenset({"{", "["})
_QUOTES = "\"'\u201c\u201d\u2018\u2019"


def syntax_error(
    where: Where, text: str, tokens: list[Token], offset: int, extra: str | None = None
) -> InputError:
    """``file:line:column: what`` and, when the cause is obvious, a hint.

    ``offset``: where the parser stopped; the error names the token there, or an earlier one
    that is obviously the cause (a quote never closed). ``extra``: more for the hint.
    """
    tokens = significant(tokens)  # comments are white space to a parser
    at = bisect.bisect_left([start for _kind, start, _end in tokens], offset)
    # the token that contains the offset, if the parser stopped inside one
    if at > 0 and tokens[at - 1][2] > offset:
        at -= 1
    # a string that never closed: the parser tripped somewhere after it
    stray = [start for kind, start, _end in tokens[: at + 1] if kind == "x"]
    stray = [start for start in stray if text[start] in _QUOTES]
    if stray:
        return InputError(
            f"{where.at(stray[0])}: unterminated string",
            hint="the closing quote is missing (a string cannot span lines)",
        )
    stack = _open_brackets(text, tokens[:at])
    hint = None
    if at >= len(tokens) or not text[offset:].strip():
        offset = len(text.rstrip())
        what = "unexpected end of input"
        if stack:
            opener = stack[-1]
            hint = f"the '{text[opener]}' opened at line {where.line(opener)} is never closed"
    else:
        kind, offset, end = tokens[at]
        token = text[offset:end]
        if kind == "x":
            what = f"unexpected character {token!r}"
        else:
            shown = shorten(token, 30)
            what = f"unexpected string {shown}" if kind in STRINGS else f"unexpected '{shown}'"
            hint = _missing_hint(text, tokens, at, stack, where)
    if extra:
        hint = f"{hint}; {extra}" if hint else extra
    return InputError(f"{where.at(offset)}: {what}", hint=hint)


def _open_brackets(text: str, tokens: list[Token]) -> list[int]:
    """Offsets of the brackets still open after ``tokens``, innermost last."""
    stack: list[int] = []
    for kind, start, _end in tokens:
        if kind == "p":
            char = text[start]
            if char in "{[":
                stack.append(start)
            elif char in "}]" and stack:
                stack.pop()
    return stack


def _missing_hint(
    text: str, tokens: list[Token], at: int, stack: list[int], where: Where
) -> str | None:
    """A value right after a value: a missing ':' after a key, or a missing comma.

    ``tokens``: the significant ones; ``at``: the one the parser stopped at; ``stack``: the
    brackets open there.
    """
    if at == 0:
        return None
    kind, start, end = tokens[at]
    token = text[start:end]
    starts_value = kind in STRINGS or kind == "w" or token in _VALUE_START
    if not starts_value:
        return None
    prev_kind, prev_start, prev_end = tokens[at - 1]
    prev = text[prev_start:prev_end]
    ends_value = prev_kind in STRINGS or prev_kind == "w" or prev in _VALUE_END
    if not ends_value:
        return None
    prev_line = where.line(prev_end - 1)
    in_object = bool(stack) and text[stack[-1]] == "{"
    if in_object and at >= 2:
        _kind, before_start, before_end = tokens[at - 2]
        if text[before_start:before_end] in ("{", ","):  # prev was a key
            return f"a ':' is missing after the key on line {prev_line}"
    return f"a comma is missing between two values: add ',' at the end of line {prev_line}"
