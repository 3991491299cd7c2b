"""Lenient JSON: read what strict JSON refused, and say what was forgiven.

docs/conventions.md, Input files: "for text pasted from tickets and docs". The text is cut into
tokens; the values in it are found among prose and separating commas; what JSON lacks is made
JSON by same-length substitutions (a comment or prose becomes spaces, ``True`` becomes
``true``…) so that every line and column still points into the user's text; ``json.loads`` reads
each value, and ``json5`` what remains (single quotes, unquoted keys…) when the value is small
enough.
"""

from __future__ import annotations

import json
import re
from bisect import bisect_left
from typing import Any, NamedTuple

from shipctl.errors import InputError
from shipctl.inputs import limits
from shipctl.inputs.items import Value, WrittenFloat
from shipctl.inputs.limits import check_depth, nesting_error
from shipctl.inputs.positions import LineIndex, field_lines
from shipctl.inputs.syntax import (
    COMMENTS,
    STRINGS,
    Token,
    Where,
    is_digit_limit,
    number_too_long,
    strict_position,
    syntax_error,
    tokenize,
)

_JSON_NUMBER = re.compile(r"-?(?:0|[1-9]\d*)(?:\.\d+)?(?:[eE][-+]?\d+)?")
_JSON_WORDS = frozenset({"true", "false", "null", "NaN", "Infinity", "-Infinity"})
_PYTHON_WORDS = {"True": "true", "False": "false", "None": "null"}  # each as long as its JSON
_ESCAPE = re.compile(r'\\(?:u[0-9a-fA-F]{4}|["\\/bfnrt]|(.))', re.DOTALL)  # group 1: not JSON


class Forgiveness(NamedTuple):
    """One kind of thing strict JSON refused and the lenient reader let pass: one warning."""

    kind: str  # "comment", "trailing comma"…: what JSON Lines counts line after line
    line: int  # the first line where it was forgiven
    phrase: str  # the warning's words: "trailing comma at lines 3 and 7"


class NotJSON(Exception):
    """No JSON value anywhere in the text (the caller words the error)."""

    def __init__(self, error: InputError) -> None:
        super().__init__(error.message)
        self.error = error


_EMAIL_QUOTE = re.compile(r"[ \t]*(?:>[ \t]?)+")  # "> ", ">> ", "> > " at a line's start
EMAIL_QUOTING = "email quoting (> ) removed"


def unquote_email(text: str) -> str | None:
    """TEXT pasted from a quoted email reply (every non-blank line starts with ``>``) with the
    quoting blanked out, or None when it is not quoted so.

    The ``>`` marks become spaces, so every line and column of an error still points into the
    user's text.
    """
    quoted = False
    out: list[str] = []
    for line in text.splitlines(keepends=True):
        if not line.strip():
            out.append(line)
            continue
        found = _EMAIL_QUOTE.match(line)
        if found is None or ">" not in found.group():
            return None
        quoted = True
        out.append(" " * found.end() + line[found.end():])
    return "".join(out) if quoted else None


def lenient(
    text: str, name: str, strict_error: ValueError, *, line_base: int = 0
) -> tuple[list[Value], list[Forgiveness]]:
    """Read what strict JSON refused (``strict_error``): its values, and what was forgiven.

    Raises InputError, or NotJSON when the text holds no JSON value at all.
    """
    line, column, message = strict_position(text, strict_error)
    strict = f"{name}:{line + line_base}:{column}: {message}"  # json's error, in our words
    _refuse_outright(text, name, strict_error, strict, line_base)
    where = Where(name, LineIndex(text), line_base)
    # where the values are, among prose and the commas between values pasted back to back
    tokens = tokenize(text)
    candidates, prose, separators = _segments(text, tokens)
    if not candidates:
        raise NotJSON(InputError(strict))
    # made JSON, then read; every repair is noted with its line as it is made
    forgiven = _Forgiven(where)
    normalized = _normalise(text, tokens, prose | separators, forgiven)
    spans = _spans(candidates, tokens, len(text))
    values = _values(text, normalized, spans, tokens, where)
    # what no single token shows: text around the values, several values
    if prose:
        _forgive_prose(forgiven, tokens, prose, spans)
    if len(values) > 1:
        noun = "objects" if all(isinstance(v.data, dict) for v in values) else "values"
        at = _at_lines(sorted({v.line for v in values}))
        phrase = f"{len(values)} {noun} pasted back to back {at}"
        forgiven.add_at_line("back to back", values[0].line, phrase)
    if not forgiven.entries:  # json5 accepted something none of the checks above names
        forgiven.add_at_line("JSON5 syntax", line + line_base, None)
    return values, forgiven.merged()


def _refuse_outright(
    text: str, name: str, strict_error: ValueError, strict: str, line_base: int
) -> None:
    """Errors no leniency can help: a number too long for int(), a text too long to repair."""
    if is_digit_limit(strict_error):  # valid JSON up to a number int() refuses
        too_long = number_too_long(text, 0, len(text), Where(name, LineIndex(text), line_base))
        if too_long is not None:
            raise too_long
    if len(text) > limits.LENIENT_LIMIT:
        raise InputError(
            strict,
            hint=f"lenient parsing (comments, trailing commas…) is limited to inputs of"
            f" {limits.size_text(limits.LENIENT_LIMIT)}",
        )


# -- what was forgiven ------------------------------------------------------------------------


class _Forgiven:
    """What the lenient reader let pass, each with its line; one warning per kind at the end."""

    def __init__(self, where: Where) -> None:
        self.where = where
        self.entries: list[tuple[str, int, str | None]] = []  # (kind, line, phrase)

    def add(self, kind: str, offset: int, phrase: str | None = None) -> None:
        """``kind`` at ``offset``; without a phrase, the warning says "{kind} at line(s) …"."""
        self.entries.append((kind, self.where.line(offset), phrase))

    def add_at_line(self, kind: str, line: int, phrase: str | None) -> None:
        self.entries.append((kind, line, phrase))

    def merged(self) -> list[Forgiveness]:
        """One per kind, in order of first appearance, naming its lines."""
        first: dict[str, tuple[int, str | None]] = {}  # kind → (line, phrase) where first seen
        lines: dict[str, list[int]] = {}
        for kind, line, phrase in sorted(self.entries, key=lambda entry: entry[1]):
            if kind not in first:
                first[kind] = (line, phrase)
                lines[kind] = []
            seen = lines[kind]
            if not seen or seen[-1] != line:  # sorted: a repeat is always the last one
                seen.append(line)
        return [
            Forgiveness(kind, line, phrase or f"{kind} {_at_lines(lines[kind])}")
            for kind, (line, phrase) in first.items()
        ]


def _at_lines(lines: list[int]) -> str:
    """[12] → "at line 12"; [3, 7, 9] → "at lines 3, 7 and 9"; long lists are cut short."""
    if len(lines) == 1:
        return f"at line {lines[0]}"
    shown = [str(n) for n in lines[:5]]
    more = len(lines) - len(shown)
    if more:
        return f"at lines {', '.join(shown)} and {more} more"
    return f"at lines {', '.join(shown[:-1])} and {shown[-1]}"


def _forgive_prose(
    forgiven: _Forgiven, tokens: list[Token], prose: set[int], spans: list[tuple[int, int]]
) -> None:
    """Text before, between and after the values: one warning for each place."""
    first_start = spans[0][0]
    last_end = spans[-1][1]
    starts = [tokens[position][1] for position in prose]
    before = [start for start in starts if start < first_start]
    between = [start for start in starts if first_start <= start < last_end]
    after = [start for start in starts if start >= last_end]
    if before:
        forgiven.add(
            "ignored text before", before[0],
            f"ignored text before line {forgiven.where.line(first_start)}",
        )
    if between:
        forgiven.add("ignored text", between[0])
    if after:
        forgiven.add(
            "ignored text after", after[0],
            f"ignored text after line {forgiven.where.line(max(last_end - 1, 0))}",
        )


# -- the text made JSON -----------------------------------------------------------------------


def _normalise(text: str, tokens: list[Token], skipped: set[int], forgiven: _Forgiven) -> str:
    """``text`` with what JSON lacks made JSON, as far as same-length substitutions go.

    ``skipped``: positions of the tokens that are not part of any value (prose, commas between
    values); they become spaces, as comments do. Line breaks are kept, so lines stay lines.
    """
    chars = list(text)

    def blank(start: int, end: int) -> None:
        for i in range(start, end):
            if chars[i] != "\n":
                chars[i] = " "

    # the token after each one, comments left out: is this comma trailing, this word a key?
    significant = [i for i, t in enumerate(tokens) if t[0] not in COMMENTS]
    following = {a: b for a, b in zip(significant, significant[1:], strict=False)}
    for position, (kind, start, end) in enumerate(tokens):
        if position in skipped:
            blank(start, end)
            continue
        if kind in COMMENTS:
            forgiven.add("comment", start)
            blank(start, end)
            continue
        nxt = following.get(position)
        next_token = text[tokens[nxt][1] : tokens[nxt][2]] if nxt is not None else ""
        json_text = _forgive(kind, text[start:end], start, next_token, forgiven)
        if json_text is not None:
            chars[start:end] = json_text
    return "".join(chars)


def _forgive(
    kind: str, token: str, start: int, next_token: str, forgiven: _Forgiven
) -> str | None:
    """Note what JSON would refuse in ``token``; its JSON spelling (same length) if it needs one.

    What JSON5 reads as it is (single quotes, an unquoted key…) is only noted.
    """
    if kind == "p" and token == ",":
        if next_token in ("}", "]"):
            forgiven.add("trailing comma", start)
            return " "
    elif kind == "sq":
        forgiven.add("single quotes", start)
    elif kind in ("tdq", "tsq"):
        forgiven.add("typographic quotes", start)
        quote = '"' if kind == "tdq" else "'"
        return quote + token[1:-1] + quote
    elif kind == "w":
        if next_token == ":":
            if not _JSON_NUMBER.fullmatch(token):
                forgiven.add("unquoted key", start)
        elif token in _PYTHON_WORDS:
            forgiven.add(f"Python literal {token}", start)
            return _PYTHON_WORDS[token]
        elif token not in _JSON_WORDS and not _JSON_NUMBER.fullmatch(token):
            forgiven.add(f"JSON5 value {token}", start)
    elif kind == "dq" and "\\" in token and _json5_escape(token):
        forgiven.add("JSON5 string escape", start)
    return None


def _json5_escape(token: str) -> bool:
    """Does this double-quoted string use an escape JSON lacks (\\x41, \\', a line break)?"""
    return any(m.group(1) is not None for m in _ESCAPE.finditer(token))


# -- where the values are ---------------------------------------------------------------------

# A value found among the tokens: the positions of its first and last token (its closing
# bracket; None when it is never closed).
_Candidate = tuple[int, int | None]


def _segments(text: str, tokens: list[Token]) -> tuple[list[_Candidate], set[int], set[int]]:
    """Top-level values, the positions of prose tokens around them, and of commas merely
    separating values pasted back to back."""
    significant = [p for p, t in enumerate(tokens) if t[0] not in COMMENTS]
    candidates, outside = _top_level(text, tokens, significant, in_prose=False)
    commas = {p for p in outside if tokens[p][0] == "p" and text[tokens[p][1]] == ","}
    if len(commas) == len(outside):
        return candidates, set(), commas
    # prose around the payload: braces in prose ("see [1]", a code sample) are prose too
    candidates, outside = _top_level(text, tokens, significant, in_prose=True)
    prose = set(outside)
    # "//" outside the payload is prose too (https://…), not a comment we forgave
    firsts = [first for first, _last in candidates]
    for position, (kind, _start, _end) in enumerate(tokens):
        if kind in COMMENTS:
            k = bisect_left(firsts, position) - 1  # the value starting before it
            last = candidates[k][1] if k >= 0 else -1
            if k < 0 or (last is not None and last < position):
                prose.add(position)
    return candidates, prose, set()


def _top_level(
    text: str, tokens: list[Token], significant: list[int], *, in_prose: bool
) -> tuple[list[_Candidate], list[int]]:
    """The bracketed values at depth 0, and the positions of the tokens outside them.

    ``in_prose``: a bracket starts a value only if what follows looks like a payload.
    """
    candidates: list[_Candidate] = []
    outside: list[int] = []  # token positions at depth 0, outside every value
    depth = 0
    first = 0

    def char(n: int) -> str:  # first character of the n-th significant token ("" past the end)
        return text[tokens[significant[n]][1]] if n < len(significant) else ""

    def opens_payload(n: int) -> bool:
        # in prose, a payload starts "{" + key + ":" (or "{}"), or "[" + such an object
        if char(n) == "[":
            n += 1
            if char(n) != "{":
                return False
        if char(n + 1) == "}":
            return True
        key_kind = tokens[significant[n + 1]][0] if n + 1 < len(significant) else ""
        return (key_kind in STRINGS or key_kind == "w") and char(n + 2) == ":"

    for n, position in enumerate(significant):
        kind, start, _end = tokens[position]
        c = text[start]
        if depth == 0:
            if kind == "p" and c in "{[" and (not in_prose or opens_payload(n)):
                first = position
                depth = 1
            else:
                outside.append(position)
        elif kind == "p" and c in "{[":
            depth += 1
        elif kind == "p" and c in "}]":
            depth -= 1
            if depth == 0:
                candidates.append((first, position))
    if depth:
        candidates.append((first, None))
    return candidates, outside


def _spans(candidates: list[_Candidate], tokens: list[Token], length: int) -> list[tuple[int, int]]:
    """Each value's (start, end) offsets; a value never closed runs to the end of the text."""
    spans = []
    for first, last in candidates:
        start = tokens[first][1]
        end = tokens[last][2] if last is not None else length
        spans.append((start, end))
    return spans


# -- the values read --------------------------------------------------------------------------


def _values(
    text: str, normalized: str, spans: list[tuple[int, int]], tokens: list[Token], where: Where
) -> list[Value]:
    data = [_parse_span(normalized, start, end, tokens, where) for start, end in spans]
    if "\n" in text.strip():
        lines = field_lines(normalized, spans, where.index, where.line_base)
    else:
        lines = [{} for _ in spans]
    return [
        Value(value, where.line(start), value_lines)
        for value, (start, _end), value_lines in zip(data, spans, lines, strict=True)
    ]


def _parse_span(normalized: str, start: int, end: int, tokens: list[Token], where: Where) -> Any:
    """One value of the normalised text: json.loads, else json5 (for values small enough)."""
    span = normalized[start:end]
    line = where.line(start)
    try:
        return limits.loads(span, where.name, line - 1)
    except ValueError as error:
        if isinstance(error, json.JSONDecodeError):
            fail_at = start + error.pos
        else:
            fail_at = start
        if is_digit_limit(error):
            too_long = number_too_long(normalized, start, end, where)
            if too_long is not None:
                raise too_long from None
    if len(span) > limits.JSON5_LIMIT:
        raise syntax_error(
            where, normalized, tokens, fail_at,
            extra=f"the JSON5 parser (single quotes, unquoted keys…) is used only for values"
            f" up to {limits.size_text(limits.JSON5_LIMIT)}",
        )
    import json5

    check_depth(normalized, where.name, where.line_base, start, end)  # json5 recurses
    try:
        return json5.loads(span, parse_float=WrittenFloat)
    except (RecursionError, MemoryError):
        raise nesting_error(where.name, line) from None
    except ValueError as error:
        if is_digit_limit(error):
            too_long = number_too_long(normalized, start, end, where)
            if too_long is not None:
                raise too_long from None
        match = re.match(r"<string>:(\d+) .* at column (\d+)$", str(error), re.DOTALL)
        if match:
            span_index = LineIndex(span)
            fail_at = start + span_index.offset(int(match.group(1)), int(match.group(2)))
    raise syntax_error(where, normalized, tokens, fail_at)
