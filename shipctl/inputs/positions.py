"""Where things are in a JSON text: offsets → line and column, field paths → lines.

Shared by the strict reader and the lenient one (which scans its normalised text, whose
offsets are those of the user's text).
"""

from __future__ import annotations

import bisect
import json
import re

from shipctl.inputs.items import Path_


class LineIndex:
    """Offsets → 1-based (line, column)."""

    def __init__(self, text: str) -> None:
        self.newlines = [m.start() for m in re.finditer("\n", text)]
        self.length = len(text)

    def line(self, offset: int) -> int:
        return bisect.bisect_left(self.newlines, offset) + 1

    def column(self, offset: int) -> int:
        line = self.line(offset)
        return offset + 1 if line == 1 else offset - self.newlines[line - 2]

    def offset(self, line: int, column: int) -> int:
        if line <= 1:
            start = 0
        elif line - 2 < len(self.newlines):
            start = self.newlines[line - 2] + 1
        else:
            return self.length
        return min(start + column - 1, self.length)


# tokens of strict JSON, or of lenient text once normalised (no comments, no typographic quotes)
_WALK_TOKEN = re.compile(
    r'"(?:[^"\\\n]|\\.)*"'  # a string
    r"|'(?:[^'\\\n]|\\.)*'"  # a JSON5 single-quoted string
    r"|[{}\[\],:]"
    r"""|[^\s{}\[\],:"']+"""  # a number, a literal, an unquoted key
    r"|\S",
    re.DOTALL,
)


class _Frame:
    """An object or a list the scan is inside.

    A plain class with slots: a dataclass is slower to define at import, and slots keep the
    attributes as quick to reach as a list's items.
    """

    __slots__ = ("path", "is_object", "expecting_key", "key", "key_line", "element")

    def __init__(self, path: Path_, is_object: bool) -> None:
        self.path = path  # its own field path
        self.is_object = is_object
        self.expecting_key = True  # object: the next string is a key, not a value
        self.key: str | None = None  # object: the key of the value to come
        self.key_line = 0  # object: the line of that key, which is the line of its value
        self.element = 0  # list: the position of the element to come


def field_lines(
    text: str, spans: list[tuple[int, int]], index: LineIndex, line_base: int = 0
) -> list[dict[Path_, int]]:
    """For each span holding one JSON(5) value: {field path: line}, by a scan over its tokens.

    Iterative (an explicit stack), so any depth the parser accepted is fine here too. Lines are
    counted as the scan goes: keys and elements come in order.
    """
    return [_span_lines(text, begin, end, index.line(begin) + line_base) for begin, end in spans]


def _span_lines(text: str, begin: int, end: int, line: int) -> dict[Path_, int]:
    """{field path: line} of the value in ``text[begin:end]``; ``line``: the line of ``begin``."""
    lines: dict[Path_, int] = {}
    seen = begin  # `line` is the line of this offset
    count = text.count
    stack: list[_Frame] = []  # the objects and lists around the token, innermost last
    frame: _Frame | None = None  # stack[-1], kept at hand: this loop runs once per token
    for match in _WALK_TOKEN.finditer(text, begin, end):
        token = match.group()
        if frame is None:
            if token == "{" or token == "[":
                frame = _Frame((), token == "{")
                stack.append(frame)
            continue
        if frame.is_object:
            if frame.expecting_key:
                if token == "}":
                    stack.pop()
                    frame = stack[-1] if stack else None
                elif token not in ",:[]{":
                    start = match.start()
                    line += count("\n", seen, start)
                    seen = start
                    frame.key = _key_of(token)
                    frame.key_line = line
                    frame.expecting_key = False
                continue
            if token == ":":
                continue
            if token == ",":
                frame.expecting_key = True
                continue
            if token == "}":
                stack.pop()
                frame = stack[-1] if stack else None
                continue
            path = (*frame.path, frame.key)
            lines[path] = frame.key_line
        else:  # a list
            if token == ",":
                frame.element += 1
                continue
            if token == "]":
                stack.pop()
                frame = stack[-1] if stack else None
                continue
            start = match.start()
            line += count("\n", seen, start)
            seen = start
            path = (*frame.path, frame.element)
            lines[path] = line
        if token == "{" or token == "[":  # the value just placed opens an object or a list
            frame = _Frame(path, token == "{")
            stack.append(frame)
    return lines


def _key_of(token: str) -> str:
    if token[0] == '"':
        if "\\" in token:
            try:
                return json.loads(token)
            except ValueError:
                pass
        return token[1:-1]
    if token[0] == "'":
        return token[1:-1]
    return token  # an unquoted JSON5 key
